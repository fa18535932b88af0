import * as tf from '@tensorflow/tfjs';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import { SeqlabError } from '../util/errors.js';
import { Rng, type RngState } from '../util/rng.js';
import { chunkInputs, chunkLoss, disposeChunk, type ChunkTensors } from './loss.js';
import { jacobianNorms, layerInputs, type JacobianMode } from './gradflow.js';
import { chunkLossFast, modelLossAndGrads } from './bptt.js';
import { GradWorkers, resolveThreads } from './parallel.js';
import {
  OPTIMIZER_DEFAULTS,
  Optimizer,
  PlateauTracker,
  SCHEDULE_DEFAULTS,
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  stepDecayLr,
  type OptimizerConfig,
  type OptimizerState,
  type ScheduleConfig,
} from './optim.js';
import type { RunDir } from '../runlog/rundir.js';
import type { Batch, SequenceTask } from '../tasks/task.js';

/**
 * The one BPTT trainer. Each optimizer step: lr (schedule) → forward over a chunk
 * → loss → backward → clip → update → log; every evalEvery steps: validation,
 * checkpoint, plateau/early stopping; every gradflowEvery steps: the gradient-flow
 * probes on a fixed probe batch.
 *
 * Truncated BPTT (bptt > 0) cuts each batch into chunks of `bptt` steps, one update
 * per chunk that holds targets; the hidden state is carried to the next chunk but cut
 * from the graph, so gradients never flow further back than one chunk.
 */
export interface TrainConfig extends OptimizerConfig, ScheduleConfig {
  /** Optimizer updates. Default 1000. */
  steps: number;
  /** Sequences per batch. Default 32. */
  batchSize: number;
  /** Chunk length for truncated BPTT; 0 = full BPTT over the whole sequence. Default 0. */
  bptt: number;
  /** Clip gradients to this global L2 norm; null = off. Default 1. */
  clipNorm: number | null;
  /** Clamp each gradient entry to ±clipValue; null = off. Default null. */
  clipValue: number | null;
  /** Validate (and checkpoint) every N steps. Default 100. */
  evalEvery: number;
  /** Stop after this many evaluations without a better validation loss; 0 = never. Default 0. */
  earlyStop: number;
  /** Log gradient flow every N steps; 0 = off. Default 250 (the probes then take under 10 % of training time). */
  gradflowEvery: number;
  /** Jacobian mode for LSTM probes. Default "h". */
  gradflowMode: JacobianMode;
  /** Probe every layer, or only the top one. Default false (top only). */
  gradflowAllLayers: boolean;
  /** Seed of data order (initial weights are seeded by the caller). Default 1. */
  seed: number;
  /**
   * Threads computing each batch's gradients (data-parallel halves, see parallel.ts): 1, 2,
   * or "auto" (2 on the wasm backend with two cores or more). Default "auto".
   */
  threads: number | 'auto';
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = {
  ...OPTIMIZER_DEFAULTS,
  ...SCHEDULE_DEFAULTS,
  steps: 1000,
  batchSize: 32,
  bptt: 0,
  clipNorm: 1,
  clipValue: null,
  evalEvery: 100,
  earlyStop: 0,
  gradflowEvery: 250,
  gradflowMode: 'h',
  gradflowAllLayers: false,
  seed: 1,
  threads: 'auto',
};

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  evalLoss?: number;
}

export interface TrainOptions {
  runDir?: RunDir;
  onProgress?: (p: Progress) => void;
  /** Write checkpoint.json at each evaluation and at the end. Default true when runDir is set. */
  checkpoint?: boolean;
  /** More fields for checkpoint.json (e.g. the vocabulary, so model and vocabulary never separate). */
  checkpointExtra?: () => Record<string, unknown>;
  /** Continue from a checkpoint's `resume` record (the model must already hold its weights). */
  resume?: ResumeState;
  /**
   * Awaited before every optimizer step (and its chunk's tensors). The browser lab yields
   * to the event loop here so the page stays responsive, waits while paused, and throws
   * to stop; whatever it throws propagates after the trainer has freed its tensors.
   */
  beforeStep?: (step: number) => Promise<void>;
}

