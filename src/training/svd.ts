import { type Kernels64, kernels64, reserve } from '../compute/kernels64.js';

/**
 * All singular values of a matrix in float64, for the spectra of the probes'
 * Jacobians (spectra.ts).
 *
 * Golub–Kahan (Golub & Van Loan, Matrix Computations, §5.4.8 and §8.6): Householder
 * reflections from the left and the right reduce A (m×n, m ≥ n) to an upper bidiagonal
 * B = Uᵀ A V (diagonal d, superdiagonal e) with the same singular values, and implicit-shift
 * QR sweeps on B drive e to zero; |d| are then the singular values. Values only: neither U
 * nor V is formed. No eigenproblem of AᵀA, which would square the condition number.
 *
 * Precision: both stages are normwise backward stable, so every computed σ_i is exact for
 * some A + E with ‖E‖₂ ≲ c·n·ε·‖A‖₂ (ε = 2⁻⁵³) and, by Weyl, |Δσ_i| ≲ c·n·ε·σ_1: about
 * 1e-13·σ_1 at n = 256 (the tests hold U·diag(s)·Vᵀ to 1e-13·σ_1). Smaller singular values
 * come out as noise of that size, or as 0; the probes' float32 Jacobians carry ~1e-7
 * relative rounding in their entries already, which sets their floor long before this one.
 * A is scaled to max |a_ij| = 1 first, so its magnitude (1e-200 or 1e200) costs nothing.
 *
 * Speed: nearly all the work is two passes over the trailing rows per column; they run as
 * float64 SIMD (f64x2) wasm kernels (kernels64.wat), ~5× the plain JS loops, which stay as
 * the fallback where WebAssembly SIMD is missing. The same arithmetic either way.
 */

/** The bidiagonalization's arrays: views on the kernels' memory (`at`: their byte offsets), or plain arrays. */
interface Workspace {
  a: Float64Array; // [m, n]
  v: Float64Array; // [m], left reflector
  w: Float64Array; // [n], vᵀA
  u: Float64Array; // [n], right reflector
  at: { a: number; v: number; w: number; u: number } | null;
}

function workspace(m: number, n: number, k: Kernels64 | null): Workspace {
  if (!k)
    return {
      a: new Float64Array(m * n),
      v: new Float64Array(m),
      w: new Float64Array(n),
      u: new Float64Array(n),
      at: null,
    };
  const at = { a: 0, v: 8 * m * n, w: 8 * (m * n + m), u: 8 * (m * n + m + n) };
  const buf = reserve(k, at.u + 8 * n);
  return {
    a: new Float64Array(buf, at.a, m * n),
    v: new Float64Array(buf, at.v, m),
    w: new Float64Array(buf, at.w, n),
    u: new Float64Array(buf, at.u, n).fill(0),
    at,
  };
}

/**
 * Singular values, descending, of the rows×cols row-major matrix at `offset` in `data`:
 * min(rows, cols) of them. NaN everywhere if A holds a NaN or an infinity.
 */
export function singularValues(data: ArrayLike<number>, offset: number, rows: number, cols: number): Float64Array {
  // work on A or Aᵀ so that m ≥ n
  const [m, n] = rows >= cols ? [rows, cols] : [cols, rows];
  const k = kernels64();
  const ws = workspace(m, n, k);
  const a = ws.a;
  let maxAbs = 0;
  let finite = true;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[offset + r * cols + c];
      a[rows >= cols ? r * n + c : c * n + r] = v;
      const abs = v < 0 ? -v : v;
      if (abs > maxAbs) maxAbs = abs;
      finite &&= Number.isFinite(v);
    }
  }
  if (!finite) return new Float64Array(n).fill(NaN);
  if (maxAbs === 0) return new Float64Array(n);
  for (let i = 0; i < a.length; i++) a[i] /= maxAbs;
  const { d, e } = bidiagonalize(ws, m, n, k);
  const sigma = bidiagonalQR(d, e);
  for (let i = 0; i < n; i++) sigma[i] *= maxAbs;
  return sigma;
}

/** ‖x‖₂ of `count` entries of `a` from `start`, `stride` apart; scaled, so tiny entries do not underflow. */
function scaledNorm(a: Float64Array, start: number, count: number, stride: number): number {
  let max = 0;
  for (let i = 0, p = start; i < count; i++, p += stride) max = Math.max(max, Math.abs(a[p]));
  if (max === 0) return 0;
  let s = 0;
  for (let i = 0, p = start; i < count; i++, p += stride) s += (a[p] / max) * (a[p] / max);
  return max * Math.sqrt(s);
}

