import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { MLP_ACTIVATIONS, type MlpActivation } from '../../src/models/activations64.js';
import { MLP_INITS, initDenseLayer } from '../../src/models/init.js';
import { MLP_DEFAULTS, Mlp, norm, parseLayers, validateMlpConfig, type MlpConfig } from '../../src/models/mlp.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { cost64, gradFD64 } from '../reference/mlp64.js';

// The MLP's hand-written backpropagation (src/models/mlp.ts) against central finite
// differences of the float64 reference (test/reference/mlp64.ts) and against tfjs autodiff.

const toNumbers = (p: Record<string, Float64Array>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(v)]));

function batch(rng: Rng, m: number, nIn: number, nOut: number, onehot: boolean) {
  // a third of the inputs are exact zeros, as MNIST's background pixels (the sparse path of layer 1)
  const xs = Array.from({ length: m }, () =>
    Array.from({ length: nIn }, () => (rng.uniform() < 0.33 ? 0 : rng.range(-1, 1))),
  );
  const ys = Array.from({ length: m }, () => {
    if (!onehot) return Array.from({ length: nOut }, () => rng.uniform());
    const y = new Array(nOut).fill(0);
    y[rng.int(nOut)] = 1;
    return y;
  });
  return { xs, ys, x: Float64Array.from(xs.flat()), y: Float64Array.from(ys.flat()) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * A random net whose PReLU slopes and batch-norm γ, β are not at their initial values, so their gradients are
 * exercised.
 */
function randomNet(config: MlpConfig, seed: string): Mlp {
  const rng = new Rng(seed);
  const net = Mlp.random(config, rng);
  for (const [k, p] of Object.entries(net.params)) {
    if (k.startsWith('slope')) for (let i = 0; i < p.length; i++) p[i] = rng.range(0.05, 0.5);
    if (k.startsWith('gamma')) for (let i = 0; i < p.length; i++) p[i] = rng.range(0.5, 1.5);
    if (k.startsWith('beta')) for (let i = 0; i < p.length; i++) p[i] = rng.range(-0.5, 0.5);
  }
  return net;
}

describe('MLP backpropagation vs float64 central differences', () => {
  const cases: [string, Partial<MlpConfig>][] = [
    ...MLP_ACTIVATIONS.map((activation): [string, Partial<MlpConfig>] => [
      `${activation}, xent, sigmoid outputs`,
      { activation },
    ]),
    ['sigmoid, quadratic, sigmoid outputs', { cost: 'quadratic' }],
    ['tanh, quadratic, linear outputs', { activation: 'tanh', cost: 'quadratic', output: 'linear' }],
    ['relu, log-likelihood, softmax outputs', { activation: 'relu', output: 'softmax', init: 'he' }],
    ['sigmoid, batch norm', { batchNorm: true }],
    ['prelu, batch norm, softmax', { activation: 'prelu', batchNorm: true, output: 'softmax' }],
  ];
  for (const [label, over] of cases) {
    it(label, () => {
      const config: MlpConfig = { ...MLP_DEFAULTS, layers: [4, 5, 3, 2], ...over };
      const net = randomNet(config, `fd/${label}`);
      const { xs, ys, x, y } = batch(new Rng(`fd-data/${label}`), 3, 4, 2, config.output === 'softmax');
      const ref = {
        layers: config.layers,
        activation: config.activation,
        output: config.output,
        cost: config.cost,
        batchNorm: config.batchNorm,
        slope: config.activation === 'leaky-relu' ? 0.01 : 0,
      };
      const params = toNumbers(net.params);
      const { cost, grads } = net.lossAndGrads(x, y, 3, { mode: 'batch' });
      expect(cost).toBeCloseTo(cost64(ref, params, xs, ys), 12);
      const fd = gradFD64(ref, params, xs, ys);
      expect(Object.keys(grads).sort()).toEqual(Object.keys(fd).sort());
      for (const [name, g] of Object.entries(grads)) {
        const scale = Math.max(1e-3, ...fd[name].map(Math.abs));
        expect(maxAbsDiff(g, fd[name]) / scale, name).toBeLessThan(1e-6);
      }
      // ‖δˡ‖ = ‖∂C/∂bˡ‖ (∂C/∂βˡ with batch norm) for the two hidden layers
      const deltas = net.deltaNorms(grads);
      expect(deltas).toHaveLength(2);
      for (const [i, d] of deltas.entries())
        expect(d).toBeCloseTo(norm(fd[config.batchNorm ? `beta${i + 1}` : `b${i + 1}`]), 8);
    });
  }

  it('the batch δ is the element-wise mean of the per-example δ (Nielsen’s measurement)', () => {
    const config: MlpConfig = { ...MLP_DEFAULTS, layers: [6, 4, 4, 3] };
    const net = randomNet(config, 'mean');
    const { x, y } = batch(new Rng('mean-data'), 5, 6, 3, true);
    const whole = net.lossAndGrads(x, y, 5).grads;
    const b1 = Float64Array.from(whole.b1);
    const rms = net.deltaRms();
    const mean = new Float64Array(4);
    let squares = 0;
    for (let b = 0; b < 5; b++) {
      const g = net.lossAndGrads(x.subarray(b * 6, (b + 1) * 6), y.subarray(b * 3, (b + 1) * 3), 1).grads;
      for (let j = 0; j < 4; j++) mean[j] += g.b1[j] / 5;
      squares += norm(g.b1) ** 2 / 5;
    }
    expect(maxAbsDiff(b1, mean)).toBeLessThan(1e-15);
    // deltaRms: the per-example size √(mean ‖δ¹_x‖²)
    expect(rms[0]).toBeCloseTo(Math.sqrt(squares), 14);
  });
});

describe('MLP gradients vs tfjs autodiff (float32)', () => {
  const tfAct: Partial<Record<MlpActivation, (u: tf.Tensor, slope: tf.Tensor | null) => tf.Tensor>> = {
    sigmoid: (u) => tf.sigmoid(u),
    tanh: (u) => tf.tanh(u),
    relu: (u) => tf.relu(u),
    'leaky-relu': (u) => tf.leakyRelu(u, 0.01),
    prelu: (u, s) => tf.prelu(u, s!),
  };
  for (const [activation, act] of Object.entries(tfAct)) {
    it(`${activation}, xent`, () => {
      const config: MlpConfig = { ...MLP_DEFAULTS, layers: [5, 4, 3, 2], activation: activation as MlpActivation };
      const net = randomNet(config, `tf/${activation}`);
      const { x, y } = batch(new Rng(`tf-data/${activation}`), 4, 5, 2, true);
      const { grads } = net.lossAndGrads(x, y, 4);
      const names = Object.keys(net.params);
      const vars = names.map((k) => tf.tensor(Float32Array.from(net.params[k])));
      const L = 3;
      const tfGrads = tf.tidy(() => {
        const f = (...ps: tf.Tensor[]) => {
          const p = Object.fromEntries(names.map((k, i) => [k, ps[i]]));
          let a: tf.Tensor = tf.tensor2d(Float32Array.from(x), [4, 5]);
          for (let l = 1; l <= L; l++) {
            const w = p[`w${l}`].reshape([config.layers[l], config.layers[l - 1]]);
            const u = tf.add(tf.matMul(a, tf.transpose(w)), p[`b${l}`]);
            a = l < L ? act(u, p[`slope${l}`] ?? null) : u;
          }
          // mean over the batch of Σ_j [y softplus(−u) + (1 − y) softplus(u)] = cross-entropy of σ(u)
          const t = tf.tensor2d(Float32Array.from(y), [4, 2]);
          return tf.div(
            tf.sum(tf.add(tf.mul(t, tf.softplus(tf.neg(a))), tf.mul(tf.sub(1, t), tf.softplus(a)))),
            4,
          ) as tf.Scalar;
        };
        return tf.grads(f)(vars);
      });
      names.forEach((k, i) => {
        const g = tfGrads[i].dataSync();
        const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
        expect(maxAbsDiff(grads[k], g) / scale, k).toBeLessThan(2e-4);
      });
      tf.dispose([...vars, ...tfGrads]);
    });
  }
});

describe('MLP forward, batch norm and state', () => {
  it('eval mode uses the running averages, updated with momentum 0.1 and the unbiased variance', () => {
    const config: MlpConfig = { ...MLP_DEFAULTS, layers: [3, 2, 2], batchNorm: true };
    const net = randomNet(config, 'bn');
    const { x, y } = batch(new Rng('bn-data'), 4, 3, 2, true);
    // z¹ by hand for the batch
    const w = net.params.w1;
    const z = Array.from({ length: 4 }, (_, b) =>
      [0, 1].map((j) => w[j * 3] * x[b * 3] + w[j * 3 + 1] * x[b * 3 + 1] + w[j * 3 + 2] * x[b * 3 + 2]),
    );
    net.lossAndGrads(x, y, 4, { mode: 'batch' });
    expect(Array.from(net.buffers.runningMean1)).toEqual([0, 0]); // "batch" leaves them alone
    net.lossAndGrads(x, y, 4, { mode: 'train' });
    for (const j of [0, 1]) {
      const mean = z.reduce((s, r) => s + r[j], 0) / 4;
      const unbiased = z.reduce((s, r) => s + (r[j] - mean) ** 2, 0) / 3;
      expect(net.buffers.runningMean1[j]).toBeCloseTo(0.1 * mean, 14);
      expect(net.buffers.runningVar1[j]).toBeCloseTo(0.9 + 0.1 * unbiased, 14);
    }
    // eval: uˡ = γ (z − running mean)/√(running var + ε) + β for each example on its own
    const one = net.forward(x.subarray(0, 3), 1, { mode: 'eval' }).slice();
    const u = [0, 1].map(
      (j) =>
        (net.params.gamma1[j] * (z[0][j] - net.buffers.runningMean1[j])) /
          Math.sqrt(net.buffers.runningVar1[j] + 1e-5) +
        net.params.beta1[j],
    );
    const a = u.map((v) => 1 / (1 + Math.exp(-v)));
    const out = [0, 1].map(
      (j) => 1 / (1 + Math.exp(-(net.params.w2[j * 2] * a[0] + net.params.w2[j * 2 + 1] * a[1] + net.params.b2[j]))),
    );
    expect(maxAbsDiff(one, out)).toBeLessThan(1e-14);
  });

  it('a state dict round-trips', () => {
    const config: MlpConfig = { ...MLP_DEFAULTS, layers: [3, 4, 2], batchNorm: true, activation: 'prelu' };
    const net = randomNet(config, 'sd');
    const copy = Mlp.fromStateDict(config, JSON.parse(JSON.stringify(net.stateDict())));
    const x = Float64Array.from([0.1, -0.2, 0.3, 0.5, 0, 1]);
    expect(Array.from(copy.forward(x, 2))).toEqual(Array.from(net.forward(x, 2)));
  });

  it('rejects bad layer sizes and combinations with one-line usage errors', () => {
    const bad: [Partial<MlpConfig>, RegExp][] = [
      [{ layers: [784] }, /at least an input and an output/],
      [{ layers: [784, 0, 10] }, /positive integers/],
      [{ activation: 'sigmod' as MlpActivation }, /unknown activation "sigmod"/],
      [{ output: 'linear', cost: 'xent' }, /xent needs sigmoid or softmax/],
    ];
    for (const [over, re] of bad) {
      let err: unknown;
      try {
        validateMlpConfig({ ...MLP_DEFAULTS, ...over });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SeqlabError);
      expect((err as SeqlabError).message).toMatch(re);
      expect((err as SeqlabError).message).not.toContain('\n');
    }
    expect(parseLayers('784, 30,10')).toEqual([784, 30, 10]);
    expect(() => parseLayers('784')).toThrow(/at least an input and an output/);
    expect(() => parseLayers('784,0,10')).toThrow(/positive integers/);
    expect(() => parseLayers('784,,10')).toThrow(/positive integers/);
  });
});

describe('dense-layer initializers', () => {
  // moments within 5 standard errors on 20 000 draws
  const std = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  const expected: Record<(typeof MLP_INITS)[number], { w: number; b: number | null }> = {
    normal: { w: 1, b: 1 },
    nielsen: { w: 1 / Math.sqrt(200), b: 1 },
    xavier: { w: Math.sqrt(2 / 300), b: 0 },
    he: { w: Math.sqrt(2 / 200), b: 0 },
  };
  for (const init of MLP_INITS) {
    it(init, () => {
      const { weight, bias } = initDenseLayer(new Rng(`init/${init}`), 200, 100, init);
      expect(weight).toHaveLength(20_000);
      expect(bias).toHaveLength(100);
      const e = expected[init];
      expect(Math.abs(std(weight) - e.w)).toBeLessThan((5 * e.w) / Math.sqrt(40_000));
      if (e.b === 0) expect(Array.from(bias).every((b) => b === 0)).toBe(true);
      else expect(Math.abs(std(bias) - 1)).toBeLessThan(5 / Math.sqrt(200));
      if (init === 'xavier') expect(Math.max(...Array.from(weight, Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 300));
    });
  }
});
