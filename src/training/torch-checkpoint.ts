import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseSafetensors, writeSafetensorsFile, type WriteDtype } from '../data/safetensors.js';
import type { Vocabulary } from '../data/vocab.js';
import { readVocabFile, writeVocabFile } from '../data/word-lm-corpus.js';
import type { Nonlinearity } from '../models/activations.js';
import { type ModelConfig, SequenceModel } from '../models/model.js';
import type { LayerWeights } from '../models/cell.js';
import { loadCheckpoint } from './checkpoint.js';
import { parseRecurrentWeights, type RecurrentWeights } from '../models/statedict.js';
import {
  type ImportedWordLM,
  recurrentFromTensors,
  wordLMFromTensors,
  wordLMModel,
  wordLMTensors,
  type NonlinearitySource,
  type RecurrentImportOptions,
  type RnnType,
  type WordLMExportOptions,
  type WordLMImportOptions,
} from '../models/torch-statedict.js';
import { SeqlabError, inputError, oneLine } from '../util/errors.js';

/**
 * PyTorch interop at the file level, beside seqlab's own checkpoints (checkpoint.ts): weights files
 * (safetensors or seqlab's JSON) for the probe, and word_language_model checkpoints (safetensors +
 * vocabulary file) in and out. The name ↔ tensor mapping is models/torch-statedict.ts; the file
 * format data/safetensors.ts.
 */

// ---------------------------------------------------------------------------------------------
// Weights files for the probe

export type WeightsFormat = 'safetensors' | 'json';

export interface LoadedRecurrentWeights extends RecurrentWeights {
  format: WeightsFormat;
  /** The module's name prefix in a safetensors file ('' or e.g. 'rnn.'); '' for JSON. */
  prefix: string;
  /** A plain RNN's φ: from the options, the safetensors metadata, the JSON file's field, or tanh by default. */
  nonlinearitySource: NonlinearitySource | 'file';
}

