import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { jacobianNorms } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';
import {
  BATCH,
  buildCell,
  expectChainedNorms,
  expectJacobianRows,
  expectLossGradientNorms,
  expectPairNorms,
  expectProbesLeakNothing,
  expectStepsMatchReference,
  expectWeightGrads,
  randomProblem,
  runCell,
  stateTensors,
  withCell,
} from './helpers.js';

// LSTM (src/models/lstm.ts) against the float64 reference and a hand-computed step.
// Jacobians in both probe modes: "h" = ∂h_T/∂h_k with c_k fixed, "state" = ∂[h_T; c_T]/∂[h_k; c_k].

const MODES: ref.Mode64[] = ['h', 'state'];

const problem = (seed: string, T: number, H = 4, I = 3) =>
  randomProblem(seed, { kind: 'lstm', inputSize: I, hiddenSize: H }, T);

describe('LSTMCell step', () => {
  it('equals the float64 reference (h and c), one step and 8 steps', async () => {
    const p = problem('step', 8, 5, 3);
    await withCell(p, (t) => expectStepsMatchReference(t, p));
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
    const p = problem('grad', T);
    const { spec, w, xs, s0 } = p;
    const coef = ref.randomStates64(new Rng('coef'), spec, BATCH, 1); // [batch][h|c][H]
    // L = Σ_b Σ_i (α_bi h_T,bi + β_bi c_T,bi)
    const loss64 = (wp: ref.Weights64) =>
      s0.reduce((acc, sb, b) => {
        const [hT, cT] = ref.run64(spec, wp, xs[b], sb)[T];
        return acc + hT.reduce((a, v, i) => a + coef[b][0][i] * v + coef[b][1][i] * cT[i], 0);
      }, 0);
    const expected = ref.weightGradsFD(w, loss64);

    await withCell(p, async ({ cell, xsT, s0T, own }) => {
      const coefT = own(stateTensors(coef));
      const vars = cell.variables();
      const { value, grads } = tf.variableGrads(() => {
        const s = runCell(cell, xsT, s0T);
        return tf.add(tf.sum(tf.mul(s[0], coefT[0])), tf.sum(tf.mul(s[1], coefT[1]))) as tf.Scalar;
      }, Object.values(vars));
      expect(ref.relErr((await value.data())[0], loss64(w))).toBeLessThan(1e-5);
      await expectWeightGrads(vars, grads, spec, expected);
      tf.dispose([value, ...Object.values(grads)]);
    });
  });
});

describe('jacobianNorms on the LSTM', () => {
  it('the reference: chained step Jacobians equal the direct FD Jacobian', () => {
    const { spec, w, xs, s0 } = problem('self', 5);
    for (const mode of MODES) {
      const chained = ref.chainedJacobians(spec, w, xs[0], s0[0], mode);
      for (let gap = 1; gap <= 5; gap++) {
        expect(ref.maxRelErr(chained[gap - 1], ref.jacobianFD(spec, w, xs[0], s0[0], 5 - gap, 5, mode))).toBeLessThan(
          1e-6,
        );
      }
    }
  });

  it.each(MODES)('matrices and norms equal the float64 FD Jacobian for every k (mode %s)', async (mode) => {
    const p = problem(`probe-${mode}`, 6);
    const R = ref.jacobianSize(p.spec, mode);
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true, mode });
      expect(res.mode).toBe(mode);
      expect(res.shape).toEqual([R, R]);
      expectJacobianRows(res, p, mode, R);
    });
  });

  it.each(MODES)('allPairs equals the reference ‖∂h_t/∂h_k‖_2 for every k < t ≤ T (mode %s)', async (mode) => {
    const p = problem(`pairs-${mode}`, 4);
    const R = ref.jacobianSize(p.spec, mode);
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T, { allPairs: true, mode });
      expectPairNorms(res, p, mode, R, true);
    });
  });

  it('leaves tf.memory().numTensors unchanged (both modes, all options)', async () => {
    const optionSets = MODES.map((mode) => ({ keepMatrices: true, allPairs: true, mode }));
    await withCell(problem('leak', 5), (t) => expectProbesLeakNothing(t, optionSets));
  });
});

describe('long gaps (T = 300)', () => {
  it.each(MODES)('norms far below float32 range equal the float64 chained Jacobians (mode %s)', async (mode) => {
    const [T, H, I] = [300, 4, 2];
    const p = randomProblem(`long-${mode}`, { kind: 'lstm', inputSize: I, hiddenSize: H }, T, {
      scale: 0.4,
      // forget gate f ≈ σ(0 ± 0.4·…) ≈ 0.5: ‖∂s_T/∂s_k‖ shrinks by about 2 per step
      adjust: (w) => {
        for (let j = H; j < 2 * H; j++) w.bias_ih[j] = w.bias_hh[j] = 0;
      },
    });
    const R = ref.jacobianSize(p.spec, mode);
    await withCell(p, async ({ cell, xsT, s0T }) =>
      expectChainedNorms(await jacobianNorms(cell, xsT, s0T, { mode }), p, mode, R),
    );
  });
});

describe("lossGradientNorms through the model's cells (runPerturbed)", () => {
  it('‖∂L/∂h_k‖ (c_k fixed) equals central differences of the float64 loss', async () => {
    await expectLossGradientNorms(problem('lossgrad', 6), 'head');
  });
});
