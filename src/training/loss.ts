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
 * Read-out values at the counted positions: "last" → Σ_t mask[t,b] h_t[b] then the head
 * ([B, O]); "every" → head of every h_t ([T·B, O]).
 */
export function readoutOutputs(model: SequenceModel, tops: tf.Tensor2D[], mask: tf.Tensor2D, readout: Readout): tf.Tensor2D {
  const hs = tf.stack(tops) as tf.Tensor3D; // [T, B, H]
  if (readout === 'last') {
    const h = tf.sum(tf.mul(hs, tf.expandDims(mask, 2)), 0) as tf.Tensor2D; // [B, H]
    return model.head(h);
  }
  const [T, B, H] = hs.shape;
  return model.head(tf.reshape(hs, [T * B, H]));
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

/** Forward a chunk from `state0` (perturb: see SequenceModel.run) and return its loss and final state. */
export function chunkLoss(
  model: SequenceModel,
  chunk: ChunkTensors,
  state0: State[],
  readout: Readout,
  loss: LossName,
  perturb?: tf.Tensor2D[],
): { loss: tf.Scalar; final: State[]; outputs: tf.Tensor2D } {
  const { tops, final } = model.run(chunk.inputs, state0, perturb);
  const outputs = readoutOutputs(model, tops, chunk.mask, readout);
  // "last": an example counts only in the chunk that holds its readout step
  const weights = (readout === 'last' ? tf.sum(chunk.mask, 0) : tf.reshape(chunk.mask, [-1])) as tf.Tensor1D;
  return { loss: lossFromOutputs(outputs, chunk.targets, weights, loss, chunk.count), final, outputs };
}
