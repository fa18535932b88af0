import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SeqlabError, inputError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';

/**
 * What the report reads: run directories and the plain JSON a command wrote
 * beside them (compare.json, sweep.json, results.json). Nothing here imports the
 * trainer; the log is read as typed JSON lines and unknown record types are skipped,
 * so a report of a newer or older run still renders what it understands.
 */

/** ‖∂h_T/∂h_k‖ on the probe batch at one training step (a `gradflow` log record). */
export interface GradflowSnapshot {
  step: number;
  layer: number;
  mode: string;
  T: number;
  gap: number[];
  spectral: (number | null)[];
  frobenius: number[];
  /** ‖∂L/∂h_k‖ for k = 0..T (top layer only). */
  lossGrad: number[] | null;
  horizon: number | null;
  decayPerStep: number | null;
}

/** ‖∂h_t/∂h_k‖ for every k < t ≤ T (a `pairs` log record): pairs[t−1][k]. */
export interface PairsSnapshot {
  step: number;
  layer: number;
  mode: string;
  T: number;
  norm: string;
  pairs: number[][];
}

/**
 * Per-layer ‖δˡ‖ = ‖∂C/∂bˡ‖ of an MLP at one step, hidden layers first to last. The
 * MLP trainer logs {type: 'gradflow', step, epoch, kind: 'probe' | 'batch', deltaNorms}
 * (probe: on a fixed probe set once an epoch; batch: the mean over the last training
 * batches); {type: 'deltas', step, epoch?, norms} is read too.
 */
export interface DeltaSnapshot {
  step: number;
  epoch: number | null;
  kind: string;
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
  deltas: DeltaSnapshot[];
  /** Extra log records of types the report does not plot, counted by type. */
  other: Record<string, number>;
}

/** A run, a comparison of runs, a sweep or any directory of runs. */
export interface ReportSource {
  kind: 'train' | 'compare' | 'sweep' | 'group';
  dir: string;
  runs: RunData[];
  /** compare.json / sweep.json, when there is one. */
  summary: Record<string, unknown> | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const numArray = (v: unknown): number[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'number' || x === null) ? (v as number[]) : null);

/** Parse log.jsonl; a torn last line (a run killed mid-write) is ignored, other bad lines are an input error. */
export function readLog(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${path}: ${(e as Error).message}`);
  }
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
  const summary = (r.summary ?? {}) as { spectral?: { horizon?: number | null; decayPerStep?: number | null } | null; frobenius?: { horizon?: number | null; decayPerStep?: number | null } };
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

/** Read one run directory (config.json, log.jsonl, metrics.json when finished). */
export function readRun(dir: string, label = basename(dir)): RunData {
  if (!existsSync(join(dir, 'log.jsonl'))) throw inputError(`${dir} is not a seqlab run directory (no log.jsonl)`);
  const config = existsSync(join(dir, 'config.json')) ? (readJsonFile(join(dir, 'config.json'), 'run config') as Record<string, unknown>) : {};
  const metrics = existsSync(join(dir, 'metrics.json')) ? (readJsonFile(join(dir, 'metrics.json'), 'run metrics') as Record<string, unknown>) : null;
  const run: RunData = { dir, label, config, metrics, steps: [], evals: [], test: null, gradflow: [], pairs: [], deltas: [], other: {} };
  for (const r of readLog(join(dir, 'log.jsonl'))) {
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
        // the end-of-run test evaluation carries a `split` key (see tasks/train-run.ts)
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
          run.pairs.push({ step, layer: num(r.layer) ?? 0, mode: String(r.mode ?? 'h'), T: num(r.T) ?? pairs.length, norm: String(r.norm ?? 'frobenius'), pairs: pairs as number[][] });
        }
        break;
      }
      case 'deltas': {
        const norms = numArray(r.norms);
        if (step !== null && norms) run.deltas.push({ step, epoch: num(r.epoch), kind: String(r.kind ?? 'probe'), norms });
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

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** The sub-directories of `dir` that hold a run log, in name order. */
export function runSubdirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => isDir(join(dir, n)) && existsSync(join(dir, n, 'log.jsonl')))
    .sort();
}

/**
 * Read what `seqlab report DIR` can report on: a run directory (log.jsonl), a
 * comparison (compare.json), a sweep (sweep.json), or a directory of run directories.
 */
export function readSource(dir: string): ReportSource {
  if (!existsSync(dir)) throw inputError(`run directory not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw inputError(`${dir} is a file; seqlab report takes a run directory`);
  if (existsSync(join(dir, 'log.jsonl'))) return { kind: 'train', dir, runs: [readRun(dir)], summary: null };
  if (existsSync(join(dir, 'compare.json'))) {
    const summary = readJsonFile(join(dir, 'compare.json'), 'comparison') as Record<string, unknown>;
    const rows = Array.isArray(summary.rows) ? (summary.rows as Record<string, unknown>[]) : [];
    const sweep = new Set(rows.map((r) => r.seqLen)).size > 1;
    const runs = rows
      .map((r) => {
        const name = typeof r.runDir === 'string' ? basename(r.runDir) : sweep ? `${r.cell}-T${r.seqLen}` : String(r.cell);
        const label = sweep ? `${r.cell} T=${r.seqLen}` : String(r.cell);
        return existsSync(join(dir, name, 'log.jsonl')) ? readRun(join(dir, name), label) : null;
      })
      .filter((r): r is RunData => r !== null);
    return { kind: 'compare', dir, runs, summary };
  }
  if (existsSync(join(dir, 'sweep.json'))) {
    const summary = readJsonFile(join(dir, 'sweep.json'), 'sweep') as Record<string, unknown>;
    const listed = Array.isArray(summary.runs) ? (summary.runs as { name?: unknown; dir?: unknown }[]) : [];
    const runs = listed
      .filter((r) => typeof r.dir === 'string' && existsSync(join(dir, r.dir, 'log.jsonl')))
      .map((r) => readRun(join(dir, r.dir as string), String(r.name ?? r.dir)));
    return { kind: 'sweep', dir, runs, summary };
  }
  const subs = runSubdirs(dir);
  if (subs.length > 0) return { kind: 'group', dir, runs: subs.map((n) => readRun(join(dir, n))), summary: null };
  throw inputError(`${dir} is not a seqlab run directory (no log.jsonl, compare.json or sweep.json, and no run directories inside)`);
}
