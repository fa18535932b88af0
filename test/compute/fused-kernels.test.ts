import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { CELL_KINDS } from '../../src/models/registry.js';
import { SequenceModel } from '../../src/models/model.js';
import { fusedKernels } from '../../src/compute/fused-kernels.js';
import { setKernels } from '../../src/compute/kernel-choice.js';
import { modelLossAndGrads, type ModelGrads } from '../../src/training/bptt.js';
import type { ChunkTensors } from '../../src/training/loss.js';
import { relErr } from '../numeric.js';
import { Rng } from '../../src/util/rng.js';
import { simdKernels } from '../../src/compute/simd/simd.js';
import { randomCell } from '../../src/models/model.js';
import { jacobianNorms, type JacobianMode } from '../../src/training/gradflow.js';

// The fused wasm kernels (the SIMD module src/compute/simd/kernels.wat: one kernel per
// recurrent step forward and backward, one for the softmax cross-entropy, one per step of
// the probes' sweep) against the composite tfjs ops they replace: same loss, gradients,
// final state and ∂L/∂h_k to float32 tolerance. Hidden sizes and class counts of every
// residue mod 4 (rows that end in a partial vector), and class counts below 4.

afterEach(() => setKernels('fused'));

describe.runIf(process.env.SEQLAB_BACKEND === undefined || process.env.SEQLAB_BACKEND === 'wasm')(
  'fused kernels = composite ops',
  () => {
    const cases = [
      ...CELL_KINDS.map((cell) => ({ cell, nonlinearity: 'tanh' as const })),
      { cell: 'rnn' as const, nonlinearity: 'relu' as const },
      { cell: 'rnn' as const, nonlinearity: 'sigmoid' as const },
    ];
    const widths = [
      { H: 5, V: 11 },
      { H: 6, V: 2 },
      { H: 7, V: 5 },
      { H: 8, V: 12 },
    ];
    for (const { cell, nonlinearity } of cases)
      for (const { H, V } of widths) {
        const name = `${cell}${cell === 'rnn' ? ` (${nonlinearity})` : ''}, H ${H}, V ${V}`;
        it(`${name}: 2 layers, token inputs, xent at every step; then dense inputs, xent at the last step`, () => {
          expect(simdKernels(tf.backend()) !== null).toBe(true);
          const tensorsBefore = tf.memory().numTensors;
          const rng = new Rng(`fused-${cell}-${nonlinearity}`);
          const [T, B, E] = [6, 3, 4];
          const lm = SequenceModel.random(
            {
              ...CELL_DEFAULTS,
              cell,
              nonlinearity,
              inputSize: E,
              hiddenSize: H,
              numLayers: 2,
              outputSize: V,
              vocabSize: V,
              dropout: 0,
              tieWeights: false,
            },
            rng,
          );
          const dense = SequenceModel.random(
            {
              ...CELL_DEFAULTS,
              cell,
              nonlinearity,
              inputSize: 3,
              hiddenSize: H,
              numLayers: 1,
              outputSize: 4,
              vocabSize: null,
              dropout: 0,
              tieWeights: false,
            },
            rng,
          );
          const ids = Int32Array.from({ length: T * B }, () => rng.int(V));
          const lastMask = new Float32Array(T * B);
          for (let b = 0; b < B; b++) lastMask[(T - 1 - b) * B + b] = 1;
          const chunks: [SequenceModel, ChunkTensors, 'every' | 'last'][] = [
            [
              lm,
              {
                inputs: null,
                tokens: tf.tensor2d(ids, [T, B], 'int32'),
                tokenIds: ids,
                targets: tf.tensor1d(
                  Int32Array.from({ length: T * B }, () => rng.int(V)),
                  'int32',
                ),
                mask: tf.tensor2d(new Float32Array(T * B).fill(1).fill(0, 0, 2), [T, B]),
                count: T * B - 2,
              },
              'every',
            ],
            [
              dense,
              {
                inputs: tf.tensor3d(
                  Float32Array.from({ length: T * B * 3 }, () => rng.normal()),
                  [T, B, 3],
                ),
                tokens: null,
                tokenIds: null,
                targets: tf.tensor1d([0, 3, 1], 'int32'),
                mask: tf.tensor2d(lastMask, [T, B]),
                count: B,
              },
              'last',
            ],
          ];
          for (const [model, chunk, readout] of chunks) {
            const state0 = model.layers.map((c) =>
              Array.from({ length: c.numStates }, () =>
                tf.tensor2d(
                  Float32Array.from({ length: B * H }, () => rng.normal() * 0.5),
                  [B, H],
                ),
              ),
            );
            const run = (on: boolean): ModelGrads => {
              setKernels(on ? 'fused' : 'composite');
              expect(fusedKernels(H)).toBe(on);
              return modelLossAndGrads(model, chunk, state0, readout, 'xent', true);
            };
            const fused = run(true);
            const plain = run(false);
            expect(fused.loss.dataSync()[0]).toBeCloseTo(plain.loss.dataSync()[0], 5);
            for (const name of Object.keys(plain.grads))
              expect(relErr(fused.grads[name].dataSync(), plain.grads[name].dataSync()), name).toBeLessThan(2e-6);
            for (const [l, layer] of plain.final.entries())
              for (const [j, s] of layer.entries())
                expect(relErr(fused.final[l][j].dataSync(), s.dataSync())).toBeLessThan(2e-6);
            expect(
              relErr((fused.dHNorms as tf.Tensor1D).dataSync(), (plain.dHNorms as tf.Tensor1D).dataSync()),
            ).toBeLessThan(2e-6);
            for (const g of [fused, plain])
              tf.dispose([g.loss, ...Object.values(g.grads), ...g.final.flat(), g.dHNorms as tf.Tensor1D]);
            tf.dispose([
              ...state0.flat(),
              chunk.targets,
              chunk.mask,
              ...(chunk.inputs ? [chunk.inputs] : []),
              ...(chunk.tokens ? [chunk.tokens] : []),
            ]);
          }
          lm.dispose();
          dense.dispose();
          expect(tf.memory().numTensors).toBe(tensorsBefore);
        });
      }
    it('cells narrower than one SIMD vector (H < 4) take the composite ops', () => {
      expect([1, 2, 3, 4].map((H) => fusedKernels(H))).toEqual([false, false, false, true]);
      const rng = new Rng('narrow');
      const model = SequenceModel.random(
        {
          ...CELL_DEFAULTS,
          cell: 'lstm',
          inputSize: 2,
          hiddenSize: 3,
          numLayers: 1,
          outputSize: 3,
          vocabSize: null,
          dropout: 0,
          tieWeights: false,
        },
        rng,
      );
      const [T, B] = [4, 2];
      const chunk: ChunkTensors = {
        inputs: tf.tensor3d(
          Float32Array.from({ length: T * B * 2 }, () => rng.normal()),
          [T, B, 2],
        ),
        tokens: null,
        tokenIds: null,
        targets: tf.tensor1d([0, 2, 1, 1, 0, 2, 2, 1], 'int32'),
        mask: tf.ones([T, B]) as tf.Tensor2D,
        count: T * B,
      };
      const state = model.initState(B);
      const run = (kernels: 'fused' | 'composite') => {
        setKernels(kernels);
        const r = modelLossAndGrads(model, chunk, state, 'every', 'xent');
        const out = { loss: r.loss.dataSync()[0], grads: Object.values(r.grads).map((g) => g.dataSync()) };
        tf.dispose([r.loss, ...Object.values(r.grads), ...r.final.flat()]);
        return out;
      };
      const fused = run('fused'); // the fused softmax, the composite cell
      const composite = run('composite');
      expect(fused.loss).toBeCloseTo(composite.loss, 5);
      for (const [i, g] of fused.grads.entries()) expect(relErr(g, composite.grads[i])).toBeLessThan(2e-6);
      tf.dispose([chunk.inputs as tf.Tensor, chunk.targets, chunk.mask, ...state.flat()]);
      model.dispose();
    });
    // the probes' sweep (SeqlabCellPullback): fused against the composite pullback
    const probeCases: [(typeof CELL_KINDS)[number], JacobianMode][] = [
      ['rnn', 'h'],
      ['lstm', 'h'],
      ['lstm', 'state'],
      ['gru', 'h'],
    ];
    for (const [cell, mode] of probeCases)
      for (const H of [5, 6, 7, 8])
        it(`probe sweep, ${cell} (${mode} mode), H ${H}: fused = composite`, async () => {
          const rng = new Rng(`pullback-${cell}-${mode}-${H}`);
          const c = randomCell(cell, 3, H, CELL_DEFAULTS, rng);
          const [T, B] = [12, 2];
          const xs = tf.tensor3d(
            Float32Array.from({ length: T * B * 3 }, () => rng.normal()),
            [T, B, 3],
          );
          const run = async (kernels: 'fused' | 'composite') => {
            setKernels(kernels);
            return (await jacobianNorms(c, xs, undefined, { mode, keepMatrices: true, normThread: false }))
              .matrices as Float64Array[];
          };
          const composite = await run('composite');
          const fused = await run('fused');
          for (const [gap, m] of composite.entries())
            expect(relErr(fused[gap], m), `gap ${gap + 1}`).toBeLessThan(2e-6);
          xs.dispose();
          c.dispose();
        });
    for (const outputSize of [3, 4])
      it(`rejects a target outside the classes (${outputSize} classes)`, () => {
        const model = SequenceModel.random(
          {
            ...CELL_DEFAULTS,
            cell: 'rnn',
            inputSize: 2,
            hiddenSize: 3,
            numLayers: 1,
            outputSize,
            vocabSize: null,
            dropout: 0,
            tieWeights: false,
          },
          new Rng(1),
        );
        const chunk: ChunkTensors = {
          inputs: tf.ones([2, 1, 2]) as tf.Tensor3D,
          tokens: null,
          tokenIds: null,
          targets: tf.tensor1d([7], 'int32'),
          mask: tf.tensor2d([0, 1], [2, 1]),
          count: 1,
        };
        const state = model.initState(1);
        const before = tf.memory().numTensors;
        expect(() => modelLossAndGrads(model, chunk, state, 'last', 'xent')).toThrow(/target 7/);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([chunk.inputs as tf.Tensor, chunk.targets, chunk.mask, ...state.flat()]);
        model.dispose();
      });
  },
);
