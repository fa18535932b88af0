import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { CELL_KINDS } from '../../src/models/registry.js';
import { MODEL_DEFAULTS, SequenceModel, randomCell } from '../../src/models/model.js';
import { chunkLossFast, modelLossAndGrads, runsFused } from '../../src/training/bptt.js';
import { fusedKernels } from '../../src/compute/fused-kernels.js';
import { chunkLoss, lossFromStates, type ChunkTensors } from '../../src/training/loss.js';
import { relErr } from '../numeric.js';
import { runPerturbed } from '../models/helpers.js';
import { Rng } from '../../src/util/rng.js';

// The hand-written BPTT (the trainer's fast path) against tfjs autodiff through the
// plain per-step forward (the straightforward path): same loss, same gradients.

function makeChunk(
  rng: Rng,
  T: number,
  B: number,
  I: number,
  readout: 'last' | 'every',
  O: number,
  xent: boolean,
): ChunkTensors {
  const inputs = tf.tensor3d(
    Float32Array.from({ length: T * B * I }, () => rng.normal()),
    [T, B, I],
  );
  const mask = new Float32Array(T * B);
  if (readout === 'last')
    for (let b = 0; b < B; b++) mask[(T - 1 - (b % 2)) * B + b] = 1; // varied readout steps
  else mask.fill(1).fill(0, 0, B); // first step not counted
  const n = readout === 'last' ? B : T * B;
  const targets = xent
    ? tf.tensor1d(
        Int32Array.from({ length: n }, () => rng.int(O)),
        'int32',
      )
    : tf.tensor2d(
        Float32Array.from({ length: n * O }, () => rng.normal()),
        [n, O],
      );
  let count = 0;
  for (const m of mask) count += m;
  return { inputs, tokens: null, tokenIds: null, targets, mask: tf.tensor2d(mask, [T, B]), count };
}

