import { type ModelConfig, type ModelOptions, SequenceModel, modelConfigFor } from '../models/model.js';
import { CELL_SPECS, gateCount } from '../models/registry.js';
import { RunDir } from '../runlog/rundir.js';
import { parseLog } from '../runlog/schema.js';
import { resolveThreads } from '../training/parallel.js';
import type { JacobianMode } from '../training/gradflow.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../training/config.js';
import { evaluate, probeGradientFlow } from '../training/measure.js';
import { checkResumeState, train, type Progress, type ResumeState, type TrainResult } from '../training/trainer.js';
import type { SequenceTask } from '../tasks/task.js';
import { readJsonFile, writeJsonAtomic } from '../util/files.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../training/checkpoint.js';
import { modelFromTorchFile } from '../training/torch-checkpoint.js';
import { type ErrorMessage, Interrupted, SeqlabError, inputError, usageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { stripUndefined } from '../util/objects.js';
import { createTask, type TaskOptions } from '../tasks/registry.js';
import { checkMemory, trainMemory, trainShapeBefore, trainShapeOf } from '../training/budget.js';
import { memoryLimits } from '../compute/memory.js';

export interface TrainRunOptions {
  task: string;
  taskOptions: Omit<TaskOptions, 'seed'>;
  model: Partial<ModelOptions>;
  train: Partial<TrainConfig>;
  /**
   * Tasks with epochs (lm): train this many passes; sets steps (a given train.steps caps them) and evalEvery to
   * one epoch unless given.
   */
  epochs?: number;
  /** Units of decayEvery/decayStart: optimizer steps, or epochs (tasks with epochs). Default steps. */
  decayUnit?: 'steps' | 'epochs';
  /**
   * Start from the weights of this safetensors file (PyTorch's names: an lm task's word_language_model
   * RNNModel, else nn.RNN/LSTM/GRU's and head.weight/head.bias) instead of the seeded initializer, e.g.
   * PyTorch's model before training, to compare the two trainers step for step. Shapes must match.
   */
  initFrom?: string;
  /** Run directory; none = nothing written. */
  out?: string;
  overwrite?: boolean;
  backend: string;
  onProgress?: (p: Progress) => void;
  /** After training, log ‖∂h_t/∂h_k‖ for every pair k < t (the report's heat map) when it is cheap enough. */
  pairs?: boolean;
  /** Stop cleanly once aborted: a resumable checkpoint, then Interrupted (TrainOptions.signal). */
  signal?: AbortSignal;
}

export interface TrainRunResult {
  runDir: string | null;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
  result: TrainResult;
}

/**
 * `seqlab train`: resolve the config, build task and model from the seed, train,
 * and write the run directory (config.json, log.jsonl, metrics.json, checkpoint.json).
 * metrics.json holds no timings, so the same seed on the same backend gives the same file.
 */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  const { task, taskOptions, modelConfig, trainConfig } = prepareTrainRun(opts);
  const runDir = opts.out ? RunDir.create(opts.out, opts.overwrite) : undefined;
  const model =
    opts.initFrom === undefined
      ? SequenceModel.random(modelConfig, new Rng(`${trainConfig.seed}/init`))
      : modelFromTorchFile(opts.initFrom, modelConfig);
  // taskName + taskOptions rebuild the same task on --resume
  const config = {
    backend: opts.backend,
    task: task.describe(),
    model: modelConfig,
    train: trainConfig,
    params: model.numParams(),
    taskName: opts.task,
    taskOptions,
    ...(opts.initFrom === undefined ? {} : { initFrom: opts.initFrom }),
  };
  runDir?.writeJson('config.json', config);
  runDir?.log({ type: 'start', backend: opts.backend, params: model.numParams() });
  return runAndReport({
    task,
    model,
    trainConfig,
    runDir,
    config,
    backend: opts.backend,
    onProgress: opts.onProgress,
    pairs: opts.pairs,
    signal: opts.signal,
  });
}

/**
 * A synthetic task's data grows with its length and evaluation set: check that lower bound before
 * the task builds it (its data is the first large allocation).
 */
