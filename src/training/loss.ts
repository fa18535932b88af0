import * as tf from '@tensorflow/tfjs';
import type { SequenceModel } from '../models/model.js';
import type { State } from '../models/cell.js';
import type { LossName, Readout } from './task.js';

/** One chunk of a batch as tensors: time steps [t0, t0 + T). */
export interface ChunkTensors {
  inputs: tf.Tensor3D; // [T, B, I]
  targets: tf.Tensor; // see Batch.targets, restricted to the chunk
  mask: tf.Tensor2D; // [T, B]
  count: number; // Σ mask: how many targets the chunk holds
}

/**
 * Read-out values at the counted positions from the top layer's states hs [T, B, H]:
 * "last" → (Σ_t mask[t,b] h_t[b]) W + b, [B, O]; "every" → h_t W + b for every t, [T·B, O].
 */
export function readoutOutputs(hs: tf.Tensor3D, headW: tf.Tensor, headB: tf.Tensor, mask: tf.Tensor2D, readout: Readout): tf.Tensor2D {
  const [T, B, H] = hs.shape;
  const h = readout === 'last' ? tf.sum(tf.mul(hs, tf.expandDims(mask, 2)), 0) : tf.reshape(hs, [T * B, H]);
  return tf.add(tf.matMul(h, headW), headB) as tf.Tensor2D;
}

/**
 * Mean loss over the counted targets: MSE (mean over examples and outputs, as
 * nn.MSELoss) or softmax cross-entropy with integer classes (as nn.CrossEntropyLoss).
 */
export function lossFromOutputs(outputs: tf.Tensor2D, targets: tf.Tensor, weights: tf.Tensor1D, loss: LossName, count: number): tf.Scalar {
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
 * Forward a chunk from `state0` through the plain per-step path (autodiff-friendly;
 * perturb: see SequenceModel.run) and return its loss, read-outs and final state.
 */
export function chunkLoss(
  model: SequenceModel,
  chunk: ChunkTensors,
  state0: State[],
  readout: Readout,
  loss: LossName,
  perturb?: tf.Tensor2D[],
): { loss: tf.Scalar; final: State[]; outputs: tf.Tensor2D } {
  const { tops, final } = model.run(chunk.inputs, state0, perturb);
  const hs = tf.stack(tops) as tf.Tensor3D;
  return { ...lossFromStates(hs, model.headW, model.headB, chunk, readout, loss), final };
}
