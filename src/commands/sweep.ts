import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { Interrupted, SIGNAL_EXIT_CODES, type StopSignal, inputError, oneLine, usageError } from '../util/errors.js';
import { ensureDir, systemIoError, writeJsonAtomic } from '../util/files.js';

/**
 * `seqlab sweep`: a grid of training runs. The grid is the cross product of the
 * values listed under `grid` (first key varies slowest), each merged over `base`.
 * Configuration i belongs to shard i mod n, so n independent jobs (a Slurm array,
 * a Kubernetes indexed Job) split a sweep with no coordination beyond a shared
 * directory. A configuration whose run directory holds metrics.json (written last,
 * atomically) is finished and skipped, so a killed sweep resumes where it stopped.
 *
 *   name: adding-lengths          # optional; default output runs/sweep-<file name>
 *   base: { task: adding, steps: 300, hidden: 16 }
 *   grid: { cell: [rnn, lstm], seq-len: [10, 20], seed: [1, 2] }
 */
export type Scalar = string | number | boolean;

export interface SweepSpec {
  name: string;
  /** Options every configuration gets, as `seqlab train` option names. */
  base: Record<string, Scalar>;
  /** Option → the values to try. */
  grid: Record<string, Scalar[]>;
  /** Output directory, when the file names one. */
  out: string | null;
}

export interface SweepRun {
  /** Position in the grid (shards and tables follow it). */
  index: number;
  /** "cell=lstm seq-len=20 seed=1". */
  name: string;
  /** Sub-directory of the sweep: "cell-lstm_seq-len-20_seed-1". */
  dir: string;
  /** The grid values of this configuration. */
  settings: Record<string, Scalar>;
  /** base + settings. */
  options: Record<string, Scalar>;
}

const isScalar = (v: unknown): v is Scalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** Read and check a sweep file (JSON, or YAML by its .yaml/.yml extension); every problem is one line. */
export function readSweepFile(path: string, defaultName: string): SweepSpec {
  if (!existsSync(path)) throw inputError(`sweep file not found: ${path}`);
  if (statSync(path).isDirectory()) throw inputError(`sweep file is a directory: ${path}`);
  const text = readFileSync(path, 'utf8');
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let doc: unknown;
  try {
    doc = yaml ? yamlValue(text) : JSON.parse(text);
  } catch (e) {
    throw inputError(`sweep file ${path} is not valid ${yaml ? 'YAML' : 'JSON'}: ${oneLine((e as Error).message)}`);
  }
  return checkSpec(doc, path, defaultName);
}

/** Configurations one sweep may hold: its grid is expanded in memory, and sweep.json lists every one. */
export const MAX_CONFIGURATIONS = 100_000;

/**
 * A YAML document's value; its first error or warning (an unknown tag, say) is thrown, so the
 * library never prints a warning of its own beside seqlab's one line.
 */