function checkBeforeTask(
  model: Readonly<ModelConfig>,
  train: Readonly<TrainConfig>,
  { taskOptions, backend }: { taskOptions: Partial<TaskOptions>; backend: string },
): void {
  const { seqLen, evalSize } = taskOptions;
  if (typeof seqLen !== 'number' && typeof evalSize !== 'number') return;
  const shape = trainShapeBefore(model, train, typeof seqLen === 'number' ? seqLen : 1, Number(evalSize ?? 0));
  checkMemory('train', trainMemory(shape), memoryLimits(backend));
}

/** What trainRun resolves before it writes anything or makes a model. */
export interface PreparedTrainRun {
  task: SequenceTask;
  taskOptions: TaskOptions;
  modelConfig: Readonly<ModelConfig>;
  trainConfig: Readonly<TrainConfig>;
}

/**
 * Resolve and check a run: options, the task and its data, the model's config, the size check
 * (budget.ts). Writes nothing and allocates no tensors: every mistake in `opts` surfaces here.
 */
export function prepareTrainRun(opts: Omit<TrainRunOptions, 'onProgress' | 'signal'>): PreparedTrainRun {
  // stripUndefined: an option passed as undefined keeps its default instead of erasing it
  const given = stripUndefined(opts.train);
  const seed = given.seed ?? TRAIN_DEFAULTS.seed;
  const taskOptions: TaskOptions = {
    ...opts.taskOptions,
    lm: { ...opts.taskOptions.lm, ...(given.batchSize !== undefined ? { batchSize: given.batchSize } : {}) },
    seed,
  };
  const limits = memoryLimits(opts.backend);
  // the model's sizes on one input and one output: a lower bound (the data's widths come with the task)
  const lowerBound = modelConfigFor(
    { inputSize: 1, outputSize: 1 },
    { ...opts.model, embedSize: null, tieWeights: false },
  );
  checkBeforeTask(lowerBound, { ...TRAIN_DEFAULTS, ...given }, opts);
  const task = createTask(opts.task, taskOptions);
  const perEpoch = task.stepsPerEpoch;
  if (opts.epochs !== undefined && perEpoch === undefined)
    throw usageError(
      (field) => `${field('epochs')} applies to tasks with epochs (lm), not ${opts.task}; use ${field('steps')}`,
    );
  const byEpochs =
    opts.epochs !== undefined && perEpoch !== undefined
      ? { steps: Math.min(opts.epochs * perEpoch, given.steps ?? Infinity), evalEvery: given.evalEvery ?? perEpoch }
      : perEpoch !== undefined && given.evalEvery === undefined
        ? { evalEvery: perEpoch }
        : {};
  // an LM's batch is its stream count, fixed by the task
  const fixedBatch = task.fixedBatchSize;
  if (opts.decayUnit === 'epochs' && perEpoch === undefined)
    throw usageError((field) => `${field('decayUnit')} epochs applies to tasks with epochs (lm), not ${opts.task}`);
  const inEpochs =
    opts.decayUnit === 'epochs' && perEpoch !== undefined
      ? { decayEvery: (given.decayEvery ?? 1) * perEpoch, decayStart: (given.decayStart ?? 0) * perEpoch }
      : {};
  const baseConfig: TrainConfig = Object.freeze({
    ...TRAIN_DEFAULTS,
    ...given,
    ...byEpochs,
    ...inEpochs,
    ...(fixedBatch !== undefined ? { batchSize: fixedBatch } : {}),
  });
  const modelConfig = modelConfigFor(task, opts.model);
  // resolved here, so config.json (and a resumed run) records the thread count that ran
  const trainConfig: Readonly<TrainConfig> = Object.freeze({
    ...baseConfig,
    threads: resolveThreads(baseConfig.threads, modelConfig, baseConfig.batchSize),
  });
  // before the model, its optimizer and the run directory exist (budget.ts)
  checkMemory(
    'train',
    trainMemory(trainShapeOf(task, modelConfig, trainConfig, trainConfig.threads as number, Boolean(opts.out))),
    limits,
  );
  return { task, taskOptions, modelConfig, trainConfig };
}

interface RunContext {
  task: SequenceTask;
  model: SequenceModel;
  trainConfig: Readonly<TrainConfig>;
  runDir: RunDir | undefined;
  config: Record<string, unknown>;
  backend: string;
  onProgress?: (p: Progress) => void;
  resume?: ResumeState;
  pairs?: boolean;
  signal?: AbortSignal;
}

