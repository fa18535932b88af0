import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { jacobianNorms } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';
import {
  BATCH,
  buildCell,
  expectJacobianRows,
  expectLossGradientNorms,
  expectPairNorms,
  expectProbesLeakNothing,
  expectStepsMatchReference,
  expectWeightGrads,
  randomProblem,
  runCell,
  withCell,
} from './helpers.js';

// Vanilla RNN (src/models/rnn.ts) against the float64 reference, hand-computed steps,
// and the closed form ∂h_t/∂h_k = ∏ diag(φ′(a_j)) W_hh.

const NLS: ref.Nonlinearity64[] = ['tanh', 'relu', 'sigmoid', 'identity'];

/** A random problem: weights, inputs [batch][T][I] and initial states. */
function problem(seed: string, nl: ref.Nonlinearity64, T: number, H = 4, I = 3) {
  return randomProblem(seed, { kind: 'rnn', inputSize: I, hiddenSize: H, nonlinearity: nl }, T, {
    // relu: a positive bias keeps most units alive, so the Jacobians are not trivially zero
    scale: nl === 'relu' ? 0.6 : 0.8,
    adjust: (w) => {
      if (nl === 'relu') w.bias_ih = w.bias_ih.map((b) => b + 0.3);
    },
  });
}

describe('float64 reference (self-checks)', () => {
  it('spectralNorm64 matches the 2×2 closed form and diagonal matrices', () => {
    const [a, b, c, d] = [1.5, -0.3, 0.7, 2.2];
    const s = a * a + b * b + c * c + d * d;
    const det = a * d - b * c;
    expect(ref.spectralNorm64([a, b, c, d], 2, 2)).toBeCloseTo(
      Math.sqrt((s + Math.sqrt(s * s - 4 * det * det)) / 2),
      12,
    );
    expect(ref.spectralNorm64([3, 0, 0, 0, -5, 0, 0, 0, 1], 3, 3)).toBeCloseTo(5, 12);
    expect(ref.spectralNorm64([2e-200, 0, 0, 1e-200], 2, 2) / 2e-200).toBeCloseTo(1, 12);
  });

  it('Jacobi eigenvalues of MᵀM sum to ‖M‖_F² and bound it by ‖M‖_2²', () => {
    const rng = new Rng('jacobi');
    const m = ref.uniform64(rng, 6 * 6, 1);
    const eig = ref.symmetricEigenvalues64(ref.matMul64(ref.transpose64(m, 6, 6), m, 6, 6, 6), 6);
    const fro2 = ref.frobenius64(m) ** 2;
    expect(eig.reduce((x, y) => x + y, 0)).toBeCloseTo(fro2, 10);
    expect(Math.min(...eig)).toBeGreaterThanOrEqual(-1e-12);
    // power iteration on MᵀM, independently: v ← MᵀM v
    const mtm = ref.matMul64(ref.transpose64(m, 6, 6), m, 6, 6, 6);
    let v: Float64Array = new Float64Array(6).fill(1);
    for (let i = 0; i < 2000; i++) {
      v = ref.matMul64(mtm, v, 6, 6, 1);
      const n = ref.frobenius64(v);
      v = v.map((x) => x / n);
    }
    const lambda = ref.frobenius64(ref.matMul64(mtm, v, 6, 6, 1));
    expect(Math.max(...eig)).toBeCloseTo(lambda, 9);
  });

  it.each(NLS)('FD Jacobian of the reference equals the closed form (%s)', (nl) => {
    const { spec, w, xs, s0 } = problem(`self-${nl}`, nl, 5);
    for (let k = 0; k < 5; k++) {
      expect(
        ref.maxRelErr(ref.jacobianFD(spec, w, xs[0], s0[0], k, 5, 'h'), ref.rnnClosedForm(spec, w, xs[0], s0[0], k, 5)),
      ).toBeLessThan(1e-5);
    }
    const chained = ref.chainedJacobians(spec, w, xs[1], s0[1], 'h');
    for (let gap = 1; gap <= 5; gap++) {
      expect(ref.maxRelErr(chained[gap - 1], ref.rnnClosedForm(spec, w, xs[1], s0[1], 5 - gap, 5))).toBeLessThan(1e-8);
    }
  });
});

