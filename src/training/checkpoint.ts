import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { SequenceModel, MODEL_DEFAULTS, type ModelConfig } from '../models/model.js';
import { parseRecurrentWeights } from '../models/statedict.js';
import { Vocabulary } from '../data/vocab.js';
import { inputError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';

/**
 * Load a seqlab checkpoint (a run directory or its checkpoint.json): the model with
 * its weights, and the vocabulary saved with it (token tasks). Every way the file can
 * be wrong is one clear line.
 */
export interface LoadedCheckpoint {
  path: string;
  model: SequenceModel;
  vocabulary: Vocabulary | null;
  step: number;
  doc: Record<string, unknown>;
}

function matrixOf(value: unknown, rows: number, cols: number, what: string): Float64Array {
  if (!Array.isArray(value) || value.length !== rows) throw inputError(`${what} must have ${rows} rows`);
  const out = new Float64Array(rows * cols);
  value.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== cols) throw inputError(`${what} row ${r} must have ${cols} numbers`);
    row.forEach((v, c) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw inputError(`${what}[${r}][${c}] is not a finite number`);
      out[r * cols + c] = v;
    });
  });
  return out;
}

export function loadCheckpoint(pathOrDir: string): LoadedCheckpoint {
  const path =
    existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'checkpoint.json') : pathOrDir;
  const doc = readJsonFile(path, 'checkpoint') as Record<string, unknown>;
  const { model, vocabulary } = checkpointModel(doc, path);
  return { path, model, vocabulary, step: Number(doc.step ?? 0), doc };
}

/** The model (and vocabulary) of a parsed checkpoint.json; `path` names it in error messages. No file system: the browser lab uses it too. */
export function checkpointModel(
  doc: Record<string, unknown>,
  path: string,
): { model: SequenceModel; vocabulary: Vocabulary | null } {
  if (typeof doc !== 'object' || doc === null || doc.format !== 'seqlab-checkpoint/1')
    throw inputError(`${path} is not a seqlab checkpoint (no "format": "seqlab-checkpoint/1")`);
  const saved = doc.model as Partial<ModelConfig> | undefined;
  if (!saved || typeof saved !== 'object') throw inputError(`${path}: missing "model" config`);
  const weights = parseRecurrentWeights(doc, path);
  const config: ModelConfig = {
    ...MODEL_DEFAULTS,
    ...saved,
    cell: weights.cell,
    nonlinearity: weights.nonlinearity,
    hiddenSize: weights.hiddenSize,
    inputSize: weights.inputSize,
    numLayers: weights.layers.length,
  } as ModelConfig;
  const sd = doc.state_dict as Record<string, unknown>;
  const O = Array.isArray(sd['head.weight']) ? (sd['head.weight'] as unknown[]).length : 0;
  if (O === 0) throw inputError(`${path}: state_dict has no "head.weight"`);
  config.outputSize = O;
  const headWeight = matrixOf(sd['head.weight'], O, config.hiddenSize, `${path}: head.weight`);
  const headBias = matrixOf([sd['head.bias']], 1, O, `${path}: head.bias`);
  let embedding: Float64Array | null = null;
  let vocabulary: Vocabulary | null = null;
  if (config.vocabSize != null) {
    embedding = matrixOf(sd['embedding.weight'], config.vocabSize, config.inputSize, `${path}: embedding.weight`);
    if (doc.vocabulary === undefined)
      throw inputError(`${path}: a token model's checkpoint must carry its "vocabulary"`);
    vocabulary = Vocabulary.fromJSON(doc.vocabulary, `${path}: vocabulary`);
    if (vocabulary.size !== config.vocabSize)
      throw inputError(`${path}: vocabulary has ${vocabulary.size} tokens but the model ${config.vocabSize}`);
  }
  const model = new SequenceModel(config, weights.layers, { weight: headWeight, bias: headBias }, embedding);
  return { model, vocabulary };
}
