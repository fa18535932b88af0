import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/util/rng.js';
import {
  adjectiveForm,
  loadLexicon,
  parseLexicon,
  type GrammaticalNumber,
  type Lexicon,
} from '../../../src/tasks/agreement/lexicon.js';
import {
  CONSTRUCTION_PRESETS,
  GENERATOR_DEFAULTS,
  generateExample,
  generateExamples,
  makeSplit,
  prefixKey,
  resolveConstructions,
  type AgreementExample,
  type Construction,
  type ExampleRequest,
} from '../../../src/tasks/agreement/generator.js';
import { expectSeqlabError, nounNumbers, tinyLexiconJson } from './fixtures.js';

const lex = loadLexicon();
const tiny = parseLexicon(tinyLexiconJson(), 'tiny');
const other = (n: GrammaticalNumber): GrammaticalNumber => (n === 'sg' ? 'pl' : 'sg');

const tables = new WeakMap<Lexicon, ReturnType<typeof buildTables>>();
const formTables = (l: Lexicon) => tables.get(l) ?? tables.set(l, buildTables(l)).get(l)!;

/** Imperfect verb form → number; the adjective forms; all verb forms; noun form → number. */
function buildTables(l: Lexicon) {
  const imperfect = new Map<string, GrammaticalNumber>();
  for (const v of l.verbs) {
    imperfect.set(v.imperfeito.sg, 'sg');
    imperfect.set(v.imperfeito.pl, 'pl');
  }
  const adjectives = new Set(l.adjectives.flatMap((a) => [a.ms, a.fs, a.mp, a.fp]));
  const verbForms = new Set(l.verbs.flatMap((v) => [v.perfeito.sg, v.perfeito.pl, v.imperfeito.sg, v.imperfeito.pl]));
  return { imperfect, adjectives, verbForms, nouns: nounNumbers(l) };
}

/**
 * Everything that must hold for any sentence, checked from the lexicon rather than from
 * the generator's own bookkeeping where possible.
 */
function checkSentence(l: Lexicon, ex: AgreementExample): void {
  const { imperfect, adjectives, nouns } = formTables(l);
  const s = ex.subjectIndex;
  const v = ex.verbIndex;
  const where = ex.tokens.join(' ');
  // the subject's head noun shows the subject's number, so does its article
  expect(nouns.get(ex.tokens[s]), where).toBe(ex.number);
  const articles = ex.number === 'sg' ? ['o', 'a'] : ['os', 'as'];
  expect(articles, where).toContain(ex.tokens[s - 1]);
  // the verb agrees; the wrong form is the same verb in the other number
  const verb = l.verbs.find((vb) => vb.perfeito.sg === ex.correct || vb.perfeito.pl === ex.correct);
  expect(verb, where).toBeDefined();
  expect(ex.tokens[v]).toBe(ex.correct);
  expect(ex.correct).toBe(verb!.perfeito[ex.number]);
  expect(ex.wrong).toBe(verb!.perfeito[other(ex.number)]);
  expect(ex.wrong).not.toBe(ex.correct);
  // counts
  expect(ex.distance).toBe(v - s - 1);
  const between = ex.tokens.slice(s + 1, v);
  expect(ex.attractors, where).toBe(between.filter((w) => nouns.has(w) && nouns.get(w) !== ex.number).length);
  // every relative-clause verb and adjective agrees with the noun it points to
  ex.tokens.forEach((w, i) => {
    const c = ex.controllers[i];
    if (imperfect.has(w)) expect(imperfect.get(w), `${where}: ${w}`).toBe(nouns.get(ex.tokens[c]));
    if (adjectives.has(w)) {
      const noun = l.nouns.find((n) => n.sg === ex.tokens[c] || n.pl === ex.tokens[c])!;
      const fits = l.adjectives.some((a) => adjectiveForm(a, noun.gender, nouns.get(ex.tokens[c])!) === w);
      expect(fits, `${where}: ${w}`).toBe(true);
    }
    if (c >= 0) expect(ex.numbers[i]).toBe(nouns.get(ex.tokens[c]));
  });
  expect(ex.controllers[v]).toBe(s);
  expect(ex.tokens.every((w) => w === w.toLowerCase() && !/\s/.test(w))).toBe(true);
}

const request = (over: Partial<ExampleRequest>): ExampleRequest => ({
  distance: 3,
  attractors: 'free',
  constructions: CONSTRUCTION_PRESETS['no-cue'],
  maxDepth: 2,
  indefiniteRate: 0,
  ...over,
});

