import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/util/errors.js';
import { BIN, expectOneLineError, runSeqlab } from './run.js';

// `seqlab sweep` as a user runs it: bad input fails before anything runs; a sweep run at
// once, in shards, or killed and run again gives the same results table, and (its grid has a
// seed axis) the same table over seeds.
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-sweep-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const config = join(tmp, 'tiny.yaml');
writeFileSync(
  config,
  [
    'base:',
    '  task: adding',
    '  seq-len: 4',
    '  steps: 4',
    '  hidden: 4',
    '  eval-size: 16',
    '  eval-every: 2',
    '  gradflow-every: 2',
    'grid:',
    '  cell: [rnn, gru]',
    '  seed: [1, 2]',
    '',
  ].join('\n'),
);
const sweep = (args: string[]) => runSeqlab(['sweep', '--backend', 'wasm', ...args], tmp);

describe.concurrent('seqlab sweep: bad input is one line and a non-zero exit', () => {
  const file = (name: string, text: string) => {
    writeFileSync(join(tmp, name), text);
    return join(tmp, name);
  };
  mkdirSync(join(tmp, 'not-a-sweep'));
  const cases: [string, () => string[], number, RegExp][] = [
    [
      'a malformed sweep file',
      () => [file('bad.json', '{"grid": {"cell": ["rnn"]')],
      EXIT_CODES.input,
      /not valid JSON/,
    ],
    [
      'an unknown option in the grid',
      () => [file('opt.json', '{"grid": {"cels": ["rnn"]}}')],
      EXIT_CODES.input,
      /unknown option "cels"/,
    ],
    [
      'a bad value in the grid',
      () => [file('val.json', '{"base": {"task": "adding"}, "grid": {"cell": ["rnn", "lsmt"]}}')],
      EXIT_CODES.input,
      /cell=lsmt.*unknown cell "lsmt"/,
    ],
    ['--shard 3/2', () => [config, '--shard', '3/2'], EXIT_CODES.usage, /--shard 3\/2: i must be below n/],
    ['--workers 0', () => [config, '--workers', '0'], EXIT_CODES.usage, /--workers must be a positive integer/],
    [
      '--collect on a directory that is not a sweep',
      () => ['--collect', join(tmp, 'not-a-sweep')],
      EXIT_CODES.input,
      /not a sweep directory/,
    ],
    ['no sweep file', () => [], EXIT_CODES.usage, /name a sweep file/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const r = await sweep([...args(), '--out', join(tmp, `out-${name.replace(/\W+/g, '-')}`)]);
      expectOneLineError(r, code, message);
    });
  }
});

/** Start a sweep and SIGTERM it once its first configuration has finished. */
function killAfterFirst(args: string[]): Promise<void> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'sweep', '--backend', 'wasm', ...args], { cwd: tmp });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (/\[1\/\d+\] .*finished/.test(d)) child.kill('SIGTERM');
    });
    child.on('close', () => done());
  });
}

describe('seqlab sweep', () => {
  const title =
    'gives the same tables (results, over seeds) at once (2 workers) as in two shards, one killed half way ' +
    'and resumed, + --collect';
  it(title, async () => {
    const whole = join(tmp, 'whole');
    const sharded = join(tmp, 'sharded');
    // shard 1/2 runs beside the whole sweep; shard 0/2 is killed after its first configuration
    const [a, s1] = await Promise.all([
      sweep([config, '--out', whole, '--workers', '2', '--quiet']),
      sweep([config, '--out', sharded, '--shard', '1/2']),
      killAfterFirst([config, '--out', sharded, '--shard', '0/2']),
    ]);
    for (const r of [a, s1]) expect(r.status, r.stderr).toBe(0);
    expect(a.stdout).toContain('results:');
    expect(s1.stdout).toMatch(/shard 1\/2: done \(2 ran, 0 skipped\)/);
    expect(existsSync(join(sharded, 'results.csv'))).toBe(false);
    const table = readFileSync(join(whole, 'results.csv'), 'utf8');
    expect(table.trim().split('\n')).toHaveLength(5);
    expect(table).toMatch(/^name,cell,seed,status,steps,params,loss,mse,.*,horizon,probeT,decayPerStep\n/);
    expect(existsSync(join(whole, 'report.html'))).toBe(true);
    // over seeds: one row per cell, its mse the mean and sd of the cell's two seeds
    const seeds = JSON.parse(readFileSync(join(whole, 'seeds.json'), 'utf8'));
    expect(seeds.map((g: { settings: { cell: string }; seeds: number[] }) => [g.settings.cell, g.seeds])).toEqual([
      ['rnn', [1, 2]],
      ['gru', [1, 2]],
    ]);
    const results = JSON.parse(readFileSync(join(whole, 'results.json'), 'utf8')).rows;
    const [m1, m2] = results.filter((r: { cell: string }) => r.cell === 'gru').map((r: { mse: number }) => r.mse);
    expect(seeds[1].metrics.mse.mean).toBeCloseTo((m1 + m2) / 2, 12);
    expect(seeds[1].metrics.mse.sd).toBeCloseTo(Math.abs(m1 - m2) / Math.SQRT2, 12);
    const seedsCsv = readFileSync(join(whole, 'seeds.csv'), 'utf8');
    expect(seedsCsv).toMatch(/^cell,seeds,loss\.n,loss\.mean,loss\.sd,loss\.ci95\.lo,loss\.ci95\.hi,mse\.n,/);
    expect(seedsCsv).toMatch(/\nrnn,1 2,2,/);
    expect(a.stdout).toMatch(/^over seeds: mean ± sd/m);

    // the killed shard left one configuration finished; running it again runs only the other
    const finished = readdirSync(sharded).filter((d) => existsSync(join(sharded, d, 'metrics.json'))).length;
    expect(finished).toBe(3);
    const again = await sweep([config, '--out', sharded, '--shard', '0/2']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('1 already finished, 1 to run');
    expect(again.stderr).toContain('ran 1 configuration');
    const c = await sweep(['--collect', sharded]);
    expect(c.status, c.stderr).toBe(0);
    expect(readFileSync(join(sharded, 'results.csv'), 'utf8')).toBe(table);
    expect(readFileSync(join(sharded, 'seeds.csv'), 'utf8')).toBe(seedsCsv);
    expect(JSON.parse(readFileSync(join(sharded, 'seeds.json'), 'utf8'))).toEqual(seeds);
  });
});
