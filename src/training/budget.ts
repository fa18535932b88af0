import { type MemoryLimits, memoryLimits } from '../compute/memory.js';
import { NORM_CHUNKS_IN_FLIGHT } from './norms-async.js';
import { CELL_SPECS, type CellKind, gateCount } from '../models/registry.js';
import { type ModelConfig, countParams } from '../models/model.js';
import type { Batch, SequenceTask } from '../tasks/task.js';
import { type ErrorMessage, SeqlabError, usageError } from '../util/errors.js';
import type { TrainConfig } from './config.js';

/**
 * What a command will hold in memory, estimated from its sizes before anything is allocated, and
 * the check that refuses what cannot fit (docs/ARCHITECTURE.md). Probe, train, compare and bench
 * call it.
 *
 * Sizes in floats (float32 on the device). Per recurrent layer of hidden size H, G gate blocks,
 * batch B, T steps:
 *   weights          G·H·(I + H + 2), plus W_hh twice more (the cell's transposed copy, the
 *                    probe's pullback operand)
 *   forward kept     T·B·(K + 2G + 2)·H: the step outputs the fused kernels keep for the backward
 *                    pass (K·H per row: rnn [y, φ′], lstm [h, c, P(4H), o(1 − tanh²c), f], gru
 *                    [h, P_h(3H), P_x(3H), z]), the input projection and h·W_hhᵀ ([T·B, G·H]
 *                    each), the stacked h's and h_{t−1}'s
 *   backward         T·B·(G + 3)·H: da for the weight gradients, ∂L/∂h_t, the carried cotangents
 *   read-out         T·B·O twice (logits and their gradient) when every step is read (an LM:
 *                    [bptt·batch·V]), B·O twice otherwise
 *   probe sweep      B·R·(G·H + 4H + W) working rows, and the Jacobians read back CHUNK steps at
 *                    a time, B·R·W each, on the device (stacked: twice) and in JS (R = W = H; 2H
 *                    in LSTM "state" mode)
 *   checkpoint.json  about 32 characters per parameter (indented JSON), built as one JS string
 */

const FLOAT = 4;
/** Floats per batch row and unit of H that one step keeps for its backward pass (fused kernels' outputs). */
const KEPT_PER_STEP: Readonly<Record<CellKind, number>> = { rnn: 2, lstm: 8, gru: 8 };
/**
 * Floats per row and unit of H that the forward pass holds for each step until it returns: the kept
 * outputs, the input projection and h_{t−1}·W_hhᵀ (G·H each), and the stacked h's and h_{t−1}'s.
 * budget.test.ts measures it on the backend for every cell kind.
 */
const forwardPerStep = (cell: CellKind) => KEPT_PER_STEP[cell] + 2 * gateCount(cell) + 2;
/** The probe's read-back chunk (gradflow.ts, Readback.CHUNK). */
const READBACK_STEPS = 32;
/**
 * Characters per parameter in checkpoint.json: float32 values printed as doubles, one a line in
 * 2-space indented JSON (measured: 27 to 31; budget.test.ts checks a checkpoint against it).
 */
export const CHECKPOINT_CHARS_PER_PARAM = 32;
/** The longest string V8 makes (2^29 − 24 characters on 64-bit Node 20): checkpoint.json is built as one. */
export const MAX_STRING_CHARS = 2 ** 29 - 24;
/**
 * Floating-point operations per second the wasm backend reaches at best on one core (README: XNNPACK's matMul runs at
 * 10–22 GFLOPS here). Time estimates divide by it, so they are lower bounds.
 */
export const BEST_FLOPS_PER_SEC = 30e9;
/**
 * Seconds a step of the forward pass or of the sweep costs however small the cell: a matMul and a
 * fused kernel through tfjs's dispatch. Measured: `seqlab probe --cell rnn --hidden 8 --seq-len 8000`
 * spends about 200 µs of CPU per time step (a forward step, a pullback, its norms), so 20 µs for
 * each of the two passes stays a lower bound on a machine five times faster.
 */
export const MIN_SECONDS_PER_STEP = 20e-6;

/**
 * The option fields a refusal may name as what to lower (messages name them through the field
 * namer, so the CLI prints each as its flag; test/cli/flags.test.ts checks each has one).
 */
export const BUDGET_FIELDS = ['seqLen', 'batch', 'batchSize', 'hiddenSize', 'bptt', 'vocabSize', 'evalSize'] as const;
export type BudgetField = (typeof BUDGET_FIELDS)[number];

