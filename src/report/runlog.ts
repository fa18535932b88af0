import { inputError } from '../util/errors.js';
import type { GradflowSnapshot, RunData } from './rundata.js';

/**
 * A run log (log.jsonl) as the report sees it, from text or records already in
 * memory: no file system, so the browser lab reads the same logs with the same code.
 * rundata.ts adds the directory reading on top.
 */

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const numArray = (v: unknown): number[] | null =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' || x === null) ? (v as number[]) : null;

/** The records of log.jsonl text; `path` names it in error messages. */
export function parseLog(text: string, path: string): Record<string, unknown>[] {
  const lines = text.split('\n');
  const out: Record<string, unknown>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const rec = JSON.parse(line) as unknown;
      if (rec && typeof rec === 'object' && !Array.isArray(rec)) out.push(rec as Record<string, unknown>);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) throw inputError(`${path} line ${i + 1} is not valid JSON`);
    }
  });
  return out;
}

function gradflowOf(r: Record<string, unknown>): GradflowSnapshot | null {
  const gap = numArray(r.gap);
  const frobenius = numArray(r.frobenius);
  const step = num(r.step);
  if (!gap || !frobenius || step === null) return null;
  const summary = (r.summary ?? {}) as {
    spectral?: { horizon?: number | null; decayPerStep?: number | null } | null;
    frobenius?: { horizon?: number | null; decayPerStep?: number | null };
  };
  const s = summary.spectral ?? summary.frobenius ?? {};
  return {
    step,
    layer: num(r.layer) ?? 0,
    mode: String(r.mode ?? 'h'),
    T: num(r.T) ?? gap.length,
    gap,
    spectral: numArray(r.spectral) ?? gap.map(() => null),
    frobenius,
    lossGrad: numArray(r.lossGrad),
    horizon: num(s.horizon),
    decayPerStep: num(s.decayPerStep),
  };
}

/** A run from its log records and (when known) config.json and metrics.json: readRun without the file system. */
export function runFromLog(
  dir: string,
  label: string,
  config: Record<string, unknown>,
  metrics: Record<string, unknown> | null,
  records: Record<string, unknown>[],
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
    deltas: [],
    other: {},
  };
  for (const r of records) {
    const step = num(r.step);
    switch (r.type) {
      case 'step': {
        const loss = num(r.loss);
        if (step !== null && loss !== null) run.steps.push({ step, loss });
        break;
      }
      case 'eval': {
        const loss = num(r.loss);
        const metrics = (r.metrics ?? {}) as Record<string, number | null>;
        if (step === null || loss === null) break;
        // the end-of-run test evaluation carries a `split` key (see commands/train.ts)
        if ('split' in metrics) {
          const { split: _split, ...rest } = metrics;
          run.test = { step, loss, metrics: rest };
        } else run.evals.push({ step, loss, metrics });
        break;
      }
      case 'gradflow': {
        const deltaNorms = numArray(r.deltaNorms);
        if (deltaNorms && step !== null) {
          run.deltas.push({ step, epoch: num(r.epoch), kind: String(r.kind ?? 'probe'), norms: deltaNorms });
          break;
        }
        const g = gradflowOf(r);
        if (g) run.gradflow.push(g);
        break;
      }
      case 'pairs': {
        const pairs = r.pairs;
        if (step !== null && Array.isArray(pairs) && pairs.every((row) => numArray(row))) {
          run.pairs.push({
            step,
            layer: num(r.layer) ?? 0,
            mode: String(r.mode ?? 'h'),
            T: num(r.T) ?? pairs.length,
            norm: String(r.norm ?? 'frobenius'),
            pairs: pairs as number[][],
          });
        }
        break;
      }
      case 'deltas': {
        const norms = numArray(r.norms);
        if (step !== null && norms)
          run.deltas.push({ step, epoch: num(r.epoch), kind: String(r.kind ?? 'probe'), norms });
        break;
      }
      default:
        run.other[String(r.type)] = (run.other[String(r.type)] ?? 0) + 1;
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