/**
 * Everything besides the weights that a run needs to continue exactly where a
 * checkpoint was written: written at batch boundaries, so a resumed run is
 * bit-identical to an uninterrupted one.
 */
export interface ResumeState {
  step: number;
  optimizer: OptimizerState;
  dataRng: RngState;
  dropoutRng?: RngState;
  plateau: { best: number; bestStep: number; sinceBest: number };
  taskPosition: unknown;
  /** A stateful task's hidden state carried into the next batch, per layer and state tensor. */
  carried: { shape: [number, number]; values: number[] }[][] | null;
  evals: TrainResult['evals'];
  gradflow: GradflowSummary[];
}

export type TrainStatus = 'completed' | 'early-stopped';

export interface GradflowSummary {
  step: number;
  layer: number;
  spectralDecayPerStep: number | null;
  spectralHorizon: number | null;
  frobeniusDecayPerStep: number | null;
  frobeniusHorizon: number | null;
  T: number;
}

export interface TrainResult {
  status: TrainStatus;
  steps: number;
  finalEval: { step: number; loss: number; metrics: Record<string, number | null> };
  bestEval: { step: number; loss: number };
  /** Every evaluation, in order. */
  evals: { step: number; loss: number; metrics: Record<string, number | null> }[];
  gradflow: GradflowSummary[];
  elapsedMs: number;
  gradflowMs: number;
}

function toTensors(
  batch: Batch,
  inputSize: number,
  t0: number,
  t1: number,
  readout: 'last' | 'every',
  outputSize: number,
  isXent: boolean,
): ChunkTensors {
  const { batchSize: B, seqLen: T } = batch;
  const len = t1 - t0;
  const mask = batch.mask ?? defaultMask(T, B, readout);
  const maskChunk = mask.subarray(t0 * B, t1 * B);
  let count = 0;
  for (const w of maskChunk) count += w;
  let targets: tf.Tensor;
  if (readout === 'last') {
    targets = isXent
      ? tf.tensor1d(batch.targets as Int32Array, 'int32')
      : tf.tensor2d(batch.targets as Float32Array, [B, outputSize]);
  } else {
    const per = isXent ? 1 : outputSize;
    const slice = batch.targets.subarray(t0 * B * per, t1 * B * per);
    targets = isXent
      ? tf.tensor1d(slice as Int32Array, 'int32')
      : tf.tensor2d(slice as Float32Array, [len * B, outputSize]);
  }
  const tokenIds = batch.tokens ? batch.tokens.subarray(t0 * B, t1 * B) : null;
  return {
    inputs: tokenIds
      ? null
      : tf.tensor3d(batch.inputs.subarray(t0 * B * inputSize, t1 * B * inputSize), [len, B, inputSize]),
    tokens: tokenIds ? tf.tensor2d(tokenIds, [len, B], 'int32') : null,
    tokenIds,
    targets,
    mask: tf.tensor2d(maskChunk, [len, B]),
    count,
  };
}

function defaultMask(T: number, B: number, readout: 'last' | 'every'): Float32Array {
  if (readout === 'every') return new Float32Array(T * B).fill(1);
  const m = new Float32Array(T * B);
  m.fill(1, (T - 1) * B, T * B);
  return m;
}

function chunkBounds(T: number, bptt: number): [number, number][] {
  const len = bptt > 0 ? bptt : T;
  const out: [number, number][] = [];
  for (let t0 = 0; t0 < T; t0 += len) out.push([t0, Math.min(T, t0 + len)]);
  return out;
}

/** The model's state detached from any graph, owned by the caller. */
function keepState(s: State[]): State[] {
  return s.map((layer) => layer.map((t) => tf.keep(tf.clone(t)) as tf.Tensor2D));
}

