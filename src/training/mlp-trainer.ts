import type { Mlp } from '../models/mlp.js';
import { SeqlabError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { ArrayOptimizer, clipScale, globalNormArrays } from './optim-array.js';
import {
  OPTIMIZER_DEFAULTS,
  PlateauTracker,
  SCHEDULE_DEFAULTS,
  stepDecayLr,
  type OptimizerConfig,
  type ScheduleConfig,
} from './optim.js';
import type { RunDir } from '../runlog/rundir.js';
import { writeMlpCheckpoint } from './checkpoint.js';
import type { Progress } from './trainer.js';

/**
 * The trainer's loop for feed-forward networks, epoch by epoch as Nielsen's
 * network2.SGD: shuffle → for each mini-batch: lr (schedule) → forward/backward →
 * clip → update (the optimizers of optim.ts, on arrays) → log; after each epoch:
 * validate, Nielsen's gradient-flow measurement, checkpoint, plateau/early stopping.
 * Records, run directory and progress are the sequence trainer's (trainer.ts).
 *
 * Gradient flow, the MLP's counterpart of ‖∂h_T/∂h_k‖:
 * - "probe": Nielsen's measurement (ch. 5, generate_gradient.py): δˡ of each of the first
 *   `probeSize` training examples, averaged element-wise, then ‖·‖ per hidden layer;
 *   at initialization and after every epoch. (The mean of per-example δˡ is ∂C/∂bˡ of
 *   the mean cost over those examples, so it is one batched backward pass.)
 * - "batch": ‖∂C/∂bˡ‖ of each training mini-batch, averaged over `gradflowEvery` steps.
 */
export interface MlpTrainConfig extends Omit<OptimizerConfig, 'weightDecay'>, ScheduleConfig {
  /** Passes over the training set. Default 30. */
  epochs: number;
  /** Examples per mini-batch. Default 10. */
  batchSize: number;
  /** L2 as Nielsen writes it: C + λ/(2n) Σ w² over the weights (n = training examples), i.e. w ← (1 − ηλ/n) w − η∇C. Default 0. */
  lambda: number;
  /** Clip gradients to this global L2 norm; null = off. Default null (Nielsen clips nothing). */
  clipNorm: number | null;
  /** Stop after this many epochs without a better validation score (accuracy, else loss); 0 = never. Default 0. */
  earlyStop: number;
  /** Log the mean mini-batch ‖δˡ‖ every N steps; 0 = off. Default 500. */
  gradflowEvery: number;
  /** Nielsen's measurement on the first N training examples at init and after each epoch; 0 = off. Default 1000. */
  probeSize: number;
  /** A `step` record (mean loss since the last one) every N steps. Default 100. */
  logEvery: number;
  /** Seed of the data order (the weights are seeded by the caller). Default 1. */
  seed: number;
}

export const MLP_TRAIN_DEFAULTS: Readonly<MlpTrainConfig> = {
  ...(({ weightDecay: _, ...rest }) => rest)(OPTIMIZER_DEFAULTS),
  ...SCHEDULE_DEFAULTS,
  optimizer: 'sgd',
  lr: 0.1,
  epochs: 30,
  batchSize: 10,
  lambda: 0,
  clipNorm: null,
  earlyStop: 0,
  gradflowEvery: 500,
  probeSize: 1000,
  logEvery: 100,
  seed: 1,
};

/** A labelled set the MLP trainer can draw mini-batches from. */
export interface Examples {
  count: number;
  inputSize: number;
  outputSize: number;
  /** Write examples idx[0..m) into x [m, inputSize] and targets y [m, outputSize]. */
  fill(idx: ArrayLike<number>, x: Float64Array, y: Float64Array): void;
  /** How accuracy is scored: argmax of the outputs against the target's (classes), a 0.5 threshold (one output), or not at all. */
  scoring: 'argmax' | 'threshold' | 'none';
}

/** Examples from plain arrays: inputs [count, inputSize], targets [count, outputSize]. */
export function arrayExamples(
  inputs: ArrayLike<number>,
  targets: ArrayLike<number>,
  inputSize: number,
  outputSize: number,
  scoring: Examples['scoring'],
): Examples {
  const count = inputs.length / inputSize;
  if (!Number.isInteger(count) || targets.length !== count * outputSize)
    throw new Error(
      `examples: ${inputs.length} inputs / ${targets.length} targets do not make [${inputSize}] → [${outputSize}] pairs`,
    );
  return {
    count,
    inputSize,
    outputSize,
    scoring,
    fill(idx, x, y) {
      for (let b = 0; b < idx.length; b++) {
        const i = idx[b];
        for (let k = 0; k < inputSize; k++) x[b * inputSize + k] = inputs[i * inputSize + k];
        for (let k = 0; k < outputSize; k++) y[b * outputSize + k] = targets[i * outputSize + k];
      }
    },
  };
}

/** The first n examples of a set. */
export function firstExamples(set: Examples, n: number): Examples {
  return { ...set, count: Math.min(n, set.count), fill: set.fill.bind(set) };
}

export interface MlpEval {
  loss: number;
  /** Fraction correct, or null when the set is not scored. */
  accuracy: number | null;
}

/** Mean cost and accuracy over a set (batch-norm layers use their running averages). */
export function evaluateMlp(net: Mlp, set: Examples, chunk = 1000): MlpEval {
  const { inputSize: I, outputSize: O } = set;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < set.count; start += chunk) {
    const m = Math.min(chunk, set.count - start);
    const idx = Int32Array.from({ length: m }, (_, b) => start + b);
    const x = new Float64Array(m * I);
    const y = new Float64Array(m * O);
    set.fill(idx, x, y);
    const out = net.forward(x, m);
    lossSum += net.costSum(y, m);
    for (let b = 0; b < m; b++) correct += isCorrect(out, y, b, O, set.scoring) ? 1 : 0;
  }
  return {
    loss: lossSum / Math.max(set.count, 1),
    accuracy: set.scoring === 'none' ? null : correct / Math.max(set.count, 1),
  };
}

