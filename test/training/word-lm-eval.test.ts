import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '../../src/data/safetensors.js';
import { readWordLMCorpus } from '../../src/data/word-lm-corpus.js';
import { SequenceModel } from '../../src/models/model.js';
import { loadWordLM } from '../../src/training/torch-checkpoint.js';
import { evaluateWordLM } from '../../src/training/word-lm-eval.js';
import { Interrupted } from '../../src/util/errors.js';

// Perplexity against PyTorch's own numbers (scripts/torch-fixtures.py wrote the fixtures).

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
const json = (path: string) => JSON.parse(readFileSync(join(FIXTURES, path), 'utf8'));
const manifest = json('manifest.json');
const corpus = readWordLMCorpus(join(FIXTURES, 'corpus'));
const PPL_TOL = 1e-4;

describe("perplexity as word_language_model's evaluate() computes it", () => {
  for (const name of manifest.models as string[]) {
    it(`${name}: valid and test perplexity equal PyTorch's (eval batch 10, bptt 35)`, async () => {
      const ref = json(`lm-${name}.json`);
      const lm = loadWordLM({ weights: join(FIXTURES, `lm-${name}.safetensors`), vocab: join(FIXTURES, 'vocab.txt') });
      const before = tf.memory().numTensors;
      for (const split of ['valid', 'test'] as const) {
        const ids = lm.vocabulary.encode(corpus[split]);
        const res = await evaluateWordLM(lm.model, ids, { batchSize: manifest.evalBatchSize, bptt: manifest.bptt });
        const steps = Math.floor(ids.length / 10);
        expect(res.tokens).toBe(10 * (steps - 1));
        expect(res.droppedTokens).toBe(ids.length - 10 * steps);
        for (const precision of ['float32', 'float64']) {
          expect(
            Math.abs(res.perplexity - ref[precision][split].perplexity) / ref[precision][split].perplexity,
          ).toBeLessThan(PPL_TOL);
        }
      }
      expect(tf.memory().numTensors).toBe(before);
      lm.model.dispose();
    });
  }

  it('a zero read-out predicts uniformly: perplexity = vocabulary size, for any chunking', async () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    const sd = readSafetensorsFile(join(FIXTURES, 'lm-lstm.safetensors')).tensors;
    const V = lm.vocabulary.size;
    const zero = new SequenceModel(
      lm.model.config,
      lm.model.layers.map((_, l) => ({
        weight_ih: sd.get(`rnn.weight_ih_l${l}`)!.data,
        weight_hh: sd.get(`rnn.weight_hh_l${l}`)!.data,
        bias_ih: sd.get(`rnn.bias_ih_l${l}`)!.data,
        bias_hh: sd.get(`rnn.bias_hh_l${l}`)!.data,
      })),
      { weight: new Float32Array(V * 8), bias: new Float32Array(V) },
      sd.get('encoder.weight')!.data,
    );
    const ids = lm.vocabulary.encode(corpus.valid);
    for (const bptt of [1, 35, 1000]) expect((await evaluateWordLM(zero, ids, { bptt })).perplexity).toBeCloseTo(V, 4);
    zero.dispose();
    lm.model.dispose();
  });

  it('carries the state across chunks: the chunk length does not change the perplexity', async () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-rnn-tanh.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    const ids = lm.vocabulary.encode(corpus.test);
    const one = await evaluateWordLM(lm.model, ids, { bptt: 1000 });
    for (const bptt of [1, 7, 35])
      expect(Math.abs((await evaluateWordLM(lm.model, ids, { bptt })).loss - one.loss) / one.loss).toBeLessThan(1e-6);
    // the streams are what batchify makes: other batch sizes cut other streams
    expect((await evaluateWordLM(lm.model, ids, { batchSize: 3 })).tokens).toBe(3 * (Math.floor(ids.length / 3) - 1));
    lm.model.dispose();
  });

  it('stops between chunks once its signal is aborted (Interrupted, tensors released)', async () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    const ids = lm.vocabulary.encode(corpus.test);
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    stop.abort('SIGINT');
    const chunks = Math.ceil((Math.floor(ids.length / 10) - 1) / 5);
    const evaluation = evaluateWordLM(lm.model, ids, { bptt: 5, signal: stop.signal });
    await expect(evaluation).rejects.toThrow(Interrupted);
    await expect(evaluation).rejects.toThrow(`evaluation stopped (SIGINT) after 0 of ${chunks} chunks`);
    expect(tf.memory().numTensors).toBe(before);
    lm.model.dispose();
  });

  it('refuses ids outside the vocabulary, too few tokens and bad sizes with one line', async () => {
    const lm = loadWordLM({ weights: join(FIXTURES, 'lm-gru-tied.safetensors'), vocab: join(FIXTURES, 'vocab.txt') });
    await expect(evaluateWordLM(lm.model, Int32Array.from([1, 2, 38, 3]), { batchSize: 1 })).rejects.toThrow(
      /token id 38 at position 2 is outside the model's vocabulary \(0 … 37\)/,
    );
    await expect(evaluateWordLM(lm.model, Int32Array.from([1, 2, 3]), { batchSize: 2 })).rejects.toThrow(
      /3 tokens make fewer than 2 steps of 2 streams/,
    );
    await expect(evaluateWordLM(lm.model, Int32Array.from([1, 2, 3]), { batchSize: 0 })).rejects.toThrow(
      /batchSize must be a positive integer/,
    );
    await expect(evaluateWordLM(lm.model, Int32Array.from([1, 2, 3]), { bptt: 1.5 })).rejects.toThrow(
      /bptt must be a positive integer/,
    );
    lm.model.dispose();
  });
});
