import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { Cell, State } from '../../src/models/cell.js';
import { createCell, MODEL_DEFAULTS, SequenceModel } from '../../src/models/model.js';
import { jacobianNorms, lossGradientNorms } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';

// LSTM (src/models/lstm.ts) against the float64 reference and a hand-computed step.
// Jacobians in both probe modes: "h" = ∂h_T/∂h_k with c_k fixed, "state" = ∂[h_T; c_T]/∂[h_k; c_k].

const BATCH = 2;
const MODES: ref.Mode64[] = ['h', 'state'];

let serial = 0;
function buildCell(spec: ref.Spec64, w: ref.Weights64): Cell {
  return createCell('lstm', spec.inputSize, spec.hiddenSize, w, undefined, `lstm${serial++}`);
}

const xsTensor = (xs: number[][][]) => tf.tensor3d(ref.timeMajor(xs), [xs[0].length, xs.length, xs[0][0].length]);
const stateTensors = (s: ref.State64[]): State =>
  s[0].map((_, i) => tf.tensor2d(ref.packRows(s.map((sb) => sb[i])), [s.length, s[0][i].length]));

function problem(seed: string, T: number, H = 4, I = 3) {
  const rng = new Rng(seed);
  const spec: ref.Spec64 = { kind: 'lstm', inputSize: I, hiddenSize: H };
  return {
    spec,
    w: ref.randomWeights64(rng, spec, 0.8),
    xs: ref.randomSequences64(rng, BATCH, T, I),
    s0: ref.randomStates64(rng, spec, BATCH),
  };
}

