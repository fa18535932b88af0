import * as tf from '@tensorflow/tfjs';
import type { Cell, State } from '../models/cell.js';
import { usageError } from '../util/errors.js';
import { forwardSequence } from './bptt.js';
import { kernels64, reserve } from '../compute/kernels64.js';

/**
 * Lyapunov exponents of a recurrent cell's state dynamics along one trajectory, by the QR
 * method (Benettin, Galgani, Giorgilli & Strelcyn 1980):
 *
 *   Q_0 = I (its first k columns),   Q_t R_t = J_t Q_{t−1},   J_t = ∂s_t/∂s_{t−1},
 *   λ_i = (1/T′) Σ_{t > burnIn} ln |(R_t)_ii|,   T′ = T − burnIn,   sorted descending.
 *
 * s = h for the RNN and GRU, s = [h; c] for the LSTM (S = H or 2H). Q is re-orthonormalized
 * every m steps only: (J_{t+m} ⋯ J_{t+1} Q_t) = Q_{t+m} R with R = R_{t+m} ⋯ R_{t+1}, whose
 * diagonal is the product of theirs, so the sums are the same in exact arithmetic. In float32
 * products a block leaks ~ε₃₂·|R_11|/|R_kk| of the strong directions into the weak ones, so
 * blocks are kept to a stretching spread ln|R_11| − ln|R_kk| of about ln 100 (the next block's
 * length from the last one's spread per step), and a block that went beyond ln 1000 anyway
 * is redone one step at a time. Precision: ~1e-5 nats per step, set by the float32 products
 * (the tests: m = 1 against a float64 QR of float64 Jacobians, and m = 2…5 against m = 1).
 *
 * J_t Q is the column (tangent) form of the pullbacks the cells state (src/models/rnn.ts,
 * lstm.ts, gru.ts), with their local factors of step t and z = W_hh v_h (z_g: gate block g):
 *   RNN   v_h′ = φ′ ⊙ z
 *   GRU   v_h′ = z_gate ⊙ v_h + P_h,r ⊙ z_r + P_h,z ⊙ z_z + P_h,n ⊙ z_n
 *   LSTM  v_c′ = P_i ⊙ z_i + P_f ⊙ z_f + P_g ⊙ z_g + f ⊙ v_c,   v_h′ = o(1 − tanh² c_t) ⊙ v_c′ + P_o ⊙ z_o
 * The matMul z = v_h W_hhᵀ of all k vectors of all sequences is one tfjs [B·k, H]·[H, G·H]
 * (float32); the rest (the element-wise step, modified Gram–Schmidt, the sums) is float64, in
 * JS but for the Gram–Schmidt projections (kernels64.wat, f64x2).
 * Each probe sequence has its own trajectory and exponents; the batch figure is their mean.
 */

export interface LyapunovOptions {
  /** How many exponents: the k largest (Q is S×k), or "all" (k = S). At most S. Default 32. */
  exponents: number | 'all';
  /** Steps at the start whose stretching is not counted; Q still evolves through them. Default 0. */
  burnIn: number;
  /** Re-orthonormalize Q every m steps (fewer where the stretching demands it, see above). Default 5. */
  reorthEvery: number;
}

export const LYAPUNOV_DEFAULTS: Readonly<LyapunovOptions> = { exponents: 32, burnIn: 0, reorthEvery: 5 };

export interface LyapunovResult {
  /** S: H, or 2H for the LSTM's s = [h; c]. */
  size: number;
  /** k: the exponents computed, the largest ones. */
  count: number;
  /** T′ = T − burnIn, the steps averaged over. */
  steps: number;
  burnIn: number;
  reorthEvery: number;
  /** λ_1 ≥ … ≥ λ_k in nats per step: each the batch mean of the sequences' λ_i. */
  exponents: number[];
  exponentsPerSeq: number[][];
  /** Kaplan–Yorke dimension j + (λ_1 + … + λ_j)/|λ_{j+1}|, j the last index with a partial sum ≥ 0: batch mean. */
  kaplanYorke: number;
  kaplanYorkePerSeq: number[];
  /** The k exponents still sum to ≥ 0 with k < S (in some sequence): the dimension is at least the value given. */
  kaplanYorkeIsLowerBound: boolean;
  /** QR factorizations per sequence: ⌈T/m⌉ or more where blocks were cut short. */
  qrCount: number;
}

