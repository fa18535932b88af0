import { join } from 'node:path';
import { CELL_KINDS, type CellKind, cellKindList } from '../models/registry.js';
import { type DataShape, type ModelOptions, countParams, modelConfigFor } from '../models/model.js';
import { prepareOutDir } from '../runlog/rundir.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../training/config.js';
import type { Progress, TrainResult } from '../training/trainer.js';
import { Interrupted, inputError, usageError } from '../util/errors.js';
import { readJsonFile, writeJsonAtomic } from '../util/files.js';
import { stripUndefined } from '../util/objects.js';
import { createTask, type TaskOptions } from '../tasks/registry.js';
import { checkMemory, trainMemory, trainShapeBefore, trainShapeOf } from '../training/budget.js';
import { resolveThreads } from '../training/parallel.js';
import { memoryLimits } from '../compute/memory.js';
import { groupBySeed, type SeedGroup } from '../report/aggregate.js';
import type { Cell } from '../report/sweep-table.js';
import { type TrainRunResult, isResumableRun, resumeRun, trainRun } from './train.js';

/**
 * `seqlab compare`: the same task, data, seed and schedule for several cells (and
 * optionally several sequence lengths), one run directory per (cell, length), and a
 * combined compare.json. With matchParams every cell gets the hidden size whose
 * parameter count is closest to the LSTM's at the requested size. With several seeds,
 * every (cell, length) trains once per seed, one after the other in this process, and the
 * result adds the aggregates over seeds per (cell, length): mean, sd and the t-interval of
 * each metric, steps to the target and the horizons as "reached by k of n" and a median.
 */
export interface CompareOptions {
  cells: CellKind[];
  task: string;
  taskOptions: Omit<TaskOptions, 'seed' | 'seqLen'>;
  /** Sequence lengths to sweep; [undefined] = the task's default. */
  seqLens: (number | undefined)[];
  model: Partial<Omit<ModelOptions, 'cell'>>;
  matchParams: boolean;
  train: Partial<TrainConfig>;
  /** Tasks with epochs (lm): passes over the training text, as trainRun's. */
  epochs?: number;
  /** Units of decayEvery/decayStart, as trainRun's. */
  decayUnit?: 'steps' | 'epochs';
  out?: string;
  overwrite?: boolean;
  /** Train every (cell, length) once per seed (each the whole of train.seed's role); default [train.seed]. */
  seeds?: number[];
  backend: string;
  /** Each run's progress; lengthCount and seedCount: how many lengths and seeds the comparison has. */
  onProgress?: (
    run: {
      cell: CellKind;
      seqLen?: number;
      seed: number;
      index: number;
      total: number;
      lengthCount: number;
      seedCount: number;
    },
    p: Progress,
  ) => void;
  /** Log each run's (t, k) Jacobian heat map at the end (see trainRun). Default false. */
  pairs?: boolean;
  /** Stop cleanly once aborted: the run in progress writes a resumable checkpoint (trainRun), then Interrupted. */
  signal?: AbortSignal;
}

export interface CompareRow {
  cell: CellKind;
  seqLen: number | null;
  seed: number;
  hiddenSize: number;
  params: number;
  status: string;
  steps: number;
  evalLoss: number;
  metrics: Record<string, number | null>;
  /** First evaluation step at which the task's target was reached, or null. */
  stepsToTarget: number | null;
  /** Gradient flow on the probe batch at the end of training, and before it started. */
  gradflow: { T: number; decayPerStep: number | null; horizon: number | null } | null;
  gradflowStart: { T: number; decayPerStep: number | null; horizon: number | null } | null;
  runDir: string | null;
  elapsedMs: number;
}

export interface CompareResult {
  backend: string;
  task: string;
  target: { metric: string; goal: 'max' | 'min'; value: number } | null;
  matchParams: boolean;
  /** Jacobian mode of the gradient-flow columns (LSTM: "h" or "state"). */
  gradflowMode: 'h' | 'state';
  /** The seeds each (cell, length) trained with. */
  seeds: number[];
  /** One row per run: (length, cell, seed), seeds fastest. */
  rows: CompareRow[];
  /** With two or more seeds, per (cell, length) the aggregates over seeds (seedAggregates); else null. */
  aggregates: SeedGroup[] | null;
  outDir: string | null;
}

