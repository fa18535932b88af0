import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { MODEL_DEFAULTS, SequenceModel } from '../../src/models/model.js';
import { modelLossAndGrads, type ModelGrads } from '../../src/training/bptt.js';
import type { ChunkTensors } from '../../src/training/loss.js';
import { GradWorkers, macsPerToken, resolveThreads, workerPath } from '../../src/training/parallel.js';
import { relErr } from '../numeric.js';
import { Rng } from '../../src/util/rng.js';

// Two threads, each on part of the batch, must give the loss and gradients of one
// pass over the whole batch (float32 summation order aside), and the same final state.

function disposeGrads(g: ModelGrads): void {
  tf.dispose([g.loss, ...Object.values(g.grads), ...g.final.flat(), ...(g.dHNorms ? [g.dHNorms] : [])]);
}

function expectSame(one: ModelGrads, two: ModelGrads): void {
  expect(two.loss.dataSync()[0]).toBeCloseTo(one.loss.dataSync()[0], 5);
  for (const name of Object.keys(one.grads)) {
    expect(two.grads[name].shape, name).toEqual(one.grads[name].shape);
    expect(relErr(two.grads[name].dataSync(), one.grads[name].dataSync()), name).toBeLessThan(1e-5);
  }
  for (const [l, layer] of one.final.entries())
    for (const [j, s] of layer.entries()) expect(relErr(two.final[l][j].dataSync(), s.dataSync())).toBeLessThan(1e-6);
  if (one.dHNorms) expect(relErr((two.dHNorms as tf.Tensor1D).dataSync(), one.dHNorms.dataSync())).toBeLessThan(1e-5);
}

