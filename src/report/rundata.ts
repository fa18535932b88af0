import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SeqlabError, inputError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';
import { type LogRecord, type UnknownRecord, parseLog } from '../runlog/schema.js';
import { type RunData, runFromLog } from './runlog.js';

/**
 * What the report reads: run directories and the plain JSON a command wrote beside them
 * (compare.json, sweep.json). Nothing here imports the trainer: the log is read through its
 * schema (src/runlog/schema.ts), and records of kinds a newer seqlab added are counted, not read.
 */

/** A run, a comparison of runs, a sweep or any directory of runs. */
export interface ReportSource {
  kind: 'train' | 'compare' | 'sweep' | 'group';
  dir: string;
  runs: RunData[];
  /** compare.json / sweep.json, when there is one. */
  summary: Record<string, unknown> | null;
}

/** Parse log.jsonl; a torn last line (a run killed mid-write) is ignored, other bad lines are an input error. */
export function readLog(path: string): (LogRecord | UnknownRecord)[] {
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
    // several seeds: each run's label ends in seed=N, which the plots' seed groups leave out
    const seeds = Array.isArray(summary.seeds) && summary.seeds.length > 1;
    const runs = rows
      .map((r) => {
        const name =
          typeof r.runDir === 'string' ? basename(r.runDir) : sweep ? `${r.cell}-T${r.seqLen}` : String(r.cell);
        const label = `${sweep ? `${r.cell} T=${r.seqLen}` : String(r.cell)}${seeds ? ` seed=${r.seed}` : ''}`;
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
