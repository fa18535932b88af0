import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SeqlabError } from '../../src/util/errors.js';
import { LMTask, batchify, streamBatches } from '../../src/tasks/lm.js';
import { readWordLMCorpus, wordLMDictionary } from '../../src/data/word-lm-corpus.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';
import { sampleRun, drawToken } from '../../src/commands/sample.js';
import { trainRun } from '../../src/commands/train.js';
import { evaluate } from '../../src/training/measure.js';
import { SequenceModel, MODEL_DEFAULTS } from '../../src/models/model.js';
import { Rng } from '../../src/util/rng.js';

function tinyCorpus(lines = 90): string {
  const dir = mkdtempSync(join(tmpdir(), 'seqlab-lm-'));
  const path = join(dir, 'tiny.txt');
  const text = ['the cat sat on the mat .', 'the dog sat on the log .', 'a cat and a dog ran .'];
  writeFileSync(path, `${Array.from({ length: lines }, (_, i) => text[i % 3]).join('\n')}\n`);
  return path;
}

describe('batchify and stream batches', () => {
  it('cuts a stream into B columns, time-major, and targets are the inputs shifted by one', () => {
    const ids = Int32Array.from({ length: 13 }, (_, i) => i);
    const s = batchify(ids, 3); // columns 0..3, 4..7, 8..11; 12 dropped
    expect(s.steps).toBe(4);
    expect(Array.from(s.data)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    const batches = streamBatches(s, 3, 2);
    expect(batches.map((b) => b.seqLen)).toEqual([2, 1]);
    expect(Array.from(batches[0].tokens as Int32Array)).toEqual([0, 4, 8, 1, 5, 9]);
    expect(Array.from(batches[0].targets)).toEqual([1, 5, 9, 2, 6, 10]);
    expect(Array.from(batches[1].targets)).toEqual([3, 7, 11]);
  });
});

describe('LMTask', () => {
  it('rejects a corpus smaller than one batch with one clear line', () => {
    const path = tinyCorpus(3);
    expect(() => new LMTask({ corpus: path, batchSize: 20, bptt: 35 })).toThrow(SeqlabError);
    try {
      new LMTask({ corpus: path, batchSize: 20, bptt: 35 });
    } catch (e) {
      expect((e as Error).message).toMatch(/too small/);
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('a model with a zero read-out (uniform predictions) has perplexity = vocabulary size', async () => {
    const task = new LMTask({ corpus: tinyCorpus(), batchSize: 4, bptt: 5, evalBatchSize: 2 });
    const V = task.vocabSize;
    const config = {
      ...MODEL_DEFAULTS,
      cell: 'gru' as const,
      inputSize: 8,
      hiddenSize: 6,
      outputSize: V,
      vocabSize: V,
    };
    const layer = SequenceModel.random(config, new Rng(1));
    const sd = await layer.stateDict();
    layer.dispose();
    const weights = [
      {
        weight_ih: (sd.weight_ih_l0 as number[][]).flat(),
        weight_hh: (sd.weight_hh_l0 as number[][]).flat(),
        bias_ih: sd.bias_ih_l0 as number[],
        bias_hh: sd.bias_hh_l0 as number[],
      },
    ];
    const model = new SequenceModel(
      config,
      weights,
      { weight: new Float64Array(V * 6), bias: new Float64Array(V) },
      (sd['embedding.weight'] as number[][]).flat(),
    );
    const ev = await evaluate(model, task);
    expect(ev.metrics.perplexity).toBeCloseTo(V, 3);
    model.dispose();
  });
});

describe('LMTask with the word-lm reader', () => {
  const dir = join(import.meta.dirname, '..', 'fixtures', 'torch', 'corpus');

  it("streams word_language_model's token ids: every line + <eos>, its Dictionary by first appearance", () => {
    const task = new LMTask({ corpus: dir, reader: 'word-lm', batchSize: 4, bptt: 5 });
    const splits = readWordLMCorpus(dir);
    const dict = wordLMDictionary(splits);
    expect(task.vocab.tokens).toEqual(dict.tokens);
    // the Dictionary written by PyTorch's side of the fixtures (scripts/torch-fixtures.py)
    expect(task.vocab.tokens).toEqual(
      readFileSync(join(dir, '..', 'vocab.txt'), 'utf8')
        .split('\n')
        .slice(0, -1),
    );
    for (const s of ['train', 'valid', 'test'] as const)
      expect(Array.from(task.ids[s])).toEqual(Array.from(dict.encode(splits[s])));
    // blank lines keep their <eos>: more tokens than the PTB-style reader of the same directory gives
    const ptb = new LMTask({ corpus: dir, batchSize: 4, bptt: 5 });
    expect(task.ids.valid.length).toBeGreaterThan(ptb.ids.valid.length);
    expect(task.describe()).toMatchObject({ reader: 'word-lm' });
  });

  it('refuses vocabulary rules, lower-casing, Brown and an unknown reader with one line', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ corpus: dir, minCount: 2 }, /keeps every word as written/],
      [{ corpus: dir, lowercase: true }, /keeps every word as written/],
      [{ corpus: 'brown' }, /reads a data directory/],
      [{ corpus: join(dir, 'train.txt') }, /not a directory/],
    ];
    for (const [config, message] of cases) {
      expect(() => new LMTask({ ...config, reader: 'word-lm' })).toThrow(message);
    }
    expect(() => new LMTask({ corpus: dir, reader: 'pytorch' as 'word-lm' })).toThrow(/unknown reader "pytorch"/);
  });
});

