import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kernels64, setKernels64 } from '../../src/compute/kernels64.js';
import { singularValues } from '../../src/training/svd.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';
import { randomOrthogonal64 } from '../reference/eig64.js';

// singularValues (Golub–Kahan bidiagonalization + bisection) against closed forms:
// diagonal matrices, rank one, U·diag·Vᵀ with U, V orthogonal built independently,
// 2×2, and the Jacobi eigenvalues of AᵀA in the float64 reference.

/** U diag(s) Vᵀ, U rows×rows and V cols×cols orthogonal, s of length min(rows, cols). */
function withSingularValues(rng: Rng, s: number[], rows: number, cols: number): Float64Array {
  const u = randomOrthogonal64(rng, rows);
  const v = randomOrthogonal64(rng, cols);
  const d = new Float64Array(rows * cols);
  s.forEach((x, i) => {
    d[i * cols + i] = x;
  });
  return ref.matMul64(ref.matMul64(u, d, rows, rows, cols), ref.transpose64(v, cols, cols), rows, cols, cols);
}

describe.each([
  ['wasm kernels', true],
  ['JS loops', false],
])('singularValues (%s)', (_, wasm) => {
  beforeEach(() => setKernels64(wasm));
  afterEach(() => setKernels64(true));

  it('runs the path it is meant to (Node 20 has WebAssembly SIMD)', () => {
    expect(kernels64() !== null).toBe(wasm);
  });

  it('diagonal: |d_i| sorted, each to relative 1e-14, across 200 orders of magnitude', () => {
    const diag = [3, -1e-3, 2e-8, 0, -7.5e-150, 1e-200 * 4, 0.5];
    const n = diag.length;
    const m = new Float64Array(n * n);
    diag.forEach((x, i) => {
      m[i * n + i] = x;
    });
    const got = singularValues(m, 0, n, n);
    const expected = diag.map(Math.abs).sort((a, b) => b - a);
    expected.forEach((s, i) => {
      s === 0 ? expect(got[i]).toBe(0) : expect(ref.relErr(got[i], s)).toBeLessThan(1e-14);
    });
  });

  it('rank one s·u vᵀ: σ_1 = s‖u‖‖v‖, the rest below 1e-14·σ_1', () => {
    const rng = new Rng('rank1');
    const [rows, cols] = [7, 5];
    const u = ref.uniform64(rng, rows, 1);
    const v = ref.uniform64(rng, cols, 1);
    const m = Float64Array.from({ length: rows * cols }, (_, i) => 2.5 * u[Math.floor(i / cols)] * v[i % cols]);
    const got = singularValues(m, 0, rows, cols);
    const sigma1 = 2.5 * Math.hypot(...u) * Math.hypot(...v);
    expect(got).toHaveLength(5);
    expect(ref.relErr(got[0], sigma1)).toBeLessThan(1e-14);
    for (let i = 1; i < 5; i++) expect(got[i]).toBeLessThan(1e-14 * sigma1);
  });

  it('U·diag(s)·Vᵀ (orthogonal U, V): s back, |Δσ_i| ≤ 1e-13·σ_1, also when rows ≠ cols', () => {
    const rng = new Rng('usv');
    const cases: [number, number, number[]][] = [
      [6, 6, [4, 2, 1, 0.5, 0.1, 1e-3]],
      [12, 12, Array.from({ length: 12 }, (_, i) => 10 ** (-i / 2))], // 1 … 3e-6
      [64, 64, Array.from({ length: 64 }, (_, i) => Math.exp(-i / 4))], // 1 … 1.4e-7
      [9, 4, [1.5, 1.5, 0.2, 0.01]], // repeated σ
      [4, 9, [3, 1, 1e-4, 1e-9]],
    ];
    for (const [rows, cols, s] of cases) {
      const m = withSingularValues(rng, s, rows, cols);
      const got = singularValues(m, 0, rows, cols);
      expect(got).toHaveLength(s.length);
      s.forEach((x, i) => {
        expect(Math.abs(got[i] - x), `${rows}×${cols} σ_${i + 1}`).toBeLessThan(1e-13 * s[0]);
      });
      // and so, above 1e-3·σ_1, relative 1e-10
      s.forEach((x, i) => {
        x > 1e-3 * s[0] && expect(ref.relErr(got[i], x)).toBeLessThan(1e-10);
      });
    }
  });

  it('reads the matrix at an offset; a scaled copy (1e-200, 1e200) scales its σ exactly', () => {
    const rng = new Rng('offset');
    const m = withSingularValues(rng, [2, 1, 0.25], 3, 3);
    const padded = new Float64Array(5 + 9);
    padded.set(m, 5);
    const base = singularValues(m, 0, 3, 3);
    expect(singularValues(padded, 5, 3, 3)).toEqual(base);
    for (const f of [1e-200, 1e200]) {
      const got = singularValues(
        m.map((x) => x * f),
        0,
        3,
        3,
      );
      got.forEach((s, i) => {
        expect(ref.relErr(s, base[i] * f)).toBeLessThan(1e-14);
      });
    }
  });

  it('2×2: the closed form σ² = (S ± √(S² − 4 det²)) / 2, S = ‖A‖_F²', () => {
    const [a, b, c, d] = [1.5, -0.3, 0.7, 2.2];
    const S = a * a + b * b + c * c + d * d;
    const det = a * d - b * c;
    const root = Math.sqrt(S * S - 4 * det * det);
    const got = singularValues([a, b, c, d], 0, 2, 2);
    expect(ref.relErr(got[0], Math.sqrt((S + root) / 2))).toBeLessThan(1e-14);
    expect(ref.relErr(got[1], Math.abs(det) / got[0])).toBeLessThan(1e-13);
  });

  it('random 8×8: σ² equal the Jacobi eigenvalues of AᵀA (float64 reference)', () => {
    const m = ref.uniform64(new Rng('jacobi-svd'), 64, 1);
    const eig = ref.symmetricEigenvalues64(ref.matMul64(ref.transpose64(m, 8, 8), m, 8, 8, 8), 8).sort((x, y) => y - x);
    const got = singularValues(m, 0, 8, 8);
    got.forEach((s, i) => {
      expect(Math.abs(s * s - eig[i])).toBeLessThan(1e-12 * eig[0]);
    });
    // Σσ² = ‖A‖_F²
    expect(
      ref.relErr(
        got.reduce((t, s) => t + s * s, 0),
        ref.frobenius64(m) ** 2,
      ),
    ).toBeLessThan(1e-13);
  });

  it('a zero on the bidiagonal (rank-deficient, rotated out of its block): σ² = Jacobi eigenvalues of AᵀA', () => {
    // already upper bidiagonal, d = (1, 0, 4, 6), e = (2, 3, 5): the QR sweeps meet d_2 = 0 inside the block
    const m = [1, 2, 0, 0, 0, 0, 3, 0, 0, 0, 4, 5, 0, 0, 0, 6];
    const eig = ref.symmetricEigenvalues64(ref.matMul64(ref.transpose64(m, 4, 4), m, 4, 4, 4), 4).sort((x, y) => y - x);
    const got = singularValues(m, 0, 4, 4);
    got.forEach((s, i) => {
      expect(Math.abs(s - Math.sqrt(Math.max(eig[i], 0)))).toBeLessThan(1e-13 * got[0]);
    });
    expect(got[3]).toBeLessThan(1e-14);
  });

  it('zero → zeros; NaN or ∞ anywhere → NaN', () => {
    expect(Array.from(singularValues(new Float64Array(9), 0, 3, 3))).toEqual([0, 0, 0]);
    expect(singularValues([1, NaN, 0, 1], 0, 2, 2).every(Number.isNaN)).toBe(true);
    expect(singularValues([1, Infinity, 0, 1], 0, 2, 2).every(Number.isNaN)).toBe(true);
  });
});

describe('singularValues: the wasm kernels', () => {
  it('the wasm kernels and the JS loops agree (random 37×29, 128×128, 65×65)', () => {
    const rng = new Rng('wasm-js');
    for (const [rows, cols] of [
      [37, 29],
      [128, 128],
      [65, 65],
    ]) {
      const m = ref.uniform64(rng, rows * cols, 1);
      const wasm = singularValues(m, 0, rows, cols);
      setKernels64(false);
      try {
        const js = singularValues(m, 0, rows, cols);
        js.forEach((s, i) => {
          expect(Math.abs(wasm[i] - s)).toBeLessThan(1e-13 * js[0]);
        });
      } finally {
        setKernels64(true);
      }
    }
  });
});
