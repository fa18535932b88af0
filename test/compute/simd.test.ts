import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { setSimdKernels, simdKernels } from '../../src/compute/simd/simd.js';
import type { WasmBackendLike } from '../../src/compute/wasm-kernels.js';

// The SIMD module's own checks: its transcendental functions against float64 Math,
// and the committed bytes against what kernels.wat assembles to. The kernels built on
// them are held to the composite tfjs ops in test/fused-kernels.test.ts.

describe.runIf(process.env.SEQLAB_BACKEND === undefined || process.env.SEQLAB_BACKEND === 'wasm')(
  'SIMD kernels',
  () => {
    it('src/compute/simd/kernels-wasm.ts is what src/compute/simd/kernels.wat assembles to', () => {
      expect(() =>
        execFileSync(process.execPath, ['scripts/build-simd.mjs', '--check'], { stdio: 'pipe' }),
      ).not.toThrow();
    });

    const refs: [string, number, (x: number) => number][] = [
      ['exp', 0, Math.exp],
      ['sigmoid', 1, (x) => 1 / (1 + Math.exp(-x))],
      ['tanh', 2, Math.tanh],
    ];
    // a dense sweep of the useful range, the series/formula switch of tanh at |x| = 0.2, tiny and huge values
    const xs: number[] = [];
    for (let i = -4000; i < 4000; i++) xs.push(i / 200);
    xs.push(
      0,
      -0,
      1e-30,
      -1e-30,
      1e-8,
      -1e-8,
      0.19999999,
      0.2,
      0.20000001,
      -0.2,
      -87,
      -87.3,
      -100,
      87,
      88,
      88.3,
      500,
      -500,
    );
    while (xs.length % 4) xs.push(0);

    for (const [name, kind, ref] of refs)
      it(`${name} is within a few float32 roundings of float64 Math`, () => {
        const backend = tf.backend() as unknown as WasmBackendLike;
        const simd = simdKernels(backend);
        expect(simd).not.toBeNull();
        const x = tf.tensor1d(xs);
        const y = tf.zeros([xs.length]); // written in place below
        const xv = backend.typedArrayFromHeap(x) as Float32Array;
        (simd as NonNullable<typeof simd>).map(
          xv.byteOffset,
          backend.typedArrayFromHeap(y).byteOffset,
          xs.length,
          kind,
        );
        const out = backend.typedArrayFromHeap(y) as Float32Array;
        let worst = 0;
        xv.forEach((xi, i) => {
          const want = ref(xi);
          // exp beyond the clamp: 2^±126..127 stands in for 0 / overflow
          if (name === 'exp' && (xi < -87.3 || xi > 88.3)) return;
          const err = Math.abs(out[i] - want) / Math.max(Math.abs(want), name === 'exp' ? 0 : 1e-30);
          if (want !== 0 && Math.abs(want) > 1e-37) worst = Math.max(worst, err);
        });
        expect(worst).toBeLessThan(4e-7);
        if (name !== 'exp') expect(out[xv.indexOf(500)]).toBe(1);
        if (name === 'sigmoid') expect(out[xv.indexOf(-500)]).toBeLessThan(1e-37);
        if (name === 'tanh') expect(out[xv.indexOf(-500)]).toBe(-1);
        tf.dispose([x, y]);
      });

    const transposeTitle =
      '2-D transpose: SIMD (both sides multiples of 4, float32 and int32) equals the index definition; ' +
      'other shapes go to the stock kernel';
    it(transposeTitle, () => {
      for (const [rows, cols] of [
        [4, 4],
        [8, 12],
        [36, 68],
        [100, 32],
        [5, 8],
        [8, 6],
        [0, 4],
      ]) {
        for (const dtype of ['float32', 'int32'] as const) {
          const n = rows * cols;
          const values =
            dtype === 'int32'
              ? Int32Array.from({ length: n }, (_, i) => i * 7 - 3)
              : Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
          const x = tf.tensor2d(values, [rows, cols], dtype);
          const y = tf.transpose(x);
          expect(y.shape).toEqual([cols, rows]);
          expect(y.dtype).toBe(dtype);
          const got = y.dataSync();
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < cols; j++)
              if (got[j * rows + i] !== values[i * cols + j])
                throw new Error(
                  `${rows}x${cols} ${dtype}: [${j}, ${i}] = ${got[j * rows + i]}, want ${values[i * cols + j]}`,
                );
          tf.dispose([x, y]);
        }
      }
      // and a 3-D permutation still works (stock)
      const x3 = tf.tensor3d(
        Float32Array.from({ length: 24 }, (_, i) => i),
        [2, 3, 4],
      );
      expect(Array.from(tf.transpose(x3, [2, 0, 1]).dataSync()).slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
      x3.dispose();
    });

    it('the SIMD transpose is the stock one, bit for bit, on a read-out-sized matrix', () => {
      const x = tf.randomNormal([700, 1000], 0, 1, 'float32', 3) as tf.Tensor2D;
      const fast = tf.transpose(x);
      setSimdKernels(false);
      const stock = tf.transpose(x);
      setSimdKernels(true);
      expect(Buffer.from(fast.dataSync().buffer).equals(Buffer.from(stock.dataSync().buffer))).toBe(true);
      tf.dispose([x, fast, stock]);
    });

    it('NaN in, NaN out', () => {
      const backend = tf.backend() as unknown as WasmBackendLike;
      const simd = simdKernels(backend) as NonNullable<ReturnType<typeof simdKernels>>;
      const x = tf.tensor1d([NaN, 1, NaN, -1]);
      const y = tf.zeros([4]);
      for (const kind of [0, 1, 2]) {
        simd.map(backend.typedArrayFromHeap(x).byteOffset, backend.typedArrayFromHeap(y).byteOffset, 4, kind);
        const out = backend.typedArrayFromHeap(y) as Float32Array;
        expect([Number.isNaN(out[0]), Number.isNaN(out[1]), Number.isNaN(out[2]), Number.isNaN(out[3])]).toEqual([
          true,
          false,
          true,
          false,
        ]);
      }
      tf.dispose([x, y]);
    });
  },
);
