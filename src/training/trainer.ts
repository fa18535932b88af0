import * as tf from '@tensorflow/tfjs';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import type { RunDir, RunLog } from '../runlog/rundir.js';
import type { Batch, SequenceTask } from '../tasks/task.js';
import { Interrupted, SeqlabError, inputError, stopSignalOf } from '../util/errors.js';
import { Rng, type RngState } from '../util/rng.js';
import { EventLoopTurns } from '../util/turns.js';
import { BestWeights, type BestWeightsState } from './best-weights.js';
import { modelLossAndGrads } from './bptt.js';
import { writeCheckpoint } from './checkpoint.js';
import { isSpectrumDue, type TrainConfig } from './config.js';
import { chunkInputs, chunkTensors, disposeChunk, type ChunkTensors } from './loss.js';
import { type Evaluation, evaluate, probeGradientFlow } from './measure.js';
import {
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  type Grads,
  Optimizer,
  type OptimizerState,
  PlateauTracker,
  stepDecayLr,
} from './optim.js';
import { GradWorkers, resolveThreads } from './parallel.js';

/**
 * The one BPTT trainer. Each pass of the loop in train() is one optimizer step, its phases in
 * the order they run (nanoGPT's train.py reads the same way):
 *
 *   probe       every gradflowEvery steps: ‖∂h_T/∂h_k‖ and ‖∂L/∂h_k‖ on the fixed probe batch (with the
 *               singular values at chosen gaps and the Lyapunov spectrum every spectrumEvery steps)
 *   evaluate    every evalEvery steps: validation loss and metrics, the plateau schedule, the
 *               checkpoint (with the probe of the same step in it), early stopping
 *   stop        after `steps` updates; or, once `signal` is aborted, at the next batch boundary:
 *               a resumable checkpoint, then Interrupted (the run continues with --resume)
 *   data        the next chunk: batches from the task, cut into chunks of `bptt` steps
 *   schedule    the step schedule's learning rate
 *   forward/backward   loss and exact gradients (hand-written BPTT, bptt.ts), on two threads when
 *               that pays (parallel.ts); a non-finite loss or gradient norm ends the run here
 *   clip/update by global norm and/or value, then the optimizer's update
 *   log         the step record and the progress callback
 *
 * After the loop: the last evaluation and probe, then (restoreBest) the weights of the best
 * evaluation put back and checkpointed, as word_language_model ends with its best saved model.
 *
 * Truncated BPTT (bptt > 0) cuts each batch into chunks, one update per chunk that holds targets;
 * the hidden state is carried to the next chunk but cut from the graph, so gradients never flow
 * further back than one chunk. A stateful task (an LM reading its text as parallel streams) also
 * carries the state from one batch to the next.
 *
 * A checkpoint is resumable when written at a batch boundary: it holds everything besides the
 * weights (optimizer, data and dropout generators, task position, carried state, schedule), so a
 * resumed run is bit-identical to one never interrupted.
 */

export interface Progress {
  step: number;
  steps: number;
  /** The step's training loss; NaN on the progress call that follows an evaluation. */
  loss: number;
  lr: number;
  evalLoss?: number;
}

export interface TrainOptions {
  /** Where the log records go and checkpoint.json is written; nothing is written without it. */
  runDir?: RunDir;
  /** The log records only, when there is no run directory (the browser lab keeps them in memory). */
  log?: RunLog;
  onProgress?: (p: Progress) => void;
  /** Write checkpoint.json at each evaluation and at the end. Default true when runDir is set. */
  checkpoint?: boolean;
  /** More fields for checkpoint.json (e.g. the vocabulary, so model and vocabulary never separate). */
  checkpointExtra?: () => Record<string, unknown>;
  /** Continue from a checkpoint's `resume` record (the model must already hold its weights). */
  resume?: ResumeState;
  /**
   * Awaited before every chunk. The browser lab yields to the event loop here so the page
   * stays responsive, waits while paused, and throws to stop; whatever it throws propagates
   * after the trainer has freed its tensors.
   */
  beforeStep?: (step: number) => Promise<void>;
  /**
   * Stop cleanly once aborted (Ctrl-C): the batch in progress is finished (a checkpoint is
   * resumable only between batches), a checkpoint with its resume record is written (with
   * runDir), and train() rejects with Interrupted. The reason names the signal ("SIGINT").
   */
  signal?: AbortSignal;
}

