import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_DEFAULTS, LabSession, checkSettings, labRunSpec, type LabSettings } from '../../src/lab/session.js';
import { readRun } from '../../src/report/rundata.js';
import { trainRun } from '../../src/commands/train.js';
import { SeqlabError } from '../../src/util/errors.js';

// The lab's training in Node (no browser): the same numbers as trainRun, Pause and Stop.
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-lab-session-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL: LabSettings = {
  ...LAB_DEFAULTS,
  task: 'adding',
  cells: ['rnn', 'gru'],
  hiddenSize: 4,
  length: 6,
  steps: 8,
  batchSize: 4,
  evalEvery: 4,
  gradflowEvery: 4,
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('checkSettings', () => {
  const cases: [string, Partial<LabSettings>, RegExp][] = [
    ['hidden size 0', { hiddenSize: 0 }, /hidden size must be a positive integer, got 0/],
    ['no cells', { cells: [] }, /choose at least one cell/],
    ['an unknown initializer', { init: 'zeros' as never }, /unknown initializer "zeros"/],
    ['a negative learning rate', { lr: -1 }, /learning rate must be > 0/],
    ['a fractional distance', { length: 2.5 }, /distance must be a positive integer/],
  ];
  for (const [name, change, message] of cases) {
    it(`refuses ${name} with one line`, () => {
      expect(() => checkSettings({ ...LAB_DEFAULTS, ...change })).toThrow(SeqlabError);
      expect(() => checkSettings({ ...LAB_DEFAULTS, ...change })).toThrow(message);
    });
  }
});

describe('LabSession', () => {
  it('logs the same losses and Jacobian norms as trainRun for the same settings and seed', async () => {
    const session = new LabSession(SMALL, { yieldNow: tick, onUpdate: () => {} });
    await session.start();
    for (const run of session.runs) {
      expect(run.status).toBe('done');
      const spec = labRunSpec(SMALL, run.cell);
      const out = join(tmp, run.cell);
      await trainRun({ ...spec, backend: tf.getBackend(), out });
      const lib = readRun(out);
      const mine = session.runData().find((r) => r.label === run.cell)!;
      expect(mine.steps).toEqual(lib.steps);
      expect(mine.evals.map((e) => e.loss)).toEqual(lib.evals.map((e) => e.loss));
      expect(mine.gradflow.map((g) => g.spectral)).toEqual(lib.gradflow.map((g) => g.spectral));
      expect(run.why?.step).toBe(SMALL.steps);
    }
    session.dispose();
  });

  it('stops no further than one step after pause, resumes, and frees every tensor on stop', async () => {
    const before = tf.memory().numTensors;
    const session = new LabSession({ ...SMALL, steps: 50 }, { yieldNow: tick, onUpdate: () => {} });
    const done = session.start();
    while (session.runs.every((r) => r.step < 2)) await tick();
    session.pause();
    for (let i = 0; i < 5; i++) await tick();
    const at = session.runs.map((r) => r.step);
    for (let i = 0; i < 50; i++) await tick();
    expect(session.runs.map((r) => r.step)).toEqual(at);
    session.resume();
    while (session.runs.every((r) => r.step <= at[0] + 1)) await tick();
    session.stop();
    await done;
    expect(session.runs.map((r) => r.status)).toEqual(['stopped', 'stopped']);
    expect(Math.max(...session.runs.map((r) => r.step))).toBeLessThan(50);
    session.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
