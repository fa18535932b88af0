import * as tf from '@tensorflow/tfjs';
import { RecurrentCellBase, type Cell, type State } from '../models/cell.js';
import { RNNCell } from '../models/rnn.js';
import {
  type FusedCellKind,
  fusedCellBackward,
  fusedCellForward,
  fusedKernels,
  fusedSoftmaxXent,
  isFusedCellKind,
} from '../compute/fused-kernels.js';
import type { SequenceModel } from '../models/model.js';
import { chunkInputs, headLossAndGrads, lossFromStates, type ChunkTensors } from './loss.js';
import type { LossName, Readout } from '../tasks/task.js';

/**
 * Hand-written backpropagation through time, the fast path of the trainer.
 *
 * Forward: the input projection of all T steps is one matMul; each step then costs
 * one [B, H]·[H, G·H] matMul plus element-wise work, and keeps the factors its
 * backward needs (Cell.stepProjected with `local`).
 * Backward: each step is Cell.backStep plus one untransposed da·W_hh matMul; the
 * weight gradients of all steps are two matMuls at the end (Xᵀ·dA, H_prevᵀ·dA,
 * with the transposes materialized: on wasm a transposed matMul operand is ~10×
 * slower than an explicit transpose followed by a plain matMul).
 * Tests check it against tfjs autodiff and against float64 finite differences.
 */

export interface SequenceTrace {
  x2d: tf.Tensor2D; // [T·B, I]
  hs: tf.Tensor3D; // [T, B, H]: h_1 … h_T
  hPrev2d: tf.Tensor2D; // [T·B, H]: h_0 … h_{T−1}
  locals: tf.Tensor2D[][];
  final: State;
}

type FusedNonlinearity = Parameters<typeof fusedCellForward>[1];

/** What the fused step computes for `cell`'s φ; null for the linear RNN (the fused step knows tanh, sigmoid, relu). */
function fusedNonlinearity(cell: Cell): FusedNonlinearity | null {
  if (!(cell instanceof RNNCell)) return 'tanh';
  return cell.nonlinearity === 'identity' ? null : cell.nonlinearity;
}

/** True when `cell`'s steps run as fused kernels (wasm, a fused kind and nonlinearity); else the composite ops. */
export function runsFused(cell: Cell): cell is RecurrentCellBase & Cell & { kind: FusedCellKind } {
  return (
    fusedKernels(cell.hiddenSize) &&
    isFusedCellKind(cell.kind) &&
    cell instanceof RecurrentCellBase &&
    fusedNonlinearity(cell) !== null
  );
}

/**
 * Run `cell` over xs [T, B, I] from s0, keeping what backwardSequence needs. The
 * per-step loop does only the forward step; the backward factors of all T steps are
 * computed afterwards in one element-wise pass over [T, B, ·] tensors. Call inside a tidy.
 */
export function forwardSequence(cell: Cell, xs: tf.Tensor3D, s0: State): SequenceTrace {
  const [T, B, I] = xs.shape;
  const x2d = tf.reshape(xs, [T * B, I]) as tf.Tensor2D;
  if (runsFused(cell)) return forwardFused(cell, cell.kind, x2d, T, B, s0);
  const xw = tf.unstack(tf.reshape(cell.project(x2d), [T, B, -1])) as tf.Tensor2D[];
  const states: State[] = [s0];
  const saved: tf.Tensor2D[][] = [];
  for (let t = 0; t < T; t++) {
    const step = cell.stepProjected(xw[t], states[t]);
    states.push(step.next);
    saved.push(step.saved);
  }
  // [T, B, ·] stacks: saved activations of steps 1..T and the states they started from
  const savedT = saved[0].map((_, j) => tf.stack(saved.map((s) => s[j])));
  const prevT = s0.map((_, j) => tf.stack(states.slice(0, T).map((s) => s[j])));
  const factorsT = cell.localFactors(savedT, prevT).map((f) => tf.unstack(f) as tf.Tensor2D[]);
  const locals = Array.from({ length: T }, (_, t) => factorsT.map((f) => f[t]));
  const hs = tf.stack(states.slice(1).map((s) => s[0])) as tf.Tensor3D;
  const hPrev2d = tf.reshape(prevT[0], [T * B, cell.hiddenSize]) as tf.Tensor2D;
  return { x2d, hs, hPrev2d, locals, final: states[T] };
}

