import * as tf from '@tensorflow/tfjs';
import type { Cell, State } from '../models/cell.js';
import { forwardSequence, runsFused } from './bptt.js';
import type { RecurrentCellBase } from '../models/cell.js';
import { type FusedCellKind, fusedCellPullback } from '../compute/fused-kernels.js';
import { frobeniusNorm, logSlope, spectralNorm } from './linalg.js';
import { AsyncNorms, normThreadAvailable } from './norms-async.js';
import { type CurveSummary, HORIZON_THRESHOLD } from '../runlog/schema.js';
import { Interrupted, stopSignalOf } from '../util/errors.js';
import { EventLoopTurns } from '../util/turns.js';

/**
 * Exact gradient-flow probes (docs/ARCHITECTURE.md, "Gradient flow").
 *
 * ∂h_T/∂h_k for every k comes from one backward sweep: seed row cotangents
 * G_T = I (one row per component of h_T) and pull them back step by step with the
 * cell's analytic pullback, G_{k} = G_{k+1} ∂s_{k+1}/∂s_k. The h-part of G_k is
 * ∂h_T/∂h_k with c_k held fixed ("h" mode); for the LSTM, seeding both h_T and c_T
 * and keeping both parts gives ∂s_T/∂s_k for s = [h; c] ("state" mode).
 * Each step is one [batch·rows, gates·H]·[gates·H, H] matMul, untransposed.
 */

export type JacobianMode = 'h' | 'state';

export interface JacobianOptions {
  /** "h": ∂h_T/∂h_k (c_k fixed); "state": ∂s_T/∂s_k, s = [h; c]. Default "h". */
  mode: JacobianMode;
  /** Compute spectral norms (power iteration in float64). Default true. */
  spectral: boolean;
  /** Also return ‖∂h_t/∂h_k‖ for every 0 ≤ k < t ≤ T (O(T²) pullbacks). Default false. */
  allPairs: boolean;
  /** Keep the Jacobian matrices themselves (for tests and small probes). Default false. */
  keepMatrices: boolean;
  /** Norm falls below this → the horizon. Default HORIZON_THRESHOLD (1e-3). */
  horizonThreshold: number;
  /**
   * Compute the norms on a second thread while the sweep runs (Node only): "auto" does
   * so for spectral norms of long probes (T · batch ≥ 64). Default "auto".
   */
  normThread: boolean | 'auto';
  /** Called as the work goes: the forward pass (steps done of T), then the sweep (gaps done of T). */
  onProgress?: (phase: 'forward' | 'sweep', done: number, total: number) => void;
  /** Stop between steps when aborted: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Norms (and kept matrices) only at these gaps T − k (e.g. [T]: ∂h_T/∂h_0 alone); the sweep still runs to k = 0.
   * Default null: every gap.
   */
  gaps: readonly number[] | null;
}

export const JACOBIAN_DEFAULTS: Readonly<JacobianOptions> = {
  mode: 'h',
  spectral: true,
  allPairs: false,
  keepMatrices: false,
  horizonThreshold: HORIZON_THRESHOLD,
  normThread: 'auto',
  gaps: null,
};

export interface JacobianRow {
  k: number;
  gap: number; // T − k
  spectral: number | null; // batch mean
  frobenius: number; // batch mean
  spectralPerSeq: number[] | null;
  frobeniusPerSeq: number[];
}

export interface JacobianResult {
  T: number;
  batch: number;
  mode: JacobianMode;
  /** Rows (R) and columns (C) of each Jacobian: H×H in "h" mode, 2H×2H in LSTM "state" mode. */
  shape: [number, number];
  /** Ordered by gap = 1..T (k = T−1..0). */
  rows: JacobianRow[];
  summary: { spectral: CurveSummary | null; frobenius: CurveSummary };
  /** pairs[t−1][k] = batch-mean spectral (or Frobenius if spectral is off) norm of ∂h_t/∂h_k, k < t. */
  pairs?: number[][];
  /** matrices[gap−1]: [batch, R, C] row-major, when keepMatrices. */
  matrices?: Float64Array[];
}

