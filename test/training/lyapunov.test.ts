import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { SeqlabError } from '../../src/util/errors.js';
import { kernels64, setKernels64 } from '../../src/compute/kernels64.js';
import { kaplanYorke, lyapunovSpectrum, type LyapunovOptions } from '../../src/training/lyapunov.js';
import { Rng } from '../../src/util/rng.js';
import * as ref from '../reference/cells64.js';
import { eigenvalueModuli64, eigenvalues64, inverse64, qrLyapunov64, randomOrthogonal64 } from '../reference/eig64.js';
import { randomProblem, withCell, type Problem } from '../models/helpers.js';

// The QR method (src/training/lyapunov.ts) against an explicit float64 QR over the float64
// reference's finite-difference step Jacobians, and for the linear RNN (J_t = W_hh) against
// ln|μ_i(W_hh)| of constructed and general matrices and the circular law.

/** The float64 step Jacobians J_1 … J_T of sequence b of p, full state (FD through the reference). */
function stepJacobians(p: Problem, b: number): Float64Array[] {
  const states = ref.run64(p.spec, p.w, p.xs[b], p.s0[b]);
  return p.xs[b].map((x, t) => ref.stepJacobianFD(p.spec, p.w, x, states[t]));
}

const S = (p: Problem) => ref.numStates64(p.spec.kind) * p.spec.hiddenSize;

/** A linear RNN (identity) problem whose W_hh is `u` (H×H), zero biases, small inputs. */
function linearProblem(seed: string, u: ArrayLike<number>, H: number, T: number, batch = 1): Problem {
  return randomProblem(seed, { kind: 'rnn', inputSize: 2, hiddenSize: H, nonlinearity: 'identity' }, T, {
    batch,
    adjust: (w) => {
      w.weight_hh = Array.from(u);
      w.bias_ih.fill(0);
      w.bias_hh.fill(0);
    },
  });
}

/** The float32-rounded copy of u: what the cell holds. */
const fround = (u: ArrayLike<number>) => Float64Array.from(u, Math.fround);

