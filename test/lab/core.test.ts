import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainRun } from '../../src/commands/train.js';
import { LabCore, errorInfo } from '../../src/lab/core.js';
import { fromErrorInfo } from '../../src/lab/engine.js';
import { LAB_DEFAULTS, labRunSpec, type LabSettings } from '../../src/lab/settings.js';
import { SeqlabError } from '../../src/util/errors.js';

// What the training worker runs, in Node: one session at a time, inspection of its runs and of
// loaded checkpoints, and errors that cross the thread boundary as data.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-lab-core-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

const TINY: LabSettings = {
  ...LAB_DEFAULTS,
  cells: ['rnn', 'lstm'],
  hiddenSize: 4,
  trainDistances: [1, 3],
  testDistances: [2, 4],
  steps: 3,
  batchSize: 4,
  evalEvery: 3,
  gradflowEvery: 3,
};

describe('LabCore', () => {
  it('trains a session, reads a sentence with one of its runs, and frees every tensor on reset', async () => {
    const before = tf.memory().numTensors;
    const core = new LabCore();
    await expect(core.inspect({ run: 'lstm' }, 'os homens')).rejects.toThrow(/no model to read with/);
    await core.start(TINY, { yieldNow: tick, onUpdate: () => {} });
    expect(core.current?.runs.map((r) => r.status)).toEqual(['done', 'done']);
    const words = await core.inspect({ run: 'lstm' }, 'os homens que usavam uma peruca');
    expect(words.map((w) => w.word)).toEqual(['os', 'homens', 'que', 'usavam', 'uma', 'peruca']);
    expect(words[1].subject).toBe('pl');
    await expect(core.inspect({ run: 'lstm' }, 'os xyzzy')).rejects.toThrow(SeqlabError);
    // a new session replaces the old one (its models freed), and a refused setting leaves none
    expect(() => core.start({ ...TINY, trainDistances: [0, 3] }, { yieldNow: tick, onUpdate: () => {} })).toThrow(
      SeqlabError,
    );
    expect(core.current).toBeNull();
    core.reset();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reads a sentence with a checkpoint.json from the CLI, and names a file that is not one', async () => {
    const out = join(tmp, 'gru');
    await trainRun({ ...labRunSpec({ ...TINY, cells: ['gru'] }, 'gru'), backend: tf.getBackend(), out });
    const core = new LabCore();
    core.loadModel('gru', JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')));
    const words = await core.inspect({ file: 'gru' }, 'a mulher que usava uma peruca');
    expect(words).toHaveLength(6);
    for (const w of words) expect(w.pPlural).toBeGreaterThanOrEqual(0);
    expect(() => core.loadModel('notes', { hello: 1 })).toThrow(/notes\/checkpoint.json is not a seqlab checkpoint/);
    await expect(core.inspect({ file: 'missing' }, 'os homens')).rejects.toThrow(/no model to read with/);
  });

  it('sends a SeqlabError across as its code and message, and a bug as a plain Error', () => {
    const usage = fromErrorInfo(errorInfo(new SeqlabError('usage', 'hidden size must be a positive integer')));
    expect(usage).toBeInstanceOf(SeqlabError);
    expect((usage as SeqlabError).code).toBe('usage');
    expect(usage.message).toBe('hidden size must be a positive integer');
    const bug = fromErrorInfo(errorInfo(new TypeError('x is undefined')));
    expect(bug).not.toBeInstanceOf(SeqlabError);
    expect(bug.message).toBe('x is undefined');
  });
});
