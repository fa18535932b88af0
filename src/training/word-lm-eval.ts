import * as tf from '@tensorflow/tfjs';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import { batchify, streamBatches } from '../tasks/lm.js';
import { inputError, positiveInt } from '../util/errors.js';
import { StopPoint } from '../util/turns.js';
import { chunkLossFast } from './bptt.js';

/**
 * Perplexity computed with pytorch/examples' word_language_model evaluate() conventions, so a
 * number seqlab prints for an imported model is the number PyTorch printed for it.
 */

export interface WordLMEvalOptions {
  /** Parallel streams (word_language_model's eval_batch_size). Default 10. */
  batchSize: number;
  /** Steps per chunk. Default 35. */
  bptt: number;
  /** Stop between chunks once aborted: the promise rejects with Interrupted (nothing is kept). */
  signal?: AbortSignal;
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
  const stop = new StopPoint(opts.signal);
  const batches = streamBatches(stream, B, opts.bptt);
  try {
    for (const [i, batch] of batches.entries()) {
      await stop.check((signal) => `evaluation stopped (${signal}) after ${i} of ${batches.length} chunks`);
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