/** Everything besides the weights that a run needs to continue exactly where a checkpoint was written. */
export interface ResumeState {
  step: number;
  optimizer: OptimizerState;
  dataRng: RngState;
  dropoutRng?: RngState;
  plateau: { best: number; bestStep: number; sinceBest: number };
  taskPosition: unknown;
  /** A stateful task's hidden state carried into the next batch, per layer and state tensor. */
  carried: { shape: [number, number]; values: number[] }[][] | null;
  evals: EvalResult[];
  gradflow: GradflowSummary[];
  /** restoreBest: the weights of the best evaluation so far (absent or null otherwise). */
  best?: BestWeightsState | null;
}

/**
 * A checkpoint's resume record as read from disk, checked field by field (a hand-edited or damaged
 * file is one input error naming the field, never a TypeError deep in the trainer). `sizes` maps
 * each model variable to its element count, for the optimizer's slots.
 */
export function checkResumeState(value: unknown, source: string, sizes: Record<string, number>): ResumeState {
  const bad = (what: string) => inputError(`${source}: resume.${what}; the checkpoint is damaged, start a new run`);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const isFiniteArray = (v: unknown, n: number) =>
    Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!isObject(value)) throw bad('is not an object');
  const r = value;
  if (!isCount(r.step)) throw bad('step is not a non-negative integer');
  const opt = r.optimizer;
  if (
    !isObject(opt) ||
    !isCount(opt.t) ||
    typeof opt.lr !== 'number' ||
    !Number.isFinite(opt.lr) ||
    !isObject(opt.slots)
  )
    throw bad('optimizer must be {t, lr, slots}');
  for (const [name, slot] of Object.entries(opt.slots)) {
    if (!(name in sizes)) throw bad(`optimizer.slots names an unknown variable "${name}"`);
    if (!Array.isArray(slot) || !slot.every((vals) => isFiniteArray(vals, sizes[name])))
      throw bad(`optimizer.slots.${name} must hold arrays of ${sizes[name]} finite numbers`);
  }
  const isRng = (v: unknown) => isObject(v) && typeof v.seed === 'string' && isObject(v.state);
  if (!isRng(r.dataRng)) throw bad('dataRng is not a generator state');
  if (r.dropoutRng !== undefined && !isRng(r.dropoutRng)) throw bad('dropoutRng is not a generator state');
  const p = r.plateau;
  if (!isObject(p) || !isCount(p.bestStep) || !isCount(p.sinceBest) || (p.best !== null && typeof p.best !== 'number'))
    throw bad('plateau must be {best, bestStep, sinceBest}');
  if (r.carried !== null && r.carried !== undefined) {
    const ok =
      Array.isArray(r.carried) &&
      r.carried.every(
        (layer) =>
          Array.isArray(layer) &&
          layer.every(
            (st) =>
              isObject(st) &&
              Array.isArray(st.shape) &&
              st.shape.length === 2 &&
              st.shape.every((d) => isCount(d) && (d as number) > 0) &&
              isFiniteArray(st.values, (st.shape[0] as number) * (st.shape[1] as number)),
          ),
      );
    if (!ok) throw bad("carried must list each layer's states as {shape: [B, H], values}");
  }
  if (!Array.isArray(r.evals) || !Array.isArray(r.gradflow)) throw bad('evals and gradflow must be lists');
  const best = r.best;
  if (best !== undefined && best !== null) {
    if (!isObject(best) || !isCount(best.step) || !isObject(best.values)) throw bad('best must be {step, values}');
    for (const [name, n] of Object.entries(sizes)) {
      if (!isFiniteArray(best.values[name], n)) throw bad(`best.values.${name} must hold ${n} finite numbers`);
    }
  }
  return value as unknown as ResumeState;
}

