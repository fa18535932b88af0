import * as tf from '@tensorflow/tfjs';
import type { SequenceModel } from '../models/model.js';
import type { State } from '../models/cell.js';
import type { Batch, LossName, Readout, SequenceTask } from '../tasks/task.js';
import { fusedKernels, fusedSoftmaxXent } from '../compute/fused-kernels.js';

/** One chunk of a batch as tensors: time steps [t0, t0 + T). */
export interface ChunkTensors {
  inputs: tf.Tensor3D | null; // [T, B, I] dense inputs, or
  tokens: tf.Tensor2D | null; // [T, B] int32 token ids (embedded by the model)
  tokenIds: Int32Array | null; // the same ids in JS, for the embedding gradient
  targets: tf.Tensor; // see Batch.targets, restricted to the chunk
  mask: tf.Tensor2D; // [T, B]
  count: number; // Σ mask: how many targets the chunk holds
}

/** Free a chunk's tensors. */
export function disposeChunk(c: ChunkTensors): void {
  tf.dispose([c.targets, c.mask]);
  if (c.inputs) c.inputs.dispose();
  if (c.tokens) c.tokens.dispose();
}

/**
 * Time steps [t0, t1) of `batch` as tensors. Without an explicit mask, "last" counts the last
 * step of each sequence and "every" counts every step. Targets: class ids (xent) or values (mse).
 */
export function chunkTensors(batch: Batch, task: SequenceTask, t0: number, t1: number): ChunkTensors {
  const { batchSize: B, seqLen: T } = batch;
  const { inputSize: I, outputSize: O, readout } = task;
  const isXent = task.loss === 'xent';
  const len = t1 - t0;
  const mask = batch.mask ?? defaultMask(T, B, readout);
  const maskChunk = mask.subarray(t0 * B, t1 * B);
  let count = 0;
  for (const w of maskChunk) count += w;
  // "last": one target per sequence, whatever the chunk; "every": the chunk's own targets
  const per = isXent ? 1 : O;
  const slice = readout === 'last' ? batch.targets : batch.targets.subarray(t0 * B * per, t1 * B * per);
  const rows = readout === 'last' ? B : len * B;
  const targets = isXent ? tf.tensor1d(slice as Int32Array, 'int32') : tf.tensor2d(slice as Float32Array, [rows, O]);
  const tokenIds = batch.tokens ? batch.tokens.subarray(t0 * B, t1 * B) : null;
  return {
    inputs: tokenIds ? null : tf.tensor3d(batch.inputs.subarray(t0 * B * I, t1 * B * I), [len, B, I]),
    tokens: tokenIds ? tf.tensor2d(tokenIds, [len, B], 'int32') : null,
    tokenIds,
    targets,
    mask: tf.tensor2d(maskChunk, [len, B]),
    count,
  };
}

function defaultMask(T: number, B: number, readout: Readout): Float32Array {
  if (readout === 'every') return new Float32Array(T * B).fill(1);
  const m = new Float32Array(T * B);
  m.fill(1, (T - 1) * B, T * B);
  return m;
}

/** The chunk's inputs to the first layer: dense, or the embeddings of its tokens. */
export function chunkInputs(model: SequenceModel, chunk: ChunkTensors): tf.Tensor3D {
  if (chunk.inputs) return chunk.inputs;
  if (!chunk.tokens) throw new Error('a chunk needs inputs or tokens');
  return model.embed(chunk.tokens);
}

/**
 * Read-out values at the counted positions from the top layer's states hs [T, B, H]:
 * "last" → (Σ_t mask[t,b] h_t[b]) W + b, [B, O]; "every" → h_t W + b for every t, [T·B, O].
 */
export function readoutOutputs(
  hs: tf.Tensor3D,
  headW: tf.Tensor,
  headB: tf.Tensor,
  mask: tf.Tensor2D,
  readout: Readout,
): tf.Tensor2D {
  const [T, B, H] = hs.shape;
  const h = readout === 'last' ? tf.sum(tf.mul(hs, tf.expandDims(mask, 2)), 0) : tf.reshape(hs, [T * B, H]);
  return tf.add(tf.matMul(h, headW), headB) as tf.Tensor2D;
}