function yamlValue(text: string): unknown {
  const doc = parseDocument(text, { logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  return doc.toJS({ maxAliasCount: 100 });
}

export function checkSpec(doc: unknown, path: string, defaultName: string): SweepSpec {
  const bad = (msg: string) => inputError(`sweep file ${path}: ${msg}`);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw bad('must be an object with "grid" (and optionally "base", "name", "out")');
  const d = doc as Record<string, unknown>;
  const unknown = Object.keys(d).filter((k) => !['name', 'base', 'grid', 'out'].includes(k));
  if (unknown.length > 0) throw bad(`unknown key "${unknown[0]}"; use name, base, grid, out`);
  const base = d.base ?? {};
  if (typeof base !== 'object' || base === null || Array.isArray(base))
    throw bad('"base" must be an object of option: value');
  for (const [k, v] of Object.entries(base))
    if (!isScalar(v)) throw bad(`base.${k} must be a string, number or boolean`);
  const grid = d.grid;
  if (typeof grid !== 'object' || grid === null || Array.isArray(grid) || Object.keys(grid).length === 0)
    throw bad('"grid" must be an object of option: [values], with at least one option');
  const out: Record<string, Scalar[]> = {};
  for (const [k, v] of Object.entries(grid)) {
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0) throw bad(`grid.${k} is an empty list`);
    if (!values.every(isScalar)) throw bad(`grid.${k} must list strings, numbers or booleans`);
    if (new Set(values.map(String)).size !== values.length) throw bad(`grid.${k} lists a value twice`);
    if (k in base) throw bad(`"${k}" is in both base and grid`);
    out[k] = values;
  }
  const count = Object.values(out).reduce((n, v) => n * v.length, 1);
  if (count > MAX_CONFIGURATIONS)
    throw bad(`the grid has ${count} configurations, more than ${MAX_CONFIGURATIONS}; split it into several sweeps`);
  if (d.name !== undefined && (typeof d.name !== 'string' || !/^[\w.-]+$/.test(d.name)))
    throw bad('"name" must be letters, digits, ".", "_" or "-"');
  if (d.out !== undefined && typeof d.out !== 'string') throw bad('"out" must be a path');
  return {
    name: (d.name as string | undefined) ?? defaultName,
    base: base as Record<string, Scalar>,
    grid: out,
    out: (d.out as string | undefined) ?? null,
  };
}

/** Every configuration of the grid, first key slowest. */
export function expandGrid(spec: SweepSpec): SweepRun[] {
  const keys = Object.keys(spec.grid);
  let combos: Record<string, Scalar>[] = [{}];
  for (const k of keys) combos = combos.flatMap((c) => spec.grid[k].map((v) => ({ ...c, [k]: v })));
  return combos.map((settings, index) => ({
    index,
    name: keys.map((k) => `${k}=${settings[k]}`).join(' '),
    dir: keys.map((k) => `${k}-${String(settings[k]).replace(/[^\w.+-]+/g, '_')}`).join('_'),
    settings,
    options: { ...spec.base, ...settings },
  }));
}

export interface Shard {
  index: number;
  count: number;
}

/** "i/n" with 0 ≤ i < n. */
export function parseShard(value: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) throw usageError((field) => `${field('shard')} must be i/n (e.g. 0/4), got ${JSON.stringify(value)}`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1) throw usageError((field) => `${field('shard')} ${value}: n must be at least 1`);
  if (index >= count)
    throw usageError((field) => `${field('shard')} ${value}: i must be below n (shards are numbered 0 … ${count - 1})`);
  return { index, count };
}

/** The configurations of one shard: every n-th, starting at i. */
export function shardRuns(runs: SweepRun[], shard: Shard | null): SweepRun[] {
  return shard ? runs.filter((r) => r.index % shard.count === shard.index) : runs;
}

/** A run is finished when its metrics.json exists: the trainer writes it last. */
export function isFinished(out: string, run: SweepRun): boolean {
  return existsSync(join(out, run.dir, 'metrics.json'));
}

/** sweep.json: what every shard and --collect agree on (the same file whichever shard writes it). */
export function writeSweepJson(out: string, spec: SweepSpec, runs: SweepRun[]): void {
  writeJsonAtomic(join(out, 'sweep.json'), {
    format: 'seqlab-sweep/1',
    name: spec.name,
    base: spec.base,
    grid: spec.grid,
    runs: runs.map((r) => ({ name: r.name, dir: r.dir, settings: r.settings })),
  });
}

export interface SweepEvent {
  /** stopped: the run saved a checkpoint and exited on the signal the sweep passed on. */
  kind: 'start' | 'done' | 'failed' | 'stopped';
  run: SweepRun;
  /** Runs finished or failed so far, and the total this call runs. */
  done: number;
  total: number;
  elapsedMs?: number;
  /** The last line the failed run printed on stderr. */
  message?: string;
}

