import * as tf from '@tensorflow/tfjs';
import type { CellKind } from '../models/registry.js';
import { CELL_DEFAULTS } from '../models/cell.js';
import { SequenceModel, modelConfigFor } from '../models/model.js';
import { modelLossAndGrads } from '../training/bptt.js';
import { jacobianNorms } from '../training/gradflow.js';
import { gradientSpectra } from '../training/spectra.js';
import type { ChunkTensors } from '../training/loss.js';
import { Optimizer, OPTIMIZER_DEFAULTS, clipByGlobalNorm, globalNorm } from '../training/optim.js';
import { GradWorkers, resolveThreads } from '../training/parallel.js';
import { Rng } from '../util/rng.js';
import { TRAIN_DEFAULTS } from '../training/config.js';
import { trainRun } from './train.js';
import { randomCell } from '../models/model.js';
import { benchMemory, checkMemory, probeMemory } from '../training/budget.js';
import { memoryLimits, resolvedBackend } from '../compute/memory.js';

/**
 * Throughput of the word-level LM training step, the same step as the peers'
 * reference scripts: embedding(V, H) → one recurrent layer (H) → linear to V at
 * every position → softmax cross-entropy (mean over B·T) → backward (full BPTT over
 * one chunk) → clip the global gradient norm to 5 → SGD with lr 1. Inputs and
 * targets are fixed random tokens, as in the peers' scripts.
 */
export interface BenchConfig {
  cell: CellKind;
  hidden: number;
  vocab: number;
  batch: number;
  bptt: number;
  steps: number;
  warmup: number;
  seed: number;
  /** Threads per gradient, as the trainer's --threads (the same resolution of "auto"). */
  threads: number | 'auto';
}

export const BENCH_DEFAULTS: Readonly<BenchConfig> = {
  cell: 'lstm',
  hidden: 128,
  vocab: 1000,
  batch: 20,
  bptt: 35,
  steps: 20,
  warmup: 2,
  seed: 1,
  threads: 'auto',
};

export interface BenchResult {
  impl: string;
  cell: CellKind;
  hidden: number;
  vocab: number;
  batch: number;
  length: number;
  threads: number;
  msPerBatch: number;
  tokensPerSec: number;
  /**
   * Memory over the timed steps: resident set size (MiB, whole process: both threads)
   * and live tensors after the warm-up and after every tenth of the steps, and the peak RSS.
   */
  memory: { rssMiB: number[]; tensors: number[]; peakRssMiB: number };
}

/**
 * The benchmark's model and threads, after the size check (budget.ts): refuses a configuration that
 * cannot fit before anything is allocated. `backend`: as --backend takes it ("" = the running one).
 */
export function checkBenchSize(config: Partial<BenchConfig>, backend = '') {
  const c = { ...BENCH_DEFAULTS, ...config };
  const data = { inputSize: 0, outputSize: c.vocab, vocabSize: c.vocab };
  const modelConfig = modelConfigFor(data, { cell: c.cell, hiddenSize: c.hidden, numLayers: 1 });
  const threads = resolveThreads(c.threads, modelConfig, c.batch, resolvedBackend(backend));
  checkMemory('bench', benchMemory(modelConfig, c.batch, c.bptt, threads), memoryLimits(backend));
  return { modelConfig, threads };
}

