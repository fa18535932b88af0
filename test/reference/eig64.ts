/**
 * Float64 references for the spectra tests, in plain TypeScript (nothing shared with
 * src/training/svd.ts or lyapunov.ts): random orthogonal matrices, the inverse, a
 * Householder QR, the QR method's Lyapunov exponents over explicit Jacobians, and the
 * eigenvalues of a general real matrix (Hessenberg reduction, then shifted QR in complex
 * arithmetic). Matrices are row-major Float64Arrays.
 */
import type { Rng } from '../../src/util/rng.js';
import { eye64, matMul64, uniform64 } from './cells64.js';

/** A random n×n orthogonal matrix: a product of n Householder reflections I − 2uuᵀ/uᵀu, u uniform. */
export function randomOrthogonal64(rng: Rng, n: number): Float64Array {
  let q = eye64(n);
  for (let k = 0; k < n; k++) {
    const u = uniform64(rng, n, 1);
    const uu = u.reduce((s, x) => s + x * x, 0);
    const h = eye64(n).map((x, i) => x - (2 * u[Math.floor(i / n)] * u[i % n]) / uu);
    q = matMul64(q, h, n, n, n);
  }
  return q;
}

/** A⁻¹ by Gauss–Jordan elimination with partial pivoting. */
export function inverse64(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = eye64(n);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]) > Math.abs(m[pivot * n + col])) pivot = r;
    if (m[pivot * n + col] === 0) throw new Error('singular matrix');
    for (const x of [m, inv]) {
      for (let c = 0; c < n; c++) [x[col * n + c], x[pivot * n + c]] = [x[pivot * n + c], x[col * n + c]];
    }
    const p = m[col * n + col];
    for (let c = 0; c < n; c++) {
      m[col * n + c] /= p;
      inv[col * n + c] /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col];
      if (f === 0) continue;
      for (let c = 0; c < n; c++) {
        m[r * n + c] -= f * m[col * n + c];
        inv[r * n + c] -= f * inv[col * n + c];
      }
    }
  }
  return inv;
}

/** A = QR, A rows×cols (rows ≥ cols), by Householder reflections: Q (rows×cols, orthonormal columns), diag R. */
export function householderQR64(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
): { q: Float64Array; rDiag: Float64Array } {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  const rDiag = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    const x = Float64Array.from({ length: rows - j }, (_, i) => r[(j + i) * cols + j]);
    const norm = Math.hypot(...x);
    const v = x.slice();
    v[0] += x[0] >= 0 ? norm : -norm;
    const vv = v.reduce((s, y) => s + y * y, 0);
    vs.push(v);
    if (vv > 0) {
      for (let c = j; c < cols; c++) {
        let d = 0;
        for (let i = 0; i < v.length; i++) d += v[i] * r[(j + i) * cols + c];
        for (let i = 0; i < v.length; i++) r[(j + i) * cols + c] -= (2 * d * v[i]) / vv;
      }
    }
    rDiag[j] = r[j * cols + j];
  }
  // Q = H_0 ⋯ H_{cols−1} applied to the first cols columns of I
  const q = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) q[c * cols + c] = 1;
  for (let j = cols - 1; j >= 0; j--) {
    const v = vs[j];
    const vv = v.reduce((s, y) => s + y * y, 0);
    if (vv === 0) continue;
    for (let c = 0; c < cols; c++) {
      let d = 0;
      for (let i = 0; i < v.length; i++) d += v[i] * q[(j + i) * cols + c];
      for (let i = 0; i < v.length; i++) q[(j + i) * cols + c] -= (2 * d * v[i]) / vv;
    }
  }
  return { q, rDiag };
}

/**
 * The QR method over explicit step Jacobians J_1 … J_T (each S×S): Q_0 = the first k columns
 * of I, Q_t R_t = J_t Q_{t−1} at every step, λ_i = (1/(T − burnIn)) Σ_{t > burnIn} ln|(R_t)_ii|,
 * sorted descending.
 */
