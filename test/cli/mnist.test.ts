import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MNIST_FILES } from '../../src/data/mnist.js';
import { EXIT_CODES } from '../../src/util/errors.js';
import { ROOT, expectOneLineError, runSeqlab, type Result } from './run.js';

// `seqlab mnist` and `seqlab demo` as a user runs them (dist/ must be built).

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-cli-mnist-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const idx = (dims: number[], data: number[]) =>
  Uint8Array.from([
    0,
    0,
    8,
    dims.length,
    ...dims.flatMap((d) => [(d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255]),
    ...data,
  ]);

/** An MNIST-style directory of 2×2 images in which one file is replaced. */
function dataDir(name: string, replace: Partial<Record<keyof typeof MNIST_FILES, Uint8Array>>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const images = idx([4, 2, 2], new Array(16).fill(7));
  const labels = idx([4], [0, 1, 0, 1]);
  const files = { trainImages: images, trainLabels: labels, testImages: images, testLabels: labels, ...replace };
  for (const [k, bytes] of Object.entries(files))
    writeFileSync(join(dir, MNIST_FILES[k as keyof typeof MNIST_FILES]), bytes);
  return dir;
}

const dirs: Record<string, string> = {};
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  dirs.truncated = dataDir('truncated', { trainImages: idx([4, 2, 2], new Array(15).fill(7)) });
  const magic = idx([4], [0, 1, 0, 1]);
  magic[0] = 0x12;
  magic[1] = 0x34;
  dirs.magic = dataDir('magic', { testLabels: magic });
  dirs.tiny = dataDir('tiny', {});
});

function expectCleanFailure(r: Result, exitCode: number, first: RegExp, ...more: RegExp[]) {
  expectOneLineError(r, exitCode, first);
  for (const re of more) expect(r.stderr).toMatch(re);
}

describe.concurrent('seqlab mnist / demo: bad input is one clean line', () => {
  const { usage, input } = EXIT_CODES;
  const cases: [string, () => string[], number, RegExp[]][] = [
    [
      'a truncated IDX file',
      () => ['mnist', 'deltas', '--data', dirs.truncated],
      input,
      [/train-images-idx3-ubyte is truncated/],
    ],
    [
      'an IDX file with a wrong magic number',
      () => ['mnist', 'deltas', '--data', dirs.magic],
      input,
      [/t10k-labels-idx1-ubyte is not an IDX file/, /magic number 0x12340801/],
    ],
    ['--layers 784', () => ['mnist', 'deltas', '--layers', '784'], usage, [/--layers/, /input and an output/]],
    ['--layers 784,0,10', () => ['mnist', 'deltas', '--layers', '784,0,10'], usage, [/--layers/, /positive integers/]],
    [
      '--layers not matching the data',
      () => ['mnist', 'deltas', '--layers', '784,30,9'],
      usage,
      [/number of classes 10/],
    ],
    [
      'unknown activation',
      () => ['mnist', 'depth', '--activation', 'sigmod'],
      usage,
      [/unknown activation "sigmod"/, /relu/],
    ],
    ['unknown experiment', () => ['mnist', 'dpeth'], usage, [/unknown experiment "dpeth"/]],
    [
      'unknown remedy',
      () => ['mnist', 'remedies', '--variants', 'relu,elu', '--epochs', '0'],
      usage,
      [/unknown remedy "elu"/],
    ],
    ['unknown demo', () => ['demo', 'xr'], usage, [/unknown demo "xr"/, /xor/]],
    ['bad chain weights', () => ['demo', 'chain', '--weights', '1,,2'], usage, [/--weights/]],
  ];
  for (const [label, args, code, names] of cases) {
    it(label, async () => expectCleanFailure(await runSeqlab(args()), code, names[0], ...names.slice(1)));
  }
});

describe.concurrent('seqlab mnist / demo: results', () => {
  it('mnist deltas --json prints one document with a row per network', async () => {
    const r = await runSeqlab(['mnist', 'deltas', '--layers', '784,30,10/784,30,30,10', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      experiment: 'deltas',
      engine: 'js-float64',
      seed: 1,
      data: { train: 50_000, probe: 1000 },
    });
    expect(doc.rows.map((row: { name: string }) => row.name)).toEqual(['784-30-10', '784-30-30-10']);
    expect(doc.rows[1].deltaNormsInit).toHaveLength(2);
  });

  it('mnist depth on a --data directory trains and prints its table', async () => {
    const r = await runSeqlab([
      'mnist',
      'depth',
      '--data',
      dirs.tiny,
      '--layers',
      '4,3,2',
      '--epochs',
      '2',
      '--no-out',
      '--quiet',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/accuracy by depth/);
    expect(r.stdout).toMatch(/4-3-2/);
  });

  it('demo chain --json: formula beside autograd', async () => {
    const r = await runSeqlab([
      'demo',
      'chain',
      '--weights',
      '0.5,-1,2,0.8',
      '--biases',
      '0,0.1,-0.2,0.3',
      '--json',
      '--backend',
      'wasm',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.demo).toBe('chain');
    expect(doc.cases[0].weights).toEqual([0.5, -1, 2, 0.8]);
    expect(Math.abs(doc.cases[0].autograd / doc.cases[0].formula - 1)).toBeLessThan(1e-4);
  });

  it('demo xor and demo activations print their tables', async () => {
    const xor = await runSeqlab(['demo', 'xor', '--survey', '0']);
    expect(xor.status, xor.stderr).toBe(0);
    expect(xor.stdout).toMatch(/accuracy 100 %/);
    const act = await runSeqlab(['demo', 'activations', '--json']);
    expect(act.status, act.stderr).toBe(0);
    expect(JSON.parse(act.stdout).rows).toHaveLength(6);
  });

  it('train --task mnist trains an MLP through the same options; RNN-only options are refused', async () => {
    const out = join(tmp, 'train-mnist');
    const r = await runSeqlab([
      'train',
      '--task',
      'mnist',
      '--layers',
      '784,10',
      '--epochs',
      '1',
      '--out',
      out,
      '--json',
      '--quiet',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.experiment).toBe('train');
    expect(doc.rows[0].training.test.accuracy).toBeGreaterThan(0.85);
    expectCleanFailure(
      await runSeqlab(['train', '--task', 'mnist', '--hidden', '5']),
      EXIT_CODES.usage,
      /--hidden does not apply to --task mnist/,
    );
  });
});