describe('LSTMCell step', () => {
  it('equals the float64 reference (h and c), one step and 8 steps', async () => {
    const { spec, w, xs, s0 } = problem('step', 8, 5, 3);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const inputs = tf.unstack(xsT) as tf.Tensor2D[];
      const first = cell.step(inputs[0], s0T);
      let s = s0T;
      for (const x of inputs) {
        const next = cell.step(x, s);
        if (s !== s0T) tf.dispose(s);
        s = next;
      }
      for (const i of [0, 1]) {
        const expected1 = s0.map((sb, b) => ref.step64(spec, w, xs[b][0], sb)[i]).flat();
        const expectedT = s0.map((sb, b) => ref.run64(spec, w, xs[b], sb)[8][i]).flat();
        expect(ref.maxRelErr(await first[i].data(), expected1)).toBeLessThan(1e-5);
        expect(ref.maxRelErr(await s[i].data(), expectedT)).toBeLessThan(1e-5);
      }
      tf.dispose([...inputs, ...first, ...s]);
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('equals a hand-computed PyTorch step (H = 1, I = 1, gates i, f, g, o)', async () => {
    const w = {
      weight_ih: [0.5, -0.4, 0.9, 0.2], // i, f, g, o
      weight_hh: [0.3, 0.7, -0.6, 0.1],
      bias_ih: [0.1, 0.2, -0.1, 0.0],
      bias_hh: [-0.05, 0.3, 0.05, 0.1],
    };
    // x = 0.8, h = 0.5, c = −0.3
    // a_i = 0.5·0.8 + 0.1 + 0.3·0.5 − 0.05 = 0.4 + 0.1 + 0.15 − 0.05 = 0.6
    // a_f = −0.4·0.8 + 0.2 + 0.7·0.5 + 0.3 = −0.32 + 0.2 + 0.35 + 0.3 = 0.53
    // a_g = 0.9·0.8 − 0.1 − 0.6·0.5 + 0.05 = 0.72 − 0.1 − 0.3 + 0.05 = 0.37
    // a_o = 0.2·0.8 + 0 + 0.1·0.5 + 0.1 = 0.16 + 0.05 + 0.1 = 0.31
    const i = 1 / (1 + Math.exp(-0.6));
    const f = 1 / (1 + Math.exp(-0.53));
    const g = Math.tanh(0.37);
    const o = 1 / (1 + Math.exp(-0.31));
    const c1 = f * -0.3 + i * g;
    const h1 = o * Math.tanh(c1);

    const cell = buildCell({ kind: 'lstm', inputSize: 1, hiddenSize: 1 }, w);
    const x = tf.tensor2d([[0.8]]);
    const s = [tf.tensor2d([[0.5]]), tf.tensor2d([[-0.3]])];
    const [h, c] = cell.step(x, s);
    expect((await h.data())[0]).toBeCloseTo(h1, 6);
    expect((await c.data())[0]).toBeCloseTo(c1, 6);
    tf.dispose([x, ...s, h, c]);
    cell.dispose();
  });
});

describe('LSTMCell parameter gradients', () => {
  it('tf.variableGrads equals central differences of the float64 loss', async () => {
    const T = 5;
    const { spec, w, xs, s0 } = problem('grad', T);
    const [H, I] = [spec.hiddenSize, spec.inputSize];
    const coef = ref.randomStates64(new Rng('coef'), spec, BATCH, 1); // [batch][h|c][H]
    // L = Σ_b Σ_i (α_bi h_T,bi + β_bi c_T,bi)
    const loss64 = (wp: ref.Weights64) =>
      s0.reduce((acc, sb, b) => {
        const [hT, cT] = ref.run64(spec, wp, xs[b], sb)[T];
        return acc + hT.reduce((a, v, i) => a + coef[b][0][i] * v + coef[b][1][i] * cT[i], 0);
      }, 0);
    const expected = ref.weightGradsFD(w, loss64);

    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    const coefT = stateTensors(coef);
    const vars = cell.variables();
    try {
      const { value, grads } = tf.variableGrads(() => {
        let s = s0T;
        for (const x of tf.unstack(xsT) as tf.Tensor2D[]) s = cell.step(x, s);
        return tf.add(tf.sum(tf.mul(s[0], coefT[0])), tf.sum(tf.mul(s[1], coefT[1]))) as tf.Scalar;
      }, Object.values(vars));
      expect(ref.relErr((await value.data())[0], loss64(w))).toBeLessThan(1e-5);
      const got: ref.Weights64 = {
        weight_ih: Array.from(ref.transpose64(await grads[vars.weight_ih_T.name].data(), I, 4 * H)),
        weight_hh: Array.from(ref.transpose64(await grads[vars.weight_hh_T.name].data(), H, 4 * H)),
        bias_ih: Array.from(await grads[vars.bias_ih.name].data()),
        bias_hh: Array.from(await grads[vars.bias_hh.name].data()),
      };
      for (const name of ref.WEIGHT_NAMES) {
        expect(ref.frobenius64(expected[name]), name).toBeGreaterThan(1e-3);
        expect(ref.entryRelErr(got[name], expected[name]), name).toBeLessThan(1e-3);
      }
      tf.dispose([value, ...Object.values(grads)]);
    } finally {
      tf.dispose([xsT, ...s0T, ...coefT]);
      cell.dispose();
    }
  });
});

describe('jacobianNorms on the LSTM', () => {
  it('the reference: chained step Jacobians equal the direct FD Jacobian', () => {
    const { spec, w, xs, s0 } = problem('self', 5);
    for (const mode of MODES) {
      const chained = ref.chainedJacobians(spec, w, xs[0], s0[0], mode);
      for (let gap = 1; gap <= 5; gap++) {
        expect(ref.maxRelErr(chained[gap - 1], ref.jacobianFD(spec, w, xs[0], s0[0], 5 - gap, 5, mode))).toBeLessThan(1e-6);
      }
    }
  });

  it.each(MODES)('matrices and norms equal the float64 FD Jacobian for every k (mode %s)', async (mode) => {
    const T = 6;
    const { spec, w, xs, s0 } = problem(`probe-${mode}`, T);
    const R = ref.jacobianSize(spec, mode);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true, mode });
      expect(res.mode).toBe(mode);
      expect(res.shape).toEqual([R, R]);
      for (let gap = 1; gap <= T; gap++) {
        const k = T - gap;
        const row = res.rows[gap - 1];
        expect(row.k).toBe(k);
        const fros: number[] = [];
        const specs: number[] = [];
        for (let b = 0; b < BATCH; b++) {
          const got = res.matrices![gap - 1].subarray(b * R * R, (b + 1) * R * R);
          const fd = ref.jacobianFD(spec, w, xs[b], s0[b], k, T, mode);
          expect(ref.frobenius64(fd)).toBeGreaterThan(1e-6);
          expect(ref.entryRelErr(got, fd)).toBeLessThan(1e-3);
          fros.push(ref.frobenius64(fd));
          specs.push(ref.spectralNorm64(fd, R, R));
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

  it.each(MODES)('allPairs equals the reference ‖∂h_t/∂h_k‖_2 for every k < t ≤ T (mode %s)', async (mode) => {
    const T = 4;
    const { spec, w, xs, s0 } = problem(`pairs-${mode}`, T);
    const R = ref.jacobianSize(spec, mode);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T, { allPairs: true, mode });
      for (let t = 1; t <= T; t++) {
        expect(res.pairs![t - 1]).toHaveLength(t);
        for (let k = 0; k < t; k++) {
          const norms = [0, 1].map((b) => ref.spectralNorm64(ref.jacobianFD(spec, w, xs[b], s0[b], k, t, mode), R, R));
          expect(ref.relErr(res.pairs![t - 1][k], (norms[0] + norms[1]) / 2)).toBeLessThan(1e-3);
        }
      }
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });

  it('leaves tf.memory().numTensors unchanged (both modes, all options)', async () => {
    const { spec, w, xs, s0 } = problem('leak', 5);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    const before = tf.memory().numTensors;
    for (const mode of MODES) await jacobianNorms(cell, xsT, s0T, { keepMatrices: true, allPairs: true, mode });
    await jacobianNorms(cell, xsT);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xsT, ...s0T]);
    cell.dispose();
  });
});

describe('long gaps (T = 300)', () => {
  it.each(MODES)('norms far below float32 range equal the float64 chained Jacobians (mode %s)', async (mode) => {
    const [T, H, I] = [300, 4, 2];
    const rng = new Rng(`long-${mode}`);
    const spec: ref.Spec64 = { kind: 'lstm', inputSize: I, hiddenSize: H };
    const w = ref.randomWeights64(rng, spec, 0.4);
    // forget gate f ≈ σ(0 ± 0.4·…) ≈ 0.5: ‖∂s_T/∂s_k‖ shrinks by about 2 per step
    for (let j = H; j < 2 * H; j++) w.bias_ih[j] = w.bias_hh[j] = 0;
    const xs = ref.randomSequences64(rng, BATCH, T, I);
    const s0 = ref.randomStates64(rng, spec, BATCH);
    const R = ref.jacobianSize(spec, mode);
    const cell = buildCell(spec, w);
    const xsT = xsTensor(xs);
    const s0T = stateTensors(s0);
    try {
      const res = await jacobianNorms(cell, xsT, s0T, { mode });
      for (let b = 0; b < BATCH; b++) {
        const chained = ref.chainedJacobians(spec, w, xs[b], s0[b], mode);
        expect(ref.frobenius64(chained[T - 1])).toBeLessThan(1e-60);
        expect(ref.frobenius64(chained[T - 1])).toBeGreaterThan(1e-250);
        for (let gap = 1; gap <= T; gap++) {
          const row = res.rows[gap - 1];
          expect(row.frobeniusPerSeq[b]).toBeGreaterThan(0);
          expect(ref.relErr(row.frobeniusPerSeq[b], ref.frobenius64(chained[gap - 1])), `gap ${gap}`).toBeLessThan(1e-3);
          expect(ref.relErr(row.spectralPerSeq![b], ref.spectralNorm64(chained[gap - 1], R, R)), `gap ${gap}`).toBeLessThan(1e-3);
        }
      }
    } finally {
      tf.dispose([xsT, ...s0T]);
      cell.dispose();
    }
  });
});

describe('lossGradientNorms through SequenceModel.run', () => {
  it('‖∂L/∂h_k‖ (c_k fixed) equals central differences of the float64 loss', async () => {
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
        let s: ref.State64 = [s0[b][0].map((v, i) => v + eps[0][b][i]), s0[b][1]];
        for (let t = 0; t < T; t++) {
          s = ref.step64(spec, w, xs[b][t], s);
          s = [s[0].map((v, i) => v + eps[t + 1][b][i]), s[1]];
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

    const model = new SequenceModel({ ...MODEL_DEFAULTS, cell: 'lstm', inputSize: spec.inputSize, hiddenSize: H, outputSize: O }, [w], head);
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
