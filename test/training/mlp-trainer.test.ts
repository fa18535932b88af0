import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MLP_DEFAULTS, Mlp, type MlpConfig } from '../../src/models/mlp.js';
import {
  MLP_TRAIN_DEFAULTS,
  arrayExamples,
  evaluateMlp,
  probeDeltaNorms,
  trainMlp,
  type MlpTrainConfig,
} from '../../src/training/mlp-trainer.js';
import { ArrayOptimizer, clipScale, globalNormArrays } from '../../src/training/optim-array.js';
import { OPTIMIZERS, OPTIMIZER_DEFAULTS, Optimizer, clipByGlobalNorm } from '../../src/training/optim.js';
import { RunDir } from '../../src/runlog/rundir.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

// The MLP trainer (src/training/mlp-trainer.ts) and the array optimizers it shares rules with.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-mlp-trainer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rand = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.range(-1, 1));

describe('ArrayOptimizer follows the tensor Optimizer (optim.ts) step by step', () => {
  for (const optimizer of OPTIMIZERS) {
    it(optimizer, () => {
      const rng = new Rng(`opt/${optimizer}`);
      const config = { ...OPTIMIZER_DEFAULTS, optimizer, lr: 0.05, weightDecay: 0.1 };
      const params = { w: rand(rng, 6), b: rand(rng, 3) };
      const vars = {
        w: tf.variable(tf.tensor(Float32Array.from(params.w))),
        b: tf.variable(tf.tensor(Float32Array.from(params.b))),
      };
      const tensorOpt = new Optimizer(config);
      const arrayOpt = new ArrayOptimizer(config);
      const before = tf.memory().numTensors;
      for (let step = 0; step < 4; step++) {
        const grads = { w: rand(rng, 6), b: rand(rng, 3) };
        const g = { w: tf.tensor(Float32Array.from(grads.w)), b: tf.tensor(Float32Array.from(grads.b)) };
        tensorOpt.apply(vars, g);
        tf.dispose(Object.values(g));
        arrayOpt.apply(params, grads);
        for (const k of ['w', 'b'] as const) {
          const t = vars[k].dataSync();
          for (const [i, v] of params[k].entries())
            expect(Math.abs(v - t[i]), `${k}[${i}] step ${step}`).toBeLessThan(1e-5);
        }
        if (step === 0) expect(tf.memory().numTensors).toBeGreaterThanOrEqual(before); // slots created once
      }
      const slotsThen = tf.memory().numTensors;
      tensorOpt.apply(vars, { w: tf.zeros([6]), b: tf.zeros([3]) });
      expect(tf.memory().numTensors - slotsThen).toBe(2); // only the two gradients passed in
      tensorOpt.dispose();
      tf.dispose(Object.values(vars));
    });
  }

  it('decays only the named parameters, as Nielsen’s L2: w ← (1 − ηλ/n) w − η∇C', () => {
    const [eta, lambda, n] = [0.1, 5, 1000];
    const opt = new ArrayOptimizer(
      { ...OPTIMIZER_DEFAULTS, optimizer: 'sgd', lr: eta, weightDecay: lambda / n },
      new Set(['w1']),
    );
    const p = { w1: Float64Array.from([2, -1]), b1: Float64Array.from([3]) };
    opt.apply(p, { w1: Float64Array.from([0.5, 0.25]), b1: Float64Array.from([1]) });
    expect(p.w1[0]).toBeCloseTo((1 - (eta * lambda) / n) * 2 - eta * 0.5, 14);
    expect(p.w1[1]).toBeCloseTo((1 - (eta * lambda) / n) * -1 - eta * 0.25, 14);
    expect(p.b1[0]).toBeCloseTo(3 - eta * 1, 14);
  });

  it('clipScale is clipByGlobalNorm’s factor', () => {
    const g = { a: Float64Array.from([3, 4]), b: Float64Array.from([12]) }; // norm 13
    expect(globalNormArrays(g)).toBe(13);
    const clipped = tf.tidy(() => clipByGlobalNorm({ a: tf.tensor([3, 4]), b: tf.tensor([12]) }, 13, 5).a.dataSync());
    expect(clipScale(13, 5) * 3).toBeCloseTo(clipped[0], 6);
    expect(clipScale(13, null)).toBe(1);
    expect(clipScale(4, 5)).toBe(1);
  });
});

