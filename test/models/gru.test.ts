import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { Cell, State } from '../../src/models/cell.js';
import { createCell, MODEL_DEFAULTS, SequenceModel } from '../../src/models/model.js';
import { jacobianNorms, lossGradientNorms } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';

// GRU (src/models/gru.ts) against the float64 reference and a hand-computed step,
// in PyTorch's convention: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).

const BATCH = 2;

let serial = 0;
function buildCell(spec: ref.Spec64, w: ref.Weights64): Cell {
  return createCell('gru', spec.inputSize, spec.hiddenSize, w, undefined, `gru${serial++}`);
}

const xsTensor = (xs: number[][][]) => tf.tensor3d(ref.timeMajor(xs), [xs[0].length, xs.length, xs[0][0].length]);
const stateTensors = (s: ref.State64[]): State =>
  s[0].map((_, i) => tf.tensor2d(ref.packRows(s.map((sb) => sb[i])), [s.length, s[0][i].length]));

function problem(seed: string, T: number, H = 4, I = 3) {
  const rng = new Rng(seed);
  const spec: ref.Spec64 = { kind: 'gru', inputSize: I, hiddenSize: H };
  return {
    spec,
    w: ref.randomWeights64(rng, spec, 0.8),
    xs: ref.randomSequences64(rng, BATCH, T, I),
    s0: ref.randomStates64(rng, spec, BATCH),
  };
}

