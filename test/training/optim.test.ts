import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  OPTIMIZER_DEFAULTS,
  Optimizer,
  PlateauTracker,
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  stepDecayLr,
  type OptimizerConfig,
} from '../../src/training/optim.js';

// Each optimizer against torch.optim's update rule, written out by hand in float64:
//   SGD       p ← p − lr g
//   momentum  buf ← μ buf + g;  p ← p − lr buf       (torch: buf = g at step 1, the same thing from buf = 0)
//   Adam      m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p − lr (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//   RMSprop   v ← α v + (1−α) g²;  p ← p − lr g / (√v + ε)
// weight_decay λ: g ← g + λ p before the rule (L2, not AdamW).

const P0 = [0.5, -1.2, 2.0];
// A different gradient at each step, so the running averages matter.
const GRADS = [
  [0.3, -0.7, 1.1],
  [-0.2, 0.4, 0.9],
  [1.5, -0.1, -0.6],
];

/** The float64 trajectory of torch's rule for 3 steps. */
function reference(cfg: OptimizerConfig): number[][] {
  const { optimizer, lr, momentum, beta1, beta2, alpha, eps, weightDecay } = cfg;
  const p = [...P0];
  const buf = [0, 0, 0];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  const out: number[][] = [];
  GRADS.forEach((gs, i) => {
    const t = i + 1;
    for (let j = 0; j < p.length; j++) {
      const g = gs[j] + weightDecay * p[j];
      switch (optimizer) {
        case 'sgd':
          p[j] -= lr * g;
          break;
        case 'momentum':
          buf[j] = momentum * buf[j] + g;
          p[j] -= lr * buf[j];
          break;
        case 'adam': {
          m[j] = beta1 * m[j] + (1 - beta1) * g;
          v[j] = beta2 * v[j] + (1 - beta2) * g * g;
          const mHat = m[j] / (1 - beta1 ** t);
          const vHat = v[j] / (1 - beta2 ** t);
          p[j] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
          break;
        }
        case 'rmsprop':
          v[j] = alpha * v[j] + (1 - alpha) * g * g;
          p[j] -= (lr * g) / (Math.sqrt(v[j]) + eps);
          break;
      }
    }
    out.push([...p]);
  });
  return out;
}

let serial = 0;
/** A trainable float32 variable; tidy frees the source tensor (tf.variable only adds a reference). */
const variable = (values: number[]) => tf.tidy(() => tf.variable(tf.tensor1d(values), true, `optim-test-${serial++}`));

/** The same 3 steps through Optimizer on a float32 variable. */
async function run(cfg: OptimizerConfig): Promise<number[][]> {
  const p = variable(P0);
  const opt = new Optimizer(cfg);
  const out: number[][] = [];
  try {
    for (const gs of GRADS) {
      const g = tf.tensor1d(gs);
      opt.apply({ p }, { p: g });
      g.dispose();
      out.push(Array.from(await p.data()));
    }
  } finally {
    opt.dispose();
    p.dispose();
  }
  return out;
}

function expectClose(actual: number[][], expected: number[][], tol = 2e-6) {
  expect(actual.length).toBe(expected.length);
  for (const [s, row] of actual.entries())
    for (const [j, x] of row.entries()) {
      const e = expected[s][j];
      expect(Math.abs(x - e), `step ${s + 1}, entry ${j}: got ${x}, expected ${e}`).toBeLessThanOrEqual(
        tol * Math.max(1, Math.abs(e)),
      );
    }
}

// Non-default hyper-parameters (ε = 1e-3 so that √v + ε vs √(v + ε) would show).
const BASE: OptimizerConfig = {
  ...OPTIMIZER_DEFAULTS,
  lr: 0.1,
  momentum: 0.8,
  beta1: 0.85,
  beta2: 0.99,
  alpha: 0.9,
  eps: 1e-3,
  weightDecay: 0,
};

