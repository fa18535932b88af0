import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeRun, trainRun, type TrainRunOptions } from '../../src/commands/train.js';

// An interrupted run continued with resumeRun ends with the same metrics.json, byte for
// byte, as the same run left alone: weights, optimizer slots, data stream, carried
// hidden state and schedule all come back from the checkpoint.
function tinyCorpus(): string {
  const dir = mkdtempSync(join(tmpdir(), 'seqlab-resume-'));
  const path = join(dir, 'tiny.txt');
  const text = ['the cat sat on the mat .', 'the dog sat on the log .', 'a cat and a dog ran .', 'the dog ate .'];
  writeFileSync(path, `${Array.from({ length: 80 }, (_, i) => text[(i * 7) % 4]).join('\n')}\n`);
  return path;
}

async function interruptedThenResumed(opts: TrainRunOptions, stopAfter: number): Promise<void> {
  await expect(
    trainRun({
      ...opts,
      onProgress: (p) => {
        if (p.step > stopAfter) throw new Error('simulated crash');
      },
    }),
  ).rejects.toThrow('simulated crash');
  await resumeRun(opts.out as string, opts.backend);
  // it continued (not restarted): after the second "start", the first step follows the checkpoint
  const log = readFileSync(join(opts.out as string, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const starts = log.flatMap((r, i) => (r.type === 'start' ? [i] : []));
  expect(starts).toHaveLength(2);
  const lastCheckpoint = log
    .slice(0, starts[1])
    .filter((r) => r.type === 'checkpoint')
    .at(-1);
  const firstResumed = log.slice(starts[1]).find((r) => r.type === 'step');
  expect(lastCheckpoint.step).toBeGreaterThan(0);
  expect(firstResumed.step).toBe(lastCheckpoint.step + 1);
}

describe('resume', () => {
  it('language model (stateful, Adam, step schedule): resumed = uninterrupted', async () => {
    const corpus = tinyCorpus();
    const base = (out: string): TrainRunOptions => ({
      task: 'lm',
      taskOptions: { lm: { corpus, bptt: 4 } },
      model: { cell: 'lstm', hiddenSize: 8 },
      train: { batchSize: 3, optimizer: 'adam', lr: 0.01, schedule: 'step', decayEvery: 20, gradflowEvery: 15 },
      epochs: 3,
      backend: tf.getBackend(),
      out,
      overwrite: true,
    });
    const a = mkdtempSync(join(tmpdir(), 'seqlab-a-'));
    const b = mkdtempSync(join(tmpdir(), 'seqlab-b-'));
    const whole = await trainRun(base(a));
    const perEpoch = (whole.config.task as { stepsPerEpoch: number }).stepsPerEpoch;
    await interruptedThenResumed(base(b), perEpoch + 3); // crash in epoch 2; the checkpoint is from the end of epoch 1
    expect(readFileSync(join(b, 'metrics.json'), 'utf8')).toBe(readFileSync(join(a, 'metrics.json'), 'utf8'));
  });

  it('adding task (seeded data stream, momentum): resumed = uninterrupted', async () => {
    const base = (out: string): TrainRunOptions => ({
      task: 'adding',
      taskOptions: { seqLen: 6, evalSize: 32 },
      model: { cell: 'gru', hiddenSize: 6 },
      train: { steps: 40, batchSize: 4, optimizer: 'momentum', lr: 0.05, evalEvery: 10, gradflowEvery: 10 },
      backend: tf.getBackend(),
      out,
      overwrite: true,
    });
    const a = mkdtempSync(join(tmpdir(), 'seqlab-a-'));
    const b = mkdtempSync(join(tmpdir(), 'seqlab-b-'));
    await trainRun(base(a));
    await interruptedThenResumed(base(b), 25);
    expect(readFileSync(join(b, 'metrics.json'), 'utf8')).toBe(readFileSync(join(a, 'metrics.json'), 'utf8'));
  });

  const restoreBestTitle =
    'word_language_model schedule (plateau ÷ 4, restoreBest): resumed = uninterrupted, best weights included';
  it(restoreBestTitle, async () => {
    // from PyTorch's initial weights the validation loss is best after epoch 1 (scripts/torch-fixtures.py --train):
    // a crash in epoch 3 resumes from the epoch-2 checkpoint, whose resume record must carry epoch 1's weights
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'torch');
    const base = (out: string): TrainRunOptions => ({
      task: 'lm',
      taskOptions: { lm: { corpus: join(fixtures, 'corpus'), reader: 'word-lm', bptt: 35 } },
      model: { cell: 'lstm', hiddenSize: 8, numLayers: 2, embedSize: 8 },
      train: {
        batchSize: 20,
        optimizer: 'sgd',
        lr: 20,
        clipNorm: 0.25,
        schedule: 'plateau',
        patience: 1,
        decayFactor: 0.25,
        restoreBest: true,
        gradflowEvery: 0,
        threads: 1,
      },
      epochs: 5,
      initFrom: join(fixtures, 'train-lstm.init.safetensors'),
      backend: tf.getBackend(),
      out,
      overwrite: true,
    });
    const a = mkdtempSync(join(tmpdir(), 'seqlab-a-'));
    const b = mkdtempSync(join(tmpdir(), 'seqlab-b-'));
    const whole = await trainRun(base(a));
    const perEpoch = (whole.config.task as { stepsPerEpoch: number }).stepsPerEpoch;
    expect(whole.result.weightsStep).toBe(perEpoch);
    await interruptedThenResumed(base(b), 2 * perEpoch + 1);
    expect(readFileSync(join(b, 'metrics.json'), 'utf8')).toBe(readFileSync(join(a, 'metrics.json'), 'utf8'));
    expect(readFileSync(join(b, 'checkpoint.json'), 'utf8')).toBe(readFileSync(join(a, 'checkpoint.json'), 'utf8'));
  });

  const epochsTitle =
    '--epochs on resume sets a new total: a 3-epoch run stopped at 2 epochs and continued = the 3-epoch run';
  it(epochsTitle, async () => {
    const corpus = tinyCorpus();
    const base = (out: string, epochs: number): TrainRunOptions => ({
      task: 'lm',
      taskOptions: { lm: { corpus, bptt: 4 } },
      model: { cell: 'gru', hiddenSize: 6 },
      train: { batchSize: 3, optimizer: 'adam', lr: 0.01, gradflowEvery: 0 },
      epochs,
      backend: tf.getBackend(),
      out,
      overwrite: true,
    });
    const a = mkdtempSync(join(tmpdir(), 'seqlab-a-'));
    const b = mkdtempSync(join(tmpdir(), 'seqlab-b-'));
    await trainRun(base(a, 3));
    const short = await trainRun(base(b, 2));
    const perEpoch = (short.config.task as { stepsPerEpoch: number }).stepsPerEpoch;
    const longer = await resumeRun(b, tf.getBackend(), undefined, { epochs: 3 });
    expect(longer.result.steps).toBe(3 * perEpoch);
    expect(JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')).train.steps).toBe(3 * perEpoch);
    expect(readFileSync(join(b, 'metrics.json'), 'utf8')).toBe(readFileSync(join(a, 'metrics.json'), 'utf8'));
    await expect(resumeRun(b, tf.getBackend(), undefined, { steps: perEpoch })).rejects.toThrow(/cannot end before it/);
  });
});