/** What else may use one probe's work (spectra.ts), so that nothing is computed twice. */
export interface ProbeHooks {
  /**
   * Every ∂s_T/∂s_k the sweep forms, as its visitor sees it ([batch, R, C]): sequence b's is
   * exp(logScale[b]) × data[b]. Valid during the call only.
   */
  jacobian?: (k: number, data: Float32Array, logScale: Float64Array) => void;
  /** After the sweep, while the norm thread may still be busy: the forward pass's local factors (valid in the call). */
  afterSweep?: (locals: tf.Tensor2D[][]) => Promise<void>;
}

/** Steps of the forward pass run in one piece; longer probes run in pieces, with progress and a stop in between. */
const FORWARD_PIECE = 4096;

/** Once `signal` is aborted: stop, saying where (`at`). */
function stopIfAborted(signal: AbortSignal | undefined, at: () => string): void {
  if (!signal?.aborted) return;
  const name = stopSignalOf(signal.reason);
  throw new Interrupted(name, `probe stopped (${name}) ${at()}; nothing was written`);
}

/** A macrotask turn, so a signal handler (Ctrl-C) gets to run between pieces of synchronous work. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The per-step pullback factors of the cell over xs [T, batch, I] (the trainer's forward pass), in
 * pieces of FORWARD_PIECE steps that carry the state. Caller disposes.
 */
async function traceForward(cell: Cell, xs: tf.Tensor3D, state0: State | undefined, opts: JacobianOptions) {
  const [T, B] = xs.shape;
  if (T <= FORWARD_PIECE) return tf.tidy(() => forwardSequence(cell, xs, state0 ?? cell.initState(B)).locals);
  const locals: tf.Tensor2D[][] = [];
  let state = state0 ?? cell.initState(B);
  try {
    for (let t0 = 0; t0 < T; t0 += FORWARD_PIECE) {
      const len = Math.min(FORWARD_PIECE, T - t0);
      const { piece, final } = tf.tidy(() => {
        const trace = forwardSequence(cell, tf.slice(xs, [t0, 0, 0], [len, -1, -1]) as tf.Tensor3D, state);
        return { piece: trace.locals, final: trace.final };
      });
      if (state !== state0) tf.dispose(state);
      state = final;
      locals.push(...piece);
      opts.onProgress?.('forward', t0 + len, T);
      await turn();
      stopIfAborted(opts.signal, () => `in the forward pass at step ${t0 + len} of ${T}`);
    }
  } catch (e) {
    tf.dispose(locals.flat());
    throw e;
  } finally {
    if (state !== state0) tf.dispose(state);
  }
  return locals;
}

/**
 * The input sequence of layer `layer` of a stack: xs itself for layer 0, else the h's of
 * the layer below, run from zero states. xs: [T, B, I] → [T, B, ·]; a new tensor.
 */
export function layerInputs(layers: readonly Cell[], xs: tf.Tensor3D, layer: number): tf.Tensor3D {
  if (layer === 0) return tf.clone(xs);
  return tf.tidy(() => {
    let seq = xs;
    for (const cell of layers.slice(0, layer)) {
      let s = cell.initState(xs.shape[1]);
      const hs: tf.Tensor2D[] = [];
      for (const x of tf.unstack(seq) as tf.Tensor2D[]) {
        s = cell.step(x, s);
        hs.push(s[0]);
      }
      seq = tf.stack(hs) as tf.Tensor3D;
    }
    return seq;
  });
}

/** Seed cotangents at step t: identity rows on h (and on c in state mode). Each [batch, R, H]. */
function seeds(cell: Cell, batch: number, mode: JacobianMode): tf.Tensor3D[] {
  return tf.tidy(() => {
    const H = cell.hiddenSize;
    const eye = tf.eye(H);
    const zero = tf.zeros([H, H]);
    const tile = (m: tf.Tensor) => tf.tile(tf.expandDims(m, 0), [batch, 1, 1]) as tf.Tensor3D;
    if (cell.numStates === 1) return [tile(eye)];
    if (mode === 'h') return [tile(eye), tile(zero)];
    return [tile(tf.concat([eye, zero], 0)), tile(tf.concat([zero, eye], 0))];
  });
}

