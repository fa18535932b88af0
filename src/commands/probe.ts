import * as tf from '@tensorflow/tfjs';
import { CELL_DEFAULTS, type CellOptions, type State } from '../models/cell.js';
import { CELL_SPECS, type CellKind, initialWeights } from '../models/registry.js';
import { createCell } from '../models/model.js';
import type { RecurrentWeights } from '../models/statedict.js';
import type { NonlinearitySource } from '../models/torch-statedict.js';
import { readTextFile } from '../data/corpus.js';
import { wordLMTokens } from '../data/word-lm-corpus.js';
import { loadRecurrentWeights, readWordLMFiles } from '../training/torch-checkpoint.js';
import { jacobianNorms, layerInputs, type JacobianMode, type JacobianResult } from '../training/gradflow.js';
import { type ProbeShape, checkMemory, checkTime, probeMemory, probeSeconds } from '../training/budget.js';
import { memoryLimits } from '../compute/memory.js';
import { LYAPUNOV_DEFAULTS, resolveLyapunovOptions, type LyapunovResult } from '../training/lyapunov.js';
import {
  SPECTRA_DEFAULTS,
  gradientSpectra,
  selectGaps,
  type GapSelection,
  type SingularSpectrumRow,
} from '../training/spectra.js';
import { specOf } from '../models/registry.js';
import { inputError, usageError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';
import { Rng } from '../util/rng.js';
import { stripUndefined } from '../util/objects.js';

export interface ProbeRunOptions extends Partial<CellOptions> {
  /** Cell of random weights; with `weights`, if given, it must match the file's. */
  cell?: CellKind;
  /**
   * Weights: safetensors with PyTorch's names (nn.RNN/LSTM/GRU, or a word_language_model RNNModel's
   * rnn.*), seqlab's JSON weights file, or a checkpoint.json; without it, random weights from the
   * options below. A safetensors plain RNN takes `nonlinearity` if given, else its metadata's, else tanh.
   */
  weights?: string;
  /** The name prefix of the recurrent module in a safetensors file ('' or 'rnn.'); default: the one found. */
  prefix?: string;
  /** {"inputs": [T][I] or [B][T][I], "h0"?, "c0"?}; without it, N(0,1) inputs (or `text`). */
  inputs?: string;
  /**
   * Real text for a word LM (`weights` a word_language_model RNNModel, `vocab` its vocabulary file):
   * read as word_language_model reads it (words, <eos> at each line's end), the first batch · seqLen
   * tokens cut into `batch` windows of `seqLen`, embedded by the model's encoder.
   */
  text?: string;
  /** The vocabulary file of a word LM (one word a line, in id order); needed by `text`. */
  vocab?: string;
  hiddenSize: number;
  inputSize: number;
  seqLen: number;
  batch: number;
  /** Which stacked layer of a weights file to probe. Default 0. */
  layer: number;
  mode: JacobianMode;
  spectral: boolean;
  allPairs: boolean;
  /** Also every singular value at `gaps` and the Lyapunov spectrum (training/spectra.ts). Default false. */
  spectrum?: boolean;
  /** With `spectrum`: "log" (up to 32 log-spaced gaps, the default), "all", or a list. */
  gaps?: GapSelection;
  /** With `spectrum`: how many Lyapunov exponents, or "all". Default 32. */
  exponents?: number | 'all';
  /** With `spectrum`: steps left out of the exponents' averages. Default 0. */
  burnIn?: number;
  /** With `spectrum`: re-orthonormalize every M steps (at most). Default 5. */
  reorthEvery?: number;
  seed: number;
  /** The backend to run on ("" or its name: the running one; "auto" as setBackend resolves it). */
  backend: string;
  /**
   * Refuse a probe that would take longer than this many hours even at the backend's best rate
   * (budget.ts: a lower bound on its time); 0 = no limit. Default 1.
   */
  maxHours?: number;
  /** Progress of the forward pass and of the sweep (steps and gaps done of T). */
  onProgress?: (phase: 'forward' | 'sweep', done: number, total: number) => void;
  /** Stop between steps when aborted (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Hours a probe may take before it is refused (ProbeRunOptions.maxHours). */
export const PROBE_MAX_HOURS = 1;

/** The spectra of a probe: as gradientSpectra returns them, per sequence only for a batch. */
export interface ProbeSpectrum {
  /** Rows × columns of each Jacobian: H × H, or 2H × 2H in the LSTM's "state" mode. */
  shape: [number, number];
  horizonThreshold: number;
  /** By ascending gap; ln σ̄ is −Infinity where σ̄ = 0 (null in JSON). */
  singular: (Omit<SingularSpectrumRow, 'perSeq'> & { perSeq?: SingularSpectrumRow['perSeq'] })[];
  lyapunov: LyapunovResult;
  /** λ_1 beside the probe's decay per step (spectral, else Frobenius): λ_1 ≈ −decay for long T. */
  lambda1: number;
  decayPerStep: number | null;
}

export interface ProbeRunResult extends Omit<JacobianResult, 'rows' | 'matrices'> {
  backend: string;
  cell: CellKind;
  hiddenSize: number;
  inputSize: number;
  layer: number;
  weights: string;
  /**
   * Where a plain RNN's φ came from: the option, the file (JSON "nonlinearity", safetensors metadata
   * "rnn_type"), or nn.RNN's default (tanh) because nothing said. null for gated cells and random weights.
   */
  nonlinearitySource: 'option' | 'file' | 'default' | null;
  /** Text probes: the file and the tokens probed ([batch][T] words). */
  text?: { file: string; tokens: string[][] };
  /** With `spectrum`. */
  spectrum?: ProbeSpectrum;
  jacobian: {
    gap: number;
    k: number;
    spectral: number | null;
    frobenius: number;
    spectralPerSeq?: number[];
    frobeniusPerSeq?: number[];
  }[];
  elapsedMs: number;
}

/** A rectangular array of finite numbers, as nested arrays of depth `depth`; else one clear line. */
function numericArray(value: unknown, depth: number, what: string): { flat: number[]; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = value;
  for (let d = 0; d < depth; d++) {
    if (!Array.isArray(probe) || probe.length === 0)
      throw inputError(`${what} must be a non-empty ${depth}-D array of numbers`);
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat: number[] = [];
  const walk = (v: unknown, d: number, path: string) => {
    if (d === depth) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw inputError(`${what}${path} is not a finite number`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[d]) {
      throw inputError(
        `${what}${path} has ${Array.isArray(v) ? v.length : 'no'} entries, expected ${shape[d]} (ragged rows)`,
      );
    }
    for (const [i, x] of v.entries()) walk(x, d + 1, `${path}[${i}]`);
  };
  walk(value, 0, '');
  return { flat, shape };
}

function depthOf(v: unknown): number {
  let d = 0;
  while (Array.isArray(v)) {
    d++;
    v = v[0];
  }
  return d;
}

interface ProbeInputs {
  xs: Float32Array; // [T, B, I]
  T: number;
  B: number;
  I: number;
  h0?: Float32Array; // [B, H]
  c0?: Float32Array;
}

export function parseProbeInputs(doc: unknown, source: string, hiddenSize: number): ProbeInputs {
  if (typeof doc !== 'object' || doc === null || !('inputs' in doc))
    throw inputError(`${source}: expected a JSON object with "inputs": [T][I] or [B][T][I]`);
  const o = doc as Record<string, unknown>;
  const d = depthOf(o.inputs);
  if (d !== 2 && d !== 3) throw inputError(`${source}: "inputs" must be [T][I] or [B][T][I], got a ${d}-D array`);
  const { flat, shape } = numericArray(o.inputs, d, `${source}: inputs`);
  const [B, T, I] = d === 2 ? [1, shape[0], shape[1]] : shape;
  const xs = new Float32Array(T * B * I);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) for (let i = 0; i < I; i++) xs[(t * B + b) * I + i] = flat[(b * T + t) * I + i];
  const state = (key: 'h0' | 'c0'): Float32Array | undefined => {
    if (o[key] === undefined) return undefined;
    const sd = depthOf(o[key]);
    const { flat: s, shape: ss } = numericArray(o[key], sd, `${source}: ${key}`);
    const [sb, sh] = sd === 1 ? [1, ss[0]] : sd === 2 ? ss : [-1, -1];
    if (sh !== hiddenSize || (sb !== 1 && sb !== B))
      throw inputError(`${source}: "${key}" must be [${hiddenSize}] or [${B}][${hiddenSize}], got [${ss.join('][')}]`);
    const out = new Float32Array(B * hiddenSize);
    for (let b = 0; b < B; b++) out.set(s.slice(sb === 1 ? 0 : b * sh, (sb === 1 ? 0 : b * sh) + sh), b * hiddenSize);
    return out;
  };
  return { xs, T, B, I, h0: state('h0'), c0: state('c0') };
}

export interface ProbeSetup {
  weights: RecurrentWeights;
  inputs: ProbeInputs;
  nonlinearitySource: ProbeRunResult['nonlinearitySource'];
  text?: ProbeRunResult['text'];
}

/** Where a plain RNN's φ came from, as the result states it (null: a gated cell). */
function sourceOf(source: NonlinearitySource | 'file'): ProbeRunResult['nonlinearitySource'] {
  return source === 'gated' ? null : source === 'metadata' ? 'file' : source;
}

/** A word LM's recurrent weights and `text` as B windows of T embedded tokens (host arrays, no tfjs). */
function textProbe(opts: ProbeRunOptions): ProbeSetup {
  const { weights: path, vocab, text } = opts as ProbeRunOptions & { weights: string; vocab: string; text: string };
  if (opts.inputs) throw usageError((field) => `give ${field('text')} or ${field('inputs')}, not both`);
  const nonlinearity = opts.nonlinearity ?? null;
  const { imported, vocabulary } = readWordLMFiles({ weights: path, vocab }, { cell: opts.cell ?? null, nonlinearity });
  const { config } = imported;
  if (opts.layer >= config.numLayers)
    throw usageError(
      (field) => `${field('layer')} ${opts.layer} is out of range: the model has ${config.numLayers} layer(s)`,
    );
  const words = wordLMTokens(readTextFile(text, 'text file'));
  const [T, B, E] = [opts.seqLen, opts.batch, config.inputSize];
  if (words.length < T * B) {
    throw inputError(
      (field) =>
        `${text} has ${words.length} tokens (words and one <eos> a line); ` +
        `${field('batch')} ${B} × ${field('seqLen')} ${T} needs ${T * B}`,
    );
  }
  const ids = vocabulary.encode(words.slice(0, T * B));
  const emb = imported.embedding;
  const xs = new Float32Array(T * B * E);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = ids[b * T + t] * E;
      for (let e = 0; e < E; e++) xs[(t * B + b) * E + e] = emb[row + e];
    }
  }
  const source = imported.nonlinearitySource;
  return {
    weights: {
      cell: config.cell,
      nonlinearity: config.nonlinearity,
      inputSize: E,
      hiddenSize: config.hiddenSize,
      layers: imported.layers,
    },
    inputs: { xs, T, B, I: E },
    nonlinearitySource: sourceOf(source),
    text: { file: text, tokens: Array.from({ length: B }, (_, b) => words.slice(b * T, (b + 1) * T)) },
  };
}