// a block's stretching spread ln|R_11| − ln|R_kk|: aim below the first, redo above the second
const SPREAD_TARGET = Math.log(1e2);
const SPREAD_MAX = Math.log(1e3);

/** Options merged with the defaults and checked against T and S; bad values throw a SeqlabError. */
export function resolveLyapunovOptions(
  options: Partial<LyapunovOptions>,
  T: number,
  S: number,
): Readonly<LyapunovOptions> & { k: number } {
  const opts = { ...LYAPUNOV_DEFAULTS, ...options };
  if (T < 1) throw usageError(`the Lyapunov spectrum needs a sequence of at least one step, got T = ${T}`);
  const { burnIn, reorthEvery, exponents } = opts;
  if (!Number.isInteger(burnIn) || burnIn < 0)
    throw usageError((field) => `${field('burnIn')} must be a non-negative integer, got ${burnIn}`);
  if (burnIn >= T)
    throw usageError(
      (field) => `${field('burnIn')} ${burnIn} leaves no step to average over: the probe has T = ${T}; use fewer`,
    );
  if (!Number.isInteger(reorthEvery) || reorthEvery < 1)
    throw usageError((field) => `${field('reorthEvery')} must be a positive integer, got ${reorthEvery}`);
  if (exponents !== 'all' && (!Number.isInteger(exponents) || exponents < 1)) {
    throw usageError(
      (field) => `${field('exponents')} must be a positive integer or "all", got ${JSON.stringify(exponents)}`,
    );
  }
  return { ...opts, k: opts.exponents === 'all' ? S : Math.min(opts.exponents, S) };
}

/**
 * The Lyapunov spectrum of `cell` along its trajectories over xs [T, batch, inputSize] from
 * state0 (zeros by default): one forward pass, then the QR iteration (see above).
 */
export async function lyapunovSpectrum(
  cell: Cell,
  xs: tf.Tensor3D,
  state0?: State,
  options: Partial<LyapunovOptions> = {},
): Promise<LyapunovResult> {
  resolveLyapunovOptions(options, xs.shape[0], cell.numStates * cell.hiddenSize);
  const locals = tf.tidy(() => forwardSequence(cell, xs, state0 ?? cell.initState(xs.shape[1])).locals);
  try {
    return await lyapunovFromTrace(cell, locals, options);
  } finally {
    tf.dispose(locals.flat());
  }
}

/**
 * The QR iteration over a traced forward pass: `locals[t]` are the local factors of the step
 * s_t → s_{t+1} as forwardSequence returns them (each [batch, ·]). Leaves them as they are.
 */
