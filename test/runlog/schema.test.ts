import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainRun } from '../../src/commands/train.js';
import { MLP_DEFAULTS, Mlp } from '../../src/models/mlp.js';
import { readLog, readRun } from '../../src/report/rundata.js';
import { RunDir } from '../../src/runlog/rundir.js';
import { LOG_RECORD_TYPES, type LogRecord, parseLog, recordProblem } from '../../src/runlog/schema.js';
import { arrayExamples, trainMlp } from '../../src/training/mlp-trainer.js';
import { MLP_TRAIN_DEFAULTS } from '../../src/training/mlp-trainer.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

// The run log's one schema (src/runlog/schema.ts): each trainer writes it, the report's reader
// reads it back, and every record kind round-trips. A field renamed on one side fails here.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-schema-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const kinds = (records: readonly { type: string }[]) => new Set(records.map((r) => r.type));

describe('each trainer writes records the report reads back', () => {
  it('the BPTT trainer: start, step, gradflow, spectrum, pairs, eval, checkpoint, end; an LM adds test', async () => {
    const out = join(tmp, 'adding');
    await trainRun({
      task: 'adding',
      taskOptions: { seqLen: 6, evalSize: 16, probeSize: 2 },
      model: { cell: 'gru', hiddenSize: 4 },
      train: { steps: 4, batchSize: 4, evalEvery: 2, gradflowEvery: 2 },
      backend: tf.getBackend(),
      out,
      pairs: true,
    });
    const records = readLog(join(out, 'log.jsonl'));
    expect(records.every((r) => r.type !== 'unknown')).toBe(true);
    expect(kinds(records)).toEqual(
      new Set(['start', 'step', 'gradflow', 'spectrum', 'pairs', 'eval', 'checkpoint', 'end']),
    );
    const run = readRun(out);
    expect(run.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(run.evals.map((e) => e.step)).toEqual([2, 4]);
    expect(run.gradflow.map((g) => g.step)).toEqual([0, 2, 4]);
    expect(run.gradflow[0].gap).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.gradflow[0].lossGrad).toHaveLength(7);
    expect(run.pairs).toHaveLength(1);
    // the spectra with the first probe (spectrumEvery 500): 6 gaps × H singular values, H exponents
    expect(run.spectra.map((s) => s.step)).toEqual([0]);
    expect(run.spectra[0].logSigma.map((row) => row.length)).toEqual([4, 4, 4, 4, 4, 4]);
    expect(run.spectra[0].lyapunov).toHaveLength(4);
    expect(run.other).toMatchObject({ start: 1, checkpoint: 2, end: 1 });

    const lm = join(tmp, 'lm');
    const corpus = join(tmp, 'corpus.txt');
    writeFileSync(corpus, Array.from({ length: 60 }, (_, i) => `the cat ${i % 5} sat on the mat`).join('\n'));
    await trainRun({
      task: 'lm',
      taskOptions: { lm: { corpus, bptt: 4, evalBatchSize: 2 } },
      model: { cell: 'lstm', hiddenSize: 4, embedSize: 3 },
      train: { steps: 2, batchSize: 2, evalEvery: 2, gradflowEvery: 0 },
      backend: tf.getBackend(),
      out: lm,
    });
    const lmRun = readRun(lm);
    expect(lmRun.test?.step).toBe(2);
    expect(kinds(readLog(join(lm, 'log.jsonl')))).toContain('test');
  });

  it('a diverging run logs `diverged`', async () => {
    const out = join(tmp, 'diverged');
    await expect(
      trainRun({
        task: 'adding',
        taskOptions: { seqLen: 4, evalSize: 8, probeSize: 2 },
        model: { cell: 'rnn', hiddenSize: 4, nonlinearity: 'relu', init: 'normal', initStd: 50 },
        train: { steps: 20, batchSize: 4, optimizer: 'sgd', lr: 1e12, clipNorm: null, gradflowEvery: 0 },
        backend: tf.getBackend(),
        out,
      }),
    ).rejects.toThrow(/diverged/);
    expect(kinds(readLog(join(out, 'log.jsonl')))).toContain('diverged');
  });

  it('the MLP trainer: deltas (probe and batch), step, eval, checkpoint, end', () => {
    const dir = RunDir.create(join(tmp, 'mlp'));
    const rng = new Rng('mlp');
    const xs = Float64Array.from({ length: 40 * 2 }, () => rng.range(-1, 1));
    const ys = Float64Array.from({ length: 40 }, (_, i) => (xs[2 * i] * xs[2 * i + 1] > 0 ? 1 : 0));
    const data = arrayExamples(xs, ys, 2, 1, 'threshold');
    const net = Mlp.random({ ...MLP_DEFAULTS, layers: [2, 4, 4, 1] }, new Rng('net'));
    trainMlp(
      net,
      data,
      { ...MLP_TRAIN_DEFAULTS, epochs: 2, batchSize: 10, gradflowEvery: 2, probeSize: 10, logEvery: 2 },
      {
        validation: data,
        runDir: dir,
      },
    );
    const records = readLog(dir.file('log.jsonl'));
    expect(kinds(records)).toEqual(new Set(['deltas', 'step', 'eval', 'checkpoint', 'end']));
    const run = readRun(dir.path);
    expect(new Set(run.deltas.map((d) => d.kind))).toEqual(new Set(['probe', 'batch']));
    expect(run.deltas.every((d) => d.norms.length === 2)).toBe(true);
    expect(run.gradflow).toHaveLength(0);
  });
});

