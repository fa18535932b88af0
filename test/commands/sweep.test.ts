import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSpec, expandGrid, parseShard, readSweepFile, shardRuns } from '../../src/commands/sweep.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-sweep-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const spec = checkSpec(
  { base: { task: 'adding', steps: 10 }, grid: { cell: ['rnn', 'gru'], 'seq-len': [5, 10, 20] } },
  'x.json',
  'x',
);

describe('expandGrid', () => {
  it('crosses the grid, first key slowest, each configuration over the base', () => {
    const runs = expandGrid(spec);
    expect(runs.map((r) => r.name)).toEqual([
      'cell=rnn seq-len=5',
      'cell=rnn seq-len=10',
      'cell=rnn seq-len=20',
      'cell=gru seq-len=5',
      'cell=gru seq-len=10',
      'cell=gru seq-len=20',
    ]);
    expect(runs[4].options).toEqual({ task: 'adding', steps: 10, cell: 'gru', 'seq-len': 10 });
    expect(runs[4].dir).toBe('cell-gru_seq-len-10');
    expect(new Set(runs.map((r) => r.dir)).size).toBe(6);
  });
});

describe('shards', () => {
  it('split the grid into disjoint round-robin parts that cover it', () => {
    const runs = expandGrid(spec);
    const parts = [0, 1, 2, 3].map((i) => shardRuns(runs, { index: i, count: 4 }).map((r) => r.index));
    expect(parts).toEqual([[0, 4], [1, 5], [2], [3]]);
    expect(shardRuns(runs, null)).toHaveLength(6);
  });
  it('parse i/n and refuse i ≥ n, n = 0 and other shapes', () => {
    expect(parseShard('1/3')).toEqual({ index: 1, count: 3 });
    expect(() => parseShard('3/2')).toThrow(/i must be below n/);
    expect(() => parseShard('0/0')).toThrow(/at least 1/);
    expect(() => parseShard('1-2')).toThrow(/i\/n/);
  });
});

describe('sweep files', () => {
  it('read YAML by extension, with a scalar grid value as a one-value list', () => {
    const path = join(tmp, 's.yaml');
    writeFileSync(path, 'name: lengths\nbase:\n  task: copy\ngrid:\n  cell: [lstm, gru]\n  seed: 3\n');
    const s = readSweepFile(path, 's');
    expect(s).toEqual({
      name: 'lengths',
      base: { task: 'copy' },
      grid: { cell: ['lstm', 'gru'], seed: [3] },
      out: null,
    });
  });
  const bad: [string, string, string, RegExp][] = [
    ['invalid JSON', 'a.json', '{"grid": ', /not valid JSON/],
    ['invalid YAML', 'b.yml', 'grid: [a, b\n', /not valid YAML/],
    ['no grid', 'c.json', '{"base": {}}', /"grid" must be an object/],
    ['an unknown key', 'd.json', '{"grid": {"cell": ["rnn"]}, "steps": 3}', /unknown key "steps"/],
    ['an empty list', 'e.json', '{"grid": {"cell": []}}', /empty list/],
    ['a nested value', 'f.json', '{"grid": {"cell": [["rnn"]]}}', /strings, numbers or booleans/],
    ['a key in base and grid', 'g.json', '{"base": {"cell": "rnn"}, "grid": {"cell": ["gru"]}}', /both base and grid/],
    ['a repeated value', 'h.json', '{"grid": {"seed": [1, 1]}}', /twice/],
  ];
  for (const [name, file, text, message] of bad) {
    it(`refuse ${name} with one line naming the file`, () => {
      const path = join(tmp, file);
      writeFileSync(path, text);
      expect(() => readSweepFile(path, 'x')).toThrow(message);
      expect(() => readSweepFile(path, 'x')).toThrow(path);
    });
  }
});
