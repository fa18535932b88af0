/**
 * A float64 reference of the recurrent cells in plain TypeScript (no tfjs), for the tests.
 *
 * PyTorch convention and layout, one sequence at a time:
 *   weight_ih [G·H, I], weight_hh [G·H, H] row-major, bias_ih and bias_hh [G·H];
 *   RNN   h′ = φ(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM  gates i, f, g, o:  c′ = f ⊙ c + i ⊙ g,  h′ = o ⊙ tanh(c′)
 *   GRU   gates r, z, n:     n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h′ = (1 − z) ⊙ n + z ⊙ h
 * A state is [h] or [h, c]; "flat" states are [h; c].
 *
 * Jacobians are taken by central finite differences (nothing here shares code or
 * derivations with src/models), except the vanilla RNN's closed form
 * ∂h_t/∂h_k = ∏_{j=t..k+1} diag(φ′(a_j)) W_hh, which the FD Jacobian checks in turn.
 * Matrices are row-major Float64Arrays: J[r·C + c] = ∂out_r/∂in_c.
 */
import type { Rng } from '../../src/util/rng.js';

export type Kind64 = 'rnn' | 'lstm' | 'gru';
export type Nonlinearity64 = 'tanh' | 'relu' | 'sigmoid' | 'identity';
export type Mode64 = 'h' | 'state';

export interface Spec64 {
  kind: Kind64;
  inputSize: number;
  hiddenSize: number;
  /** Vanilla RNN only. Default tanh. */
  nonlinearity?: Nonlinearity64;
}

export interface Weights64 {
  weight_ih: number[]; // [G·H, I]
  weight_hh: number[]; // [G·H, H]
  bias_ih: number[]; // [G·H]
  bias_hh: number[]; // [G·H]
}

export type State64 = number[][];

export const GATES64: Readonly<Record<Kind64, number>> = { rnn: 1, lstm: 4, gru: 3 };

export const WEIGHT_NAMES = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const;

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/** φ(a) of the vanilla RNN. */
export function phi64(nl: Nonlinearity64, a: number): number {
  if (nl === 'tanh') return Math.tanh(a);
  if (nl === 'relu') return Math.max(a, 0);
  if (nl === 'identity') return a;
  return sigmoid(a);
}

/**
 * φ′(a), from a alone (relu′(0) = 0, as PyTorch). Written without 1 − y cancellations
 * (sech² a, σ(a)σ(−a)) so it keeps its relative accuracy when a unit saturates.
 */
export function dphi64(nl: Nonlinearity64, a: number): number {
  if (nl === 'tanh') return 1 / Math.cosh(a) ** 2;
  if (nl === 'relu') return a > 0 ? 1 : 0;
  if (nl === 'identity') return 1;
  return sigmoid(a) * sigmoid(-a);
}

export function numStates64(kind: Kind64): 1 | 2 {
  return kind === 'lstm' ? 2 : 1;
}

/** W v + b, W rows×cols row-major. */
function affine(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  v: ArrayLike<number>,
  b: ArrayLike<number>,
): number[] {
  const out = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let s = b[r];
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * v[c];
    out[r] = s;
  }
  return out;
}

/** RNN pre-activations a = W_ih x + b_ih + W_hh h + b_hh. */
export function rnnPreActivation64(spec: Spec64, w: Weights64, x: number[], h: number[]): number[] {
  const H = spec.hiddenSize;
  const xi = affine(w.weight_ih, H, spec.inputSize, x, w.bias_ih);
  const hh = affine(w.weight_hh, H, H, h, w.bias_hh);
  return xi.map((v, j) => v + hh[j]);
}

/** One step s′ = f(s, x). */
export function step64(spec: Spec64, w: Weights64, x: number[], state: State64): State64 {
  const H = spec.hiddenSize;
  const G = GATES64[spec.kind] * H;
  const h = state[0];
  switch (spec.kind) {
    case 'rnn': {
      const nl = spec.nonlinearity ?? 'tanh';
      return [rnnPreActivation64(spec, w, x, h).map((a) => phi64(nl, a))];
    }
    case 'lstm': {
      const c = state[1];
      const xi = affine(w.weight_ih, G, spec.inputSize, x, w.bias_ih);
      const hh = affine(w.weight_hh, G, H, h, w.bias_hh);
      const a = xi.map((v, j) => v + hh[j]);
      const hNext = new Array<number>(H);
      const cNext = new Array<number>(H);
      for (let j = 0; j < H; j++) {
        const i = sigmoid(a[j]);
        const f = sigmoid(a[H + j]);
        const g = Math.tanh(a[2 * H + j]);
        const o = sigmoid(a[3 * H + j]);
        cNext[j] = f * c[j] + i * g;
        hNext[j] = o * Math.tanh(cNext[j]);
      }
      return [hNext, cNext];
    }
    case 'gru': {
      const xi = affine(w.weight_ih, G, spec.inputSize, x, w.bias_ih);
      const hh = affine(w.weight_hh, G, H, h, w.bias_hh);
      const hNext = new Array<number>(H);
      for (let j = 0; j < H; j++) {
        const r = sigmoid(xi[j] + hh[j]);
        const z = sigmoid(xi[H + j] + hh[H + j]);
        const n = Math.tanh(xi[2 * H + j] + r * hh[2 * H + j]);
        hNext[j] = (1 - z) * n + z * h[j];
      }
      return [hNext];
    }
  }
}