describe('Optimizer update rules (torch.optim, by hand in float64)', () => {
  for (const optimizer of ['sgd', 'momentum', 'adam', 'rmsprop'] as const) {
    for (const weightDecay of [0, 0.05]) {
      it(`${optimizer}${weightDecay ? ' with weight decay λ = 0.05' : ''}: 3 steps`, async () => {
        const cfg = { ...BASE, optimizer, weightDecay };
        const expected = reference(cfg);
        expectClose(await run(cfg), expected);
        // the rule is not the identity and not SGD in disguise
        expect(expected[2].some((x, j) => Math.abs(x - P0[j]) > 1e-3)).toBe(true);
        if (optimizer !== 'sgd') {
          const sgd = reference({ ...cfg, optimizer: 'sgd' });
          expect(Math.max(...sgd[2].map((x, j) => Math.abs(x - expected[2][j])))).toBeGreaterThan(1e-3);
        }
      });
    }
  }

  it('uses the current lr (set by the schedule) at each step', async () => {
    const p = variable([1, 2]);
    const opt = new Optimizer({ ...BASE, optimizer: 'sgd', lr: 0.5 });
    const g = tf.tensor1d([1, -1]);
    opt.apply({ p }, { p: g });
    opt.lr = 0.25;
    opt.apply({ p }, { p: g });
    const got = Array.from(await p.data());
    expect(got[0]).toBeCloseTo(1 - 0.5 - 0.25, 6);
    expect(got[1]).toBeCloseTo(2 + 0.5 + 0.25, 6);
    tf.dispose([g, p]);
    opt.dispose();
  });

  it('leaves variables without a gradient untouched and frees its slots on dispose', async () => {
    const before = tf.memory().numTensors;
    const a = variable([1, 2]);
    const b = variable([3, 4]);
    expect(tf.memory().numTensors).toBe(before + 2);
    const opt = new Optimizer({ ...BASE, optimizer: 'adam' });
    for (let i = 0; i < 3; i++) {
      const g = tf.tensor1d([0.5, 0.5]);
      opt.apply({ a, b }, { a: g });
      g.dispose();
    }
    expect(Array.from(await b.data())).toEqual([3, 4]);
    expect(Array.from(await a.data())).not.toEqual([1, 2]);
    // Adam keeps m and v for `a` only
    expect(tf.memory().numTensors).toBe(before + 4);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('clipByGlobalNorm (torch.nn.utils.clip_grad_norm_)', () => {
  // ‖(3, 4, 12)‖ = 13
  const make = () => ({ a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) });

  it('globalNorm is the L2 norm over all gradients', async () => {
    const g = make();
    const n = globalNorm(g);
    expect((await n.data())[0]).toBeCloseTo(13, 5);
    tf.dispose([n, g.a, g.b]);
  });

  it('scales by maxNorm / (norm + 1e-6) when norm > maxNorm', async () => {
    const g = make();
    const clipped = clipByGlobalNorm(g, 13, 5);
    const scale = 5 / (13 + 1e-6);
    const a = Array.from(await clipped.a.data());
    const b = Array.from(await clipped.b.data());
    expect(a[0]).toBeCloseTo(3 * scale, 6);
    expect(a[1]).toBeCloseTo(4 * scale, 6);
    expect(b[0]).toBeCloseTo(12 * scale, 6);
    expect(clipped.b.shape).toEqual([1, 1]);
    // the clipped norm is maxNorm, up to the 1e-6
    expect(Math.hypot(...a, ...b)).toBeCloseTo(5, 5);
    tf.dispose([g.a, g.b, clipped.a, clipped.b]);
  });

  it('leaves gradients alone when norm <= maxNorm', async () => {
    const g = make();
    for (const maxNorm of [13, 20]) {
      const same = clipByGlobalNorm(g, 13, maxNorm);
      expect(Array.from(await same.a.data())).toEqual([3, 4]);
      expect(Array.from(await same.b.data())).toEqual([12]);
    }
    tf.dispose([g.a, g.b]);
  });
});

describe('clipByValue', () => {
  it('clamps every entry to [−c, c] and keeps the rest', async () => {
    const g = {
      w: tf.tensor2d([
        [-3, 0.2],
        [0.5, 7],
      ]),
    };
    const c = clipByValue(g, 0.5);
    expect(Array.from(await c.w.data())).toEqual([-0.5, Math.fround(0.2), 0.5, 0.5]);
    expect(c.w.shape).toEqual([2, 2]);
    tf.dispose([g.w, c.w]);
  });
});

describe('stepDecayLr', () => {
  it('is lr · factor^⌊step / decayEvery⌋', () => {
    const cfg = { decayEvery: 10, decayFactor: 0.5 };
    expect(stepDecayLr(0.1, 0, cfg)).toBe(0.1);
    expect(stepDecayLr(0.1, 9, cfg)).toBe(0.1);
    expect(stepDecayLr(0.1, 10, cfg)).toBeCloseTo(0.05, 15);
    expect(stepDecayLr(0.1, 19, cfg)).toBeCloseTo(0.05, 15);
    expect(stepDecayLr(0.1, 25, cfg)).toBeCloseTo(0.025, 15);
    expect(stepDecayLr(0.1, 100, { decayEvery: 1, decayFactor: 1 })).toBe(0.1);
  });
});

describe('PlateauTracker', () => {
  it('tracks the best loss, its step and the evaluations since', () => {
    const p = new PlateauTracker();
    const seen = [
      [1.0, 10],
      [0.8, 20],
      [0.9, 30],
      [0.8, 40], // equal is not better
      [0.7, 50],
      [NaN, 60], // NaN never improves
    ].map(([loss, step]) => [p.observe(loss, step), p.best, p.bestStep, p.sinceBest]);
    expect(seen).toEqual([
      [true, 1.0, 10, 0],
      [true, 0.8, 20, 0],
      [false, 0.8, 20, 1],
      [false, 0.8, 20, 2],
      [true, 0.7, 50, 0],
      [false, 0.7, 50, 1],
    ]);
  });
});