export function qrLyapunov64(jacobians: Float64Array[], S: number, k: number, burnIn = 0): number[] {
  let q: Float64Array = new Float64Array(S * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  const sums = new Float64Array(k);
  jacobians.forEach((J, t) => {
    const qr = householderQR64(matMul64(J, q, S, S, k), S, k);
    q = qr.q;
    if (t >= burnIn) for (let i = 0; i < k; i++) sums[i] += Math.log(Math.abs(qr.rDiag[i]));
  });
  return Array.from(sums, (s) => s / (jacobians.length - burnIn)).sort((a, b) => b - a);
}

/** Upper Hessenberg form Pᵀ A P of a real n×n A (Householder), same eigenvalues. */
function hessenberg64(a: ArrayLike<number>, n: number): Float64Array {
  const h = Float64Array.from(a);
  for (let j = 0; j < n - 2; j++) {
    const x = Float64Array.from({ length: n - j - 1 }, (_, i) => h[(j + 1 + i) * n + j]);
    const norm = Math.hypot(...x);
    if (norm === 0) continue;
    const v = x.slice();
    v[0] += x[0] >= 0 ? norm : -norm;
    const vv = v.reduce((s, y) => s + y * y, 0);
    // H ← (I − 2vvᵀ/vᵀv) H (I − 2vvᵀ/vᵀv) on rows / columns j+1 …
    for (let c = 0; c < n; c++) {
      let d = 0;
      for (let i = 0; i < v.length; i++) d += v[i] * h[(j + 1 + i) * n + c];
      for (let i = 0; i < v.length; i++) h[(j + 1 + i) * n + c] -= (2 * d * v[i]) / vv;
    }
    for (let r = 0; r < n; r++) {
      let d = 0;
      for (let i = 0; i < v.length; i++) d += h[r * n + j + 1 + i] * v[i];
      for (let i = 0; i < v.length; i++) h[r * n + j + 1 + i] -= (2 * d * v[i]) / vv;
    }
  }
  return h;
}

type Complex = [number, number];
const cmul = (a: Complex, b: Complex): Complex => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cabs = (a: Complex) => Math.hypot(a[0], a[1]);
function csqrt([x, y]: Complex): Complex {
  const r = Math.hypot(x, y);
  const re = Math.sqrt((r + x) / 2);
  const im = Math.sqrt(Math.max((r - x) / 2, 0));
  return [re, y < 0 ? -im : im];
}

/**
 * Eigenvalues of a real n×n matrix: Hessenberg reduction, then QR steps H − μI = QR,
 * H ← RQ + μI with complex Givens rotations and the Wilkinson shift μ (the eigenvalue of the
 * active block's trailing 2×2 nearer its last entry), deflating where a subdiagonal entry
 * falls below ε times its diagonal neighbours. Each step works on the active block only
 * (enough for eigenvalues). Returns [re, im] pairs in no particular order.
 */
export function eigenvalues64(a: ArrayLike<number>, n: number): Complex[] {
  const h0 = hessenberg64(a, n);
  const re = Float64Array.from(h0);
  const im = new Float64Array(n * n);
  const get = (r: number, c: number): Complex => [re[r * n + c], im[r * n + c]];
  const set = (r: number, c: number, z: Complex) => {
    re[r * n + c] = z[0];
    im[r * n + c] = z[1];
  };
  const out: Complex[] = [];
  let hi = n - 1;
  let stuck = 0;
  while (hi >= 0) {
    let l = hi;
    while (l > 0 && cabs(get(l, l - 1)) > 2.2e-16 * (cabs(get(l - 1, l - 1)) + cabs(get(l, l)))) l--;
    if (l > 0) set(l, l - 1, [0, 0]);
    if (l === hi) {
      out.push(get(hi, hi));
      hi--;
      stuck = 0;
      continue;
    }
    if (++stuck > 100 * n) throw new Error('eigenvalues64: QR did not converge');
    // Wilkinson shift from [[a, b], [c, d]], the trailing 2×2 of the block l..hi
    const [a2, b2, c2, d2] = [get(hi - 1, hi - 1), get(hi - 1, hi), get(hi, hi - 1), get(hi, hi)];
    const half: Complex = [(a2[0] - d2[0]) / 2, (a2[1] - d2[1]) / 2];
    const root = csqrt(((s) => [s[0] + cmul(b2, c2)[0], s[1] + cmul(b2, c2)[1]] as Complex)(cmul(half, half)));
    const m1: Complex = [d2[0] + half[0] + root[0], d2[1] + half[1] + root[1]];
    const m2: Complex = [d2[0] + half[0] - root[0], d2[1] + half[1] - root[1]];
    let mu = cabs([m1[0] - d2[0], m1[1] - d2[1]]) < cabs([m2[0] - d2[0], m2[1] - d2[1]]) ? m1 : m2;
    // an occasional ad hoc shift breaks cycles the Wilkinson shift can fall into
    if (stuck % 11 === 10) mu = [d2[0] + cabs(get(hi, hi - 1)), d2[1]];
    for (let i = l; i <= hi; i++) set(i, i, [re[i * n + i] - mu[0], im[i * n + i] - mu[1]]);
    const rotations: { c: number; s: Complex }[] = [];
    for (let k = l; k < hi; k++) {
      // G = [[c, s], [−s̄, c]] on rows k, k+1 zeroes h[k+1][k]: c = |x|/ν, s = (x/|x|)·ȳ/ν
      const x = get(k, k);
      const y = get(k + 1, k);
      const nu = Math.hypot(cabs(x), cabs(y));
      let c = 1;
      let s: Complex = [0, 0];
      if (nu > 0) {
        if (cabs(x) === 0) {
          c = 0;
          s = [1, 0];
        } else {
          c = cabs(x) / nu;
          const phase: Complex = [x[0] / cabs(x), x[1] / cabs(x)];
          s = cmul(phase, [y[0] / nu, -y[1] / nu]);
        }
      }
      rotations.push({ c, s });
      for (let col = k; col <= hi; col++) {
        const u = get(k, col);
        const w = get(k + 1, col);
        const su = cmul(s, w);
        const sbar: Complex = [s[0], -s[1]];
        const sbu = cmul(sbar, u);
        set(k, col, [c * u[0] + su[0], c * u[1] + su[1]]);
        set(k + 1, col, [-sbu[0] + c * w[0], -sbu[1] + c * w[1]]);
      }
    }
    rotations.forEach(({ c, s }, j) => {
      const k = l + j;
      // columns k, k+1 times Gᴴ = [[c, −s], [s̄, c]]
      for (let row = l; row <= Math.min(k + 2, hi); row++) {
        const u = get(row, k);
        const w = get(row, k + 1);
        const sbw = cmul([s[0], -s[1]], w);
        const su = cmul(s, u);
        set(row, k, [c * u[0] + sbw[0], c * u[1] + sbw[1]]);
        set(row, k + 1, [-su[0] + c * w[0], -su[1] + c * w[1]]);
      }
    });
    for (let i = l; i <= hi; i++) set(i, i, [re[i * n + i] + mu[0], im[i * n + i] + mu[1]]);
  }
  return out;
}

/** |μ_i| of a real n×n matrix, descending. */
export function eigenvalueModuli64(a: ArrayLike<number>, n: number): number[] {
  return eigenvalues64(a, n)
    .map(cabs)
    .sort((x, y) => y - x);
}