/**
 * Refuse a probe that cannot fit in memory, or would run longer than opts.maxHours, before anything
 * of its size is allocated (budget.ts).
 */
function checkProbeSize(opts: ProbeRunOptions, shape: ProbeShape): void {
  checkMemory('probe', probeMemory(shape), memoryLimits(opts.backend));
  checkTime('probe', probeSeconds(shape), opts.maxHours ?? PROBE_MAX_HOURS, ['seqLen', 'hiddenSize']);
}

/** Read and check everything the probe needs (files, shapes, its size) without touching tfjs. */
export function loadProbeSetup(opts: ProbeRunOptions): ProbeSetup {
  if (opts.text !== undefined || opts.vocab !== undefined) {
    if (opts.text === undefined || opts.vocab === undefined || opts.weights === undefined)
      throw usageError(
        (field) =>
          `a text probe needs ${field('weights')} (a word_language_model RNNModel), ` +
          `${field('vocab')} and ${field('text')}`,
      );
    return textProbe(opts);
  }
  const rng = new Rng(opts.seed);
  const shape = (cell: CellKind, hiddenSize: number, inputSize: number, T: number, B: number, random: boolean) => ({
    cell,
    hiddenSize,
    inputSize,
    seqLen: T,
    batch: B,
    mode: opts.mode,
    allPairs: opts.allPairs,
    layersBelow: opts.layer,
    randomWeights: random,
    randomInputs: !opts.inputs,
    spectrum: opts.spectrum ? spectrumShape(opts, cell, hiddenSize, T) : undefined,
  });
  let weights: RecurrentWeights;
  let nonlinearitySource: ProbeSetup['nonlinearitySource'] = null;
  if (opts.weights) {
    const nonlinearity = opts.nonlinearity ?? null;
    const loaded = loadRecurrentWeights(opts.weights, {
      cell: opts.cell ?? null,
      nonlinearity,
      prefix: opts.prefix ?? null,
    });
    if (loaded.format === 'json' && opts.prefix !== undefined)
      throw usageError(
        (field) => `${field('prefix')} applies to safetensors weights (a JSON weights file has one module)`,
      );
    const { format: _f, prefix: _p, nonlinearitySource: source, ...rest } = loaded;
    weights = rest;
    nonlinearitySource = sourceOf(source);
    if (opts.layer >= weights.layers.length)
      throw usageError(
        (field) =>
          `${field('layer')} ${opts.layer} is out of range: the weights have ${weights.layers.length} layer(s)`,
      );
  } else {
    if (opts.prefix !== undefined)
      throw usageError((field) => `${field('prefix')} needs ${field('weights')} (a safetensors file)`);
    const cellOpts = { ...CELL_DEFAULTS, ...stripUndefined(opts) };
    const cell = opts.cell ?? 'lstm';
    if (opts.layer !== 0)
      throw usageError((field) => `${field('layer')} needs ${field('weights')} with that many layers`);
    // the sizes asked for, before the weights are drawn (T and B of an inputs file: once it is read)
    const [T, B] = opts.inputs ? [1, 1] : [opts.seqLen, opts.batch];
    checkProbeSize(opts, shape(cell, opts.hiddenSize, opts.inputSize, T, B, true));
    weights = {
      cell,
      nonlinearity: cellOpts.nonlinearity,
      inputSize: opts.inputSize,
      hiddenSize: opts.hiddenSize,
      layers: [initialWeights(cell, opts.inputSize, opts.hiddenSize, cellOpts, rng.fork('init'))],
    };
  }
  const H = weights.hiddenSize;
  let inputs: ProbeInputs;
  if (opts.inputs) {
    inputs = parseProbeInputs(readJsonFile(opts.inputs, 'inputs'), opts.inputs, H);
    if (inputs.I !== weights.inputSize)
      throw inputError(
        `${opts.inputs}: inputs have ${inputs.I} features per step but the cell expects ${weights.inputSize}`,
      );
    checkProbeSize(opts, shape(weights.cell, H, inputs.I, inputs.T, inputs.B, !opts.weights));
  } else {
    const [T, B, I] = [opts.seqLen, opts.batch, weights.inputSize];
    if (opts.weights) checkProbeSize(opts, shape(weights.cell, H, I, T, B, false));
    const data = rng.fork('inputs');
    inputs = { xs: Float32Array.from({ length: T * B * I }, () => data.normal()), T, B, I };
  }
  checkSpectrumOptions(opts, inputs.T, specOf({ kind: weights.cell }).states.length * weights.hiddenSize);
  return { weights, inputs, nonlinearitySource };
}

