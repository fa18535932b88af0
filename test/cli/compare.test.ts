import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
