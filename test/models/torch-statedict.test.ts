import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensorsFile, type SafeTensor } from '../../src/data/safetensors.js';
import type { Cell, State } from '../../src/models/cell.js';
import { createCell, SequenceModel } from '../../src/models/model.js';
import {
  recurrentFromTensors,
  recurrentTensors,
  rnnTypeOf,
  wordLMFromTensors,
  wordLMModel,
  wordLMTensors,
  type NamedArray,
} from '../../src/models/torch-statedict.js';
import { jacobianNorms, layerInputs } from '../../src/training/gradflow.js';
import { SeqlabError } from '../../src/util/errors.js';
import { relErr } from '../numeric.js';

// seqlab against PyTorch's own numbers: test/fixtures/torch, written by scripts/torch-fixtures.py.

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
const json = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const manifest = json('manifest.json');
const LM_NAMES: string[] = manifest.models;
const CELL_NAMES = ['lstm', 'gru', 'rnn-tanh', 'rnn-relu'];

/** Float32 states from PyTorch and float64 ones: seqlab's float32 matches either to float32 rounding. */
const STATE_TOL = 1e-5;
/** The probe's norms (float32 sweep, float64 norms) against autograd in float64, gap by gap. */
const JACOBIAN_TOL = 1e-5;

const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as SeqlabError).code).toBe('input');
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a SeqlabError');
}

/** Each layer's h_1..h_T ([T, B, H] flat) and final state, from zeros. xs: [T, B, I]. */
async function runLayers(
  cells: Cell[],
  xs: tf.Tensor3D,
): Promise<{ outputs: Float32Array[]; finals: Float32Array[][] }> {
  const outputs: Float32Array[] = [];
  const finals: Float32Array[][] = [];
  let input = tf.clone(xs);
  for (const cell of cells) {
    const seq = tf.tidy(() => {
      let s: State = cell.initState(xs.shape[1]);
      const hs: tf.Tensor2D[] = [];
      for (const x of tf.unstack(input) as tf.Tensor2D[]) {
        s = cell.step(x, s);
        hs.push(s[0]);
      }
      return [tf.stack(hs), ...s];
    });
    input.dispose();
    input = seq[0] as tf.Tensor3D;
    outputs.push((await input.data()) as Float32Array);
    finals.push(await Promise.all(seq.slice(1).map(async (t) => (await t.data()) as Float32Array)));
    tf.dispose(seq.slice(1));
  }
  input.dispose();
  return { outputs, finals };
}

