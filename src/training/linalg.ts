/**
 * Small float64 linear algebra for the probes' norms (plain JS: tfjs has no float64
 * on wasm, and batched matMul there is slow). Matrices are row-major views.
 */

/** ‖M‖_F of the rows×cols matrix at `offset` in `data`. */
export function frobeniusNorm(data: ArrayLike<number>, offset: number, rows: number, cols: number): number {
  let s = 0;
  for (let i = offset, end = offset + rows * cols; i < end; i++) s += data[i] * data[i];
  return Math.sqrt(s);
}

/**
 * ‖M‖_2 = σ_max(M): the largest eigenvalue of MᵀM by the Lanczos method with full
 * reorthogonalization, started from `v` (length cols). On return `v` holds the top
 * right singular vector, so a sequence of related matrices (∂h_T/∂h_k for consecutive k)
 * starts each solve close to its answer. Lanczos needs far fewer products with M than
 * power iteration when σ_1 and σ_2 are close (common for short gaps). Stops when the
 * largest Ritz value settles to `tol` (relative) or the Krylov space is exhausted.
 */
export function spectralNorm(
  data: ArrayLike<number>,
  offset: number,
  rows: number,
  cols: number,
  v: Float64Array,
  tol = 1e-11,
): number {
  const maxSteps = Math.min(cols, 60);
  const q: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  const u = new Float64Array(rows);
  // a small fixed dense component, so the start is never exactly orthogonal to the top singular vector
  let w = Float64Array.from(v, (x, c) => x + 1e-3 * (1 + ((c * 7919) % 13) / 13));
  if (!normalizeOrFail(w)) w = new Float64Array(cols).fill(1 / Math.sqrt(cols));
  let lambda = 0;
  for (let j = 0; j < maxSteps; j++) {
    const qj = w;
    q.push(qj);
    // w = MᵀM q_j
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      const base = offset + r * cols;
      for (let c = 0; c < cols; c++) acc += data[base + c] * qj[c];
      u[r] = acc;
    }
    const next = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const ur = u[r];
      if (ur === 0) continue;
      const base = offset + r * cols;
      for (let c = 0; c < cols; c++) next[c] += data[base + c] * ur;
    }
    alpha.push(dot(qj, next));
    // full reorthogonalization against every q so far, twice ("twice is enough")
    for (let pass = 0; pass < 2; pass++) {
      for (const qi of q) {
        const d = dot(qi, next);
        for (let c = 0; c < cols; c++) next[c] -= d * qi[c];
      }
    }
    const b = Math.sqrt(dot(next, next));
    const exhausted = b <= 1e-14 * Math.sqrt(Math.max(Math.abs(alpha[0]), 1e-300)) || j === maxSteps - 1;
    // the Ritz value grows monotonically to λ_max; check it every 3 steps (bisection is not free)
    if (exhausted || j % 3 === 2) {
      const estimate = largestTridiagonalEigenvalue(alpha, beta);
      const converged = Math.abs(estimate - lambda) <= tol * Math.abs(estimate);
      lambda = estimate;
      if (converged || exhausted) break;
    }
    beta.push(b);
    for (let c = 0; c < cols; c++) next[c] /= b;
    w = next;
  }
  // warm start for the next matrix: the Ritz vector of λ, Σ_i y_i q_i
  const y = tridiagonalEigenvector(alpha, beta.slice(0, alpha.length - 1), lambda);
  v.fill(0);
  for (let i = 0; i < alpha.length; i++) for (let c = 0; c < cols; c++) v[c] += y[i] * q[i][c];
  normalize(v);
  return Math.sqrt(Math.max(lambda, 0));
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function normalizeOrFail(v: Float64Array): boolean {
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0) || !Number.isFinite(n)) return false;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return true;
}

/**
 * Largest eigenvalue of the symmetric tridiagonal matrix with diagonal `a` and
 * off-diagonal `b` (b.length ≥ a.length − 1), by bisection on Sturm sequence counts.
 */
export function largestTridiagonalEigenvalue(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = (i > 0 ? Math.abs(b[i - 1]) : 0) + (i < n - 1 ? Math.abs(b[i]) : 0);
    lo = Math.min(lo, a[i] - r);
    hi = Math.max(hi, a[i] + r);
  }
  // count of eigenvalues < x
  const below = (x: number) => {
    let count = 0;
    let d = 1;
    for (let i = 0; i < n; i++) {
      d = a[i] - x - (i > 0 ? (b[i - 1] * b[i - 1]) / d : 0);
      if (d === 0) d = -1e-300;
      if (d < 0) count++;
    }
    return count;
  };
  for (let it = 0; it < 200 && hi - lo > 1e-16 * Math.max(Math.abs(hi), Math.abs(lo), 1e-300); it++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (below(mid) >= n) hi = mid;
    else lo = mid;
  }
  return (lo + hi) / 2;
}

/** Eigenvector of the tridiagonal (a, b) for eigenvalue λ, by two steps of inverse iteration. */
function tridiagonalEigenvector(a: readonly number[], b: readonly number[], lambda: number): Float64Array {
  const n = a.length;
  let x = new Float64Array(n).fill(1);
  const shift = lambda + 1e-10 * Math.max(Math.abs(lambda), 1e-300);
  for (let pass = 0; pass < 2; pass++) {
    // solve (T − shift I) y = x with the Thomas algorithm
    const c = new Float64Array(n);
    const d = new Float64Array(n);
    let denom = a[0] - shift;
    if (denom === 0) denom = 1e-300;
    c[0] = n > 1 ? b[0] / denom : 0;
    d[0] = x[0] / denom;
    for (let i = 1; i < n; i++) {
      denom = a[i] - shift - b[i - 1] * c[i - 1];
      if (denom === 0) denom = 1e-300;
      c[i] = i < n - 1 ? b[i] / denom : 0;
      d[i] = (x[i] - b[i - 1] * d[i - 1]) / denom;
    }
    const y = new Float64Array(n);
    y[n - 1] = d[n - 1];
    for (let i = n - 2; i >= 0; i--) y[i] = d[i] - c[i] * y[i + 1];
    const norm = Math.sqrt(dot(y, y));
    if (!(norm > 0) || !Number.isFinite(norm)) break;
    for (let i = 0; i < n; i++) y[i] /= norm;
    x = y;
  }
  return x;
}

function normalize(v: Float64Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  s = Math.sqrt(s);
  if (s === 0) {
    for (let i = 0; i < v.length; i++) v[i] = 1 / Math.sqrt(v.length);
    return;
  }
  for (let i = 0; i < v.length; i++) v[i] /= s;
}

/**
 * Least-squares slope of ln(y) against x over the points with y > 0 and finite;
 * null with fewer than two such points.
 */
export function logSlope(xs: readonly number[], ys: readonly number[]): number | null {
  let n = 0,
    sx = 0,
    sy = 0,
    sxx = 0,
    sxy = 0;
  for (let i = 0; i < xs.length; i++) {
    if (!(ys[i] > 0) || !Number.isFinite(ys[i])) continue;
    const x = xs[i],
      y = Math.log(ys[i]);
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const den = n * sxx - sx * sx;
  if (n < 2 || den === 0) return null;
  return (n * sxy - sx * sy) / den;
}