/** States s_from, …, s_to, starting from `s` = s_from; step t+1 reads xs[t]. */
export function run64(spec: Spec64, w: Weights64, xs: number[][], s: State64, from = 0, to = xs.length): State64[] {
  const out: State64[] = [s];
  for (let t = from; t < to; t++) {
    s = step64(spec, w, xs[t], s);
    out.push(s);
  }
  return out;
}

export function flatState(s: State64): number[] {
  return s.flat();
}

export function unflatState(v: number[], numStates: number, H: number): State64 {
  return Array.from({ length: numStates }, (_, i) => v.slice(i * H, (i + 1) * H));
}

/** Rows (= columns) of ∂h_t/∂h_k: H, or 2H for the LSTM in "state" mode. */
export function jacobianSize(spec: Spec64, mode: Mode64): number {
  return mode === 'state' && spec.kind === 'lstm' ? 2 * spec.hiddenSize : spec.hiddenSize;
}

/**
 * ∂f/∂v at v by central differences, restricted to the first n inputs and n outputs:
 * J[r·n + c] = (f(v + ε e_c)_r − f(v − ε e_c)_r) / 2ε for r, c < n. [n, n] row-major.
 */
function centralDifferences(v: number[], n: number, f: (u: number[]) => number[], eps: number): Float64Array {
  const J = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const plus = [...v];
    const minus = [...v];
    plus[c] += eps;
    minus[c] -= eps;
    const up = f(plus);
    const down = f(minus);
    for (let r = 0; r < n; r++) J[r * n + c] = (up[r] - down[r]) / (2 * eps);
  }
  return J;
}

/**
 * ∂h_t/∂h_k ("h": c_k held fixed) or ∂[h_t; c_t]/∂[h_k; c_k] ("state") of the run from
 * s0 over xs, by central differences through steps k+1..t. [R, R] row-major.
 */
export function jacobianFD(
  spec: Spec64,
  w: Weights64,
  xs: number[][],
  s0: State64,
  k: number,
  t: number,
  mode: Mode64,
  eps = 1e-6,
): Float64Array {
  const R = jacobianSize(spec, mode);
  const ns = numStates64(spec.kind);
  const sk = flatState(run64(spec, w, xs, s0, 0, k)[k]);
  const endFrom = (v: number[]) => flatState(run64(spec, w, xs, unflatState(v, ns, spec.hiddenSize), k, t)[t - k]);
  return centralDifferences(sk, R, endFrom, eps);
}

/** ∂s′/∂s of one step at (x, s), full flat state (S = H or 2H), by central differences. */
export function stepJacobianFD(spec: Spec64, w: Weights64, x: number[], s: State64, eps = 1e-6): Float64Array {
  const ns = numStates64(spec.kind);
  const v = flatState(s);
  return centralDifferences(
    v,
    v.length,
    (u) => flatState(step64(spec, w, x, unflatState(u, ns, spec.hiddenSize))),
    eps,
  );
}

/**
 * ∂h_T/∂h_k for every k as products of per-step FD Jacobians, J_T ⋯ J_{k+1}, in float64:
 * for long gaps, where perturbing h_k no longer moves h_T above float64 rounding.
 * The "h" block of the product is ∂h_T/∂h_k with c_k fixed. Returns matrices by gap (index gap − 1).
 */
export function chainedJacobians(
  spec: Spec64,
  w: Weights64,
  xs: number[][],
  s0: State64,
  mode: Mode64,
): Float64Array[] {
  const T = xs.length;
  const states = run64(spec, w, xs, s0);
  const S = numStates64(spec.kind) * spec.hiddenSize;
  const R = jacobianSize(spec, mode);
  let P = eye64(S);
  const out: Float64Array[] = new Array(T);
  for (let k = T - 1; k >= 0; k--) {
    P = matMul64(P, stepJacobianFD(spec, w, xs[k], states[k]), S, S, S);
    const block = new Float64Array(R * R);
    for (let r = 0; r < R; r++) for (let c = 0; c < R; c++) block[r * R + c] = P[r * S + c];
    out[T - k - 1] = block;
  }
  return out;
}

/** Vanilla RNN: ∂h_t/∂h_k = ∏_{j=t..k+1} diag(φ′(a_j)) W_hh, a_j the pre-activation of step j. */
export function rnnClosedForm(
  spec: Spec64,
  w: Weights64,
  xs: number[][],
  s0: State64,
  k: number,
  t: number,
): Float64Array {
  const H = spec.hiddenSize;
  const nl = spec.nonlinearity ?? 'tanh';
  const states = run64(spec, w, xs, s0, 0, t);
  let P = eye64(H);
  for (let j = t; j > k; j--) {
    const a = rnnPreActivation64(spec, w, xs[j - 1], states[j - 1][0]);
    const Jj = new Float64Array(H * H);
    for (let r = 0; r < H; r++) for (let c = 0; c < H; c++) Jj[r * H + c] = dphi64(nl, a[r]) * w.weight_hh[r * H + c];
    P = matMul64(P, Jj, H, H, H);
  }
  return P;
}

