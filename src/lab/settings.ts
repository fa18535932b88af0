import { COMPARE_AGREEMENT_DEFAULTS } from '../commands/compare-defaults.js';
import { CELL_KINDS, type CellKind, cellKindList } from '../models/registry.js';
import { INITS, type InitName } from '../models/init.js';
import { MODEL_DEFAULTS, type ModelOptions } from '../models/model.js';
import { AGREEMENT_DEFAULTS } from '../tasks/agreement/task.js';
import type { TaskOptions } from '../tasks/registry.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../training/config.js';
import type { JacobianMode } from '../training/gradflow.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';

/**
 * The lab's settings: what the form holds, their defaults (seqlab compare's default
 * experiment, shortened), their checks, and each cell's run as the options of the
 * library's trainRun. No DOM: the page, the worker and the tests share it.
 */

export const LAB_TASKS = ['agreement', 'adding', 'copy'] as const;
export type LabTask = (typeof LAB_TASKS)[number];

export interface LabSettings {
  /** Default "agreement" (number prediction), `seqlab compare`'s default task. */
  task: LabTask;
  /** Default: every registered kind. */
  cells: CellKind[];
  /** Default: compare's (32). */
  hiddenSize: number;
  /** agreement: the training distances [min, max] (words from subject to verb). Default: compare's, 8–16. */
  trainDistances: [number, number];
  /** agreement: the test distances. Default: compare's, 8, 12, …, 28. */
  testDistances: number[];
  /** adding, copy: the sequence length T; null = the task's own default. Default null. */
  seqLen: number | null;
  /** Default: the library's ("pytorch"). */
  init: InitName;
  /** Clip gradients to this global norm; null = off. Default: the library's (1). */
  clipNorm: number | null;
  /** Adam learning rate. Default: the library's (1e-3). */
  lr: number;
  /** Default 1. */
  seed: number;
  /** Default LAB_STEPS. */
  steps: number;
  /** Default: the library's (32). */
  batchSize: number;
  /** Validate every N steps. Default LAB_EVERY. */
  evalEvery: number;
  /** Probe ‖∂h_T/∂h_k‖ every N steps. Default LAB_EVERY. */
  gradflowEvery: number;
  /**
   * With the probe every N steps (the first probe on or after each multiple, isSpectrumDue): every
   * singular value of ∂h_T/∂h_k at up to 32 gaps and the 32 largest Lyapunov exponents; 0 = never.
   * Default LAB_SPECTRUM_EVERY.
   */
  spectrumEvery: number;
  /** LSTM Jacobians: "state" (s = [h; c], where the LSTM keeps its memory) or "h". Default: compare's ("state"). */
  gradflowMode: JacobianMode;
}

/**
 * The lab's own choices, where they differ from `seqlab compare`'s: 300 steps, not 500, and
 * evaluations and probes every 25 steps (the spectra too, LAB_SPECTRUM_EVERY), so curves move
 * while a student watches. On seed 1 the LSTM reaches accuracy 1.00 at every test distance by
 * step 250 and the GRU by step 225 (evaluated every 25 steps), while the RNN stays at chance; 300
 * keeps a margin of 50. A larger learning rate would be cheaper but tells another story: at 2e-3
 * the RNN learns a code whose sign flips with the distance (accuracy 0.2 at some distances, 0.8 at
 * others), at 1e-2 the LSTM does not learn at all.
 */
const LAB_STEPS = 300;
const LAB_EVERY = 25;
/**
 * The spectra with every probe (the library's default, 500, would give step 0 only), so the
 * spectrum panel moves with the gradient-flow chart. At the lab's sizes they are cheap: on the
 * agreement probe batch (8 sequences, T 30) at H 32, wasm in Node, they add about 35 ms of CPU to
 * an RNN's probe, 95 ms to an LSTM's (state mode: 64 singular values per gap) and 35 ms to a GRU's:
 * 0.17 s per probe of the three cells, 2.2 s over the default run's 13 probes, beside 24–30 s of
 * CPU for the whole run in Node (the (t, k) heat map's probes take 0.55 s per probe of the three).
 */
const LAB_SPECTRUM_EVERY = LAB_EVERY;

const COMPARE = COMPARE_AGREEMENT_DEFAULTS;

/** The page's defaults: `seqlab compare`'s default experiment, shortened (see LAB_STEPS). */
export const LAB_DEFAULTS: Readonly<LabSettings> = Object.freeze({
  task: 'agreement',
  cells: [...CELL_KINDS],
  hiddenSize: COMPARE.hiddenSize,
  trainDistances: [COMPARE.trainMinDistance, COMPARE.trainMaxDistance],
  testDistances: [...COMPARE.testDistances],
  seqLen: null,
  init: MODEL_DEFAULTS.init,
  clipNorm: TRAIN_DEFAULTS.clipNorm,
  lr: TRAIN_DEFAULTS.lr,
  seed: TRAIN_DEFAULTS.seed,
  steps: LAB_STEPS,
  batchSize: TRAIN_DEFAULTS.batchSize,
  evalEvery: LAB_EVERY,
  gradflowEvery: LAB_EVERY,
  spectrumEvery: LAB_SPECTRUM_EVERY,
  gradflowMode: COMPARE.gradflowMode,
} satisfies LabSettings);