/** The spectrum's options against the probe (T steps, state size S): one clear line before any work. */
function checkSpectrumOptions(opts: ProbeRunOptions, T: number, S: number): void {
  if (!opts.spectrum) {
    if (Object.values(spectrumOptions(opts)).some((v) => v !== undefined))
      throw usageError(
        (field) =>
          `${field('gaps')}, ${field('exponents')}, ${field('burnIn')} and ${field('reorthEvery')} ` +
          `apply with ${field('spectrum')}`,
      );
    return;
  }
  if (opts.allPairs)
    throw usageError((field) => `${field('spectrum')} and ${field('allPairs')} are separate probes: give one`);
  selectGaps(opts.gaps ?? SPECTRA_DEFAULTS.gaps, SPECTRA_DEFAULTS.maxGaps, T);
  resolveLyapunovOptions(stripUndefined(spectrumOptions(opts)), T, S);
}

/** The spectra's sizes for the size check, counted without listing the gaps (T may be huge). */
function spectrumShape(opts: ProbeRunOptions, cell: CellKind, H: number, T: number) {
  const gaps =
    opts.gaps === 'all'
      ? T
      : opts.gaps === undefined || opts.gaps === 'log'
        ? Math.min(SPECTRA_DEFAULTS.maxGaps, T)
        : opts.gaps.length;
  const S = CELL_SPECS[cell].states.length * H;
  const asked = opts.exponents ?? LYAPUNOV_DEFAULTS.exponents;
  const exponents = asked === 'all' ? S : Math.min(asked, S);
  return { gaps, exponents };
}

