import * as fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Result, runSeqlab } from '../cli/run.js';
import { SEED, anyJson, optionValue } from './harness.js';

// A sample of fuzzed inputs through the `seqlab` binary itself (yargs, the commands, main's error
// handling): exit 0, 2, 3 or 5; a failure is one "seqlab: …" line on stderr and no stack trace; a
// success with --quiet writes nothing on stderr; nothing is written outside --out, and no
// temporary file is left. Spawning costs about a second a case, so the bulk of the fuzzing is
// in-process (inputs.test.ts); the cases here are drawn with the suite's seed, SAMPLE per kind.

const SAMPLE = 3;
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-fuzz-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const W = ['--backend', 'wasm', '--quiet'];
let caseNo = 0;

/**
 * Run one case in a fresh working directory; `args` may use OUT for the output directory. `target`:
 * a directory the command writes into by design (a run given to --resume or report): no temporary
 * file may be left there either.
 */
async function fuzzCase(args: string[], target?: string): Promise<void> {
  const cwd = join(tmp, `case-${caseNo++}`);
  mkdirSync(cwd);
  const r: Result = await runSeqlab(
    args.map((a) => a.replace('OUT', join(cwd, 'out'))),
    cwd,
  );
  const shown = `seqlab ${args.join(' ')}\n${r.stderr}`;
  expect([0, 2, 3, 5], shown).toContain(r.status);
  expect(r.stderr, shown).not.toMatch(/ {4}at |internal error/);
  if (r.status === 0) expect(r.stderr, shown).toBe('');
  else expect(r.stderr, shown).toMatch(/^seqlab: [^\n]+\n$/);
  const written = readdirSync(cwd, { recursive: true, encoding: 'utf8' }).map((f) => relative(cwd, join(cwd, f)));
  for (const f of written) expect(f === 'out' || f.startsWith(`out/`), `${shown}\nwrote ${f}`).toBe(true);
  expect(
    written.filter((f) => f.endsWith('.tmp')),
    shown,
  ).toEqual([]);
  if (target)
    expect(readdirSync(target, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

/** `n` values of `arb` drawn with the suite's seed (the same cases every run). */
const draw = <T>(arb: fc.Arbitrary<T>, n = SAMPLE): T[] => fc.sample(arb, { numRuns: n, seed: SEED });

let run: string;
beforeAll(async () => {
  run = join(tmp, 'a-run');
  const r = await runSeqlab(
    ['train', '--task', 'adding', '--seq-len', '3', '--hidden', '2', '--steps', '4', '--eval-every', '2'].concat([
      '--eval-size',
      '4',
      '--gradflow-every',
      '2',
      '--no-report',
      '--out',
      run,
      ...W,
    ]),
    tmp,
  );
  expect(r.status, r.stderr).toBe(0);
});

const PROBE_FLAGS = ['cell', 'hidden', 'input-size', 'seq-len', 'batch', 'init', 'mode', 'layer', 'max-hours'];
const TRAIN_FLAGS = ['hidden', 'lr', 'optimizer', 'dropout', 'bptt', 'batch', 'layers', 'eval-every', 'init'];
const flag = (names: string[]) => fc.tuple(fc.constantFrom(...names), optionValue).map(([k, v]) => [`--${k}`, v]);

describe.concurrent(`fuzzing the seqlab binary (${SAMPLE} cases a kind)`, { timeout: 300_000 }, () => {
  const probeBase = ['probe', '--cell', 'rnn', '--hidden', '2', '--seq-len', '3', '--max-hours', '0.0001', '--json'];
  for (const [i, extra] of draw(fc.array(flag(PROBE_FLAGS), { minLength: 1, maxLength: 2 })).entries()) {
    it(`probe option values #${i}`, () => fuzzCase([...probeBase, ...W, ...extra.flat()]));
  }

  const trainBase = [
    'train',
    '--task',
    'adding',
    '--seq-len',
    '3',
    '--hidden',
    '2',
    '--steps',
    '2',
    '--eval-size',
    '4',
  ];
  for (const [i, extra] of draw(fc.array(flag(TRAIN_FLAGS), { minLength: 1, maxLength: 2 })).entries()) {
    it(`train option values #${i}`, () =>
      fuzzCase([...trainBase, '--no-report', '--out', 'OUT', ...W, ...extra.flat()]));
  }

  for (const [i, doc] of draw(
    fc.record({ cell: fc.constantFrom('rnn', 'gru', 'x'), state_dict: fc.dictionary(fc.string(), anyJson) }),
  ).entries()) {
    it(`weights file #${i}`, () => {
      const path = join(tmp, `weights-${i}.json`);
      writeFileSync(path, JSON.stringify(doc));
      return fuzzCase(['probe', '--weights', path, '--seq-len', '2', ...W]);
    });
  }

  for (const [i, text] of draw(
    fc.oneof(
      anyJson.map((d) => JSON.stringify({ inputs: d })),
      fc.string(),
    ),
  ).entries()) {
    it(`inputs file #${i}`, () => {
      const path = join(tmp, `inputs-${i}.json`);
      writeFileSync(path, text);
      return fuzzCase(['probe', '--cell', 'rnn', '--hidden', '2', '--input-size', '1', '--inputs', path, ...W]);
    });
  }

  for (const [i, [text, ext]] of draw(
    fc.tuple(
      fc.oneof(
        fc.string(),
        anyJson.map((g) => JSON.stringify({ base: { task: 'adding', steps: 1 }, grid: g })),
      ),
      fc.constantFrom('.json', '.yaml'),
    ),
  ).entries()) {
    it(`sweep file #${i}`, () => {
      const path = join(tmp, `sweep-${i}${ext}`);
      writeFileSync(path, text);
      return fuzzCase(['sweep', path, '--dry-run', '--out', 'OUT', '--quiet']);
    });
  }

  const damage = fc.tuple(
    fc.constantFrom('config.json', 'checkpoint.json', 'log.jsonl'),
    fc.oneof(fc.string(), anyJson),
  );
  for (const [i, [file, value]] of draw(damage, 2 * SAMPLE).entries()) {
    const resume = i % 2 === 0;
    it(`a damaged run directory given to ${resume ? 'train --resume' : 'report'} #${i}`, () => {
      const dir = join(tmp, `damaged-${i}`);
      mkdirSync(dir);
      for (const f of ['config.json', 'checkpoint.json', 'log.jsonl'])
        writeFileSync(join(dir, f), readFileSync(join(run, f)));
      writeFileSync(join(dir, file), typeof value === 'string' ? value : JSON.stringify(value));
      return resume ? fuzzCase(['train', '--resume', dir, ...W], dir) : fuzzCase(['report', dir], dir);
    });
  }
});