/**
 * Run the gradient-flow probes on `batch`; one log record per probed layer. With
 * `allPairs`, each record also holds `pairs` (‖∂h_t/∂h_k‖ for every k < t, Frobenius:
 * spectral norms of all O(T²) pairs would cost far more than training), for the heat map.
 */
export async function probeGradientFlow(
  model: SequenceModel,
  task: SequenceTask,
  batch: Batch,
  mode: JacobianMode,
  allLayers: boolean,
  allPairs = false,
): Promise<Record<string, unknown>[]> {
  const chunk = toTensors(batch, task.inputSize, 0, batch.seqLen, task.readout, task.outputSize, task.loss === 'xent');
  const records: Record<string, unknown>[] = [];
  try {
    const top = model.layers.length - 1;
    const layers = allLayers ? model.layers.map((_, l) => l) : [top];
    for (const l of layers) {
      const xs = chunkInputs(model, chunk);
      const inputs = layerInputs(model.layers, xs, l);
      if (xs !== chunk.inputs) xs.dispose();
      const jac = await jacobianNorms(
        model.layers[l],
        inputs,
        undefined,
        allPairs ? { mode, allPairs, spectral: false } : { mode },
      );
      inputs.dispose();
      const rec: Record<string, unknown> = {
        layer: l,
        mode: jac.mode,
        T: jac.T,
        batch: jac.batch,
        gap: jac.rows.map((r) => r.gap),
        spectral: jac.rows.map((r) => r.spectral),
        frobenius: jac.rows.map((r) => r.frobenius),
        summary: jac.summary,
        ...(jac.pairs ? { pairs: jac.pairs } : {}),
      };
      if (l === top) {
        // ‖∂L/∂h_k‖, k = 0..T, on the top layer: the error signal BPTT delivers to each step
        const state0 = model.initState(batch.batchSize);
        const g = modelLossAndGrads(model, chunk, state0, task.readout, task.loss, true);
        rec.lossGrad = Array.from(await (g.dHNorms as tf.Tensor1D).data());
        tf.dispose([...state0, g.loss, ...Object.values(g.grads), ...g.final.flat(), g.dHNorms as tf.Tensor1D]);
      }
      records.push(rec);
    }
  } finally {
    disposeChunk(chunk);
  }
  return records;
}

/** Inverted-dropout masks (0, or 1/(1 − p)) for every non-recurrent connection of one chunk, from the seeded Rng. */
function dropoutMasks(model: SequenceModel, chunk: ChunkTensors, p: number, rng: Rng): tf.Tensor3D[] {
  const T = chunk.mask.shape[0];
  const B = chunk.mask.shape[1];
  const widths = [model.config.inputSize, ...model.layers.map((c) => c.hiddenSize)];
  const keep = 1 / (1 - p);
  return widths.map((D) => {
    const m = new Float32Array(T * B * D);
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < p ? 0 : keep;
    return tf.tensor3d(m, [T, B, D]);
  });
}

/** Validation loss (mean over counted targets) and task metrics on the task's eval set. */
/**
 * Loss (mean over counted targets) and task metrics on `batches` (default: the task's
 * eval set). A stateful task's batches are one stream: the state carries across them.
 */