/** One part of an estimate: what it is, its bytes, and the option fields that shrink it. */
export interface MemoryPart {
  what: string;
  bytes: number;
  /** Held by the backend (tensors) rather than by the process's own arrays. */
  device: boolean;
  fields: readonly BudgetField[];
}

export interface MemoryEstimate {
  /** Peak bytes of tensors. */
  deviceBytes: number;
  /** Peak bytes of the process's own arrays and strings, besides the tensors. */
  hostBytes: number;
  /** The parts of the peak, largest first. */
  parts: MemoryPart[];
  /** Characters of the longest string the work builds (checkpoint.json); 0 if none matters. */
  stringChars: number;
}

const part = (what: string, floats: number, fields: readonly BudgetField[], device = true): MemoryPart => ({
  what,
  bytes: floats * FLOAT,
  device,
  fields,
});

/** An estimate whose peak is `base` plus the largest of the `phases` (phases never overlap). */
function estimate(base: MemoryPart[], phases: MemoryPart[][], stringChars = 0): MemoryEstimate {
  const sum = (ps: MemoryPart[], device: boolean) => ps.reduce((a, p) => a + (p.device === device ? p.bytes : 0), 0);
  const total = (ps: MemoryPart[]) => sum(ps, true) + sum(ps, false);
  const peak = phases.reduce((best, p) => (total(p) > total(best) ? p : best), [] as MemoryPart[]);
  const parts = [...base, ...peak].filter((p) => p.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  return { deviceBytes: sum(parts, true), hostBytes: sum(parts, false), parts, stringChars };
}

export interface ProbeShape {
  cell: CellKind;
  hiddenSize: number;
  inputSize: number;
  seqLen: number;
  batch: number;
  /** "state": LSTM Jacobians of s = [h; c] (2H × 2H). */
  mode: 'h' | 'state';
  allPairs: boolean;
  /** Layers run below the probed one (a stacked weights file's --layer). */
  layersBelow: number;
  /** The weights are drawn here (float64 arrays), not read from a file. */
  randomWeights: boolean;
  /** The inputs are made here (a Float32Array), not read from a file. */
  randomInputs: boolean;
  /** With --spectrum: the gaps whose singular values are taken, and the Lyapunov exponents. */
  spectrum?: { gaps: number; exponents: number };
}

/** Gaps the spectra copy during the sweep and decompose after it (spectra.ts: more are decomposed as they come). */
const SPECTRA_DEFERRED_GAPS = 64;

/**
 * What the spectra add to the sweep (spectra.ts, lyapunov.ts), host memory: the Jacobians copied for
 * their decomposition, ln σ of every gap and sequence and the SVD's float64 work arrays, and the
 * Lyapunov basis Q (S × k, S = the cell's whole state) in float64 with its float32 product on the device.
 */
function spectrumParts(s: ProbeShape, R: number): MemoryPart[] {
  if (!s.spectrum) return [];
  const { gaps, exponents: k } = s.spectrum;
  const B = s.batch;
  const S = CELL_SPECS[s.cell].states.length * s.hiddenSize;
  const copied = gaps <= SPECTRA_DEFERRED_GAPS ? gaps : 1;
  return [
    part('Jacobians kept for their singular values', copied * B * R * R, ['hiddenSize', 'batch'], false),
    part('singular values per gap (float64)', 2 * gaps * B * R + 4 * R * R, ['seqLen', 'hiddenSize'], false),
    part('the Lyapunov basis (float64)', 2 * 3 * S * k, ['hiddenSize'], false),
    part('the Lyapunov tangent products', 2 * S * k, ['hiddenSize']),
  ];
}

/** Rows R and row width W of the probe's Jacobians. */
function jacobianShape(cell: CellKind, H: number, mode: 'h' | 'state'): number {
  return mode === 'state' && CELL_SPECS[cell].states.length === 2 ? 2 * H : H;
}

/** Peak memory of `seqlab probe` (jacobianNorms on one layer, with its inputs and weights). */
export function probeMemory(s: ProbeShape): MemoryEstimate {
  const { hiddenSize: H, inputSize: I, seqLen: T, batch: B } = s;
  const G = gateCount(s.cell);
  const R = jacobianShape(s.cell, H, s.mode);
  const layers = s.layersBelow + 1;
  const weights = G * H * (I + H + 2) + (layers - 1) * G * H * (2 * H + 2);
  const chunk = Math.min(READBACK_STEPS, T);
  const base = [
    part('weights', weights + 2 * G * H * H, ['hiddenSize']),
    part('inputs', 2 * T * B * I + T * B * H * s.layersBelow, ['seqLen', 'batch']),
    s.randomWeights ? part('initial weights (float64)', 2 * weights, ['hiddenSize'], false) : null,
    s.randomInputs ? part('random inputs', T * B * I, ['seqLen', 'batch'], false) : null,
    // one row object per gap: two norms per sequence plus the object itself (~160 bytes)
    part('norms per gap', T * (4 * B + 40), ['seqLen'], false),
  ].filter((p): p is MemoryPart => p !== null);
  const forward = part(`activations of ${T} steps kept for the backward sweep`, T * B * forwardPerStep(s.cell) * H, [
    'seqLen',
    'batch',
    'hiddenSize',
  ]);
  const sweep = [
    forward,
    part('the backward sweep', B * R * (G * H + 4 * H + R) + 2 * chunk * B * R * R, ['hiddenSize', 'batch']),
    part(`Jacobians read back ${chunk} steps at a time`, 2 * chunk * B * R * R, ['hiddenSize', 'batch'], false),
    // the norm thread's queue (norms-async.ts): at most NORM_CHUNKS_IN_FLIGHT chunks sent, one being filled
    part(
      'Jacobians queued for the norm thread',
      (NORM_CHUNKS_IN_FLIGHT + 1) * chunk * B * R * R,
      ['hiddenSize', 'batch'],
      false,
    ),
    ...spectrumParts(s, R),
  ];
  return estimate(base, [sweep]);
}

/** Pullback steps of a probe's sweeps: T, or every (t, k) pair besides. */
const sweepSteps = (s: ProbeShape) => (s.allPairs ? (s.seqLen * (s.seqLen + 1)) / 2 + s.seqLen : s.seqLen);

/**
 * Floating-point operations of a probe: the forward pass, and the sweep's [B·R, G·H]·[G·H, H] per
 * step (T²/2 steps with allPairs), and with the spectra their decompositions and the QR method's products.
 */
export function probeFlops(s: ProbeShape): number {
  const { hiddenSize: H, inputSize: I, seqLen: T, batch: B } = s;
  const G = gateCount(s.cell);
  const R = jacobianShape(s.cell, H, s.mode);
  const forward = T * B * 2 * G * H * (I + H) + s.layersBelow * T * B * 4 * G * H * H;
  // the spectra: a bidiagonalization (4R³) per gap and sequence, and W_hh·Q (2H²k) per step of the QR method
  const spectra = s.spectrum ? s.spectrum.gaps * B * 4 * R ** 3 + T * 2 * H * H * s.spectrum.exponents : 0;
  return forward + sweepSteps(s) * B * 2 * R * G * H * H + spectra;
}

/** A lower bound on a probe's seconds: its FLOP at the best rate, or its steps at the least cost each. */
export function probeSeconds(s: ProbeShape): number {
  const steps = s.seqLen * (1 + s.layersBelow) + sweepSteps(s);
  return Math.max(probeFlops(s) / BEST_FLOPS_PER_SEC, steps * MIN_SECONDS_PER_STEP);
}

/** The data and schedule a training run works on, as the task states them (or a lower bound before it exists). */
export interface TrainShape {
  model: Readonly<ModelConfig>;
  batchSize: number;
  /** Steps per training chunk: bptt, or the whole training sequence. */
  chunkLen: number;
  /** Every step is read out (an LM's logits) or only the last. */
  readout: 'every' | 'last';
  optimizer: string;
  /** Gradient threads: each holds its share of the batch's activations. */
  threads: number;
  eval: { batchSize: number; seqLen: number };
  /** The gradient-flow probe batch; null when probes are off. */
  probe: { batchSize: number; seqLen: number; mode: 'h' | 'state' } | null;
  /** Sequences the task holds in memory (eval set and the like), as floats; 0 when unknown. */
  dataFloats: number;
  /** checkpoint.json is written (a run directory). */
  checkpoint: boolean;
}

const SLOTS: Readonly<Record<string, number>> = { sgd: 0, momentum: 1, rmsprop: 1, adam: 2 };

/** The forward (and, when training, backward) tensors of one chunk of the whole stack. */
function chunkParts(m: Readonly<ModelConfig>, T: number, B: number, readout: 'every' | 'last', backward: boolean) {
  const { hiddenSize: H, numLayers: L, cell } = m;
  const G = gateCount(cell);
  const perLayer = forwardPerStep(cell) + (backward ? G + 3 : 0);
  const O = m.outputSize;
  const readRows = readout === 'every' ? T * B : B;
  const outFields: BudgetField[] = m.vocabSize !== null ? ['bptt', 'batchSize', 'vocabSize'] : ['batchSize', 'seqLen'];
  return [
    part(
      `activations of ${T} steps × ${B} sequences × ${L} layer(s)${backward ? ' kept for BPTT' : ''}`,
      T * B * (perLayer * H * L + m.inputSize * (backward ? 2 : 1)),
      ['seqLen', 'batchSize', 'hiddenSize'],
    ),
    part(
      m.vocabSize !== null ? `logits [${T}·${B}·${O}]` : 'read-out',
      readRows * O * (backward ? 2 : 1) + readRows * H,
      outFields,
    ),
  ];
}

/**
 * Peak memory of a training run: weights, gradients, optimizer slots, and the largest of a step, an
 * evaluation, a probe.
 */
export function trainMemory(s: TrainShape): MemoryEstimate {
  const m = s.model;
  const P = countParams(m);
  const G = gateCount(m.cell);
  const H = m.hiddenSize;
  const slots = SLOTS[s.optimizer] ?? 2;
  const shareOfBatch = Math.ceil(s.batchSize / Math.max(1, s.threads));
  const base = [
    part('weights, gradients and optimizer state', P * (2 + slots) + m.numLayers * G * H * H, ['hiddenSize']),
    part('training and evaluation data', s.dataFloats, ['seqLen', 'evalSize'], false),
  ];
  const checkpointChars = s.checkpoint ? P * CHECKPOINT_CHARS_PER_PARAM : 0;
  // the JSON text (one byte a character) and the weights as arrays of JS numbers
  if (s.checkpoint) base.push(part('checkpoint.json', checkpointChars / FLOAT + 4 * P, ['hiddenSize'], false));
  const step = chunkParts(m, s.chunkLen, shareOfBatch, s.readout, true);
  if (m.dropout > 0)
    step.push(part('dropout masks', s.chunkLen * s.batchSize * (m.inputSize + H * m.numLayers), ['batchSize']));
  const evaluation = chunkParts(m, s.eval.seqLen, s.eval.batchSize, s.readout, false);
  const phases = [step, evaluation];
  if (s.probe) {
    const probe = probeMemory({
      cell: m.cell,
      hiddenSize: H,
      inputSize: H,
      seqLen: s.probe.seqLen,
      batch: s.probe.batchSize,
      mode: s.probe.mode,
      allPairs: false,
      layersBelow: 0,
      randomWeights: false,
      randomInputs: false,
    });
    phases.push(probe.parts.filter((p) => p.what !== 'weights'));
  }
  return estimate(base, phases, checkpointChars);
}

/** Floats held by a task's batches (inputs, tokens, targets, masks). */
function batchFloats(batches: readonly Batch[]): number {
  return batches.reduce(
    (n, b) => n + b.inputs.length + b.targets.length + (b.tokens?.length ?? 0) + (b.mask?.length ?? 0),
    0,
  );
}

/**
 * The shape of a training run on a built task: the training length is taken as the longest of its
 * evaluation and probe sequences (tasks draw them like their training batches, or longer).
 */
export function trainShapeOf(
  task: SequenceTask,
  model: Readonly<ModelConfig>,
  config: Readonly<TrainConfig>,
  threads: number,
  checkpoint: boolean,
): TrainShape {
  const evals = task.evalBatches();
  const probe = task.probeBatch();
  const most = (xs: readonly Batch[], f: (b: Batch) => number) => xs.reduce((m, b) => Math.max(m, f(b)), 0);
  const evalSeqLen = most(evals, (b) => b.seqLen);
  const seqLen = Math.max(probe.seqLen, evalSeqLen);
  return {
    model,
    batchSize: config.batchSize,
    chunkLen: config.bptt > 0 ? Math.min(config.bptt, seqLen) : seqLen,
    readout: task.readout,
    optimizer: config.optimizer,
    threads,
    eval: { batchSize: most(evals, (b) => b.batchSize), seqLen: evalSeqLen },
    probe:
      config.gradflowEvery > 0 ? { batchSize: probe.batchSize, seqLen: probe.seqLen, mode: config.gradflowMode } : null,
    dataFloats: batchFloats(evals) + batchFloats(task.testBatches?.() ?? []) + batchFloats([probe]),
    checkpoint,
  };
}

/**
 * A lower bound on a synthetic task's run before the task is built (its data would be the first
 * large allocation): one input and one output per step, `evalSize` sequences of `seqLen` held.
 */
export function trainShapeBefore(
  model: Readonly<ModelConfig>,
  config: Readonly<TrainConfig>,
  seqLen: number,
  evalSize: number,
): TrainShape {
  return {
    model,
    batchSize: config.batchSize,
    chunkLen: config.bptt > 0 ? Math.min(config.bptt, seqLen) : seqLen,
    readout: 'last',
    optimizer: config.optimizer,
    threads: 1,
    eval: { batchSize: 1, seqLen },
    probe: null,
    dataFloats: 2 * evalSize * seqLen,
    checkpoint: false,
  };
}

/** Peak memory of `seqlab bench`'s training step: an LM chunk of `bptt` × `batch` tokens, SGD, no evaluation. */
export function benchMemory(
  model: Readonly<ModelConfig>,
  batch: number,
  bptt: number,
  threads: number,
): MemoryEstimate {
  return trainMemory({
    model,
    batchSize: batch,
    chunkLen: bptt,
    readout: 'every',
    optimizer: 'sgd',
    threads,
    eval: { batchSize: 0, seqLen: 0 },
    probe: null,
    dataFloats: 2 * bptt * batch,
    checkpoint: false,
  });
}

/** Bytes as people read them: "150 GiB", "3.8 GiB", "240 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toPrecision(2)} ${units[u]}`;
}

/** Hours as people read them: "40 min", "17 hours", "3.2 days". */
export function formatDuration(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 72 * 3600) return `${(seconds / 3600).toPrecision(2).replace(/\.0$/, '')} hours`;
  return `${(seconds / 86400).toPrecision(2)} days`;
}

