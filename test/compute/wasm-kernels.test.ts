import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

// test/setup.ts selects wasm, which registers seqlab's Slice/Unpack/SplitV kernels;
// they must agree element for element with a plain JS slice of the same data.
function ref(data: Float32Array, shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const walk = (d: number, off: number) => {
    if (d === shape.length) return void out.push(data[off]);
    for (let i = 0; i < size[d]; i++) walk(d + 1, off + (begin[d] + i) * strides[d]);
  };
  walk(0, 0);
  return out;
}

describe('wasm Slice/Unpack/SplitV replacements', () => {
  const shape = [3, 4, 5, 6];
  const data = Float32Array.from({ length: 360 }, (_, i) => i * 0.5 - 7);
  let x: tf.Tensor;
  beforeAll(() => {
    x = tf.tensor(data, shape);
  });

  it('runs on wasm', () => {
    expect(tf.getBackend()).toBe(process.env.SEQLAB_BACKEND ?? 'wasm');
  });

  it('slices contiguous and strided regions', () => {
    for (const [b, s] of [
      [
        [1, 0, 0, 0],
        [1, 4, 5, 6],
      ],
      [
        [0, 1, 2, 1],
        [3, 2, 2, 4],
      ],
      [
        [2, 3, 4, 5],
        [1, 1, 1, 1],
      ],
      [
        [0, 0, 0, 3],
        [3, 4, 5, 3],
      ],
    ]) {
      expect(Array.from(tf.slice(x, b, s).dataSync())).toEqual(ref(data, shape, b, s));
    }
  });

  it('unstacks along every axis', () => {
    for (let axis = 0; axis < 4; axis++) {
      tf.unstack(x, axis).forEach((t, i) => {
        const b = [0, 0, 0, 0];
        const s = [...shape];
        b[axis] = i;
        s[axis] = 1;
        expect(t.shape).toEqual(shape.filter((_, d) => d !== axis));
        expect(Array.from(t.dataSync())).toEqual(ref(data, shape, b, s));
      });
    }
  });

  it('splits by count and by sizes (with -1)', () => {
    const parts = tf.split(x, [2, -1, 1], 3);
    expect(parts.map((p) => p.shape[3])).toEqual([2, 3, 1]);
    expect(Array.from(parts[1].dataSync())).toEqual(ref(data, shape, [0, 0, 0, 2], [3, 4, 5, 3]));
    const even = tf.split(x, 2, 1);
    expect(Array.from(even[1].dataSync())).toEqual(ref(data, shape, [0, 2, 0, 0], [3, 2, 5, 6]));
  });

  it('keeps int32 tensors intact', () => {
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    expect(Array.from(tf.slice(ints, [0, 1], [2, 2]).dataSync())).toEqual([2, 3, 5, 6]);
    expect(tf.slice(ints, [0, 1], [2, 2]).dtype).toBe('int32');
  });
});

describe('wasm GatherV2 replacement', () => {
  const shape = [3, 4, 5];
  const data = Float32Array.from({ length: 60 }, (_, i) => i * 0.25 - 3);
  it('gathers along every axis, with repeated indices and a 2-D index tensor', () => {
    const x = tf.tensor(data, shape);
    for (let axis = 0; axis < 3; axis++) {
      const ids = [shape[axis] - 1, 0, shape[axis] - 1, 1];
      const got = tf.gather(x, tf.tensor2d(ids, [2, 2], 'int32'), axis);
      expect(got.shape).toEqual([...shape.slice(0, axis), 2, 2, ...shape.slice(axis + 1)]);
      // reference: concatenate the slices at each index
      const want = tf.concat(
        ids.map((i) =>
          tf.slice(
            x,
            shape.map((_, d) => (d === axis ? i : 0)),
            shape.map((n, d) => (d === axis ? 1 : n)),
          ),
        ),
        axis,
      );
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    }
  });
  it('gathers int32 values and rejects an index out of range', () => {
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32');
    expect(Array.from(tf.gather(ints, tf.tensor1d([2, 0], 'int32')).dataSync())).toEqual([5, 6, 1, 2]);
    expect(() => tf.gather(ints, tf.tensor1d([3], 'int32')).dataSync()).toThrow(/index 3/);
  });
});