export type TrainStatus = 'completed' | 'early-stopped';

/** The headline numbers of one probe of one layer. */
export interface GradflowSummary {
  step: number;
  layer: number;
  spectralDecayPerStep: number | null;
  spectralHorizon: number | null;
  frobeniusDecayPerStep: number | null;
  frobeniusHorizon: number | null;
  T: number;
}

export interface EvalResult extends Evaluation {
  step: number;
}

export interface TrainResult {
  status: TrainStatus;
  steps: number;
  finalEval: EvalResult;
  bestEval: { step: number; loss: number };
  /** Every evaluation, in order. */
  evals: EvalResult[];
  gradflow: GradflowSummary[];
  /** The step whose weights the model ends with: `steps`, or the best evaluation's with restoreBest. */
  weightsStep: number;
  elapsedMs: number;
  gradflowMs: number;
}

/**
 * Train `model` on `task`. Throws SeqlabError("diverged") on NaN/Inf, after logging it; the last good
 * checkpoint stays.
 */
export async function train(
  model: SequenceModel,
  task: SequenceTask,
  config: Readonly<TrainConfig>,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const run = await TrainingRun.start(model, task, config, options);
  const turns = new EventLoopTurns();
  try {
    for (;;) {
      if (run.isProbeDue()) await run.probe();
      if (run.isEvalDue() && (await run.evaluate())) break; // early stop
      if (run.step >= config.steps) break;
      if (options.signal) await turns.maybe(); // lets a signal handler run and abort
      if (run.isStopDue()) await run.stop();
      const chunk = await run.nextChunk();
      try {
        run.schedule();
        const { loss, gradNorm, grads } = await run.forwardBackward(chunk);
        run.clipAndUpdate(grads, gradNorm);
        run.log(loss, gradNorm);
      } finally {
        disposeChunk(chunk);
      }
    }
    return await run.finish();
  } finally {
    await run.dispose();
  }
}

/** One training run's state between the phases of the loop in train(). */
class TrainingRun {
  step: number;
  private readonly optimizer: Optimizer;
  private readonly vars: Record<string, tf.Variable>;
  private readonly plateau = new PlateauTracker();
  private readonly best: BestWeights;
  private readonly dropoutRng: Rng;
  private readonly probeBatch: Batch | null;
  private readonly evals: EvalResult[];
  private readonly gradflow: GradflowSummary[];
  private readonly sink: RunLog | undefined;
  private readonly saveCheckpoints: boolean;
  private readonly started = performance.now();
  private gradflowMs = 0;
  private earlyStopped = false;
  /** Steps at which the last probe and evaluation ran (−1: none yet). */
  private probedAt = -1;
  private evaluatedAt = -1;
  /** Step of the last checkpoint written, if any: the last good one when a run diverges. */
  private checkpointAt: number | null;
  /** Step of the last checkpoint written with a resume record. */
  private resumableAt: number | null;