describe('GRUCell step', () => {
  it('equals the float64 reference, one step and 8 steps', async () => {
    const { spec, w, xs, s0 } = problem('step', 8, 6, 4);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const inputs = tf.unstack(xsT) as tf.Tensor2D[];
      const [h1] = cell.step(inputs[0], s0T);
      let s = s0T;
      for (const x of inputs) {
        const next = cell.step(x, s);
        if (s !== s0T) tf.dispose(s);
        s = next;
      }
      const expected1 = s0.map((sb, b) => ref.step64(spec, w, xs[b][0], sb)[0]).flat();
      const expectedT = s0.map((sb, b) => ref.run64(spec, w, xs[b], sb)[8][0]).flat();
      expect(ref.maxRelErr(await h1.data(), expected1)).toBeLessThan(1e-5);
      expect(ref.maxRelErr(await s[0].data(), expectedT)).toBeLessThan(1e-5);
      tf.dispose([...inputs, h1, ...s]);
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('equals a hand-computed PyTorch step (H = 1, I = 1, gates r, z, n)', async () => {
    const w = {
      weight_ih: [0.4, -0.5, 0.8], // r, z, n
      weight_hh: [0.6, 0.2, -0.7],
      bias_ih: [0.1, 0.0, -0.2],
      bias_hh: [-0.1, 0.3, 0.25],
    };
    // x = 0.5, h = −0.4
    // a_r = 0.4·0.5 + 0.1 + 0.6·(−0.4) − 0.1 = 0.2 + 0.1 − 0.24 − 0.1 = −0.04
    // a_z = −0.5·0.5 + 0 + 0.2·(−0.4) + 0.3 = −0.25 − 0.08 + 0.3 = −0.03
    // W_in x + b_in = 0.8·0.5 − 0.2 = 0.2;  W_hn h + b_hn = −0.7·(−0.4) + 0.25 = 0.53
    const r = 1 / (1 + Math.exp(0.04));
    const z = 1 / (1 + Math.exp(0.03));
    const n = Math.tanh(0.2 + r * 0.53);
    const h1 = (1 - z) * n + z * -0.4;
    // the other convention (r applied to h before W_hn, b_hn outside) gives a different step
    const nOther = Math.tanh(0.2 + -0.7 * (r * -0.4) + 0.25);
    expect(Math.abs((1 - z) * (n - nOther))).toBeGreaterThan(1e-2);

    const cell = buildCell({ kind: 'gru', inputSize: 1, hiddenSize: 1 }, w);
    const x = tf.tensor2d([[0.5]]);
    const h = tf.tensor2d([[-0.4]]);
    const [next] = cell.step(x, [h]);
    expect((await next.data())[0]).toBeCloseTo(h1, 6);
    tf.dispose([x, h, next]);
    cell.dispose();
  });
});

describe('GRUCell parameter gradients', () => {
  it('tf.variableGrads equals central differences of the float64 loss', async () => {
    const T = 5;
    const { spec, w, xs, s0 } = problem('grad', T);
    const [H, I] = [spec.hiddenSize, spec.inputSize];
    const coef = ref.randomStates64(new Rng('coef'), spec, BATCH, 1).map((s) => s[0]); // [batch][H]
    // L = Σ_b Σ_i coef_bi · h_T,bi
    const loss64 = (wp: ref.Weights64) =>
      s0.reduce((acc, sb, b) => acc + ref.run64(spec, wp, xs[b], sb)[T][0].reduce((a, h, i) => a + coef[b][i] * h, 0), 0);
    const expected = ref.weightGradsFD(w, loss64);

    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    const coefT = tf.tensor2d(ref.packRows(coef), [BATCH, H]);
    const vars = cell.variables();
    try {
      const { value, grads } = tf.variableGrads(() => {
        let s = s0T;
        for (const x of tf.unstack(xsT) as tf.Tensor2D[]) s = cell.step(x, s);
        return tf.sum(tf.mul(s[0], coefT)) as tf.Scalar;
      }, Object.values(vars));
      expect(ref.relErr((await value.data())[0], loss64(w))).toBeLessThan(1e-5);
      const got: ref.Weights64 = {
        weight_ih: Array.from(ref.transpose64(await grads[vars.weight_ih_T.name].data(), I, 3 * H)),
        weight_hh: Array.from(ref.transpose64(await grads[vars.weight_hh_T.name].data(), H, 3 * H)),
        bias_ih: Array.from(await grads[vars.bias_ih.name].data()),
        bias_hh: Array.from(await grads[vars.bias_hh.name].data()),
      };
      for (const name of ref.WEIGHT_NAMES) {
        expect(ref.frobenius64(expected[name]), name).toBeGreaterThan(1e-3);
        expect(ref.entryRelErr(got[name], expected[name]), name).toBeLessThan(1e-3);
      }
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      tf.dispose([xsT, ...s0T, coefT]);
      cell.dispose();
    }
  });
});

describe('jacobianNorms on the GRU', () => {
  it('the reference: chained step Jacobians equal the direct FD Jacobian', () => {
    const { spec, w, xs, s0 } = problem('self', 5);
    const chained = ref.chainedJacobians(spec, w, xs[1], s0[1], 'h');
    for (let gap = 1; gap <= 5; gap++) {
      expect(ref.maxRelErr(chained[gap - 1], ref.jacobianFD(spec, w, xs[1], s0[1], 5 - gap, 5, 'h'))).toBeLessThan(1e-6);
    }
  });

  it('matrices and norms equal the float64 FD Jacobian for every k', async () => {
    const T = 6;
    const { spec, w, xs, s0 } = problem('probe', T);
    const H = spec.hiddenSize;
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true });
      expect(res.shape).toEqual([H, H]);
      for (let gap = 1; gap <= T; gap++) {
        const k = T - gap;
        const row = res.rows[gap - 1];
        expect(row.k).toBe(k);
        const fros: number[] = [];
        const specs: number[] = [];
        for (let b = 0; b < BATCH; b++) {
          const got = res.matrices![gap - 1].subarray(b * H * H, (b + 1) * H * H);
          const fd = ref.jacobianFD(spec, w, xs[b], s0[b], k, T, 'h');
          expect(ref.frobenius64(fd)).toBeGreaterThan(1e-6);
          expect(ref.entryRelErr(got, fd)).toBeLessThan(1e-3);
          fros.push(ref.frobenius64(fd));
          specs.push(ref.spectralNorm64(fd, H, H));
          expect(ref.relErr(row.frobeniusPerSeq[b], fros[b])).toBeLessThan(1e-3);
          expect(ref.relErr(row.spectralPerSeq![b], specs[b])).toBeLessThan(1e-3);
        }
        expect(ref.relErr(row.frobenius, (fros[0] + fros[1]) / 2)).toBeLessThan(1e-3);
        expect(ref.relErr(row.spectral!, (specs[0] + specs[1]) / 2)).toBeLessThan(1e-3);
      }
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('has a single state: mode "state" falls back to ∂h_T/∂h_k', async () => {
    const { spec, w, xs, s0 } = problem('mode', 3);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const h = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true });
      const state = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true, mode: 'state' });
      expect(state.mode).toBe('h');
      expect(state.shape).toEqual([4, 4]);
      expect(Array.from(state.matrices![2])).toEqual(Array.from(h.matrices![2]));
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('allPairs equals the reference ‖∂h_t/∂h_k‖_2 for every k < t ≤ T', async () => {
    const T = 4;
    const { spec, w, xs, s0 } = problem('pairs', T);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T, { allPairs: true });
      for (let t = 1; t <= T; t++) {
        expect(res.pairs![t - 1]).toHaveLength(t);
        for (let k = 0; k < t; k++) {
          const norms = [0, 1].map((b) => ref.spectralNorm64(ref.jacobianFD(spec, w, xs[b], s0[b], k, t, 'h'), 4, 4));
          expect(ref.relErr(res.pairs![t - 1][k], (norms[0] + norms[1]) / 2)).toBeLessThan(1e-3);
        }
      }
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('leaves tf.memory().numTensors unchanged', async () => {
    const { spec, w, xs, s0 } = problem('leak', 5);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    const before = tf.memory().numTensors;
    await jacobianNorms(cell, xsT, s0T, { keepMatrices: true, allPairs: true });
    await jacobianNorms(cell, xsT);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xsT, ...s0T]);
    cell.dispose();
  });
});

