import { describe, expect, it } from 'vitest';
import { createTokenizer, describeTokenizer, isSpecialToken } from '../../src/data/tokenize.js';
import { SeqlabError } from '../../src/util/errors.js';

describe('en tokenizer (natural TreebankWordTokenizer)', () => {
  const en = createTokenizer({ name: 'en' });

  it('splits punctuation and contractions the Penn Treebank way', () => {
    expect(en.tokenize('He said, "I can\'t go."')).toEqual(['He', 'said', ',', '"', 'I', 'ca', "n't", 'go', '.', '"']);
  });

  it('splits a sentence-final period inside a line, but not abbreviations, initials or dotted words', () => {
    expect(en.tokenize('Mr. Smith went home. The U.S. team left at 3 p.m. J. R. Smith stayed.')).toEqual([
      'Mr.',
      'Smith',
      'went',
      'home',
      '.',
      'The',
      'U.S.',
      'team',
      'left',
      'at',
      '3',
      'p.m.',
      'J.',
      'R.',
      'Smith',
      'stayed',
      '.',
    ]);
  });

  it('keeps <unk> and <eos> whole, wherever they stand', () => {
    expect(en.tokenize('the <unk> sat.<eos>on the <unk>')).toEqual([
      'the',
      '<unk>',
      'sat',
      '.',
      '<eos>',
      'on',
      'the',
      '<unk>',
    ]);
  });

  it('lower-cases words but not special tokens', () => {
    const lower = createTokenizer({ name: 'en', lowercase: true });
    expect(lower.tokenize('The <UNK> Cat <eos>')).toEqual(['the', '<UNK>', 'cat', '<eos>']);
  });

  it('round-trips: tokenizing its own output joined by spaces gives the same tokens', () => {
    const text = 'He said, "I can\'t go." Then <unk> left the U.S. at 3.5 p.m. today. (It was late.) Yes!';
    const tokens = en.tokenize(text);
    expect(en.tokenize(tokens.join(' '))).toEqual(tokens);
  });

  it('cuts sentences after . ! ? and the closers that follow them', () => {
    // a quote after a terminator closes the sentence unless a capitalized word follows it
    expect(en.sentences('He left. "Why?" she asked! (It was late.) Ok').map((s) => s.join(' '))).toEqual([
      'He left .',
      '" Why ? "',
      'she asked !',
      '( It was late . )',
      'Ok',
    ]);
    expect(en.sentences('   ')).toEqual([]);
  });
});

describe('pt tokenizer (natural AggressiveTokenizerPt)', () => {
  const pt = createTokenizer({ name: 'pt', lowercase: true });

  it('keeps accented words, drops punctuation and digits, keeps special tokens', () => {
    expect(pt.tokenize('O homem que usava uma peruca entrou no bar, não? Ação <unk> 3 coisas.')).toEqual([
      'o',
      'homem',
      'que',
      'usava',
      'uma',
      'peruca',
      'entrou',
      'no',
      'bar',
      'não',
      'ação',
      '<unk>',
      'coisas',
    ]);
  });

  it('treats combining accents like precomposed ones (NFC)', () => {
    expect(pt.tokenize('ac\u0327a\u0303o')).toEqual(['ação']);
  });

  it('cuts sentences with natural SentenceTokenizer', () => {
    expect(pt.sentences('O Sr. Silva chegou. Os homens entraram no bar! E depois?')).toEqual([
      ['o', 'sr', 'silva', 'chegou'],
      ['os', 'homens', 'entraram', 'no', 'bar'],
      ['e', 'depois'],
    ]);
  });
});

describe('tokenizer names', () => {
  it('say which natural class does the work, so a config can record it', () => {
    expect(createTokenizer({ name: 'en' }).spec).toEqual({
      name: 'en',
      lowercase: false,
      natural: 'TreebankWordTokenizer',
    });
    expect(createTokenizer({ name: 'pt', lowercase: true }).describe()).toBe(
      'pt (natural AggressiveTokenizerPt), lowercased',
    );
    expect(describeTokenizer(createTokenizer({ name: 'whitespace' }).spec)).toBe('whitespace (split on whitespace)');
  });

  it('whitespace splits on whitespace only', () => {
    expect(createTokenizer({ name: 'whitespace' }).tokenize(" a  b,c\tdon't <unk>\n")).toEqual([
      'a',
      'b,c',
      "don't",
      '<unk>',
    ]);
  });

  it('an unknown name is a usage error', () => {
    expect(() => createTokenizer({ name: 'fr' as never })).toThrow(SeqlabError);
    expect(() => createTokenizer({ name: 'fr' as never })).toThrow(/unknown tokenizer "fr"; use en, pt, whitespace/);
  });

  it('recognizes special tokens', () => {
    for (const t of ['<unk>', '<eos>', '<s>', '</s>', '<pad_1>']) expect(isSpecialToken(t)).toBe(true);
    for (const t of ['unk', '<unk', '<>', 'a<unk>', '< unk>']) expect(isSpecialToken(t)).toBe(false);
  });
});