  private constructor(
    private readonly model: SequenceModel,
    private readonly task: SequenceTask,
    private readonly config: Readonly<TrainConfig>,
    private readonly options: TrainOptions,
    readonly data: ChunkStream,
    private readonly workers: GradWorkers | null,
  ) {
    const resume = options.resume;
    this.step = resume?.step ?? 0;
    this.optimizer = new Optimizer(config);
    this.vars = model.variables();
    if (resume) {
      this.optimizer.restore(resume.optimizer, this.vars);
      Object.assign(this.plateau, { ...resume.plateau, best: resume.plateau.best ?? Number.POSITIVE_INFINITY });
      // the checkpoint was written after this step's evaluation, and after its probe when one was due
      this.evaluatedAt = resume.step;
      if (config.gradflowEvery > 0 && resume.step % config.gradflowEvery === 0) this.probedAt = resume.step;
    }
    this.best = config.restoreBest ? BestWeights.restore(resume?.best, this.vars) : new BestWeights();
    this.dropoutRng = resume?.dropoutRng ? Rng.restore(resume.dropoutRng) : new Rng(`${config.seed}/dropout`);
    this.evals = resume ? [...resume.evals] : [];
    this.gradflow = resume ? [...resume.gradflow] : [];
    this.checkpointAt = resume?.step ?? null;
    this.resumableAt = this.checkpointAt;
    this.probeBatch = config.gradflowEvery > 0 ? task.probeBatch() : null;
    this.sink = options.log ?? options.runDir;
    this.saveCheckpoints = options.checkpoint ?? options.runDir !== undefined;
  }

  static async start(
    model: SequenceModel,
    task: SequenceTask,
    config: Readonly<TrainConfig>,
    options: TrainOptions,
  ): Promise<TrainingRun> {
    const resume = options.resume;
    if (resume && resume.taskPosition !== undefined) task.seek?.(resume.taskPosition);
    const dataRng = resume ? Rng.restore(resume.dataRng) : new Rng(`${config.seed}/data`);
    const carried = resume?.carried
      ? resume.carried.map((layer) => layer.map((s) => tf.tensor2d(s.values, s.shape)))
      : null;
    const data = new ChunkStream(model, task, config, dataRng, carried);
    const threads = resolveThreads(config.threads, model.config, config.batchSize);
    const workers = threads > 1 ? await GradWorkers.create(model) : null;
    return new TrainingRun(model, task, config, options, data, workers);
  }

  /** The next chunk with targets, after the beforeStep hook (which may pause, or throw to stop). */
  nextChunk(): Promise<ChunkTensors> {
    const { beforeStep } = this.options;
    return this.data.next(beforeStep && (() => beforeStep(this.step)));
  }

  isProbeDue(): boolean {
    return this.probeBatch !== null && this.step % this.config.gradflowEvery === 0 && this.probedAt !== this.step;
  }

  isEvalDue(): boolean {
    return this.step > 0 && this.step % this.config.evalEvery === 0 && this.evaluatedAt !== this.step;
  }

  /** The gradient-flow probes at this step's weights: a log record and a summary per probed layer. */
  async probe(): Promise<void> {
    if (!this.probeBatch) return;
    this.probedAt = this.step;
    const t0 = performance.now();
    const { gradflowMode, gradflowAllLayers, gradflowEvery, spectrumEvery } = this.config;
    const spectrum = isSpectrumDue(this.step, gradflowEvery, spectrumEvery) ? {} : null; // spectra.ts's defaults
    const records = await probeGradientFlow(
      this.model,
      this.task,
      this.probeBatch,
      gradflowMode,
      gradflowAllLayers,
      false,
      spectrum,
    );
    this.gradflowMs += performance.now() - t0;
    for (const { spectrum, ...rec } of records) {
      this.sink?.log({ type: 'gradflow', step: this.step, ...rec });
      if (spectrum) this.sink?.log({ type: 'spectrum', step: this.step, ...spectrum });
      const { spectral, frobenius } = rec.summary;
      this.gradflow.push({
        step: this.step,
        layer: rec.layer,
        T: rec.T,
        spectralDecayPerStep: spectral?.decayPerStep ?? null,
        spectralHorizon: spectral?.horizon ?? null,
        frobeniusDecayPerStep: frobenius.decayPerStep,
        frobeniusHorizon: frobenius.horizon,
      });
    }
  }