describe('word_language_model RNNModel → SequenceModel', () => {
  for (const name of LM_NAMES) {
    it(`${name}: config from the names and shapes, states and log-probabilities equal PyTorch's`, async () => {
      const ref = json(`lm-${name}.json`);
      const { spec } = ref;
      const { tensors, metadata } = readSafetensorsFile(join(FIXTURES, `lm-${name}.safetensors`));
      const imported = wordLMFromTensors(tensors, metadata, {}, name);
      expect(imported.rnnType).toBe(spec.rnn_type);
      expect(imported.config).toMatchObject({
        inputSize: spec.emb,
        hiddenSize: spec.hidden,
        numLayers: spec.layers,
        vocabSize: spec.vocab,
        outputSize: spec.vocab,
        tieWeights: spec.tie,
      });
      // the tied fixture is written as safetensors' save_model writes it
      expect(imported.tie).toBe(spec.tie ? 'alias' : null);
      expect(imported.nonlinearitySource).toBe({ 'rnn-tanh': 'default', 'rnn-relu': 'metadata' }[name] ?? 'gated');
      const before = tf.memory().numTensors;
      const model = wordLMModel(imported);
      const tokens = tf.tensor2d(flat(manifest.probeTokens), [12, 2], 'int32');
      const xs = model.embed(tokens);
      const { outputs, finals } = await runLayers(model.layers, xs);
      const top = outputs[outputs.length - 1];
      for (const precision of ['float32', 'float64']) {
        const r = ref[precision];
        expect(relErr(top, flat(r.top))).toBeLessThan(STATE_TOL);
        finals.forEach((f, l) => {
          expect(relErr(f[0], flat(r.h_n[l]))).toBeLessThan(STATE_TOL);
          if (r.c_n) expect(relErr(f[1], flat(r.c_n[l]))).toBeLessThan(STATE_TOL);
        });
      }
      const logp = tf.tidy(() => {
        const hT = tf
          .slice(tf.reshape(tf.tensor(top), [12, 2, spec.hidden]), [11, 0, 0], [1, 2, spec.hidden])
          .reshape([2, spec.hidden]);
        return tf.logSoftmax(model.head(hT as tf.Tensor2D));
      });
      expect(relErr(await logp.data(), flat(ref.float64.logprobs_last))).toBeLessThan(STATE_TOL);
      tf.dispose([tokens, xs, logp]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('a plain RNN takes its nonlinearity from an option, then metadata, then tanh; the choice matters', async () => {
    const relu = readSafetensorsFile(join(FIXTURES, 'lm-rnn-relu.safetensors'));
    const tanh = readSafetensorsFile(join(FIXTURES, 'lm-rnn-tanh.safetensors'));
    expect(wordLMFromTensors(relu.tensors, relu.metadata).config.nonlinearity).toBe('relu');
    expect(wordLMFromTensors(relu.tensors, {}).config.nonlinearity).toBe('tanh');
    expect(wordLMFromTensors(relu.tensors, {}, { nonlinearity: 'relu' })).toMatchObject({
      nonlinearitySource: 'option',
      rnnType: 'RNN_RELU',
    });
    expect(wordLMFromTensors(tanh.tensors, {}, { nonlinearity: 'relu' }).rnnType).toBe('RNN_RELU');
    // read as tanh, the ReLU model's states are not PyTorch's: a default is not a free guess
    const wrong = wordLMModel(wordLMFromTensors(relu.tensors, {}));
    const tokens = tf.tensor2d(flat(manifest.probeTokens), [12, 2], 'int32');
    const xs = wrong.embed(tokens);
    const { outputs } = await runLayers(wrong.layers, xs);
    expect(relErr(outputs[1], flat(json('lm-rnn-relu.json').float32.top))).toBeGreaterThan(0.01);
    tf.dispose([tokens, xs]);
    wrong.dispose();
  });

  it('recognises a tie by equal tensors or by an alias in either direction, and a lie about it', () => {
    const { tensors, metadata } = readSafetensorsFile(join(FIXTURES, 'lm-gru-tied.safetensors'));
    const decoder = tensors.get('decoder.weight') as SafeTensor;
    const both = new Map<string, NamedArray>([
      ['encoder.weight', { shape: decoder.shape, data: Float32Array.from(decoder.data) }],
      ...tensors,
    ]);
    expect(wordLMFromTensors(both, {}).tie).toBe('equal');
    const encoderOnly = new Map<string, NamedArray>([...both].filter(([k]) => k !== 'decoder.weight'));
    expect(wordLMFromTensors(encoderOnly, { 'decoder.weight': 'encoder.weight' }).tie).toBe('alias');
    expect(metadata['encoder.weight']).toBe('decoder.weight');
    const differs = new Map(both);
    differs.set('encoder.weight', { shape: decoder.shape, data: Float32Array.from(decoder.data, (v) => v + 1) });
    expect(wordLMFromTensors(differs, {}).tie).toBeNull();
    expect(errorOf(() => wordLMFromTensors(differs, { tie_weights: 'true' }))).toMatch(
      /metadata says tie_weights but encoder\.weight and decoder\.weight differ/,
    );
    expect(errorOf(() => wordLMFromTensors(tensors, {}))).toMatch(
      /has no encoder\.weight: not a word_language_model RNNModel/,
    );
  });

  it('every way an RNNModel state dict can be wrong is one line', () => {
    const { tensors, metadata } = readSafetensorsFile(join(FIXTURES, 'lm-lstm.safetensors'));
    const without = (name: string) => new Map([...tensors].filter(([k]) => k !== name));
    const plus = (name: string, t: NamedArray) => new Map<string, NamedArray>([...tensors, [name, t]]);
    const cases: [() => unknown, RegExp][] = [
      [() => wordLMFromTensors(without('decoder.bias'), metadata, {}, 'w'), /w has no decoder\.bias/],
      [() => wordLMFromTensors(without('decoder.weight'), metadata, {}, 'w'), /w has no decoder\.weight/],
      [() => wordLMFromTensors(without('rnn.weight_ih_l1'), metadata, {}, 'w'), /w has no tensor rnn\.weight_ih_l1/],
      [
        () => wordLMFromTensors(without('rnn.weight_hh_l1'), metadata, {}, 'w'),
        /rnn\.weight_ih_l1 belongs to layer 1, but rnn\.weight_hh_l1 is missing/,
      ],
      [
        () => wordLMFromTensors(without('rnn.bias_hh_l0'), metadata, {}, 'w'),
        /w has rnn\.bias_ih_l0 but not rnn\.bias_hh_l0/,
      ],
      [
        () => wordLMFromTensors(plus('pos_encoder.pe', { shape: [1], data: [0] }), metadata, {}, 'w'),
        /tensors an RNNModel does not have \(pos_encoder\.pe\); word_language_model's Transformer/,
      ],
      [
        () => wordLMFromTensors(plus('decoder.bias', { shape: [3], data: [0, 0, 0] }), metadata, {}, 'w'),
        /decoder\.bias has shape \[3\]; expected \[38\]/,
      ],
      [
        () =>
          wordLMFromTensors(plus('encoder.weight', { shape: [38, 5], data: new Float32Array(190) }), metadata, {}, 'w'),
        /encoder\.weight has 5 columns but rnn\.weight_ih_l0 expects inputs of size 6/,
      ],
      [
        () =>
          wordLMFromTensors(plus('decoder.weight', { shape: [37, 8], data: new Float32Array(296) }), metadata, {}, 'w'),
        /decoder\.weight has shape \[37, 8\]; expected \[38, 8\]/,
      ],
      [
        () => wordLMFromTensors(tensors, metadata, { cell: 'gru' }, 'w'),
        /the weights are a lstm cell's \(rnn\.weight_hh_l0 is \[32, 8\]\), not a gru cell's/,
      ],
      [
        () => wordLMFromTensors(tensors, { rnn_type: 'GRU' }, {}, 'w'),
        /metadata rnn_type says GRU but the shapes are a lstm cell's/,
      ],
      [
        () => wordLMFromTensors(tensors, { rnn_type: 'QRNN' }, {}, 'w'),
        /metadata rnn_type is "QRNN"; expected one of LSTM, GRU, RNN_TANH, RNN_RELU/,
      ],
    ];
    for (const [fn, re] of cases) expect(errorOf(fn)).toMatch(re);
  });
});

describe('bare nn.LSTM / nn.GRU / nn.RNN weights (the probe)', () => {
  for (const name of CELL_NAMES) {
    it(`${name}: cell and sizes from the shapes; outputs, final states and ‖∂h_T/∂h_k‖ equal PyTorch's`, async () => {
      const ref = json(`cell-${name}.json`);
      const { tensors } = readSafetensorsFile(join(FIXTURES, `cell-${name}.safetensors`));
      const nonlinearity = name === 'rnn-relu' ? 'relu' : null;
      const w = recurrentFromTensors(tensors, { nonlinearity });
      expect(rnnTypeOf(w.cell, w.nonlinearity)).toBe(ref.rnn_type);
      expect(w).toMatchObject({ prefix: '', inputSize: ref.inputSize, hiddenSize: ref.hiddenSize, hasBias: true });
      expect(w.layers.length).toBe(ref.layers);
      const before = tf.memory().numTensors;
      const H = w.hiddenSize;
      const cells = w.layers.map((lw, l) =>
        createCell(w.cell, l === 0 ? w.inputSize : H, H, lw, { nonlinearity: w.nonlinearity }),
      );
      const [B, T, I] = [ref.inputs.length, ref.inputs[0].length, ref.inputSize];
      const xs = tf.tidy(() => tf.transpose(tf.tensor3d(flat(ref.inputs), [B, T, I]), [1, 0, 2]) as tf.Tensor3D);
      const { outputs, finals } = await runLayers(cells, xs);
      expect(relErr(outputs[1], flat(ref.output))).toBeLessThan(STATE_TOL);
      finals.forEach((f, l) => {
        expect(relErr(f[0], flat(ref.h_n[l]))).toBeLessThan(STATE_TOL);
        if (ref.c_n) expect(relErr(f[1], flat(ref.c_n[l]))).toBeLessThan(STATE_TOL);
      });
      for (const layer of [0, 1]) {
        const inputs = layerInputs(cells, xs, layer);
        for (const [mode, perSeq] of Object.entries(ref.jacobians[layer]) as [
          string,
          { gap: number; spectral: number; frobenius: number }[][],
        ][]) {
          const res = await jacobianNorms(cells[layer], inputs, undefined, { mode: mode as 'h' | 'state' });
          expect(res.rows.map((r) => r.gap)).toEqual(perSeq[0].map((r) => r.gap));
          for (let b = 0; b < B; b++) {
            const spectral = res.rows.map((r) => (r.spectralPerSeq as number[])[b]);
            const frobenius = res.rows.map((r) => r.frobeniusPerSeq[b]);
            // each gap on its own: the norms span orders of magnitude over the gaps
            perSeq[b].forEach((r, i) => {
              expect(Math.abs(spectral[i] - r.spectral) / r.spectral).toBeLessThan(JACOBIAN_TOL);
              expect(Math.abs(frobenius[i] - r.frobenius) / r.frobenius).toBeLessThan(JACOBIAN_TOL);
            });
          }
        }
        inputs.dispose();
      }
      xs.dispose();
      for (const c of cells) c.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('finds the module under any prefix (rnn. in a whole RNNModel) and lets the caller choose among several', () => {
    const lm = readSafetensorsFile(join(FIXTURES, 'lm-lstm.safetensors'));
    const w = recurrentFromTensors(lm.tensors);
    expect(w).toMatchObject({ prefix: 'rnn.', cell: 'lstm', inputSize: 6, hiddenSize: 8 });
    const cell = readSafetensorsFile(join(FIXTURES, 'cell-gru.safetensors')).tensors;
    const mixed = new Map<string, NamedArray>([...lm.tensors, ...cell]);
    expect(errorOf(() => recurrentFromTensors(mixed, {}, 'm'))).toMatch(
      /m holds 2 recurrent modules \("rnn\.", ""\); choose one: prefix/,
    );
    expect(recurrentFromTensors(mixed, { prefix: '' }).cell).toBe('gru');
    expect(recurrentFromTensors(mixed, { prefix: 'rnn.' }).cell).toBe('lstm');
  });

  it('reads a module without biases (bias=False) as zero biases', () => {
    const { tensors } = readSafetensorsFile(join(FIXTURES, 'cell-gru.safetensors'));
    const noBias = new Map([...tensors].filter(([k]) => !k.startsWith('bias')));
    const w = recurrentFromTensors(noBias);
    expect(w.hasBias).toBe(false);
    expect(Array.from(w.layers[1].bias_hh)).toEqual(new Array(24).fill(0));
  });

  it('every way a bare module can be wrong is one line', () => {
    const { tensors } = readSafetensorsFile(join(FIXTURES, 'cell-lstm.safetensors'));
    const plus = (name: string, t: NamedArray) => new Map<string, NamedArray>([...tensors, [name, t]]);
    const replace = (name: string, t: NamedArray) =>
      new Map<string, NamedArray>([...tensors].map(([k, v]) => [k, k === name ? t : v]));
    const cases: [() => unknown, RegExp][] = [
      [() => recurrentFromTensors(new Map(), {}, 'w'), /w has no recurrent weights \(no tensor named weight_hh_l0/],
      [() => recurrentFromTensors(tensors, { prefix: 'rnn.' }, 'w'), /w has no tensor rnn\.weight_hh_l0/],
      [
        () =>
          recurrentFromTensors(plus('weight_hh_l0_reverse', { shape: [32, 8], data: new Float32Array(256) }), {}, 'w'),
        /weight_hh_l0_reverse belongs to a bidirectional module/,
      ],
      [
        () => recurrentFromTensors(plus('weight_hr_l0', { shape: [4, 8], data: new Float32Array(32) }), {}, 'w'),
        /weight_hr_l0 is an LSTM projection \(proj_size > 0\)/,
      ],
      [
        () => recurrentFromTensors(replace('weight_hh_l0', { shape: [16, 8], data: new Float32Array(128) }), {}, 'w'),
        /weight_hh_l0 has shape \[16, 8\], which is no cell's: rows must be H \(rnn\), 4H \(lstm\) or 3H \(gru\)/,
      ],
      [
        () => recurrentFromTensors(replace('weight_hh_l0', { shape: [256], data: new Float32Array(256) }), {}, 'w'),
        /weight_hh_l0 has shape \[256\]; expected \[gates·H, H\]/,
      ],
      [
        () => recurrentFromTensors(replace('weight_ih_l1', { shape: [32, 5], data: new Float32Array(160) }), {}, 'w'),
        /weight_ih_l1 has shape \[32, 5\]; a lstm layer of hidden size 8 needs \[32, 8\]/,
      ],
      [
        () => recurrentFromTensors(replace('bias_ih_l0', { shape: [8], data: new Float32Array(8) }), {}, 'w'),
        /bias_ih_l0 has shape \[8\]; expected \[32\]/,
      ],
      [
        () => recurrentFromTensors(plus('weight_hh_l3', { shape: [32, 8], data: new Float32Array(256) }), {}, 'w'),
        /weight_hh_l3 belongs to layer 3, but weight_hh_l2 is missing/,
      ],
      [
        () => recurrentFromTensors(tensors, { cell: 'rnn' }, 'w'),
        /the weights are a lstm cell's \(weight_hh_l0 is \[32, 8\]\), not a rnn cell's/,
      ],
    ];
    for (const [fn, re] of cases) expect(errorOf(fn)).toMatch(re);
  });
});

describe('SequenceModel → PyTorch names', () => {
  const writeBackTitle =
    "writes back an imported RNNModel's tensors bit for bit; a tie under both names, or save_model's form";
  it(writeBackTitle, async () => {
    for (const name of LM_NAMES) {
      const { tensors, metadata } = readSafetensorsFile(join(FIXTURES, `lm-${name}.safetensors`));
      const model = wordLMModel(wordLMFromTensors(tensors, metadata));
      const out = await wordLMTensors(model);
      const tied = name === 'gru-tied';
      const expected = [
        'encoder.weight',
        ...[...tensors.keys()].filter((k) => k.startsWith('rnn.')),
        'decoder.weight',
        'decoder.bias',
      ];
      expect([...out.tensors.keys()]).toEqual(expected);
      for (const [k, t] of out.tensors) {
        // the tied file names decoder.weight only
        const src = tensors.get(k) ?? (tensors.get('decoder.weight') as SafeTensor);
        expect(t.shape).toEqual(src.shape);
        expect(Array.from(t.data).every((v, i) => Object.is(v, src.data[i]))).toBe(true);
      }
      expect(out.metadata).toMatchObject({
        rnn_type: json(`lm-${name}.json`).spec.rnn_type,
        tie_weights: String(tied),
      });
      const dedupe = await wordLMTensors(model, { dedupeTied: true });
      if (tied) {
        expect(dedupe.tensors.has('encoder.weight')).toBe(false);
        expect(dedupe.metadata['encoder.weight']).toBe('decoder.weight');
        expect([...dedupe.tensors.keys()]).toEqual([...tensors.keys()]);
      } else {
        expect([...dedupe.tensors.keys()]).toEqual(expected);
      }
      model.dispose();
    }
  });

  it("writes bare cells under nn.LSTM's names (the file's tensors, bit for bit)", async () => {
    const { tensors } = readSafetensorsFile(join(FIXTURES, 'cell-lstm.safetensors'));
    const w = recurrentFromTensors(tensors);
    const cells = w.layers.map((lw, l) => createCell('lstm', l === 0 ? w.inputSize : 8, 8, lw));
    const out = await recurrentTensors(cells);
    expect([...out.keys()]).toEqual([...tensors.keys()]);
    for (const [k, t] of out) expect(Array.from(t.data)).toEqual(Array.from(tensors.get(k)!.data));
    expect([...(await recurrentTensors(cells, 'rnn.')).keys()][0]).toBe('rnn.weight_ih_l0');
    for (const c of cells) c.dispose();
  });

  it('refuses a model that is not a word LM, and a sigmoid RNN (no nn.RNN counterpart)', async () => {
    const config = {
      ...(await import('../../src/models/model.js')).MODEL_DEFAULTS,
      inputSize: 3,
      outputSize: 2,
      hiddenSize: 4,
    };
    const dense = SequenceModel.random(config, new (await import('../../src/util/rng.js')).Rng(1));
    await expect(wordLMTensors(dense)).rejects.toThrow(/only a word language model/);
    dense.dispose();
    expect(errorOf(() => rnnTypeOf('rnn', 'sigmoid'))).toMatch(/a sigmoid RNN has no PyTorch counterpart/);
  });
});
