import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseSafetensors, writeSafetensorsFile, type WriteDtype } from '../data/safetensors.js';
import type { Vocabulary } from '../data/vocab.js';
import { readVocabFile, writeVocabFile } from '../data/word-lm-corpus.js';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import { parseRecurrentWeights, type RecurrentWeights } from '../models/statedict.js';
import {
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
import { chunkLossFast } from '../training/bptt.js';
import { SeqlabError, inputError, positiveInt } from '../util/errors.js';
import { batchify, streamBatches } from './lm.js';

/**
 * PyTorch interop at the file level: weights files (safetensors or seqlab's JSON) for the probe,
 * word_language_model checkpoints (safetensors + vocabulary file) in and out, and perplexity
 * computed with word_language_model's evaluate() conventions.
 */

// ---------------------------------------------------------------------------------------------
// Weights files for the probe

export type WeightsFormat = 'safetensors' | 'json';

export interface LoadedRecurrentWeights extends RecurrentWeights {
  format: WeightsFormat;
  /** The module's name prefix in a safetensors file ('' or e.g. 'rnn.'); '' for JSON. */
  prefix: string;
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
  if (weightsFormat(path, bytes) === 'safetensors') {
    const { tensors, metadata } = parseSafetensors(bytes, path);
    const { names: _names, hasBias: _hasBias, ...w } = recurrentFromTensors(tensors, { ...options, metadata }, path);
    return { ...w, format: 'safetensors' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw inputError(`weights file is neither safetensors nor valid JSON: ${path} (${why})`);
  }
  const w = parseRecurrentWeights(doc, path, options.cell ?? undefined);
  return { ...w, format: 'json', prefix: '', nonlinearitySource: 'file' };
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

/** A word_language_model RNNModel (safetensors + vocabulary file) as a seqlab model; the caller disposes it. */
export function loadWordLM(files: WordLMFiles, options: Partial<WordLMImportOptions> = {}): LoadedWordLM {
  const { tensors, metadata } = parseSafetensors(readBytes(files.weights, 'weights'), files.weights);
  const imported = wordLMFromTensors(tensors, metadata, options, files.weights);
  const vocabulary = readVocabFile(files.vocab);
  if (vocabulary.size !== imported.config.vocabSize) {
    const rows = imported.config.vocabSize;
    throw inputError(`vocabulary file ${files.vocab} lists ${vocabulary.size} words but ${files.weights} has ${rows} (encoder.weight rows)`);
  }
  const { rnnType, tie, nonlinearitySource, hasBias } = imported;
  return { model: wordLMModel(imported), vocabulary, rnnType, tie, nonlinearitySource, hasBias, metadata };
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

// ---------------------------------------------------------------------------------------------
// Perplexity as word_language_model's evaluate() computes it

export interface WordLMEvalOptions {
  /** Parallel streams (word_language_model's eval_batch_size). Default 10. */
  batchSize: number;
  /** Steps per chunk. Default 35. */
  bptt: number;
}

export const WORD_LM_EVAL_DEFAULTS: Readonly<WordLMEvalOptions> = { batchSize: 10, bptt: 35 };

export interface WordLMEvalResult {
  /** Mean cross-entropy per predicted token, nats. */
  loss: number;
  perplexity: number;
  /** Predicted tokens: batchSize × (steps − 1). */
  tokens: number;
  /** Tokens dropped from the end so the streams have equal length. */
  droppedTokens: number;
}

/**
 * Perplexity of `ids` the way word_language_model evaluates: the stream cut into `batchSize`
 * columns (the tail that does not fill a row dropped), chunks of `bptt` steps (the last one
 * shorter), the state carried from chunk to chunk from zeros, and
 *   loss = Σ_chunks len(chunk) · mean cross-entropy of the chunk / (steps − 1),
 * which equals the mean over all B·(steps − 1) predictions: each chunk holds len · B of them.
 */
export async function evaluateWordLM(
  model: SequenceModel,
  ids: Int32Array,
  options: Partial<WordLMEvalOptions> = {},
): Promise<WordLMEvalResult> {
  const opts: Readonly<WordLMEvalOptions> = { ...WORD_LM_EVAL_DEFAULTS, ...options };
  const B = positiveInt('batchSize', opts.batchSize);
  positiveInt('bptt', opts.bptt);
  const V = model.config.vocabSize;
  if (V === null || !model.embedding) throw inputError('perplexity needs a token model (one with an embedding)');
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= V) {
      throw inputError(`token id ${ids[i]} at position ${i} is outside the model's vocabulary (0 … ${V - 1})`);
    }
  }
  const stream = batchify(ids, B);
  if (stream.steps < 2) {
    throw inputError(`${ids.length} tokens make fewer than 2 steps of ${B} streams; nothing to predict`);
  }
  let lossSum = 0;
  let count = 0;
  let state: State[] = model.initState(B);
  try {
    for (const batch of streamBatches(stream, B, opts.bptt)) {
      const T = batch.seqLen;
      const chunk = {
        inputs: null,
        tokens: tf.tensor2d(batch.tokens as Int32Array, [T, B], 'int32'),
        tokenIds: batch.tokens as Int32Array,
        targets: tf.tensor1d(batch.targets as Int32Array, 'int32'),
        mask: tf.ones([T, B]) as tf.Tensor2D,
        count: T * B,
      };
      const prev = state;
      const { loss, final } = tf.tidy(() => chunkLossFast(model, chunk, prev, 'every', 'xent'));
      state = final;
      tf.dispose([...prev.flat(), chunk.tokens, chunk.targets, chunk.mask]);
      lossSum += (await loss.data())[0] * chunk.count;
      loss.dispose();
      count += chunk.count;
    }
  } finally {
    tf.dispose(state.flat());
  }
  const loss = lossSum / count;
  return { loss, perplexity: Math.exp(loss), tokens: count, droppedTokens: ids.length - stream.steps * B };
}