/** forwardSequence with one fused kernel per step for the element-wise work (wasm). */
function forwardFused(
  cell: RecurrentCellBase & Cell,
  kind: FusedCellKind,
  x2d: tf.Tensor2D,
  T: number,
  B: number,
  s0: State,
): SequenceTrace {
  const xw = cell.project(x2d); // [T·B, G·H]
  const nonlinearity = fusedNonlinearity(cell) ?? 'tanh';
  const states: State[] = [s0];
  const locals: tf.Tensor2D[][] = [];
  for (let t = 0; t < T; t++) {
    const [h, c] = states[t];
    const hw = tf.matMul(h, cell.whhT) as tf.Tensor2D;
    const out = fusedCellForward(kind, nonlinearity, t, {
      xw,
      hw,
      h,
      ...(kind === 'lstm' ? { c } : {}),
      ...(kind === 'gru' ? { bhh: cell.bhh as tf.Tensor1D } : {}),
    });
    const n = cell.numStates;
    states.push(out.slice(0, n));
    locals.push(out.slice(n));
  }
  const hs = tf.stack(states.slice(1).map((s) => s[0])) as tf.Tensor3D;
  const hPrev2d = tf.reshape(tf.stack(states.slice(0, T).map((s) => s[0])), [T * B, cell.hiddenSize]) as tf.Tensor2D;
  return { x2d, hs, hPrev2d, locals, final: states[T] };
}

export interface SequenceGrads {
  /** Keyed as Cell.variables(): weight_ih_T, weight_hh_T, bias_ih, bias_hh. */
  grads: Record<string, tf.Tensor>;
  /** ∂L/∂x_t for every step [T, B, I], when asked for (the layer below needs it). */
  dXs: tf.Tensor3D | null;
  /** ∂L/∂h_k (c_k held fixed) for k = 0..T, each [B, H]. */
  dH: tf.Tensor2D[];
  /** ∂L/∂s_0. */
  dS0: State;
}

/**
 * Backward through a traced sequence, given ∂L/∂h_t from above for every step
 * (dHs [T, B, H]) and optionally ∂L/∂s_T (dFinal). Call inside a tidy.
 */
export function backwardSequence(
  cell: Cell,
  trace: SequenceTrace,
  dHs: tf.Tensor3D,
  needInputGrad: boolean,
  dFinal?: State,
): SequenceGrads {
  const [T, B, H] = trace.hs.shape;
  const weightHH = cell.recurrentWeight(); // [G·H, H]
  if (runsFused(cell) && !dFinal)
    return weightGrads(cell, trace, ...backwardFused(cell.kind, trace, dHs, weightHH), needInputGrad);
  const fromAbove = tf.unstack(dHs) as tf.Tensor2D[];
  let carry: (tf.Tensor2D | null)[] = dFinal ? [...dFinal] : Array.from({ length: cell.numStates }, () => null);
  const dahs: tf.Tensor2D[] = new Array(T);
  const daxs: tf.Tensor2D[] = new Array(T);
  const dH: tf.Tensor2D[] = new Array(T + 1);
  for (let t = T - 1; t >= 0; t--) {
    const gh = carry[0] ? (tf.add(fromAbove[t], carry[0]) as tf.Tensor2D) : fromAbove[t];
    dH[t + 1] = gh;
    const cot = [gh, ...carry.slice(1).map((c) => c ?? tf.zerosLike(gh))] as tf.Tensor2D[];
    const { dah, dax, direct } = cell.backStep(trace.locals[t], cot);
    dahs[t] = dah;
    daxs[t] = dax;
    const viaW = tf.matMul(dah, weightHH) as tf.Tensor2D;
    carry = [direct[0] ? (tf.add(viaW, direct[0]) as tf.Tensor2D) : viaW, ...direct.slice(1)];
  }
  dH[0] = carry[0] as tf.Tensor2D;
  const dS0 = carry.map((c) => c ?? tf.zeros([B, H])) as State;
  return weightGrads(cell, trace, dahs, daxs, dH, dS0, needInputGrad);
}