export interface SweepRunOptions {
  out: string;
  runs: SweepRun[];
  workers: number;
  /** The command line of one configuration: [executable, ...args]. */
  command: (run: SweepRun) => string[];
  onEvent?: (e: SweepEvent) => void;
  /** A stop signal arrived (`first`: the children were asked to stop cleanly; else: the sweep exits now). */
  onSignal?: (signal: StopSignal, running: number, first: boolean) => void;
}

export interface SweepRunResult {
  ran: string[];
  failed: { name: string; message: string }[];
  /** Runs stopped by a signal with a checkpoint to resume from. */
  stopped: string[];
  elapsedMs: number;
}

/**
 * Run `runs` in up to `workers` child processes at a time (one process per configuration: a
 * crash or divergence stays in its run). Each child's output goes to <out>/logs/<dir>.log.
 * The children run in their own process group, so Ctrl-C reaches the sweep alone, which passes
 * it on once: the first SIGINT/SIGTERM starts nothing new and asks the running children to stop
 * cleanly (each writes a checkpoint; the next call resumes it), then rejects with Interrupted;
 * the second passes the signal on again (the children then exit at once) and exits.
 */
export async function runConfigs(opts: SweepRunOptions): Promise<SweepRunResult> {
  const started = performance.now();
  ensureDir(join(opts.out, 'logs'));
  const queue = [...opts.runs];
  const children = new Set<ChildProcess>();
  const result: SweepRunResult = { ran: [], failed: [], stopped: [], elapsedMs: 0 };
  let done = 0;
  let stopping: StopSignal | null = null;
  const stop = (signal: StopSignal) => {
    for (const c of children) c.kill(signal);
    opts.onSignal?.(signal, children.size, stopping === null);
    if (stopping) process.exit(SIGNAL_EXIT_CODES[signal]);
    stopping = signal;
    queue.length = 0;
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const runOne = (run: SweepRun) =>
    new Promise<void>((resolve) => {
      const [exe, ...args] = opts.command(run);
      const t0 = performance.now();
      opts.onEvent?.({ kind: 'start', run, done, total: opts.runs.length });
      const logPath = join(opts.out, 'logs', `${run.dir}.log`);
      const log = createWriteStream(logPath);
      let logError: Error | null = null;
      log.on('error', (e) => {
        logError ??= e;
      });
      const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      children.add(child);
      let lastError = '';
      child.stdout?.pipe(log, { end: false });
      child.stderr?.on('data', (d: Buffer) => {
        log.write(d);
        const lines = d.toString('utf8').trim().split('\n');
        const last = lines.at(-1);
        if (last) lastError = last;
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
        children.delete(child);
        log.end();
        done++;
        const elapsedMs = performance.now() - t0;
        const total = opts.runs.length;
        const byStop = stopping !== null && (code === 130 || code === 143 || signal !== null);
        if (code === 0 && !logError) {
          result.ran.push(run.name);
          opts.onEvent?.({ kind: 'done', run, done, total, elapsedMs });
        } else if (byStop) {
          result.stopped.push(run.name);
          opts.onEvent?.({ kind: 'stopped', run, done, total, elapsedMs, message: lastError });
        } else {
          const message = logError
            ? (systemIoError(logError)?.message ?? `cannot write ${logPath}: ${logError.message}`)
            : (err?.message ?? (lastError || `exit code ${code}`));
          result.failed.push({ name: run.name, message });
          opts.onEvent?.({ kind: 'failed', run, done, total, elapsedMs, message });
        }
        resolve();
      };
      child.on('error', (e) => finish(null, null, e));
      child.on('close', (code, signal) => finish(code, signal));
    });
  const worker = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) await runOne(run);
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, opts.runs.length)) }, worker));
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
  if (stopping) {
    const signal: StopSignal = stopping;
    throw new Interrupted(
      signal,
      `sweep stopped (${signal}): ${result.stopped.length} run(s) stopped with a checkpoint, ` +
        `${result.ran.length} finished, ${opts.runs.length - done} not started; ` +
        `run the same command again to continue (logs in ${join(opts.out, 'logs')})`,
    );
  }
  result.elapsedMs = performance.now() - started;
  return result;
}
