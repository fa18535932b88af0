import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { Cell, State } from '../../src/models/cell.js';
import { createCell, MODEL_DEFAULTS, SequenceModel } from '../../src/models/model.js';
import { jacobianNorms, type JacobianOptions, type JacobianResult } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';

// Scaffolding shared by the RNN, LSTM and GRU tests: float64 problems, the tfjs cell and
// tensors built from them, and the comparisons of the cell and its probes with test/reference/cells64.ts.

/** Sequences in a batch. */
export const BATCH = 2;

/** A float64 problem: weights, inputs xs[b][t] (length inputSize) and initial states s0[b]. */
export interface Problem {
  spec: ref.Spec64;
  w: ref.Weights64;
  xs: number[][][];
  s0: ref.State64[];
}

export interface ProblemOptions {
  /** Weight entries U(±scale). Default 0.8. */
  scale?: number;
  /** Default BATCH. */
  batch?: number;
  /** Edits the weights once drawn (draws no random numbers). */
  adjust?: (w: ref.Weights64) => void;
}

/** From Rng(seed), in this order: weights, inputs [batch][T][inputSize], initial states. */
export function randomProblem(seed: string, spec: ref.Spec64, T: number, opts: ProblemOptions = {}): Problem {
  const { scale = 0.8, batch = BATCH, adjust } = opts;
  const rng = new Rng(seed);
  const w = ref.randomWeights64(rng, spec, scale);
  adjust?.(w);
  return {
    spec,
    w,
    xs: ref.randomSequences64(rng, batch, T, spec.inputSize),
    s0: ref.randomStates64(rng, spec, batch),
  };
}

let serial = 0;
/** The src cell of spec's kind (and RNN nonlinearity, default tanh) holding the weights w, under a fresh name. */
export function buildCell(spec: ref.Spec64, w: ref.Weights64): Cell {
  const opts = spec.kind === 'rnn' ? { nonlinearity: spec.nonlinearity ?? 'tanh' } : undefined;
  return createCell(spec.kind, spec.inputSize, spec.hiddenSize, w, opts, `${spec.kind}${serial++}`);
}

/** xs[b][t] as the time-major tensor [T, batch, I]. */
export const xsTensor = (xs: number[][][]): tf.Tensor3D =>
  tf.tensor3d(ref.timeMajor(xs), [xs[0].length, xs.length, xs[0][0].length]);

/** States s[b] as a tensor State: one [batch, H] tensor per state part. */
export const stateTensors = (s: ref.State64[]): State =>
  s[0].map((_, i) => tf.tensor2d(ref.packRows(s.map((sb) => sb[i])), [s.length, s[0][i].length]));

export interface CellTensors {
  cell: Cell;
  xsT: tf.Tensor3D;
  /** [] when the problem has no initial states. */
  s0T: State;
  /** Hands more tensors to withCell, to be disposed with these; returns them. */
  own: <T extends tf.Tensor | tf.Tensor[]>(t: T) => T;
}

/**
 * Builds the cell, then the input tensor (from xs, or made by xs()), then the initial state
 * tensors (if s0), runs body on them and disposes all of them (and those body owns) whatever happens.
 */
export async function withCell<R>(
  p: { spec: ref.Spec64; w: ref.Weights64; xs: number[][][] | (() => tf.Tensor3D); s0?: ref.State64[] },
  body: (t: CellTensors) => Promise<R>,
): Promise<R> {
  const cell = buildCell(p.spec, p.w);
  const xsT = typeof p.xs === 'function' ? p.xs() : xsTensor(p.xs);
  const s0T = p.s0 ? stateTensors(p.s0) : [];
  const owned: tf.Tensor[] = [];
  const own = <T extends tf.Tensor | tf.Tensor[]>(t: T): T => {
    owned.push(...(Array.isArray(t) ? t : [t]));
    return t;
  };
  try {
    return await body({ cell, xsT, s0T, own });
  } finally {
    tf.dispose([xsT, ...s0T, ...owned]);
    cell.dispose();
  }
}

/**
 * The state after stepping the cell from s0T through every x_t (intermediate states are not disposed: for
 * tf.variableGrads).
 */
export function runCell(cell: Cell, xsT: tf.Tensor3D, s0T: State): State {
  let s = s0T;
  for (const x of tf.unstack(xsT) as tf.Tensor2D[]) s = cell.step(x, s);
  return s;
}