  /**
   * Validation, the plateau schedule, the checkpoint. Returns true when early stopping says stop.
   * A checkpoint is resumable only between batches (truncated BPTT can evaluate mid-batch).
   */
  async evaluate(): Promise<boolean> {
    const { config, step } = this;
    this.evaluatedAt = step;
    const ev = await evaluate(this.model, this.task);
    // an overflowed model can still step with a finite loss; never checkpoint it
    if (!Number.isFinite(ev.loss)) this.diverge(`validation loss became ${ev.loss}`, ev.loss, Number.NaN);
    this.evals.push({ step, ...ev });
    this.sink?.log({ type: 'eval', step, loss: ev.loss, metrics: ev.metrics });
    const improved = this.plateau.observe(ev.loss, step);
    if (improved && config.restoreBest) this.best.keep(this.vars, step);
    if (!improved && config.schedule === 'plateau' && this.plateau.sinceBest % config.patience === 0) {
      this.optimizer.lr *= config.decayFactor;
    }
    const { runDir } = this.options;
    if (this.saveCheckpoints && runDir) await this.checkpoint(runDir, ev.loss);
    this.options.onProgress?.({
      step,
      steps: config.steps,
      loss: Number.NaN,
      lr: this.optimizer.lr,
      evalLoss: ev.loss,
    });
    this.earlyStopped = config.earlyStop > 0 && this.plateau.sinceBest >= config.earlyStop;
    return this.earlyStopped;
  }

  /** checkpoint.json at this step, with the resume record when between batches; refuses non-finite weights. */
  private async checkpoint(runDir: RunDir, loss: number): Promise<void> {
    const { step } = this;
    const resumable = this.data.atBatchEnd;
    const resume = resumable ? { resume: await this.resumeState() } : {};
    const extra = { ...this.options.checkpointExtra?.(), ...resume };
    if (!(await writeCheckpoint(this.model, runDir, step, this.config, extra))) {
      this.diverge('weights became non-finite', loss, Number.NaN);
    }
    this.checkpointAt = step;
    if (resumable) this.resumableAt = step;
  }

  /** A stop was asked for and the loop stands between batches (after this step's probe and evaluation). */
  isStopDue(): boolean {
    return this.options.signal?.aborted === true && this.data.atBatchEnd;
  }

  /** Save a resumable checkpoint of this step (unless the evaluation just did) and stop with Interrupted. */
  async stop(): Promise<never> {
    const { runDir, signal } = this.options;
    const name = stopSignalOf(signal?.reason);
    const { step } = this;
    const at = `training stopped (${name}) at step ${step} of ${this.config.steps}`;
    if (!this.saveCheckpoints || !runDir) throw new Interrupted(name, `${at}; nothing was saved`);
    if (this.resumableAt !== step) await this.checkpoint(runDir, Number.NaN);
    const saved = runDir.file('checkpoint.json');
    throw new Interrupted(name, `${at}; checkpoint written to ${saved}`, saved);
  }

  /** The step schedule's learning rate for the update about to run (plateau decays at evaluations). */
  schedule(): void {
    if (this.config.schedule === 'step') this.optimizer.lr = stepDecayLr(this.config.lr, this.step, this.config);
  }