describe('float64 references (self-checks)', () => {
  it('eigenvalues64: O·D·Oᵀ (D: rotation-scaled 2×2 blocks) and P·D·P⁻¹ (D real) → eigenvalues of D', () => {
    const rng = new Rng('eig-self');
    // blocks r·[[cos θ, −sin θ], [sin θ, cos θ]]: eigenvalues r e^{±iθ}
    const blocks: [number, number][] = [
      [0.95, 0.4],
      [0.7, 2.1],
      [0.3, 1.0],
    ];
    const n = 2 * blocks.length;
    const d = new Float64Array(n * n);
    blocks.forEach(([r, th], i) => {
      const j = 2 * i;
      [d[j * n + j], d[j * n + j + 1], d[(j + 1) * n + j], d[(j + 1) * n + j + 1]] = [
        r * Math.cos(th),
        -r * Math.sin(th),
        r * Math.sin(th),
        r * Math.cos(th),
      ];
    });
    const o = randomOrthogonal64(rng, n);
    const u = ref.matMul64(ref.matMul64(o, d, n, n, n), ref.transpose64(o, n, n), n, n, n);
    const mods = eigenvalueModuli64(u, n);
    [0.95, 0.95, 0.7, 0.7, 0.3, 0.3].forEach((r, i) => {
      expect(Math.abs(mods[i] - r)).toBeLessThan(1e-12);
    });
    const eig = eigenvalues64(u, n);
    const args = eig.map(([re, im]) => Math.abs(Math.atan2(im, re))).sort((a, b) => a - b);
    [0.4, 0.4, 1.0, 1.0, 2.1, 2.1].forEach((th, i) => {
      expect(Math.abs(args[i] - th)).toBeLessThan(1e-10);
    });

    const real = [0.9, -0.8, 0.6, 0.4, -0.2, 0.1, -0.05];
    const m = real.length;
    const p = ref.uniform64(rng, m * m, 1);
    const dd = new Float64Array(m * m);
    real.forEach((x, i) => {
      dd[i * m + i] = x;
    });
    const u2 = ref.matMul64(ref.matMul64(p, dd, m, m, m), inverse64(p, m), m, m, m);
    const e2 = eigenvalues64(u2, m);
    const byRe = e2.map(([re]) => re).sort((a, b) => b - a);
    [...real]
      .sort((a, b) => b - a)
      .forEach((x, i) => {
        expect(Math.abs(byRe[i] - x)).toBeLessThan(1e-9);
      });
    e2.forEach(([, im]) => {
      expect(Math.abs(im)).toBeLessThan(1e-9);
    });
    const trace = real.reduce((s, x) => s + x, 0);
    expect(Math.abs(e2.reduce((s, [re]) => s + re, 0) - trace)).toBeLessThan(1e-10);
  });

  it('eigenvalues64 of a random 9×9: Σμ = trace, Πμ = det (by elimination), conjugate pairs', () => {
    const n = 9;
    const a = ref.uniform64(new Rng('eig-random'), n * n, 1);
    const eig = eigenvalues64(a, n);
    expect(eig).toHaveLength(n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i];
    const sum = eig.reduce<[number, number]>((s, [re, im]) => [s[0] + re, s[1] + im], [0, 0]);
    expect(Math.abs(sum[0] - trace)).toBeLessThan(1e-10);
    expect(Math.abs(sum[1])).toBeLessThan(1e-10);
    const prod = eig.reduce<[number, number]>((p, [re, im]) => [p[0] * re - p[1] * im, p[0] * im + p[1] * re], [1, 0]);
    // det by Gaussian elimination with partial pivoting
    const m = Float64Array.from(a);
    let det = 1;
    for (let c = 0; c < n; c++) {
      let piv = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r;
      if (piv !== c) {
        det = -det;
        for (let k = 0; k < n; k++) [m[c * n + k], m[piv * n + k]] = [m[piv * n + k], m[c * n + k]];
      }
      det *= m[c * n + c];
      for (let r = c + 1; r < n; r++) {
        const f = m[r * n + c] / m[c * n + c];
        for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      }
    }
    expect(ref.relErr(prod[0], det)).toBeLessThan(1e-9);
    expect(Math.abs(prod[1])).toBeLessThan(1e-9 * Math.abs(det));
  });

  it('qrLyapunov64 of a constant diagonal J = diag(d): λ = ln|d_i| sorted', () => {
    const d = [0.5, -2, 1.1, 0.01];
    const J = new Float64Array(16);
    d.forEach((x, i) => {
      J[i * 4 + i] = x;
    });
    const got = qrLyapunov64(
      Array.from({ length: 7 }, () => J),
      4,
      4,
    );
    d.map((x) => Math.log(Math.abs(x)))
      .sort((a, b) => b - a)
      .forEach((l, i) => {
        expect(got[i]).toBeCloseTo(l, 12);
      });
  });
});

