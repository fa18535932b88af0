import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS64, MLP_ACTIVATIONS, erf } from '../../src/models/activations64.js';
import { activationsDemo } from '../../src/commands/demos/activations.js';
import { approxDemo } from '../../src/commands/demos/approx.js';
import { chainAutograd, chainBiasGradients, chainDemo, chainForward } from '../../src/commands/demos/chain.js';
import { xorDemo } from '../../src/commands/demos/xor.js';

// The seeds' small demos (src/commands/demos).

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

describe('chain: ∂C/∂b₁ = σ′(z₁) w₂σ′(z₂) w₃σ′(z₃) w₄σ′(z₄) ∂C/∂a₄', () => {
  it('the formula equals tfjs autograd and a float64 central difference in every case', () => {
    const r = chainDemo({ seed: 3 });
    expect(r.cases.map((c) => c.name)).toEqual(['given', 'vanishing', 'exploding']);
    for (const c of r.cases) {
      expect(c.factors).toHaveLength(8); // σ′(z₁), (w, σ′) × 3, ∂C/∂a₄
      expect(relErr(c.autograd, c.formula), c.name).toBeLessThan(1e-4); // float32 autograd
      expect(relErr(c.centralDifference, c.formula), c.name).toBeLessThan(1e-5);
    }
    const [, vanishing, exploding] = r.cases;
    expect(Math.max(...vanishing.wSigmaPrime)).toBeLessThan(0.25);
    // exploding: every z = 0, so ∂C/∂b₁ = (1/4) · 25³ · ∂C/∂a₄ with a₄ = σ(0) = 1/2, y = 0
    for (const z of exploding.z) expect(z).toBe(0);
    expect(exploding.formula).toBeCloseTo(0.25 * 25 ** 3 * 0.5, 9);
    // the earlier the neuron, the smaller its gradient (vanishing) or the larger (exploding)
    const mags = (c: typeof vanishing) => c.biasGradients.map(Math.abs);
    expect(mags(vanishing)).toEqual([...mags(vanishing)].sort((a, b) => a - b));
    expect(mags(exploding)).toEqual([...mags(exploding)].sort((a, b) => b - a));
  });

  it('given weights: every ∂C/∂bⱼ matches central differences; autograd leaves no tensors behind', () => {
    const w = [0.5, -1.2, 2, 0.3, -0.7];
    const b = [0.1, -0.4, 0.2, 0.6, -0.3];
    const { z, a } = chainForward(w, b, 0.8, 0.25);
    const grads = chainBiasGradients(w, z, a[a.length - 1], 0.25);
    grads.forEach((g, j) => {
      const h = 1e-6;
      const at = (d: number) =>
        chainForward(
          w,
          b.map((v, i) => (i === j ? v + d : v)),
          0.8,
          0.25,
        ).cost;
      expect(relErr(g, (at(h) - at(-h)) / (2 * h))).toBeLessThan(1e-6);
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) expect(relErr(chainAutograd(w, b, 0.8, 0.25), grads[0])).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('xor', () => {
  it('a [2, 2, 1] MLP reaches 100 % with seed 1, and its surface separates the inputs', () => {
    const r = xorDemo({ seed: 1, survey: 0, grid: 5 });
    expect(r.accuracy).toBe(1);
    for (const o of r.outputs) expect(Math.abs(o.output - o.target)).toBeLessThan(0.1);
    // grid over [−0.5, 1.5]², 5 points per side: (0, 0) is row 3 col 1, (1, 1) row 1 col 3, (0, 1) row 1 col 1,
    // (1, 0) row 3 col 3
    const v = r.surface.values;
    expect([v[3][1], v[1][3]].every((o) => o < 0.5)).toBe(true);
    expect([v[1][1], v[3][3]].every((o) => o > 0.5)).toBe(true);
  });
});

describe('activations', () => {
  it('erf matches reference values', () => {
    // erf(0.5), erf(1), erf(2), erf(3) to 16 digits (Abramowitz & Stegun table 7.1; erf 3 = 1 − erfc 3)
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(1 - erf(3)).toBeCloseTo(2.209049699858544e-5, 15);
  });

  it('every derivative matches a central difference and stays within its bound', () => {
    const r = activationsDemo();
    expect(r.rows.map((x) => x.name)).toEqual([...MLP_ACTIVATIONS]);
    for (const row of r.rows) {
      expect(row.derivativeCheck, row.name).toBeLessThan(1e-7);
      expect(row.maxDerivative, row.name).toBeLessThanOrEqual(row.bound.value + 1e-12);
    }
    const sig = r.rows.find((x) => x.name === 'sigmoid')!;
    expect(sig.maxDerivative).toBe(0.25); // σ′(0) = 1/4
    expect(sig.argmax).toBe(0);
    const gelu = r.rows.find((x) => x.name === 'gelu')!;
    expect(gelu.argmax).toBeCloseTo(Math.SQRT2, 2);
    // σ′ = σ(1 − σ), tanh′ = 1 − tanh²
    for (const z of [-3, -0.5, 0, 1.7]) {
      const s = ACTIVATIONS64.sigmoid.fn(z, 0);
      expect(ACTIVATIONS64.sigmoid.prime(z, 0)).toBeCloseTo(s * (1 - s), 15);
      expect(ACTIVATIONS64.tanh.prime(z, 0)).toBeCloseTo(1 - Math.tanh(z) ** 2, 15);
    }
  });
});

describe('approx', () => {
  it('a wider hidden layer fits sin better than a single neuron', () => {
    const r = approxDemo({ widths: [1, 8], updates: 3000, targets: ['sin'] });
    const [one, eight] = r.rows[0].errors;
    expect(one).toBeGreaterThan(0.5); // one sigmoid cannot bend twice
    expect(eight).toBeLessThan(one / 3);
  });
});