interface NormBuffers {
  warm: Float64Array[]; // per sequence, power-iteration warm start
}

function normsOf(
  data: Float32Array,
  logScale: Float64Array,
  batch: number,
  R: number,
  C: number,
  spectral: boolean,
  buf: NormBuffers,
) {
  const fro: number[] = [];
  const spec: number[] | null = spectral ? [] : null;
  for (let b = 0; b < batch; b++) {
    const off = b * R * C;
    const scale = Math.exp(logScale[b]);
    fro.push(scale * frobeniusNorm(data, off, R, C));
    if (spec) spec.push(scale * spectralNorm(data, off, R, C, buf.warm[b]));
  }
  return { fro, spec };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Pull the seeds at step t back to k = t−1 … 0, calling `visit(k, jacobian, logScale)` for
 * each k, where the true ∂s_t/∂s_k of sequence b is exp(logScale[b]) × jacobian[b].
 * After every step the cotangents are rescaled on the device to max |·| = 1 and the
 * scale is kept: products of Jacobians leave float32's range quickly (a saturated
 * tanh RNN can shrink by 1e-3 per step, and denormals make wasm's matMul ~100×
 * slower), while the accumulated log-scale in float64 stays exact. The matrices
 * and scales are read back CHUNK steps at a time.
 */
async function sweep(
  cell: Cell,
  locals: tf.Tensor2D[][],
  t: number,
  batch: number,
  mode: JacobianMode,
  weightHH: tf.Tensor2D,
  visit: (k: number, data: Float32Array, logScale: Float64Array) => void,
  after?: (k: number) => Promise<void>,
): Promise<void> {
  const records = new Readback(batch, visit, after);
  if (runsFused(cell)) return sweepFused(cell, cell.kind, locals, t, batch, mode, weightHH, records);
  let cot = seeds(cell, batch, mode);
  try {
    for (let k = t - 1; k >= 0; k--) {
      const raw = cell.pullback(locals[k], cot, weightHH);
      // the previous cotangents are no longer needed, except the one a pending record owns
      for (const c of cot) if (!records.holds(c)) c.dispose();
      const { next, scale } = tf.tidy(() => {
        // per-sequence max |·|, floored so an all-zero Jacobian stays exactly 0
        const maxAbs = raw.map((c) => tf.max(tf.abs(c), [1, 2], true)).reduce((a, b) => tf.maximum(a, b));
        const m = tf.maximum(maxAbs, 1e-30) as tf.Tensor3D; // [batch, 1, 1]
        return { next: raw.map((c) => tf.div(c, m) as tf.Tensor3D), scale: m };
      });
      tf.dispose(raw);
      cot = next;
      // the h-part alone is still the current cotangent: the read-back must not free it
      await records.push(
        k,
        mode === 'state' && cot.length === 2 ? (tf.concat(cot, 2) as tf.Tensor3D) : cot[0],
        scale,
        cot[0],
      );
    }
    await records.flush(null);
  } finally {
    // after the last read-back, or when a stop (progress hook) threw out of one: the pending records are freed
    tf.dispose(cot);
  }
}

/**
 * The Jacobians a sweep records, read back from the device CHUNK steps at a time: each
 * was stored after dividing by its step's scale, so the scales accumulate into logScale
 * (float64) before `visit` sees the matrix.
 */
class Readback {
  static readonly CHUNK = 32;
  private pending: { k: number; jac: tf.Tensor; scale: tf.Tensor }[] = [];
  private readonly logScale: Float64Array;

  constructor(
    private readonly batch: number,
    private readonly visit: (k: number, data: Float32Array, logScale: Float64Array) => void,
    /** Awaited after each read-back with the last k visited (progress, and the stop check: it may throw). */
    private readonly after?: (k: number) => Promise<void>,
  ) {
    this.logScale = new Float64Array(batch);
  }