export async function evaluate(
  model: SequenceModel,
  task: SequenceTask,
  batches: Batch[] = task.evalBatches(),
): Promise<{ loss: number; metrics: Record<string, number | null> }> {
  const outputs: Float32Array[] = [];
  let lossSum = 0;
  let count = 0;
  let state: State[] | null = null;
  try {
    for (const batch of batches) {
      const chunk = toTensors(
        batch,
        task.inputSize,
        0,
        batch.seqLen,
        task.readout,
        task.outputSize,
        task.loss === 'xent',
      );
      const s0: State[] = state ?? model.initState(batch.batchSize);
      const kept = tf.tidy(() => {
        // a task that needs only the loss (an LM) takes the trainer's forward path
        if (task.usesOutputs === false) return chunkLossFast(model, chunk, s0, task.readout, task.loss);
        const { loss, outputs: out, final } = chunkLoss(model, chunk, s0, task.readout, task.loss);
        return { loss, final, out };
      }) as unknown as { loss: tf.Scalar; final: State[]; out?: tf.Tensor2D };
      const r = { ...kept, out: kept.out ?? null };
      if (task.stateful) {
        tf.dispose(s0.flat());
        state = r.final;
      } else {
        tf.dispose([...s0.flat(), ...r.final.flat()]);
      }
      lossSum += (await r.loss.data())[0] * chunk.count;
      count += chunk.count;
      if (r.out) outputs.push((await r.out.data()) as Float32Array);
      tf.dispose([r.loss, ...(r.out ? [r.out] : [])]);
      disposeChunk(chunk);
    }
  } finally {
    if (state) tf.dispose((state as State[]).flat());
  }
  const loss = lossSum / Math.max(count, 1);
  return { loss, metrics: task.evaluate(outputs, loss) };
}