describe('lyapunovSpectrum against the explicit float64 QR over FD Jacobians', () => {
  const cases: [string, ref.Spec64][] = [
    ['rnn (tanh)', { kind: 'rnn', inputSize: 3, hiddenSize: 5, nonlinearity: 'tanh' }],
    ['lstm (s = [h; c])', { kind: 'lstm', inputSize: 3, hiddenSize: 4 }],
    ['gru', { kind: 'gru', inputSize: 3, hiddenSize: 5 }],
  ];
  const optionSets: Partial<LyapunovOptions>[] = [
    { exponents: 'all', reorthEvery: 1 },
    { exponents: 'all', reorthEvery: 4, burnIn: 7 },
    { exponents: 3, reorthEvery: 5 },
  ];
  for (const [name, spec] of cases) {
    it(`${name}: every sequence's exponents, k = S and k = 3, m = 1, 4, 5, burn-in 0 and 7`, async () => {
      const T = 30;
      const p = randomProblem(`lyap-${name}`, spec, T);
      const jacobians = [0, 1].map((b) => stepJacobians(p, b));
      await withCell(p, async ({ cell, xsT, s0T }) => {
        for (const opts of optionSets) {
          const res = await lyapunovSpectrum(cell, xsT, s0T, opts);
          const k = opts.exponents === 'all' ? S(p) : (opts.exponents as number);
          expect(res.size).toBe(S(p));
          expect(res.count).toBe(k);
          expect(res.steps).toBe(T - (opts.burnIn ?? 0));
          res.exponentsPerSeq.forEach((got, b) => {
            const expected = qrLyapunov64(jacobians[b], S(p), k, opts.burnIn ?? 0);
            expect(got).toHaveLength(k);
            got.forEach((l, i) => {
              expect(Math.abs(l - expected[i]), `seq ${b} λ_${i + 1} ${JSON.stringify(opts)}`).toBeLessThan(2e-5);
            });
          });
          res.exponents.forEach((l, i) => {
            expect(l).toBeCloseTo((res.exponentsPerSeq[0][i] + res.exponentsPerSeq[1][i]) / 2, 12);
          });
        }
      });
    });
  }
});

describe('the linear RNN: λ_i = ln|μ_i(W_hh)|', () => {
  it('W_hh = O·D·Oᵀ, D: rotation-scaled blocks (radii 0.97, 0.8, 0.5), −0.9 and 0.3: exact after burn-in', async () => {
    const rng = new Rng('lin-constructed');
    const H = 8;
    const d = new Float64Array(H * H);
    [
      [0.97, 0.3],
      [0.8, 1.9],
      [0.5, 2.7],
    ].forEach(([r, th], i) => {
      const j = 2 * i;
      [d[j * H + j], d[j * H + j + 1], d[(j + 1) * H + j], d[(j + 1) * H + j + 1]] = [
        r * Math.cos(th),
        -r * Math.sin(th),
        r * Math.sin(th),
        r * Math.cos(th),
      ];
    });
    d[6 * H + 6] = -0.9;
    d[7 * H + 7] = 0.3;
    const o = randomOrthogonal64(rng, H);
    const u = fround(ref.matMul64(ref.matMul64(o, d, H, H, H), ref.transpose64(o, H, H), H, H, H));
    const expected = eigenvalueModuli64(u, H).map(Math.log);
    // the radii, as constructed (float32 rounding of U moves them by ~1e-7)
    [0.97, 0.97, -0.9, 0.8, 0.8, 0.5, 0.5, 0.3]
      .map((x) => Math.log(Math.abs(x)))
      .forEach((l, i) => {
        expect(expected[i]).toBeCloseTo(l, 5);
      });
    await withCell(linearProblem('lin-constructed', u, H, 400), async ({ cell, xsT }) => {
      const res = await lyapunovSpectrum(cell, xsT, undefined, { exponents: 'all', burnIn: 100 });
      res.exponents.forEach((l, i) => {
        expect(Math.abs(l - expected[i]), `λ_${i + 1}`).toBeLessThan(1e-5);
      });
      // λ_1 + … + λ_8 = ln|det U| at every step, whatever the burn-in
      expect(res.exponents.reduce((a, b) => a + b, 0)).toBeCloseTo(
        expected.reduce((a, b) => a + b, 0),
        5,
      );
    });
  });

  it('W_hh = P·D·P⁻¹ (non-normal, real eigenvalues 0.9 … −0.05): λ_i = ln|d_i|', async () => {
    const rng = new Rng('lin-nonnormal');
    const real = [0.9, -0.75, 0.6, 0.4, -0.2, 0.1, -0.05];
    const H = real.length;
    const p = ref.uniform64(rng, H * H, 1);
    const d = new Float64Array(H * H);
    real.forEach((x, i) => {
      d[i * H + i] = x;
    });
    const u = fround(ref.matMul64(ref.matMul64(p, d, H, H, H), inverse64(p, H), H, H, H));
    const expected = eigenvalueModuli64(u, H).map(Math.log);
    real
      .map((x) => Math.log(Math.abs(x)))
      .sort((a, b) => b - a)
      .forEach((l, i) => {
        expect(expected[i]).toBeCloseTo(l, 4);
      });
    await withCell(linearProblem('lin-nonnormal', u, H, 600), async ({ cell, xsT }) => {
      const res = await lyapunovSpectrum(cell, xsT, undefined, { exponents: 'all', burnIn: 300 });
      res.exponents.forEach((l, i) => {
        expect(Math.abs(l - expected[i]), `λ_${i + 1}`).toBeLessThan(1e-4);
      });
    });
  });

  it('general W_hh ~ N(0, 1/H), H = 10: λ_i against the Hessenberg-QR eigenvalue moduli', async () => {
    const rng = new Rng('lin-general');
    const H = 10;
    const u = fround(Array.from({ length: H * H }, () => rng.normal() / Math.sqrt(H)));
    const expected = eigenvalueModuli64(u, H).map(Math.log);
    await withCell(linearProblem('lin-general', u, H, 3000), async ({ cell, xsT }) => {
      const res = await lyapunovSpectrum(cell, xsT, undefined, { exponents: 'all', burnIn: 1000 });
      // complex pairs of a non-normal U make ln|R_ii| oscillate: the average converges as 1/T′
      res.exponents.forEach((l, i) => {
        expect(Math.abs(l - expected[i]), `λ_${i + 1}`).toBeLessThan(5e-3);
      });
      expect(res.exponents.reduce((a, b) => a + b, 0)).toBeCloseTo(
        expected.reduce((a, b) => a + b, 0),
        5,
      );
    });
  });

  for (const g of [0.5, 0.9]) {
    it(`circular law: W_hh ~ N(0, g²/H), H = 512, g = ${g}: λ_1 within 0.05 of ln g`, async () => {
      const rng = new Rng(`circular-${g}`);
      const H = 512;
      const u = Float64Array.from({ length: H * H }, () => (g * rng.normal()) / Math.sqrt(H));
      const T = 1500;
      await withCell(linearProblem(`circular-${g}`, u, H, T), async ({ cell, xsT }) => {
        const res = await lyapunovSpectrum(cell, xsT, undefined, { exponents: 4, burnIn: 500 });
        expect(Math.abs(res.exponents[0] - Math.log(g))).toBeLessThan(0.05);
      });
    });
  }
});

