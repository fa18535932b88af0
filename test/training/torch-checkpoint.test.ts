import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TensorToWrite, readSafetensorsFile, writeSafetensorsFile } from '../../src/data/safetensors.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { readVocabFile, readWordLMCorpus } from '../../src/data/word-lm-corpus.js';
import { type SequenceModel, modelConfigFor } from '../../src/models/model.js';
import {
  exportWordLM,
  loadRecurrentWeights,
  loadWordLM,
  modelFromTorchFile,
  weightsFormat,
} from '../../src/training/torch-checkpoint.js';
import { evaluateWordLM } from '../../src/training/word-lm-eval.js';
import { SeqlabError } from '../../src/util/errors.js';
import { relErr } from '../numeric.js';

// Loading and exporting against PyTorch's own numbers (scripts/torch-fixtures.py).

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
const json = (path: string) => JSON.parse(readFileSync(join(FIXTURES, path), 'utf8'));
const corpus = readWordLMCorpus(join(FIXTURES, 'corpus'));
const EXPORTS = ['lstm-tied', 'gru-tied-once', 'rnn-relu'];
const PPL_TOL = 1e-4;
const STATE_TOL = 1e-5;

const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
const tmp = () => mkdtempSync(join(tmpdir(), 'seqlab-torch-lm-'));

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a SeqlabError');
}

/** The top layer's h per step ([T, B, H] flat) and each layer's final state, on token ids [T, B]. */
async function forward(
  model: SequenceModel,
  tokens: number[][],
): Promise<{ top: Float32Array; final: Float32Array[][] }> {
  const [T, B] = [tokens.length, tokens[0].length];
  const out = tf.tidy(() => {
    const xs = model.embed(tf.tensor2d(flat(tokens), [T, B], 'int32'));
    const { tops, final } = model.run(xs, model.initState(B));
    return [tf.stack(tops), ...final.flat()];
  });
  const top = (await out[0].data()) as Float32Array;
  const per = model.layers[0].numStates;
  const final: Float32Array[][] = [];
  for (let l = 0; l < model.layers.length; l++)
    final.push(
      await Promise.all(out.slice(1 + l * per, 1 + (l + 1) * per).map(async (t) => (await t.data()) as Float32Array)),
    );
  tf.dispose(out);
  return { top, final };
}

