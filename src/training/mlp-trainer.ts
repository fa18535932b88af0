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
  /**
   * L2 as Nielsen writes it: C + λ/(2n) Σ w² over the weights (n = training examples), i.e.
   * w ← (1 − ηλ/n) w − η∇C. Default 0.
   */
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
  /**
   * How accuracy is scored: argmax of the outputs against the target's (classes), a 0.5 threshold (one output),
   * or not at all.
   */
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
      `examples: ${inputs.length} inputs / ${targets.length} targets ` +
        `do not make [${inputSize}] → [${outputSize}] pairs`,
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

/**
 * Train `net` on `train`; throws SeqlabError("diverged") on NaN/Inf, after logging it. Each epoch
 * reads top to bottom: shuffle → for each mini-batch (schedule → forward/backward → δ sums →
 * update → log) → probe → evaluate → checkpoint → early stop; Nielsen's probe also runs once
 * before the first epoch.
 */
export function trainMlp(
  net: Mlp,
  train: Examples,
  config: Readonly<MlpTrainConfig>,
  options: MlpTrainOptions = {},
): MlpTrainResult {
  const { inputSize: I, outputSize: O } = train;
  if (I !== net.inputSize || O !== net.outputSize) {
    const [I, O] = [train.inputSize, train.outputSize];
    throw new SeqlabError(
      'usage',
      (field) =>
        `the network maps ${net.inputSize} → ${net.outputSize} but the data is ${I} → ${O}; ` +
        `use ${field('layers')} ${I},…,${O}`,
    );
  }
  const run = new MlpTrainingRun(net, train, config, options);
  run.probe(0);
  for (; run.epoch < config.epochs; run.epoch++) {
    for (const batch of run.batches()) {
      run.schedule();
      const { cost, grads, gradNorm } = run.forwardBackward(batch);
      run.sumDeltas(grads);
      run.update(grads, gradNorm);
      run.log(cost, gradNorm);
    }
    run.probe(run.epoch + 1);
    run.evaluate();
    run.checkpoint(run.epoch + 1);
    if (run.isEarlyStop()) {
      run.epoch++;
      break;
    }
  }
  return run.finish();
}

/** One MLP training run's state between the phases of trainMlp's loop. */
class MlpTrainingRun {
  step = 0;
  epoch = 0;
  private readonly B: number;
  private readonly dataRng: Rng;
  private readonly optimizer: ArrayOptimizer;
  private readonly plateau = new PlateauTracker();
  private readonly probeSet: Examples | null;
  private readonly totalSteps: number;
  private readonly order: Int32Array;
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  private readonly validation: Examples | null;
  private readonly evals: MlpTrainResult['evals'] = [];
  private readonly probes: MlpProbe[] = [];
  private readonly batchDeltaNorms: MlpTrainResult['batchDeltaNorms'] = [];
  private best: MlpTrainResult['best'] | null = null;
  private gradflowMs = 0;
  private status: MlpTrainResult['status'] = 'completed';
  private readonly started = performance.now();
  // running sums between log records
  private lossSum = 0;
  private lossCount = 0;
  private readonly deltaSum: Float64Array;
  private deltaCount = 0;

  constructor(
    private readonly net: Mlp,
    private readonly train: Examples,
    private readonly config: Readonly<MlpTrainConfig>,
    private readonly options: MlpTrainOptions,
  ) {
    const n = train.count;
    this.B = Math.min(config.batchSize, n);
    this.dataRng = new Rng(`${config.seed}/data`);
    // Nielsen's L2 term λ/(2n)Σw² as weight decay λ/n on the weights (not the biases)
    this.optimizer = new ArrayOptimizer({ ...config, weightDecay: config.lambda / n }, new Set(net.weightNames()));
    this.probeSet = config.probeSize > 0 ? firstExamples(train, config.probeSize) : null;
    this.totalSteps = config.epochs * Math.ceil(n / this.B);
    this.order = Int32Array.from({ length: n }, (_, i) => i);
    this.x = new Float64Array(this.B * train.inputSize);
    this.y = new Float64Array(this.B * train.outputSize);
    this.validation = options.validation ?? null;
    this.deltaSum = new Float64Array(net.numLayers - 1);
  }

  /** This epoch's mini-batches: a fresh shuffle, then m ≤ B examples at a time, filled into reused buffers. */
  *batches(): Generator<{ x: Float64Array; y: Float64Array; m: number }> {
    const { train, B, order, x, y } = this;
    const n = train.count;
    this.dataRng.shuffle(order as unknown as number[]);
    for (let start = 0; start < n; start += B) {
      const m = Math.min(B, n - start);
      const xb = m === B ? x : x.subarray(0, m * train.inputSize);
      const yb = m === B ? y : y.subarray(0, m * train.outputSize);
      train.fill(order.subarray(start, start + m), xb, yb);
      yield { x: xb, y: yb, m };
    }
  }

  schedule(): void {
    const { config } = this;
    if (config.schedule === 'step') this.optimizer.lr = stepDecayLr(config.lr, this.step, config);
  }

  /** Cost and gradients of one mini-batch; ends the run (diverged) on a non-finite cost or gradient norm. */
  forwardBackward(batch: { x: Float64Array; y: Float64Array; m: number }) {
    const { cost, grads } = this.net.lossAndGrads(batch.x, batch.y, batch.m);
    const gradNorm = globalNormArrays(grads);
    this.step++;
    if (!Number.isFinite(cost) || !Number.isFinite(gradNorm))
      this.diverge(Number.isFinite(cost) ? `gradient norm became ${gradNorm}` : `loss became ${cost}`, cost, gradNorm);
    return { cost, grads, gradNorm };
  }

