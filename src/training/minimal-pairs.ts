import * as tf from '@tensorflow/tfjs';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import type { Vocabulary } from '../data/vocab.js';
import { type PairLogProbs, prefixIds } from '../tasks/agreement-ud/score.js';
import { inputError } from '../util/errors.js';
import { StopPoint } from '../util/turns.js';
import { forwardSequence } from './bptt.js';
import { type JacobianMode, jacobianNorms } from './gradflow.js';

/**
 * A word LM on minimal pairs (agreement items): ln p(correct | prefix), ln p(wrong | prefix),
 * and the gradient-flow link of each item, ‖∂h_verb/∂h_subject‖.
 *
 * The model reads each prefix as it read its text: from the zero state, the sentence boundary
 * <eos> first, then the prefix's tokens (unknown words as <unk>). With ids x_0 = <eos>,
 * x_1 … x_n = the prefix, h_t is the top layer's state after x_t, and the verb is predicted
 * from h_n. Prefixes are batched, sorted by length and padded at the end (a recurrent model is
 * causal: padding after x_n cannot change h_n), so one forward pass scores a whole batch and
 * the read-out is applied only at each prefix's end.
 *
 * The link: the subject's head is x_s (s = subjectIndex + 1), so the Jacobian from the
 * subject's state to the verb's is ∂h_n/∂h_s, over a gap of n − s = the item's distance. It is
 * the top layer's Jacobian with its inputs held fixed (the convention of the gradient-flow
 * probes, docs/ARCHITECTURE.md), computed by jacobianNorms from the state at s over the inputs
 * x_{s+1} … x_n; the items of one batch share their gap. Gap 0 is the identity.
 */

export interface PairScoringOptions {
  /** Prefixes per forward pass. Default 128. */
  batchSize: number;
  /** Called after each batch with the prefixes done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Stop between batches once aborted: the promise rejects with Interrupted. */
  signal?: AbortSignal;
}

export const PAIR_SCORING_DEFAULTS: Readonly<PairScoringOptions> = { batchSize: 128 };

export interface MinimalPair {
  prefix: readonly string[];
  correct: string;
  wrong: string;
}

/** Refuse a model that does not read and predict `vocab`'s ids. */
export function requireWordLM(model: SequenceModel, vocab: Vocabulary, what = 'model'): void {
  const { vocabSize, outputSize } = model.config;
  if (model.embedding === null || vocabSize === null)
    throw inputError(`${what} has no token embedding: minimal pairs need a word language model`);
  if (vocabSize !== vocab.size || outputSize !== vocab.size) {
    throw inputError(
      `${what} reads ${vocabSize} and predicts ${outputSize} token ids, but its vocabulary has ${vocab.size}`,
    );
  }
}

/** Indices 0 … n−1 sorted by `length[i]` (stable), cut into runs of at most `size`. */
function batchesByLength(lengths: readonly number[], size: number, key: (i: number) => number = () => 0): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => key(a) - key(b) || lengths[a] - lengths[b] || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; ) {
    const batch = [order[i++]];
    while (i < order.length && batch.length < size && key(order[i]) === key(batch[0])) batch.push(order[i++]);
    out.push(batch);
  }
  return out;
}

/** Time-major ids [T, B] of the batch's id sequences, padded at the end with id 0 (never read: the model is causal). */
function timeMajor(seqs: readonly Int32Array[]): { ids: Int32Array; T: number } {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(T * B);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length; t++) ids[t * B + b] = s[t];
  });
  return { ids, T };
}

/** The inputs of layer `layer` over ids [T, B]: the embeddings, or the h's of the layer below. Call inside a tidy. */
function layerInputsOf(model: SequenceModel, ids: Int32Array, T: number, B: number, layer: number): tf.Tensor3D {
  let x = model.embed(tf.tensor2d(ids, [T, B], 'int32'));
  for (let l = 0; l < layer; l++) x = forwardSequence(model.layers[l], x, model.layers[l].initState(B)).hs;
  return x;
}

/** ln p(correct | <eos> prefix) and ln p(wrong | <eos> prefix) for every pair, in order. */
export async function scorePairs(
  model: SequenceModel,
  vocab: Vocabulary,
  pairs: readonly MinimalPair[],
  options: Partial<PairScoringOptions> = {},
): Promise<PairLogProbs[]> {
  const opts = { ...PAIR_SCORING_DEFAULTS, ...options };
  requireWordLM(model, vocab);
  const seqs = pairs.map((p) => prefixIds(vocab, p.prefix));
  const out: PairLogProbs[] = new Array(pairs.length);
  const V = vocab.size;
  const stop = new StopPoint(opts.signal);
  let done = 0;
  for (const batch of batchesByLength(
    seqs.map((s) => s.length),
    opts.batchSize,
  )) {
    await stop.check((signal) => `scoring stopped (${signal}) after ${done} of ${pairs.length} prefixes`);
    const B = batch.length;
    const { ids, T } = timeMajor(batch.map((i) => seqs[i]));
    // rows of h_n in the [T·B, H] states, and of the two forms in the [B·V] log-probabilities
    const last = Int32Array.from(batch, (i, b) => (seqs[i].length - 1) * B + b);
    const forms = new Int32Array(2 * B);
    batch.forEach((i, b) => {
      forms[2 * b] = b * V + vocab.id(pairs[i].correct);
      forms[2 * b + 1] = b * V + vocab.id(pairs[i].wrong);
    });
    const picked = tf.tidy(() => {
      const hs = layerInputsOf(model, ids, T, B, model.layers.length); // [T, B, H]
      const hn = tf.gather(tf.reshape(hs, [T * B, model.hiddenSize]), last); // [B, H]
      const logp = tf.logSoftmax(model.head(hn as tf.Tensor2D)); // [B, V]
      return tf.gather(tf.reshape(logp, [B * V]), forms);
    });
    const values = await picked.data();
    picked.dispose();
    batch.forEach((i, b) => {
      out[i] = { correct: values[2 * b], wrong: values[2 * b + 1] };
    });
    done += B;
    opts.onProgress?.(done, pairs.length);
  }
  return out;
}