/** The backward sweep with one fused kernel per step (wasm): dah, dax per step, ∂L/∂h_k, ∂L/∂s_0. */
function backwardFused(
  kind: FusedCellKind,
  trace: SequenceTrace,
  dHs: tf.Tensor3D,
  weightHH: tf.Tensor2D,
): [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], State] {
  const [T, B, H] = trace.hs.shape;
  const above = tf.reshape(dHs, [T * B, H]) as tf.Tensor2D;
  const dahs: tf.Tensor2D[] = new Array(T);
  const daxs: tf.Tensor2D[] = new Array(T);
  const dH: tf.Tensor2D[] = new Array(T + 1);
  let viaW: tf.Tensor2D | null = null;
  let carry: tf.Tensor2D | null = null; // lstm: ∂L/∂c_t; gru: G_{t+1} ⊙ z_{t+1}
  for (let t = T - 1; t >= 0; t--) {
    const out = fusedCellBackward(kind, t, above, viaW, carry, trace.locals[t]);
    dH[t + 1] = out[0];
    dahs[t] = out[1];
    daxs[t] = kind === 'gru' ? out[2] : out[1];
    carry = kind === 'lstm' ? out[2] : kind === 'gru' ? out[3] : null;
    viaW = tf.matMul(dahs[t], weightHH) as tf.Tensor2D;
  }
  const v = viaW as tf.Tensor2D;
  const dS0: State =
    kind === 'lstm'
      ? [v, carry as tf.Tensor2D]
      : kind === 'gru'
        ? [tf.add(v, carry as tf.Tensor2D) as tf.Tensor2D]
        : [v];
  dH[0] = dS0[0];
  return [dahs, daxs, dH, dS0];
}

/** Weight gradients of all steps at once, and ∂L/∂x_t when asked for. */
function weightGrads(
  cell: Cell,
  trace: SequenceTrace,
  dahs: tf.Tensor2D[],
  daxs: tf.Tensor2D[],
  dH: tf.Tensor2D[],
  dS0: State,
  needInputGrad: boolean,
): SequenceGrads {
  const [T, B] = trace.hs.shape;
  const G = dahs[0].shape[1];
  const dAh = tf.reshape(tf.stack(dahs), [T * B, G]) as tf.Tensor2D; // [T·B, G·H]
  const dAx = daxs[0] === dahs[0] ? dAh : (tf.reshape(tf.stack(daxs), [T * B, G]) as tf.Tensor2D);
  // column sums as a [1, T·B]·[T·B, G·H] matMul: wasm's Sum over axis 0 transposes first and is far slower
  const ones = tf.ones([1, T * B]);
  const colSum = (m: tf.Tensor2D) => tf.reshape(tf.matMul(ones, m), [G]);
  const grads = {
    weight_ih_T: tf.matMul(tf.transpose(trace.x2d), dAx), // [I, G·H]
    weight_hh_T: tf.matMul(tf.transpose(trace.hPrev2d), dAh), // [H, G·H]
    bias_ih: colSum(dAx),
    bias_hh: colSum(dAh),
  };
  const dXs = needInputGrad ? (tf.reshape(tf.matMul(dAx, cell.inputWeight()), [T, B, -1]) as tf.Tensor3D) : null;
  return { grads, dXs, dH, dS0 };
}

export interface ModelGrads {
  loss: tf.Scalar;
  /** Keyed as SequenceModel.variables(). */
  grads: Record<string, tf.Tensor>;
  final: State[];
  /** ‖∂L/∂h_k‖ of the top layer, k = 0..T, as a [T+1] tensor (Frobenius over the batch), when asked for. */
  dHNorms: tf.Tensor1D | null;
}

/**
 * Loss and exact gradients of every model variable for one chunk from state0:
 * forward each layer, the read-out and loss with their hand-written gradients,
 * then hand-written BPTT down the stack. No autodiff tape anywhere.
 * All returned tensors are new; the caller disposes them.
 */