export async function lyapunovFromTrace(
  cell: Cell,
  locals: tf.Tensor2D[][],
  options: Partial<LyapunovOptions> = {},
): Promise<LyapunovResult> {
  const T = locals.length;
  const H = cell.hiddenSize;
  const S = cell.numStates * H;
  const opts = resolveLyapunovOptions(options, T, S);
  const { k, burnIn } = opts;
  const B = locals[0][0].shape[0];
  // every local factor of every step, read back once: factors[j] is [T, B, width_j]
  const factors = await Promise.all(
    locals[0].map(async (_, j) => {
      const stacked = tf.stack(locals.map((l) => l[j]));
      const data = (await stacked.data()) as Float32Array;
      stacked.dispose();
      return { data, width: locals[0][j].shape[1] };
    }),
  );
  const whhT = tf.tidy(() => tf.transpose(cell.recurrentWeight()) as tf.Tensor2D); // [H, G·H]
  const GH = whhT.shape[1];
  // V[b]: k tangent vectors of sequence b as rows [k, S], the columns of Q
  let V = Array.from({ length: B }, () => {
    const v = new Float64Array(k * S);
    for (let i = 0; i < k; i++) v[i * S + i] = 1;
    return v;
  });
  const sums = Array.from({ length: B }, () => new Float64Array(k));
  const vh = new Float32Array(B * k * H);
  const logR = Array.from({ length: B }, () => new Float64Array(k));

  /** V ← J_{t+1} V for steps t = from … to − 1 (local index t). */
  const advance = (from: number, to: number) => {
    for (let t = from; t < to; t++) {
      for (let b = 0; b < B; b++) for (let i = 0; i < k; i++) vh.set(V[b].subarray(i * S, i * S + H), (b * k + i) * H);
      const z = tf.tidy(() => tf.matMul(tf.tensor2d(vh, [B * k, H]), whhT));
      // read synchronously: one promise per step costs a third of the matMul here (wasm, cpu)
      const zData = z.dataSync() as Float32Array; // [B·k, G·H]
      z.dispose();
      for (let b = 0; b < B; b++) {
        const at = (j: number) => (t * B + b) * factors[j].width;
        for (let i = 0; i < k; i++) tangent(cell.kind, factors, at, zData, (b * k + i) * GH, V[b], i * S, H);
      }
    }
  };
  /** Orthonormalize every V[b]; logR[b][i] = ln r_ii; returns the largest spread over the batch. */
  const orthonormalize = () => {
    let spread = 0;
    for (let b = 0; b < B; b++) {
      gramSchmidt(V[b], k, S, logR[b]);
      let hi = -Infinity;
      let lo = Infinity;
      for (const l of logR[b]) {
        hi = Math.max(hi, l);
        lo = Math.min(lo, l);
      }
      spread = Math.max(spread, hi - lo);
    }
    return spread;
  };
  const accumulate = (counted: boolean) => {
    if (counted) for (let b = 0; b < B; b++) for (let i = 0; i < k; i++) sums[b][i] += logR[b][i];
  };

  let qrCount = 0;
  try {
    let length = 1; // the first block measures the stretching
    for (let t = 0; t < T; ) {
      // blocks end at burnIn, so none mixes counted and uncounted steps
      const end = Math.min(t + length, T, t < burnIn ? burnIn : T);
      const saved = end - t > 1 ? V.map((v) => v.slice()) : null;
      advance(t, end);
      const spread = orthonormalize();
      qrCount++;
      if (saved && !(spread <= SPREAD_MAX)) {
        // stretched too far apart for float32: again, one step per block
        V = saved;
        for (let s = t; s < end; s++) {
          advance(s, s + 1);
          orthonormalize();
          qrCount++;
          accumulate(s >= burnIn);
        }
        length = 1;
      } else {
        accumulate(t >= burnIn);
        const perStep = spread / (end - t);
        length =
          perStep > 0 ? Math.max(1, Math.min(opts.reorthEvery, Math.floor(SPREAD_TARGET / perStep))) : opts.reorthEvery;
      }
      t = end;
    }
  } finally {
    whhT.dispose();
  }

  const steps = T - burnIn;
  const exponentsPerSeq = sums.map((s) => Array.from(s, (x) => x / steps).sort((a, b) => b - a));
  const dims = exponentsPerSeq.map((l) => kaplanYorke(l));
  return {
    size: S,
    count: k,
    steps,
    burnIn,
    reorthEvery: opts.reorthEvery,
    exponents: exponentsPerSeq[0].map((_, i) => mean(exponentsPerSeq.map((l) => l[i]))),
    exponentsPerSeq,
    kaplanYorke: mean(dims.map((d) => d.dimension)),
    kaplanYorkePerSeq: dims.map((d) => d.dimension),
    kaplanYorkeIsLowerBound: k < S && dims.some((d) => d.isLowerBound),
    qrCount,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * One step of the tangent map on row `row` of V (length S at `off`), in place, from
 * z = W_hh v_h (at zOff in zData) and the step's local factors (factor j at at(j)).
 */
function tangent(
  kind: Cell['kind'],
  factors: { data: Float32Array; width: number }[],
  at: (j: number) => number,
  zData: Float32Array,
  zOff: number,
  v: Float64Array,
  off: number,
  H: number,
): void {
  if (kind === 'rnn') {
    const dphi = factors[0].data;
    const p = at(0);
    for (let u = 0; u < H; u++) v[off + u] = dphi[p + u] * zData[zOff + u];
  } else if (kind === 'gru') {
    const ph = factors[0].data;
    const zg = factors[2].data;
    const p = at(0);
    const q = at(2);
    for (let u = 0; u < H; u++) {
      const z = zOff + u;
      v[off + u] =
        zg[q + u] * v[off + u] +
        ph[p + u] * zData[z] +
        ph[p + H + u] * zData[z + H] +
        ph[p + 2 * H + u] * zData[z + 2 * H];
    }
  } else {
    const P = factors[0].data;
    const dcFromH = factors[1].data;
    const f = factors[2].data;
    const p = at(0);
    const q = at(1);
    const r = at(2);
    for (let u = 0; u < H; u++) {
      const z = zOff + u;
      const c =
        P[p + u] * zData[z] +
        P[p + H + u] * zData[z + H] +
        P[p + 2 * H + u] * zData[z + 2 * H] +
        f[r + u] * v[off + H + u];
      v[off + H + u] = c;
      v[off + u] = dcFromH[q + u] * c + P[p + 3 * H + u] * zData[z + 3 * H];
    }
  }
}

/**
 * Modified Gram–Schmidt on the k rows (length S) of v, in place: v becomes Q (orthonormal
 * rows) and logR[i] = ln r_ii. A row that vanishes (r_ii = 0: a direction the step maps to
 * zero) gets ln r_ii = −∞ and is replaced by a unit vector orthogonal to the others.
 */
function gramSchmidt(rows: Float64Array, k: number, S: number, logR: Float64Array): void {
  const kern = kernels64();
  // the projections (k²S of the work) run in the kernels' memory where they can
  const v = kern ? new Float64Array(reserve(kern, 8 * k * S), 0, k * S) : rows;
  if (kern) v.set(rows);
  for (let i = 0; i < k; i++) {
    const row = i * S;
    let maxAbs = 0;
    for (let c = 0; c < S; c++) maxAbs = Math.max(maxAbs, Math.abs(v[row + c]));
    // NaN or ∞ (a diverged trajectory) stays NaN: not a direction mapped to zero
    const norm = !Number.isFinite(maxAbs)
      ? NaN
      : maxAbs > 0
        ? maxAbs * Math.sqrt(sumSquares(v, row, S, 1 / maxAbs))
        : 0;
    logR[i] = Math.log(norm);
    if (norm > 0 && Number.isFinite(norm)) {
      for (let c = 0; c < S; c++) v[row + c] /= norm;
    } else if (norm === 0) {
      replaceByOrthogonalUnit(v, i, S);
    }
    if (kern) {
      kern.project(0, i, k, S);
      continue;
    }
    for (let j = i + 1; j < k; j++) {
      const other = j * S;
      let d = 0;
      for (let c = 0; c < S; c++) d += v[row + c] * v[other + c];
      for (let c = 0; c < S; c++) v[other + c] -= d * v[row + c];
    }
  }
  if (kern) rows.set(v);
}

function sumSquares(v: Float64Array, start: number, n: number, scale: number): number {
  let s = 0;
  for (let c = start; c < start + n; c++) s += v[c] * scale * (v[c] * scale);
  return s;
}

/** Row i ← the first standard basis vector with a sizable part orthogonal to rows 0 … i−1, normalized. */
function replaceByOrthogonalUnit(v: Float64Array, i: number, S: number): void {
  const row = i * S;
  for (let e = 0; e < S; e++) {
    v.fill(0, row, row + S);
    v[row + e] = 1;
    // Gram–Schmidt twice ("twice is enough")
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        let d = 0;
        for (let c = 0; c < S; c++) d += v[row + c] * v[j * S + c];
        for (let c = 0; c < S; c++) v[row + c] -= d * v[j * S + c];
      }
    }
    const norm = Math.sqrt(sumSquares(v, row, S, 1));
    if (norm > 0.5) {
      for (let c = 0; c < S; c++) v[row + c] /= norm;
      return;
    }
  }
}

/**
 * Kaplan–Yorke dimension of descending exponents: 0 if λ_1 < 0; j + (λ_1 + … + λ_j)/|λ_{j+1}|
 * with j the largest index whose partial sum is ≥ 0; the count itself (a lower bound when
 * more exponents exist) if every partial sum is ≥ 0.
 */
export function kaplanYorke(exponents: readonly number[]): { dimension: number; isLowerBound: boolean } {
  if (exponents.some(Number.isNaN)) return { dimension: NaN, isLowerBound: false };
  let sum = 0;
  for (let j = 0; j < exponents.length; j++) {
    if (sum + exponents[j] < 0)
      return { dimension: j === 0 ? 0 : j + sum / Math.abs(exponents[j]), isLowerBound: false };
    sum += exponents[j];
  }
  return { dimension: exponents.length, isLowerBound: true };
}