  /**
   * Loss and gradients of one chunk from the carried state; the chunk's final state becomes the
   * next one's. Ends the run (diverged) on a non-finite loss or gradient norm.
   */
  async forwardBackward(chunk: ChunkTensors): Promise<{ loss: number; gradNorm: number; grads: Grads }> {
    const { model, task } = this;
    const dropout = model.config.dropout ?? 0;
    const masks = dropout > 0 ? dropoutMasks(model, chunk, dropout, this.dropoutRng) : [];
    const lossAndGrads = this.workers ? this.workers.lossAndGrads.bind(this.workers) : modelLossAndGrads;
    const out = lossAndGrads(model, chunk, this.data.state, task.readout, task.loss, false, masks);
    tf.dispose(masks);
    const normT = globalNorm(out.grads);
    const loss = (await out.loss.data())[0];
    const gradNorm = (await normT.data())[0];
    tf.dispose([out.loss, normT]);
    this.data.advance(out.final);
    this.step++;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      tf.dispose(Object.values(out.grads));
      this.diverge(Number.isFinite(loss) ? `gradient norm became ${gradNorm}` : `loss became ${loss}`, loss, gradNorm);
    }
    return { loss, gradNorm, grads: out.grads };
  }

  /** Clip (by value, then by global norm) and apply the update; frees the gradients. */
  clipAndUpdate(grads: Grads, gradNorm: number): void {
    const { clipValue, clipNorm } = this.config;
    tf.tidy(() => {
      let g = grads;
      if (clipValue !== null) g = clipByValue(g, clipValue);
      if (clipNorm !== null) g = clipByGlobalNorm(g, gradNorm, clipNorm);
      this.optimizer.apply(this.vars, g);
    });
    tf.dispose(Object.values(grads));
  }

  log(loss: number, gradNorm: number): void {
    const { step, optimizer } = this;
    this.sink?.log({ type: 'step', step, loss, gradNorm, lr: optimizer.lr });
    this.options.onProgress?.({ step, steps: this.config.steps, loss, lr: optimizer.lr });
  }

  /**
   * After the loop: the last evaluation and probe if the loop did not just run them, the best
   * weights put back (restoreBest), the end record.
   */
  async finish(): Promise<TrainResult> {
    if (this.evaluatedAt !== this.step) await this.evaluate();
    if (this.probeBatch && this.probedAt !== this.step) await this.probe();
    const weightsStep = await this.endWithBest();
    const elapsedMs = performance.now() - this.started;
    const status: TrainStatus = this.earlyStopped ? 'early-stopped' : 'completed';
    // a resumed run times only the steps it ran itself
    const stepsRun = this.step - (this.options.resume?.step ?? 0);
    const { gradflowMs } = this;
    this.sink?.log({
      type: 'end',
      step: this.step,
      status,
      elapsedMs,
      stepsPerSec: stepsRun / (elapsedMs / 1000),
      gradflowMs,
    });
    return {
      status,
      steps: this.step,
      finalEval: this.evals[this.evals.length - 1],
      bestEval: { step: this.plateau.bestStep, loss: this.plateau.best },
      evals: this.evals,
      gradflow: this.gradflow,
      weightsStep,
      elapsedMs,
      gradflowMs,
    };
  }

  /**
   * restoreBest: put the best evaluation's weights back and checkpoint them (without a resume
   * record: the run's state is the last step's, the weights are not). Returns the step whose
   * weights the model now holds.
   */
  private async endWithBest(): Promise<number> {
    const from = this.best.step;
    if (!this.config.restoreBest || from === null || from === this.step) return this.step;
    this.best.restoreInto(this.vars);
    const { runDir } = this.options;
    if (this.saveCheckpoints && runDir) {
      const extra = { ...this.options.checkpointExtra?.(), bestOf: this.step };
      await writeCheckpoint(this.model, runDir, from, this.config, extra);
    }
    return from;
  }

  async dispose(): Promise<void> {
    this.data.dispose();
    this.best.dispose();
    this.optimizer.dispose();
    await this.workers?.dispose();
  }

  /** Log and throw: the last checkpoint written (if any) is the last good one. */
  private diverge(what: string, loss: number, gradNorm: number): never {
    const { runDir } = this.options;
    this.sink?.log({ type: 'diverged', step: this.step, loss, gradNorm });
    const kept =
      runDir && this.checkpointAt !== null
        ? `; last good checkpoint (step ${this.checkpointAt}) kept in ${runDir.file('checkpoint.json')}`
        : '';
    throw new SeqlabError('diverged', `training diverged: ${what} at step ${this.step}${kept}`);
  }

  /** The resume record after the current batch. */
  private async resumeState(): Promise<ResumeState> {
    const carried = this.task.stateful ? this.data.state : null;
    return {
      step: this.step,
      optimizer: await this.optimizer.snapshot(),
      dataRng: this.data.rng.snapshot(),
      dropoutRng: this.dropoutRng.snapshot(),
      plateau: { best: this.plateau.best, bestStep: this.plateau.bestStep, sinceBest: this.plateau.sinceBest },
      taskPosition: this.task.position?.(),
      carried: carried
        ? await Promise.all(
            carried.map((layer) =>
              Promise.all(
                layer.map(async (s) => ({
                  shape: [s.shape[0], s.shape[1]] as [number, number],
                  values: Array.from(await s.data()),
                })),
              ),
            ),
          )
        : null,
      evals: [...this.evals],
      gradflow: [...this.gradflow],
      ...(this.config.restoreBest ? { best: await this.best.snapshot() } : {}),
    };
  }
}