describe('long gaps (T = 300)', () => {
  it('norms far below float32 range equal the float64 chained Jacobians', async () => {
    const [T, H, I] = [300, 4, 2];
    const rng = new Rng('long');
    const spec: ref.Spec64 = { kind: 'gru', inputSize: I, hiddenSize: H };
    const w = ref.randomWeights64(rng, spec, 0.4);
    // update gate z ≈ σ(0 ± …) ≈ 0.5 and a small W_hh: ∂h_t/∂h_{t−1} ≈ diag(z) + O(0.4), shrinking ~2× per step
    for (let j = H; j < 2 * H; j++) w.bias_ih[j] = w.bias_hh[j] = 0;
    const xs = ref.randomSequences64(rng, BATCH, T, I);
    const s0 = ref.randomStates64(rng, spec, BATCH);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T);
      for (let b = 0; b < BATCH; b++) {
        const chained = ref.chainedJacobians(spec, w, xs[b], s0[b], 'h');
        expect(ref.frobenius64(chained[T - 1])).toBeLessThan(1e-60);
        expect(ref.frobenius64(chained[T - 1])).toBeGreaterThan(1e-250);
        for (let gap = 1; gap <= T; gap++) {
          const row = res.rows[gap - 1];
          expect(row.frobeniusPerSeq[b]).toBeGreaterThan(0);
          expect(ref.relErr(row.frobeniusPerSeq[b], ref.frobenius64(chained[gap - 1])), `gap ${gap}`).toBeLessThan(1e-3);
          expect(ref.relErr(row.spectralPerSeq![b], ref.spectralNorm64(chained[gap - 1], H, H)), `gap ${gap}`).toBeLessThan(1e-3);
        }
      }
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });
});

describe('lossGradientNorms through SequenceModel.run', () => {
  it('‖∂L/∂h_k‖ equals central differences of the float64 loss', async () => {
    const T = 6;
    const O = 2;
    const { spec, w, xs, s0 } = problem('lossgrad', T);
    const H = spec.hiddenSize;
    const rng = new Rng('head');
    const head = { weight: ref.uniform64(rng, O * H, 0.5), bias: ref.uniform64(rng, O, 0.5) }; // weight [O, H]
    const target = [ref.uniform64(rng, O, 1), ref.uniform64(rng, O, 1)]; // [batch][O]
    // L = mean over batch and outputs of (W_out h_T + b_out − target)², h_k perturbed by ε_k
    const loss64 = (eps: number[][][]) => {
      let sum = 0;
      for (let b = 0; b < BATCH; b++) {
        let s: ref.State64 = [s0[b][0].map((v, i) => v + eps[0][b][i])];
        for (let t = 0; t < T; t++) {
          s = ref.step64(spec, w, xs[b][t], s);
          s = [s[0].map((v, i) => v + eps[t + 1][b][i])];
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

    const model = new SequenceModel({ ...MODEL_DEFAULTS, cell: 'gru', inputSize: spec.inputSize, hiddenSize: H, outputSize: O }, [w], head);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    const targetT = tf.tensor2d(ref.packRows(target), [BATCH, O]);
    try {
      const before = tf.memory().numTensors;
      const got = await lossGradientNorms(
        (perturb) => {
          const { tops } = model.run(xsT, [s0T], perturb);
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
  });
});