export async function benchTrainStep(config: Partial<BenchConfig> = {}): Promise<BenchResult> {
  const c = { ...BENCH_DEFAULTS, ...config };
  const rng = new Rng(c.seed);
  const { modelConfig, threads } = checkBenchSize(c);
  const model = SequenceModel.random(modelConfig, rng);
  const ids = Int32Array.from({ length: c.bptt * c.batch }, () => rng.int(c.vocab));
  const targets = Int32Array.from({ length: c.bptt * c.batch }, () => rng.int(c.vocab));
  const chunk: ChunkTensors = {
    inputs: null,
    tokens: tf.tensor2d(ids, [c.bptt, c.batch], 'int32'),
    tokenIds: ids,
    targets: tf.tensor1d(targets, 'int32'),
    mask: tf.ones([c.bptt, c.batch]) as tf.Tensor2D,
    count: c.bptt * c.batch,
  };
  const optimizer = new Optimizer({ ...OPTIMIZER_DEFAULTS, optimizer: 'sgd', lr: 1 });
  const vars = model.variables();
  const workers = threads > 1 ? await GradWorkers.create(model) : null;
  const lossAndGrads = workers ? workers.lossAndGrads.bind(workers) : modelLossAndGrads;
  const step = () => {
    const state0 = model.initState(c.batch);
    const r = lossAndGrads(model, chunk, state0, 'every', 'xent');
    const norm = globalNorm(r.grads);
    const n = norm.dataSync()[0];
    tf.tidy(() => optimizer.apply(vars, clipByGlobalNorm(r.grads, n, 5)));
    r.loss.dataSync();
    tf.dispose([...state0.flat(), r.loss, norm, ...Object.values(r.grads), ...r.final.flat()]);
  };
  const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
  const memory: BenchResult['memory'] = { rssMiB: [], tensors: [], peakRssMiB: 0 };
  const sample = () => {
    const rss = process.memoryUsage.rss();
    memory.rssMiB.push(mib(rss));
    memory.tensors.push(tf.memory().numTensors);
  };
  try {
    for (let i = 0; i < c.warmup; i++) step();
    sample();
    const every = Math.max(1, Math.round(c.steps / 10));
    let sampling = 0; // time spent sampling, left out of the timing
    const t0 = performance.now();
    for (let i = 1; i <= c.steps; i++) {
      step();
      if (i % every === 0 || i === c.steps) {
        const s0 = performance.now();
        sample();
        sampling += performance.now() - s0;
      }
    }
    const ms = (performance.now() - t0 - sampling) / c.steps;
    // the OS's high-water mark of the resident set (KiB), covering the whole run
    memory.peakRssMiB = mib(process.resourceUsage().maxRSS * 1024);
    return {
      impl: `seqlab (${tf.getBackend()})`,
      cell: c.cell,
      hidden: c.hidden,
      vocab: c.vocab,
      batch: c.batch,
      length: c.bptt,
      threads,
      msPerBatch: +ms.toFixed(2),
      tokensPerSec: Math.round((c.batch * c.bptt) / (ms / 1000)),
      memory,
    };
  } finally {
    await workers?.dispose();
    optimizer.dispose();
    tf.dispose([chunk.tokens as tf.Tensor, chunk.targets, chunk.mask]);
    model.dispose();
  }
}

/** A timed call: wall ms of a warm call and its CPU ms (the whole process: the norm thread too), and the first call. */
export interface CallTiming {
  ms: number;
  cpuMs: number;
  firstMs: number;
}

export interface ProbeBench extends CallTiming {
  cell: CellKind;
  hidden: number;
  T: number;
  /** The same probe with every singular value at 32 log-spaced gaps and 32 Lyapunov exponents (probe --spectrum). */
  spectrum: CallTiming;
}

/**
 * Time the probe (all k, spectral + Frobenius) on one random sequence of a fresh cell, and the
 * same probe with the spectra (`seqlab probe --spectrum`'s defaults): `ms` after one untimed
 * warm-up call of the same size (as a training run's periodic probes are), with its CPU time,
 * which a busy machine disturbs less; `firstMs` for the first call in the process (which also
 * starts the norm thread and compiles the code paths).
 */