describe('RNNCell step', () => {
  it.each(NLS)('equals the float64 reference, one step and 8 steps (%s)', async (nl) => {
    const p = problem(`step-${nl}`, nl, 8, 5, 3);
    await withCell(p, (t) => expectStepsMatchReference(t, p));
  });

  it('equals a hand-computed PyTorch step (H = 2, I = 1)', async () => {
    // weight_ih [[0.5], [−1.0]], weight_hh [[0.3, −0.2], [0.8, 0.1]] (row i multiplies h into unit i)
    const w = { weight_ih: [0.5, -1.0], weight_hh: [0.3, -0.2, 0.8, 0.1], bias_ih: [0.1, -0.2], bias_hh: [0.05, 0.3] };
    // x = 0.7, h = [0.4, −0.6]:
    // a_0 = 0.5·0.7 + 0.1 + 0.3·0.4 + (−0.2)(−0.6) + 0.05 = 0.35 + 0.1 + 0.12 + 0.12 + 0.05 = 0.74
    // a_1 = −1.0·0.7 − 0.2 + 0.8·0.4 + 0.1·(−0.6) + 0.3 = −0.7 − 0.2 + 0.32 − 0.06 + 0.3 = −0.34
    const expected: Record<ref.Nonlinearity64, number[]> = {
      tanh: [Math.tanh(0.74), Math.tanh(-0.34)],
      relu: [0.74, 0],
      sigmoid: [1 / (1 + Math.exp(-0.74)), 1 / (1 + Math.exp(0.34))],
      identity: [0.74, -0.34],
    };
    for (const nl of NLS) {
      const cell = buildCell({ kind: 'rnn', inputSize: 1, hiddenSize: 2, nonlinearity: nl }, w);
      const x = tf.tensor2d([[0.7]]);
      const h = tf.tensor2d([[0.4, -0.6]]);
      const [next] = cell.step(x, [h]);
      const got = Array.from(await next.data());
      for (const [j, v] of got.entries()) expect(v).toBeCloseTo(expected[nl][j], 6);
      tf.dispose([x, h, next]);
      cell.dispose();
    }
  });
});

describe('RNNCell parameter gradients', () => {
  it.each(NLS)('tf.variableGrads equals central differences of the float64 loss (%s)', async (nl) => {
    const T = 5;
    const p = problem(`grad-${nl}`, nl, T);
    const { spec, w, xs, s0 } = p;
    const coef = ref.randomStates64(new Rng(`coef-${nl}`), spec, BATCH, 1).map((s) => s[0]); // [batch][H]
    // L = Σ_b Σ_i coef_bi · h_T,bi
    const loss64 = (wp: ref.Weights64) =>
      s0.reduce(
        (acc, sb, b) => acc + ref.run64(spec, wp, xs[b], sb)[T][0].reduce((a, h, i) => a + coef[b][i] * h, 0),
        0,
      );
    const expected = ref.weightGradsFD(w, loss64);

    await withCell(p, async ({ cell, xsT, s0T, own }) => {
      const coefT = own(tf.tensor2d(ref.packRows(coef), [BATCH, spec.hiddenSize]));
      const vars = cell.variables();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(runCell(cell, xsT, s0T)[0], coefT)) as tf.Scalar,
        Object.values(vars),
      );
      expect(((await value.data())[0] - loss64(w)) / Math.abs(loss64(w))).toBeLessThan(1e-5);
      await expectWeightGrads(vars, grads, spec, expected);
      tf.dispose([value, ...Object.values(grads)]);
    });
  });
});

