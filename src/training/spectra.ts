import type * as tf from '@tensorflow/tfjs';
import type { Cell, State } from '../models/cell.js';
import { usageError } from '../util/errors.js';
import {
  JACOBIAN_DEFAULTS,
  jacobianNorms,
  type JacobianMode,
  type JacobianOptions,
  type JacobianResult,
} from './gradflow.js';
import {
  LYAPUNOV_DEFAULTS,
  lyapunovFromTrace,
  resolveLyapunovOptions,
  type LyapunovOptions,
  type LyapunovResult,
} from './lyapunov.js';
import { singularValues } from './svd.js';

/**
 * Gradient flow beyond the norm: every singular value of ∂h_T/∂h_k, and the Lyapunov
 * spectrum, from one probe (gradflow.ts).
 *
 * Singular values: the probe's sweep already forms G_k = ∂s_T/∂s_k for every k (rows R = H,
 * or 2H in the LSTM's state mode), stored divided by a running scale exp(logScale) to stay in
 * float32's range. At the chosen gaps the stored matrix is copied and its singular values
 * taken in float64 (svd.ts), so ln σ_i = ln σ_i(stored) + logScale exactly, however far below
 * float64's range σ_i lies. Float32 storage sets the floor: singular values below ~1e-6 of σ_1
 * at their gap are rounding noise (the tests hold σ_i to 1e-3 above that).
 *
 * Per gap: the spectrum (descending), the count of σ_i ≥ the horizon's threshold (the
 * directions that survive the gap), and the participation ratio (Σσ²)²/Σσ⁴ (how many
 * directions share the gain: R when all σ_i are equal, 1 when one dominates; 0 for G = 0).
 * Each is computed per probe sequence; the batch figure is the arithmetic mean over the
 * sequences, as the probe's norms are: σ̄_i = (1/B) Σ_b σ_i^(b) for each index i (taken in log
 * space), and the mean count and participation ratio.
 *
 * The Lyapunov spectrum (lyapunov.ts) runs on the same forward pass, after the sweep.
 */

/** Which gaps get their singular values: "log" (up to maxGaps, log-spaced, with 1 and T), "all", or a list. */
export type GapSelection = 'log' | 'all' | readonly number[];

export interface SpectraOptions extends LyapunovOptions {
  /** "h": ∂h_T/∂h_k (c_k fixed); "state": ∂s_T/∂s_k, s = [h; c] (LSTM). Default "h". */
  mode: JacobianMode;
  /** Default "log". */
  gaps: GapSelection;
  /** Gaps in a "log" selection (at least 2). Default 32. */
  maxGaps: number;
  /** σ_i ≥ this counts as a surviving direction; the probe's horizon uses the same. Default JACOBIAN_DEFAULTS's. */
  horizonThreshold: number;
  /** The probe's spectral norms (Lanczos) too. Default true. */
  spectral: boolean;
  /** As the probe's. Default "auto". */
  normThread: JacobianOptions['normThread'];
  /** Also the Lyapunov spectrum. Default true. */
  lyapunov: boolean;
  /** As the probe's: progress of the forward pass and the sweep. */
  onProgress?: JacobianOptions['onProgress'];
  /** As the probe's: stop between steps once aborted. */
  signal?: AbortSignal;
}

export const SPECTRA_DEFAULTS: Readonly<SpectraOptions> = {
  ...LYAPUNOV_DEFAULTS,
  mode: JACOBIAN_DEFAULTS.mode,
  gaps: 'log',
  maxGaps: 32,
  horizonThreshold: JACOBIAN_DEFAULTS.horizonThreshold,
  spectral: JACOBIAN_DEFAULTS.spectral,
  normThread: JACOBIAN_DEFAULTS.normThread,
  lyapunov: true,
};

export interface SequenceSpectrum {
  /** ln σ_i, descending (−Infinity for σ_i = 0). */
  logSigma: number[];
  /** #{i : σ_i ≥ horizonThreshold}. */
  count: number;
  /** (Σσ²)²/Σσ⁴, 0 when every σ_i is 0. All three are NaN when the Jacobian holds a NaN or ∞. */
  participationRatio: number;
}