function readBytes(path: string, what: string): Buffer {
  if (!existsSync(path)) throw inputError(`${what} file not found: ${path}`);
  if (statSync(path).isDirectory()) throw inputError(`${what} path is a directory, not a file: ${path}`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${what} file ${path}: ${(e as Error).message}`);
  }
}

/** .safetensors / .json by extension; otherwise JSON when the file starts like JSON text. */
export function weightsFormat(path: string, bytes: Uint8Array): WeightsFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.json') return 'json';
  // "{", whitespace or a UTF-8 BOM: JSON text; a safetensors file starts with its header length
  return [0x7b, 0x20, 0x0a, 0x0d, 0x09, 0xef].includes(bytes[0]) ? 'json' : 'safetensors';
}

/**
 * One recurrent module's weights from a safetensors file (PyTorch's names, any prefix) or a
 * seqlab JSON weights file / checkpoint.json, for the probe.
 */
export function loadRecurrentWeights(
  path: string,
  options: Partial<RecurrentImportOptions> = {},
): LoadedRecurrentWeights {
  const bytes = readBytes(path, 'weights');
  if (bytes.length === 0) throw inputError(`weights file is empty: ${path}`);
  if (weightsFormat(path, bytes) === 'safetensors') {
    const { tensors, metadata } = parseSafetensors(bytes, path);
    const { names: _names, hasBias: _hasBias, ...w } = recurrentFromTensors(tensors, { ...options, metadata }, path);
    return { ...w, format: 'safetensors' };
  }
  let doc: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.trim() === '') throw inputError(`weights file is empty: ${path}`);
    doc = JSON.parse(text);
  } catch (e) {
    if (e instanceof SeqlabError) throw e;
    const why = oneLine((e as Error).message);
    throw inputError(`weights file is not valid JSON (nor safetensors): ${path} (${why})`);
  }
  const w = parseRecurrentWeights(doc, path, options.cell ?? undefined);
  if (w.cell !== 'rnn') return { ...w, format: 'json', prefix: '', nonlinearitySource: 'gated' };
  // parseRecurrentWeights has checked that doc is an object
  const stated = (doc as Record<string, unknown>).nonlinearity;
  const wanted = options.nonlinearity ?? null;
  if (stated !== undefined && wanted !== null && stated !== wanted)
    throw inputError(`${path}: the weights are a ${stated} RNN's ("nonlinearity"), not a ${wanted} RNN's`);
  const [nonlinearity, nonlinearitySource]: [Nonlinearity, LoadedRecurrentWeights['nonlinearitySource']] =
    stated !== undefined
      ? [w.nonlinearity, 'file']
      : wanted !== null
        ? [wanted, 'option']
        : [w.nonlinearity, 'default'];
  return { ...w, nonlinearity, format: 'json', prefix: '', nonlinearitySource };
}

// ---------------------------------------------------------------------------------------------
// word_language_model checkpoints

export interface WordLMFiles {
  /** The RNNModel state dict as safetensors. */
  weights: string;
  /** One word per line in id order. */
  vocab: string;
}

export interface LoadedWordLM {
  model: SequenceModel;
  vocabulary: Vocabulary;
  rnnType: RnnType;
  tie: 'alias' | 'equal' | null;
  nonlinearitySource: NonlinearitySource;
  hasBias: boolean;
  metadata: Record<string, string>;
}

/** A word_language_model checkpoint as read and checked, before any tensor is made. */
export interface WordLMFileContents {
  imported: ImportedWordLM;
  vocabulary: Vocabulary;
  metadata: Record<string, string>;
}

/** Read and check a word_language_model checkpoint (safetensors + vocabulary file) without touching tfjs. */
export function readWordLMFiles(files: WordLMFiles, options: Partial<WordLMImportOptions> = {}): WordLMFileContents {
  const { tensors, metadata } = parseSafetensors(readBytes(files.weights, 'weights'), files.weights);
  const imported = wordLMFromTensors(tensors, metadata, options, files.weights);
  const vocabulary = readVocabFile(files.vocab);
  if (vocabulary.size !== imported.config.vocabSize) {
    const rows = imported.config.vocabSize;
    throw inputError(
      `vocabulary file ${files.vocab} lists ${vocabulary.size} words ` +
        `but ${files.weights} has ${rows} (encoder.weight rows)`,
    );
  }
  return { imported, vocabulary, metadata };
}

/** A word_language_model RNNModel (safetensors + vocabulary file) as a seqlab model; the caller disposes it. */
export function loadWordLM(files: WordLMFiles, options: Partial<WordLMImportOptions> = {}): LoadedWordLM {
  const { imported, vocabulary, metadata } = readWordLMFiles(files, options);
  const { rnnType, tie, nonlinearitySource, hasBias } = imported;
  return { model: wordLMModel(imported), vocabulary, rnnType, tie, nonlinearitySource, hasBias, metadata };
}

/** "2-layer lstm, H 200, inputs 200, 10000 words, tied": what a model config says, for messages. */
function describeShape(c: Readonly<ModelConfig>): string {
  const words = c.vocabSize === null ? '' : `, ${c.vocabSize} words${c.tieWeights ? ', tied' : ''}`;
  const phi = c.cell === 'rnn' ? ` (${c.nonlinearity})` : '';
  const sizes = `H ${c.hiddenSize}, inputs ${c.inputSize}, outputs ${c.outputSize}`;
  return `${c.numLayers}-layer ${c.cell}${phi}, ${sizes}${words}`;
}

/**
 * A model of `config` holding the weights of a safetensors file with PyTorch's names instead of
 * seeded random ones (e.g. word_language_model's model before training, for an exact comparison):
 * a word_language_model RNNModel for token models; for dense inputs, nn.RNN/LSTM/GRU's names and the
 * read-out as head.weight [O, H], head.bias [O]. The file's shapes must be the config's.
 */
export function modelFromTorchFile(path: string, config: Readonly<ModelConfig>): SequenceModel {
  const { tensors, metadata } = parseSafetensors(readBytes(path, 'weights'), path);
  const hint = { cell: config.cell, nonlinearity: config.cell === 'rnn' ? config.nonlinearity : null };
  let found: ModelConfig;
  let layers: LayerWeights[];
  let head: { weight: ArrayLike<number>; bias: ArrayLike<number> };
  let embedding: ArrayLike<number> | null = null;
  if (config.vocabSize !== null) {
    const imported = wordLMFromTensors(tensors, metadata, hint, path);
    ({ config: found, layers, head, embedding } = imported);
    // a tie the config does not ask for: two equal matrices, trained apart
    found = { ...found, tieWeights: config.tieWeights && found.tieWeights };
  } else {
    const rnn = recurrentFromTensors(tensors, { ...hint, prefix: '', metadata }, path);
    const [weight, bias] = [tensors.get('head.weight'), tensors.get('head.bias')];
    if (!weight || !bias) throw inputError(`${path} has no head.weight and head.bias (the read-out)`);
    head = { weight: weight.data, bias: bias.data };
    const outputSize = bias.shape[0];
    if (weight.shape.join() !== `${outputSize},${rnn.hiddenSize}`)
      throw inputError(
        `${path}: head.weight has shape [${weight.shape.join(', ')}], expected [${outputSize}, ${rnn.hiddenSize}]`,
      );
    layers = rnn.layers;
    found = {
      ...config,
      cell: rnn.cell,
      nonlinearity: rnn.nonlinearity,
      inputSize: rnn.inputSize,
      hiddenSize: rnn.hiddenSize,
      numLayers: layers.length,
      outputSize,
    };
  }
  if (describeShape(found) !== describeShape(config))
    throw inputError(`${path} holds a ${describeShape(found)}; the model to train is a ${describeShape(config)}`);
  return new SequenceModel(config, layers, head, embedding);
}

/** Where a language model comes from: a seqlab run (directory or checkpoint.json), or PyTorch's files. */
export type LanguageModelSource = { checkpoint: string } | WordLMFiles;

export interface LoadedLanguageModel {
  model: SequenceModel;
  vocabulary: Vocabulary;
  /** What was read, for messages and results: the checkpoint path, or the weights file. */
  source: string;
  /** seqlab's checkpoint: its task config (tokenizer, lowercase); PyTorch's files: null. */
  taskConfig: Record<string, unknown> | null;
  /** seqlab's checkpoint: the step it was written at; PyTorch's files: null. */
  step: number | null;
}

/**
 * Any word language model seqlab can run, as a model and its vocabulary: a seqlab checkpoint of an
 * lm run, or a word_language_model RNNModel (safetensors + vocabulary file). The caller disposes
 * the model. Every consumer of word LMs (eval-lm, sample, the agreement scorer) loads through here.
 */
export function loadLanguageModel(
  source: LanguageModelSource,
  options: Partial<WordLMImportOptions> = {},
): LoadedLanguageModel {
  if ('checkpoint' in source) {
    const ck = loadCheckpoint(source.checkpoint);
    if (!ck.vocabulary) {
      ck.model.dispose();
      throw inputError(
        (field) =>
          `${ck.path} is not a language model's checkpoint (no vocabulary): train one with ${field('task')} lm`,
      );
    }
    const taskConfig = (ck.doc.taskConfig ?? null) as Record<string, unknown> | null;
    return { model: ck.model, vocabulary: ck.vocabulary, source: ck.path, taskConfig, step: ck.step };
  }
  const lm = loadWordLM(source, options);
  return { model: lm.model, vocabulary: lm.vocabulary, source: source.weights, taskConfig: null, step: null };
}

export interface WordLMWriteOptions extends WordLMExportOptions {
  /** Element type of the weights. Default 'F32'. */
  dtype: WriteDtype;
}

/** Write a token model as a word_language_model checkpoint: RNNModel-named safetensors and the vocabulary file. */
export async function exportWordLM(
  model: SequenceModel,
  vocabulary: Vocabulary,
  files: WordLMFiles,
  options: Partial<WordLMWriteOptions> = {},
): Promise<void> {
  const V = model.config.vocabSize;
  if (vocabulary.size !== V) {
    throw inputError(`the vocabulary has ${vocabulary.size} words but the model ${V ?? 'none (dense inputs)'}`);
  }
  const { tensors, metadata } = await wordLMTensors(model, options);
  writeSafetensorsFile(files.weights, tensors, { metadata, dtype: options.dtype ?? 'F32' });
  writeVocabFile(files.vocab, vocabulary);
}