describe('word_language_model checkpoints in and out', () => {
  it('loads a checkpoint with its vocabulary (a Dictionary in first-appearance order, no <unk>)', () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-gru-tied.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    expect(lm).toMatchObject({ rnnType: 'GRU', tie: 'alias', hasBias: true });
    expect(lm.vocabulary.tokens).toEqual(readVocabFile(join(FIXTURES, 'vocab.txt')).tokens);
    expect(lm.vocabulary.unkId).toBeNull();
    expect(lm.model.config.tieWeights).toBe(true);
    lm.model.dispose();
  });

  it('refuses a vocabulary of another size, and missing files, with one line', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'short.txt'), 'a\nb\n');
    const weights = join(FIXTURES, 'lm-lstm.safetensors');
    expect(errorOf(() => loadWordLM({ weights, vocab: join(dir, 'short.txt') }))).toMatch(
      /lists 2 words but .*lm-lstm\.safetensors has 38 \(encoder\.weight rows\)/,
    );
    expect(
      errorOf(() => loadWordLM({ weights: join(dir, 'none.safetensors'), vocab: join(dir, 'short.txt') })),
    ).toMatch(/weights file not found/);
    expect(errorOf(() => loadWordLM({ weights, vocab: join(dir, 'none.txt') }))).toMatch(/vocabulary file not found/);
  });

  for (const name of EXPORTS) {
    it(`${name}: seqlab's export loads into PyTorch unchanged and gives seqlab's outputs (round trip)`, async () => {
      const files = {
        weights: join(FIXTURES, 'export', `${name}.safetensors`),
        vocab: join(FIXTURES, 'export', `${name}.vocab.txt`),
      };
      const ref = json(`export/${name}.torch.json`);
      const lm = loadWordLM(files);
      expect(lm.vocabulary.hasReservedIds).toBe(true); // seqlab's own vocabulary: <unk>, <eos> first
      expect(lm.tie).toBe({ 'lstm-tied': 'equal', 'gru-tied-once': 'alias', 'rnn-relu': null }[name]);
      // the same probe tokens (words outside the vocabulary → <unk> on both sides)
      const ids = Array.from(lm.vocabulary.encode(corpus.valid).subarray(0, 24));
      expect(ref.probeTokens).toEqual(Array.from({ length: 12 }, (_, t) => [ids[t], ids[12 + t]]));
      const { top, final } = await forward(lm.model, ref.probeTokens);
      const r = ref.float32;
      expect(relErr(top, flat(r.top))).toBeLessThan(STATE_TOL);
      final.forEach((s: Float32Array[], l: number) => {
        expect(relErr(s[0], flat(r.h_n[l]))).toBeLessThan(STATE_TOL);
        if (r.c_n) expect(relErr(s[1], flat(r.c_n[l]))).toBeLessThan(STATE_TOL);
      });
      for (const split of ['valid', 'test'] as const) {
        const res = await evaluateWordLM(lm.model, lm.vocabulary.encode(corpus[split]));
        expect(Math.abs(res.perplexity - r[split].perplexity) / r[split].perplexity).toBeLessThan(PPL_TOL);
      }
      // what seqlab writes for the loaded model is the committed file, byte for byte
      const dir = tmp();
      const again = { weights: join(dir, 'w.safetensors'), vocab: join(dir, 'vocab.txt') };
      await exportWordLM(lm.model, lm.vocabulary, again, { dedupeTied: lm.tie === 'alias' });
      expect(readFileSync(again.weights)).toEqual(readFileSync(files.weights));
      expect(readFileSync(again.vocab, 'utf8')).toBe(readFileSync(files.vocab, 'utf8'));
      lm.model.dispose();
    });
  }

  it('exports F64 on request, and refuses a vocabulary of another size', async () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    const dir = tmp();
    const files = { weights: join(dir, 'w.safetensors'), vocab: join(dir, 'v.txt') };
    await exportWordLM(lm.model, lm.vocabulary, files, { dtype: 'F64' });
    const back = readSafetensorsFile(files.weights);
    const orig = readSafetensorsFile(join(FIXTURES, 'lm-lstm.safetensors'));
    for (const [k, t] of back.tensors) {
      expect(t.dtype).toBe('F64');
      expect(Array.from(t.data)).toEqual(Array.from(orig.tensors.get(k)!.data));
    }
    const other = loadWordLM({
      weights: join(FIXTURES, 'export', 'rnn-relu.safetensors'),
      vocab: join(FIXTURES, 'export', 'rnn-relu.vocab.txt'),
    });
    const fewer = Vocabulary.fromWordList(['a', 'b']);
    const message = `the vocabulary has 2 words but the model ${other.vocabulary.size}`;
    await expect(exportWordLM(other.model, fewer, files)).rejects.toThrow(message);
    other.model.dispose();
    lm.model.dispose();
  });
});

describe('weights files for the probe', () => {
  it('reads a safetensors file and the same weights as seqlab JSON to the same numbers', () => {
    const path = join(FIXTURES, 'cell-lstm.safetensors');
    const st = loadRecurrentWeights(path);
    expect(st).toMatchObject({ format: 'safetensors', cell: 'lstm', inputSize: 5, hiddenSize: 8, prefix: '' });
    const { tensors } = readSafetensorsFile(path);
    const rows = (name: string) => {
      const t = tensors.get(name)!;
      return t.shape.length === 1
        ? Array.from(t.data)
        : Array.from({ length: t.shape[0] }, (_, r) =>
            Array.from(t.data.subarray(r * t.shape[1], (r + 1) * t.shape[1])),
          );
    };
    const dir = tmp();
    const jsonPath = join(dir, 'w.json');
    writeFileSync(
      jsonPath,
      JSON.stringify({ cell: 'lstm', state_dict: Object.fromEntries([...tensors.keys()].map((k) => [k, rows(k)])) }),
    );
    const js = loadRecurrentWeights(jsonPath);
    expect(js).toMatchObject({ format: 'json', cell: 'lstm', inputSize: 5, hiddenSize: 8 });
    st.layers.forEach((l, i) => {
      for (const k of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const)
        expect(Array.from(js.layers[i][k])).toEqual(Array.from(l[k]));
    });
    // without a telling extension the first byte decides
    copyFileSync(path, join(dir, 'w.bin'));
    copyFileSync(jsonPath, join(dir, 'w.weights'));
    expect(loadRecurrentWeights(join(dir, 'w.bin')).format).toBe('safetensors');
    expect(loadRecurrentWeights(join(dir, 'w.weights')).format).toBe('json');
    expect(weightsFormat('x.SAFETENSORS', new Uint8Array([0x7b]))).toBe('safetensors');
  });

  it('takes the module of a whole RNNModel, a cell check and a nonlinearity', () => {
    expect(loadRecurrentWeights(join(FIXTURES, 'lm-rnn-relu.safetensors'))).toMatchObject({
      prefix: 'rnn.',
      nonlinearity: 'relu',
      nonlinearitySource: 'metadata',
    });
    expect(
      loadRecurrentWeights(join(FIXTURES, 'cell-rnn-tanh.safetensors'), { nonlinearity: 'relu' }).nonlinearity,
    ).toBe('relu');
    expect(errorOf(() => loadRecurrentWeights(join(FIXTURES, 'cell-gru.safetensors'), { cell: 'lstm' }))).toMatch(
      /a gru cell's .* not a lstm cell's/,
    );
  });

  it('refuses a file that is neither safetensors nor JSON, and a lying safetensors file, with one line', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'w.json'), 'not json');
    expect(errorOf(() => loadRecurrentWeights(join(dir, 'w.json')))).toMatch(/not valid JSON \(nor safetensors\)/);
    const cut = readFileSync(join(FIXTURES, 'cell-gru.safetensors')).subarray(0, 100);
    writeFileSync(join(dir, 'cut.safetensors'), cut);
    expect(errorOf(() => loadRecurrentWeights(join(dir, 'cut.safetensors')))).toMatch(
      /is not a valid safetensors file: header length \d+ runs past the end of the file \(100 bytes\)/,
    );
    expect(errorOf(() => loadRecurrentWeights(join(dir, 'missing.safetensors')))).toMatch(/weights file not found/);
  });
});