describe('re-orthonormalizing every m steps', () => {
  const cases: [string, ref.Spec64, number][] = [
    ['lstm (s = [h; c])', { kind: 'lstm', inputSize: 3, hiddenSize: 6 }, 0.8],
    ['gru', { kind: 'gru', inputSize: 3, hiddenSize: 8 }, 0.8],
    ['rnn (tanh)', { kind: 'rnn', inputSize: 3, hiddenSize: 8, nonlinearity: 'tanh' }, 0.8],
  ];
  for (const [name, spec, scale] of cases) {
    it(`${name}: m = 2, 3, 5 give the exponents of m = 1 (all of them, and the top 3)`, async () => {
      const p = randomProblem(`reorth-${name}`, spec, 200, { scale });
      await withCell(p, async ({ cell, xsT, s0T }) => {
        for (const exponents of ['all', 3] as const) {
          const every = await lyapunovSpectrum(cell, xsT, s0T, { exponents, reorthEvery: 1 });
          expect(every.qrCount).toBe(200);
          for (const m of [2, 3, 5]) {
            const res = await lyapunovSpectrum(cell, xsT, s0T, { exponents, reorthEvery: m });
            // the top 3 stretch little per step: their blocks run the full m steps (mostly)
            if (exponents === 3) expect(res.qrCount).toBeLessThan(1.2 * Math.ceil(200 / m));
            // float32 products: ~1e-5 nats per step either way (lyapunov.ts)
            res.exponentsPerSeq.forEach((l, b) => {
              l.forEach((x, i) => {
                expect(
                  Math.abs(x - every.exponentsPerSeq[b][i]),
                  `k ${exponents} m ${m} seq ${b} λ_${i + 1}`,
                ).toBeLessThan(5e-5);
              });
            });
          }
        }
      });
    });
  }

  it('a stiff LSTM (forget gates near 0 and 1, steps stretch ~1e6): blocks are cut, m = 5 = m = 1', async () => {
    const spec: ref.Spec64 = { kind: 'lstm', inputSize: 2, hiddenSize: 4 };
    const H = 4;
    const p = randomProblem('stiff', spec, 120, {
      adjust: (w) => {
        // f-gate biases (rows H..2H of both): units 0, 1 forget at once (f ≈ e^−14), units 2, 3 keep (f ≈ 1)
        for (let u = 0; u < H; u++) w.bias_ih[H + u] = u < 2 ? -14 : 14;
      },
    });
    await withCell(p, async ({ cell, xsT, s0T }) => {
      const every = await lyapunovSpectrum(cell, xsT, s0T, { exponents: 'all', reorthEvery: 1 });
      const five = await lyapunovSpectrum(cell, xsT, s0T, { exponents: 'all', reorthEvery: 5 });
      expect(every.exponents.at(-1)!).toBeLessThan(-10);
      expect(five.qrCount).toBeGreaterThan(120 / 5);
      five.exponentsPerSeq.forEach((l, b) => {
        l.forEach((x, i) => {
          expect(Math.abs(x - every.exponentsPerSeq[b][i]) / Math.max(1, Math.abs(x))).toBeLessThan(1e-5);
        });
      });
      // the FD reference itself is the limit here: ∂c′/∂c = f ≈ 1e-6 comes out of differences of O(1)
      // values with ε = 1e-6, so ~1e-4 relative
      const jacobians = stepJacobians(p, 0);
      qrLyapunov64(jacobians, 2 * H, 2 * H).forEach((l, i) => {
        expect(Math.abs(five.exponentsPerSeq[0][i] - l) / Math.max(1, Math.abs(l))).toBeLessThan(1e-3);
      });
    });
  });
});

