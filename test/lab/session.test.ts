import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabSession } from '../../src/lab/session.js';
import { LAB_DEFAULTS, labRunSpec, type LabSettings } from '../../src/lab/settings.js';
import { readRun } from '../../src/report/rundata.js';
import { trainRun } from '../../src/commands/train.js';

// The lab's training in Node (no browser): the same numbers as trainRun, Pause and Stop.
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-lab-session-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL: LabSettings = {
  ...LAB_DEFAULTS,
  task: 'adding',
  cells: ['rnn', 'gru'],
  hiddenSize: 4,
  seqLen: 6,
  steps: 8,
  batchSize: 4,
  evalEvery: 4,
  gradflowEvery: 4,
  spectrumEvery: 4,
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

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
      // the spectra reach the page's RunData as the report reads them from log.jsonl
      expect(mine.spectra.map((x) => x.step)).toEqual([0, 4, 8]);
      expect(mine.spectra).toEqual(lib.spectra);
      expect(run.why?.step).toBe(SMALL.steps);
    }
    session.dispose();
  });

  it('stops no further than one step after pause, resumes, and frees every tensor on stop', async () => {
    const tensorsBefore = tf.memory().numTensors;
    let held = 0;
    const session = new LabSession(
      { ...SMALL, steps: 50 },
      { yieldNow: tick, onUpdate: () => {}, onHeld: () => held++ },
    );
    const done = session.start();
    while (session.runs.every((r) => r.step < 2)) await tick();
    const before = session.runs.map((r) => r.step);
    session.pause();
    while (held === 0) await tick();
    // every run waits before its next step: at most the step under way was finished
    const at = session.runs.map((r) => r.step);
    at.forEach((step, i) => {
      expect(step - before[i]).toBeLessThanOrEqual(1);
    });
    for (let i = 0; i < 50; i++) await tick();
    expect(session.runs.map((r) => r.step)).toEqual(at);
    expect(held).toBe(1);
    session.resume();
    while (session.runs.every((r) => r.step <= at[0] + 1)) await tick();
    session.stop();
    await done;
    expect(session.runs.map((r) => r.status)).toEqual(['stopped', 'stopped']);
    expect(Math.max(...session.runs.map((r) => r.step))).toBeLessThan(50);
    session.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