/**
 * Mean loss over the counted targets: MSE (mean over examples and outputs, as
 * nn.MSELoss) or softmax cross-entropy with integer classes (as nn.CrossEntropyLoss).
 */
export function lossFromOutputs(
  outputs: tf.Tensor2D,
  targets: tf.Tensor,
  weights: tf.Tensor1D,
  loss: LossName,
  count: number,
): tf.Scalar {
  const [, O] = outputs.shape;
  if (loss === 'mse') {
    const err = tf.sum(tf.square(tf.sub(outputs, tf.reshape(targets, outputs.shape))), 1); // [N]
    return tf.div(tf.sum(tf.mul(err, weights)), count * O) as tf.Scalar;
  }
  // tf.oneHot(…, 'float32') is wrong on wasm 4.22: build int32, then cast
  const onehot = tf.cast(tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, O), 'float32');
  const nll = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(outputs)), 1)); // [N]
  return tf.div(tf.sum(tf.mul(nll, weights)), count) as tf.Scalar;
}

/** Loss of a chunk given the top layer's states hs [T, B, H] and the read-out weights. */
export function lossFromStates(
  hs: tf.Tensor3D,
  headW: tf.Tensor,
  headB: tf.Tensor,
  chunk: ChunkTensors,
  readout: Readout,
  loss: LossName,
): { loss: tf.Scalar; outputs: tf.Tensor2D } {
  const outputs = readoutOutputs(hs, headW, headB, chunk.mask, readout);
  // "last": an example counts only in the chunk that holds its readout step
  const weights = (readout === 'last' ? tf.sum(chunk.mask, 0) : tf.reshape(chunk.mask, [-1])) as tf.Tensor1D;
  return { loss: lossFromOutputs(outputs, chunk.targets, weights, loss, chunk.count), outputs };
}

/**
 * The read-out and loss of a chunk with their gradients written by hand (the trainer's
 * fast path; lossFromStates is the autodiff reference the tests compare it with):
 *   outputs = Hx W + b, with Hx = [h_t for every t] ("every") or Σ_t mask_t h_t ("last")
 *   xent: ∂L/∂outputs = (softmax(outputs) − onehot(y)) w / count
 *   mse:  ∂L/∂outputs = 2 (outputs − y) w / (count · O)
 *   ∂L/∂W = Hxᵀ ∂L/∂outputs,  ∂L/∂b = 1ᵀ ∂L/∂outputs,  ∂L/∂Hx = ∂L/∂outputs Wᵀ
 * Transposes are materialized (a transposed matMul operand is ~10× slower on wasm).
 * Returns new tensors; call inside a tidy.
 */