function isCorrect(out: Float64Array, y: Float64Array, b: number, n: number, scoring: Examples['scoring']): boolean {
  if (scoring === 'threshold') return out[b] > 0.5 === y[b] > 0.5;
  let best = 0;
  let target = 0;
  for (let j = 1; j < n; j++) {
    if (out[b * n + j] > out[b * n + best]) best = j;
    if (y[b * n + j] > y[b * n + target]) target = j;
  }
  return best === target;
}

/**
 * Nielsen's measurement: ‖δˡ‖ per hidden layer, δˡ averaged element-wise over `set`
 * (one batch; batch-norm layers use its statistics without touching the running ones).
 */
export function probeDeltaNorms(net: Mlp, set: Examples): number[] {
  return probeDeltas(net, set).deltaNorms;
}

/** Nielsen's ‖mean δˡ‖ and the per-example √(mean ‖δˡ_x‖²) (Mlp.deltaRms) over `set`, in one pass. */
export function probeDeltas(net: Mlp, set: Examples): { deltaNorms: number[]; deltaRms: number[] } {
  const m = set.count;
  const x = new Float64Array(m * set.inputSize);
  const y = new Float64Array(m * set.outputSize);
  set.fill(
    Int32Array.from({ length: m }, (_, i) => i),
    x,
    y,
  );
  const deltaNorms = net.deltaNorms(net.lossAndGrads(x, y, m, { mode: 'batch' }).grads);
  return { deltaNorms, deltaRms: net.deltaRms() };
}

export interface MlpProbe {
  epoch: number;
  step: number;
  /** ‖δˡ‖ for the hidden layers l = 1..L−1. */
  deltaNorms: number[];
}