describe('hand-checked sentences (tiny lexicon: every word forced)', () => {
  // [constructions, maxDepth, distance, attractors, subject number, words before the verb, verb]
  const cases: [Construction[], number, number, number | 'free', GrammaticalNumber, string, string][] = [
    [['pp'], 1, 3, 1, 'sg', 'o homem perto dos homens', 'viu'],
    [['pp'], 1, 3, 0, 'pl', 'os homens perto dos homens', 'viram'],
    [['pp'], 1, 6, 2, 'sg', 'o homem perto dos homens perto dos homens', 'viu'],
    [['pp', 'adjective'], 1, 4, 1, 'sg', 'o homem perto dos homens velhos', 'viu'],
    [['subject-adjective', 'pp'], 1, 4, 0, 'pl', 'os homens velhos perto dos homens', 'viram'],
    [['name'], 1, 2, 'free', 'sg', 'o homem de lisboa', 'viu'],
    [['adverb'], 1, 1, 'free', 'pl', 'os homens também', 'viram'],
    [['pp'], 1, 0, 'free', 'sg', 'o homem', 'viu'],
    // subject relative: "via" agrees with the subject (a cue), "os homens" is the attractor
    [['subject-relative'], 1, 4, 1, 'sg', 'o homem que via os homens', 'viu'],
    // object relative: "viam" agrees with its own subject "os homens", not with "o homem"
    [['object-relative'], 1, 4, 1, 'sg', 'o homem que os homens viam', 'viu'],
    // nested subject relatives: the second attaches to "homens" and agrees with it
    [['subject-relative'], 2, 8, 2, 'sg', 'o homem que via os homens que viam os homens', 'viu'],
    // an object relative inside an object relative
    [['object-relative'], 2, 8, 2, 'sg', 'o homem que os homens que os homens viam viam', 'viu'],
  ];

  it.each(cases)(
    '%j depth %i, distance %i, attractors %s, %s',
    (constructions, maxDepth, distance, attractors, number, prefix, verb) => {
      for (const seed of [1, 2, 3]) {
        const ex = generateExample(
          tiny,
          new Rng(seed),
          request({ constructions, maxDepth, distance, attractors, number }),
        );
        expect(ex.tokens.slice(0, ex.verbIndex).join(' ')).toBe(prefix);
        expect(ex.subjectIndex).toBe(1);
        expect(ex.verbIndex).toBe(prefix.split(' ').length);
        expect(ex.correct).toBe(verb);
        expect(ex.wrong).toBe(verb === 'viu' ? 'viram' : 'viu');
        expect(ex.distance).toBe(distance);
        // the tiny lexicon's only verb takes an object: "o homem" or "os homens"
        expect([
          ['o', 'homem'],
          ['os', 'homens'],
        ]).toContainEqual(ex.tokens.slice(ex.verbIndex + 1));
        checkSentence(tiny, ex);
      }
    },
  );

  it('attractor counts on hand-checked sentences', () => {
    const count = (constructions: Construction[], distance: number, attractors: number, number: GrammaticalNumber) =>
      generateExample(tiny, new Rng(9), request({ constructions, distance, attractors, number })).attractors;
    expect(count(['pp'], 3, 1, 'sg')).toBe(1); // o homem perto dos homens
    expect(count(['pp'], 3, 0, 'pl')).toBe(0); // os homens perto dos homens
    expect(count(['pp'], 6, 2, 'sg')).toBe(2);
    // one attractor among two PP nouns: either one, never both
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const ex = generateExample(
        tiny,
        new Rng(seed),
        request({ constructions: ['pp'], distance: 6, attractors: 1, number: 'pl' }),
      );
      seen.add(ex.tokens.slice(0, ex.verbIndex).join(' '));
      expect(ex.attractors).toBe(1);
    }
    expect([...seen].sort()).toEqual([
      'os homens perto do homem perto dos homens',
      'os homens perto dos homens perto do homem',
    ]);
  });

  it('impossible requests are usage errors', () => {
    expectSeqlabError(
      () => generateExample(tiny, new Rng(1), request({ constructions: ['pp'], distance: 2 })),
      'usage',
      /cannot build a sentence with distance 2 from the constructions pp/,
    );
    expectSeqlabError(
      () => generateExample(tiny, new Rng(1), request({ constructions: ['pp'], distance: 3, attractors: 2 })),
      'usage',
      /distance 3 and 2 attractors/,
    );
    expectSeqlabError(
      () => generateExample(tiny, new Rng(1), request({ constructions: ['name'], distance: 4 })),
      'usage',
      /distance 4/,
    );
    expectSeqlabError(
      () =>
        generateExample(tiny, new Rng(1), request({ constructions: ['object-relative'], maxDepth: 1, distance: 8 })),
      'usage',
      /max depth 1/,
    );
    expectSeqlabError(
      () => generateExample(lex, new Rng(1), request({ distance: 1, attractors: 1 })),
      'usage',
      /distance 1 and 1 attractor from/,
    );
    expectSeqlabError(
      () => generateExample(lex, new Rng(1), request({ distance: -1 })),
      'usage',
      /distance must be a non-negative integer/,
    );
  });
});