/** Train `model` on `task`. Throws SeqlabError("diverged") on NaN/Inf, after logging it; the last good checkpoint stays. */
export async function train(
  model: SequenceModel,
  task: SequenceTask,
  config: Readonly<TrainConfig>,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const { runDir, onProgress } = options;
  const saveCheckpoints = options.checkpoint ?? runDir !== undefined;
  const resume = options.resume;
  const dataRng = resume ? Rng.restore(resume.dataRng) : new Rng(`${config.seed}/data`);
  const dropoutRng = resume?.dropoutRng ? Rng.restore(resume.dropoutRng) : new Rng(`${config.seed}/dropout`);
  const dropout = model.config.dropout ?? 0;
  const optimizer = new Optimizer(config);
  const vars = model.variables();
  if (resume) optimizer.restore(resume.optimizer, vars);
  const plateau = new PlateauTracker();
  if (resume) Object.assign(plateau, { ...resume.plateau, best: resume.plateau.best ?? Infinity });
  if (resume && resume.taskPosition !== undefined) task.seek?.(resume.taskPosition);
  const isXent = task.loss === 'xent';
  const gradflow: GradflowSummary[] = resume ? [...resume.gradflow] : [];
  const evals: TrainResult['evals'] = resume ? [...resume.evals] : [];
  const probe = config.gradflowEvery > 0 ? task.probeBatch() : null;
  let gradflowMs = 0;
  let carried: State[] | null = resume?.carried
    ? resume.carried.map((layer) => layer.map((s) => tf.tensor2d(s.values, s.shape)))
    : null;
  let finalEval: TrainResult['finalEval'] | null = evals.at(-1) ?? null;
  let status: TrainStatus = 'completed';
  let step = resume?.step ?? 0;
  let state: State[] = []; // the current batch's state; freed in `finally` on every exit
  let checkpointStep: number | null = resume?.step ?? null;
  const started = performance.now();
  const workers =
    resolveThreads(config.threads, model.config, config.batchSize) > 1 ? await GradWorkers.create(model) : null;
  const lossAndGrads = workers ? workers.lossAndGrads.bind(workers) : modelLossAndGrads;

  /** Log and throw: the last checkpoint written (if any) is the last good one. */
  const diverge = (what: string, loss: number, gradNorm: number): never => {
    runDir?.log({ type: 'diverged', step, loss, gradNorm });
    const kept =
      runDir && checkpointStep !== null
        ? `; last good checkpoint (step ${checkpointStep}) kept in ${runDir.file('checkpoint.json')}`
        : '';
    throw new SeqlabError('diverged', `training diverged: ${what} at step ${step}${kept}`);
  };

  const runProbe = async () => {
    if (!probe) return;
    const t0 = performance.now();
    const records = await probeGradientFlow(model, task, probe, config.gradflowMode, config.gradflowAllLayers);
    gradflowMs += performance.now() - t0;
    for (const rec of records) {
      runDir?.log({ type: 'gradflow', step, ...rec });
      const s = rec.summary as {
        spectral: { decayPerStep: number | null; horizon: number | null } | null;
        frobenius: { decayPerStep: number | null; horizon: number | null };
      };
      gradflow.push({
        step,
        layer: rec.layer as number,
        T: rec.T as number,
        spectralDecayPerStep: s.spectral?.decayPerStep ?? null,
        spectralHorizon: s.spectral?.horizon ?? null,
        frobeniusDecayPerStep: s.frobenius.decayPerStep,
        frobeniusHorizon: s.frobenius.horizon,
      });
    }
  };

  /** The resume record at the end of the current batch (`nextCarried`: the state the next batch starts from). */
  const resumeState = async (nextCarried: State[] | null): Promise<ResumeState> => ({
    step,
    optimizer: await optimizer.snapshot(),
    dataRng: dataRng.snapshot(),
    dropoutRng: dropoutRng.snapshot(),
    plateau: { best: plateau.best, bestStep: plateau.bestStep, sinceBest: plateau.sinceBest },
    taskPosition: task.position?.(),
    carried: nextCarried
      ? await Promise.all(
          nextCarried.map((layer) =>
            Promise.all(
              layer.map(async (s) => ({ shape: s.shape as [number, number], values: Array.from(await s.data()) })),
            ),
          ),
        )
      : null,
    evals: [...evals],
    gradflow: [...gradflow],
  });

  const runEval = async (atBatchEnd = true): Promise<boolean> => {
    const ev = await evaluate(model, task);
    // an overflowed model can still step with a finite loss; never checkpoint it
    if (!Number.isFinite(ev.loss)) diverge(`validation loss became ${ev.loss}`, ev.loss, NaN);
    finalEval = { step, ...ev };
    evals.push(finalEval);
    runDir?.log({ type: 'eval', step, loss: ev.loss, metrics: ev.metrics });
    const improved = plateau.observe(ev.loss, step);
    if (!improved && config.schedule === 'plateau' && plateau.sinceBest % config.patience === 0) {
      optimizer.lr *= config.decayFactor;
    }
    if (saveCheckpoints && runDir) {
      // resumable only between batches (a truncated-BPTT batch may be cut mid-way)
      const extra = {
        ...options.checkpointExtra?.(),
        ...(atBatchEnd ? { resume: await resumeState(task.stateful ? state : null) } : {}),
      };
      if (!(await writeCheckpoint(model, runDir, step, config, extra)))
        diverge('weights became non-finite', ev.loss, NaN);
      checkpointStep = step;
    }
    onProgress?.({ step, steps: config.steps, loss: NaN, lr: optimizer.lr, evalLoss: ev.loss });
    return config.earlyStop > 0 && plateau.sinceBest >= config.earlyStop;
  };

  try {
    if (!resume) await runProbe();
    outer: while (step < config.steps) {
      const restart = task.startsStream?.() ?? false; // e.g. the next batch begins a new pass over an LM's text
      const batch = task.trainBatch(dataRng, config.batchSize);
      if (carried && (restart || !task.stateful)) {
        tf.dispose(carried.flat());
        carried = null;
      }
      state = carried ?? model.initState(batch.batchSize);
      carried = null;
      const bounds = chunkBounds(batch.seqLen, config.bptt);
      for (const [t0, t1] of bounds) {
        if (options.beforeStep) await options.beforeStep(step);
        const chunk = toTensors(batch, task.inputSize, t0, t1, task.readout, task.outputSize, isXent);
        if (chunk.count === 0) {
          // no targets here: advance the state only
          const next = tf.tidy(() => keepState(model.run(chunkInputs(model, chunk), state).final));
          tf.dispose(state.flat());
          state = next;
          disposeChunk(chunk);
          continue;
        }
        if (config.schedule === 'step') optimizer.lr = stepDecayLr(config.lr, step, config);
        const masks = dropout > 0 ? dropoutMasks(model, chunk, dropout, dropoutRng) : [];
        const {
          loss: value,
          grads: named,
          final: next,
        } = lossAndGrads(model, chunk, state, task.readout, task.loss, false, masks);
        tf.dispose(masks);
        const grads = named;
        const normT = globalNorm(named);
        const [lossValue, gradNorm] = [(await value.data())[0], (await normT.data())[0]];
        tf.dispose(state.flat());
        state = next;
        disposeChunk(chunk);
        step++;
        if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
          tf.dispose([value, normT, ...Object.values(grads)]);
          diverge(
            Number.isFinite(lossValue) ? `gradient norm became ${gradNorm}` : `loss became ${lossValue}`,
            lossValue,
            gradNorm,
          );
        }
        tf.tidy(() => {
          let g = named;
          if (config.clipValue !== null) g = clipByValue(g, config.clipValue);
          if (config.clipNorm !== null) g = clipByGlobalNorm(g, gradNorm, config.clipNorm);
          optimizer.apply(vars, g);
        });
        tf.dispose([value, normT, ...Object.values(grads)]);
        runDir?.log({ type: 'step', step, loss: lossValue, gradNorm, lr: optimizer.lr });
        onProgress?.({ step, steps: config.steps, loss: lossValue, lr: optimizer.lr });
        if (config.gradflowEvery > 0 && step % config.gradflowEvery === 0) await runProbe();
        if (step % config.evalEvery === 0 && (await runEval(t1 === bounds[bounds.length - 1][1]))) {
          status = 'early-stopped';
          break outer;
        }
        if (step >= config.steps) break;
      }
      if (task.stateful) {
        carried = state; // taken (and cleared) at the top of the next batch
      } else {
        tf.dispose(state.flat());
      }
    }
    if (!finalEval || (finalEval as { step: number }).step !== step) await runEval();
    if (config.gradflowEvery > 0 && step % config.gradflowEvery !== 0) await runProbe();
  } finally {
    tf.dispose(state.flat()); // no-op for tensors already freed (or carried)
    if (carried) tf.dispose((carried as State[]).flat());
    optimizer.dispose();
    await workers?.dispose();
  }
  const elapsedMs = performance.now() - started;
  // a resumed run times only the steps it ran itself
  runDir?.log({
    type: 'end',
    step,
    status,
    elapsedMs,
    stepsPerSec: (step - (resume?.step ?? 0)) / (elapsedMs / 1000),
    gradflowMs,
  });
  const fe = finalEval as unknown as TrainResult['finalEval'];
  return {
    status,
    steps: step,
    finalEval: fe,
    bestEval: { step: plateau.bestStep, loss: plateau.best },
    evals,
    gradflow,
    elapsedMs,
    gradflowMs,
  };
}

/**
 * checkpoint.json: the PyTorch-style weights file (loadable by `seqlab probe --weights`) plus the step and config.
 * Returns false, writing nothing, if any weight is NaN/Inf (JSON would store it as null).
 */
export async function writeCheckpoint(
  model: SequenceModel,
  runDir: RunDir,
  step: number,
  trainConfig: Readonly<TrainConfig>,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const stateDict = await model.stateDict();
  if (!Object.values(stateDict).every((w) => w.flat().every(Number.isFinite))) return false;
  runDir.writeJson('checkpoint.json', {
    format: 'seqlab-checkpoint/1',
    step,
    cell: model.config.cell,
    nonlinearity: model.config.nonlinearity,
    model: model.config,
    train: trainConfig,
    ...extra,
    state_dict: stateDict,
  });
  runDir.log({ type: 'checkpoint', step, file: 'checkpoint.json' });
  return true;
}