export function headLossAndGrads(
  hs: tf.Tensor3D,
  headW: tf.Tensor2D,
  headB: tf.Tensor1D,
  chunk: ChunkTensors,
  readout: Readout,
  loss: LossName,
): { loss: tf.Scalar; dHs: tf.Tensor3D; dW: tf.Tensor2D; db: tf.Tensor1D } {
  const [T, B, H] = hs.shape;
  const O = headW.shape[1];
  let hx: tf.Tensor2D; // [N, H]
  let w: tf.Tensor2D; // [N, 1] weight of each read-out row
  if (readout === 'last') {
    // Σ_t mask[t,b] h_t[b] as a [1, T]·[T, B·H] matMul (wasm's Sum over axis 0 transposes first)
    const masked = tf.mul(hs, tf.expandDims(chunk.mask, 2));
    hx = tf.reshape(tf.matMul(tf.ones([1, T]), tf.reshape(masked, [T, B * H])), [B, H]);
    w = tf.reshape(tf.matMul(tf.ones([1, T]), chunk.mask), [B, 1]);
  } else {
    hx = tf.reshape(hs, [T * B, H]);
    w = tf.reshape(chunk.mask, [T * B, 1]);
  }
  let value: tf.Scalar;
  let dOut: tf.Tensor2D;
  if (loss === 'xent' && fusedKernels()) {
    // one kernel for bias, softmax, −log p and ∂L/∂outputs (wasm)
    const scale = tf.div(tf.reshape(w, [-1]), chunk.count) as tf.Tensor1D;
    [dOut, value] = fusedSoftmaxXent(
      tf.matMul(hx, headW) as tf.Tensor2D,
      headB,
      tf.reshape(chunk.targets, [-1]) as tf.Tensor1D,
      scale,
    );
    return { loss: value, ...headBackward(hx, headW, dOut, chunk.mask, readout, [T, B, H]) };
  }
  const outputs = tf.add(tf.matMul(hx, headW), headB); // [N, O]
  if (loss === 'mse') {
    const err = tf.sub(outputs, tf.reshape(chunk.targets, outputs.shape));
    value = tf.div(tf.sum(tf.mul(tf.square(err), w)), chunk.count * O);
    dOut = tf.mul(err, tf.mul(w, 2 / (chunk.count * O))) as tf.Tensor2D;
  } else {
    // one exp over [N, O] (the costliest element-wise op at large O): p = softmax, log Σ exp via the same sum
    const max = tf.max(outputs, 1, true);
    const e = tf.exp(tf.sub(outputs, max));
    const sumE = tf.sum(e, 1, true); // [N, 1]
    const p = tf.div(e, sumE);
    // the logit of each row's target, by a gather on the flattened logits (no [N, O] one-hot needed for the value)
    const N0 = outputs.shape[0];
    const flatIdx = tf.add(tf.mul(tf.range(0, N0, 1, 'int32'), tf.scalar(O, 'int32')), tf.reshape(chunk.targets, [-1]));
    const picked = tf.reshape(tf.gather(tf.reshape(outputs, [-1]), flatIdx), [N0, 1]);
    const nll = tf.sub(tf.add(tf.log(sumE), max), picked); // −log p_target, [N, 1]
    value = tf.div(tf.sum(tf.mul(nll, w)), chunk.count);
    // tf.oneHot(…, 'float32') is wrong on wasm 4.22: build int32, then cast
    const onehot = tf.cast(tf.oneHot(tf.reshape(chunk.targets, [-1]) as tf.Tensor1D, O), 'float32');
    dOut = tf.mul(tf.sub(p, onehot), tf.div(w, chunk.count)) as tf.Tensor2D;
  }
  return { loss: value, ...headBackward(hx, headW, dOut, chunk.mask, readout, [T, B, H]) };
}

/** ∂L/∂W, ∂L/∂b and ∂L/∂h_t of the read-out from ∂L/∂outputs [N, O]. */
function headBackward(
  hx: tf.Tensor2D,
  headW: tf.Tensor2D,
  dOut: tf.Tensor2D,
  mask: tf.Tensor2D,
  readout: Readout,
  [T, B, H]: number[],
): { dHs: tf.Tensor3D; dW: tf.Tensor2D; db: tf.Tensor1D } {
  const [N, O] = dOut.shape;
  // ∂L/∂W = (∂L/∂outputsᵀ Hx)ᵀ: wasm's matMul repacks its right operand on every call
  // (~4 ns a float), so the small Hx goes on the right and ∂L/∂outputs is transposed
  // once for both products (measured 1.1–1.2× faster than Hxᵀ ∂L/∂outputs at V 1 000 and 10 000)
  const dOutT = tf.transpose(dOut); // [O, N]
  const dW = tf.transpose(tf.matMul(dOutT, hx)) as tf.Tensor2D;
  const db = tf.reshape(tf.matMul(dOutT, tf.ones([N, 1])), [O]) as tf.Tensor1D;
  const dHx = tf.matMul(dOut, tf.transpose(headW)); // [N, H]
  const dHs = (
    readout === 'last' ? tf.mul(tf.expandDims(mask, 2), tf.expandDims(dHx, 0)) : tf.reshape(dHx, [T, B, H])
  ) as tf.Tensor3D;
  return { dHs, dW, db };
}

/**
 * Forward a chunk from `state0` through the plain per-step path (autodiff-friendly)
 * and return its loss, read-outs and final state.
 */
export function chunkLoss(
  model: SequenceModel,
  chunk: ChunkTensors,
  state0: State[],
  readout: Readout,
  loss: LossName,
): { loss: tf.Scalar; final: State[]; outputs: tf.Tensor2D } {
  const { tops, final } = model.run(chunkInputs(model, chunk), state0);
  const hs = tf.stack(tops) as tf.Tensor3D;
  return { ...lossFromStates(hs, model.headWeight(), model.headB, chunk, readout, loss), final };
}
