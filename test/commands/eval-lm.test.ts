import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalLMRun } from '../../src/commands/eval-lm.js';
import { SeqlabError } from '../../src/util/errors.js';
import { FIXTURES, checkpointOf, fixtureJson } from './torch-helpers.js';

// `seqlab eval-lm`: PyTorch's word_language_model perplexities, from its files and from a seqlab checkpoint.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-eval-lm-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const PPL_TOL = 1e-4;
const manifest = fixtureJson('manifest.json');
const corpus = join(FIXTURES, 'corpus');
const vocab = join(FIXTURES, 'vocab.txt');

describe('evalLMRun', () => {
  for (const name of manifest.models as string[]) {
    it(`${name}: PyTorch's valid and test perplexity from its files and from a seqlab checkpoint of them`, async () => {
      const ref = fixtureJson(`lm-${name}.json`);
      const weights = join(FIXTURES, `lm-${name}.safetensors`);
      const before = tf.memory().numTensors;
      const fromTorch = await evalLMRun({ model: { weights, vocab }, corpus, batchSize: 10, bptt: 35 });
      expect(fromTorch.rows.map((r) => r.name)).toEqual(['valid', 'test']);
      for (const row of fromTorch.rows) {
        const want = ref.float64[row.name].perplexity;
        expect(Math.abs(row.perplexity - want) / want).toBeLessThan(PPL_TOL);
        expect(row.tokens).toBe(manifest.tokens[row.name]);
        expect(row.predicted).toBe(10 * (Math.floor(row.tokens / 10) - 1));
        expect(row.unkRate).toBe(0); // a Dictionary of the whole corpus: no word is outside it
      }
      const checkpoint = await checkpointOf({ weights, vocab }, join(tmp, name));
      const fromSeqlab = await evalLMRun({ model: { checkpoint }, corpus, batchSize: 10, bptt: 35 });
      expect(fromSeqlab.rows).toEqual(fromTorch.rows);
      expect(fromSeqlab.params).toBe(fromTorch.params);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('scores one text file as the same split of the corpus, and any splits asked for', async () => {
    const model = { weights: join(FIXTURES, 'lm-rnn-tanh.safetensors'), vocab };
    const split = await evalLMRun({ model, corpus, splits: ['test'], batchSize: 10, bptt: 35 });
    const file = await evalLMRun({ model, text: join(corpus, 'test.txt'), batchSize: 10, bptt: 35 });
    expect(split.rows).toHaveLength(1);
    expect({ ...file.rows[0], name: 'test' }).toEqual(split.rows[0]);
  });

  it('refuses no text or two, and words the vocabulary cannot encode, with one line', async () => {
    const model = { weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab };
    await expect(evalLMRun({ model, batchSize: 10, bptt: 35 })).rejects.toThrow(
      /give corpus \(a directory\) or text \(a file\)/,
    );
    await expect(evalLMRun({ model, corpus, text: join(corpus, 'test.txt'), batchSize: 10, bptt: 35 })).rejects.toThrow(
      SeqlabError,
    );
    const odd = join(tmp, 'odd.txt');
    writeFileSync(odd, 'the unicorn sings\n');
    await expect(evalLMRun({ model, text: odd, batchSize: 1, bptt: 35 })).rejects.toThrow(
      /the word "unicorn" is not in the vocabulary \(38 words\), which has no <unk> to stand for it/,
    );
    await expect(
      evalLMRun({ model: { checkpoint: join(tmp, 'none') }, corpus, batchSize: 10, bptt: 35 }),
    ).rejects.toThrow(/checkpoint file not found/);
  });
});
