import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/util/errors.js';
import { writeCompare } from '../report/fixtures.js';
import { expectOneLineError, runSeqlab } from './run.js';

// `seqlab report` as a user runs it (bin/seqlab.js runs dist/: build first).
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-report-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.concurrent('seqlab report: bad input is one line and a non-zero exit', () => {
  mkdirSync(join(tmp, 'empty'));
  writeFileSync(join(tmp, 'file.txt'), 'x');
  const cases: [string, string[], number, RegExp][] = [
    ['a directory that does not exist', [join(tmp, 'nope')], EXIT_CODES.input, /run directory not found/],
    ['a directory that is not a run', [join(tmp, 'empty')], EXIT_CODES.input, /is not a seqlab run directory/],
    ['a file', [join(tmp, 'file.txt')], EXIT_CODES.input, /is a file/],
    ['no directory', [], EXIT_CODES.usage, /name a run directory/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const r = await runSeqlab(['report', ...args]);
      expectOneLineError(r, code, message);
    });
  }
});

describe('seqlab report DIR', () => {
  it('writes report.html and the plots, and prints the table with sparklines', async () => {
    const dir = join(tmp, 'cmp');
    writeCompare(dir, [
      { cell: 'rnn', rate: 0.4 },
      { cell: 'gru', rate: 0.7 },
    ]);
    const r = await runSeqlab(['report', dir]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/‖∂h_T\/∂h_k‖ against gap/);
    expect(r.stdout).toMatch(/ rnn +[▁▂▃▄▅▆▇█]+/);
    expect(r.stdout).toContain(`report: ${join(dir, 'report.html')}`);
    const json = await runSeqlab(['report', dir, '--json', '--no-png']);
    const doc = JSON.parse(json.stdout);
    expect(doc.kind).toBe('compare');
    expect(doc.plots.map((p: { id: string }) => p.id)).toEqual(
      expect.arrayContaining(['gradflow', 'accuracy-by-distance']),
    );
    expect(doc.plots.every((p: { png: string | null }) => p.png === null)).toBe(true);
    expect(readFileSync(doc.html, 'utf8')).toContain('<svg');
  });
});
