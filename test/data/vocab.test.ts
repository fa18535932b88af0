import { describe, expect, it } from 'vitest';
import { EOS, EOS_ID, UNK, UNK_ID, Vocabulary } from '../../src/data/vocab.js';
import { SeqlabError } from '../../src/util/errors.js';

// counts: the 4, a 3, b 2, c 2, z 1, <eos> 2 (not a word), <unk> 1 (not a word)
const stream = 'the a b the c a <eos> the z b <unk> a the c <eos>'.split(' ');

/** Catch a SeqlabError and return its message (the test fails if none is thrown). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    return (e as Error).message;
  }
  throw new Error('expected a SeqlabError');
}

describe('Vocabulary.build', () => {
  it('reserves <unk> = 0 and <eos> = 1, then orders words by count, ties by the token string', () => {
    const v = Vocabulary.build(stream);
    expect(v.tokens).toEqual([UNK, EOS, 'the', 'a', 'b', 'c', 'z']);
    expect([v.id(UNK), v.id(EOS)]).toEqual([UNK_ID, EOS_ID]);
  });

  it('min-count drops rare words; a size cap keeps the most frequent, specials included', () => {
    expect(Vocabulary.build(stream, { minCount: 2 }).tokens).toEqual([UNK, EOS, 'the', 'a', 'b', 'c']);
    expect(Vocabulary.build(stream, { minCount: 3 }).tokens).toEqual([UNK, EOS, 'the', 'a']);
    // b before c: tie broken by string
    expect(Vocabulary.build(stream, { maxSize: 5 }).tokens).toEqual([UNK, EOS, 'the', 'a', 'b']);
    expect(Vocabulary.build(stream, { minCount: 3, maxSize: 100 }).size).toBe(4);
  });

  it('does not depend on the order words first appear in', () => {
    const reversed = [...stream].reverse();
    expect(Vocabulary.build(reversed).tokens).toEqual(Vocabulary.build(stream).tokens);
  });

  it('rejects a useless min-count or size cap', () => {
    expect(errorOf(() => Vocabulary.build(stream, { minCount: 0 }))).toMatch(/^minCount must be a positive integer/);
    expect(errorOf(() => Vocabulary.build(stream, { maxSize: 2 }))).toMatch(/vocabulary size must be an integer ≥ 3/);
  });
});

describe('encode / decode', () => {
  const v = Vocabulary.build(stream, { minCount: 2 });

  it('round-trips in-vocabulary tokens', () => {
    const tokens = ['the', 'a', '<eos>', 'c', 'b'];
    expect(v.decode(v.encode(tokens))).toEqual(tokens);
    expect(Array.from(v.encode(tokens))).toEqual([2, 3, 1, 5, 4]);
  });

  it('maps unseen and rare words to <unk>, and a literal <unk> to <unk>', () => {
    const ids = v.encode(['the', 'z', 'never-seen', '<unk>']);
    expect(Array.from(ids)).toEqual([2, UNK_ID, UNK_ID, UNK_ID]);
    expect(v.decode(ids)).toEqual(['the', UNK, UNK, UNK]);
    expect(v.unkRate(['the', 'z', 'never-seen', '<unk>'])).toBe(0.75);
    expect(v.has('z')).toBe(false);
  });

  it('refuses ids outside the vocabulary', () => {
    expect(() => v.decode([v.size])).toThrow(RangeError);
  });
});

describe('saving with a checkpoint', () => {
  const v = Vocabulary.build(stream);

  it('toJSON / fromJSON round-trip through JSON text', () => {
    const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
    expect(back.tokens).toEqual(v.tokens);
    expect(back.fingerprint).toBe(v.fingerprint);
    expect(v.toJSON()).toMatchObject({ format: 'seqlab-vocabulary', version: 1, size: 7 });
  });

  it('the fingerprint is a function of the token list: same list, same print; any change, another', () => {
    expect(Vocabulary.fromTokens([...v.tokens]).fingerprint).toBe(v.fingerprint);
    expect(v.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const swapped = [...v.tokens];
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    expect(Vocabulary.fromTokens(swapped).fingerprint).not.toBe(v.fingerprint);
    expect(Vocabulary.fromTokens([...v.tokens, 'extra']).fingerprint).not.toBe(v.fingerprint);
  });

  it('a model stored with another vocabulary is detected in one line', () => {
    const other = Vocabulary.build(stream, { minCount: 2 });
    expect(() => v.assertFingerprint(v.fingerprint)).not.toThrow();
    const msg = errorOf(() => v.assertFingerprint(other.fingerprint, 'checkpoint'));
    expect(msg).toContain(`checkpoint was trained on vocabulary ${other.fingerprint}`);
    expect(msg).not.toContain('\n');
  });

  it('fromJSON rejects damaged vocabularies with one line each', () => {
    const good = v.toJSON();
    const cases: [unknown, RegExp][] = [
      [null, /must be a JSON object/],
      [[1, 2], /must be a JSON object/],
      [{ ...good, tokens: undefined }, /no "tokens" array/],
      [{ ...good, format: 'other' }, /format "other"/],
      [{ ...good, version: 2 }, /version 2/],
      [{ ...good, tokens: ['the', ...good.tokens.slice(1)] }, /must start with "<unk>", "<eos>"/],
      [{ ...good, tokens: [...good.tokens, 'the'], size: undefined, fingerprint: undefined }, /lists "the" twice/],
      [
        { ...good, tokens: [...good.tokens, ''], size: undefined, fingerprint: undefined },
        /token 7 is not a non-empty string/,
      ],
      [{ ...good, size: 99 }, /says size 99 but lists 7/],
      [{ ...good, tokens: [...good.tokens.slice(0, -1), 'q'] }, /fingerprint .* does not match its tokens/],
    ];
    for (const [json, re] of cases) {
      const msg = errorOf(() => Vocabulary.fromJSON(json));
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    }
  });
});

describe('Vocabulary.fromWordList (an order of its own: word_language_model)', () => {
  it('keeps the given ids; <unk> and <eos> are wherever the list has them', () => {
    const v = Vocabulary.fromWordList(['the', 'cat', EOS, UNK, 'sat']);
    expect([v.id('the'), v.id(EOS), v.id('sat')]).toEqual([0, 2, 4]);
    expect([v.unkId, v.eosId, v.hasReservedIds]).toEqual([3, 2, false]);
    expect(Array.from(v.encode(['the', 'dog', 'sat', EOS]))).toEqual([0, 3, 4, 2]); // dog → <unk> at 3
    expect(Vocabulary.build(stream).hasReservedIds).toBe(true);
  });

  it('without <unk>, a word outside the vocabulary is one clear line, not a silent id', () => {
    const v = Vocabulary.fromWordList(['the', 'cat', EOS]);
    expect(v.unkId).toBeNull();
    expect(Array.from(v.encode(['cat', 'the', EOS]))).toEqual([1, 0, 2]);
    expect(errorOf(() => v.encode(['the', 'dog']))).toMatch(
      /the word "dog" is not in the vocabulary \(3 words\), which has no <unk>/,
    );
    expect(errorOf(() => v.id('dog'))).toMatch(/"dog" is not in the vocabulary/);
  });

  it('round-trips through toJSON (marked order "given"), and fromJSON checks it like any other', () => {
    const v = Vocabulary.fromWordList(['the', 'cat', EOS]);
    const json = JSON.parse(JSON.stringify(v));
    expect(json.order).toBe('given');
    const back = Vocabulary.fromJSON(json);
    expect(back.tokens).toEqual(v.tokens);
    expect(back.fingerprint).toBe(v.fingerprint);
    expect(Vocabulary.build(stream).toJSON().order).toBeUndefined();
    expect(errorOf(() => Vocabulary.fromJSON({ ...json, order: 'sorted' }))).toMatch(/order "sorted"/);
    expect(errorOf(() => Vocabulary.fromJSON({ ...json, order: undefined }))).toMatch(
      /must start with "<unk>", "<eos>"/,
    );
  });

  it('refuses empty lists, empty or whitespace words and repeats with one line', () => {
    expect(errorOf(() => Vocabulary.fromWordList([]))).toMatch(/is empty/);
    expect(errorOf(() => Vocabulary.fromWordList(['a', '']))).toMatch(/token 1 is not a non-empty string/);
    expect(errorOf(() => Vocabulary.fromWordList(['a', 'b c']))).toMatch(/token 1 \("b c"\) contains whitespace/);
    expect(errorOf(() => Vocabulary.fromWordList(['a', 'b\u3000']))).toMatch(/contains whitespace/);
    expect(errorOf(() => Vocabulary.fromWordList(['a', 'b', 'a']))).toMatch(/lists "a" twice \(ids 0 and 2\)/);
  });
});