/**
 * Householder bidiagonalization in place of the row-major m×n `a` (m ≥ n): returns the
 * diagonal d (n) and superdiagonal e (n − 1) of B. Each reflector H = I − β v vᵀ maps x to
 * α e_1, α = −sign(x_1)‖x‖, in LAPACK's normalization (dlarfg): v = (x − α e_1)/(x_1 − α),
 * so v_1 = 1, and β = (α − x_1)/α ∈ [1, 2]: nothing under- or overflows for tiny x.
 * Step j: w = vᵀA from the left reflector (one pass over the trailing rows), row j, the
 * right reflector u from row j, then one more pass that applies both to each trailing row
 * while it is in cache: a_i −= β v_i w, then a_i −= τ (a_i·u) u.
 */
function bidiagonalize(ws: Workspace, m: number, n: number, k: Kernels64 | null): { d: Float64Array; e: Float64Array } {
  const { a, v, w, u, at } = ws;
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  for (let j = 0; j < n; j++) {
    // left: zero column j below the diagonal
    let beta = 0;
    const norm = scaledNorm(a, j * n + j, m - j, n);
    if (norm > 0) {
      const x0 = a[j * n + j];
      const alpha = x0 > 0 ? -norm : norm;
      const scale = 1 / (x0 - alpha);
      for (let i = j + 1; i < m; i++) v[i] = a[i * n + j] * scale;
      v[j] = 1;
      beta = (alpha - x0) / alpha;
      d[j] = alpha;
      if (k && at) k.accumulate(at.a, at.v, at.w, j, m, n);
      else accumulate(a, v, w, j, m, n);
      const rowJ = j * n;
      for (let c = j + 1; c < n; c++) a[rowJ + c] -= beta * w[c];
    }
    // right: zero row j right of the superdiagonal
    let tau = 0;
    const rowJ = j * n;
    if (j === n - 2) e[j] = a[rowJ + j + 1];
    else if (j < n - 2) {
      const rnorm = scaledNorm(a, rowJ + j + 1, n - j - 1, 1);
      if (rnorm > 0) {
        const y0 = a[rowJ + j + 1];
        const alpha = y0 > 0 ? -rnorm : rnorm;
        const scale = 1 / (y0 - alpha);
        for (let c = j + 2; c < n; c++) u[c] = a[rowJ + c] * scale;
        u[j + 1] = 1;
        tau = (alpha - y0) / alpha;
        e[j] = alpha;
      }
    }
    if (beta === 0 && tau === 0) continue;
    if (k && at) k.reflect(at.a, at.v, at.w, at.u, beta, tau, j, m, n);
    else reflect(a, v, w, u, beta, tau, j, m, n);
  }
  return { d, e };
}

/** The `accumulate` of kernels64.wat in JS: w[c] = Σ_{i ≥ j} v[i] a[i·n + c] for c in (j, n). */
function accumulate(a: Float64Array, v: Float64Array, w: Float64Array, j: number, m: number, n: number): void {
  w.fill(0, j + 1, n);
  for (let i = j; i < m; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    const row = i * n;
    for (let c = j + 1; c < n; c++) w[c] += vi * a[row + c];
  }
}

/** The `reflect` of kernels64.wat in JS: for each row i > j, a_i −= β v[i] w, then a_i −= τ (a_i·u) u. */
function reflect(
  a: Float64Array,
  v: Float64Array,
  w: Float64Array,
  u: Float64Array,
  beta: number,
  tau: number,
  j: number,
  m: number,
  n: number,
): void {
  for (let i = j + 1; i < m; i++) {
    const row = i * n;
    const f = beta * v[i];
    let z = 0;
    for (let c = j + 1; c < n; c++) {
      const x = a[row + c] - f * w[c];
      a[row + c] = x;
      z += x * u[c];
    }
    z *= tau;
    if (z === 0) continue;
    for (let c = j + 1; c < n; c++) a[row + c] -= z * u[c];
  }
}

