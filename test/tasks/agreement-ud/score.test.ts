import { describe, expect, it } from 'vitest';
import { KneserNeyModel } from '../../../src/data/ngram.js';
import { EOS, EOS_ID, Vocabulary } from '../../../src/data/vocab.js';
import {
  MAX_OOV_SHARE,
  UnigramLM,
  accuracyByDecade,
  distanceLabel,
  prefixIds,
  requireCoverage,
  summarizeAccuracy,
  tokenLMScores,
  vocabularyCoverage,
} from '../../../src/tasks/agreement-ud/score.js';
import { SeqlabError } from '../../../src/util/errors.js';
import { item } from './fixtures.js';

// a toy train text: "o cão corre" three times, "os cães correm" once
const SENTENCES = [
  ['o', 'cão', 'corre'],
  ['o', 'cão', 'corre'],
  ['os', 'cães', 'correm'],
  ['o', 'cão', 'corre'],
];
const STREAM = SENTENCES.flatMap((s) => [...s, EOS]);
const vocab = Vocabulary.build(STREAM);
const ids = vocab.encode(STREAM);

describe('coverage', () => {
  it('leaves out an item when its correct or its wrong form is not a word of the vocabulary', () => {
    const items = [
      item('a', ['o', 'cão'], 'corre', 'correm'),
      item('b', ['o', 'gato'], 'corre', 'correram'), // wrong form unknown
      item('c', ['os', 'gatos'], 'miam', 'corre'), // correct form unknown
      item('d', ['os'], EOS, 'corre'), // <eos> is not a verb form
    ];
    const c = vocabularyCoverage(items, vocab);
    expect(c.scored).toEqual([0]);
    expect(c.oov).toEqual([1, 2, 3]);
    expect(c.oovShare).toBe(0.75);
  });

  it(`refuses with one line when more than ${100 * MAX_OOV_SHARE} % are left out, and accepts exactly half`, () => {
    const half = [item('a', ['o'], 'corre', 'correm'), item('b', ['o'], 'x', 'y')];
    expect(() => requireCoverage(vocabularyCoverage(half, vocab), 2, vocab, 'm')).not.toThrow();
    const most = [...half, item('c', ['o'], 'z', 'w')];
    const err = (() => {
      try {
        requireCoverage(vocabularyCoverage(most, vocab), 3, vocab, 'checkpoint m');
      } catch (e) {
        return e as SeqlabError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(SeqlabError);
    expect(err!.code).toBe('input');
    expect(err!.message).toMatch(
      /^checkpoint m: its vocabulary \(\d+ tokens\) lacks a verb form of 2 of 3 items \(67 %/,
    );
    expect(err!.message).not.toContain('\n');
  });

  it('reads a prefix as the LM reads a sentence: <eos> first, unknown words as <unk>', () => {
    expect(Array.from(prefixIds(vocab, ['o', 'gato']))).toEqual([EOS_ID, vocab.id('o'), 0]);
  });
});

describe('baselines as token LMs', () => {
  const items = [
    item('sg', ['o', 'cão'], 'corre', 'correm', { number: 'sg' }),
    item('pl', ['os', 'cães'], 'correm', 'corre', { number: 'pl' }),
  ];

  it('frequency: the more frequent form wins whatever the prefix; ln p = ln(c / N)', () => {
    const lm = new UnigramLM(ids, vocab.size);
    const scores = tokenLMScores(lm, vocab, items);
    // 16 tokens: corre 3, correm 1
    expect(scores[0].correct).toBeCloseTo(Math.log(3 / 16), 12);
    expect(scores[0].wrong).toBeCloseTo(Math.log(1 / 16), 12);
    expect(scores.map((s) => s.correct > s.wrong)).toEqual([true, false]);
  });

  it('Kneser–Ney: the form seen after the subject wins in both numbers', () => {
    // fixed discounts D = 0.5, 1, 1.5 (estimated ones need more counts than this text has): after "os cães",
    // p(correm) ≥ (1 − 0.5)/1 from the trigram alone, while p(corre) = 0.5 · 0.5 · p₁(corre) < 0.25
    const D = [0.5, 1, 1.5] as const;
    const kn = KneserNeyModel.train(ids, { order: 3, vocabSize: vocab.size, discounts: [D, D, D] });
    const scores = tokenLMScores(kn, vocab, items);
    expect(scores.map((s) => s.correct > s.wrong)).toEqual([true, true]);
    // the same numbers as asking the model directly with <eos> before the prefix
    expect(scores[1].correct).toBeCloseTo(
      kn.logProb([EOS_ID, vocab.id('os'), vocab.id('cães')], vocab.id('correm')),
      12,
    );
  });
});

describe('summarizeAccuracy', () => {
  const items = [
    item('a', ['o'], 'x', 'y', { distance: 0, attractors: 0, number: 'sg', constructions: ['adjacent'] }),
    item('b', ['o'], 'x', 'y', { distance: 3, attractors: 1, number: 'pl', constructions: ['relcl', 'nmod'] }),
    item('b~n1', ['o'], 'x', 'y', { distance: 3, attractors: 4, number: 'pl', variant: 1, twinOf: 'b' }),
    item('c', ['o'], 'x', 'y', { distance: 25 }),
    item('own', ['o'], 'x', 'y'), // a pair without the descriptive fields
  ];
  const pass = { correct: -1, wrong: -2 };
  const fail = { correct: -2, wrong: -1 };
  const tie = { correct: -1, wrong: -1 };

  it('counts passes overall and per bin; ties fail; cells without items are kept (n 0, accuracy null)', () => {
    const s = summarizeAccuracy(items, [0, 1, 2, 3, 4], [pass, fail, pass, tie, pass]);
    expect(s.overall).toEqual({ label: 'all', n: 5, passed: 3, accuracy: 0.6 });
    expect(s.ties).toBe(1);
    expect(s.byVariant).toEqual([
      { label: 'original', n: 4, passed: 2, accuracy: 0.5 },
      { label: 'nonce', n: 1, passed: 1, accuracy: 1 },
    ]);
    const byLabel = (cells: { label: string }[]) => Object.fromEntries(cells.map((c) => [c.label, c]));
    const d = byLabel(s.byDistance);
    expect(s.byDistance.map((c) => c.label)).toEqual(['0', '1', '2', '3–4', '5–7', '8–11', '12–19', '20+']);
    expect(d['0']).toMatchObject({ n: 1, passed: 1 });
    expect(d['3–4']).toMatchObject({ n: 2, passed: 1, accuracy: 0.5 });
    expect(d['20+']).toMatchObject({ n: 1, passed: 0, accuracy: 0 });
    expect(d['1']).toEqual({ label: '1', n: 0, passed: 0, accuracy: null });
    expect(s.byAttractors.map((c) => [c.label, c.n])).toEqual([
      ['0', 1],
      ['1', 1],
      ['2', 0],
      ['3+', 1],
    ]);
    const c = byLabel(s.byConstruction);
    expect(c.relcl).toMatchObject({ n: 1, passed: 0 });
    expect(c.nmod).toMatchObject({ n: 1, passed: 0 });
    expect(c.adjacent).toMatchObject({ n: 1, passed: 1 });
    expect(s.byNumber).toEqual([
      { label: 'sg', n: 1, passed: 1, accuracy: 1 },
      { label: 'pl', n: 2, passed: 1, accuracy: 0.5 },
    ]);
    expect(s.balanced).toBe(0.75); // (1 + 0.5) / 2
  });

  it('scores a subset of the items by their indices', () => {
    const s = summarizeAccuracy(items, [1, 3], [pass, pass]);
    expect(s.overall.n).toBe(2);
    expect(s.byVariant[1].n).toBe(0);
    expect(s.balanced).toBeNull(); // no singular item among them
  });

  it('bins distances as the docs do', () => {
    expect([0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 19, 20, 99].map(distanceLabel)).toEqual([
      '0',
      '1',
      '2',
      '3–4',
      '3–4',
      '5–7',
      '5–7',
      '8–11',
      '8–11',
      '12–19',
      '12–19',
      '20+',
      '20+',
    ]);
  });
});

describe('accuracyByDecade', () => {
  it('bins norms by decade from the smallest to the largest present (empty decades kept), nulls left out', () => {
    const pass = { correct: 0, wrong: -1 };
    const fail = { correct: -1, wrong: 0 };
    const cells = accuracyByDecade([0.5, 0.01, 0.0099, 1, null, 3e-5], [pass, pass, fail, fail, pass, fail]);
    expect(cells.map((c) => [c.label, c.n, c.passed])).toEqual([
      ['1e-5–1e-4', 1, 0],
      ['1e-4–1e-3', 0, 0],
      ['1e-3–1e-2', 1, 0],
      ['1e-2–1e-1', 1, 1],
      ['1e-1–1e0', 1, 1],
      ['1e0–1e1', 1, 0],
    ]);
  });

  it('puts everything below 1e-8 (an exact zero too) in one bin', () => {
    const ok = { correct: 0, wrong: -1 };
    const cells = accuracyByDecade([0, 3e-12, 2e-8, 0.5], [ok, ok, ok, ok]);
    expect(cells.map((c) => [c.label, c.n])).toEqual([
      ['<1e-8', 2],
      ['1e-8–1e-7', 1],
      ['1e-7–1e-6', 0],
      ['1e-6–1e-5', 0],
      ['1e-5–1e-4', 0],
      ['1e-4–1e-3', 0],
      ['1e-3–1e-2', 0],
      ['1e-2–1e-1', 0],
      ['1e-1–1e0', 1],
    ]);
  });
});