export function eye64(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** [n, m] · [m, p]. */
export function matMul64(a: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < p; j++) out[i * p + j] += aik * b[k * p + j];
    }
  }
  return out;
}

export function transpose64(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** ‖a‖_F, scaled by max |a_i| first so the squares of tiny entries do not underflow. */
export function frobenius64(a: ArrayLike<number>): number {
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  if (maxAbs === 0) return 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] / maxAbs) ** 2;
  return maxAbs * Math.sqrt(s);
}

/**
 * Eigenvalues of a symmetric n×n matrix by cyclic Jacobi rotations (Numerical Recipes
 * convention: θ = (a_qq − a_pp) / 2a_pq, t = sgn θ / (|θ| + √(θ² + 1)) zeroes a_pq).
 */
export function symmetricEigenvalues64(sym: ArrayLike<number>, n: number): number[] {
  const a = Float64Array.from(sym);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p] ** 2;
      for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    }
    if (off <= 1e-32 * diag || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]);
}

/** ‖M‖_2 = √λ_max(MᵀM), M rows×cols; M is scaled to max |·| = 1 first so tiny matrices keep their digits. */
export function spectralNorm64(m: ArrayLike<number>, rows: number, cols: number): number {
  let maxAbs = 0;
  for (let i = 0; i < rows * cols; i++) maxAbs = Math.max(maxAbs, Math.abs(m[i]));
  if (maxAbs === 0) return 0;
  const scaled = Float64Array.from({ length: rows * cols }, (_, i) => m[i] / maxAbs);
  const mtm = matMul64(transpose64(scaled, rows, cols), scaled, cols, rows, cols);
  return maxAbs * Math.sqrt(Math.max(0, ...symmetricEigenvalues64(mtm, cols)));
}

/** Entries U(±scale) from the Rng, as a plain array. */
export function uniform64(rng: Rng, n: number, scale: number): number[] {
  return Array.from({ length: n }, () => rng.range(-scale, scale));
}

/** Random PyTorch-layout weights of one layer, every entry U(±scale) (default 1/√H, as PyTorch). */
export function randomWeights64(rng: Rng, spec: Spec64, scale = 1 / Math.sqrt(spec.hiddenSize)): Weights64 {
  const G = GATES64[spec.kind] * spec.hiddenSize;
  return {
    weight_ih: uniform64(rng, G * spec.inputSize, scale),
    weight_hh: uniform64(rng, G * spec.hiddenSize, scale),
    bias_ih: uniform64(rng, G, scale),
    bias_hh: uniform64(rng, G, scale),
  };
}

/** `batch` random sequences xs[b][t] (length inputSize), entries U(±scale). */
export function randomSequences64(rng: Rng, batch: number, T: number, inputSize: number, scale = 1): number[][][] {
  return Array.from({ length: batch }, () => Array.from({ length: T }, () => uniform64(rng, inputSize, scale)));
}

/** `batch` random states, entries U(±scale) (c too, for the LSTM). */
export function randomStates64(rng: Rng, spec: Spec64, batch: number, scale = 0.5): State64[] {
  return Array.from({ length: batch }, () =>
    Array.from({ length: numStates64(spec.kind) }, () => uniform64(rng, spec.hiddenSize, scale)),
  );
}

/** Sequences xs[b][t] packed time-major: [T, batch, I]. */
export function timeMajor(xs: number[][][]): Float32Array {
  const [B, T, I] = [xs.length, xs[0].length, xs[0][0].length];
  const out = new Float32Array(T * B * I);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out.set(xs[b][t], (t * B + b) * I);
  return out;
}

/** Rows packed: [batch, n]. */
export function packRows(rows: number[][]): Float32Array {
  return Float32Array.from(rows.flat());
}

/** Normwise relative error max|a − b| / max|b|. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/**
 * Entrywise relative error max_i |a_i − b_i| / max(|b_i|, floor·max|b|): relative for
 * large entries, absolute (at floor × the largest) for the tiny ones.
 */
export function entryRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor * scale));
  }
  return worst;
}

export const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/**
 * ∂L/∂θ for every entry θ of every weight array, by central differences of `loss(w)`.
 */
export function weightGradsFD(w: Weights64, loss: (w: Weights64) => number, eps = 1e-6): Weights64 {
  const out = { weight_ih: [], weight_hh: [], bias_ih: [], bias_hh: [] } as Weights64;
  for (const name of WEIGHT_NAMES) {
    for (let i = 0; i < w[name].length; i++) {
      const plus = { ...w, [name]: [...w[name]] };
      const minus = { ...w, [name]: [...w[name]] };
      plus[name][i] += eps;
      minus[name][i] -= eps;
      out[name].push((loss(plus) - loss(minus)) / (2 * eps));
    }
  }
  return out;
}
