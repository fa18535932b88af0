import * as tf from '@tensorflow/tfjs';
import type { Cell } from '../models/cell.js';
import { type CellKind, specOf } from '../models/registry.js';
import { SequenceModel, modelConfigFor } from '../models/model.js';
import { runFromLog } from '../report/runlog.js';
import type { RunData } from '../report/runlog.js';
import { AddingTask } from '../tasks/adding.js';
import { AgreementTask } from '../tasks/agreement/task.js';
import { CopyTask } from '../tasks/copy.js';
import { forwardSequence } from '../training/bptt.js';
import { spectralNorm } from '../training/linalg.js';
import type { RunLog } from '../runlog/rundir.js';
import type { LogRecord } from '../runlog/schema.js';
import type { Batch, SequenceTask } from '../tasks/task.js';
import type { TrainConfig } from '../training/config.js';
import { probeGradientFlow } from '../training/measure.js';
import { train, type TrainResult } from '../training/trainer.js';
import { stripUndefined } from '../util/objects.js';
import { Rng } from '../util/rng.js';
import {
  type LabRunSpec,
  type LabSettings,
  type LabTask,
  checkSettings,
  labRunSpec,
  labTrainConfig,
} from './settings.js';

/**
 * The browser lab's side of training: settings → the same task, model and train
 * config `seqlab train` builds, one library `train()` per cell, all cells interleaved
 * step by step (each awaits `yieldNow` before its next step, so the page keeps
 * answering clicks), with Pause/Resume/Stop. Nothing here touches the DOM.
 *
 * Browser-safe imports only: the task registry is not imported (it pulls in the corpus
 * readers, which need node:fs); labTask builds the three lab tasks the way it does.
 */

/** The task of a spec, built as the library's createTask builds it. */
export function labTask(spec: LabRunSpec, seed: number): SequenceTask {
  const o = spec.taskOptions;
  switch (spec.task) {
    case 'adding':
      return new AddingTask(stripUndefined({ seqLen: o.seqLen, evalSize: o.evalSize, seed }));
    case 'copy':
      return new CopyTask(stripUndefined({ seqLen: o.seqLen, evalSize: o.evalSize, seed }));
    case 'agreement':
      return new AgreementTask({ ...o.agreement, testSize: o.evalSize, seed });
  }
}

/** What the "why" panel explains a curve with, measured on the probe batch at one step. */
export interface WhyStats {
  step: number;
  /** σ_max(∂s_T/∂s_{T−1}), mean over the probe batch: the one-step gain. */
  oneStepGain: number | null;
  /** Vanilla RNN: ‖U‖₂ = σ_max(W_hh) and the bound max|φ′(a_T)|·‖U‖₂ on the one-step gain (mean over the probe). */
  recurrentNorm?: number;
  bound?: number;
  /** Cells with a memory gate (CellSpec.memoryGate: the LSTM's f, the GRU's z): its mean over the probe's steps. */
  gateMean?: number;
}

export type RunStatus = 'idle' | 'running' | 'done' | 'stopped' | 'failed';

/** What the page shows of one cell's run: its log as the trainer writes it, and where it is (a worker sends these). */
export interface CellRunState {
  cell: CellKind;
  config: Readonly<TrainConfig>;
  step: number;
  records: LogRecord[];
  why: WhyStats | null;
  status: RunStatus;
  error: string | null;
}

/** One cell's run where it trains: its state, with its task and model. */
export interface CellRun extends CellRunState {
  spec: LabRunSpec;
  task: SequenceTask;
  model: SequenceModel;
  result: TrainResult | null;
}

/** Runs as the report's plots read them (label = cell). */
export function labRunData(task: LabTask, runs: readonly CellRunState[]): RunData[] {
  return runs.map((r) => runFromLog(r.cell, r.cell, { taskName: task, train: r.config }, null, r.records));
}

/** Thrown into a trainer by Stop; the trainer frees its tensors on the way out. */
class Stopped extends Error {}

export interface SessionHooks {
  /** Let the page run (e.g. a macrotask). Awaited before every step of every cell. */
  yieldNow: () => Promise<void>;
  /** A run logged a record (step, eval, gradflow, pairs) or its status changed. */
  onUpdate: (run: CellRun) => void;
  /** Paused, and every run still training now waits before its next step (nothing moves until resume). */
  onHeld?: () => void;
}

/**
 * Train several cells side by side on one task. Every cell gets the task and
 * weights trainRun would give it for the same settings and seed.
 */
export class LabSession {
  readonly settings: Readonly<LabSettings>;
  readonly runs: CellRun[];
  private paused = false;
  private stopped = false;
  private wake: (() => void)[] = [];
  /** Runs waiting at the gate while paused. */
  private held = 0;