describe('jacobianNorms on the RNN', () => {
  it.each(NLS)('matrices and norms equal the FD Jacobian and the closed form for every k (%s)', async (nl) => {
    const p = problem(`probe-${nl}`, nl, 6);
    const H = p.spec.hiddenSize;
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true });
      expect(res.shape).toEqual([H, H]);
      expect(res.mode).toBe('h');
      expect(res.rows.map((r) => r.gap)).toEqual([1, 2, 3, 4, 5, 6]);
      expectJacobianRows(res, p, 'h', H, true);
    });
  });

  it('allPairs equals the reference ‖∂h_t/∂h_k‖_2 for every k < t ≤ T', async () => {
    const T = 4;
    const p = problem('pairs', 'tanh', T);
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T, { allPairs: true });
      expect(res.pairs!.map((row) => row.length)).toEqual([1, 2, 3, 4]);
      expectPairNorms(res, p, 'h', 4, false);
      // the row t = T is the main curve
      for (const r of res.rows) expect(ref.relErr(res.pairs![T - 1][r.k], r.spectral!)).toBeLessThan(1e-6);
    });
  });

  it('leaves tf.memory().numTensors unchanged', async () => {
    await withCell(problem('leak', 'tanh', 5), (t) =>
      expectProbesLeakNothing(t, [{ keepMatrices: true, allPairs: true }]),
    );
  });
});