  /** Mini-batch ‖δˡ‖, summed until the next `deltas` record. */
  sumDeltas(grads: Parameters<Mlp['deltaNorms']>[0]): void {
    if (this.config.gradflowEvery <= 0) return;
    const norms = this.net.deltaNorms(grads);
    for (let l = 0; l < this.deltaSum.length; l++) this.deltaSum[l] += norms[l];
    this.deltaCount++;
  }

  update(grads: Parameters<Mlp['deltaNorms']>[0], gradNorm: number): void {
    this.optimizer.apply(this.net.params, grads, clipScale(gradNorm, this.config.clipNorm));
  }

  /** Every logEvery steps the mean training cost; every gradflowEvery steps the mean mini-batch ‖δˡ‖. */
  log(cost: number, gradNorm: number): void {
    const { step, config, optimizer } = this;
    const { runDir, onProgress } = this.options;
    this.lossSum += cost;
    this.lossCount++;
    if (step % config.logEvery === 0) {
      const loss = this.lossSum / this.lossCount;
      runDir?.log({ type: 'step', step, loss, gradNorm, lr: optimizer.lr });
      onProgress?.({ step, steps: this.totalSteps, loss, lr: optimizer.lr, epoch: this.epoch });
      this.lossSum = 0;
      this.lossCount = 0;
    }
    if (config.gradflowEvery > 0 && step % config.gradflowEvery === 0) {
      const deltaNorms = Array.from(this.deltaSum, (s) => s / this.deltaCount);
      this.batchDeltaNorms.push({ step, deltaNorms });
      // epoch: the one in progress, from 1
      runDir?.log({ type: 'deltas', step, epoch: this.epoch + 1, kind: 'batch', steps: this.deltaCount, deltaNorms });
      this.deltaSum.fill(0);
      this.deltaCount = 0;
    }
  }

  /** Nielsen's measurement after `done` epochs (0: at initialization). */
  probe(done: number): void {
    const { probeSet, step } = this;
    if (!probeSet) return;
    const t0 = performance.now();
    const deltaNorms = probeDeltaNorms(this.net, probeSet);
    this.gradflowMs += performance.now() - t0;
    this.probes.push({ epoch: done, step, deltaNorms });
    this.options.runDir?.log({
      type: 'deltas',
      step,
      epoch: done,
      kind: 'probe',
      examples: probeSet.count,
      deltaNorms,
    });
  }

  /** Validation after an epoch; the best so far (higher accuracy when there is one, else lower loss); plateau decay. */
  evaluate(): void {
    const { validation, step, config, optimizer } = this;
    if (!validation) return;
    const epoch = this.epoch + 1;
    const ev = { epoch, step, ...evaluateMlp(this.net, validation) };
    if (!Number.isFinite(ev.loss)) this.diverge(`validation loss became ${ev.loss}`, ev.loss, Number.NaN);
    this.evals.push(ev);
    this.options.runDir?.log({ type: 'eval', step, loss: ev.loss, metrics: { epoch, accuracy: ev.accuracy } });
    this.options.onProgress?.({
      step,
      steps: this.totalSteps,
      loss: Number.NaN,
      lr: optimizer.lr,
      evalLoss: ev.loss,
      epoch: this.epoch,
    });
    const improved = this.plateau.observe(ev.accuracy !== null ? -ev.accuracy : ev.loss, step);
    if (improved) this.best = ev;
    if (!improved && config.schedule === 'plateau' && this.plateau.sinceBest % config.patience === 0)
      optimizer.lr *= config.decayFactor;
  }

  /** checkpoint.json after `done` epochs, when the run has a directory to write it to. */
  checkpoint(done: number): void {
    const { runDir, checkpoint } = this.options;
    if (!(checkpoint ?? runDir !== undefined) || !runDir) return;
    if (!writeMlpCheckpoint(this.net, runDir, { step: this.step, epoch: done }, this.config, this.optimizer.snapshot()))
      this.diverge('weights became non-finite', Number.NaN, Number.NaN);
  }

  isEarlyStop(): boolean {
    const stop =
      this.validation !== null && this.config.earlyStop > 0 && this.plateau.sinceBest >= this.config.earlyStop;
    if (stop) this.status = 'early-stopped';
    return stop;
  }

  finish(): MlpTrainResult {
    const { step, status, gradflowMs } = this;
    const elapsedMs = performance.now() - this.started;
    const stepsPerSec = step / (elapsedMs / 1000);
    this.options.runDir?.log({ type: 'end', step, status, elapsedMs, stepsPerSec, gradflowMs });
    return {
      status,
      steps: step,
      epochs: Math.min(this.epoch, this.config.epochs),
      evals: this.evals,
      best: this.best ?? { epoch: 0, step: 0, loss: Number.NaN, accuracy: null },
      probes: this.probes,
      batchDeltaNorms: this.batchDeltaNorms,
      elapsedMs,
      gradflowMs,
      stepsPerSec,
    };
  }

  private diverge(what: string, loss: number, gradNorm: number): never {
    this.options.runDir?.log({ type: 'diverged', step: this.step, loss, gradNorm });
    const at = `${what} at step ${this.step} (epoch ${this.epoch + 1})`;
    throw new SeqlabError('diverged', (field) => `training diverged: ${at}; try a smaller ${field('lr')}`);
  }
}