  constructor(
    settings: LabSettings,
    private readonly hooks: SessionHooks,
  ) {
    this.settings = checkSettings(settings);
    this.runs = this.settings.cells.map((cell) => {
      const spec = labRunSpec(this.settings, cell);
      const task = labTask(spec, this.settings.seed);
      const config = labTrainConfig(this.settings, cell);
      const model = SequenceModel.random(modelConfigFor(task, spec.model), new Rng(`${config.seed}/init`));
      return {
        cell,
        spec,
        config,
        task,
        model,
        step: 0,
        records: [],
        why: null,
        status: 'idle',
        error: null,
        result: null,
      };
    });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Train every cell; resolves when all have finished, failed or been stopped. */
  async start(): Promise<void> {
    await Promise.all(this.runs.map((run) => this.runOne(run)));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeAll();
  }

  /** Stop every run at its next step. The models stay (for inspection) until dispose(). */
  stop(): void {
    this.stopped = true;
    this.wakeAll();
  }

  dispose(): void {
    this.stop();
    for (const run of this.runs) run.model.dispose();
  }

  /** Runs as the report's plots read them (label = cell). */
  runData(): RunData[] {
    return labRunData(this.settings.task, this.runs);
  }

  private wakeAll(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  private async gate(): Promise<void> {
    await this.hooks.yieldNow();
    while (this.paused && !this.stopped) {
      this.held++;
      this.checkHeld();
      await new Promise<void>((resolve) => this.wake.push(resolve));
      this.held--;
    }
    if (this.stopped) throw new Stopped('stopped');
  }

  private checkHeld(): void {
    const running = this.runs.filter((r) => r.status === 'running').length;
    if (this.paused && !this.stopped && running > 0 && this.held === running) this.hooks.onHeld?.();
  }

  private async runOne(run: CellRun): Promise<void> {
    // the records stay in memory: the page plots them with the report's own code
    const log: RunLog = {
      log: (rec: LogRecord) => {
        run.records.push(rec);
        if (rec.type === 'step') run.step = rec.step;
        this.hooks.onUpdate(run);
      },
    };
    let probedAt = -1;
    const extraProbes = async (step: number) => {
      if (probedAt === step) return;
      probedAt = step;
      await this.heatmapAndWhy(run, step);
      this.hooks.onUpdate(run);
    };
    run.status = 'running';
    this.hooks.onUpdate(run);
    try {
      run.result = await train(run.model, run.task, run.config, {
        log,
        beforeStep: async (step) => {
          await this.gate();
          // after the trainer's own probe at this step: the heat map and the "why" numbers on the same weights
          if (step % run.config.gradflowEvery === 0) await extraProbes(step);
        },
      });
      await extraProbes(run.result.steps);
      run.status = 'done';
    } catch (e) {
      if (e instanceof Stopped) run.status = 'stopped';
      else {
        run.status = 'failed';
        run.error = (e as Error).message;
      }
    }
    this.hooks.onUpdate(run);
    this.checkHeld(); // the others may all be waiting already
  }

  /** The (t, k) heat map (a `pairs` record, as trainRun logs at the end of a run) and the "why" numbers. */
  private async heatmapAndWhy(run: CellRun, step: number): Promise<void> {
    const probe = run.task.probeBatch();
    const [rec] = await probeGradientFlow(run.model, run.task, probe, run.config.gradflowMode, false, true);
    if (rec?.pairs)
      run.records.push({
        type: 'pairs',
        step,
        layer: rec.layer,
        mode: rec.mode,
        T: rec.T,
        norm: 'frobenius',
        pairs: rec.pairs,
      });
    const last = run.records.findLast((r) => r.type === 'gradflow');
    run.why = {
      step,
      oneStepGain: last?.spectral?.[0] ?? null,
      ...(await gateStats(run.model.layers[run.model.layers.length - 1], probe)),
    };
  }
}

/**
 * Vanilla RNN: ‖U‖₂ and the bound ‖J_T‖ ≤ max|φ′(a_T)|·‖U‖₂ (J_T = diag(φ′(a_T)) U, docs/ARCHITECTURE.md);
 * LSTM: the mean forget gate; GRU: the mean update gate. On the probe batch, one layer deep.
 */
export async function gateStats(
  cell: Cell,
  probe: Batch,
): Promise<Pick<WhyStats, 'recurrentNorm' | 'bound' | 'gateMean'>> {
  const { seqLen: T, batchSize: B } = probe;
  const xs = tf.tensor3d(probe.inputs, [T, B, cell.inputSize]);
  const H = cell.hiddenSize;
  try {
    // the pullback factors of every step: the memory gate's of every step, else the last step's φ′(a_T)
    const gate = specOf(cell).memoryGate;
    const factors = tf.tidy(() => {
      const locals = forwardSequence(cell, xs, cell.initState(B)).locals;
      return gate ? tf.stack(locals.map((l) => l[gate.local])) : locals[T - 1][0].clone();
    });
    const values = (await factors.data()) as Float32Array;
    factors.dispose();
    if (gate) return { gateMean: values.reduce((s, v) => s + v, 0) / values.length };
    const U = cell.recurrentWeight(); // [H, H]
    const u = await U.data();
    U.dispose();
    const recurrentNorm = spectralNorm(u, 0, H, H, new Float64Array(H).fill(1));
    let bound = 0;
    for (let b = 0; b < B; b++) {
      let maxPhi = 0;
      for (let i = 0; i < H; i++) maxPhi = Math.max(maxPhi, Math.abs(values[b * H + i]));
      bound += (maxPhi * recurrentNorm) / B;
    }
    return { recurrentNorm, bound };
  } finally {
    xs.dispose();
  }
}
