import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kernels64, reserve } from '../../src/compute/kernels64.js';

// The float64 kernels' own checks: the committed bytes, the memory they grow, and `project`
// (one modified Gram–Schmidt elimination) against the same arithmetic written out here.
// svd.test.ts and lyapunov.test.ts hold the callers on both paths (wasm and JS loops).

describe('kernels64', () => {
  it('src/compute/kernels64-wasm.ts is what kernels64.wat assembles to', () => {
    expect(() =>
      execFileSync(process.execPath, ['scripts/build-kernels64.mjs', '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });

  it('reserve grows the memory to the bytes asked for, in whole pages', () => {
    const k = kernels64();
    expect(k).not.toBeNull();
    if (!k) return;
    const before = k.memory.buffer.byteLength;
    const buffer = reserve(k, before + 1);
    expect(buffer.byteLength).toBe(before + 65536);
    expect(reserve(k, 8).byteLength).toBe(before + 65536);
  });

  it('project removes row i from rows i+1 … k−1: v_j ← v_j − (v_i·v_j) v_i', () => {
    const k = kernels64();
    if (!k) throw new Error('no WebAssembly SIMD on this Node');
    const rows = 4;
    const S = 7; // odd: the f64x2 loop's tail
    const v = new Float64Array(reserve(k, 8 * rows * S), 0, rows * S);
    for (let n = 0; n < rows * S; n++) v[n] = Math.sin(1.7 * n + 0.3);
    const i = 1;
    let norm = 0;
    for (let c = 0; c < S; c++) norm += v[i * S + c] ** 2;
    for (let c = 0; c < S; c++) v[i * S + c] /= Math.sqrt(norm);
    const expected = Float64Array.from(v);
    for (let j = i + 1; j < rows; j++) {
      let d = 0;
      for (let c = 0; c < S; c++) d += expected[i * S + c] * expected[j * S + c];
      for (let c = 0; c < S; c++) expected[j * S + c] -= d * expected[i * S + c];
    }
    k.project(0, i, rows, S);
    v.forEach((x, n) => {
      expect(Math.abs(x - expected[n])).toBeLessThan(1e-14);
    });
  });
});