describe('modelLossAndGrads (hand-written BPTT) = autodiff', () => {
  for (const cell of CELL_KINDS) {
    for (const [layers, readout, xent] of [
      [1, 'last', false],
      [2, 'every', true],
    ] as const) {
      it(`${cell}, ${layers} layer(s), readout ${readout}, ${xent ? 'xent' : 'mse'}`, async () => {
        const rng = new Rng(`bptt-${cell}-${layers}`);
        const [T, B, I, H, O] = [6, 3, 4, 5, 3];
        const model = SequenceModel.random(
          { ...MODEL_DEFAULTS, cell, inputSize: I, hiddenSize: H, numLayers: layers, outputSize: O },
          rng,
        );
        const chunk = makeChunk(rng, T, B, I, readout, O, xent);
        const loss = xent ? 'xent' : 'mse';
        // a non-zero initial state exercises ∂L/∂s_0 paths too
        const state0 = model.layers.map((c) =>
          Array.from({ length: c.numStates }, () => tf.randomNormal([B, H], 0, 0.5, 'float32', 7) as tf.Tensor2D),
        );
        const before = tf.memory().numTensors;
        const fast = modelLossAndGrads(model, chunk, state0, readout, loss, true);
        const vars = model.variables();
        const auto = tf.variableGrads(() => chunkLoss(model, chunk, state0, readout, loss).loss, Object.values(vars));
        expect(fast.loss.dataSync()[0]).toBeCloseTo(auto.value.dataSync()[0], 5);
        for (const [name, v] of Object.entries(vars)) {
          const e = relErr(fast.grads[name].dataSync() as Float32Array, auto.grads[v.name].dataSync() as Float32Array);
          expect(e, name).toBeLessThan(1e-4);
        }
        // ∂L/∂h_k from the fast path = autodiff through zero perturbations of h_k
        const eps = Array.from({ length: T + 1 }, () => tf.zeros([B, H]) as tf.Tensor2D);
        const perturbed = tf.valueAndGrads((...p: tf.Tensor[]) => {
          const { tops } = runPerturbed(model, chunk.inputs as tf.Tensor3D, state0, p as tf.Tensor2D[]);
          const hs = tf.stack(tops) as tf.Tensor3D;
          return lossFromStates(hs, model.headWeight(), model.headB, chunk, readout, loss).loss;
        })(eps);
        const g = perturbed.grads;
        // zero perturbations leave the loss as it was
        expect(perturbed.value.dataSync()[0]).toBeCloseTo(fast.loss.dataSync()[0], 5);
        const norms = (fast.dHNorms as tf.Tensor1D).dataSync();
        for (const [k, gk] of g.entries())
          expect(norms[k]).toBeCloseTo(
            tf.tidy(() => tf.norm(gk).dataSync()[0]),
            5,
          );
        tf.dispose([
          fast.loss,
          ...Object.values(fast.grads),
          ...fast.final.flat(),
          fast.dHNorms as tf.Tensor,
          auto.value,
          ...Object.values(auto.grads),
          perturbed.value,
          ...eps,
          ...g,
        ]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([chunk.inputs as tf.Tensor, chunk.targets, chunk.mask, ...state0.flat()]);
        model.dispose();
      });
    }
  }
});

describe('token inputs: the embedding gradient', () => {
  it('equals ∂L/∂x (autodiff through the embedded inputs) summed per token id', () => {
    const rng = new Rng('bptt-embedding');
    const [T, B, V, E, H] = [5, 3, 7, 4, 6];
    const model = SequenceModel.random(
      { ...MODEL_DEFAULTS, cell: 'lstm', inputSize: E, hiddenSize: H, numLayers: 2, outputSize: V, vocabSize: V },
      rng,
    );
    const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
    ids[0] = ids[4] = ids[9] = 2; // a repeated token must accumulate
    const targets = tf.tensor1d(
      Int32Array.from({ length: T * B }, () => rng.int(V)),
      'int32',
    );
    const mask = tf.ones([T, B]) as tf.Tensor2D;
    const tokens = tf.tensor2d(ids, [T, B], 'int32');
    const chunk: ChunkTensors = { inputs: null, tokens, tokenIds: ids, targets, mask, count: T * B };
    const state0 = model.initState(B);
    const fast = modelLossAndGrads(model, chunk, state0, 'every', 'xent');
    // reference: embed outside autodiff, differentiate w.r.t. the embedded inputs, scatter-add by hand
    const xs = model.embed(tokens);
    const dense: ChunkTensors = { ...chunk, inputs: xs, tokens: null, tokenIds: null };
    const [dXs] = tf.grads(
      (x: tf.Tensor) => chunkLoss(model, { ...dense, inputs: x as tf.Tensor3D }, state0, 'every', 'xent').loss,
    )([xs]);
    const dx = dXs.dataSync();
    const expected = new Float32Array(V * E);
    ids.forEach((v, n) => {
      for (let e = 0; e < E; e++) expected[v * E + e] += dx[n * E + e];
    });
    expect(relErr(fast.grads['embedding.weight'].dataSync() as Float32Array, expected)).toBeLessThan(1e-4);
    // and the recurrent weights agree with autodiff through the dense path
    const vars = model.variables();
    const auto = tf.variableGrads(
      () => chunkLoss(model, dense, state0, 'every', 'xent').loss,
      Object.values(vars).filter((v) => v !== model.embedding),
    );
    for (const [name, v] of Object.entries(vars)) {
      if (v === model.embedding) continue;
      expect(
        relErr(fast.grads[name].dataSync() as Float32Array, auto.grads[v.name].dataSync() as Float32Array),
        name,
      ).toBeLessThan(1e-4);
    }
    tf.dispose([
      fast.loss,
      ...Object.values(fast.grads),
      ...fast.final.flat(),
      xs,
      dXs,
      auto.value,
      ...Object.values(auto.grads),
      tokens,
      targets,
      mask,
      ...state0.flat(),
    ]);
    model.dispose();
  });
});

describe('dropout masks on the non-recurrent connections', () => {
  it('hand-written gradients = autodiff through the same masked forward pass', () => {
    const rng = new Rng('bptt-dropout');
    const [T, B, I, H, O] = [5, 3, 4, 6, 3];
    const model = SequenceModel.random(
      { ...MODEL_DEFAULTS, cell: 'gru', inputSize: I, hiddenSize: H, numLayers: 2, outputSize: O },
      rng,
    );
    const chunk = makeChunk(rng, T, B, I, 'every', O, true);
    const mask = (D: number) =>
      tf.tensor3d(
        Float32Array.from({ length: T * B * D }, () => (rng.uniform() < 0.3 ? 0 : 1 / 0.7)),
        [T, B, D],
      );
    const masks = [mask(I), mask(H), mask(H)];
    const state0 = model.initState(B);
    const fast = modelLossAndGrads(model, chunk, state0, 'every', 'xent', false, masks);
    const masked = () => {
      let input = tf.mul(chunk.inputs as tf.Tensor3D, masks[0]) as tf.Tensor3D;
      model.layers.forEach((cell, l) => {
        let s = state0[l];
        const hs: tf.Tensor2D[] = [];
        for (const x of tf.unstack(input) as tf.Tensor2D[]) {
          s = cell.step(x, s);
          hs.push(s[0]);
        }
        input = tf.mul(tf.stack(hs), masks[l + 1]) as tf.Tensor3D;
      });
      return lossFromStates(input, model.headWeight(), model.headB, chunk, 'every', 'xent').loss;
    };
    const vars = model.variables();
    const auto = tf.variableGrads(masked, Object.values(vars));
    expect(fast.loss.dataSync()[0]).toBeCloseTo(auto.value.dataSync()[0], 5);
    for (const [name, v] of Object.entries(vars)) {
      expect(
        relErr(fast.grads[name].dataSync() as Float32Array, auto.grads[v.name].dataSync() as Float32Array),
        name,
      ).toBeLessThan(1e-4);
    }
    tf.dispose([
      fast.loss,
      ...Object.values(fast.grads),
      ...fast.final.flat(),
      auto.value,
      ...Object.values(auto.grads),
      ...masks,
      chunk.inputs as tf.Tensor,
      chunk.targets,
      chunk.mask,
      ...state0.flat(),
    ]);
    model.dispose();
  });
});

describe('tied embedding and read-out', () => {
  it('∂L/∂E = scatter-add of ∂L/∂x + (∂L/∂W_out)ᵀ, each by autodiff', () => {
    const rng = new Rng('bptt-tied');
    const [T, B, V, H] = [4, 3, 7, 5];
    const model = SequenceModel.random(
      {
        ...CELL_DEFAULTS,
        cell: 'lstm',
        inputSize: H,
        hiddenSize: H,
        numLayers: 1,
        outputSize: V,
        vocabSize: V,
        dropout: 0,
        tieWeights: true,
      },
      rng,
    );
    expect(Object.keys(model.variables())).not.toContain('head.weight_T');
    const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
    const tokens = tf.tensor2d(ids, [T, B], 'int32');
    const targets = tf.tensor1d(
      Int32Array.from({ length: T * B }, () => rng.int(V)),
      'int32',
    );
    const mask = tf.ones([T, B]) as tf.Tensor2D;
    const chunk: ChunkTensors = { inputs: null, tokens, tokenIds: ids, targets, mask, count: T * B };
    const state0 = model.initState(B);
    const fast = modelLossAndGrads(model, chunk, state0, 'every', 'xent');
    const xs = model.embed(tokens);
    const wOut = model.headWeight();
    const [dXs, dW] = tf.grads((x: tf.Tensor, w: tf.Tensor) => {
      const { tops } = model.run(x as tf.Tensor3D, state0);
      return lossFromStates(tf.stack(tops) as tf.Tensor3D, w, model.headB, chunk, 'every', 'xent').loss;
    })([xs, wOut]);
    const dx = dXs.dataSync();
    const dw = dW.dataSync(); // [H, V]
    const expected = new Float32Array(V * H);
    ids.forEach((v, n) => {
      for (let e = 0; e < H; e++) expected[v * H + e] += dx[n * H + e];
    });
    for (let v = 0; v < V; v++) for (let e = 0; e < H; e++) expected[v * H + e] += dw[e * V + v];
    expect(relErr(fast.grads['embedding.weight'].dataSync() as Float32Array, expected)).toBeLessThan(1e-4);
    tf.dispose([
      fast.loss,
      ...Object.values(fast.grads),
      ...fast.final.flat(),
      xs,
      wOut,
      dXs,
      dW,
      tokens,
      targets,
      mask,
      ...state0.flat(),
    ]);
    model.dispose();
  });
});

describe('chunkLossFast (evaluation through the trainer forward path) = chunkLoss', () => {
  for (const [cell, readout, loss] of [
    ['lstm', 'every', 'xent'],
    ['gru', 'last', 'mse'],
    ['rnn', 'every', 'xent'],
  ] as const) {
    it(`${cell}, readout ${readout}, ${loss}`, () => {
      const rng = new Rng(`fast-eval-${cell}`);
      const [T, B, I, H, O] = [5, 3, 4, 6, 7];
      const model = SequenceModel.random(
        { ...MODEL_DEFAULTS, cell, inputSize: I, hiddenSize: H, numLayers: 2, outputSize: O },
        rng,
      );
      const chunk = makeChunk(rng, T, B, I, readout, O, loss === 'xent');
      const state0 = model.initState(B);
      const before = tf.memory().numTensors;
      const fast = tf.tidy(() => chunkLossFast(model, chunk, state0, readout, loss));
      const plain = tf.tidy(() => {
        const r = chunkLoss(model, chunk, state0, readout, loss);
        return { loss: r.loss, final: r.final };
      });
      expect(fast.loss.dataSync()[0]).toBeCloseTo(plain.loss.dataSync()[0], 5);
      for (const [l, layer] of plain.final.entries())
        for (const [j, s] of layer.entries())
          expect(relErr(fast.final[l][j].dataSync(), s.dataSync())).toBeLessThan(1e-5);
      tf.dispose([fast.loss, plain.loss, ...fast.final.flat(), ...plain.final.flat()]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...state0.flat(), chunk.inputs as tf.Tensor, chunk.targets, chunk.mask]);
      model.dispose();
    });
  }
});

describe('runsFused', () => {
  it.runIf(process.env.SEQLAB_BACKEND === undefined || process.env.SEQLAB_BACKEND === 'wasm')(
    'wasm: every fused kind and φ runs fused but the linear RNN (identity: the composite ops)',
    () => {
      expect(fusedKernels()).toBe(true);
      const rng = new Rng('runs-fused');
      const cases = [
        ...CELL_KINDS.map((kind) => ({ kind, nonlinearity: CELL_DEFAULTS.nonlinearity, fused: true })),
        { kind: 'rnn' as const, nonlinearity: 'relu' as const, fused: true },
        { kind: 'rnn' as const, nonlinearity: 'sigmoid' as const, fused: true },
        { kind: 'rnn' as const, nonlinearity: 'identity' as const, fused: false },
      ];
      for (const { kind, nonlinearity, fused } of cases) {
        const cell = randomCell(kind, 3, 4, { ...CELL_DEFAULTS, nonlinearity }, rng);
        expect(runsFused(cell), `${kind} ${nonlinearity}`).toBe(fused);
        cell.dispose();
      }
    },
  );
});