describe('modelFromTorchFile: a model to train, from PyTorch weights', () => {
  it('a word LM: the file’s weights in the asked config (tied or untied); other shapes refused', async () => {
    const path = join(FIXTURES, 'train-gru-tied.init.safetensors');
    const tied = modelConfigFor(
      { inputSize: 0, outputSize: 38, vocabSize: 38 },
      {
        cell: 'gru',
        hiddenSize: 8,
        numLayers: 2,
        tieWeights: true,
      },
    );
    const model = modelFromTorchFile(path, tied);
    const enc = readSafetensorsFile(path).tensors.get('decoder.weight')!;
    expect(Array.from(await model.embedding!.data())).toEqual(Array.from(enc.data));
    expect(model.headW).toBeNull();
    model.dispose();
    // untied: two equal matrices, trained apart
    const untied = modelFromTorchFile(path, { ...tied, tieWeights: false });
    const sd = await untied.stateDict();
    expect((sd['head.weight'] as number[][]).flat()).toEqual(Array.from(enc.data));
    untied.dispose();
    expect(errorOf(() => modelFromTorchFile(path, { ...tied, hiddenSize: 16, inputSize: 16 }))).toMatch(
      /holds a 2-layer gru, H 8, inputs 8, outputs 38, 38 words, tied; the model to train is a 2-layer gru, H 16/,
    );
    expect(errorOf(() => modelFromTorchFile(join(FIXTURES, 'train-lstm.init.safetensors'), tied))).toMatch(
      /not a gru cell's/,
    );
  });

  it('dense inputs: nn.LSTM’s names and head.weight/head.bias, as seqlab export --with-head writes them', async () => {
    const config = modelConfigFor({ inputSize: 5, outputSize: 3 }, { cell: 'lstm', hiddenSize: 8, numLayers: 2 });
    const path = join(FIXTURES, 'cell-lstm.safetensors');
    const { tensors } = readSafetensorsFile(path);
    const dir = tmp();
    const withHead = join(dir, 'head.safetensors');
    const head = { shape: [3, 8], data: Float32Array.from({ length: 24 }, (_, i) => i / 24) };
    const bias = { shape: [3], data: Float32Array.from([1, 2, 3]) };
    writeSafetensorsFile(
      withHead,
      new Map<string, TensorToWrite>([...tensors, ['head.weight', head], ['head.bias', bias]]),
    );
    const model = modelFromTorchFile(withHead, config);
    const sd = await model.stateDict();
    expect((sd.weight_hh_l1 as number[][]).flat()).toEqual(Array.from(tensors.get('weight_hh_l1')!.data));
    expect((sd['head.weight'] as number[][]).flat()).toEqual(Array.from(head.data));
    model.dispose();
    expect(errorOf(() => modelFromTorchFile(path, config))).toMatch(/has no head\.weight and head\.bias/);
  });
});