describe('GradWorkers: data-parallel gradients on two threads', () => {
  let lm: SequenceModel;
  let dense: SequenceModel;
  let lmWorkers: GradWorkers;
  let denseWorkers: GradWorkers;
  const [V, E, H, T, B] = [17, 6, 5, 7, 5];

  beforeAll(async () => {
    lm = SequenceModel.random(
      {
        ...MODEL_DEFAULTS,
        cell: 'lstm',
        inputSize: E,
        hiddenSize: H,
        numLayers: 2,
        outputSize: V,
        vocabSize: V,
        dropout: 0.3,
      },
      new Rng('par-lm'),
    );
    dense = SequenceModel.random(
      {
        ...MODEL_DEFAULTS,
        ...CELL_DEFAULTS,
        cell: 'gru',
        inputSize: 3,
        hiddenSize: H,
        numLayers: 1,
        outputSize: 2,
        vocabSize: null,
      },
      new Rng('par-dense'),
    );
    [lmWorkers, denseWorkers] = await Promise.all([GradWorkers.create(lm), GradWorkers.create(dense)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([lmWorkers?.dispose(), denseWorkers?.dispose()]);
    lm?.dispose();
    dense?.dispose();
  });

  it('token inputs, read-out at every step, dropout masks, a carried state (odd batch split 3 + 2)', () => {
    const rng = new Rng('par-chunk');
    const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
    const mask = new Float32Array(T * B).fill(1).fill(0, 0, 2); // two positions not counted
    const chunk: ChunkTensors = {
      inputs: null,
      tokens: tf.tensor2d(ids, [T, B], 'int32'),
      tokenIds: ids,
      targets: tf.tensor1d(
        Int32Array.from({ length: T * B }, () => rng.int(V)),
        'int32',
      ),
      mask: tf.tensor2d(mask, [T, B]),
      count: T * B - 2,
    };
    const state0 = lm.layers.map((c) =>
      Array.from({ length: c.numStates }, () =>
        tf.tensor2d(
          Float32Array.from({ length: B * H }, () => rng.normal() * 0.5),
          [B, H],
        ),
      ),
    );
    const masks = [E, H, H].map((D) =>
      tf.tensor3d(
        Float32Array.from({ length: T * B * D }, () => (rng.uniform() < 0.3 ? 0 : 1 / 0.7)),
        [T, B, D],
      ),
    );
    const before = tf.memory().numTensors;
    const one = modelLossAndGrads(lm, chunk, state0, 'every', 'xent', true, masks);
    const two = lmWorkers.lossAndGrads(lm, chunk, state0, 'every', 'xent', true, masks);
    expectSame(one, two);
    disposeGrads(one);
    disposeGrads(two);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([chunk.tokens as tf.Tensor, chunk.targets, chunk.mask, ...state0.flat(), ...masks]);
  });

  it('dense inputs, read-out at the last step, MSE; weights changed between calls reach the worker', () => {
    const rng = new Rng('par-dense-chunk');
    const maskArr = new Float32Array(T * B);
    for (let b = 0; b < B; b++) maskArr[(T - 1 - (b % 3)) * B + b] = 1;
    const chunk: ChunkTensors = {
      inputs: tf.tensor3d(
        Float32Array.from({ length: T * B * 3 }, () => rng.normal()),
        [T, B, 3],
      ),
      tokens: null,
      tokenIds: null,
      targets: tf.tensor2d(
        Float32Array.from({ length: B * 2 }, () => rng.normal()),
        [B, 2],
      ),
      mask: tf.tensor2d(maskArr, [T, B]),
      count: B,
    };
    for (let round = 0; round < 2; round++) {
      const state0 = dense.initState(B);
      const one = modelLossAndGrads(dense, chunk, state0, 'last', 'mse');
      const two = denseWorkers.lossAndGrads(dense, chunk, state0, 'last', 'mse');
      expectSame(one, two);
      disposeGrads(one);
      disposeGrads(two);
      tf.dispose(state0.flat());
      const w = dense.layers[0].variables().weight_hh_T;
      w.assign(tf.tidy(() => tf.mul(w, 1.5)));
    }
    tf.dispose([chunk.inputs as tf.Tensor, chunk.targets, chunk.mask]);
  });
});

describe('resolveThreads', () => {
  const big = { cell: 'lstm' as const, inputSize: 128, hiddenSize: 128, numLayers: 1, outputSize: 1000 };
  const small = { cell: 'lstm' as const, inputSize: 32, hiddenSize: 32, numLayers: 1, outputSize: 2 };
  it('counts multiply-adds per token: Σ gates·H·(I + H) + H·O', () => {
    expect(macsPerToken(big)).toBe(4 * 128 * 256 + 128 * 1000);
    expect(macsPerToken({ ...small, cell: 'rnn', numLayers: 2 })).toBe(32 * 64 * 2 + 32 * 2);
  });
  it('auto: two threads only on wasm, for a model big enough and a batch that splits', () => {
    expect(resolveThreads('auto', small, 32, 'wasm')).toBe(1);
    expect(resolveThreads('auto', big, 1, 'wasm')).toBe(1);
    expect(resolveThreads('auto', big, 20, 'tensorflow')).toBe(1);
    expect(resolveThreads(2, small, 32, 'cpu')).toBe(2);
  });
});

describe('workerPath', () => {
  it('the compiled sibling in dist/, from the sources or from dist', () => {
    expect(workerPath('/p/seqlab/src/training/parallel.ts', 'norm-worker')).toBe(
      '/p/seqlab/dist/src/training/norm-worker.js',
    );
    expect(workerPath('/p/seqlab/dist/src/training/parallel.js', 'grad-worker')).toBe(
      '/p/seqlab/dist/src/training/grad-worker.js',
    );
    expect(workerPath('C:\\seqlab\\src\\training\\parallel.ts', 'norm-worker')).toBe(
      'C:\\seqlab\\dist/src/training/norm-worker.js',
    );
  });

  it('refuses a module that is not parallel.js (a bundle): a worker on it would start the bundle again', () => {
    for (const here of ['/app/bundle.js', '/app/seqlab.mjs', '/p/seqlab/src/other/parallel.ts'])
      expect(() => workerPath(here, 'norm-worker'), here).toThrow(/not seqlab's parallel\.js/);
  });
});
