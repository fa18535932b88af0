import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../src/data/mnist.js';
import { mnistRun } from '../../src/commands/mnist.js';

// The MNIST experiments (src/commands/mnist.ts) on the real data, cut down to seconds.

const data = loadMnist();
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-mnist-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('mnist experiments', () => {
  it('deltas: at initialization each earlier sigmoid layer learns several times slower (Nielsen ch. 5)', () => {
    const r = mnistRun({ experiment: 'deltas', seed: 1 }, data);
    expect(r.rows.map((row) => row.name)).toEqual(['784-30-30-10', '784-30-30-30-10', '784-30-30-30-30-10']);
    for (const row of r.rows) {
      const d = row.deltaNormsInit;
      expect(d).toHaveLength(row.layers.length - 2);
      for (let l = 1; l < d.length; l++)
        expect(d[l] / d[l - 1], `${row.name} layer ${l + 1} over ${l}`).toBeGreaterThan(2.5);
    }
    expect(r.rows[2].ratioInit).toBeGreaterThan(30);
    expect(r.train).toBeNull();
  });

  it('remedies at init: ReLU with He init and batch norm bring last/first toward 1', () => {
    const r = mnistRun({ experiment: 'remedies', train: { epochs: 0 }, inits: 3, seed: 1 }, data);
    const ratio = Object.fromEntries(r.rows.map((row) => [row.name, row.ratioInit]));
    expect(ratio.sigmoid).toBeGreaterThan(30);
    expect(Math.abs(Math.log(ratio['relu-he']))).toBeLessThan(Math.log(ratio.sigmoid) / 3);
    // batch norm: the per-example size of δ, which the batch mean cannot cancel
    const rms = Object.fromEntries(r.rows.map((row) => [row.name, row.ratioRmsInit]));
    expect(rms.sigmoid).toBeGreaterThan(30);
    expect(rms['sigmoid-bn']).toBeLessThan(4);
    expect(Math.abs(Math.log(rms['relu-he-bn']))).toBeLessThan(Math.log(4));
  });

  it('depth (cut down): trains, evaluates on validation and test, writes run directories', () => {
    const out = join(tmp, 'depth');
    const r = mnistRun(
      {
        experiment: 'depth',
        nets: [[784, 10, 10]],
        trainSize: 500,
        probeSize: 100,
        train: { epochs: 2, lr: 1 },
        out,
        seed: 1,
      },
      data,
    );
    const t = r.rows[0].training!;
    expect([t.epochs, t.steps]).toEqual([2, 100]);
    expect(t.bestValidation!.accuracy!).toBeGreaterThan(0.5);
    expect(t.test!.accuracy!).toBeGreaterThan(0.5);
    expect(t.deltaNorms).toHaveLength(3); // init + 2 epochs
    expect(r.data).toMatchObject({ train: 500, validation: 10_000, test: 10_000, probe: 100 });
    expect(readdirSync(out).sort()).toEqual(['784-10-10', 'mnist-depth.json']);
    expect(readdirSync(join(out, '784-10-10')).sort()).toEqual([
      'checkpoint.json',
      'config.json',
      'log.jsonl',
      'metrics.json',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'mnist-depth.json'), 'utf8')).rows[0].training.steps).toBe(100);
  });

  it('speed (cut down): full-batch training, δ after every epoch', () => {
    const r = mnistRun(
      { experiment: 'speed', nets: [[784, 8, 8, 10]], trainSize: 100, train: { epochs: 3 }, seed: 1 },
      data,
    );
    const t = r.rows[0].training!;
    expect(t.steps).toBe(3); // one full batch per epoch
    expect(t.deltaNorms).toHaveLength(4);
    expect(t.deltaNorms[0]).toEqual(r.rows[0].deltaNormsInit);
    expect(t.test).toBeNull();
  });
});