export interface MlpTrainResult {
  status: 'completed' | 'early-stopped';
  steps: number;
  epochs: number;
  /** Validation after each epoch. */
  evals: ({ epoch: number; step: number } & MlpEval)[];
  best: { epoch: number; step: number } & MlpEval;
  /** Nielsen's measurement at init (epoch 0) and after each epoch. */
  probes: MlpProbe[];
  /** Mean mini-batch ‖δˡ‖ over each gradflowEvery steps. */
  batchDeltaNorms: { step: number; deltaNorms: number[] }[];
  elapsedMs: number;
  gradflowMs: number;
  stepsPerSec: number;
}

export interface MlpTrainOptions {
  validation?: Examples;
  runDir?: RunDir;
  /** Write checkpoint.json after each epoch and at the end. Default true when runDir is set. */
  checkpoint?: boolean;
  onProgress?: (p: Progress & { epoch: number }) => void;
}

/** Train `net` on `train`; throws SeqlabError("diverged") on NaN/Inf, after logging it. */
export function trainMlp(
  net: Mlp,
  train: Examples,
  config: Readonly<MlpTrainConfig>,
  options: MlpTrainOptions = {},
): MlpTrainResult {
  const { runDir, onProgress } = options;
  const validation = options.validation ?? null;
  const saveCheckpoints = options.checkpoint ?? runDir !== undefined;
  if (train.inputSize !== net.inputSize || train.outputSize !== net.outputSize) {
    const [I, O] = [train.inputSize, train.outputSize];
    throw new SeqlabError(
      'usage',
      (field) =>
        `the network maps ${net.inputSize} → ${net.outputSize} but the data is ${I} → ${O}; ` +
        `use ${field('layers')} ${I},…,${O}`,
    );
  }
  const n = train.count;
  const B = Math.min(config.batchSize, n);
  const dataRng = new Rng(`${config.seed}/data`);
  const optimizer = new ArrayOptimizer({ ...config, weightDecay: config.lambda / n }, new Set(net.weightNames()));
  const plateau = new PlateauTracker();
  const probeSet = config.probeSize > 0 ? firstExamples(train, config.probeSize) : null;
  const stepsPerEpoch = Math.ceil(n / B);
  const totalSteps = config.epochs * stepsPerEpoch;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const x = new Float64Array(B * train.inputSize);
  const y = new Float64Array(B * train.outputSize);
  const hidden = net.numLayers - 1;
  const evals: MlpTrainResult['evals'] = [];
  const probes: MlpProbe[] = [];
  const batchDeltaNorms: MlpTrainResult['batchDeltaNorms'] = [];
  let best: MlpTrainResult['best'] | null = null;
  let gradflowMs = 0;
  let status: MlpTrainResult['status'] = 'completed';
  let step = 0;
  let epoch = 0;
  const started = performance.now();

  const diverge = (what: string, loss: number, gradNorm: number): never => {
    runDir?.log({ type: 'diverged', step, loss, gradNorm });
    const at = `${what} at step ${step} (epoch ${epoch + 1})`;
    throw new SeqlabError('diverged', (field) => `training diverged: ${at}; try a smaller ${field('lr')}`);
  };

  /** Nielsen's measurement after `done` epochs (0: at initialization). */
  const probe = (done: number) => {
    if (!probeSet) return;
    const t0 = performance.now();
    const deltaNorms = probeDeltaNorms(net, probeSet);
    gradflowMs += performance.now() - t0;
    probes.push({ epoch: done, step, deltaNorms });
    runDir?.log({ type: 'deltas', step, epoch: done, kind: 'probe', examples: probeSet.count, deltaNorms });
  };

  const checkpoint = (done: number) => {
    if (!saveCheckpoints || !runDir) return;
    if (!writeMlpCheckpoint(net, runDir, { step, epoch: done }, config, optimizer.snapshot()))
      diverge('weights became non-finite', Number.NaN, Number.NaN);
  };

  // running sums between log records
  let lossSum = 0;
  let lossCount = 0;
  let lastGradNorm = 0;
  const deltaSum = new Float64Array(hidden);
  let deltaCount = 0;

  probe(0);
  for (epoch = 0; epoch < config.epochs; epoch++) {
    dataRng.shuffle(order as unknown as number[]);
    for (let start = 0; start < n; start += B) {
      const m = Math.min(B, n - start);
      const idx = order.subarray(start, start + m);
      const xb = m === B ? x : x.subarray(0, m * train.inputSize);
      const yb = m === B ? y : y.subarray(0, m * train.outputSize);
      train.fill(idx, xb, yb);
      if (config.schedule === 'step') optimizer.lr = stepDecayLr(config.lr, step, config);
      const { cost, grads } = net.lossAndGrads(xb, yb, m);
      const gradNorm = globalNormArrays(grads);
      step++;
      if (!Number.isFinite(cost) || !Number.isFinite(gradNorm))
        diverge(Number.isFinite(cost) ? `gradient norm became ${gradNorm}` : `loss became ${cost}`, cost, gradNorm);
      if (config.gradflowEvery > 0) {
        const norms = net.deltaNorms(grads);
        for (let l = 0; l < hidden; l++) deltaSum[l] += norms[l];
        deltaCount++;
      }
      optimizer.apply(net.params, grads, clipScale(gradNorm, config.clipNorm));
      lossSum += cost;
      lossCount++;
      lastGradNorm = gradNorm;
      if (step % config.logEvery === 0) {
        runDir?.log({ type: 'step', step, loss: lossSum / lossCount, gradNorm: lastGradNorm, lr: optimizer.lr });
        onProgress?.({ step, steps: totalSteps, loss: lossSum / lossCount, lr: optimizer.lr, epoch });
        lossSum = 0;
        lossCount = 0;
      }
      if (config.gradflowEvery > 0 && step % config.gradflowEvery === 0) {
        const deltaNorms = Array.from(deltaSum, (s) => s / deltaCount);
        batchDeltaNorms.push({ step, deltaNorms });
        runDir?.log({ type: 'deltas', step, epoch: epoch + 1, kind: 'batch', steps: deltaCount, deltaNorms }); // epoch: the one in progress, from 1
        deltaSum.fill(0);
        deltaCount = 0;
      }
    }
    probe(epoch + 1);
    if (validation) {
      const ev = { epoch: epoch + 1, step, ...evaluateMlp(net, validation) };
      if (!Number.isFinite(ev.loss)) diverge(`validation loss became ${ev.loss}`, ev.loss, NaN);
      evals.push(ev);
      runDir?.log({ type: 'eval', step, loss: ev.loss, metrics: { epoch: epoch + 1, accuracy: ev.accuracy } });
      onProgress?.({ step, steps: totalSteps, loss: NaN, lr: optimizer.lr, evalLoss: ev.loss, epoch });
      // a better score: higher accuracy when there is one, else lower loss
      const improved = plateau.observe(ev.accuracy !== null ? -ev.accuracy : ev.loss, step);
      if (improved) best = ev;
      if (!improved && config.schedule === 'plateau' && plateau.sinceBest % config.patience === 0)
        optimizer.lr *= config.decayFactor;
    }
    checkpoint(epoch + 1);
    if (validation && config.earlyStop > 0 && plateau.sinceBest >= config.earlyStop) {
      epoch++;
      status = 'early-stopped';
      break;
    }
  }
  const elapsedMs = performance.now() - started;
  const stepsPerSec = step / (elapsedMs / 1000);
  runDir?.log({ type: 'end', step, status, elapsedMs, stepsPerSec, gradflowMs });
  return {
    status,
    steps: step,
    epochs: Math.min(epoch, config.epochs),
    evals,
    best: best ?? { epoch: 0, step: 0, loss: NaN, accuracy: null },
    probes,
    batchDeltaNorms,
    elapsedMs,
    gradflowMs,
    stepsPerSec,
  };
}
