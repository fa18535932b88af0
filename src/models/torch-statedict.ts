import * as tf from '@tensorflow/tfjs';
import { inputError } from '../util/errors.js';
import type { Nonlinearity } from './activations.js';
import type { Cell, LayerWeights } from './cell.js';
import { MODEL_DEFAULTS, SequenceModel, type ModelConfig } from './model.js';
import { CELL_KINDS, type CellKind, gateCount } from './registry.js';
import type { RecurrentWeights } from './statedict.js';

/**
 * PyTorch state dicts (names → row-major tensors, e.g. read from safetensors) ↔ seqlab models.
 *
 * A recurrent module (nn.RNN / nn.LSTM / nn.GRU) is named {prefix}weight_ih_l{k}, weight_hh_l{k}
 * [gates·H, ·], bias_ih_l{k}, bias_hh_l{k} [gates·H], k = 0 … layers−1; seqlab's cells use the same
 * layout and gate order, so the numbers move unchanged. The cell follows from weight_hh_l0's shape
 * (4H rows: LSTM, 3H: GRU, H: RNN); a tanh RNN and a ReLU RNN have the same shapes, so the
 * nonlinearity comes from an option, else the metadata key "rnn_type", else nn.RNN's default, tanh.
 *
 * pytorch/examples' word_language_model RNNModel adds encoder.weight [V, E] (nn.Embedding),
 * rnn.* (the module above) and decoder.weight [V, H], decoder.bias [V] (nn.Linear): exactly
 * SequenceModel's embedding, layers and read-out. Tied weights are one Parameter under two names;
 * safetensors refuses to save two names for one storage (save_file raises), and its save_model
 * writes the alphabetically first name only, decoder.weight, with "__metadata__":
 * {"encoder.weight": "decoder.weight"}, which load_model undoes. Both forms are read: a tie is an
 * alias in the metadata, or encoder.weight and decoder.weight equal bit for bit. seqlab writes
 * both names by default (so `load_state_dict` takes the file unchanged) or save_model's form.
 */