/** One step from s0 and the whole run over xs, every state part against step64 / run64 (normwise 1e-5). */
export async function expectStepsMatchReference({ cell, xsT, s0T }: CellTensors, p: Problem): Promise<void> {
  const T = p.xs[0].length;
  const inputs = tf.unstack(xsT) as tf.Tensor2D[];
  const first = cell.step(inputs[0], s0T);
  let s = s0T;
  for (const x of inputs) {
    const next = cell.step(x, s);
    if (s !== s0T) tf.dispose(s);
    s = next;
  }
  for (let i = 0; i < p.s0[0].length; i++) {
    const expected1 = p.s0.flatMap((sb, b) => ref.step64(p.spec, p.w, p.xs[b][0], sb)[i]);
    const expectedT = p.s0.flatMap((sb, b) => ref.run64(p.spec, p.w, p.xs[b], sb)[T][i]);
    expect(ref.maxRelErr(await first[i].data(), expected1)).toBeLessThan(1e-5);
    expect(ref.maxRelErr(await s[i].data(), expectedT)).toBeLessThan(1e-5);
  }
  tf.dispose([...inputs, ...first, ...s]);
}

/**
 * The gradients of the cell's variables (transposed back to PyTorch layout) against
 * central differences `expected`: each of them non-negligible, each entrywise within 1e-3.
 */
export async function expectWeightGrads(
  vars: Record<string, tf.Variable>,
  grads: tf.NamedTensorMap,
  spec: ref.Spec64,
  expected: ref.Weights64,
): Promise<void> {
  const [H, I] = [spec.hiddenSize, spec.inputSize];
  const G = ref.GATES64[spec.kind] * H;
  const got: ref.Weights64 = {
    weight_ih: Array.from(ref.transpose64(await grads[vars.weight_ih_T.name].data(), I, G)),
    weight_hh: Array.from(ref.transpose64(await grads[vars.weight_hh_T.name].data(), H, G)),
    bias_ih: Array.from(await grads[vars.bias_ih.name].data()),
    bias_hh: Array.from(await grads[vars.bias_hh.name].data()),
  };
  for (const name of ref.WEIGHT_NAMES) {
    expect(ref.frobenius64(expected[name]), name).toBeGreaterThan(1e-3);
    expect(ref.entryRelErr(got[name], expected[name]), name).toBeLessThan(1e-3);
  }
}

/**
 * Every row of a keepMatrices result over p's whole run: its k, each sequence's R×R matrix
 * against the FD Jacobian (and the RNN closed form, if `closedForm`), and the per-sequence and
 * batch-mean norms against those of the reference (the closed form if `closedForm`, else the FD Jacobian).
 */
export function expectJacobianRows(
  res: JacobianResult,
  p: Problem,
  mode: ref.Mode64,
  R: number,
  closedForm = false,
): void {
  const { spec, w, xs, s0 } = p;
  const T = xs[0].length;
  for (let gap = 1; gap <= T; gap++) {
    const k = T - gap;
    const row = res.rows[gap - 1];
    expect(row.k).toBe(k);
    const fros: number[] = [];
    const specs: number[] = [];
    for (let b = 0; b < BATCH; b++) {
      const got = res.matrices![gap - 1].subarray(b * R * R, (b + 1) * R * R);
      const fd = ref.jacobianFD(spec, w, xs[b], s0[b], k, T, mode);
      const closed = closedForm ? ref.rnnClosedForm(spec, w, xs[b], s0[b], k, T) : null;
      expect(ref.frobenius64(fd)).toBeGreaterThan(1e-6);
      expect(ref.entryRelErr(got, fd)).toBeLessThan(1e-3);
      if (closed) expect(ref.entryRelErr(got, closed)).toBeLessThan(1e-3);
      const reference = closed ?? fd;
      fros.push(ref.frobenius64(reference));
      specs.push(ref.spectralNorm64(reference, R, R));
      expect(ref.relErr(row.frobeniusPerSeq[b], fros[b])).toBeLessThan(1e-3);
      expect(ref.relErr(row.spectralPerSeq![b], specs[b])).toBeLessThan(1e-3);
    }
    expect(ref.relErr(row.frobenius, (fros[0] + fros[1]) / 2)).toBeLessThan(1e-3);
    expect(ref.relErr(row.spectral!, (specs[0] + specs[1]) / 2)).toBeLessThan(1e-3);
  }
}