/**
 * The training data as chunks that hold targets: batches drawn from the task with the seeded
 * data generator, each cut into chunks of `bptt` steps (the whole sequence when 0), and the
 * recurrent state that flows from chunk to chunk. Chunks without targets only advance the state.
 */
class ChunkStream {
  /** The state the next chunk starts from (owned here). */
  state: State[];
  private batch: Batch | null = null;
  private bounds: [number, number][] = [];
  private next_ = 0;

  constructor(
    private readonly model: SequenceModel,
    private readonly task: SequenceTask,
    private readonly config: Readonly<TrainConfig>,
    readonly rng: Rng,
    carried: State[] | null,
  ) {
    this.state = carried ?? [];
  }

  /** True when the last chunk handed out ended its batch. */
  get atBatchEnd(): boolean {
    return this.next_ === this.bounds.length;
  }

  /** The next chunk with targets; the caller disposes it. */
  async next(beforeChunk?: () => Promise<void>): Promise<ChunkTensors> {
    for (;;) {
      if (this.batch === null || this.atBatchEnd) this.nextBatch();
      if (beforeChunk) await beforeChunk();
      const [t0, t1] = this.bounds[this.next_++];
      const chunk = chunkTensors(this.batch as Batch, this.task, t0, t1);
      if (chunk.count > 0) return chunk;
      // no targets here: advance the state only
      const { model } = this;
      const after = tf.tidy(() => model.run(chunkInputs(model, chunk), this.state).final.map(keep));
      this.advance(after);
      disposeChunk(chunk);
    }
  }

  /** Replace the carried state (the old one is freed). */
  advance(next: State[]): void {
    tf.dispose(this.state.flat());
    this.state = next;
  }

  dispose(): void {
    tf.dispose(this.state.flat());
    this.state = [];
  }

  private nextBatch(): void {
    const { task, model, config } = this;
    const restart = task.startsStream?.() ?? false; // e.g. the next batch begins a new pass over an LM's text
    const batch = task.trainBatch(this.rng, config.batchSize);
    if (this.state.length === 0 || restart || !task.stateful) this.advance(model.initState(batch.batchSize));
    this.batch = batch;
    const len = config.bptt > 0 ? config.bptt : batch.seqLen;
    this.bounds = [];
    for (let t0 = 0; t0 < batch.seqLen; t0 += len) this.bounds.push([t0, Math.min(batch.seqLen, t0 + len)]);
    this.next_ = 0;
  }
}

/** The model's state detached from any graph: kept past the tidy that made it. */
const keep = (layer: State): State => layer.map((t) => tf.keep(tf.clone(t)) as tf.Tensor2D);

/** Inverted-dropout masks (0, or 1/(1 − p)) for every non-recurrent connection of one chunk, from the seeded Rng. */
function dropoutMasks(model: SequenceModel, chunk: ChunkTensors, p: number, rng: Rng): tf.Tensor3D[] {
  const [T, B] = chunk.mask.shape;
  const widths = [model.config.inputSize, ...model.layers.map((c) => c.hiddenSize)];
  const scale = 1 / (1 - p);
  return widths.map((D) => {
    const m = new Float32Array(T * B * D);
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < p ? 0 : scale;
    return tf.tensor3d(m, [T, B, D]);
  });
}
