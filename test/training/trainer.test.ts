import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MODEL_DEFAULTS, SequenceModel, type ModelConfig } from '../../src/models/model.js';
import { parseRecurrentWeights } from '../../src/models/statedict.js';
import { ADDING_BASELINE_MSE, ADDING_DEFAULTS, AddingTask, addingBatch } from '../../src/tasks/adding.js';
import { trainRun } from '../../src/commands/train.js';
import { RunDir } from '../../src/runlog/rundir.js';
import type { Batch, SequenceTask } from '../../src/tasks/task.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../../src/training/config.js';
import { evaluate, probeGradientFlow } from '../../src/training/measure.js';
import { type LogRecord, recordProblem } from '../../src/runlog/schema.js';
import { train } from '../../src/training/trainer.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { step64, type Spec64, type State64, type Weights64 } from '../reference/cells64.js';

// Small on purpose: hidden ≤ 8, seqLen ≤ 10, batch ≤ 8, a few steps each.

const root = mkdtempSync(join(tmpdir(), 'seqlab-trainer-test-'));
let dirSerial = 0;
const freshDir = (label: string) => join(root, `${label}-${dirSerial++}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = (over: Partial<TrainConfig>): Readonly<TrainConfig> => ({ ...TRAIN_DEFAULTS, ...over });

function model(
  over: Partial<ModelConfig> & Pick<ModelConfig, 'inputSize' | 'outputSize'>,
  seed = 'model',
): SequenceModel {
  return SequenceModel.random({ ...MODEL_DEFAULTS, hiddenSize: 4, ...over }, new Rng(seed));
}

const readLog = (dir: string) =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

/** AddingTask that counts the training batches it hands out. */
class CountingAdding extends AddingTask {
  batches = 0;
  override trainBatch(rng: Rng, batchSize: number): Batch {
    this.batches++;
    return super.trainBatch(rng, batchSize);
  }
}

/**
 * A readout-"every" task: one input channel x_t ~ U(−1, 1), target y_t = x_{t−1}
 * (0 at t = 0), MSE at every step. Truncated BPTT gives one update per chunk here.
 */
class EchoTask implements SequenceTask {
  readonly name = 'echo';
  readonly inputSize = 1;
  readonly outputSize = 1;
  readonly readout = 'every' as const;
  readonly loss = 'mse' as const;
  batches: Batch[] = [];
  private readonly evalSet: Batch[];
  private readonly probe: Batch;

  constructor(
    readonly seqLen: number,
    readonly stateful = false,
  ) {
    this.evalSet = [echoBatch(new Rng('echo-eval'), 8, seqLen)];
    this.probe = echoBatch(new Rng('echo-probe'), 4, seqLen);
  }

  trainBatch(rng: Rng, batchSize: number): Batch {
    const b = echoBatch(rng, batchSize, this.seqLen);
    this.batches.push(b);
    return b;
  }
  evalBatches(): Batch[] {
    return this.evalSet;
  }
  probeBatch(): Batch {
    return this.probe;
  }
  evaluate(_outputs: Float32Array[], loss: number): Record<string, number | null> {
    return { mse: loss };
  }
  describe(): Record<string, unknown> {
    return { task: this.name, seqLen: this.seqLen };
  }
}

function echoBatch(rng: Rng, B: number, T: number): Batch {
  const inputs = new Float32Array(T * B);
  const targets = new Float32Array(T * B);
  for (let i = 0; i < T * B; i++) inputs[i] = rng.range(-1, 1);
  for (let t = 1; t < T; t++) for (let b = 0; b < B; b++) targets[t * B + b] = inputs[(t - 1) * B + b];
  return { seqLen: T, batchSize: B, inputs, targets };
}

describe('train: no tensor leaks', () => {
  const title = 'numTensors is the same after step 10 and step 100, with gradient-flow probes, eval and checkpoints on';
  it(title, async () => {
    const task = new AddingTask({ seqLen: 8, evalSize: 16, probeSize: 4, seed: 3 });
    const m = model({ cell: 'lstm', numLayers: 2, inputSize: 2, outputSize: 1 });
    const runDir = RunDir.create(freshDir('leak'));
    const before = tf.memory().numTensors;
    const seen = new Map<number, number>();
    const res = await train(
      m,
      task,
      config({ steps: 100, batchSize: 4, evalEvery: 10, gradflowEvery: 5, gradflowAllLayers: true, seed: 3 }),
      {
        runDir,
        onProgress: (p) => {
          // the per-step report (eval reports carry evalLoss)
          if (p.evalLoss === undefined && (p.step === 10 || p.step === 100)) seen.set(p.step, tf.memory().numTensors);
        },
      },
    );
    expect(res.steps).toBe(100);
    expect(seen.get(10)).toBeDefined();
    expect(seen.get(100)).toBe(seen.get(10));
    // probes and evals did run in between
    const log = readLog(runDir.path);
    expect(log.filter((r) => r.type === 'gradflow').length).toBe(2 * 21); // steps 0, 5, …, 100; both layers
    expect(log.filter((r) => r.type === 'eval').length).toBe(10);
    // and train leaves nothing behind
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('truncated BPTT on a stateful task: no growth between step 10 and step 100, nothing left after', async () => {
    const task = new EchoTask(8, true);
    const m = model({ cell: 'gru', inputSize: 1, outputSize: 1 });
    const before = tf.memory().numTensors;
    const seen = new Map<number, number>();
    await train(m, task, config({ steps: 100, batchSize: 4, bptt: 3, evalEvery: 25, gradflowEvery: 10 }), {
      onProgress: (p) => {
        if (p.evalLoss === undefined && (p.step === 10 || p.step === 100)) seen.set(p.step, tf.memory().numTensors);
      },
    });
    expect(seen.get(10)).toBeDefined();
    expect(seen.get(100)).toBe(seen.get(10));
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('early stopping leaves no tensors behind', async () => {
    const task = new AddingTask({ seqLen: 6, evalSize: 16, seed: 2 });
    const m = model({ cell: 'rnn', inputSize: 2, outputSize: 1 });
    const before = tf.memory().numTensors;
    // lr so small the weights cannot move: the second eval is no better than the first
    const res = await train(
      m,
      task,
      config({ optimizer: 'sgd', lr: 1e-30, steps: 50, batchSize: 4, evalEvery: 1, earlyStop: 1, gradflowEvery: 0 }),
    );
    expect(res.status).toBe('early-stopped');
    expect(res.steps).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('trainRun: determinism', () => {
  const run = (seed: number, out: string) =>
    trainRun({
      task: 'adding',
      taskOptions: { seqLen: 6, evalSize: 32 },
      model: { cell: 'gru', hiddenSize: 5 },
      train: { steps: 6, batchSize: 8, evalEvery: 3, gradflowEvery: 2, seed },
      out,
      backend: tf.getBackend(),
    });

  it('the same seed gives byte-identical metrics.json and checkpoint.json; another seed does not', async () => {
    const [a, b, c] = [freshDir('det-a'), freshDir('det-b'), freshDir('det-c')];
    await run(7, a);
    await run(7, b);
    await run(8, c);
    const metrics = (d: string) => readFileSync(join(d, 'metrics.json'), 'utf8');
    expect(metrics(b)).toBe(metrics(a));
    expect(readFileSync(join(b, 'checkpoint.json'), 'utf8')).toBe(readFileSync(join(a, 'checkpoint.json'), 'utf8'));
    const [ma, mc] = [JSON.parse(metrics(a)), JSON.parse(metrics(c))];
    expect(Number.isFinite(ma.eval.loss)).toBe(true);
    expect(mc.eval.loss).not.toBe(ma.eval.loss);
    expect(mc.gradflow.spectralDecayPerStep).not.toBe(ma.gradflow.spectralDecayPerStep);
  });
});

describe('train: divergence', () => {
  const cfgDivergeLate = {
    optimizer: 'sgd' as const,
    lr: 0.01,
    clipNorm: null,
    // updates 1–5 at lr 0.01, from update 6 on at lr 1e30
    schedule: 'step' as const,
    decayEvery: 5,
    decayFactor: 1e32,
    steps: 50,
    batchSize: 4,
    evalEvery: 2,
    gradflowEvery: 0,
  };

  it('throws SeqlabError("diverged") naming the step, logs it, and keeps the last good checkpoint', async () => {
    const out = freshDir('diverge');
    const err = await trainRun({
      task: 'adding',
      taskOptions: { seqLen: 6, evalSize: 16 },
      model: { cell: 'rnn', hiddenSize: 4 },
      train: cfgDivergeLate,
      out,
      backend: tf.getBackend(),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SeqlabError);
    expect((err as SeqlabError).code).toBe('diverged');
    const m = /at step (\d+)/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    const divergedAt = Number(m![1]);
    expect(divergedAt).toBeGreaterThan(5);

    const log = readLog(out);
    const div = log.filter((r) => r.type === 'diverged');
    expect(div).toHaveLength(1);
    expect(div[0].step).toBe(divergedAt);
    // every step before it was finite
    const steps = log.filter((r) => r.type === 'step');
    expect(steps.every((r) => typeof r.loss === 'number' && Number.isFinite(r.loss))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).status).toBe('diverged');

    // checkpoint.json: whole, finite, from before the divergence, loadable, and good
    const ckpt = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8'));
    expect(ckpt.step).toBeLessThan(divergedAt);
    expect(ckpt.step).toBeGreaterThan(0);
    const values = flat(Object.values(ckpt.state_dict));
    expect(values.every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
    const w = parseRecurrentWeights(ckpt, 'checkpoint.json', 'rnn');
    const restored = new SequenceModel(ckpt.model, w.layers, {
      weight: flat(ckpt.state_dict['head.weight']),
      bias: ckpt.state_dict['head.bias'],
    });
    const ev = await evaluate(restored, new AddingTask({ seqLen: 6, evalSize: 16, seed: 1 }));
    restored.dispose();
    expect(Number.isFinite(ev.loss), `eval loss of the kept checkpoint: ${ev.loss}`).toBe(true);
    expect(ev.loss).toBeLessThan(10);
    expect(readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('never writes a checkpoint holding non-finite weights, and does not claim one that is not there', async () => {
    // lr 3e38: one update overflows float32 (Inf weights) while that step's loss is still finite
    for (const evalEvery of [1, 100]) {
      const out = freshDir('overflow');
      const err = await trainRun({
        task: 'adding',
        taskOptions: { seqLen: 6, evalSize: 16 },
        model: { cell: 'rnn', hiddenSize: 4 },
        train: { optimizer: 'sgd', lr: 3e38, clipNorm: null, steps: 20, batchSize: 4, evalEvery, gradflowEvery: 0 },
        out,
        backend: tf.getBackend(),
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as SeqlabError).code).toBe('diverged');
      const ckptPath = join(out, 'checkpoint.json');
      if (existsSync(ckptPath)) {
        const ckpt = JSON.parse(readFileSync(ckptPath, 'utf8'));
        expect(flat(Object.values(ckpt.state_dict)).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(
          true,
        );
      } else {
        expect((err as Error).message).not.toMatch(/checkpoint/);
      }
    }
  });

  it('frees everything it allocated when it throws', async () => {
    const task = new AddingTask({ seqLen: 6, evalSize: 16 });
    const m = model({ cell: 'lstm', inputSize: 2, outputSize: 1 });
    const before = tf.memory().numTensors;
    await expect(train(m, task, config({ ...cfgDivergeLate, evalEvery: 100 }))).rejects.toMatchObject({
      code: 'diverged',
    });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('train: truncated BPTT', () => {
  it('makes one update per chunk that holds targets', async () => {
    // T = 10, bptt 3: chunks [0,3) [3,6) [6,9) [9,10), every one with targets
    const cases: [bptt: number, steps: number, batches: number][] = [
      [3, 8, 2],
      [3, 6, 2], // the second batch stops after 2 of its 4 chunks
      [0, 3, 3],
      [10, 3, 3],
      [4, 6, 2], // 3 chunks per batch
    ];
    for (const [bptt, steps, batches] of cases) {
      const task = new EchoTask(10);
      const m = model({ cell: 'rnn', inputSize: 1, outputSize: 1 });
      const runDir = RunDir.create(freshDir('bptt'));
      const res = await train(m, task, config({ steps, batchSize: 2, bptt, evalEvery: 100, gradflowEvery: 0 }), {
        runDir,
        checkpoint: false,
      });
      m.dispose();
      expect(res.steps).toBe(steps);
      expect(task.batches.length, `bptt ${bptt}, ${steps} steps`).toBe(batches);
      expect(
        readLog(runDir.path)
          .filter((r) => r.type === 'step')
          .map((r) => r.step),
      ).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    }
  });

  it('adding (read out at the last step): one update per batch, however it is chunked', async () => {
    const task = new CountingAdding({ seqLen: 9, evalSize: 8 });
    const m = model({ cell: 'gru', inputSize: 2, outputSize: 1 });
    const res = await train(m, task, config({ steps: 4, batchSize: 4, bptt: 3, evalEvery: 100, gradflowEvery: 0 }));
    m.dispose();
    expect(res.steps).toBe(4);
    expect(task.batches).toBe(4);
  });

  const chunksTitle =
    'carries the state across chunks and cuts the gradient at chunk boundaries (float64 finite differences)';
  it(chunksTitle, async () => {
    // vanilla RNN, H = 3, T = 6, bptt 3: two updates on one batch. sgd with lr 1e-30
    // leaves the float32 weights unchanged, so both chunks see θ0.
    const [H, T, B, L] = [3, 6, 2, 3];
    const task = new EchoTask(T);
    // N(0, 1) weights: h_3 matters to chunk 2, so cutting its gradient shows
    const m = model({ cell: 'rnn', hiddenSize: H, inputSize: 1, outputSize: 1, init: 'normal', initStd: 1 }, 'bptt-fd');
    const sd = await m.stateDict();
    const runDir = RunDir.create(freshDir('bptt-fd'));
    await train(
      m,
      task,
      config({
        optimizer: 'sgd',
        lr: 1e-30,
        clipNorm: null,
        steps: 2,
        batchSize: B,
        bptt: L,
        evalEvery: 100,
        gradflowEvery: 0,
      }),
      { runDir, checkpoint: false },
    );
    const after = await m.stateDict();
    m.dispose();
    // (zero biases move by ~1e-30, nothing else moves at all)
    const before0 = flat(Object.values(sd));
    expect(Math.max(...flat(Object.values(after)).map((v, i) => Math.abs(v - before0[i])))).toBeLessThan(1e-20);
    expect(task.batches).toHaveLength(1);
    const batch = task.batches[0];
    const steps = readLog(runDir.path).filter((r) => r.type === 'step') as unknown as {
      loss: number;
      gradNorm: number;
    }[];

    // θ = [weight_ih (H×1), weight_hh (H×H), bias_ih, bias_hh, head.weight (1×H), head.bias]
    const theta0 = [
      ...flat(sd.weight_ih_l0),
      ...flat(sd.weight_hh_l0),
      ...flat(sd.bias_ih_l0),
      ...flat(sd.bias_hh_l0),
      ...flat(sd['head.weight']),
      ...flat(sd['head.bias']),
    ];
    const spec: Spec64 = { kind: 'rnn', inputSize: 1, hiddenSize: H, nonlinearity: 'tanh' };
    const unpack = (th: number[]) => {
      let i = 0;
      const take = (n: number) => {
        const part = th.slice(i, i + n);
        i += n;
        return part;
      };
      const w: Weights64 = { weight_ih: take(H), weight_hh: take(H * H), bias_ih: take(H), bias_hh: take(H) };
      return { w, headW: take(H), headB: take(1)[0] };
    };
    const x = (t: number, b: number) => [batch.inputs[t * B + b]];
    const y = (t: number, b: number) => batch.targets[t * B + b];
    /** MSE of chunk [t0, t1) from states s0[b]; also the final states. */
    const chunkLoss = (th: number[], t0: number, t1: number, s0: State64[]) => {
      const { w, headW, headB } = unpack(th);
      let sum = 0;
      const final: State64[] = [];
      for (let b = 0; b < B; b++) {
        let s = s0[b];
        for (let t = t0; t < t1; t++) {
          s = step64(spec, w, x(t, b), s);
          const out = headB + s[0].reduce((acc, h, j) => acc + h * headW[j], 0);
          sum += (out - y(t, b)) ** 2;
        }
        final.push(s);
      }
      return { loss: sum / ((t1 - t0) * B), final };
    };
    const zeros: State64[] = Array.from({ length: B }, () => [new Array(H).fill(0)]);
    const gradNormFD = (f: (th: number[]) => number) => {
      const eps = 1e-6;
      let sq = 0;
      for (let i = 0; i < theta0.length; i++) {
        const plus = [...theta0];
        const minus = [...theta0];
        plus[i] += eps;
        minus[i] -= eps;
        sq += ((f(plus) - f(minus)) / (2 * eps)) ** 2;
      }
      return Math.sqrt(sq);
    };

    const first = chunkLoss(theta0, 0, L, zeros);
    const second = chunkLoss(theta0, L, T, first.final);
    // forward: chunk 2 starts from chunk 1's final state, not from zeros
    expect(steps[0].loss).toBeCloseTo(first.loss, 5);
    expect(steps[1].loss).toBeCloseTo(second.loss, 5);
    expect(Math.abs(chunkLoss(theta0, L, T, zeros).loss - second.loss)).toBeGreaterThan(1e-4);
    // backward: chunk 2's gradient treats its initial state as a constant
    const truncated = gradNormFD((th) => chunkLoss(th, L, T, first.final).loss);
    const full = gradNormFD((th) => chunkLoss(th, L, T, chunkLoss(th, 0, L, zeros).final).loss);
    expect(Math.abs(truncated - full) / full).toBeGreaterThan(1e-2); // the two really differ here
    expect(
      Math.abs(steps[0].gradNorm - gradNormFD((th) => chunkLoss(th, 0, L, zeros).loss)) / steps[0].gradNorm,
    ).toBeLessThan(1e-4);
    expect(Math.abs(steps[1].gradNorm - truncated) / truncated).toBeLessThan(1e-4);
  });
});

describe('trainRun: the run directory', () => {
  it('writes config.json (fully resolved), a valid log.jsonl and metrics.json', async () => {
    const out = freshDir('rundir');
    const res = await trainRun({
      task: 'adding',
      taskOptions: { seqLen: 6, evalSize: 16 },
      model: { cell: 'lstm', hiddenSize: 4, numLayers: 2 },
      train: { steps: 4, batchSize: 4, evalEvery: 2, gradflowEvery: 2, lr: 0.01 },
      out,
      backend: tf.getBackend(),
    });
    expect(res.runDir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['checkpoint.json', 'config.json', 'log.jsonl', 'metrics.json']);

    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.backend).toBe(tf.getBackend());
    expect(Object.keys(cfg.train).sort()).toEqual(Object.keys(TRAIN_DEFAULTS).sort());
    expect(cfg.train).toEqual({
      ...TRAIN_DEFAULTS,
      steps: 4,
      batchSize: 4,
      evalEvery: 2,
      gradflowEvery: 2,
      lr: 0.01,
      threads: 1,
    }); // "auto" resolved: a tiny model runs on one thread
    expect(cfg.model).toEqual({
      ...MODEL_DEFAULTS,
      cell: 'lstm',
      hiddenSize: 4,
      numLayers: 2,
      inputSize: 2,
      outputSize: 1,
    });
    expect(cfg.task).toEqual({
      ...ADDING_DEFAULTS,
      task: 'adding',
      seqLen: 6,
      evalSize: 16,
      seed: TRAIN_DEFAULTS.seed,
    });
    // lstm, H 4, I 2, 2 layers, head 4→1: 4·4·(2+4+2) + 4·4·(4+4+2) + 5
    expect(cfg.params).toBe(128 + 160 + 5);

    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n');
    expect(lines.at(-1)).toBe(''); // whole lines only
    const log = lines.slice(0, -1).map((l) => JSON.parse(l));
    const types = new Set(['start', 'step', 'eval', 'gradflow', 'spectrum', 'checkpoint', 'end', 'diverged']);
    for (const r of log) expect(types.has(r.type), JSON.stringify(r)).toBe(true);
    expect(log[0].type).toBe('start');
    expect(log.at(-1).type).toBe('end');
    expect(log.filter((r) => r.type === 'step').map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(log.filter((r) => r.type === 'eval').map((r) => r.step)).toEqual([2, 4]);
    expect(log.filter((r) => r.type === 'checkpoint').map((r) => r.step)).toEqual([2, 4]);
    // probes at 0, 2, 4; the spectra at step 0 only (spectrumEvery 500)
    expect(log.filter((r) => r.type === 'gradflow').map((r) => r.step)).toEqual([0, 2, 4]);
    expect(log.filter((r) => r.type === 'spectrum').map((r) => [r.step, r.layer])).toEqual([[0, 1]]);

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics).toMatchObject({ task: 'adding', cell: 'lstm', status: 'completed', steps: 4, params: cfg.params });
    expect(metrics.eval.step).toBe(4);
    expect(metrics.eval.loss).toBe(log.filter((r) => r.type === 'eval').at(-1).loss);
  });

  it('options passed as undefined keep their defaults', async () => {
    const res = await trainRun({
      task: 'adding',
      taskOptions: { seqLen: 4, evalSize: 8, probeSize: undefined },
      model: { cell: 'lstm', hiddenSize: 3, forgetBias: undefined, init: undefined },
      train: { steps: 2, batchSize: 2, evalEvery: 2, gradflowEvery: 0, lr: undefined, optimizer: undefined },
      backend: tf.getBackend(),
    });
    expect(res.config.train).toMatchObject({ lr: TRAIN_DEFAULTS.lr, optimizer: TRAIN_DEFAULTS.optimizer });
    expect(res.config.model).toMatchObject({ forgetBias: MODEL_DEFAULTS.forgetBias, init: MODEL_DEFAULTS.init });
    expect(res.metrics.status).toBe('completed');
    expect(Number.isFinite(res.result.finalEval.loss)).toBe(true);
  });

  it('checkpoint.json loads back through parseRecurrentWeights with PyTorch names and equals the model', async () => {
    const task = new AddingTask({ seqLen: 5, evalSize: 16 });
    const cfgModel = {
      ...MODEL_DEFAULTS,
      cell: 'gru' as const,
      hiddenSize: 4,
      numLayers: 2,
      inputSize: 2,
      outputSize: 1,
    };
    const m = SequenceModel.random(cfgModel, new Rng('ckpt'));
    const runDir = RunDir.create(freshDir('ckpt'));
    const res = await train(m, task, config({ steps: 3, batchSize: 4, evalEvery: 2, gradflowEvery: 0, lr: 0.05 }), {
      runDir,
    });
    const ckpt = JSON.parse(readFileSync(runDir.file('checkpoint.json'), 'utf8'));
    expect(ckpt.step).toBe(3); // the final evaluation checkpoints too
    expect(ckpt.cell).toBe('gru');
    expect(Object.keys(ckpt.state_dict).sort()).toEqual(
      [
        'bias_hh_l0',
        'bias_hh_l1',
        'bias_ih_l0',
        'bias_ih_l1',
        'head.bias',
        'head.weight',
        'weight_hh_l0',
        'weight_hh_l1',
        'weight_ih_l0',
        'weight_ih_l1',
      ].sort(),
    );
    expect([ckpt.state_dict.weight_ih_l0.length, ckpt.state_dict.weight_ih_l0[0].length]).toEqual([12, 2]);
    expect([ckpt.state_dict.weight_hh_l1.length, ckpt.state_dict.weight_hh_l1[0].length]).toEqual([12, 4]);

    const w = parseRecurrentWeights(ckpt, 'checkpoint.json');
    expect(w).toMatchObject({ cell: 'gru', inputSize: 2, hiddenSize: 4 });
    expect(w.layers).toHaveLength(2);
    for (let l = 0; l < 2; l++) {
      const sd = await m.layers[l].stateDict();
      expect(Array.from(w.layers[l].weight_ih)).toEqual(flat(sd.weight_ih));
      expect(Array.from(w.layers[l].weight_hh)).toEqual(flat(sd.weight_hh));
      expect(Array.from(w.layers[l].bias_ih)).toEqual(flat(sd.bias_ih));
      expect(Array.from(w.layers[l].bias_hh)).toEqual(flat(sd.bias_hh));
    }
    // and a model rebuilt from it evaluates exactly as the trained one did
    const restored = new SequenceModel(ckpt.model, w.layers, {
      weight: flat(ckpt.state_dict['head.weight']),
      bias: ckpt.state_dict['head.bias'],
    });
    expect((await evaluate(restored, task)).loss).toBe(res.finalEval.loss);
    restored.dispose();
    m.dispose();
  });
});

describe('train: the spectra', () => {
  const title = 'a spectrum record with the probes spectrumEvery picks, valid; at step 0 the initial model’s probe';
  it(title, async () => {
    const task = new AddingTask({ ...ADDING_DEFAULTS, seqLen: 8, evalSize: 8, probeSize: 3 });
    const spec = { inputSize: 2, outputSize: 1, cell: 'gru' as const, hiddenSize: 5 };
    const initial = model(spec, 'spectra');
    // the probe of the untrained model, as the trainer will run it at step 0
    const [expected] = await probeGradientFlow(initial, task, task.probeBatch(), 'h', false, false, {});
    initial.dispose();
    const records: LogRecord[] = [];
    const m = model(spec, 'spectra');
    await train(m, task, config({ steps: 7, batchSize: 4, evalEvery: 7, gradflowEvery: 2, spectrumEvery: 4 }), {
      log: { log: (r) => records.push(r) },
    });
    m.dispose();
    const spectra = records.filter((r) => r.type === 'spectrum');
    // probes at 0, 2, 4, 6 and 7 (the end): the spectra at 0 and 4
    expect(spectra.map((r) => r.step)).toEqual([0, 4]);
    for (const r of spectra) {
      expect(recordProblem(JSON.parse(JSON.stringify(r)))).toBeNull();
      const gradflow = records.find((g) => g.type === 'gradflow' && g.step === r.step);
      expect(gradflow?.type === 'gradflow' && gradflow.summary.spectral?.decayPerStep).toBe(r.decayPerStep);
      expect(r.gap).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(r.logSigma.map((row) => row.length)).toEqual(r.gap.map(() => 5));
      expect(r.lyapunov).toHaveLength(5);
    }
    expect(spectra[0]).toEqual({ type: 'spectrum', step: 0, ...expected.spectrum });
  });
});

describe('AddingTask', () => {
  it('targets are the sum of the two marked values; two markers, one in each half', () => {
    for (const T of [2, 7, 10]) {
      const B = 8;
      const batch = addingBatch(new Rng(`adding-${T}`), B, T);
      expect(batch.inputs).toHaveLength(T * B * 2);
      expect(batch.targets).toHaveLength(B);
      const half = Math.floor(T / 2);
      for (let b = 0; b < B; b++) {
        const marked: number[] = [];
        let sum = 0;
        for (let t = 0; t < T; t++) {
          const [v, mark] = [batch.inputs[(t * B + b) * 2], batch.inputs[(t * B + b) * 2 + 1]];
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThan(1);
          expect([0, 1]).toContain(mark);
          if (mark === 1) {
            marked.push(t);
            sum += v;
          }
        }
        expect(marked).toHaveLength(2);
        expect(marked[0]).toBeLessThan(half);
        expect(marked[1]).toBeGreaterThanOrEqual(half);
        expect(batch.targets[b]).toBe(Math.fround(sum));
      }
    }
  });

  it('is deterministic per seed', () => {
    const a = addingBatch(new Rng('s'), 4, 6);
    const b = addingBatch(new Rng('s'), 4, 6);
    const c = addingBatch(new Rng('t'), 4, 6);
    expect(b).toEqual(a);
    expect(c.inputs).not.toEqual(a.inputs);
    const [t1, t2, t3] = [1, 1, 2].map((seed) => new AddingTask({ seqLen: 6, evalSize: 300, seed }));
    expect(t2.evalBatches()).toEqual(t1.evalBatches());
    expect(t2.probeBatch()).toEqual(t1.probeBatch());
    expect(t3.evalBatches()[0].targets).not.toEqual(t1.evalBatches()[0].targets);
    // eval set in batches of ≤ 250 that add up to evalSize
    expect(t1.evalBatches().map((x) => x.batchSize)).toEqual([250, 50]);
    expect(t1.probeBatch().batchSize).toBe(ADDING_DEFAULTS.probeSize);
  });

  it('predicting 1 scores about the documented baseline MSE 1/6', () => {
    const batch = addingBatch(new Rng('baseline'), 4000, 4);
    const mse = Array.from(batch.targets).reduce((acc, y) => acc + (y - 1) ** 2, 0) / batch.targets.length;
    // Var(U1 + U2) = 1/6; standard error of the mean ≈ 0.0024 at n = 4000
    expect(Math.abs(mse - ADDING_BASELINE_MSE)).toBeLessThan(0.01);
  });

  it('rejects a sequence too short for two markers', () => {
    expect(() => new AddingTask({ seqLen: 1 })).toThrow(SeqlabError);
    expect(() => new AddingTask({ seqLen: 0 })).toThrow(/^seqLen must be a positive integer, got 0$/);
  });
});

describe('evaluate', () => {
  it("'mse' equals a float64 recomputation from the outputs and from a float64 forward pass", async () => {
    class Capturing extends AddingTask {
      captured: Float32Array[] = [];
      override evaluate(outputs: Float32Array[], loss: number) {
        this.captured = outputs.map((o) => o.slice());
        return super.evaluate(outputs, loss);
      }
    }
    const [H, T] = [5, 7];
    // 300 = 250 + 50: two eval batches of different size, so the weighting shows
    const task = new Capturing({ seqLen: T, evalSize: 300, seed: 4 });
    const m = model({ cell: 'gru', hiddenSize: H, inputSize: 2, outputSize: 1 }, 'eval');
    const sd = await m.stateDict();
    const { loss, metrics } = await evaluate(m, task);
    m.dispose();

    // from the outputs the task was given
    let sq = 0;
    let n = 0;
    task.evalBatches().forEach((batch, i) => {
      expect(task.captured[i]).toHaveLength(batch.batchSize);
      batch.targets.forEach((y, b) => {
        sq += (task.captured[i][b] - y) ** 2;
        n++;
      });
    });
    expect(n).toBe(300);
    expect(Math.abs((metrics.mse as number) - sq / n) / (sq / n)).toBeLessThan(1e-5);
    expect(metrics.mse).toBe(loss);

    // from an independent float64 forward pass (test/reference/cells64.ts)
    const spec: Spec64 = { kind: 'gru', inputSize: 2, hiddenSize: H };
    const w: Weights64 = {
      weight_ih: flat(sd.weight_ih_l0),
      weight_hh: flat(sd.weight_hh_l0),
      bias_ih: flat(sd.bias_ih_l0),
      bias_hh: flat(sd.bias_hh_l0),
    };
    const [headW, headB] = [flat(sd['head.weight']), flat(sd['head.bias'])[0]];
    let sq64 = 0;
    let worst = 0;
    task.evalBatches().forEach((batch, i) => {
      const B = batch.batchSize;
      for (let b = 0; b < B; b++) {
        let s: State64 = [new Array(H).fill(0)];
        for (let t = 0; t < T; t++)
          s = step64(spec, w, [batch.inputs[(t * B + b) * 2], batch.inputs[(t * B + b) * 2 + 1]], s);
        const out = headB + s[0].reduce((acc, h, j) => acc + h * headW[j], 0);
        worst = Math.max(worst, Math.abs(out - task.captured[i][b]));
        sq64 += (out - batch.targets[b]) ** 2;
      }
    });
    expect(worst).toBeLessThan(1e-5);
    expect(Math.abs((metrics.mse as number) - sq64 / 300) / (sq64 / 300)).toBeLessThan(1e-5);
    expect(metrics.baselineMse).toBe(ADDING_BASELINE_MSE);
  });
});
