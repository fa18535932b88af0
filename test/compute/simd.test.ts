import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { setKernels } from '../../src/compute/kernel-choice.js';
import { kernelsWasmBase64 } from '../../src/compute/simd/kernels-wasm.js';
import { type SimdKernels, simdKernels } from '../../src/compute/simd/simd.js';
import type { WasmBackendLike } from '../../src/compute/wasm-kernels.js';
import { Rng } from '../../src/util/rng.js';

// The SIMD module's own checks: its transcendental functions against float64 Math, the
// committed bytes against what kernels.wat assembles to, and that no kernel touches memory
// outside its arrays at any row width. The kernels' values are held to the composite tfjs
// ops in test/compute/fused-kernels.test.ts.

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

    it('2-D transpose: SIMD (both sides multiples of 4, float32 and int32) = the index definition; else stock', () => {
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
      setKernels('composite');
      const stock = tf.transpose(x);
      setKernels('fused');
      expect(Buffer.from(fast.dataSync().buffer).equals(Buffer.from(stock.dataSync().buffer))).toBe(true);
      tf.dispose([x, fast, stock]);
    });

    it('a shared (threaded) heap cannot host the module: null, so the callers take the composite ops', () => {
      const shared = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
      expect(simdKernels({ wasm: { asm: { memory: shared } } })).toBeNull();
      expect(simdKernels({})).toBeNull(); // not the wasm backend
      expect(simdKernels(tf.backend())).not.toBeNull(); // and the module still links to the backend's own heap
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

    // Every kernel on a memory of its own (one 64 KiB page), its arrays laid out with guard floats
    // between them and, in turn, each array flush against the end of the memory, where a read
    // or write one byte past it traps. The guards must stay as they were.
    const PAGE = 65536;
    const GUARD = 4; // floats between arrays
    const SENTINEL = -12345.5;
    type Case = { name: string; sizes: number[]; outputs: number[]; call: (k: SimdKernels, p: number[]) => void };
    const cases: Case[] = [];
    for (const H of [4, 5, 6, 7, 9]) {
      const B = 2;
      const [n, g3, g4] = [B * H, 3 * B * H, 4 * B * H];
      cases.push(
        {
          name: `lstm_forward H ${H}`,
          sizes: [g4, g4, n, n, n, g4, n, n],
          outputs: [3, 4, 5, 6, 7],
          call: (k, p) => k.lstm_forward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], B, H),
        },
        {
          name: `gru_forward H ${H}`,
          sizes: [g3, g3, n, 3 * H, n, g3, g3, n],
          outputs: [4, 5, 6, 7],
          call: (k, p) => k.gru_forward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], B, H),
        },
        ...[0, 1, 2].map((nl) => ({
          name: `rnn_forward H ${H} nonlinearity ${nl}`,
          sizes: [n, n, n, n],
          outputs: [2, 3],
          call: (k: SimdKernels, p: number[]) => k.rnn_forward(p[0], p[1], p[2], p[3], n, nl),
        })),
        ...[0, 1].map((first) => ({
          name: `lstm_backward H ${H} first ${first}`,
          sizes: [n, n, n, g4, n, n, n, g4, n],
          outputs: [6, 7, 8],
          call: (k: SimdKernels, p: number[]) =>
            k.lstm_backward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], B, H, first),
        })),
        ...[0, 1].map((first) => ({
          name: `gru_backward H ${H} first ${first}`,
          sizes: [n, n, n, g3, g3, n, n, g3, g3, n],
          outputs: [6, 7, 8, 9],
          call: (k: SimdKernels, p: number[]) =>
            k.gru_backward(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], B, H, first),
        })),
        {
          name: `rnn_backward H ${H}`,
          sizes: [n, n, n, n, n],
          outputs: [3, 4],
          call: (k, p) => k.rnn_backward(p[0], p[1], p[2], p[3], p[4], n, 0),
        },
      );
      const R = 3;
      for (const [kind, gates, state] of [
        [0, 1, 0],
        [1, 4, 0],
        [1, 4, 1],
        [2, 3, 0],
      ])
        cases.push({
          name: `pullback kind ${kind} state ${state} H ${H}`,
          // gh, gx, jac, scale, dah, direct, l0, l1, l2
          sizes: [B * R * H, B * R * H, B * R * H * (1 + state), B, B * R * gates * H, B * R * H, B * gates * H, n, n],
          outputs: [2, 3, 4, 5],
          call: (k, p) => k.pullback(kind, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], B, R, H, 1, state, 1),
        });
    }
    for (const O of [1, 2, 3, 4, 5, 11]) {
      const N = 3;
      cases.push({
        name: `softmax_xent O ${O}`,
        sizes: [N * O, O, N, N * O, 2 * N],
        outputs: [3, 4],
        call: (k, p) => k.softmax_xent(p[0], p[1], p[2], p[3], p[4], N, O),
      });
    }

    it('no kernel reads or writes outside its arrays, at any row width (own memory, arrays at its end)', () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
      const module = new WebAssembly.Module(Buffer.from(kernelsWasmBase64, 'base64'));
      const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
      const heap = new Float32Array(memory.buffer);
      const rng = new Rng('bounds');
      for (const c of cases)
        for (let last = 0; last < c.sizes.length; last++) {
          // arrays in order, `last` moved to the end; guards before every array and after all but the last
          const order = [...c.sizes.keys()].filter((i) => i !== last).concat(last);
          const total = c.sizes.reduce((a, b) => a + b, 0) + GUARD * c.sizes.length;
          let at = PAGE / 4 - total;
          const start: number[] = [];
          heap.fill(SENTINEL);
          for (const i of order) {
            at += GUARD;
            start[i] = at;
            for (let j = 0; j < c.sizes[i]; j++) heap[at + j] = c.outputs.includes(i) ? 0 : rng.normal();
            at += c.sizes[i];
          }
          expect(at).toBe(PAGE / 4);
          expect(
            () =>
              c.call(
                kernels,
                start.map((f) => 4 * f),
              ),
            `${c.name}, array ${last} last`,
          ).not.toThrow();
          for (const i of order)
            for (let j = start[i] - GUARD; j < start[i]; j++)
              if (heap[j] !== SENTINEL) throw new Error(`${c.name}: wrote the guard before array ${i}`);
        }
    });
  },
);