describe('generator on the shipped lexicon', () => {
  it('is deterministic per seed', () => {
    const cfg = { constructions: CONSTRUCTION_PRESETS.all, distance: [4, 14] as [number, number] };
    const a = generateExamples(lex, new Rng(42), cfg, 200);
    const b = generateExamples(lex, new Rng(42), cfg, 200);
    const c = generateExamples(lex, new Rng(43), cfg, 200);
    expect(a).toEqual(b);
    expect(a.map((ex) => ex.tokens.join(' '))).not.toEqual(c.map((ex) => ex.tokens.join(' ')));
  });

  it('every sentence agrees, in every preset', () => {
    for (const preset of Object.keys(CONSTRUCTION_PRESETS) as (keyof typeof CONSTRUCTION_PRESETS)[]) {
      const lo = preset.startsWith('no-cue') ? 0 : 4;
      const examples = generateExamples(
        lex,
        new Rng(`agree-${preset}`),
        { constructions: CONSTRUCTION_PRESETS[preset], distance: [lo, 16], maxDepth: 3 },
        400,
      );
      for (const ex of examples) checkSentence(lex, ex);
      expect(new Set(examples.map((ex) => ex.number))).toEqual(new Set(['sg', 'pl']));
    }
  });

  it('uses every allowed construction and no other', () => {
    const all = generateExamples(
      lex,
      new Rng('mix'),
      { constructions: CONSTRUCTION_PRESETS.all, distance: [1, 16] },
      500,
    );
    expect(new Set(all.flatMap((ex) => ex.constructions))).toEqual(new Set(CONSTRUCTION_PRESETS.all));
    const noCue = generateExamples(lex, new Rng('mix'), {}, 500);
    expect(new Set(noCue.flatMap((ex) => ex.constructions))).toEqual(new Set(CONSTRUCTION_PRESETS['no-cue']));
  });

  it('hits the requested distance and attractor count exactly', () => {
    let built = 0;
    for (const constructions of [CONSTRUCTION_PRESETS['no-cue'], CONSTRUCTION_PRESETS.all]) {
      for (let distance = 0; distance <= 16; distance++) {
        for (let attractors = 0; attractors <= 3; attractors++) {
          const rng = new Rng(`exact-${distance}-${attractors}`);
          let ex: AgreementExample;
          try {
            ex = generateExample(lex, rng, request({ constructions, distance, attractors, indefiniteRate: 0.25 }));
          } catch {
            // only short distances can be too short for the nouns asked for (each noun costs ≥ 2 words)
            expect(distance).toBeLessThan(2 * attractors + 1);
            continue;
          }
          for (let i = 0; i < 10; i++) {
            if (i > 0)
              ex = generateExample(lex, rng, request({ constructions, distance, attractors, indefiniteRate: 0.25 }));
            expect(ex.distance).toBe(distance);
            expect(ex.attractors).toBe(attractors);
            checkSentence(lex, ex);
            built++;
          }
        }
      }
    }
    expect(built).toBeGreaterThan(1000);
  });

  it('the no-cue default puts no subject-agreeing word between subject and verb', () => {
    expect(GENERATOR_DEFAULTS.constructions).toEqual(CONSTRUCTION_PRESETS['no-cue']);
    // the constructions that put a word agreeing with the subject between it and the verb
    const cues: Construction[] = ['subject-adjective', 'subject-relative'];
    for (const c of cues) expect(CONSTRUCTION_PRESETS['no-cue']).not.toContain(c);
    const { verbForms } = formTables(lex);
    const nouns = nounNumbers(lex);
    const examples = generateExamples(lex, new Rng('no-cue'), { distance: [1, 16] }, 2000);
    // plural share of intervening nouns, by subject number: equal when they carry no cue
    const plural = { sg: [0, 0], pl: [0, 0] };
    for (const ex of examples) {
      for (let i = ex.subjectIndex + 1; i < ex.verbIndex; i++) {
        expect(ex.controllers[i], ex.tokens.join(' ')).not.toBe(ex.subjectIndex);
        expect(verbForms.has(ex.tokens[i])).toBe(false);
        const n = nouns.get(ex.tokens[i]);
        if (n !== undefined) {
          plural[ex.number][0] += +(n === 'pl');
          plural[ex.number][1]++;
        }
      }
    }
    const share = (x: number[]) => x[0] / x[1];
    expect(plural.sg[1]).toBeGreaterThan(1000);
    expect(Math.abs(share(plural.sg) - share(plural.pl))).toBeLessThan(0.05);
  });

  it('attractor ranges are drawn among the reachable counts', () => {
    const examples = generateExamples(lex, new Rng('range'), { distance: [3, 10], attractors: [1, 2] }, 300);
    for (const ex of examples) expect([1, 2]).toContain(ex.attractors);
    // distance 3 holds one PP noun at most: only 1 is reachable there
    expect(new Set(examples.filter((ex) => ex.distance === 3).map((ex) => ex.attractors))).toEqual(new Set([1]));
    expect(new Set(examples.map((ex) => ex.attractors))).toEqual(new Set([1, 2]));
    // distance 1 holds only an adverb in the no-cue preset: no attractor fits
    expectSeqlabError(
      () => generateExamples(lex, new Rng('range'), { distance: [1, 10], attractors: [1, 2] }, 10),
      'usage',
      /cannot build sentences at distance 1 with 1\.\.2 attractors/,
    );
  });

  it('resolves presets and construction lists', () => {
    expect(resolveConstructions('no-cue')).toEqual(['pp', 'name', 'adverb', 'adjective']);
    expect(resolveConstructions('no-cue,object-relative')).toEqual(resolveConstructions('no-cue-orc'));
    expect(resolveConstructions(['subject-relative', 'pp'])).toEqual(['pp', 'subject-relative']);
    expectSeqlabError(() => resolveConstructions('pps'), 'usage', /unknown construction "pps"; use a preset/);
    expectSeqlabError(() => resolveConstructions(''), 'usage', /empty/);
  });
});