/** Train, evaluate the test set if the task has one, write metrics.json. Disposes the model. */
async function runAndReport(ctx: RunContext): Promise<TrainRunResult> {
  const { task, model, trainConfig, runDir } = ctx;
  const modelConfig = model.config;
  try {
    const result = await train(model, task, trainConfig, {
      runDir,
      onProgress: ctx.onProgress,
      checkpointExtra: task.checkpointExtra?.bind(task),
      resume: ctx.resume,
      signal: ctx.signal,
    });
    const test = task.testBatches ? await evaluate(model, task, task.testBatches()) : null;
    if (test) runDir?.log({ type: 'test', step: result.steps, loss: test.loss, metrics: test.metrics });
    if (ctx.pairs && runDir && trainConfig.gradflowEvery > 0)
      await logPairs(model, task, trainConfig.gradflowMode, runDir, result.steps);
    const last = result.gradflow.filter((g) => g.layer === modelConfig.numLayers - 1).at(-1) ?? null;
    const metrics = {
      task: task.name,
      cell: modelConfig.cell,
      backend: ctx.backend,
      status: result.status,
      steps: result.steps,
      params: model.numParams(),
      eval: result.finalEval,
      best: result.bestEval,
      ...(test ? { test } : {}),
      // restoreBest: the test set was scored with these weights
      ...(trainConfig.restoreBest ? { weightsStep: result.weightsStep } : {}),
      gradflow: last,
    };
    runDir?.writeJson('metrics.json', metrics);
    return { runDir: runDir?.path ?? null, config: ctx.config, metrics, result };
  } catch (e) {
    // stopped: no metrics.json (a sweep counts a run with one as finished); say how to go on
    if (e instanceof Interrupted && runDir && e.saved)
      throw new Interrupted(e.signal, `${e.message}; continue with: seqlab train --resume ${runDir.path}`, e.saved);
    if (e instanceof SeqlabError && e.code === 'diverged') {
      runDir?.writeJson('metrics.json', {
        task: task.name,
        cell: modelConfig.cell,
        backend: ctx.backend,
        status: 'diverged',
        error: e.message,
      });
    }
    throw e;
  } finally {
    model.dispose();
  }
}

/** Multiply-adds the heat map may cost; past this (long sequences, wide layers) it is left out. */
const PAIRS_BUDGET_FLOPS = 2.5e10;

/**
 * Log ‖∂h_t/∂h_k‖ (Frobenius, probe-batch mean) for every k < t ≤ T of the top layer:
 * T(T+1)/2 pullbacks, each a [B·R, gates·H]·[gates·H, H] product, so only when that is cheap.
 */
async function logPairs(
  model: SequenceModel,
  task: SequenceTask,
  mode: JacobianMode,
  runDir: RunDir,
  step: number,
): Promise<void> {
  const probe = task.probeBatch();
  const { cell, hiddenSize: H } = model.config;
  const rows = mode === 'state' ? CELL_SPECS[cell].states.length * H : H;
  const flops = ((probe.seqLen * (probe.seqLen + 1)) / 2) * 2 * probe.batchSize * rows * gateCount(cell) * H * H;
  if (probe.seqLen > 64 || flops > PAIRS_BUDGET_FLOPS) return;
  const [rec] = await probeGradientFlow(model, task, probe, mode, false, true);
  if (!rec?.pairs) return;
  runDir.log({ type: 'pairs', step, layer: rec.layer, mode: rec.mode, T: rec.T, norm: 'frobenius', pairs: rec.pairs });
}

/** A run directory that stopped (or was killed) with a checkpoint to continue from and no metrics.json yet. */
export function isResumableRun(dir: string): boolean {
  const checkpoint = join(dir, 'checkpoint.json');
  if (!existsSync(checkpoint) || !existsSync(join(dir, 'config.json')) || existsSync(join(dir, 'metrics.json')))
    return false;
  try {
    return (readJsonFile(checkpoint, 'checkpoint') as { resume?: unknown }).resume !== undefined;
  } catch {
    return false; // unreadable: the run is trained again
  }
}