/** Parse "rnn,lstm,gru" into cells, each known, at least one, no repeats. */
export function parseCells(list: string): CellKind[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0)
    throw usageError((field) => `${field('cells')} is empty; use a comma-separated list of ${CELL_KINDS.join(', ')}`);
  for (const n of names) {
    if (!(CELL_KINDS as readonly string[]).includes(n))
      throw usageError((field) => `unknown cell "${n}" in ${field('cells')}; use ${cellKindList()}`);
  }
  if (new Set(names).size !== names.length)
    throw usageError((field) => `${field('cells')} lists a cell twice: ${list}`);
  return names as CellKind[];
}

/** The hidden size of `cell` whose parameter count (model `options` on `data`) is closest to `budget`. */
export function hiddenForBudget(
  cell: CellKind,
  budget: number,
  data: DataShape,
  options: Partial<ModelOptions>,
): number {
  const params = (hiddenSize: number) => countParams(modelConfigFor(data, { ...options, cell, hiddenSize }));
  let best = 1;
  for (let h = 1; params(h) <= 2 * budget; h++) {
    if (Math.abs(params(h) - budget) < Math.abs(params(best) - budget)) best = h;
  }
  return best;
}

function reached(result: TrainResult, target: CompareResult['target']): number | null {
  if (!target) return null;
  for (const e of result.evals) {
    const v = e.metrics[target.metric];
    if (v === null || v === undefined) continue;
    if (target.goal === 'max' ? v >= target.value : v <= target.value) return e.step;
  }
  return null;
}

/** What compare.json keeps of the options, so `--resume` can finish an interrupted comparison. */
type ComparePlan = Omit<CompareOptions, 'backend' | 'onProgress' | 'out' | 'overwrite' | 'signal'>;

const COMPARE_FILE = 'compare.json';

export async function compareRun(opts: CompareOptions): Promise<CompareResult> {
  const seeds = opts.seeds ?? [opts.train.seed ?? TRAIN_DEFAULTS.seed];
  if (seeds.length === 0) throw usageError((field) => `${field('seeds')} is empty; give at least one seed`);
  if (new Set(seeds).size !== seeds.length)
    throw usageError((field) => `${field('seeds')} lists a seed twice: ${seeds.join(', ')}`);
  if (opts.out) prepareOutDir(opts.out, opts.overwrite);
  return runComparison({ ...opts, seeds }, []);
}

/**
 * `seqlab compare --resume DIR`: finish a comparison that was stopped (Ctrl-C) or killed. Runs
 * listed in DIR/compare.json are kept; a run with a resumable checkpoint continues from it (the
 * same metrics, bit for bit, as never stopped); the others train from the start.
 */
export async function compareResume(
  dir: string,
  backend: string,
  onProgress?: CompareOptions['onProgress'],
  signal?: AbortSignal,
): Promise<CompareResult> {
  const path = join(dir, COMPARE_FILE);
  const doc = readJsonFile(path, 'comparison') as Record<string, unknown>;
  const plan = doc.plan as ComparePlan | undefined;
  if (!plan || typeof plan !== 'object' || !Array.isArray(plan.cells) || !Array.isArray(plan.seqLens))
    throw inputError(`${path} has no plan to resume (written by an older seqlab); start a new run`);
  const seeds = plan.seeds ?? [plan.train?.seed ?? TRAIN_DEFAULTS.seed];
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Number.isInteger(s)))
    throw inputError(`${path}: plan.seeds must list integer seeds; the file is damaged, start a new run`);
  const rows = Array.isArray(doc.rows) ? (doc.rows as CompareRow[]) : [];
  const seqLens = plan.seqLens.map((t) => (t === null ? undefined : t));
  return runComparison({ ...plan, seqLens, seeds, backend, onProgress, signal, out: dir, overwrite: true }, rows);
}