describe('training, checkpoint, sampling', () => {
  const title =
    'learns a tiny corpus, saves model + vocabulary, reloads to the same loss, and samples deterministically';
  it(title, async () => {
    const out = mkdtempSync(join(tmpdir(), 'seqlab-lmrun-'));
    const corpus = tinyCorpus();
    const before = tf.memory().numTensors;
    const run = await trainRun({
      task: 'lm',
      taskOptions: { lm: { corpus, bptt: 5 } },
      model: { cell: 'lstm', hiddenSize: 16 },
      train: { batchSize: 4, optimizer: 'sgd', lr: 1, clipNorm: 5, gradflowEvery: 50 },
      epochs: 3,
      backend: tf.getBackend(),
      out,
      overwrite: true,
    });
    expect(tf.memory().numTensors).toBe(before);
    const ev = run.metrics.eval as { loss: number; metrics: { perplexity: number } };
    const V = (run.config.task as { vocabSize: number }).vocabSize;
    expect(ev.metrics.perplexity).toBeLessThan(V / 2); // far better than uniform
    expect(run.metrics.test).toBeDefined();
    const ck = loadCheckpoint(out);
    expect(ck.vocabulary?.size).toBe(V);
    const task = new LMTask({ corpus, batchSize: 4, bptt: 5 });
    const again = await evaluate(ck.model, task);
    expect(again.loss).toBeCloseTo(ev.loss, 5);
    ck.model.dispose();
    const a = await sampleRun({
      checkpoint: out,
      prompt: 'the cat',
      length: 10,
      temperature: 0.8,
      topK: null,
      seed: 7,
    });
    const b = await sampleRun({
      checkpoint: out,
      prompt: 'the cat',
      length: 10,
      temperature: 0.8,
      topK: null,
      seed: 7,
    });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).toHaveLength(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drawToken: top-1 is the argmax; frequencies follow softmax(logits / temperature)', () => {
    const logits = Float32Array.from([0, Math.log(3), -Infinity, 0]);
    expect(drawToken(logits, 1, 1, new Rng(1))).toBe(1);
    const rng = new Rng(2);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[drawToken(logits, 1, null, rng)]++;
    expect(counts[2]).toBe(0);
    expect(counts[1] / 20000).toBeCloseTo(0.6, 1); // 3 / (1 + 3 + 1)
  });
});