export interface SingularSpectrumRow {
  gap: number; // T − k
  k: number;
  /** ln σ̄_i, σ̄_i = batch mean of σ_i (index by index), descending. */
  logSigma: number[];
  /** σ̄_i = exp(logSigma[i]): 0 where that is below float64's range (see logSigma). */
  sigma: number[];
  /** Batch mean of the sequences' counts. */
  count: number;
  /** Batch mean of the sequences' participation ratios. */
  participationRatio: number;
  perSeq: SequenceSpectrum[];
}

export interface SpectraResult {
  T: number;
  batch: number;
  mode: JacobianMode;
  /** Rows × columns of each Jacobian. */
  shape: [number, number];
  horizonThreshold: number;
  /** The probe itself: ‖∂h_T/∂h_k‖ at every gap, decay per step and horizon. */
  norms: JacobianResult;
  /** By ascending gap. */
  singular: SingularSpectrumRow[];
  lyapunov: LyapunovResult | null;
  /** λ_1 beside the probe's decay per step (spectral, else Frobenius): for long T, λ_1 ≈ −decay. */
  lambda1: number | null;
  decayPerStep: number | null;
}

/**
 * Gaps 1 = g_1 < … < g_n = T, n = min(T, maxGaps): round(T^{i/(n−1)}), moved up where rounding
 * would repeat a gap (short gaps crowd) and down where the rest would not fit.
 */
export function logSpacedGaps(T: number, maxGaps: number): number[] {
  const n = Math.min(T, maxGaps);
  if (n === 1) return [1];
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    const ideal = Math.round(Math.exp((Math.log(T) * i) / (n - 1)));
    gaps.push(Math.min(Math.max(ideal, i === 0 ? 1 : gaps[i - 1] + 1), T - (n - 1 - i)));
  }
  return gaps;
}

/** The gaps a selection names for a probe of T steps, ascending; bad selections throw a SeqlabError. */
export function selectGaps(selection: GapSelection, maxGaps: number, T: number): number[] {
  if (selection === 'all') return Array.from({ length: T }, (_, i) => i + 1);
  if (selection === 'log') {
    if (!Number.isInteger(maxGaps) || maxGaps < 2)
      throw usageError((field) => `${field('maxGaps')} must be an integer ≥ 2 (gap 1 and gap T), got ${maxGaps}`);
    return logSpacedGaps(T, maxGaps);
  }
  if (!Array.isArray(selection) || selection.length === 0)
    throw usageError((field) => `${field('gaps')} must be "log", "all" or a non-empty list of gaps`);
  for (const g of selection) {
    if (!Number.isInteger(g) || g < 1 || g > T)
      throw usageError(
        (field) => `${field('gaps')}: ${JSON.stringify(g)} is not a gap of this probe; use integers 1 … ${T} (T)`,
      );
  }
  return [...new Set(selection)].sort((a, b) => a - b);
}

/** ln of the mean of exp(xs), without leaving float64's range. */
function logMeanExp(xs: number[]): number {
  const max = Math.max(...xs);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(xs.reduce((s, x) => s + Math.exp(x - max), 0) / xs.length);
}

/**
 * Spectrum, count and participation ratio of sequence b's stored matrix (R×C at b·R·C; the true
 * matrix is exp(logScale) × the stored one).
 */
export function sequenceSpectrum(
  data: Float32Array,
  b: number,
  R: number,
  C: number,
  logScale: number,
  threshold: number,
): SequenceSpectrum {
  const sigma = singularValues(data, b * R * C, R, C);
  // a NaN or an infinity in the Jacobian (a diverged run): nothing to count
  if (Number.isNaN(sigma[0])) return { logSigma: Array.from(sigma), count: NaN, participationRatio: NaN };
  // the participation ratio does not depend on the scale: from the stored matrix's σ
  let s2 = 0;
  let s4 = 0;
  for (const s of sigma) {
    s2 += s * s;
    s4 += s * s * s * s;
  }
  const logSigma = Array.from(sigma, (s) => Math.log(s) + logScale);
  const logThreshold = Math.log(threshold);
  return {
    logSigma,
    count: logSigma.filter((l) => l >= logThreshold).length,
    participationRatio: s4 > 0 ? (s2 * s2) / s4 : 0,
  };
}

