import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SeqlabError, inputError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';
import { parseLog, runFromLog } from './runlog.js';

export { parseLog, runFromLog };

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

/** Parse log.jsonl; a torn last line (a run killed mid-write) is ignored, other bad lines are an input error. */
export function readLog(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseLog(text, path);
}

/** Read one run directory (config.json, log.jsonl, metrics.json when finished). */
export function readRun(dir: string, label = basename(dir)): RunData {
  if (!existsSync(join(dir, 'log.jsonl'))) throw inputError(`${dir} is not a seqlab run directory (no log.jsonl)`);
  const config = existsSync(join(dir, 'config.json'))
    ? (readJsonFile(join(dir, 'config.json'), 'run config') as Record<string, unknown>)
    : {};
  const metrics = existsSync(join(dir, 'metrics.json'))
    ? (readJsonFile(join(dir, 'metrics.json'), 'run metrics') as Record<string, unknown>)
    : null;
  return runFromLog(dir, label, config, metrics, readLog(join(dir, 'log.jsonl')));
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
        const name =
          typeof r.runDir === 'string' ? basename(r.runDir) : sweep ? `${r.cell}-T${r.seqLen}` : String(r.cell);
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
  throw inputError(
    `${dir} is not a seqlab run directory (no log.jsonl, compare.json or sweep.json, and no run directories inside)`,
  );
}
