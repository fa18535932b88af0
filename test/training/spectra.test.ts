import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { JACOBIAN_DEFAULTS } from '../../src/training/gradflow.js';
import {
  gradientSpectra,
  logSpacedGaps,
  selectGaps,
  SPECTRA_DEFAULTS,
  type SpectraOptions,
} from '../../src/training/spectra.js';
import { Interrupted, SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';
import { randomOrthogonal64 } from '../reference/eig64.js';
import { BATCH, randomProblem, withCell, type Problem } from '../models/helpers.js';

// The singular-value spectra of ∂h_T/∂h_k from the probe's sweep (src/training/spectra.ts)
// against the float64 reference: finite-difference Jacobians of the reference cells at every
// gap (σ from the Jacobi eigenvalues of MᵀM, not from svd.ts), U^g for the linear RNN, and
// closed forms far below float32's range.

/** σ_i of a float64 n×n matrix, descending, as √(eigenvalues of MᵀM) (reference Jacobi). */
function sigma64(m: Float64Array, n: number): number[] {
  return ref
    .symmetricEigenvalues64(ref.matMul64(ref.transpose64(m, n, n), m, n, n, n), n)
    .map((x) => Math.sqrt(Math.max(x, 0)))
    .sort((a, b) => b - a);
}

const participation = (s: number[]) => s.reduce((a, x) => a + x * x, 0) ** 2 / s.reduce((a, x) => a + x ** 4, 0);

/** A linear RNN (identity) whose W_hh is `u` (H×H), zero biases. */
function linearProblem(
  seed: string,
  u: ArrayLike<number>,
  H: number,
  T: number,
  opts: { zeroInputs?: boolean } = {},
): Problem {
  const p = randomProblem(seed, { kind: 'rnn', inputSize: 2, hiddenSize: H, nonlinearity: 'identity' }, T, {
    adjust: (w) => {
      w.weight_hh = Array.from(u);
      w.bias_ih.fill(0);
      w.bias_hh.fill(0);
    },
  });
  if (opts.zeroInputs) p.xs = p.xs.map((seq) => seq.map((x) => x.map(() => 0)));
  return p;
}

describe('gradientSpectra: every gap against the float64 FD Jacobians', () => {
  const cases: [string, ref.Spec64, ref.Mode64][] = [
    ['rnn (tanh)', { kind: 'rnn', inputSize: 3, hiddenSize: 5, nonlinearity: 'tanh' }, 'h'],
    ['lstm, h mode', { kind: 'lstm', inputSize: 3, hiddenSize: 4 }, 'h'],
    ['lstm, state mode', { kind: 'lstm', inputSize: 3, hiddenSize: 4 }, 'state'],
    ['gru', { kind: 'gru', inputSize: 3, hiddenSize: 5 }, 'h'],
  ];
  for (const [name, spec, mode] of cases) {
    it(`${name}: σ_i per sequence and batch mean, counts, participation ratios; σ̄_1 = spectral norm`, async () => {
      const T = 8;
      const p = randomProblem(`spectra-${name}`, spec, T);
      const R = ref.jacobianSize(spec, mode);
      await withCell(p, async ({ cell, xsT, s0T }) => {
        // a threshold inside the spectra, so the counts are neither all nor nothing
        const res = await gradientSpectra(cell, xsT, s0T, {
          mode,
          gaps: 'all',
          lyapunov: false,
          horizonThreshold: 0.05,
        });
        expect(res.shape).toEqual([R, R]);
        expect(res.mode).toBe(mode);
        expect(res.singular.map((r) => r.gap)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        let counted = 0;
        for (const row of res.singular) {
          expect(row.k).toBe(T - row.gap);
          const refs = [0, 1].map((b) => sigma64(ref.jacobianFD(spec, p.w, p.xs[b], p.s0[b], row.k, T, mode), R));
          row.perSeq.forEach((s, b) => {
            expect(s.logSigma).toHaveLength(R);
            s.logSigma.forEach((l, i) => {
              const got = Math.exp(l);
              expect(Math.abs(got - refs[b][i]), `gap ${row.gap} seq ${b} σ_${i + 1}`).toBeLessThan(
                1e-3 * refs[b][i] + 1e-5 * refs[b][0],
              );
            });
            expect(ref.relErr(s.participationRatio, participation(refs[b]))).toBeLessThan(1e-3);
            // counts: σ_i ≥ 0.05, unless a reference σ sits within 1e-3 of the threshold
            if (!refs[b].some((x) => Math.abs(x / 0.05 - 1) < 1e-3))
              expect(s.count).toBe(refs[b].filter((x) => x >= 0.05).length);
            counted += s.count;
          });
          // batch means, index by index
          row.sigma.forEach((x, i) => {
            expect(
              ref.relErr(x, (Math.exp(row.perSeq[0].logSigma[i]) + Math.exp(row.perSeq[1].logSigma[i])) / 2),
            ).toBeLessThan(1e-12);
          });
          expect(row.count).toBe((row.perSeq[0].count + row.perSeq[1].count) / 2);
          expect(row.participationRatio).toBeCloseTo(
            (row.perSeq[0].participationRatio + row.perSeq[1].participationRatio) / 2,
            12,
          );
          // σ_1 is the spectral norm the probe reports at that gap (Lanczos there, Golub–Kahan here)
          const normRow = res.norms.rows[row.gap - 1];
          row.perSeq.forEach((s, b) => {
            expect(ref.relErr(Math.exp(s.logSigma[0]), normRow.spectralPerSeq![b])).toBeLessThan(1e-9);
          });
        }
        expect(counted).toBeGreaterThan(0);
        expect(counted).toBeLessThan(T * BATCH * R);
      });
    });
  }
});

describe('the linear RNN: singular values at gap g are those of W_hh^g', () => {
  it('random W_hh (H = 5), every gap to T = 20', async () => {
    const H = 5;
    const u = Float64Array.from(ref.uniform64(new Rng('ug'), H * H, 0.9), Math.fround);
    const T = 20;
    await withCell(linearProblem('ug', u, H, T), async ({ cell, xsT, s0T }) => {
      const res = await gradientSpectra(cell, xsT, s0T, { gaps: 'all', lyapunov: false });
      let power = ref.eye64(H);
      for (const row of res.singular) {
        power = ref.matMul64(power, u, H, H, H);
        const expected = sigma64(power, H);
        for (const s of row.perSeq)
          s.logSigma.forEach((l, i) => {
            expect(Math.abs(Math.exp(l) - expected[i]), `gap ${row.gap} σ_${i + 1}`).toBeLessThan(
              1e-3 * expected[i] + 1e-6 * expected[0],
            );
          });
      }
    });
  });

  it('W_hh = Q/2, Q orthogonal, T = 300: ln σ_i = −gap·ln 2 for all i, down to 2^−300; counts; PR = H', async () => {
    const H = 4;
    const u = Float64Array.from(randomOrthogonal64(new Rng('q2'), H), (x) => x / 2);
    const T = 300;
    await withCell(linearProblem('q2', u, H, T), async ({ cell, xsT }) => {
      const res = await gradientSpectra(cell, xsT, undefined, { lyapunov: true, exponents: 'all' });
      expect(res.singular).toHaveLength(SPECTRA_DEFAULTS.maxGaps);
      expect(res.singular[0].gap).toBe(1);
      expect(res.singular.at(-1)!.gap).toBe(T);
      for (const row of res.singular) {
        row.logSigma.forEach((l) => {
          expect(Math.abs(l + row.gap * Math.LN2), `gap ${row.gap}`).toBeLessThan(1e-5 * row.gap);
        });
        expect(row.participationRatio).toBeCloseTo(H, 4);
        // 2^−gap ≥ 1e-3 (the horizon's threshold) up to gap 9
        expect(row.count).toBe(row.gap <= 9 ? H : 0);
      }
      expect(res.horizonThreshold).toBe(JACOBIAN_DEFAULTS.horizonThreshold);
      expect(res.singular.at(-1)!.sigma[0]).toBeGreaterThan(0); // 2^−300 ≈ 5e-91 still in float64
      // the horizon and the counts use one threshold: the first gap with count 0 is the horizon
      expect(res.norms.summary.spectral!.horizon).toBe(10);
      // Lyapunov: every exponent −ln 2; λ_1 = −decay
      res.lyapunov!.exponents.forEach((l) => {
        expect(l).toBeCloseTo(-Math.LN2, 5);
      });
      expect(res.lambda1).toBeCloseTo(-(res.decayPerStep as number), 5);
      // all 300 gaps (decomposed during the sweep, not after it): the same numbers
      const all = await gradientSpectra(cell, xsT, undefined, { gaps: 'all', lyapunov: false });
      expect(all.singular.map((r) => r.gap)).toEqual(Array.from({ length: T }, (_, i) => i + 1));
      all.singular.forEach((row) => {
        row.logSigma.forEach((l) => {
          expect(Math.abs(l + row.gap * Math.LN2)).toBeLessThan(1e-5 * row.gap);
        });
      });
      for (const row of res.singular) expect(all.singular[row.gap - 1].perSeq).toEqual(row.perSeq);
    });
  });

  it('W_hh = O·diag(0.9, 0.8, 0.7, 0.6)·Oᵀ: σ_i = d_i^gap; σ_1 to gap 400, all σ_i while σ_4/σ_1 > 1e-5', async () => {
    const H = 4;
    const d = [0.9, 0.8, 0.7, 0.6];
    const o = randomOrthogonal64(new Rng('odo'), H);
    const dm = new Float64Array(H * H);
    d.forEach((x, i) => {
      dm[i * H + i] = x;
    });
    const u = Float64Array.from(
      ref.matMul64(ref.matMul64(o, dm, H, H, H), ref.transpose64(o, H, H), H, H, H),
      Math.fround,
    );
    const T = 400;
    // zero inputs and h_0 = 0: h_t = 0, the Jacobian is W_hh at every step
    await withCell(linearProblem('odo', u, H, T, { zeroInputs: true }), async ({ cell, xsT }) => {
      const res = await gradientSpectra(cell, xsT, undefined, {
        gaps: [1, 2, 5, 10, 20, 28, 100, 400],
        lyapunov: false,
      });
      for (const row of res.singular) {
        expect(Math.abs(row.logSigma[0] - row.gap * Math.log(0.9)), `gap ${row.gap}`).toBeLessThan(1e-5 * row.gap);
        // (0.6/0.9)^28 ≈ 1.2e-5: the float32 products resolve all four up to there
        if (row.gap <= 28)
          row.logSigma.forEach((l, i) => {
            expect(Math.abs(l - row.gap * Math.log(d[i])), `gap ${row.gap} σ_${i + 1}`).toBeLessThan(2e-2);
          });
        if (row.gap <= 10)
          row.logSigma.forEach((l, i) => {
            expect(Math.abs(l - row.gap * Math.log(d[i])), `gap ${row.gap} σ_${i + 1}`).toBeLessThan(1e-4 * row.gap);
          });
      }
    });
  });
});

describe('gap selection', () => {
  it('logSpacedGaps: min(T, n) distinct gaps from 1 to T, near-geometric', () => {
    const g = logSpacedGaps(1000, 32);
    expect(g).toHaveLength(32);
    expect(g[0]).toBe(1);
    expect(g.at(-1)).toBe(1000);
    g.slice(1).forEach((x, i) => {
      expect(x).toBeGreaterThan(g[i]);
    });
    // the crowded start is every gap 1 … 12; from there on they sit on the geometric grid 1000^{i/31}
    expect(g.slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    g.forEach((x, i) => {
      i >= 12 && expect(x).toBe(Math.round(1000 ** (i / 31)));
    });
    expect(logSpacedGaps(10, 32)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(logSpacedGaps(1, 32)).toEqual([1]);
    expect(logSpacedGaps(100, 2)).toEqual([1, 100]);
    expect(logSpacedGaps(33, 32)).toHaveLength(32);
  });

  it('selectGaps: "all", lists (sorted, deduplicated) and bad selections → one-line SeqlabErrors', () => {
    expect(selectGaps('all', 32, 4)).toEqual([1, 2, 3, 4]);
    expect(selectGaps([5, 1, 5, 3], 32, 5)).toEqual([1, 3, 5]);
    for (const [sel, max, message] of [
      [[0, 2], 32, /gaps: 0 is not a gap of this probe; use integers 1 … 5/],
      [[6], 32, /use integers 1 … 5 \(T\)/],
      [[1.5], 32, /1\.5 is not a gap/],
      [[], 32, /non-empty list/],
      ['log', 1, /maxGaps must be an integer ≥ 2/],
    ] as const) {
      expect(() => selectGaps(sel as never, max, 5)).toThrow(SeqlabError);
      expect(() => selectGaps(sel as never, max, 5)).toThrow(message);
    }
  });
});

describe('gradientSpectra: bad input and leaks', () => {
  const spec: ref.Spec64 = { kind: 'lstm', inputSize: 2, hiddenSize: 3 };

  it('seqLen 0, burnIn ≥ T, bad gaps, horizonThreshold ≤ 0 → one-line SeqlabErrors before any work', async () => {
    await withCell(randomProblem('bad', spec, 6), async ({ cell, xsT }) => {
      const empty = tf.zeros([0, 2, 2]) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const cases: [tf.Tensor3D, Partial<SpectraOptions>, RegExp][] = [
        [empty, {}, /the spectra need a sequence of at least one step, got T = 0/],
        [xsT, { burnIn: 6 }, /burnIn 6 leaves no step to average over: the probe has T = 6/],
        [xsT, { burnIn: 9, lyapunov: true }, /burnIn 9 /],
        [xsT, { gaps: [7] }, /gaps: 7 is not a gap of this probe/],
        [xsT, { horizonThreshold: 0 }, /horizonThreshold must be > 0/],
      ];
      for (const [xs, opts, message] of cases) {
        const err = await gradientSpectra(cell, xs, undefined, opts).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SeqlabError);
        expect((err as SeqlabError).message).toMatch(message);
        expect((err as SeqlabError).message).not.toContain('\n');
      }
      expect(tf.memory().numTensors).toBe(before);
      // without the Lyapunov spectrum, its options are not looked at
      await expect(gradientSpectra(cell, xsT, undefined, { burnIn: 6, lyapunov: false })).resolves.toBeDefined();
      empty.dispose();
    });
  });

  it('a diverged run (a NaN input): NaN spectra and exponents, no exception', async () => {
    const p = randomProblem('nan', spec, 6);
    p.xs[1][2][0] = NaN;
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const res = await gradientSpectra(cell, xsT, s0T, { gaps: 'all', normThread: false });
      // sequence 1 has NaN from step 3 on: ∂h_T/∂h_k at every gap; sequence 0 is untouched
      for (const row of res.singular) {
        expect(row.perSeq[0].logSigma.every(Number.isFinite)).toBe(true);
        expect(row.perSeq[1].logSigma.every(Number.isNaN)).toBe(true);
        expect(row.perSeq[1].count).toBeNaN();
        expect(row.participationRatio).toBeNaN();
      }
      expect(res.lyapunov!.exponentsPerSeq[0].every(Number.isFinite)).toBe(true);
      expect(res.lyapunov!.exponentsPerSeq[1].every(Number.isNaN)).toBe(true);
      expect(res.lyapunov!.kaplanYorkePerSeq[1]).toBeNaN();
    });
  });

  it('reports the sweep’s progress and stops on its signal (Interrupted), tensors released', async () => {
    await withCell(randomProblem('stop', spec, 80), async ({ cell, xsT, s0T }) => {
      const before = tf.memory().numTensors;
      const stop = new AbortController();
      const swept: number[] = [];
      const run = gradientSpectra(cell, xsT, s0T, {
        normThread: false,
        signal: stop.signal,
        onProgress: (phase, done) => {
          if (phase !== 'sweep') return;
          swept.push(done);
          stop.abort('SIGINT'); // after the first read-back (32 steps)
        },
      });
      await expect(run).rejects.toThrow(Interrupted);
      await expect(run).rejects.toThrow(/probe stopped \(SIGINT\) in the backward sweep at gap 32 of 80/);
      expect(swept).toEqual([32]);
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('leaves tf.memory().numTensors unchanged (both modes, threaded norms or not)', async () => {
    await withCell(randomProblem('leak', spec, 10), async ({ cell, xsT, s0T }) => {
      const before = tf.memory().numTensors;
      await gradientSpectra(cell, xsT, s0T, { mode: 'state', reorthEvery: 3, normThread: false });
      await gradientSpectra(cell, xsT, undefined, { normThread: true, gaps: 'all' });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