export interface JacobianLinkOptions {
  /** "h": ∂h_n/∂h_s with c_s fixed; "state": ∂s_n/∂s_s, s = [h; c] (LSTM). Default "h". */
  mode: JacobianMode;
  /** Spectral norms as well as Frobenius ones. Default true. */
  spectral: boolean;
  /** Items per sweep (items of one batch share their gap). Default 64. */
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
  /** Stop between batches once aborted: the promise rejects with Interrupted. */
  signal?: AbortSignal;
}

export const JACOBIAN_LINK_DEFAULTS: Readonly<JacobianLinkOptions> = { mode: 'h', spectral: true, batchSize: 64 };

export interface SubjectVerbJacobian {
  /** n − s: tokens from the subject's head to the verb's prediction (= the item's distance). */
  gap: number;
  /** ‖∂h_n/∂h_s‖₂ (null when spectral norms are off). */
  spectral: number | null;
  frobenius: number;
}

/** ‖∂h_verb/∂h_subject‖ of the top layer for each item (see the module comment). */
export async function subjectVerbJacobians(
  model: SequenceModel,
  vocab: Vocabulary,
  items: readonly { prefix: readonly string[]; subjectIndex: number }[],
  options: Partial<JacobianLinkOptions> = {},
): Promise<SubjectVerbJacobian[]> {
  const opts = { ...JACOBIAN_LINK_DEFAULTS, ...options };
  requireWordLM(model, vocab);
  const top = model.layers.length - 1;
  const cell = model.layers[top];
  const mode: JacobianMode = cell.numStates === 2 ? opts.mode : 'h';
  const rows = mode === 'state' ? 2 * cell.hiddenSize : cell.hiddenSize;
  const seqs = items.map((item, i) => {
    if (!Number.isInteger(item.subjectIndex) || item.subjectIndex < 0 || item.subjectIndex >= item.prefix.length)
      throw inputError(`item ${i}: subjectIndex ${item.subjectIndex} is not a position of its prefix`);
    return prefixIds(vocab, item.prefix);
  });
  const gapOf = (i: number) => items[i].prefix.length - 1 - items[i].subjectIndex;
  const out: SubjectVerbJacobian[] = new Array(items.length);
  const stop = new StopPoint(opts.signal);
  let done = 0;
  for (const batch of batchesByLength(
    seqs.map((s) => s.length),
    opts.batchSize,
    gapOf,
  )) {
    await stop.check((signal) => `the Jacobians stopped (${signal}) after ${done} of ${items.length} items`);
    const B = batch.length;
    const gap = gapOf(batch[0]);
    if (gap === 0) {
      // ∂h_s/∂h_s = I
      for (const i of batch) out[i] = { gap, spectral: opts.spectral ? 1 : null, frobenius: Math.sqrt(rows) };
    } else {
      const { ids, T } = timeMajor(batch.map((i) => seqs[i]));
      const s = batch.map((i) => items[i].subjectIndex + 1);
      const sMax = Math.max(...s);
      const { state0, after } = tf.tidy(() => {
        const xs = layerInputsOf(model, ids, T, B, top); // [T, B, I]
        const inputs = tf.unstack(xs) as tf.Tensor2D[];
        // the top layer step by step up to the last subject; keep every state to pick each item's s_s
        let state: State = cell.initState(B);
        const history: State[] = [];
        for (let t = 0; t <= sMax; t++) {
          state = cell.step(inputs[t], state);
          history.push(state);
        }
        const atSubject = Int32Array.from(s, (t, b) => t * B + b);
        const state0 = state.map((_, j) =>
          tf.gather(tf.reshape(tf.stack(history.map((h) => h[j])), [(sMax + 1) * B, cell.hiddenSize]), atSubject),
        ) as State;
        // x_{s+1} … x_{s+gap} of each item, time-major [gap, B, I]
        const rowsAfter = new Int32Array(gap * B);
        for (let j = 0; j < gap; j++) for (let b = 0; b < B; b++) rowsAfter[j * B + b] = (s[b] + 1 + j) * B + b;
        const I = xs.shape[2];
        const after = tf.reshape(tf.gather(tf.reshape(xs, [T * B, I]), rowsAfter), [gap, B, I]) as tf.Tensor3D;
        return { state0, after };
      });
      try {
        const jac = await jacobianNorms(cell, after, state0, { mode, spectral: opts.spectral, gaps: [gap] });
        const row = jac.rows[0];
        batch.forEach((i, b) => {
          out[i] = { gap, spectral: row.spectralPerSeq?.[b] ?? null, frobenius: row.frobeniusPerSeq[b] };
        });
      } finally {
        tf.dispose([...state0, after]);
      }
    }
    done += B;
    opts.onProgress?.(done, items.length);
  }
  return out;
}