/** A tensor as a state dict holds it: shape and row-major values. */
export interface NamedArray {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export type TensorDict = ReadonlyMap<string, NamedArray>;

/** word_language_model's --model names. */
export const RNN_TYPES = ['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'] as const;
export type RnnType = (typeof RNN_TYPES)[number];

/** The metadata key that names the RNN type (and so a plain RNN's nonlinearity). */
export const RNN_TYPE_KEY = 'rnn_type';

export function rnnTypeOf(cell: CellKind, nonlinearity: Nonlinearity): RnnType {
  if (cell === 'lstm') return 'LSTM';
  if (cell === 'gru') return 'GRU';
  if (nonlinearity === 'tanh') return 'RNN_TANH';
  if (nonlinearity === 'relu') return 'RNN_RELU';
  throw inputError(`a ${nonlinearity} RNN has no PyTorch counterpart: nn.RNN's nonlinearity is tanh or relu`);
}

export function cellOfRnnType(type: RnnType): { cell: CellKind; nonlinearity: Nonlinearity } {
  const table: Record<RnnType, { cell: CellKind; nonlinearity: Nonlinearity }> = {
    LSTM: { cell: 'lstm', nonlinearity: 'tanh' },
    GRU: { cell: 'gru', nonlinearity: 'tanh' },
    RNN_TANH: { cell: 'rnn', nonlinearity: 'tanh' },
    RNN_RELU: { cell: 'rnn', nonlinearity: 'relu' },
  };
  return table[type];
}

export type NonlinearitySource = 'option' | 'metadata' | 'default' | 'gated';

export interface RecurrentImportOptions {
  /**
   * Name prefix of the module: '' (a bare nn.LSTM), 'rnn.' (word_language_model); null: the one
   * prefix found. Default null.
   */
  prefix: string | null;
  /** Expected cell; must agree with the shapes. null: from the shapes. Default null. */
  cell: CellKind | null;
  /** A plain RNN's nonlinearity; null: metadata "rnn_type", else tanh. Default null. */
  nonlinearity: Nonlinearity | null;
  /** The file's metadata (safetensors "__metadata__"). Default {}. */
  metadata: Readonly<Record<string, string>>;
}

export const RECURRENT_IMPORT_DEFAULTS: Readonly<RecurrentImportOptions> = {
  prefix: null,
  cell: null,
  nonlinearity: null,
  metadata: {},
};

export interface ImportedRecurrent extends RecurrentWeights {
  prefix: string;
  nonlinearitySource: NonlinearitySource;
  /** False when the module had no biases (bias=False): they are zeros here. */
  hasBias: boolean;
  /** The tensor names the module used. */
  names: string[];
}

const HH0 = /^(.*)weight_hh_l0$/;

/** "H (rnn), 4H (lstm) or 3H (gru)": the rows of weight_hh per registered cell kind. */
function gateRowsText(): string {
  const rows = CELL_KINDS.map((c) => `${gateCount(c) === 1 ? '' : gateCount(c)}H (${c})`);
  return `${rows.slice(0, -1).join(', ')} or ${rows[rows.length - 1]}`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function metadataRnnType(metadata: Readonly<Record<string, string>>, source: string): RnnType | null {
  const t = metadata[RNN_TYPE_KEY];
  if (t === undefined) return null;
  if (!(RNN_TYPES as readonly string[]).includes(t)) {
    throw inputError(
      `${source}: metadata ${RNN_TYPE_KEY} is ${JSON.stringify(t)}; expected one of ${RNN_TYPES.join(', ')}`,
    );
  }
  return t as RnnType;
}

/**
 * The recurrent module of a state dict: cell, sizes and per-layer weights (views on the given
 * arrays, no copies). Every way the names or shapes can be wrong is one line naming `source`.
 */
export function recurrentFromTensors(
  tensors: TensorDict,
  options: Partial<RecurrentImportOptions> = {},
  source = 'state dict',
): ImportedRecurrent {
  const opts: Readonly<RecurrentImportOptions> = { ...RECURRENT_IMPORT_DEFAULTS, ...options };
  let prefix = opts.prefix;
  if (prefix === null) {
    const found = [...tensors.keys()].map((k) => HH0.exec(k)?.[1]).filter((p): p is string => p !== undefined);
    if (found.length === 0) {
      throw inputError(`${source} has no recurrent weights (no tensor named weight_hh_l0 or <prefix>weight_hh_l0)`);
    }
    if (found.length > 1) {
      const list = found.map((p) => `"${p}"`).join(', ');
      throw inputError(
        (field) => `${source} holds ${found.length} recurrent modules (${list}); choose one: ${field('prefix')}`,
      );
    }
    prefix = found[0];
  }
  const name = (what: string, l: number) => `${prefix}${what}_l${l}`;
  const get = (n: string) => tensors.get(n);
  if (!get(name('weight_hh', 0))) throw inputError(`${source} has no tensor ${name('weight_hh', 0)}`);
  for (const k of tensors.keys()) {
    if (!k.startsWith(prefix)) continue;
    const rest = k.slice(prefix.length);
    if (/_reverse$/.test(rest)) {
      throw inputError(`${source}: ${k} belongs to a bidirectional module; seqlab's layers run forward only`);
    }
    if (/^weight_hr_l\d+$/.test(rest)) {
      throw inputError(`${source}: ${k} is an LSTM projection (proj_size > 0), which seqlab's LSTM does not have`);
    }
  }

  const hh0 = get(name('weight_hh', 0)) as NamedArray;
  if (hh0.shape.length !== 2) {
    throw inputError(`${source}: ${name('weight_hh', 0)} has shape ${shapeText(hh0.shape)}; expected [gates·H, H]`);
  }
  const [rows, H] = hh0.shape;
  const ratio = rows / H;
  const fromShape = CELL_KINDS.find((c) => gateCount(c) === ratio);
  if (H === 0 || fromShape === undefined) {
    throw inputError(
      `${source}: ${name('weight_hh', 0)} has shape ${shapeText(hh0.shape)}, which is no cell's: ` +
        `rows must be ${gateRowsText()}`,
    );
  }
  const cell = fromShape;
  if (opts.cell !== null && opts.cell !== cell) {
    throw inputError(
      `${source}: the weights are a ${cell} cell's (${name('weight_hh', 0)} is ${shapeText(hh0.shape)}), ` +
        `not a ${opts.cell} cell's`,
    );
  }
  const metaType = metadataRnnType(opts.metadata, source);
  if (metaType !== null && cellOfRnnType(metaType).cell !== cell) {
    throw inputError(`${source}: metadata ${RNN_TYPE_KEY} says ${metaType} but the shapes are a ${cell} cell's`);
  }
  let nonlinearity: Nonlinearity = 'tanh';
  let nonlinearitySource: NonlinearitySource = 'gated';
  if (cell === 'rnn') {
    if (opts.nonlinearity !== null) [nonlinearity, nonlinearitySource] = [opts.nonlinearity, 'option'];
    else if (metaType !== null) [nonlinearity, nonlinearitySource] = [cellOfRnnType(metaType).nonlinearity, 'metadata'];
    else nonlinearitySource = 'default';
  }

  const G = gateCount(cell) * H;
  const names: string[] = [];
  const matrix = (n: string, cols: number | null): NamedArray => {
    const t = get(n);
    if (!t) throw inputError(`${source} has no tensor ${n}`);
    if (t.shape.length !== 2 || t.shape[0] !== G || (cols !== null && t.shape[1] !== cols)) {
      throw inputError(
        `${source}: ${n} has shape ${shapeText(t.shape)}; ` +
          `a ${cell} layer of hidden size ${H} needs [${G}, ${cols ?? 'inputSize'}]`,
      );
    }
    names.push(n);
    return t;
  };
  const vector = (n: string): NamedArray | null => {
    const t = get(n);
    if (!t) return null;
    if (t.shape.length !== 1 || t.shape[0] !== G) {
      throw inputError(`${source}: ${n} has shape ${shapeText(t.shape)}; expected [${G}]`);
    }
    names.push(n);
    return t;
  };

  let numLayers = 0;
  while (get(name('weight_hh', numLayers))) numLayers++;
  for (const k of tensors.keys()) {
    const m = k.startsWith(prefix) ? /^(?:weight|bias)_(?:ih|hh)_l(\d+)$/.exec(k.slice(prefix.length)) : null;
    if (m && Number(m[1]) >= numLayers) {
      throw inputError(`${source}: ${k} belongs to layer ${m[1]}, but ${name('weight_hh', numLayers)} is missing`);
    }
  }
  const layers: LayerWeights[] = [];
  let inputSize = 0;
  let hasBias = true;
  for (let l = 0; l < numLayers; l++) {
    const wih = matrix(name('weight_ih', l), l === 0 ? null : H);
    if (l === 0) inputSize = wih.shape[1];
    const whh = matrix(name('weight_hh', l), H);
    const bih = vector(name('bias_ih', l));
    const bhh = vector(name('bias_hh', l));
    if ((bih === null) !== (bhh === null)) {
      const [has, lacks] = bih ? [name('bias_ih', l), name('bias_hh', l)] : [name('bias_hh', l), name('bias_ih', l)];
      throw inputError(`${source} has ${has} but not ${lacks}`);
    }
    if (bih === null) hasBias = false;
    const zeros = new Float32Array(G);
    layers.push({ weight_ih: wih.data, weight_hh: whh.data, bias_ih: bih?.data ?? zeros, bias_hh: bhh?.data ?? zeros });
  }
  return { cell, nonlinearity, inputSize, hiddenSize: H, layers, prefix, nonlinearitySource, hasBias, names };
}

export interface WordLMImportOptions {
  /** Expected cell (must agree with the shapes); null: from the shapes. Default null. */
  cell: CellKind | null;
  /** A plain RNN's nonlinearity (RNN_TANH / RNN_RELU); null: metadata "rnn_type", else tanh. Default null. */
  nonlinearity: Nonlinearity | null;
}

export const WORD_LM_IMPORT_DEFAULTS: Readonly<WordLMImportOptions> = { cell: null, nonlinearity: null };

export interface ImportedWordLM {
  config: ModelConfig;
  layers: LayerWeights[];
  /** decoder.weight [V, H] and decoder.bias [V], nn.Linear's layout. */
  head: { weight: ArrayLike<number>; bias: ArrayLike<number> };
  /** encoder.weight [V, E]. */
  embedding: ArrayLike<number>;
  rnnType: RnnType;
  /** How a tie was recognised: a metadata alias (safetensors save_model), equal tensors, or none. */
  tie: 'alias' | 'equal' | null;
  nonlinearitySource: NonlinearitySource;
  hasBias: boolean;
}

const ENCODER = 'encoder.weight';
const DECODER = 'decoder.weight';
const DECODER_BIAS = 'decoder.bias';

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * A word_language_model RNNModel state dict → the SequenceModel config and weights. `metadata`
 * is the file's (aliases of tied weights, rnn_type). One line per way it can be wrong.
 */
export function wordLMFromTensors(
  tensors: TensorDict,
  metadata: Readonly<Record<string, string>> = {},
  options: Partial<WordLMImportOptions> = {},
  source = 'state dict',
): ImportedWordLM {
  const opts: Readonly<WordLMImportOptions> = { ...WORD_LM_IMPORT_DEFAULTS, ...options };
  let tie: ImportedWordLM['tie'] = null;
  let encoder = tensors.get(ENCODER);
  let decoder = tensors.get(DECODER);
  // safetensors' save_model drops all names of a shared tensor but one and records "dropped": "kept"
  if (!encoder && decoder && metadata[ENCODER] === DECODER) [encoder, tie] = [decoder, 'alias'];
  if (!decoder && encoder && metadata[DECODER] === ENCODER) [decoder, tie] = [encoder, 'alias'];
  if (!encoder) {
    throw inputError(`${source} has no ${ENCODER}: not a word_language_model RNNModel (encoder, rnn, decoder)`);
  }
  if (!decoder) {
    throw inputError(`${source} has no ${DECODER}: not a word_language_model RNNModel (encoder, rnn, decoder)`);
  }
  const bias = tensors.get(DECODER_BIAS);
  if (!bias) throw inputError(`${source} has no ${DECODER_BIAS}`);
  const rnnOptions = { prefix: 'rnn.', cell: opts.cell, nonlinearity: opts.nonlinearity, metadata };
  const rnn = recurrentFromTensors(tensors, rnnOptions, source);
  const known = new Set([ENCODER, DECODER, DECODER_BIAS, ...rnn.names]);
  const extra = [...tensors.keys()].filter((k) => !known.has(k));
  if (extra.length > 0) {
    const list = `${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}`;
    throw inputError(
      `${source} holds tensors an RNNModel does not have (${list}); word_language_model's Transformer is not supported`,
    );
  }
  if (encoder.shape.length !== 2) {
    throw inputError(
      `${source}: ${ENCODER} has shape ${shapeText(encoder.shape)}; expected [vocabulary, embedding size]`,
    );
  }
  const [V, E] = encoder.shape;
  const H = rnn.hiddenSize;
  if (E !== rnn.inputSize) {
    throw inputError(
      `${source}: ${ENCODER} has ${E} columns but rnn.weight_ih_l0 expects inputs of size ${rnn.inputSize}`,
    );
  }
  if (decoder.shape.length !== 2 || decoder.shape[0] !== V || decoder.shape[1] !== H) {
    throw inputError(
      `${source}: ${DECODER} has shape ${shapeText(decoder.shape)}; expected [${V}, ${H}] (vocabulary × hidden size)`,
    );
  }
  if (bias.shape.length !== 1 || bias.shape[0] !== V) {
    throw inputError(`${source}: ${DECODER_BIAS} has shape ${shapeText(bias.shape)}; expected [${V}]`);
  }
  if (tie === null && E === H && sameValues(encoder.data, decoder.data)) tie = 'equal';
  if (metadata.tie_weights === 'true' && tie === null) {
    throw inputError(`${source}: metadata says tie_weights but ${ENCODER} and ${DECODER} differ`);
  }
  const config: ModelConfig = {
    ...MODEL_DEFAULTS,
    cell: rnn.cell,
    nonlinearity: rnn.nonlinearity,
    inputSize: E,
    hiddenSize: H,
    numLayers: rnn.layers.length,
    outputSize: V,
    vocabSize: V,
    tieWeights: tie !== null,
    dropout: 0,
  };
  return {
    config,
    layers: rnn.layers,
    head: { weight: decoder.data, bias: bias.data },
    embedding: encoder.data,
    rnnType: rnnTypeOf(rnn.cell, rnn.nonlinearity),
    tie,
    nonlinearitySource: rnn.nonlinearitySource,
    hasBias: rnn.hasBias,
  };
}

/** Build the SequenceModel of an imported word LM (the caller disposes it). */
export function wordLMModel(imported: ImportedWordLM): SequenceModel {
  return new SequenceModel(imported.config, imported.layers, imported.head, imported.embedding);
}

/** A tensor to write: shape and float32 values, row-major. */
export interface ExportedTensor {
  shape: number[];
  data: Float32Array;
}

async function readTransposed(t: tf.Tensor2D): Promise<ExportedTensor> {
  const m = tf.transpose(t) as tf.Tensor2D;
  try {
    return { shape: [...m.shape], data: (await m.data()) as Float32Array };
  } finally {
    m.dispose();
  }
}

/** A stack of cells under PyTorch's names ({prefix}weight_ih_l0, …): what nn.LSTM/GRU/RNN.load_state_dict takes. */
export async function recurrentTensors(layers: readonly Cell[], prefix = ''): Promise<Map<string, ExportedTensor>> {
  const out = new Map<string, ExportedTensor>();
  for (const [l, cell] of layers.entries()) {
    const vars = cell.variables();
    const wih = cell.inputWeight(); // [G, I], a new tensor
    const whh = cell.recurrentWeight();
    try {
      out.set(`${prefix}weight_ih_l${l}`, { shape: [...wih.shape], data: (await wih.data()) as Float32Array });
      out.set(`${prefix}weight_hh_l${l}`, { shape: [...whh.shape], data: (await whh.data()) as Float32Array });
    } finally {
      tf.dispose([wih, whh]);
    }
    for (const b of ['bias_ih', 'bias_hh'] as const) {
      out.set(`${prefix}${b}_l${l}`, { shape: [...vars[b].shape], data: (await vars[b].data()) as Float32Array });
    }
  }
  return out;
}

export interface WordLMExportOptions {
  /**
   * A tied read-out written once, as safetensors' save_model does (decoder.weight, metadata
   * "encoder.weight": "decoder.weight"; load it with safetensors.torch.load_model), instead of
   * under both names (plain load_state_dict). Default false.
   */
  dedupeTied: boolean;
}

export const WORD_LM_EXPORT_DEFAULTS: Readonly<WordLMExportOptions> = { dedupeTied: false };

/**
 * A token model as a word_language_model RNNModel state dict (encoder.weight, rnn.*,
 * decoder.weight, decoder.bias) with metadata naming its rnn_type and tie.
 */
export async function wordLMTensors(
  model: SequenceModel,
  options: Partial<WordLMExportOptions> = {},
): Promise<{ tensors: Map<string, ExportedTensor>; metadata: Record<string, string> }> {
  const opts = { ...WORD_LM_EXPORT_DEFAULTS, ...options };
  const { config } = model;
  if (!model.embedding || config.vocabSize === null || config.outputSize !== config.vocabSize) {
    throw inputError('only a word language model (token inputs, one output per vocabulary word) maps to an RNNModel');
  }
  const rnnType = rnnTypeOf(config.cell, config.nonlinearity);
  const tensors = new Map<string, ExportedTensor>();
  const embedding: ExportedTensor = {
    shape: [...model.embedding.shape],
    data: (await model.embedding.data()) as Float32Array,
  };
  const metadata: Record<string, string> = {
    format: 'pt',
    [RNN_TYPE_KEY]: rnnType,
    tie_weights: String(config.tieWeights),
  };
  if (!(config.tieWeights && opts.dedupeTied)) tensors.set(ENCODER, embedding);
  for (const [k, v] of await recurrentTensors(model.layers, 'rnn.')) tensors.set(k, v);
  if (config.tieWeights) {
    tensors.set(DECODER, embedding);
    if (opts.dedupeTied) metadata[ENCODER] = DECODER;
  } else {
    tensors.set(DECODER, await readTransposed(model.headW as tf.Tensor2D));
  }
  tensors.set(DECODER_BIAS, { shape: [...model.headB.shape], data: (await model.headB.data()) as Float32Array });
  return { tensors, metadata };
}