/** The fields that shrink the largest parts (those within 4× of the largest), at most three, as "a, b or c". */
function whatToLower(parts: MemoryPart[], field: (f: string) => string): string {
  const fields: string[] = [];
  const large = parts.filter((p) => p.bytes >= parts[0].bytes / 4);
  for (const p of large) for (const f of p.fields) if (!fields.includes(f) && fields.length < 3) fields.push(f);
  const named = fields.map(field).filter((f, i, all) => all.indexOf(f) === i);
  return named.length <= 1 ? named.join('') : `${named.slice(0, -1).join(', ')} or ${named.at(-1)}`;
}

/**
 * Refuse (a usage error: the sizes asked for are the mistake) what cannot fit: the tensors beyond
 * the backend's memory (the wasm heap), everything beyond the machine's available memory, or a
 * checkpoint beyond the longest string JS makes. `command` names the work ("probe", "train").
 */
export function checkMemory(command: string, est: MemoryEstimate, limits: MemoryLimits = memoryLimits()): void {
  const total = est.deviceBytes + est.hostBytes;
  const top = est.parts[0];
  const biggest = top ? ` (${top.what}: ${formatBytes(top.bytes)})` : '';
  let message: ErrorMessage | null = null;
  if (limits.deviceBytes !== null && est.deviceBytes > limits.deviceBytes) {
    message = (field) =>
      `${command} needs about ${formatBytes(est.deviceBytes)} of tensor memory${biggest}, more than the ` +
      `${limits.backend} backend's ${formatBytes(limits.deviceBytes as number)} heap holds: ` +
      `lower ${whatToLower(
        est.parts.filter((p) => p.device),
        field,
      )}`;
  } else if (total > limits.hostBytes) {
    message = (field) =>
      `${command} needs about ${formatBytes(total)}${biggest}, ${formatBytes(limits.hostBytes)} free: ` +
      `lower ${whatToLower(est.parts, field)}`;
  } else if (est.stringChars > MAX_STRING_CHARS) {
    message = (field) =>
      `${command}'s checkpoint.json would be about ${formatBytes(est.stringChars)} of JSON, more than the ` +
      `${formatBytes(MAX_STRING_CHARS)} a JavaScript string holds: ` +
      `lower ${field('hiddenSize')} or ${field('numLayers')}`;
  }
  if (message) throw usageError(message);
}

/**
 * Refuse work that would take longer than `maxHours` even at the best rate this backend reaches
 * (a lower bound on the time); maxHours 0 = no limit. The message says how to run it anyway.
 */
export function checkTime(command: string, seconds: number, maxHours: number, lower: readonly BudgetField[]): void {
  if (maxHours <= 0 || seconds <= maxHours * 3600) return;
  throw new SeqlabError(
    'usage',
    (field) =>
      `${command} would take at least ${formatDuration(seconds)} (more than ${field('maxHours')} ${maxHours}): ` +
      `lower ${lower.map(field).join(' or ')}, or pass ${field('maxHours')} 0 to run it anyway ` +
      '(progress on stderr; Ctrl-C stops it)',
  );
}
