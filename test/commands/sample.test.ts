import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleRun } from '../../src/commands/sample.js';
import { FIXTURES, checkpointOf, fixtureJson } from './torch-helpers.js';

// `seqlab sample --weights … --vocab …`: text from PyTorch's word_language_model files.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-sample-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const vocab = join(FIXTURES, 'vocab.txt');
const words = readFileSync(vocab, 'utf8').split('\n').slice(0, -1);
const base = { prompt: '', length: 8, temperature: 1, topK: null, seed: 3 };

describe('sampleRun from PyTorch weights', () => {
  for (const name of ['lstm', 'gru-tied', 'rnn-relu']) {
    it(`${name}: after a prompt, top-k 1 draws the word PyTorch gives the highest log-probability`, async () => {
      const ref = fixtureJson(`lm-${name}.json`);
      const probe: number[][] = fixtureJson('manifest.json').probeTokens; // [T][B]
      const weights = join(FIXTURES, `lm-${name}.safetensors`);
      for (let b = 0; b < probe[0].length; b++) {
        const prompt = probe.map((row) => words[row[b]]).join(' ');
        const r = await sampleRun({ ...base, weights, vocab, prompt, length: 1, topK: 1 });
        const logp: number[] = ref.float64.logprobs_last[b];
        expect(r.tokens).toEqual([words[logp.indexOf(Math.max(...logp))]]);
        expect(r.prompt).toEqual(prompt.split(' '));
      }
    });
  }

  it('gives the text a seqlab checkpoint of the same weights gives, for the same seed', async () => {
    const weights = join(FIXTURES, 'lm-gru-tied.safetensors');
    const checkpoint = await checkpointOf({ weights, vocab }, join(tmp, 'gru'));
    const a = await sampleRun({ ...base, weights, vocab, prompt: 'the cat' });
    const b = await sampleRun({ ...base, checkpoint, prompt: 'the cat' });
    expect(a.tokens).toHaveLength(8);
    expect(b.tokens).toEqual(a.tokens);
    expect([a.step, b.step]).toEqual([null, 7]);
    expect((await sampleRun({ ...base, weights, vocab })).prompt).toEqual(['<eos>']);
  });

  it('refuses a half-named model and words the vocabulary cannot encode with one line', async () => {
    const weights = join(FIXTURES, 'lm-lstm.safetensors');
    await expect(sampleRun({ ...base, weights })).rejects.toThrow(
      /needs a checkpoint, or weights with their vocab file/,
    );
    await expect(sampleRun({ ...base, weights, vocab, checkpoint: tmp })).rejects.toThrow(/one of the two/);
    await expect(sampleRun({ ...base, weights, vocab, prompt: 'the okapi' })).rejects.toThrow(
      /the word "okapi" is not in the vocabulary/,
    );
  });
});