/**
 * Singular values of ∂h_T/∂h_k (or ∂s_T/∂s_k) at the selected gaps, the probe's norms, and
 * the Lyapunov spectrum, for `cell` on inputs xs [T, batch, inputSize] from state0 (zeros by
 * default): one forward pass and one sweep.
 */
export async function gradientSpectra(
  cell: Cell,
  xs: tf.Tensor3D,
  state0?: State,
  options: Partial<SpectraOptions> = {},
): Promise<SpectraResult> {
  const opts: Readonly<SpectraOptions> = { ...SPECTRA_DEFAULTS, ...options };
  const [T, batch] = xs.shape;
  if (T < 1) throw usageError(`the spectra need a sequence of at least one step, got T = ${T}`);
  if (!(opts.horizonThreshold > 0))
    throw usageError((field) => `${field('horizonThreshold')} must be > 0, got ${opts.horizonThreshold}`);
  const gaps = selectGaps(opts.gaps, opts.maxGaps, T);
  const H = cell.hiddenSize;
  if (opts.lyapunov) resolveLyapunovOptions(opts, T, cell.numStates * H); // bad options fail before any work
  const mode: JacobianMode = cell.numStates === 2 ? opts.mode : 'h';
  const R = mode === 'state' ? 2 * H : H;
  const wanted = new Set(gaps);
  const perGap = new Map<number, SequenceSpectrum[]>();
  const spectraOf = (gap: number, data: Float32Array, logScale: Float64Array) => {
    const perSeq = Array.from({ length: batch }, (_, b) =>
      sequenceSpectrum(data, b, R, R, logScale[b], opts.horizonThreshold),
    );
    perGap.set(gap, perSeq);
  };
  // a few gaps: copied during the sweep, decomposed after it while the norm thread catches up;
  // many: decomposed as they come, rather than holding T matrices
  const deferred = gaps.length <= 64;
  const kept = new Map<number, { data: Float32Array; logScale: Float64Array }>();
  let lyapunov: LyapunovResult | null = null;
  const { exponents, burnIn, reorthEvery } = opts;
  const norms = await jacobianNorms(
    cell,
    xs,
    state0,
    {
      mode,
      spectral: opts.spectral,
      normThread: opts.normThread,
      horizonThreshold: opts.horizonThreshold,
      onProgress: opts.onProgress,
      signal: opts.signal,
    },
    {
      jacobian: (k, data, logScale) => {
        if (!wanted.has(T - k)) return;
        if (deferred) kept.set(T - k, { data: data.slice(), logScale: logScale.slice() });
        else spectraOf(T - k, data, logScale);
      },
      afterSweep: async (locals) => {
        for (const [gap, { data, logScale }] of kept) {
          spectraOf(gap, data, logScale);
          kept.delete(gap);
        }
        if (opts.lyapunov) lyapunov = await lyapunovFromTrace(cell, locals, { exponents, burnIn, reorthEvery });
      },
    },
  );
  const singular = gaps.map((gap): SingularSpectrumRow => {
    const perSeq = perGap.get(gap) as SequenceSpectrum[];
    const logSigma = perSeq[0].logSigma.map((_, i) => logMeanExp(perSeq.map((s) => s.logSigma[i])));
    return {
      gap,
      k: T - gap,
      logSigma,
      sigma: logSigma.map(Math.exp),
      count: mean(perSeq.map((s) => s.count)),
      participationRatio: mean(perSeq.map((s) => s.participationRatio)),
      perSeq,
    };
  });
  const decay = (norms.summary.spectral ?? norms.summary.frobenius).decayPerStep;
  const lyap = lyapunov as LyapunovResult | null;
  return {
    T,
    batch,
    mode,
    shape: [R, R],
    horizonThreshold: opts.horizonThreshold,
    norms,
    singular,
    lyapunov: lyap,
    lambda1: lyap ? lyap.exponents[0] : null,
    decayPerStep: decay,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