export async function benchProbe(cell: CellKind = 'lstm', hidden = 128, seqLen = 1000, seed = 1): Promise<ProbeBench> {
  const rng = new Rng(seed);
  const shape = { cell, hiddenSize: hidden, inputSize: 16, seqLen, batch: 1, mode: 'h' as const, allPairs: false };
  checkMemory('bench', probeMemory({ ...shape, layersBelow: 0, randomWeights: true, randomInputs: true }));
  const c = randomCell(cell, 16, hidden, CELL_DEFAULTS, rng);
  const xs = tf.tensor3d(
    Float32Array.from({ length: seqLen * 16 }, () => rng.normal()),
    [seqLen, 1, 16],
  );
  const timed = async (probe: () => Promise<unknown>) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await probe();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { ms: +ms.toFixed(1), cpuMs: +((cpu.user + cpu.system) / 1000).toFixed(1) };
  };
  const timing = async (probe: () => Promise<unknown>): Promise<CallTiming> => {
    const first = await timed(probe);
    return { ...(await timed(probe)), firstMs: first.ms };
  };
  try {
    const norms = await timing(() => jacobianNorms(c, xs));
    const spectrum = await timing(() => gradientSpectra(c, xs));
    return { cell, hidden, T: seqLen, ...norms, spectrum };
  } finally {
    xs.dispose();
    c.dispose();
  }
}

export interface GradflowOverheadConfig {
  cell: CellKind;
  hidden: number;
  seqLen: number;
  steps: number;
  repeats: number;
}

export const GRADFLOW_BENCH_DEFAULTS: Readonly<GradflowOverheadConfig> = {
  cell: 'lstm',
  hidden: 64,
  seqLen: 50,
  steps: 300,
  repeats: 2,
};

/**
 * What the gradient-flow probes add to training: the same seeded adding-task run with the
 * probes at the default intervals (the spectra every spectrumEvery steps with them), with the
 * probes but no spectra, and with neither, interleaved `repeats` times (best of each). Also the
 * probes' own timed share of the run, which machine load disturbs less, and the CPU time of
 * each run (the whole process).
 */
export async function benchGradflowOverhead(config: Partial<GradflowOverheadConfig> = {}, backend = tf.getBackend()) {
  const c = { ...GRADFLOW_BENCH_DEFAULTS, ...config };
  const run = async (gradflowEvery: number, spectrumEvery: number) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await trainRun({
      task: 'adding',
      taskOptions: { seqLen: c.seqLen },
      model: { cell: c.cell, hiddenSize: c.hidden },
      train: { steps: c.steps, gradflowEvery, spectrumEvery },
      backend,
    });
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, gradflowMs: r.result.gradflowMs };
  };
  type Run = Awaited<ReturnType<typeof run>>;
  const on: Run[] = [];
  const noSpectra: Run[] = [];
  const off: Run[] = [];
  const { gradflowEvery, spectrumEvery } = TRAIN_DEFAULTS;
  for (let i = 0; i < c.repeats; i++) {
    off.push(await run(0, 0));
    noSpectra.push(await run(gradflowEvery, 0));
    on.push(await run(gradflowEvery, spectrumEvery));
  }
  const best = (xs: Run[], key: 'ms' | 'cpuMs' | 'gradflowMs' = 'ms') => Math.min(...xs.map((x) => x[key]));
  const probeMs = best(on, 'gradflowMs');
  const normsProbeMs = best(noSpectra, 'gradflowMs');
  return {
    ...c,
    gradflowEvery,
    spectrumEvery,
    withProbesMs: Math.round(best(on)),
    withoutSpectraMs: Math.round(best(noSpectra)),
    withoutProbesMs: Math.round(best(off)),
    withProbesCpuMs: Math.round(best(on, 'cpuMs')),
    withoutProbesCpuMs: Math.round(best(off, 'cpuMs')),
    probeMs: Math.round(probeMs),
    spectraMs: Math.round(Math.max(0, probeMs - normsProbeMs)),
    // wall-clock difference of two runs (noisy on a busy machine), and the probes' own timed share of the run
    overheadPercent: +(100 * (best(on) / best(off) - 1)).toFixed(1),
    probeSharePercent: +((100 * probeMs) / best(on)).toFixed(1),
    spectraSharePercent: +((100 * Math.max(0, probeMs - normsProbeMs)) / best(on)).toFixed(1),
  };
}