describe('Kaplan–Yorke dimension', () => {
  it('closed forms: j + (λ_1 + … + λ_j)/|λ_{j+1}|; 0 if λ_1 < 0; a lower bound if no sum turns negative', () => {
    // partial sums 0.5, 0.6, 0.3, −0.7: j = 3, D = 3 + 0.3/1
    expect(kaplanYorke([0.5, 0.1, -0.3, -1])).toEqual({ dimension: 3.3, isLowerBound: false });
    expect(kaplanYorke([-0.1, -0.5])).toEqual({ dimension: 0, isLowerBound: false });
    // λ_1 = 0.2, then −0.4: 1 + 0.2/0.4
    expect(kaplanYorke([0.2, -0.4, -1])).toEqual({ dimension: 1.5, isLowerBound: false });
    expect(kaplanYorke([0.3, 0.1, -0.2])).toEqual({ dimension: 3, isLowerBound: true });
    expect(kaplanYorke([0.3, -Infinity]).dimension).toBe(1);
  });

  it('the linear RNN with radii 1.2, 0.9 (×2), 0.5: D = 1 + ln 1.2/|ln 0.9|… as the exponents say', async () => {
    const H = 4;
    const d = new Float64Array(H * H);
    d[0] = 1.2;
    [d[5], d[6], d[9], d[10]] = [0.9 * Math.cos(1), -0.9 * Math.sin(1), 0.9 * Math.sin(1), 0.9 * Math.cos(1)];
    d[15] = 0.5;
    const o = randomOrthogonal64(new Rng('ky'), H);
    const u = fround(ref.matMul64(ref.matMul64(o, d, H, H, H), ref.transpose64(o, H, H), H, H, H));
    await withCell(linearProblem('ky', u, H, 200), async ({ cell, xsT }) => {
      const res = await lyapunovSpectrum(cell, xsT, undefined, { exponents: 'all', burnIn: 50 });
      // ln 1.2 = 0.182 ≥ 0; + ln 0.9 = 0.077 ≥ 0; + ln 0.9 = −0.028 < 0 ⇒ D = 2 + (ln 1.2 + ln 0.9)/|ln 0.9|
      const expected = 2 + (Math.log(1.2) + Math.log(0.9)) / Math.abs(Math.log(0.9));
      expect(res.kaplanYorke).toBeCloseTo(expected, 4);
      expect(res.kaplanYorkeIsLowerBound).toBe(false);
    });
  });
});

