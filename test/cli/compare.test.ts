import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeeds, seedList } from '../../src/cli/compare.js';
import { EXIT_CODES } from '../../src/util/errors.js';
import { expectOneLineError, runSeqlab } from './run.js';

// `seqlab compare` as a user runs it: bad input is one "seqlab: …" line and a non-zero
// exit before any training; --json is one document with a row per (cell, length).
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-compare-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const seqlab = (args: string[]) => runSeqlab(['compare', '--backend', 'wasm', '--quiet', ...args], tmp);

describe.concurrent('seqlab compare: bad input', () => {
  const cases: [string, string[], number, RegExp][] = [
    ['unknown cell in --cells', ['--cells', 'rnn,lsmt'], EXIT_CODES.usage, /unknown cell "lsmt"/],
    ['empty --cells', ['--cells', ''], EXIT_CODES.usage, /--cells is empty/],
    ['a cell twice', ['--cells', 'lstm,lstm'], EXIT_CODES.usage, /twice/],
    ['--seq-len 0', ['--task', 'adding', '--seq-len', '0'], EXIT_CODES.usage, /--seq-len must be a positive integer/],
    ['--seq-len in a sweep', ['--task', 'adding', '--seq-len', '10,,20'], EXIT_CODES.usage, /--seq-len/],
    ['--seq-len on the agreement task', ['--seq-len', '12'], EXIT_CODES.usage, /does not apply/],
    ['bad --train-distances', ['--train-distances', '9-3'], EXIT_CODES.usage, /MIN-MAX/],
    ['unknown task', ['--task', 'sorting'], EXIT_CODES.usage, /unknown task "sorting"/],
    ['--seed beside --seeds', ['--seeds', '1-3', '--seed', '2'], EXIT_CODES.usage, /--seed and --seeds exclude/],
    ['--seeds range backwards', ['--seeds', '5-3'], EXIT_CODES.usage, /--seeds range 5-3 runs backwards/],
    ['--seeds with a seed twice', ['--seeds', '1-3,2'], EXIT_CODES.usage, /--seeds lists seed 2 twice/],
    ['--seeds not a list', ['--seeds', '1..5'], EXIT_CODES.usage, /--seeds must be a list of seeds and ranges/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const r = await seqlab([...args, '--out', join(tmp, name.replace(/\W+/g, '-'))]);
      expectOneLineError(r, code, message);
    });
  }

  it('a malformed lexicon file', async ({ expect }) => {
    const lexicon = join(tmp, 'lexicon.json');
    writeFileSync(lexicon, JSON.stringify({ nouns: [{ sg: 'homem' }] }));
    const r = await seqlab(['--lexicon', lexicon, '--out', join(tmp, 'lex')]);
    expect(r.status).toBe(EXIT_CODES.input);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^seqlab: lexicon/);
  });
});

describe('seqlab compare --json', () => {
  it('prints one JSON document with a row per cell and length, and writes compare.json and the runs', async () => {
    const out = join(tmp, 'sweep');
    const r = await seqlab([
      '--task',
      'adding',
      '--seq-len',
      '4,6',
      '--cells',
      'rnn,gru',
      '--hidden',
      '4',
      '--steps',
      '4',
      '--eval-every',
      '2',
      '--eval-size',
      '16',
      '--match-params',
      '--json',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rows.map((x: { cell: string; seqLen: number }) => `${x.cell}/${x.seqLen}`)).toEqual([
      'rnn/4',
      'gru/4',
      'rnn/6',
      'gru/6',
    ]);
    // matched parameters: the RNN (one gate) gets a wider hidden layer than the GRU (three)
    expect(doc.rows[0].hiddenSize).toBeGreaterThan(doc.rows[1].hiddenSize);
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')).rows).toHaveLength(4);
    for (const run of ['rnn-T4', 'gru-T6']) expect(existsSync(join(out, run, 'metrics.json'))).toBe(true);
  });
});

describe('--seeds', () => {
  it('reads lists and ranges in the order given, and prints consecutive seeds as ranges', () => {
    expect(parseSeeds('1-5')).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds('3, 1,7-9')).toEqual([3, 1, 7, 8, 9]);
    expect(parseSeeds('0')).toEqual([0]);
    expect(seedList([1, 2, 3, 4, 5])).toBe('1-5');
    expect(seedList([3, 1, 7, 8, 9])).toBe('3, 1, 7-9');
  });

  const tiny = ['--task', 'adding', '--seq-len', '4', '--cells', 'rnn,gru', '--hidden', '4'];
  const short = ['--steps', '4', '--eval-every', '2', '--eval-size', '16', '--gradflow-every', '2', '--no-report'];

  it('trains each cell once per seed, each as --seed would, and aggregates them (--json, compare.json)', async () => {
    const out = join(tmp, 'seeds');
    const [r, one] = await Promise.all([
      seqlab([...tiny, ...short, '--seeds', '1-2', '--json', '--out', out]),
      seqlab([...tiny, ...short, '--seed', '2', '--json', '--out', join(tmp, 'seed-2')]),
    ]);
    for (const x of [r, one]) expect(x.status, x.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.seeds).toEqual([1, 2]);
    expect(doc.rows.map((x: { cell: string; seed: number }) => `${x.cell}/${x.seed}`)).toEqual([
      'rnn/1',
      'rnn/2',
      'gru/1',
      'gru/2',
    ]);
    // seed 2 of the comparison is the run of --seed 2: same data, weights and numbers
    const numbers = (x: Record<string, unknown>) => ({ ...x, runDir: null, elapsedMs: null });
    const single = JSON.parse(one.stdout);
    expect(single.aggregates).toBeNull();
    for (const cell of ['rnn', 'gru'])
      expect(numbers(doc.rows.find((x: { cell: string; seed: number }) => x.cell === cell && x.seed === 2))).toEqual(
        numbers(single.rows.find((x: { cell: string }) => x.cell === cell)),
      );
    // one aggregate per cell, over both seeds: the mean and sd of the two rows
    expect(doc.aggregates.map((g: { settings: { cell: string } }) => g.settings.cell)).toEqual(['rnn', 'gru']);
    const [a, b] = doc.rows.slice(0, 2).map((x: { metrics: { mse: number } }) => x.metrics.mse);
    const mse = doc.aggregates[0].metrics.mse;
    expect(mse.n).toBe(2);
    expect(mse.mean).toBeCloseTo((a + b) / 2, 12);
    expect(mse.sd).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
    expect(doc.aggregates[0].censored.horizon.n).toBe(2);
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')).aggregates).toEqual(doc.aggregates);
    for (const run of ['rnn-seed1', 'gru-seed2']) expect(existsSync(join(out, run, 'metrics.json'))).toBe(true);
  });

  it('prints the rows per seed, then the table over seeds', async () => {
    const r = await seqlab([...tiny, ...short, '--seeds', '1-2', '--out', join(tmp, 'seeds-text')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^adding: rnn vs gru · backend wasm · seeds 1-2$/m);
    expect(r.stdout).toMatch(/^over seeds 1-2: mean ± sd/m);
    const table = r.stdout
      .split(/^over seeds.*$/m)[1]
      .trim()
      .split('\n');
    expect(table[0]).toMatch(/^cell +n +mse mean ± sd +95 % CI .* steps→mse≤0\.01 +horizon start +horizon end/);
    expect(table[1]).toMatch(/^ rnn +2 +\S+ ± \S+ +\[\S+, \S+\] .* [0-2] of 2 · /);
  });
});