export function modelLossAndGrads(
  model: SequenceModel,
  chunk: ChunkTensors,
  state0: State[],
  readout: Readout,
  loss: LossName,
  withDHNorms = false,
  dropoutMasks: (tf.Tensor3D | null)[] = [],
): ModelGrads {
  // dropout on the non-recurrent connections (Zaremba et al. 2014): masks[l] scales the input
  // of layer l, masks[L] the top layer's output before the read-out; backward scales by the same mask
  const drop = (t: tf.Tensor3D, l: number) =>
    dropoutMasks[l] ? (tf.mul(t, dropoutMasks[l] as tf.Tensor3D) as tf.Tensor3D) : t;
  const L = model.layers.length;
  const out = tf.tidy(() => {
    const traces: SequenceTrace[] = [];
    let input = chunkInputs(model, chunk);
    model.layers.forEach((cell, l) => {
      const tr = forwardSequence(cell, drop(input, l), state0[l]);
      traces.push(tr);
      input = tr.hs;
    });
    const top = traces[traces.length - 1];
    const head = headLossAndGrads(
      drop(top.hs, L),
      model.headWeight(),
      model.headB as tf.Tensor1D,
      chunk,
      readout,
      loss,
    );
    const value = head.loss;
    const grads: Record<string, tf.Tensor> = { 'head.bias': head.db };
    if (model.headW) grads['head.weight_T'] = head.dW;
    let dHs = drop(head.dHs, L);
    let dHNorms: tf.Tensor1D | null = null;
    for (let l = model.layers.length - 1; l >= 0; l--) {
      const g = backwardSequence(model.layers[l], traces[l], dHs, l > 0 || model.embedding !== null);
      for (const [k, v] of Object.entries(g.grads)) grads[`${k}_l${l}`] = v;
      if (withDHNorms && l === model.layers.length - 1) dHNorms = tf.stack(g.dH.map((d) => tf.norm(d))) as tf.Tensor1D;
      if (g.dXs) dHs = drop(g.dXs, l);
    }
    if (model.embedding) {
      const dE = embeddingGrad(dHs, chunk.tokenIds as Int32Array, model.config.vocabSize as number);
      // tied: W_out = Eᵀ, so ∂L/∂E also collects ∂L/∂W_outᵀ
      grads['embedding.weight'] = model.headW ? dE : tf.add(dE, tf.transpose(head.dW));
    }
    const kept: tf.TensorContainer = {
      loss: value as tf.Scalar,
      grads,
      final: traces.map((t) => t.final),
      ...(dHNorms ? { dHNorms } : {}),
    };
    return kept;
  }) as unknown as Omit<ModelGrads, 'dHNorms'> & { dHNorms?: tf.Tensor1D };
  return { ...out, dHNorms: out.dHNorms ?? null };
}

/**
 * The loss of a chunk and the final state, forward only, through the trainer's fast
 * path (fused kernels on wasm; no read-out values kept): what evaluation needs when a
 * task uses only the loss (a language model over its validation text). Call inside a tidy.
 */
export function chunkLossFast(
  model: SequenceModel,
  chunk: ChunkTensors,
  state0: State[],
  readout: Readout,
  loss: LossName,
): { loss: tf.Scalar; final: State[] } {
  let input = chunkInputs(model, chunk);
  const final: State[] = [];
  model.layers.forEach((cell, l) => {
    const tr = forwardSequence(cell, input, state0[l]);
    final.push(tr.final);
    input = tr.hs;
  });
  const [T, B, H] = input.shape;
  if (loss === 'xent' && readout === 'every' && fusedKernels()) {
    const w = tf.div(tf.reshape(chunk.mask, [-1]), chunk.count) as tf.Tensor1D;
    const [, value] = fusedSoftmaxXent(
      tf.matMul(tf.reshape(input, [T * B, H]), model.headWeight()) as tf.Tensor2D,
      model.headB as tf.Tensor1D,
      tf.reshape(chunk.targets, [-1]) as tf.Tensor1D,
      w,
    );
    return { loss: value, final };
  }
  return { loss: lossFromStates(input, model.headWeight(), model.headB, chunk, readout, loss).loss, final };
}

/**
 * ∂L/∂E for an embedding lookup x_t = E[token_t]: the rows of ∂L/∂x summed per token
 * id (a scatter-add, done in JS: wasm lacks the UnsortedSegmentSum kernel tf.gather's
 * gradient needs, and a one-hot matMul would cost V·N·E flops). dXs: [T, B, E].
 */
export function embeddingGrad(dXs: tf.Tensor3D, tokenIds: Int32Array, vocabSize: number): tf.Tensor2D {
  const E = dXs.shape[2];
  const dx = dXs.dataSync();
  const acc = new Float32Array(vocabSize * E);
  for (let n = 0; n < tokenIds.length; n++) {
    const row = tokenIds[n] * E;
    const src = n * E;
    for (let e = 0; e < E; e++) acc[row + e] += dx[src + e];
  }
  return tf.tensor2d(acc, [vocabSize, E]);
}