describe('the Gram–Schmidt projections: wasm kernel = JS loop', () => {
  it('lstm (S = 2H = 10, odd H) and gru (S = 7, odd): the same exponents to 1e-10', async () => {
    for (const spec of [
      { kind: 'lstm', inputSize: 2, hiddenSize: 5 },
      { kind: 'gru', inputSize: 2, hiddenSize: 7 },
    ] as ref.Spec64[]) {
      await withCell(randomProblem(`kern-${spec.kind}`, spec, 40), async ({ cell, xsT, s0T }) => {
        expect(kernels64()).not.toBeNull();
        const wasm = await lyapunovSpectrum(cell, xsT, s0T, { exponents: 'all' });
        // summation order differs (pairs of columns): rounding apart, amplified a little by the float32 products
        setKernels64(false);
        try {
          const js = await lyapunovSpectrum(cell, xsT, s0T, { exponents: 'all' });
          js.exponentsPerSeq.forEach((l, b) => {
            l.forEach((x, i) => {
              expect(wasm.exponentsPerSeq[b][i]).toBeCloseTo(x, 10);
            });
          });
        } finally {
          setKernels64(true);
        }
      });
    }
  });
});

describe('lyapunovSpectrum: bad input and leaks', () => {
  const spec: ref.Spec64 = { kind: 'gru', inputSize: 2, hiddenSize: 3 };

  it('seqLen 0, burnIn ≥ T or < 0, reorthEvery 0, exponents 0 → one-line SeqlabErrors naming the field', async () => {
    const p = randomProblem('bad', spec, 5);
    await withCell(p, async ({ cell, xsT }) => {
      const empty = tf.zeros([0, 2, 2]) as tf.Tensor3D;
      const cases: [tf.Tensor3D, Partial<LyapunovOptions>, RegExp, string[]][] = [
        [empty, {}, /at least one step, got T = 0/, []],
        [xsT, { burnIn: 5 }, /^burnIn 5 leaves no step to average over: the probe has T = 5; use fewer$/, ['burnIn']],
        [xsT, { burnIn: -1 }, /burnIn must be a non-negative integer/, ['burnIn']],
        [xsT, { reorthEvery: 0 }, /reorthEvery must be a positive integer/, ['reorthEvery']],
        [xsT, { exponents: 0 }, /exponents must be a positive integer or "all"/, ['exponents']],
      ];
      for (const [xs, opts, message, fields] of cases) {
        const err = await lyapunovSpectrum(cell, xs, undefined, opts).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SeqlabError);
        expect((err as SeqlabError).message).toMatch(message);
        expect((err as SeqlabError).message).not.toContain('\n');
        expect((err as SeqlabError).fields).toEqual(fields);
      }
      empty.dispose();
    });
  });

  it('leaves tf.memory().numTensors unchanged', async () => {
    await withCell(
      randomProblem('leak', { kind: 'lstm', inputSize: 2, hiddenSize: 3 }, 12),
      async ({ cell, xsT, s0T }) => {
        const before = tf.memory().numTensors;
        await lyapunovSpectrum(cell, xsT, s0T, { reorthEvery: 3, burnIn: 2 });
        await lyapunovSpectrum(cell, xsT);
        expect(tf.memory().numTensors).toBe(before);
      },
    );
  });
});