describe('length-generalization split', () => {
  const opts = { lexicon: lex, trainMaxDistance: 4, testDistances: [3, 6, 9], trainSize: 600, testSize: 60 };

  it('respects the distance bounds and sizes', () => {
    const { train, test } = makeSplit(opts, new Rng(5));
    expect(train).toHaveLength(600);
    expect(test).toHaveLength(180);
    for (const ex of train) expect(ex.distance >= 1 && ex.distance <= 4).toBe(true);
    expect(new Set(train.map((ex) => ex.distance))).toEqual(new Set([1, 2, 3, 4]));
    for (const d of [3, 6, 9]) expect(test.filter((ex) => ex.distance === d)).toHaveLength(60);
  });

  it('has no whole-sentence (nor prefix) overlap and no duplicates', () => {
    const { train, test } = makeSplit(opts, new Rng(5));
    const trainSentences = new Set(train.map((ex) => ex.tokens.join(' ')));
    const testSentences = new Set(test.map((ex) => ex.tokens.join(' ')));
    expect(trainSentences.size).toBe(train.length);
    expect(testSentences.size).toBe(test.length);
    for (const s of testSentences) expect(trainSentences.has(s)).toBe(false);
    const trainPrefixes = new Set(train.map(prefixKey));
    for (const ex of test) expect(trainPrefixes.has(prefixKey(ex))).toBe(false);
  });

  it('is deterministic, and a distance’s test set does not depend on the other settings', () => {
    const a = makeSplit(opts, new Rng(5));
    const b = makeSplit(opts, new Rng(5));
    expect(a).toEqual(b);
    const c = makeSplit({ ...opts, trainSize: 100, testDistances: [9] }, new Rng(5));
    expect(c.test).toEqual(a.test.filter((ex) => ex.distance === 9));
  });

  it('a lexicon too small for the split is a usage error', () => {
    expectSeqlabError(
      () =>
        makeSplit({ lexicon: tiny, trainMaxDistance: 1, testDistances: [3], trainSize: 50, testSize: 2 }, new Rng(1)),
      'usage',
      /could only generate \d+ distinct training sentences of 50 wanted/,
    );
    expectSeqlabError(() => makeSplit({ ...opts, testDistances: [] }, new Rng(1)), 'usage', /at least one distance/);
    expectSeqlabError(
      () => makeSplit({ ...opts, trainMaxDistance: 0, trainMinDistance: 2 }, new Rng(1)),
      'usage',
      /trainMinDistance 2 > trainMaxDistance 0/,
    );
  });
});
