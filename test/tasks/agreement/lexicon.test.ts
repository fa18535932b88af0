import { afterAll, describe, expect, it } from 'vitest';
import {
  adjectiveForm,
  lexiconWords,
  loadLexicon,
  parseLexicon,
  prepositionWithArticle,
} from '../../../src/tasks/agreement/lexicon.js';
import { expectSeqlabError, tempFiles, tinyLexiconJson } from './fixtures.js';

const files = tempFiles();
afterAll(files.cleanup);

/**
 * The tiny fixture's JSON as these tests edit it: what they delete is optional, what they set admits the
 * wrong values they set it to (a whole list, deleted or replaced by a string, through a wider type).
 */
interface TinyLexiconJson {
  nouns: { sg: string | number; pl?: string; gender?: string }[];
  adjectives: unknown[];
  verbs: {
    perfeito: { sg: string; pl?: string };
    imperfeito?: { sg: string; pl: string };
    subjects: string | string[];
    objects: string[] | null;
    place?: string;
  }[];
  contractions: Record<string, Record<string, string>>;
}

/** The tiny lexicon with one change, written to a file, loaded: must fail with `pattern`. */
function expectBad(change: (lex: TinyLexiconJson) => void, pattern: RegExp): void {
  const lex = tinyLexiconJson() as unknown as TinyLexiconJson;
  change(lex);
  const path = files.write(JSON.stringify(lex));
  expectSeqlabError(() => loadLexicon(path), 'input', pattern);
}

describe('shipped lexicon', () => {
  const lex = loadLexicon();

  it('has the sizes the probe needs', () => {
    expect(lex.nouns.length).toBeGreaterThanOrEqual(40);
    expect(lex.verbs.length).toBeGreaterThanOrEqual(30);
    const kinds = new Set(lex.nouns.map((n) => n.kind));
    for (const k of ['person', 'animal', 'object', 'place']) expect(kinds.has(k)).toBe(true);
    for (const g of ['m', 'f'] as const) expect(lex.nouns.some((n) => n.gender === g)).toBe(true);
    expect(lex.adjectives.length).toBeGreaterThanOrEqual(10);
    expect(lex.prepositions.length).toBeGreaterThanOrEqual(5);
  });

  it('contracts prepositions with articles', () => {
    expect(prepositionWithArticle(lex, ['em'], 'o')).toEqual(['no']);
    expect(prepositionWithArticle(lex, ['perto', 'de'], 'os')).toEqual(['perto', 'dos']);
    expect(prepositionWithArticle(lex, ['em', 'frente', 'a'], 'as')).toEqual(['em', 'frente', 'às']);
    expect(prepositionWithArticle(lex, ['com'], 'a')).toEqual(['com', 'a']);
  });

  it('noun forms are unambiguous in number, and verb forms are only verb forms', () => {
    const sg = new Set(lex.nouns.map((n) => n.sg));
    for (const n of lex.nouns) expect(sg.has(n.pl), n.pl).toBe(false);
    const verbForms = new Set(
      lex.verbs.flatMap((v) => [v.perfeito.sg, v.perfeito.pl, v.imperfeito.sg, v.imperfeito.pl]),
    );
    expect(verbForms.size).toBe(lex.verbs.length * 4);
    for (const n of lex.nouns) expect(verbForms.has(n.sg) || verbForms.has(n.pl)).toBe(false);
  });

  it('adjective forms follow gender and number', () => {
    const alto = lex.adjectives.find((a) => a.ms === 'alto')!;
    expect(adjectiveForm(alto, 'f', 'pl')).toBe('altas');
    expect(adjectiveForm(alto, 'm', 'sg')).toBe('alto');
  });

  it('its word list is sorted and unique', () => {
    const words = lexiconWords(lex);
    expect([...words].sort()).toEqual(words);
    expect(new Set(words).size).toBe(words.length);
    expect(words).toContain('entraram');
    expect(words).toContain('das');
  });
});

describe('malformed lexicon files: one clear line each', () => {
  it('accepts the tiny fixture', () => {
    expect(parseLexicon(tinyLexiconJson(), 'tiny').nouns).toHaveLength(1);
  });

  it('a missing file, an empty file, not JSON', () => {
    expectSeqlabError(() => loadLexicon('/nonexistent/lexicon.json'), 'input', /lexicon file not found/);
    expectSeqlabError(() => loadLexicon(files.write('  \n')), 'input', /lexicon file is empty/);
    expectSeqlabError(() => loadLexicon(files.write('{ "nouns": [ ')), 'input', /lexicon file is not valid JSON/);
  });

  it('not an object at the top', () => {
    expectSeqlabError(() => loadLexicon(files.write('[1, 2]')), 'input', /the top level must be an object, got a list/);
  });

  it('a missing field', () => {
    expectBad((l) => delete (l as Partial<TinyLexiconJson>).verbs, /the top level has no "verbs" field/);
    expectBad((l) => delete l.nouns[0].gender, /nouns\[0\] \("homem"\) has no "gender" field/);
    expectBad((l) => delete l.verbs[0].imperfeito, /verbs\[0\] \("ver"\) has no "imperfeito" field/);
  });

  it('a noun without a plural', () => {
    expectBad((l) => delete l.nouns[0].pl, /nouns\[0\] \("homem"\) has no plural/);
  });

  it('a verb without a plural form, or with equal forms', () => {
    expectBad((l) => delete l.verbs[0].perfeito.pl, /verbs\[0\] \("ver"\)\.perfeito has no plural/);
    expectBad((l) => (l.verbs[0].perfeito.pl = 'viu'), /same singular and plural form "viu"/);
  });

  it('wrong types', () => {
    expectBad((l) => ((l as { nouns: unknown }).nouns = 'homem'), /nouns must be a list, got the string "homem"/);
    expectBad((l) => (l.nouns[0].sg = 3), /nouns\[0\]\.sg must be a string, got a number/);
    expectBad((l) => (l.nouns[0].gender = 'n'), /gender must be "m" or "f", got "n"/);
    expectBad((l) => (l.verbs[0].subjects = 'person'), /subjects must be a list of strings/);
    expectBad((l) => (l.nouns[0].sg = 'bom homem'), /must be a single word, got "bom homem"/);
  });

  it('empty lists', () => {
    expectBad((l) => (l.adjectives = []), /adjectives is an empty list/);
    expectBad((l) => (l.verbs[0].subjects = []), /subjects is an empty list/);
  });

  it('references that do not resolve', () => {
    expectBad((l) => (l.verbs[0].subjects = ['peson']), /names the kind "peson", which no noun has/);
    expectBad((l) => delete l.contractions.de.os, /contractions\.de has no entry for the article "os"/);
    expectBad((l) => (l.verbs[0].objects = null), /no transitive verb/);
    expectBad((l) => (l.verbs[0].place = 'em'), /needs nouns of kind "place"/);
  });

  it('a verb form that is also another word', () => {
    expectBad((l) => (l.verbs[0].perfeito.sg = 'homem'), /the verb form "homem" \(ver\) is also the noun "homem"/);
  });

  it('names the file in the message', () => {
    const lex = tinyLexiconJson() as unknown as TinyLexiconJson;
    delete lex.nouns[0].pl;
    const path = files.write(JSON.stringify(lex));
    expectSeqlabError(
      () => loadLexicon(path),
      'input',
      new RegExp(`^lexicon ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
    );
  });
});
