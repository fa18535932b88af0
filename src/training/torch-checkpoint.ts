import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseSafetensors, writeSafetensorsFile, type WriteDtype } from '../data/safetensors.js';
import type { Vocabulary } from '../data/vocab.js';
import { readVocabFile, writeVocabFile } from '../data/word-lm-corpus.js';
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
import { SeqlabError, inputError } from '../util/errors.js';

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
    throw inputError(
      `vocabulary file ${files.vocab} lists ${vocabulary.size} words but ${files.weights} has ${rows} (encoder.weight rows)`,
    );
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