/** Every (length, cell, seed) run in order, after the `done` ones; compare.json is rewritten after each. */
async function runComparison(opts: CompareOptions & { seeds: number[] }, done: CompareRow[]): Promise<CompareResult> {
  const { seeds } = opts;
  checkSizes(opts);
  // one task instance just to learn its shapes and target (construction validates the options)
  const probeTask = createTask(opts.task, { ...opts.taskOptions, seqLen: opts.seqLens[0], seed: seeds[0] });
  const reference = modelConfigFor(probeTask, { ...opts.model, cell: 'lstm' });
  const { hiddenSize: hidden, numLayers: layers } = reference;
  const budget = countParams(reference);
  const hiddenOf = (cell: CellKind) =>
    opts.matchParams ? hiddenForBudget(cell, budget, probeTask, opts.model) : hidden;
  const limits = memoryLimits(opts.backend);
  const train = { ...TRAIN_DEFAULTS, ...stripUndefined(opts.train) };
  for (const cell of opts.cells) {
    const model = modelConfigFor(probeTask, { ...opts.model, cell, hiddenSize: hiddenOf(cell) });
    const threads = resolveThreads(train.threads, model, train.batchSize, opts.backend);
    checkMemory('compare', trainMemory(trainShapeOf(probeTask, model, train, threads, Boolean(opts.out))), limits);
  }
  const rows: CompareRow[] = [...done];
  const total = opts.cells.length * opts.seqLens.length * seeds.length;
  const plan: ComparePlan = {
    cells: opts.cells,
    task: opts.task,
    taskOptions: opts.taskOptions,
    seqLens: opts.seqLens,
    seeds,
    model: opts.model,
    matchParams: opts.matchParams,
    train: opts.train,
    epochs: opts.epochs,
    decayUnit: opts.decayUnit,
    pairs: opts.pairs,
  };
  const result = (completed: boolean): CompareResult => ({
    backend: opts.backend,
    task: opts.task,
    target: probeTask.target ?? null,
    matchParams: opts.matchParams,
    gradflowMode: opts.train.gradflowMode ?? TRAIN_DEFAULTS.gradflowMode,
    seeds,
    rows,
    aggregates: completed && seeds.length > 1 ? seedAggregates(rows, probeTask.target !== undefined) : null,
    outDir: opts.out ?? null,
  });
  const save = (status: 'running' | 'stopped' | 'completed') => {
    if (!opts.out) return;
    writeJsonAtomic(join(opts.out, COMPARE_FILE), {
      ...result(status === 'completed'),
      status,
      train: { ...TRAIN_DEFAULTS, ...opts.train },
      model: opts.model,
      taskOptions: opts.taskOptions,
      plan,
    });
  };
  const runName = (cell: CellKind, seqLen: number | null | undefined, runSeed: number) => {
    const base = opts.seqLens.length > 1 ? `${cell}-T${seqLen}` : cell;
    return seeds.length > 1 ? `${base}-seed${runSeed}` : base;
  };
  const counts = { total, lengthCount: opts.seqLens.length, seedCount: seeds.length };
  let index = 0;
  for (const seqLen of opts.seqLens) {
    for (const cell of opts.cells) {
      const hiddenSize = hiddenOf(cell);
      for (const runSeed of seeds) {
        if (index < done.length) {
          index++;
          continue;
        }
        const name = runName(cell, seqLen, runSeed);
        const out = opts.out ? join(opts.out, name) : undefined;
        const started = performance.now();
        const at = index;
        const onProgress = (p: Progress) => opts.onProgress?.({ cell, seqLen, seed: runSeed, index: at, ...counts }, p);
        save('running');
        let run: TrainRunResult;
        try {
          run =
            out && isResumableRun(out)
              ? await resumeRun(out, opts.backend, onProgress, {}, opts.signal)
              : await trainRun({
                  task: opts.task,
                  taskOptions: { ...opts.taskOptions, seqLen },
                  model: { ...opts.model, cell, hiddenSize },
                  train: { ...opts.train, seed: runSeed },
                  epochs: opts.epochs,
                  decayUnit: opts.decayUnit,
                  out,
                  overwrite: opts.overwrite,
                  backend: opts.backend,
                  pairs: opts.pairs,
                  onProgress,
                  signal: opts.signal,
                });
        } catch (e) {
          if (!(e instanceof Interrupted) || !opts.out) throw e;
          save('stopped');
          const finished = rows.map((r) => runName(r.cell, r.seqLen, r.seed));
          throw new Interrupted(
            e.signal,
            `compare stopped (${e.signal}) in run ${index + 1} of ${total} (${name})` +
              `${e.saved ? `, checkpoint written to ${e.saved}` : ''}; ` +
              `${finished.length > 0 ? `finished: ${finished.join(', ')}; ` : ''}` +
              `continue with: seqlab compare --resume ${opts.out}`,
            e.saved,
          );
        }
        const r = run.result;
        const top = r.gradflow.filter((x) => x.layer === layers - 1);
        const g = top.at(-1);
        const g0 = top[0];
        rows.push({
          cell,
          seqLen: seqLen ?? null,
          seed: runSeed,
          hiddenSize,
          params: run.metrics.params as number,
          status: r.status,
          steps: r.steps,
          evalLoss: r.finalEval.loss,
          metrics: r.finalEval.metrics,
          stepsToTarget: reached(r, probeTask.target ?? null),
          gradflow: g ? { T: g.T, decayPerStep: g.spectralDecayPerStep, horizon: g.spectralHorizon } : null,
          gradflowStart: g0 ? { T: g0.T, decayPerStep: g0.spectralDecayPerStep, horizon: g0.spectralHorizon } : null,
          runDir: run.runDir,
          elapsedMs: performance.now() - started,
        });
        index++;
      }
    }
  }
  save('completed');
  return result(true);
}