function spectrumOptions(opts: ProbeRunOptions) {
  const { gaps, exponents, burnIn, reorthEvery } = opts;
  return { gaps, exponents, burnIn, reorthEvery };
}

function probeSpectrum(res: Awaited<ReturnType<typeof gradientSpectra>>, perSeq: boolean): ProbeSpectrum {
  const lyapunov = res.lyapunov as LyapunovResult;
  return {
    shape: res.shape,
    horizonThreshold: res.horizonThreshold,
    singular: res.singular.map(({ perSeq: seqs, ...row }) => (perSeq ? { ...row, perSeq: seqs } : row)),
    lyapunov,
    lambda1: lyapunov.exponents[0],
    decayPerStep: res.decayPerStep,
  };
}

/** `seqlab probe`: ‖∂h_T/∂h_k‖ for every k of one cell, random or from PyTorch weights. */
export async function probeRun(
  opts: ProbeRunOptions,
  setup: ProbeSetup = loadProbeSetup(opts),
): Promise<ProbeRunResult> {
  const { weights, inputs, nonlinearitySource, text } = setup;
  const H = weights.hiddenSize;
  const cells = weights.layers
    .slice(0, opts.layer + 1)
    .map((w, l) =>
      createCell(weights.cell, l === 0 ? weights.inputSize : H, H, w, { nonlinearity: weights.nonlinearity }),
    );
  const started = performance.now();
  try {
    // the probed layer's input sequence: the raw inputs, or the h's of the layer below
    const raw = tf.tensor3d(inputs.xs, [inputs.T, inputs.B, inputs.I]);
    const xs = layerInputs(cells, raw, cells.length - 1);
    raw.dispose();
    const target = cells[cells.length - 1];
    let state0: State | undefined;
    if (inputs.h0 || inputs.c0) {
      state0 = target.initState(inputs.B);
      if (inputs.h0) {
        state0[0].dispose();
        state0[0] = tf.tensor2d(inputs.h0, [inputs.B, H]);
      }
      if (inputs.c0 && target.numStates === 2) {
        state0[1].dispose();
        state0[1] = tf.tensor2d(inputs.c0, [inputs.B, H]);
      }
    }
    let res: JacobianResult;
    let spectra: Awaited<ReturnType<typeof gradientSpectra>> | null = null;
    try {
      if (opts.spectrum) {
        spectra = await gradientSpectra(target, xs, state0, {
          ...stripUndefined(spectrumOptions(opts)),
          mode: opts.mode,
          spectral: opts.spectral,
          onProgress: opts.onProgress,
          signal: opts.signal,
        });
        res = spectra.norms;
      } else {
        res = await jacobianNorms(target, xs, state0, {
          mode: opts.mode,
          spectral: opts.spectral,
          allPairs: opts.allPairs,
          onProgress: opts.onProgress,
          signal: opts.signal,
        });
      }
    } finally {
      xs.dispose();
      if (state0) tf.dispose(state0);
    }
    const perSeq = inputs.B > 1;
    const { rows, ...rest } = res;
    return {
      backend: opts.backend,
      cell: weights.cell,
      hiddenSize: H,
      inputSize: weights.inputSize,
      layer: opts.layer,
      weights: opts.weights ?? `random (${opts.init ?? CELL_DEFAULTS.init}, seed ${opts.seed})`,
      nonlinearitySource,
      ...(text ? { text } : {}),
      ...rest,
      ...(spectra ? { spectrum: probeSpectrum(spectra, perSeq) } : {}),
      jacobian: rows.map((r) => ({
        gap: r.gap,
        k: r.k,
        spectral: r.spectral,
        frobenius: r.frobenius,
        ...(perSeq ? { spectralPerSeq: r.spectralPerSeq ?? undefined, frobeniusPerSeq: r.frobeniusPerSeq } : {}),
      })),
      elapsedMs: performance.now() - started,
    };
  } finally {
    for (const c of cells) c.dispose();
  }
}