describe('trainMlp', () => {
  // a small separable problem: is x₁ + x₂ > 0?
  const rng = new Rng('toy');
  const xs = rand(rng, 2 * 200);
  const ys = Float64Array.from({ length: 200 }, (_, i) => (xs[2 * i] + xs[2 * i + 1] > 0 ? 1 : 0));
  const data = arrayExamples(xs, ys, 2, 1, 'threshold');
  const config: MlpConfig = { ...MLP_DEFAULTS, layers: [2, 4, 4, 1], activation: 'tanh' };
  const train: MlpTrainConfig = {
    ...MLP_TRAIN_DEFAULTS,
    epochs: 3,
    batchSize: 10,
    lr: 0.5,
    lambda: 1,
    gradflowEvery: 5,
    probeSize: 50,
    logEvery: 5,
  };

  it('learns, logs the δ records, and writes a run directory', () => {
    const dir = RunDir.create(join(tmp, 'run'));
    const net = Mlp.random(config, new Rng('t'));
    const before = evaluateMlp(net, data);
    const probe0 = probeDeltaNorms(net, arrayExamples(xs.subarray(0, 100), ys.subarray(0, 50), 2, 1, 'threshold'));
    const r = trainMlp(net, data, train, { validation: data, runDir: dir });
    expect(r.steps).toBe(60);
    expect(r.evals).toHaveLength(3);
    expect(r.evals.at(-1)!.accuracy!).toBeGreaterThan(0.9);
    expect(r.evals.at(-1)!.loss).toBeLessThan(before.loss);
    // Nielsen's measurement at init (on the first 50 examples) and after each epoch
    expect(r.probes.map((p) => p.epoch)).toEqual([0, 1, 2, 3]);
    expect(r.probes[0].deltaNorms).toEqual(probe0);
    expect(r.batchDeltaNorms).toHaveLength(12);
    const log = readFileSync(dir.file('log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const types = log.map((l) => l.type);
    expect(types.filter((t) => t === 'step')).toHaveLength(12);
    expect(types.filter((t) => t === 'eval')).toHaveLength(3);
    expect(log.filter((l) => l.type === 'deltas' && l.kind === 'probe')).toHaveLength(4);
    expect(log.filter((l) => l.type === 'deltas' && l.kind === 'batch')[0].deltaNorms).toHaveLength(2);
    expect(types.at(-1)).toBe('end');
    expect(readdirSync(dir.path).sort()).toEqual(['checkpoint.json', 'log.jsonl']);
    const ck = JSON.parse(readFileSync(dir.file('checkpoint.json'), 'utf8'));
    expect(ck).toMatchObject({ format: 'seqlab-mlp-checkpoint/1', epoch: 3, step: 60 });
    expect(Array.from(Mlp.fromStateDict(config, ck.state_dict).forward(xs.subarray(0, 20), 10))).toEqual(
      Array.from(net.forward(xs.subarray(0, 20), 10)),
    );
  });

  it('is deterministic for a seed, and the seed changes the data order', () => {
    const run = (seed: number) =>
      trainMlp(Mlp.random(config, new Rng('same')), data, { ...train, seed }, { validation: data });
    expect(run(3).evals).toEqual(run(3).evals);
    expect(run(4).evals.at(-1)!.loss).not.toBe(run(3).evals.at(-1)!.loss);
  });

  it('stops early and reports divergence as a SeqlabError', () => {
    const r = trainMlp(
      Mlp.random(config, new Rng('t')),
      data,
      { ...train, epochs: 50, earlyStop: 1, lr: 0 },
      { validation: data },
    );
    expect(r.status).toBe('early-stopped');
    expect(r.epochs).toBe(2);
    const huge = {
      ...MLP_DEFAULTS,
      layers: [2, 4, 1],
      activation: 'tanh',
      output: 'linear',
      cost: 'quadratic',
    } as MlpConfig;
    const targets = Float64Array.from(ys, (y) => y * 1e3);
    let err: unknown;
    try {
      trainMlp(Mlp.random(huge, new Rng('t')), arrayExamples(xs, targets, 2, 1, 'none'), {
        ...train,
        epochs: 20,
        lr: 10,
      }); // |1 − η(1 + Σh²)| > 1: grows ×10³ per step until it overflows
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SeqlabError);
    expect((err as SeqlabError).code).toBe('diverged');
  });
});