/**
 * Every pair k < t ≤ T of an allPairs result: the batch mean of ‖∂h_t/∂h_k‖_2 against the FD
 * Jacobians (R×R). `rowLengths`: also expect row t − 1 to hold t entries, before checking it.
 */
export function expectPairNorms(
  res: JacobianResult,
  p: Problem,
  mode: ref.Mode64,
  R: number,
  rowLengths: boolean,
): void {
  const { spec, w, xs, s0 } = p;
  const T = xs[0].length;
  for (let t = 1; t <= T; t++) {
    if (rowLengths) expect(res.pairs![t - 1]).toHaveLength(t);
    for (let k = 0; k < t; k++) {
      const norms = [0, 1].map((b) => ref.spectralNorm64(ref.jacobianFD(spec, w, xs[b], s0[b], k, t, mode), R, R));
      expect(ref.relErr(res.pairs![t - 1][k], (norms[0] + norms[1]) / 2)).toBeLessThan(1e-3);
    }
  }
}

/**
 * Long runs: per-sequence norms of every row against the float64 chained Jacobians (R×R),
 * whose longest gap lies far below float32 range (between 1e−250 and 1e−60).
 */
export function expectChainedNorms(res: JacobianResult, p: Problem, mode: ref.Mode64, R: number): void {
  const { spec, w, xs, s0 } = p;
  const T = xs[0].length;
  for (let b = 0; b < BATCH; b++) {
    const chained = ref.chainedJacobians(spec, w, xs[b], s0[b], mode);
    expect(ref.frobenius64(chained[T - 1])).toBeLessThan(1e-60);
    expect(ref.frobenius64(chained[T - 1])).toBeGreaterThan(1e-250);
    for (let gap = 1; gap <= T; gap++) {
      const row = res.rows[gap - 1];
      expect(row.frobeniusPerSeq[b]).toBeGreaterThan(0);
      expect(ref.relErr(row.frobeniusPerSeq[b], ref.frobenius64(chained[gap - 1])), `gap ${gap}`).toBeLessThan(1e-3);
      expect(ref.relErr(row.spectralPerSeq![b], ref.spectralNorm64(chained[gap - 1], R, R)), `gap ${gap}`).toBeLessThan(
        1e-3,
      );
    }
  }
}

/**
 * jacobianNorms once with each of `optionSets`, then with no initial state and defaults: tf.memory().numTensors
 * unchanged.
 */
export async function expectProbesLeakNothing(
  { cell, xsT, s0T }: CellTensors,
  optionSets: Partial<JacobianOptions>[],
): Promise<void> {
  const before = tf.memory().numTensors;
  for (const opts of optionSets) await jacobianNorms(cell, xsT, s0T, opts);
  await jacobianNorms(cell, xsT);
  expect(tf.memory().numTensors).toBe(before);
}

/**
 * SequenceModel.run with perturb[k] ([batch, H], k = 0..T) added to the top layer's h_k before it
 * is used, stepping the cells one by one: the autodiff reference for ∂L/∂h_k = ∂L/∂perturb[k].
 * Returns the top layer's (perturbed) h_1..h_T and the final state of every layer.
 */
export function runPerturbed(
  model: SequenceModel,
  xs: tf.Tensor3D,
  state0: State[],
  perturb: tf.Tensor2D[],
): { tops: tf.Tensor2D[]; final: State[] } {
  const top = model.layers.length - 1;
  const states = state0.map((s) => [...s]);
  states[top][0] = tf.add(states[top][0], perturb[0]) as tf.Tensor2D;
  const tops: tf.Tensor2D[] = [];
  (tf.unstack(xs) as tf.Tensor2D[]).forEach((input, t) => {
    let x = input;
    for (let l = 0; l <= top; l++) {
      states[l] = model.layers[l].step(x, states[l]);
      x = states[l][0];
    }
    states[top][0] = tf.add(states[top][0], perturb[t + 1]) as tf.Tensor2D;
    tops.push(states[top][0]);
  });
  return { tops, final: states };
}

/**
 * ‖∂L/∂h_k‖ for k = 0..T: the error signal BPTT delivers to each step, by autodiff
 * through zero perturbations ε_k added to h_k. `loss(perturb)` must build the loss
 * with perturb[k] ([batch, H]) added to h_k (runPerturbed). Norms are Frobenius over the batch.
 */
