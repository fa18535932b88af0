import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EOS, UNK, Vocabulary } from '../../src/data/vocab.js';
import {
  formatVocabFile,
  parseVocabFile,
  readVocabFile,
  readWordLMCorpus,
  wordLMDictionary,
  wordLMTokens,
  writeVocabFile,
} from '../../src/data/word-lm-corpus.js';
import { SeqlabError } from '../../src/util/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8'));

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

describe("word_language_model's reading of text", () => {
  it('every line, blank ones too, ends in <eos>; \\n, \\r\\n and \\r end lines; a final newline adds none', () => {
    expect(wordLMTokens('a b\n\n c  d \r\ne\rf')).toEqual(['a', 'b', EOS, EOS, 'c', 'd', EOS, 'e', EOS, 'f', EOS]);
    expect(wordLMTokens('a\n')).toEqual(['a', EOS]);
    expect(wordLMTokens('a\n\n')).toEqual(['a', EOS, EOS]);
    expect(wordLMTokens('')).toEqual([]);
  });

  it("splits words on Python's whitespace (\\x1c–\\x1f, \\x85, NBSP, ideographic space) but not on a BOM", () => {
    expect(wordLMTokens('a\x1cb\x85c\xa0d\u3000e\tf')).toEqual(['a', 'b', 'c', 'd', 'e', 'f', EOS]);
    expect(wordLMTokens('\ufeffa b')).toEqual(['\ufeffa', 'b', EOS]);
  });

  it("reads the fixture corpus into the token counts PyTorch's script found", () => {
    const splits = readWordLMCorpus(join(FIXTURES, 'corpus'));
    expect({ train: splits.train.length, valid: splits.valid.length, test: splits.test.length }).toEqual(
      manifest.tokens,
    );
  });

  it("numbers words by first appearance over train, valid, test: the fixture's Dictionary, id for id", () => {
    const dict = wordLMDictionary(readWordLMCorpus(join(FIXTURES, 'corpus')));
    expect(dict.tokens).toEqual(readVocabFile(join(FIXTURES, 'vocab.txt')).tokens);
    expect(dict.size).toBe(manifest.vocab);
    expect(dict.unkId).toBeNull(); // the text has no <unk>, so neither has the Dictionary
    expect(dict.eosId).not.toBe(1);
  });

  it('refuses a directory without the three files, with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-wlm-'));
    writeFileSync(join(dir, 'train.txt'), 'a b\n');
    expect(errorOf(() => readWordLMCorpus(dir))).toMatch(/has no valid\.txt, test\.txt/);
    expect(errorOf(() => readWordLMCorpus(join(dir, 'nope')))).toMatch(/not found/);
    writeFileSync(join(dir, 'valid.txt'), Buffer.from([0x61, 0xff, 0x0a]));
    writeFileSync(join(dir, 'test.txt'), 'a\n');
    expect(errorOf(() => readWordLMCorpus(dir))).toMatch(/valid file is not valid UTF-8/);
  });
});

describe('vocabulary files', () => {
  it("the fixture's file round-trips byte for byte", () => {
    const text = readFileSync(join(FIXTURES, 'vocab.txt'), 'utf8');
    expect(formatVocabFile(parseVocabFile(text, 'vocab.txt'))).toBe(text);
  });

  it('a seqlab vocabulary round-trips: same ids, <unk> and <eos> first, same fingerprint', () => {
    const v = Vocabulary.build('the cat sat on the mat <eos> a dog <eos>'.split(' '));
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-vocab-'));
    writeVocabFile(join(dir, 'vocab.txt'), v);
    expect(readFileSync(join(dir, 'vocab.txt'), 'utf8').split('\n').slice(0, 3)).toEqual([UNK, EOS, 'the']);
    const back = readVocabFile(join(dir, 'vocab.txt'));
    expect(back.tokens).toEqual(v.tokens);
    expect(back.fingerprint).toBe(v.fingerprint);
    expect(back.hasReservedIds).toBe(true);
  });

  it('reads \\r\\n files and a last line without a newline; refuses blank lines, repeats and empty files', () => {
    expect(parseVocabFile('a\r\nb\r\nc', 'v').tokens).toEqual(['a', 'b', 'c']);
    expect(errorOf(() => parseVocabFile('', 'v'))).toMatch(/vocabulary file v is empty/);
    expect(errorOf(() => parseVocabFile('a\n\nb\n', 'v'))).toMatch(/line 2 is blank/);
    expect(errorOf(() => parseVocabFile('a\nb\na\n', 'v'))).toMatch(/lists "a" twice/);
  });

  it('will not write a word that a line-per-word file cannot hold', () => {
    const v = Vocabulary.fromTokens([UNK, EOS, 'new york']);
    expect(errorOf(() => formatVocabFile(v))).toMatch(/token 2 \("new york"\) contains whitespace/);
  });
});
