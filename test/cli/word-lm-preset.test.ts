import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { TRAIN_PRESETS, parseTrainArgs, resolveOptions } from '../../src/cli/options.js';
import { evalLMRun } from '../../src/commands/eval-lm.js';
import { loadCheckpoint } from '../../src/training/checkpoint.js';
import { FIXTURES, fixtureJson } from '../commands/torch-helpers.js';

// `seqlab train --preset word-lm` against pytorch/examples' word_language_model main.py loop, run by
// scripts/torch-fixtures.py --train from the same initial weights (--init-from) on the same text:
// every epoch's validation loss and learning rate, the best epoch, and the test perplexity of its weights.
// Dropout is 0 on both sides (the masks come from different generators); everything else is the preset's.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-word-lm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = join(FIXTURES, 'corpus');
/** Perplexities, epoch by epoch: 8 epochs of SGD at lr 20 amplify float32 rounding (GRU: 2e-5 at most). */
const PPL_TOL = 1e-4;

async function seqlab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('--preset word-lm', () => {
  it('holds word_language_model main.py’s settings', () => {
    const a = parseTrainArgs(resolveOptions({ preset: 'word-lm', corpus, seed: 1 }));
    expect(a.task).toBe('lm');
    expect(a.taskOptions.lm).toMatchObject({ reader: 'word-lm', bptt: 35 });
    expect(a.model).toMatchObject({ hiddenSize: 200, embedSize: 200, numLayers: 2, dropout: 0.2, initRange: 0.1 });
    expect(a.train).toMatchObject({
      batchSize: 20,
      optimizer: 'sgd',
      lr: 20,
      clipNorm: 0.25,
      schedule: 'plateau',
      patience: 1,
      decayFactor: 0.25,
      restoreBest: true,
      weightDecay: 0,
    });
    expect(a.epochs).toBe(40);
    expect(TRAIN_PRESETS['word-lm'].cell).toBe('lstm');
  });

  for (const [name, extra] of [
    ['lstm', []],
    ['gru-tied', ['--cell', 'gru', '--tie-weights']],
  ] as const) {
    it(`${name}: every epoch's validation loss and lr, the best epoch and the test score equal PyTorch's`, async () => {
      const ref = fixtureJson(`train-${name}.json`);
      const out = join(tmp, name);
      const r = await seqlab([
        'train',
        '--preset',
        'word-lm',
        '--corpus',
        corpus,
        '--hidden',
        '8',
        '--emsize',
        '8',
        '--epochs',
        String(ref.spec.epochs),
        '--dropout',
        '0',
        '--threads',
        '1',
        '--gradflow-every',
        '0',
        '--init-from',
        join(FIXTURES, `train-${name}.init.safetensors`),
        ...extra,
        '--out',
        out,
        '--no-report',
        '--json',
        '--quiet',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const per: number = ref.stepsPerEpoch;
      const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const evals = log.filter((rec) => rec.type === 'eval');
      expect(evals.map((e) => e.step)).toEqual(ref.epochs.map((e: { epoch: number }) => e.epoch * per));
      ref.epochs.forEach((e: { epoch: number; lr: number; valid: number }, i: number) => {
        expect(Math.abs(Math.exp(evals[i].loss - e.valid) - 1)).toBeLessThan(PPL_TOL);
        // the rate each step of the epoch ran with: 20, ÷ 4 after each epoch that did not improve
        const lrs = log.filter((rec) => rec.type === 'step' && Math.ceil(rec.step / per) === e.epoch).map((s) => s.lr);
        expect(lrs).toEqual(new Array(per).fill(e.lr));
      });
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
      expect(metrics.best.step).toBe(ref.bestEpoch * per);
      expect(metrics.weightsStep).toBe(ref.bestEpoch * per);
      expect(Math.abs(Math.exp(metrics.test.loss - ref.test.loss) - 1)).toBeLessThan(PPL_TOL);
      // the last checkpoint holds the best weights: its perplexity is the test score
      const ck = loadCheckpoint(out);
      expect(ck.step).toBe(ref.bestEpoch * per);
      expect(ck.doc.resume).toBeUndefined();
      ck.model.dispose();
      const again = await evalLMRun({ model: { checkpoint: out }, corpus, splits: ['test'], batchSize: 10, bptt: 35 });
      expect(Math.abs(again.rows[0].loss - metrics.test.loss)).toBeLessThan(1e-6);
    });
  }

  it('refuses the word-lm reader on Brown, and weights of another shape, with one line', async () => {
    const brown = await seqlab(['train', '--preset', 'word-lm', '--epochs', '1', '--out', join(tmp, 'b'), '--quiet']);
    expect(brown.code).toBe(2);
    expect(brown.stderr).toMatch(/^seqlab: the word-lm reader reads a data directory/);
    const init = join(FIXTURES, 'train-lstm.init.safetensors');
    const wrong = await seqlab([
      'train',
      '--preset',
      'word-lm',
      '--corpus',
      corpus,
      '--epochs',
      '1',
      '--init-from',
      init,
      '--out',
      join(tmp, 'w'),
      '--quiet',
    ]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(
      /holds a 2-layer lstm, H 8, inputs 8, outputs 38, 38 words; the model to train is a 2-layer lstm, H 200/,
    );
  });
});
