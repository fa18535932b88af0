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
 * ‖M‖_2 = σ_max(M) by power iteration on MᵀM, started from `v` (length cols) and
 * leaving the converged right singular vector in it, so a sequence of related
 * matrices (∂h_T/∂h_k for consecutive k) converges in a few iterations each.
 * Stops when σ² changes by less than `tol` (relative).
 */
export function spectralNorm(
  data: ArrayLike<number>,
  offset: number,
  rows: number,
  cols: number,
  v: Float64Array,
  tol = 1e-12,
  maxIter = 5000,
): number {
  const u = new Float64Array(rows);
  const w = new Float64Array(cols);
  normalize(v);
  let sigma2 = -1;
  for (let iter = 0; iter < maxIter; iter++) {
    // u = M v
    let uu = 0;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const base = offset + r * cols;
      for (let c = 0; c < cols; c++) s += data[base + c] * v[c];
      u[r] = s;
      uu += s * s;
    }
    if (uu === 0) {
      // v ⟂ row space: restart from a deterministic dense vector, unless M = 0
      if (frobeniusNorm(data, offset, rows, cols) === 0) return 0;
      for (let c = 0; c < cols; c++) v[c] = 1 + c / cols;
      normalize(v);
      continue;
    }
    // w = Mᵀ u
    w.fill(0);
    for (let r = 0; r < rows; r++) {
      const ur = u[r];
      const base = offset + r * cols;
      for (let c = 0; c < cols; c++) w[c] += data[base + c] * ur;
    }
    const converged = Math.abs(uu - sigma2) <= tol * uu;
    sigma2 = uu; // Rayleigh quotient vᵀMᵀMv for unit v
    v.set(w);
    normalize(v);
    if (converged) break;
  }
  return Math.sqrt(sigma2);
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
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < xs.length; i++) {
    if (!(ys[i] > 0) || !Number.isFinite(ys[i])) continue;
    const x = xs[i], y = Math.log(ys[i]);
    n++; sx += x; sy += y; sxx += x * x; sxy += x * y;
  }
  const den = n * sxx - sx * sx;
  if (n < 2 || den === 0) return null;
  return (n * sxy - sx * sy) / den;
}
