import type { JacobianMode } from './gradflow.js';
import { OPTIMIZER_DEFAULTS, type OptimizerConfig, SCHEDULE_DEFAULTS, type ScheduleConfig } from './optim.js';

/**
 * The trainer's settings, one typed record with one default per field (TRAIN_DEFAULTS), merged
 * once at the boundary and then frozen and written to the run's config.json.
 */
export interface TrainConfig extends OptimizerConfig, ScheduleConfig {
  /** Optimizer updates. Default 1000. */
  steps: number;
  /** Sequences per batch. Default 32. */
  batchSize: number;
  /** Chunk length for truncated BPTT; 0 = full BPTT over the whole sequence. Default 0. */
  bptt: number;
  /** Clip gradients to this global L2 norm; null = off. Default 1. */
  clipNorm: number | null;
  /** Clamp each gradient entry to ±clipValue; null = off. Default null. */
  clipValue: number | null;
  /** Validate (and checkpoint) every N steps. Default 100. */
  evalEvery: number;
  /** Stop after this many evaluations without a better validation loss; 0 = never. Default 0. */
  earlyStop: number;
  /** Log gradient flow every N steps; 0 = off. Default 250 (the probes then take under 10 % of training time). */
  gradflowEvery: number;
  /** Jacobian mode for LSTM probes. Default "h". */
  gradflowMode: JacobianMode;
  /** Probe every layer, or only the top one. Default false (top only). */
  gradflowAllLayers: boolean;
  /**
   * Every N steps, the probe also takes the singular values of ∂h_T/∂h_k at up to 32 log-spaced
   * gaps and the 32 largest Lyapunov exponents (spectra.ts), logged as a `spectrum` record: at the
   * first probe on or after each multiple of N (isSpectrumDue); 0 = never. Default 500 (they cost
   * about as much again as the probe: every other probe keeps the logging within 10 % of training).
   */
  spectrumEvery: number;
  /**
   * Keep the weights of the best validation loss and end with them: the test evaluation and the
   * last checkpoint use them (word_language_model evaluates its best saved model). That checkpoint
   * is not resumable; the ones written during the run are. Default false.
   */
  restoreBest: boolean;
  /** Seed of data order and dropout (initial weights are seeded by the caller). Default 1. */
  seed: number;
  /**
   * Threads computing each batch's gradients (data-parallel halves, see parallel.ts): 1, 2,
   * or "auto" (2 on the wasm backend with two cores or more). Default "auto".
   */
  threads: number | 'auto';
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = {
  ...OPTIMIZER_DEFAULTS,
  ...SCHEDULE_DEFAULTS,
  steps: 1000,
  batchSize: 32,
  bptt: 0,
  clipNorm: 1,
  clipValue: null,
  evalEvery: 100,
  earlyStop: 0,
  gradflowEvery: 250,
  gradflowMode: 'h',
  gradflowAllLayers: false,
  spectrumEvery: 500,
  restoreBest: false,
  seed: 1,
  threads: 'auto',
};

/**
 * Whether the probe at `step` takes the spectra: at step 0, and at the first probe on or after each
 * multiple of spectrumEvery (probes run every gradflowEvery steps, and once more at the end).
 */
export function isSpectrumDue(step: number, gradflowEvery: number, spectrumEvery: number): boolean {
  if (spectrumEvery <= 0 || gradflowEvery <= 0) return false;
  if (step === 0) return true;
  // the probe before this one: a scheduled probe's predecessor, or (the last probe) the last scheduled one
  const previous = step % gradflowEvery === 0 ? step - gradflowEvery : step - (step % gradflowEvery);
  return Math.floor(step / spectrumEvery) > Math.floor(previous / spectrumEvery);
}