/**
 * Data sizes of the page's tasks (the CLI's --train-size and --eval-size; for the agreement
 * probe --eval-size is per test distance). Agreement: the task's own training set, and
 * LAB_AGREEMENT_TEST_SIZE test sentences per distance, enough that chance (0.5) stays
 * within ±0.1 at every distance (2σ for 100 fair coins).
 */
export const LAB_DATA = Object.freeze({
  agreementTrainSize: AGREEMENT_DEFAULTS.trainSize,
  agreementTestSize: 100,
  syntheticEvalSize: 200,
});

/** The longest agreement distance and sequence length the page accepts (a page-sized model). */
const MAX_DISTANCE = 40;
const MAX_SEQ_LEN = 200;

/** The page's inputs checked: each mistake is a SeqlabError whose message the page shows inline. */
export function checkSettings(s: LabSettings): Readonly<LabSettings> {
  oneOf('task', s.task, LAB_TASKS);
  if (s.cells.length === 0) throw usageError(`choose at least one cell: ${cellKindList()}`);
  for (const c of s.cells) oneOf('cell', c, CELL_KINDS);
  if (new Set(s.cells).size !== s.cells.length) throw usageError(`a cell is listed twice: ${s.cells.join(',')}`);
  positiveInt('hidden size', s.hiddenSize);
  if (s.hiddenSize > 256) throw usageError(`hidden size ${s.hiddenSize} is too large for the page; use at most 256`);
  if (s.task === 'agreement') {
    const [lo, hi] = s.trainDistances;
    positiveInt('shortest training distance', lo);
    positiveInt('longest training distance', hi);
    if (lo > hi) throw usageError(`training distances ${lo}-${hi} are reversed; write them as MIN-MAX, e.g. 8-16`);
    if (s.testDistances.length === 0) throw usageError('list at least one test distance, e.g. 8,12,16');
    for (const d of s.testDistances) positiveInt('test distance', d);
    const longest = Math.max(hi, ...s.testDistances);
    if (longest > MAX_DISTANCE)
      throw usageError(`distance ${longest} is too long for the page; use at most ${MAX_DISTANCE}`);
  } else if (s.seqLen !== null) {
    positiveInt('sequence length', s.seqLen);
    if (s.seqLen > MAX_SEQ_LEN)
      throw usageError(`sequence length ${s.seqLen} is too long for the page; use at most ${MAX_SEQ_LEN}`);
    if (s.seqLen < 2) throw usageError(`the ${s.task} task needs a sequence length of at least 2`);
  }
  oneOf('initializer', s.init, INITS);
  if (s.clipNorm !== null) finiteNumber('clipping norm', s.clipNorm, 0, true);
  finiteNumber('learning rate', s.lr, 0, true);
  if (!Number.isInteger(s.seed)) throw usageError(`seed must be an integer, got ${s.seed}`);
  positiveInt('steps', s.steps);
  positiveInt('batch size', s.batchSize);
  positiveInt('eval every', s.evalEvery);
  positiveInt('probe every', s.gradflowEvery);
  nonNegativeInt('spectrum every', s.spectrumEvery);
  oneOf('LSTM Jacobian mode', s.gradflowMode, ['h', 'state'] as const);
  return Object.freeze({
    ...s,
    cells: [...s.cells],
    trainDistances: [...s.trainDistances] as [number, number],
    testDistances: [...s.testDistances],
  });
}

/** One cell of the lab as options of the library's trainRun (`seqlab train`): the same options, the same numbers. */
export interface LabRunSpec {
  task: LabTask;
  taskOptions: Omit<TaskOptions, 'seed'>;
  model: Partial<ModelOptions>;
  train: Partial<TrainConfig>;
}

export function labRunSpec(s: Readonly<LabSettings>, cell: CellKind): LabRunSpec {
  const taskOptions: Omit<TaskOptions, 'seed'> =
    s.task === 'agreement'
      ? {
          evalSize: LAB_DATA.agreementTestSize,
          agreement: {
            trainMinDistance: s.trainDistances[0],
            trainMaxDistance: s.trainDistances[1],
            testDistances: [...s.testDistances],
            trainSize: LAB_DATA.agreementTrainSize,
          },
        }
      : { ...(s.seqLen === null ? {} : { seqLen: s.seqLen }), evalSize: LAB_DATA.syntheticEvalSize };
  return {
    task: s.task,
    taskOptions,
    model: { cell, hiddenSize: s.hiddenSize, init: s.init },
    train: {
      steps: s.steps,
      batchSize: s.batchSize,
      lr: s.lr,
      clipNorm: s.clipNorm,
      evalEvery: s.evalEvery,
      gradflowEvery: s.gradflowEvery,
      spectrumEvery: s.spectrumEvery,
      gradflowMode: s.gradflowMode,
      seed: s.seed,
      threads: 1, // no worker_threads in a browser
    },
  };
}

/** A cell's train config as the trainer merges it. */
export function labTrainConfig(s: Readonly<LabSettings>, cell: CellKind): Readonly<TrainConfig> {
  return Object.freeze({ ...TRAIN_DEFAULTS, ...labRunSpec(s, cell).train });
}