  holds(t: tf.Tensor): boolean {
    return this.pending.some((p) => p.jac === t);
  }

  /** Record ∂s_t/∂s_k (scaled) and its step scale [batch, 1, 1]; `keep` stays alive through a read-back. */
  async push(k: number, jac: tf.Tensor, scale: tf.Tensor, keep: tf.Tensor | null): Promise<void> {
    this.pending.push({ k, jac, scale });
    if (this.pending.length === Readback.CHUNK) await this.flush(keep);
  }

  async flush(keep: tf.Tensor | null): Promise<void> {
    const pending = this.pending;
    if (pending.length === 0) return;
    const stacked = tf.stack(pending.map((p) => p.jac));
    const scales = tf.stack(pending.map((p) => p.scale));
    const [data, scale] = (await Promise.all([stacked.data(), scales.data()])) as Float32Array[];
    tf.dispose([stacked, scales, ...pending.flatMap((p) => (p.jac === keep ? [p.scale] : [p.jac, p.scale]))]);
    const per = data.length / pending.length;
    pending.forEach((p, i) => {
      for (let b = 0; b < this.batch; b++) this.logScale[b] += Math.log(scale[i * this.batch + b]);
      this.visit(p.k, data.subarray(i * per, (i + 1) * per), this.logScale);
    });
    this.pending = [];
    await this.after?.(pending[pending.length - 1].k);
  }
}

/**
 * The same sweep with one fused kernel per step (wasm): finish and rescale the cotangent
 * on s_{k+1}, record it, start the pullback through step k; then one matMul by W_hh.
 */
async function sweepFused(
  cell: RecurrentCellBase & Cell,
  kind: FusedCellKind,
  locals: tf.Tensor2D[][],
  t: number,
  batch: number,
  mode: JacobianMode,
  weightHH: tf.Tensor2D,
  records: Readback,
): Promise<void> {
  const state = mode === 'state' && cell.numStates === 2;
  const H = cell.hiddenSize;
  // seeds, already of scale 1: the first call only starts the pullback through step t − 1
  const [gh, gx] = tf.tidy(() => {
    const s = seeds(cell, batch, mode).map((x) => tf.reshape(x, [-1, H]) as tf.Tensor2D);
    return [s[0], s[1] ?? tf.zerosLike(s[0])];
  });
  const first = fusedCellPullback(kind, gh, gx, locals[t - 1], batch, { normalize: false, state });
  let [, , dah, direct] = first;
  tf.dispose([gh, gx, first[0], first[1]]);
  try {
    for (let k = t - 1; k >= 0; k--) {
      const viaW = tf.matMul(dah, weightHH) as tf.Tensor2D;
      const out = fusedCellPullback(
        kind,
        viaW,
        kind === 'rnn' ? viaW : (direct as tf.Tensor2D),
        k > 0 ? locals[k - 1] : null,
        batch,
        { normalize: true, state },
      );
      tf.dispose([viaW, dah, direct]);
      [, , dah, direct] = out;
      await records.push(k, out[0], out[1], null);
    }
    await records.flush(null);
  } finally {
    tf.dispose([dah, direct]); // nothing left after k = 0; a stop leaves the pullback in flight
  }
}

function summarize(gaps: number[], norms: number[], threshold: number): CurveSummary {
  const slope = logSlope(gaps, norms);
  const below = gaps.findIndex((_, i) => norms[i] < threshold);
  return { decayPerStep: slope === null ? null : -slope, horizon: below < 0 ? null : gaps[below] };
}

/**
 * ‖∂h_T/∂h_k‖ (spectral and Frobenius) for k = 0..T−1 on inputs xs [T, batch, inputSize],
 * per sequence and averaged over the batch, with decay per step and horizon.
 */