/**
 * The lower bound of every run's size before any task data exists (synthetic tasks grow with the
 * length asked for): a comparison is refused before its first run, not after its third.
 */
function checkSizes(opts: CompareOptions): void {
  const limits = memoryLimits(opts.backend);
  const train = { ...TRAIN_DEFAULTS, ...stripUndefined(opts.train) };
  for (const seqLen of opts.seqLens) {
    if (seqLen === undefined) continue;
    for (const cell of opts.cells) {
      const model = modelConfigFor({ inputSize: 1, outputSize: 1 }, { ...opts.model, cell });
      checkMemory('compare', trainMemory(trainShapeBefore(model, train, seqLen, 0)), limits);
    }
  }
}

/** A comparison's row as a flat record of numbers (the metrics under their own names, no breakdown counts). */
function flatRow(row: CompareRow): Record<string, Cell> {
  const metrics = Object.entries(row.metrics).filter(([k]) => !k.startsWith('n@'));
  return {
    cell: row.cell,
    seqLen: row.seqLen,
    hiddenSize: row.hiddenSize,
    params: row.params,
    seed: row.seed,
    steps: row.steps,
    loss: row.evalLoss,
    ...Object.fromEntries(metrics),
    stepsToTarget: row.stepsToTarget,
    horizon: row.gradflow?.horizon ?? null,
    T: row.gradflow?.T ?? null,
    decayPerStep: row.gradflow?.decayPerStep ?? null,
    horizonStart: row.gradflowStart?.horizon ?? null,
    TStart: row.gradflowStart?.T ?? null,
    decayPerStepStart: row.gradflowStart?.decayPerStep ?? null,
  };
}

/**
 * Per (cell, length), the aggregates over its seeds: the validation loss, every metric (breakdowns
 * too) and the decays per step as mean, sd and 95 % t-interval; steps to the target (when the task
 * has one) and the horizons at the end and before training as censored measures: a seed that never
 * reached the target, or whose Jacobian norms stay above the threshold within T, is "beyond".
 */
export function seedAggregates(rows: readonly CompareRow[], hasTarget: boolean): SeedGroup[] {
  const metricKeys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].filter((k) => !k.startsWith('n@'));
  return groupBySeed(rows.map(flatRow), {
    settings: ['cell', 'seqLen', 'hiddenSize', 'params'],
    metrics: ['loss', ...metricKeys, 'decayPerStep', 'decayPerStepStart'],
    censored: [
      ...(hasTarget ? [{ column: 'stepsToTarget', bound: 'steps' }] : []),
      { column: 'horizon', bound: 'T' },
      { column: 'horizonStart', bound: 'TStart' },
    ],
  });
}