export async function lossGradientNorms(
  loss: (perturb: tf.Tensor2D[]) => tf.Scalar,
  T: number,
  batch: number,
  hiddenSize: number,
): Promise<number[]> {
  const eps = Array.from({ length: T + 1 }, () => tf.zeros([batch, hiddenSize]) as tf.Tensor2D);
  try {
    const norms = tf.tidy(() => {
      const grads = tf.grads((...p: tf.Tensor[]) => loss(p as tf.Tensor2D[]))(eps);
      return tf.stack(grads.map((g) => tf.norm(g)));
    });
    const data = await norms.data();
    norms.dispose();
    return Array.from(data);
  } finally {
    tf.dispose(eps);
  }
}

/**
 * lossGradientNorms through a one-layer SequenceModel with p's weights and a random linear head
 * (from Rng(headSeed)) against central differences of the float64 loss
 * L = mean over batch and outputs of (W_out h_T + b_out − target)², h_k perturbed by ε_k
 * (any other state part, the LSTM's c_k, is not perturbed); also: no tensors leak.
 */
export async function expectLossGradientNorms(p: Problem, headSeed: string): Promise<void> {
  const { spec, w, xs, s0 } = p;
  const T = xs[0].length;
  const O = 2;
  const H = spec.hiddenSize;
  const rng = new Rng(headSeed);
  const head = { weight: ref.uniform64(rng, O * H, 0.5), bias: ref.uniform64(rng, O, 0.5) }; // weight [O, H]
  const target = [ref.uniform64(rng, O, 1), ref.uniform64(rng, O, 1)]; // [batch][O]
  const loss64 = (eps: number[][][]) => {
    let sum = 0;
    for (let b = 0; b < BATCH; b++) {
      let s: ref.State64 = [s0[b][0].map((v, i) => v + eps[0][b][i]), ...s0[b].slice(1)];
      for (let t = 0; t < T; t++) {
        s = ref.step64(spec, w, xs[b][t], s);
        s = [s[0].map((v, i) => v + eps[t + 1][b][i]), ...s.slice(1)];
      }
      for (let o = 0; o < O; o++) {
        const y = head.bias[o] + s[0].reduce((a, h, i) => a + head.weight[o * H + i] * h, 0);
        sum += (y - target[b][o]) ** 2;
      }
    }
    return sum / (BATCH * O);
  };
  const zero = () => Array.from({ length: T + 1 }, () => [new Array<number>(H).fill(0), new Array<number>(H).fill(0)]);
  const expected: number[] = [];
  for (let k = 0; k <= T; k++) {
    let sq = 0;
    for (let b = 0; b < BATCH; b++) {
      for (let i = 0; i < H; i++) {
        const plus = zero();
        const minus = zero();
        plus[k][b][i] = 1e-6;
        minus[k][b][i] = -1e-6;
        sq += ((loss64(plus) - loss64(minus)) / 2e-6) ** 2;
      }
    }
    expected.push(Math.sqrt(sq));
  }

  const nonlinearity = spec.nonlinearity ?? MODEL_DEFAULTS.nonlinearity;
  const config = {
    ...MODEL_DEFAULTS,
    cell: spec.kind,
    nonlinearity,
    inputSize: spec.inputSize,
    hiddenSize: H,
    outputSize: O,
  };
  const model = new SequenceModel(config, [w], head);
  const xsT = xsTensor(xs);
  const s0T = stateTensors(s0);
  const targetT = tf.tensor2d(ref.packRows(target), [BATCH, O]);
  try {
    const before = tf.memory().numTensors;
    const got = await lossGradientNorms(
      (perturb) => {
        const { tops } = runPerturbed(model, xsT, [s0T], perturb);
        return tf.mean(tf.square(tf.sub(model.head(tops[T - 1]), targetT))) as tf.Scalar;
      },
      T,
      BATCH,
      H,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(got).toHaveLength(T + 1);
    got.forEach((g, k) => {
      expect(expected[k]).toBeGreaterThan(0);
      expect(ref.relErr(g, expected[k]), `k = ${k}`).toBeLessThan(1e-3);
    });
  } finally {
    tf.dispose([xsT, ...s0T, targetT]);
    model.dispose();
  }
}