export async function jacobianNorms(
  cell: Cell,
  xs: tf.Tensor3D,
  state0?: State,
  options: Partial<JacobianOptions> = {},
  hooks: ProbeHooks = {},
): Promise<JacobianResult> {
  const opts: Readonly<JacobianOptions> = { ...JACOBIAN_DEFAULTS, ...options };
  const [T, batch] = xs.shape;
  const mode: JacobianMode = cell.numStates === 2 ? opts.mode : 'h';
  const H = cell.hiddenSize;
  const R = mode === 'state' ? 2 * H : H;
  const C = R;
  const locals = await traceForward(cell, xs, state0, opts);
  const weightHH = cell.recurrentWeight();
  try {
    const rows: JacobianRow[] = new Array(T);
    const matrices: Float64Array[] | undefined = opts.keepMatrices ? new Array(T) : undefined;
    const buf: NormBuffers = { warm: Array.from({ length: batch }, () => new Float64Array(C).fill(1)) };
    const threaded =
      opts.spectral && normThreadAvailable() && (opts.normThread === 'auto' ? T * batch >= 64 : opts.normThread);
    const later = threaded ? new AsyncNorms(batch, R, C) : null;
    const setRow = (k: number, fro: number[], spec: number[] | null) => {
      rows[T - k - 1] = {
        k,
        gap: T - k,
        spectral: spec ? mean(spec) : null,
        frobenius: mean(fro),
        spectralPerSeq: spec,
        frobeniusPerSeq: fro,
      };
    };
    const wanted = opts.gaps === null ? null : new Set(opts.gaps);
    const turns = new EventLoopTurns();
    const swept = async (k: number) => {
      await later?.throttle();
      opts.onProgress?.('sweep', T - k, T);
      if (opts.signal) await turns.maybe();
      stopIfAborted(opts.signal, () => `in the backward sweep at gap ${T - k} of ${T}`);
    };
    await sweep(
      cell,
      locals,
      T,
      batch,
      mode,
      weightHH,
      (k, data, logScale) => {
        hooks.jacobian?.(k, data, logScale);
        if (wanted !== null && !wanted.has(T - k)) return;
        if (later) later.add(k, data, logScale);
        else {
          const { fro, spec } = normsOf(data, logScale, batch, R, C, opts.spectral, buf);
          setRow(k, fro, spec);
        }
        if (matrices) {
          const per = R * C;
          matrices[T - k - 1] = Float64Array.from(data, (v, i) => v * Math.exp(logScale[Math.floor(i / per)]));
        }
      },
      swept,
    );
    if (hooks.afterSweep) await hooks.afterSweep(locals);
    if (later) for (const [k, { fro, spec }] of await later.results()) setRow(k, fro, spec);
    if (wanted !== null) rows.splice(0, rows.length, ...rows.filter((r) => r !== undefined));
    const gaps = rows.map((r) => r.gap);
    const result: JacobianResult = {
      T,
      batch,
      mode,
      shape: [R, C],
      rows,
      summary: {
        spectral: opts.spectral
          ? summarize(
              gaps,
              rows.map((r) => r.spectral as number),
              opts.horizonThreshold,
            )
          : null,
        frobenius: summarize(
          gaps,
          rows.map((r) => r.frobenius),
          opts.horizonThreshold,
        ),
      },
    };
    if (matrices) result.matrices = matrices;
    if (opts.allPairs) {
      const pairs: number[][] = [];
      for (let t = 1; t <= T; t++) {
        const row = new Array<number>(t);
        const pbuf: NormBuffers = { warm: Array.from({ length: batch }, () => new Float64Array(C).fill(1)) };
        await sweep(cell, locals, t, batch, mode, weightHH, (k, data, logScale) => {
          const { fro, spec } = normsOf(data, logScale, batch, R, C, opts.spectral, pbuf);
          row[k] = mean(spec ?? fro);
        });
        if (opts.signal) await turns.maybe();
        stopIfAborted(opts.signal, () => `in the all-pairs sweeps at t = ${t} of ${T}`);
        pairs.push(row);
      }
      result.pairs = pairs;
    }
    return result;
  } finally {
    weightHH.dispose();
    tf.dispose(locals.flat());
  }
}
