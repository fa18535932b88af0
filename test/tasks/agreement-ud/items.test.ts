import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractItems } from '../../../src/tasks/agreement-ud/extract.js';
import { formatItems, parseItems, readItems, writeItems } from '../../../src/tasks/agreement-ud/items.js';
import { SeqlabError } from '../../../src/util/errors.js';
import { NOT_ONE_LINE } from '../../fuzz/harness.js';
import { handTreebank } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-items-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as SeqlabError).code).toBe('input');
    return (e as Error).message;
  }
  throw new Error('expected a SeqlabError');
}

const MINIMAL = { id: 'a', prefix: ['o', 'homem'], correct: 'entrou', wrong: 'entraram' };
const line = (o: object) => JSON.stringify(o);

describe('items files', () => {
  it('round-trips extracted items through JSONL', () => {
    const items = extractItems([handTreebank()]).items;
    const path = join(tmp, 'items.jsonl');
    writeItems(path, items);
    expect(readItems(path)).toEqual(items);
    expect(formatItems(items).split('\n')).toHaveLength(items.length + 1);
  });

  it('reads a minimal pair with only the four required fields, the rest defaulted', () => {
    expect(parseItems(`${line(MINIMAL)}\n\n`, 'own.jsonl')).toEqual([
      {
        ...MINIMAL,
        number: null,
        subjectIndex: null,
        distance: null,
        attractors: null,
        constructions: [],
        verbRole: null,
        lemma: null,
        cell: null,
        wrongSource: null,
        treebank: null,
        sentId: null,
        docId: null,
        variant: 0,
        twinOf: null,
      },
    ]);
  });

  it('names the line and the field of a missing or wrong field', () => {
    const second = (o: object) => () => parseItems(`${line(MINIMAL)}\n${line(o)}\n`, 'own.jsonl');
    const { correct: _c, ...noCorrect } = MINIMAL;
    expect(errorOf(second({ ...noCorrect, id: 'b' }))).toBe('own.jsonl:2: item field "correct" is missing');
    const { prefix: _p, ...noPrefix } = MINIMAL;
    expect(errorOf(second({ ...noPrefix, id: 'b' }))).toBe('own.jsonl:2: item field "prefix" is missing');
    expect(errorOf(second({ ...MINIMAL, id: 'b', wrong: null }))).toBe('own.jsonl:2: item field "wrong" is missing');
    for (const prefix of ['o homem', ['o homem'], [], ['o', '']]) {
      expect(errorOf(second({ ...MINIMAL, id: 'b', prefix }))).toMatch(/^own\.jsonl:2: item field "prefix" must be/);
    }
    expect(errorOf(second({ ...MINIMAL, id: 'b', wrong: 'entrou' }))).toBe(
      'own.jsonl:2: item field "wrong" is the same as "correct" ("entrou")',
    );
    expect(errorOf(second({ ...MINIMAL, id: 'b', distance: -1 }))).toBe(
      'own.jsonl:2: item field "distance" must be a non-negative integer or null',
    );
    expect(errorOf(second({ ...MINIMAL, id: 'b', number: 'plural' }))).toBe(
      'own.jsonl:2: item field "number" must be "sg" or "pl" or null',
    );
    expect(errorOf(second({ ...MINIMAL, id: 'b', subjectIndex: 2 }))).toBe(
      'own.jsonl:2: item field "subjectIndex" is 2, past the prefix\'s last token (1)',
    );
    expect(errorOf(second({ ...MINIMAL, id: 'b', constructions: 'relcl' }))).toBe(
      'own.jsonl:2: item field "constructions" must be an array of strings',
    );
    expect(errorOf(second(MINIMAL))).toBe('own.jsonl:2: item id "a" already used on line 1');
    expect(errorOf(second({ ...MINIMAL, id: 'b', twinOf: 'zz' }))).toBe(
      'own.jsonl:2: item field "twinOf" names "zz", which is not in the file',
    );
  });

  it('rejects lines that are not JSON objects, and empty files', () => {
    expect(errorOf(() => parseItems('{"id": "a",\n', 'x.jsonl'))).toMatch(/^x\.jsonl:1: not valid JSON \(/);
    expect(errorOf(() => parseItems('[1, 2]\n', 'x.jsonl'))).toBe('x.jsonl:1: not a JSON object');
    expect(errorOf(() => parseItems('\n \n', 'x.jsonl'))).toBe('x.jsonl: no items (expected one JSON object a line)');
    const path = join(tmp, 'none.jsonl');
    expect(errorOf(() => readItems(path))).toMatch(/^items file not found: /);
    writeFileSync(path, '');
    expect(errorOf(() => readItems(path))).toBe(`${path}: no items (expected one JSON object a line)`);
  });

  it('a line that is not JSON is one line of message, its control characters escaped (found by test/fuzz)', () => {
    // JSON.parse's message quotes the line: a carriage return or an ESC reached the terminal raw
    const msg = errorOf(() => parseItems('x\u000d{"id": "a"}\n', 'x.jsonl'));
    expect(msg).toMatch(/^x\.jsonl:1: not valid JSON \(.*\\r.*\); items are one JSON object a line$/);
    expect(NOT_ONE_LINE.test(msg)).toBe(false);
    const esc = errorOf(() => parseItems('\u001b[2J\u0005\n', 'x.jsonl'));
    expect(esc).toContain('\\u001b[2J\\u0005');
  });
});