/**
 * `seqlab train --resume DIR`: continue the run in DIR from its checkpoint, with the
 * configuration it was started with, appending to its log. The same seed and backend give
 * the same final metrics as a run that was never interrupted.
 */
export async function resumeRun(
  dir: string,
  backend: string,
  onProgress?: (p: Progress) => void,
  length: { steps?: number; epochs?: number } = {},
  signal?: AbortSignal,
): Promise<TrainRunResult> {
  const prepared = prepareResume(dir, length);
  const { model, resume, task, trainConfig } = prepared;
  const config = prepared.newLength ? { ...prepared.config, train: trainConfig } : prepared.config;
  if (prepared.newLength) writeJsonAtomic(join(dir, 'config.json'), config);
  const runDir = RunDir.open(dir);
  runDir.log({ type: 'start', backend, params: model.numParams() });
  return runAndReport({ task, model, trainConfig, runDir, config, backend, onProgress, resume, signal });
}

/**
 * Read and check everything --resume needs from DIR (config.json, checkpoint.json and its resume
 * record, the task it names) without writing. The model holds the checkpoint's weights; the caller
 * disposes it. `newLength`: the run gets a new total length (config.json is to be rewritten).
 */
export function prepareResume(dir: string, length: { steps?: number; epochs?: number } = {}) {
  const config = readJsonFile(join(dir, 'config.json'), 'run config') as Record<string, unknown>;
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof config.taskName !== 'string' ||
    typeof config.train !== 'object' ||
    config.train === null ||
    typeof config.taskOptions !== 'object' ||
    config.taskOptions === null
  ) {
    throw inputError(`${dir}/config.json is not a resumable seqlab run config (no taskName/taskOptions/train)`);
  }
  // the log it will grow must be one (a damaged one would fail the report at the end, after the training)
  const logPath = join(dir, 'log.jsonl');
  if (!existsSync(logPath)) throw inputError(`${dir} is not a seqlab run directory (no log.jsonl)`);
  parseLog(readFileSync(logPath, 'utf8'), logPath);
  const ck = loadCheckpoint(dir);
  try {
    if (ck.doc.resume === undefined)
      throw inputError(
        `${ck.path} has no resume record (it was written mid-batch or by an older seqlab); start a new run`,
      );
    const sizes = Object.fromEntries(Object.entries(ck.model.variables()).map(([k, v]) => [k, v.size]));
    const resume = checkResumeState(ck.doc.resume, ck.path, sizes);
    const saved = { ...TRAIN_DEFAULTS, ...(config.train as Partial<TrainConfig>) };
    checkBeforeTask(ck.model.config, saved, { taskOptions: config.taskOptions as TaskOptions, backend: '' });
    const task = createTask(config.taskName, config.taskOptions as TaskOptions);
    const fingerprint = task.vocabFingerprint;
    if (ck.vocabulary && fingerprint !== undefined && ck.vocabulary.fingerprint !== fingerprint) {
      throw inputError(
        `${ck.path} was trained with another vocabulary (fingerprint ${ck.vocabulary.fingerprint}, ` +
          `the corpus now gives ${fingerprint})`,
      );
    }
    if (!Number.isInteger(saved.steps) || saved.steps < 0)
      throw inputError(`${dir}/config.json: train.steps must be a non-negative integer`);
    // a new total length (e.g. stop an LM run after fewer epochs than planned, or go on longer)
    const perEpoch = task.stepsPerEpoch;
    const steps =
      length.epochs !== undefined && perEpoch !== undefined ? length.epochs * perEpoch : (length.steps ?? saved.steps);
    const bad: ErrorMessage | null =
      length.epochs !== undefined && perEpoch === undefined
        ? (field) =>
            `${field('epochs')} applies to tasks with epochs (lm), not ${config.taskName}; use ${field('steps')}`
        : steps < resume.step
          ? `the checkpoint is at step ${resume.step}; a resumed run cannot end before it (asked for ${steps} steps)`
          : null;
    if (bad) throw usageError(bad);
    const trainConfig: Readonly<TrainConfig> = Object.freeze({ ...saved, steps });
    return { config, model: ck.model, resume, task, trainConfig, newLength: steps !== saved.steps };
  } catch (e) {
    ck.model.dispose();
    throw e;
  }
}