describe('parseLog', () => {
  const line = (r: object) => JSON.stringify(r);
  it('knows every kind the schema declares, and refuses a known kind without its fields', () => {
    expect(LOG_RECORD_TYPES).toEqual([
      'start',
      'step',
      'eval',
      'test',
      'gradflow',
      'pairs',
      'spectrum',
      'deltas',
      'checkpoint',
      'end',
      'diverged',
    ]);
    expect(() => parseLog(`${line({ type: 'step', step: 1, loss: 1, lr: 0.1 })}\n`, 'x.jsonl')).toThrow(
      /x\.jsonl line 1: a "step" record needs "gradNorm" as a number or null/,
    );
    expect(
      recordProblem({ type: 'end', step: 1, status: 'finished', elapsedMs: 1, stepsPerSec: 1, gradflowMs: 0 }),
    ).toMatch(/"status" as one of completed, early-stopped/);
    const spectrum = {
      type: 'spectrum',
      ...{ step: 0, layer: 0, mode: 'h', T: 2, batch: 1, size: 2, horizonThreshold: 1e-3, gap: [1, 2] },
      ...{
        logSigma: [
          [0.1, null],
          [-1, -2],
        ],
        count: [1, 2],
        participationRatio: [1, 1.5],
      },
      ...{ lyapunov: [-0.5, -1], lyapunovSize: 2, burnIn: 0, kaplanYorke: 0, kaplanYorkeIsLowerBound: false },
      decayPerStep: 0.5,
    };
    expect(recordProblem(spectrum)).toBeNull();
    expect(recordProblem({ ...spectrum, logSigma: [[0.1, 'x']] })).toMatch(/"logSigma" as an array of arrays/);
    expect(recordProblem({ ...spectrum, kaplanYorkeIsLowerBound: 0 })).toMatch(/"kaplanYorkeIsLowerBound" as true/);
  });
  it('reads non-finite values the writer had to store as null', () => {
    const [rec] = parseLog(`${line({ type: 'diverged', step: 3, loss: null, gradNorm: null })}\n`, 'x');
    expect(rec).toEqual({ type: 'diverged', step: 3, loss: null, gradNorm: null });
  });
  it('counts kinds from a newer seqlab instead of failing, and skips a torn last line', () => {
    const start = line({ type: 'start', backend: 'cpu', params: 1 });
    const text = `${start}\n${line({ type: 'future', x: 1 })}\n{"type":"st`;
    expect(parseLog(text, 'x')).toEqual([
      { type: 'start', backend: 'cpu', params: 1 },
      { type: 'unknown', kind: 'future' },
    ]);
    expect(() => parseLog(`{"type":"st\n${line({ type: 'start', backend: 'cpu', params: 1 })}`, 'x')).toThrow(
      SeqlabError,
    );
  });
  it('reads the forms earlier versions wrote: the test evaluation and the MLP δ norms', () => {
    const old = [
      { type: 'eval', step: 5, loss: 2, metrics: { perplexity: 7.4, split: null } },
      { type: 'gradflow', step: 0, epoch: 0, kind: 'probe', examples: 10, deltaNorms: [0.1, 0.2] },
    ];
    const records: LogRecord[] = [
      { type: 'test', step: 5, loss: 2, metrics: { perplexity: 7.4 } },
      { type: 'deltas', step: 0, epoch: 0, kind: 'probe', examples: 10, deltaNorms: [0.1, 0.2] },
    ];
    expect(parseLog(old.map(line).join('\n'), 'x')).toEqual(records);
  });
});
