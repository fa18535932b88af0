import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SeqlabError } from '../../../src/util/errors.js';
import type { GrammaticalNumber, Lexicon } from '../../../src/tasks/agreement/lexicon.js';

/**
 * A lexicon with one noun, one verb, one preposition, one adjective, one name and one
 * adverb: every word of a sentence is then forced by its plan and numbers, so expected
 * sentences can be written down by hand.
 */
export function tinyLexiconJson(): Record<string, unknown> {
  return {
    determiners: {
      definite: { m: { sg: 'o', pl: 'os' }, f: { sg: 'a', pl: 'as' } },
      indefinite: { m: { sg: 'um', pl: 'uns' }, f: { sg: 'uma', pl: 'umas' } },
    },
    contractions: { de: { o: 'do', a: 'da', os: 'dos', as: 'das' } },
    relativePronoun: 'que',
    nouns: [{ sg: 'homem', pl: 'homens', gender: 'm', kind: 'person' }],
    adjectives: [{ ms: 'velho', fs: 'velha', mp: 'velhos', fp: 'velhas', kinds: ['person'] }],
    verbs: [
      {
        lemma: 'ver',
        perfeito: { sg: 'viu', pl: 'viram' },
        imperfeito: { sg: 'via', pl: 'viam' },
        subjects: ['person'],
        objects: ['person'],
      },
    ],
    prepositions: [{ words: ['perto', 'de'], kinds: ['person'] }],
    namePreposition: 'de',
    names: [{ word: 'lisboa' }],
    adverbs: ['também'],
  };
}

/** Temporary files for lexicon tests; call cleanup() in afterAll. */
export function tempFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'seqlab-agreement-test-'));
  let serial = 0;
  return {
    write(content: string): string {
      const path = join(dir, `lexicon-${serial++}.json`);
      writeFileSync(path, content);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `fn` throws a SeqlabError of `code` whose message is one line matching `pattern`. */
export function expectSeqlabError(fn: () => unknown, code: string, pattern: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a SeqlabError').toBeInstanceOf(SeqlabError);
  const err = caught as SeqlabError;
  expect(err.code).toBe(code);
  expect(err.message).not.toContain('\n');
  expect(err.message).toMatch(pattern);
}

/** Word → the number it shows, for every noun form of a lexicon (forms must be unambiguous). */
export function nounNumbers(lex: Lexicon): Map<string, GrammaticalNumber> {
  const map = new Map<string, GrammaticalNumber>();
  for (const n of lex.nouns) {
    map.set(n.sg, 'sg');
    map.set(n.pl, 'pl');
  }
  return map;
}