/** √(x² + y²) without under- or overflow; Math.hypot's variadic form is several times slower. */
function hypot(x: number, y: number): number {
  const ax = x < 0 ? -x : x;
  const ay = y < 0 ? -y : y;
  const big = Math.max(ax, ay);
  if (big === 0) return 0;
  const ratio = Math.min(ax, ay) / big;
  return big * Math.sqrt(1 + ratio * ratio);
}

/**
 * Singular values (descending) of the upper bidiagonal (d, e), overwritten: implicit-shift
 * QR sweeps (Golub & Van Loan, Alg. 8.6.1–8.6.2), values only. A superdiagonal entry is
 * dropped once |e_i| ≤ ε(|d_i| + |d_{i+1}|); a diagonal entry below ε·‖B‖ inside an
 * unreduced block is set to 0 and its row or column rotated away, which splits the block.
 */
export function bidiagonalQR(d: Float64Array, e: Float64Array): Float64Array {
  const n = d.length;
  const eps = 2 ** -52;
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + (i < n - 1 ? Math.abs(e[i]) : 0));
  const tiny = eps * norm;
  let q = n - 1;
  for (let iter = 0; q > 0; iter++) {
    if (iter > 40 * n * n) throw new Error(`bidiagonal QR did not converge (n = ${n})`);
    for (let i = 0; i < q; i++) if (Math.abs(e[i]) <= eps * (Math.abs(d[i]) + Math.abs(d[i + 1]))) e[i] = 0;
    while (q > 0 && e[q - 1] === 0) q--;
    if (q === 0) break;
    let p = q - 1;
    while (p > 0 && e[p - 1] !== 0) p--;
    // the unreduced block is d[p..q], e[p..q−1]
    let split = false;
    for (let i = p; i < q && !split; i++) {
      if (Math.abs(d[i]) > tiny) continue;
      // d_i = 0: rotate row i against rows i+1.. to zero e_i (it moves right, then off the block)
      d[i] = 0;
      let f = e[i];
      e[i] = 0;
      for (let j = i + 1; j <= q; j++) {
        const r = hypot(d[j], f);
        const c = d[j] / r;
        const s = f / r;
        d[j] = r;
        if (j < q) {
          f = -s * e[j];
          e[j] *= c;
        }
      }
      split = true;
    }
    if (split) continue;
    if (Math.abs(d[q]) <= tiny) {
      // d_q = 0: rotate column q against columns q−1.. to zero e_{q−1} (it moves up, then off)
      d[q] = 0;
      let f = e[q - 1];
      e[q - 1] = 0;
      for (let j = q - 1; j >= p; j--) {
        const r = hypot(d[j], f);
        const c = d[j] / r;
        const s = f / r;
        d[j] = r;
        if (j > p) {
          f = -s * e[j - 1];
          e[j - 1] *= c;
        }
      }
      continue;
    }
    // Wilkinson shift μ: the eigenvalue of the trailing 2×2 of BᵀB nearer its last entry
    const t11 = d[q - 1] * d[q - 1] + (q - 1 > p ? e[q - 2] * e[q - 2] : 0);
    const t12 = d[q - 1] * e[q - 1];
    const t22 = d[q] * d[q] + e[q - 1] * e[q - 1];
    const delta = (t11 - t22) / 2;
    const denom = delta + (delta >= 0 ? 1 : -1) * hypot(delta, t12);
    const mu = denom === 0 ? t22 : t22 - (t12 * t12) / denom;
    // chase the bulge from the top of the block down: rotations from the right, then the left
    let y = d[p] * d[p] - mu;
    let z = d[p] * e[p];
    for (let k = p; k < q; k++) {
      let r = hypot(y, z);
      let c = r === 0 ? 1 : y / r;
      let s = r === 0 ? 0 : z / r;
      if (k > p) e[k - 1] = r;
      const dk = c * d[k] + s * e[k];
      const ek = -s * d[k] + c * e[k];
      const bulge = s * d[k + 1];
      const dk1 = c * d[k + 1];
      r = hypot(dk, bulge);
      c = r === 0 ? 1 : dk / r;
      s = r === 0 ? 0 : bulge / r;
      d[k] = r;
      e[k] = c * ek + s * dk1;
      d[k + 1] = -s * ek + c * dk1;
      if (k < q - 1) {
        y = e[k];
        z = s * e[k + 1];
        e[k + 1] *= c;
      }
    }
  }
  return Float64Array.from(d, Math.abs).sort().reverse();
}