describe('long gaps (T = 300)', () => {
  /** Two 2×2 rotations on the diagonal: an orthogonal 4×4 Q written down directly. */
  function rotations(a: number, b: number): number[] {
    const [ca, sa, cb, sb] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b)];
    return [ca, -sa, 0, 0, sa, ca, 0, 0, 0, 0, cb, -sb, 0, 0, sb, cb];
  }

  it('W_hh = Q/2 at h = 0: ‖∂h_T/∂h_k‖ = 2^−gap·(1, √H) exactly, far below float32 range', async () => {
    const [T, H, I] = [300, 4, 2];
    // zero input, zero bias, h_0 = 0 ⇒ h_t = 0, tanh′ = 1 and ∂h_T/∂h_k = (Q/2)^gap
    const w = {
      weight_ih: ref.uniform64(new Rng('lg'), H * I, 0.5),
      weight_hh: rotations(0.3, 1.1).map((q) => q / 2),
      bias_ih: [0, 0, 0, 0],
      bias_hh: [0, 0, 0, 0],
    };
    const xs = () => tf.zeros([T, BATCH, I]) as tf.Tensor3D;
    await withCell({ spec: { kind: 'rnn', inputSize: I, hiddenSize: H }, w, xs }, async ({ cell, xsT }) => {
      const res = await jacobianNorms(cell, xsT);
      for (const row of res.rows) {
        expect(row.frobenius).toBeGreaterThan(0);
        expect(ref.relErr(row.spectral!, 2 ** -row.gap)).toBeLessThan(1e-3);
        expect(ref.relErr(row.frobenius, 2 * 2 ** -row.gap)).toBeLessThan(1e-3);
      }
      expect(res.rows[T - 1].frobenius).toBeLessThan(1e-80);
      expect(res.summary.frobenius.decayPerStep!).toBeCloseTo(Math.LN2, 5);
      expect(res.summary.spectral!.decayPerStep!).toBeCloseTo(Math.LN2, 5);
      // 2·2^−g < 1e−3 first at g = 11
      expect(res.summary.frobenius.horizon).toBe(11);
    });
  });

  it('W_hh = Q/1000: a 1e−3 decay per step still gives exact, positive norms (rescaling keeps up)', async () => {
    const [T, H] = [40, 4];
    const w = {
      weight_ih: [0, 0, 0, 0],
      weight_hh: rotations(0.7, -0.2).map((q) => q / 1000),
      bias_ih: [0, 0, 0, 0],
      bias_hh: [0, 0, 0, 0],
    };
    const xs = () => tf.zeros([T, 1, 1]) as tf.Tensor3D;
    await withCell({ spec: { kind: 'rnn', inputSize: 1, hiddenSize: H }, w, xs }, async ({ cell, xsT }) => {
      const res = await jacobianNorms(cell, xsT);
      for (const row of res.rows) {
        expect(ref.relErr(row.frobenius, 2 * 1e-3 ** row.gap), `gap ${row.gap}`).toBeLessThan(1e-3);
        expect(ref.relErr(row.spectral!, 1e-3 ** row.gap), `gap ${row.gap}`).toBeLessThan(1e-3);
      }
      expect(res.summary.frobenius.decayPerStep!).toBeCloseTo(3 * Math.LN10, 4);
    });
  });

  it('saturated tanh (large biases): the probe equals the float64 closed form', async () => {
    const [T, H, I] = [40, 4, 2];
    const p = randomProblem('saturated', { kind: 'rnn', inputSize: I, hiddenSize: H, nonlinearity: 'tanh' }, T, {
      scale: 0.5,
      batch: 1,
      // biases push every |a| to ≈ 4–6 ⇒ tanh′ ≈ 1e−3…1e−5: the norm drops below 1e−38 within 16 steps
      adjust: (w) => {
        w.bias_ih = [4.5, -5, 5, -4.5];
      },
    });
    const { spec, w, xs, s0 } = p;
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T);
      let worst = 0;
      for (let gap = 1; gap <= T; gap++) {
        const closed = ref.rnnClosedForm(spec, w, xs[0], s0[0], T - gap, T);
        worst = Math.max(worst, ref.relErr(res.rows[gap - 1].frobenius, ref.frobenius64(closed)));
      }
      expect(worst).toBeLessThan(1e-3);
      expect(res.rows[15].frobenius).toBeLessThan(1e-38);
      expect(res.rows[T - 1].frobenius).toBeLessThan(1e-100);
    });
  });

  it('random inputs (tanh): the probe equals the float64 closed form at every gap', async () => {
    const [T, H, I] = [300, 4, 2];
    const p = randomProblem('long-tanh', { kind: 'rnn', inputSize: I, hiddenSize: H, nonlinearity: 'tanh' }, T, {
      scale: 0.5,
    });
    const { spec, w, xs, s0 } = p;
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await jacobianNorms(cell, xsT, s0T, { keepMatrices: true });
      // products of the step Jacobians J_T ⋯ J_{k+1}, accumulated once for all k
      const states = s0.map((sb, b) => ref.run64(spec, w, xs[b], sb));
      const P = [ref.eye64(H), ref.eye64(H)];
      for (let k = T - 1; k >= 0; k--) {
        const gap = T - k;
        const fros: number[] = [];
        for (let b = 0; b < BATCH; b++) {
          const a = ref.rnnPreActivation64(spec, w, xs[b][k], states[b][k][0]);
          const J = w.weight_hh.map((v, i) => ref.dphi64('tanh', a[Math.floor(i / H)]) * v);
          P[b] = ref.matMul64(P[b], J, H, H, H);
          fros.push(ref.frobenius64(P[b]));
          expect(ref.relErr(res.rows[gap - 1].frobeniusPerSeq[b], fros[b])).toBeLessThan(1e-3);
          expect(ref.relErr(res.rows[gap - 1].spectralPerSeq![b], ref.spectralNorm64(P[b], H, H))).toBeLessThan(1e-3);
          expect(ref.maxRelErr(res.matrices![gap - 1].subarray(b * H * H, (b + 1) * H * H), P[b])).toBeLessThan(1e-3);
        }
        if (gap === T) expect(Math.max(...fros)).toBeLessThan(1e-45);
      }
    });
  });
});

describe("lossGradientNorms through the model's cells (runPerturbed)", () => {
  it.each(NLS)('‖∂L/∂h_k‖ equals central differences of the float64 loss (%s)', async (nl) => {
    await expectLossGradientNorms(problem(`lossgrad-${nl}`, nl, 6), `head-${nl}`);
  });
});
