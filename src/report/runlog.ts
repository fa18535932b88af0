import type {
  DeltasRecord,
  GradflowRecord,
  LogRecord,
  PairsRecord,
  SpectrumRecord,
  UnknownRecord,
} from '../runlog/schema.js';

/**
 * A run as the report sees it, built from its log records (src/runlog/schema.ts) and, when
 * known, config.json and metrics.json. No file system here, so the browser lab builds the same
 * RunData from the records it holds in memory; rundata.ts adds the directory reading on top.
 */

/** ‖∂h_T/∂h_k‖ on the probe batch at one training step, with the summary of its headline curve. */
export interface GradflowSnapshot
  extends Omit<GradflowRecord, 'type' | 'frobenius' | 'lossGrad' | 'summary' | 'batch'> {
  frobenius: number[];
  /** ‖∂L/∂h_k‖ for k = 0..T (top layer only). */
  lossGrad: number[] | null;
  /** Of the spectral curve when there is one, else of the Frobenius curve. */
  horizon: number | null;
  decayPerStep: number | null;
}

/** ‖∂h_t/∂h_k‖ for every k < t ≤ T: pairs[t−1][k]. */
export type PairsSnapshot = Omit<PairsRecord, 'type'>;

/**
 * The singular values of ∂h_T/∂h_k at chosen gaps and the Lyapunov spectrum at one step, as logged:
 * logSigma[g][i] = ln σ̄_i at gap[g] (null: σ̄_i = 0); lyapunov λ_1 ≥ … ≥ λ_k in nats per step.
 */
export type SpectrumSnapshot = Omit<SpectrumRecord, 'type'>;

/** An MLP's per-layer ‖δˡ‖ at one step, hidden layers first to last. */
export interface DeltaSnapshot {
  step: number;
  epoch: number;
  kind: DeltasRecord['kind'];
  norms: number[];
}

export interface EvalPoint {
  step: number;
  loss: number;
  metrics: Record<string, number | null>;
}

/** One run directory, as the report sees it. */
export interface RunData {
  dir: string;
  /** How plots name the run: the cell in a comparison, else the directory name. */
  label: string;
  config: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  /** Training loss per optimizer step. */
  steps: { step: number; loss: number }[];
  evals: EvalPoint[];
  /** The held-out test evaluation at the end, when the task has one. */
  test: EvalPoint | null;
  gradflow: GradflowSnapshot[];
  pairs: PairsSnapshot[];
  spectra: SpectrumSnapshot[];
  deltas: DeltaSnapshot[];
  /** Log records of kinds the report does not plot, counted by kind. */
  other: Record<string, number>;
}

/** The report treats a value the log could only write as null (NaN, ±Infinity) as missing: NaN. */
const missingAsNaN = (xs: readonly (number | null)[]): number[] => xs.map((v) => v ?? Number.NaN);

function snapshot(r: GradflowRecord): GradflowSnapshot {
  const { type: _type, summary, frobenius, lossGrad, batch: _batch, ...curves } = r;
  const headline = summary.spectral ?? summary.frobenius;
  return {
    ...curves,
    frobenius: missingAsNaN(frobenius),
    lossGrad: lossGrad ? missingAsNaN(lossGrad) : null,
    horizon: headline.horizon,
    decayPerStep: headline.decayPerStep,
  };
}

/** A run from its log records and (when known) config.json and metrics.json: readRun without the file system. */
export function runFromLog(
  dir: string,
  label: string,
  config: Record<string, unknown>,
  metrics: Record<string, unknown> | null,
  records: readonly (LogRecord | UnknownRecord)[],
): RunData {
  const run: RunData = {
    dir,
    label,
    config,
    metrics,
    steps: [],
    evals: [],
    test: null,
    gradflow: [],
    pairs: [],
    spectra: [],
    deltas: [],
    other: {},
  };
  const count = (kind: string) => {
    run.other[kind] = (run.other[kind] ?? 0) + 1;
  };
  for (const r of records) {
    switch (r.type) {
      // a loss the log holds as null was not finite: the run diverged there, nothing to plot
      case 'step':
        if (r.loss !== null) run.steps.push({ step: r.step, loss: r.loss });
        break;
      case 'eval':
        if (r.loss !== null) run.evals.push({ step: r.step, loss: r.loss, metrics: r.metrics });
        break;
      case 'test':
        if (r.loss !== null) run.test = { step: r.step, loss: r.loss, metrics: r.metrics };
        break;
      case 'gradflow':
        run.gradflow.push(snapshot(r));
        break;
      case 'pairs': {
        const { type: _type, ...pairs } = r;
        run.pairs.push(pairs);
        break;
      }
      case 'spectrum': {
        const { type: _type, ...spectrum } = r;
        run.spectra.push(spectrum);
        break;
      }
      case 'deltas':
        run.deltas.push({ step: r.step, epoch: r.epoch, kind: r.kind, norms: missingAsNaN(r.deltaNorms) });
        break;
      case 'unknown':
        count(r.kind);
        break;
      case 'start':
      case 'checkpoint':
      case 'end':
      case 'diverged':
        count(r.type);
        break;
      default: {
        const unhandled: never = r;
        throw new Error(`run log record not handled: ${JSON.stringify(unhandled)}`);
      }
    }
  }
  // a resumed run logs the steps after its checkpoint again: keep the last record of each step
  run.steps = lastPerStep(run.steps);
  run.evals = lastPerStep(run.evals);
  return run;
}

function lastPerStep<T extends { step: number }>(xs: T[]): T[] {
  const by = new Map<number, T>();
  for (const x of xs) by.set(x.step, x);
  return [...by.values()].sort((a, b) => a.step - b.step);
}
