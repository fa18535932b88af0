import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { SequenceModel, MODEL_DEFAULTS, type ModelConfig } from '../models/model.js';
import { parseRecurrentWeights } from '../models/statedict.js';
import { Vocabulary } from '../data/vocab.js';
import { inputError } from '../util/errors.js';
import { readJsonFile } from '../util/files.js';
import type { Mlp } from '../models/mlp.js';
import type { RunDir } from '../runlog/rundir.js';
import type { TrainConfig } from './config.js';

/**
 * checkpoint.json, written and read in one place. A recurrent model's checkpoint is its
 * PyTorch-named weights (loadable by `seqlab probe --weights`) with the model and training
 * configs, the vocabulary of a token task, and the resume record; an MLP's has its own format.
 * Writes are atomic (RunDir.writeJson): a checkpoint on disk is always a whole one.
 */

export const CHECKPOINT_FILE = 'checkpoint.json';

/**
 * Write a recurrent model's checkpoint and log it. Returns false, writing nothing, if any
 * weight is NaN/Inf (JSON would store it as null).
 */
export async function writeCheckpoint(
  model: SequenceModel,
  runDir: RunDir,
  step: number,
  trainConfig: Readonly<TrainConfig>,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const stateDict = await model.stateDict();
  if (!Object.values(stateDict).every((w) => w.flat().every(Number.isFinite))) return false;
  runDir.writeJson(CHECKPOINT_FILE, {
    format: 'seqlab-checkpoint/1',
    step,
    cell: model.config.cell,
    nonlinearity: model.config.nonlinearity,
    model: model.config,
    train: trainConfig,
    ...extra,
    state_dict: stateDict,
  });
  runDir.log({ type: 'checkpoint', step, file: CHECKPOINT_FILE });
  return true;
}

/** Write an MLP's checkpoint and log it; false, writing nothing, if any weight is NaN/Inf. */
export function writeMlpCheckpoint(
  net: Mlp,
  runDir: RunDir,
  at: { step: number; epoch: number },
  trainConfig: Readonly<object>,
  optimizer: unknown,
): boolean {
  const stateDict = net.stateDict();
  if (!Object.values(stateDict).every((w) => w.every(Number.isFinite))) return false;
  runDir.writeJson(CHECKPOINT_FILE, {
    format: 'seqlab-mlp-checkpoint/1',
    step: at.step,
    epoch: at.epoch,
    model: net.config,
    train: trainConfig,
    optimizer,
    state_dict: stateDict,
  });
  runDir.log({ type: 'checkpoint', step: at.step, file: CHECKPOINT_FILE });
  return true;
}

/** A loaded checkpoint: the model with its weights, and the vocabulary saved with it (token tasks). */
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

/** Load a checkpoint (a run directory or its checkpoint.json); every way the file can be wrong is one clear line. */
export function loadCheckpoint(pathOrDir: string): LoadedCheckpoint {
  const path =
    existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, CHECKPOINT_FILE) : pathOrDir;
  const doc = readJsonFile(path, 'checkpoint') as Record<string, unknown>;
  const { model, vocabulary } = checkpointModel(doc, path);
  return { path, model, vocabulary, step: Number(doc.step ?? 0), doc };
}

/**
 * The model (and vocabulary) of a parsed checkpoint.json; `path` names it in error messages. No file system:
 * the browser lab uses it too.
 */
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
