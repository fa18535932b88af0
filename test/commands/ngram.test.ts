import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { buildVocabulary, readPtbDir } from '../../src/data/corpus.js';
import { ngramRun } from '../../src/commands/ngram.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { EXIT_CODES, SeqlabError } from '../../src/util/errors.js';

// The `ngram` command end to end on a tiny Penn-Treebank-style directory, in process.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-ngram-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ptb = join(tmp, 'ptb');
mkdirSync(ptb);
const sentences = ['the cat sat on the mat', 'the dog sat on the log', 'a cat saw the dog', 'the <unk> ran'];
writeFileSync(join(ptb, 'train.txt'), `${Array.from({ length: 30 }, (_, i) => ` ${sentences[i % 4]} `).join('\n')}\n`);
writeFileSync(join(ptb, 'valid.txt'), ' the cat sat on the log \n a dog saw the cat \n');
writeFileSync(join(ptb, 'test.txt'), ' the dog ran \n the bird sat on the mat \n');

async function seqlab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('ngramRun', () => {
  it('reports vocabulary, sizes and valid/test perplexity', () => {
    const res = ngramRun({ corpus: ptb, order: 3 });
    const vocab = buildVocabulary(readPtbDir(ptb));
    expect(res.vocabulary).toMatchObject({
      size: vocab.size,
      fingerprint: vocab.fingerprint,
      minCount: 1,
      maxSize: null,
      source: 'built from train',
    });
    expect(res.corpus.splits.valid).toEqual({ tokens: 13, sentences: 2, words: 11 });
    expect(res.corpus.splits.test).toEqual({ tokens: 11, sentences: 2, words: 9 });
    expect(res.vocabulary.unkRate.test).toBeCloseTo(1 / 11, 12); // "bird"
    expect(res.tokens).toEqual({ valid: 13, test: 11 });
    expect(res.model.order).toBe(3);
    expect(res.model.ngramTypes).toHaveLength(3);
    for (const s of ['valid', 'test'] as const) {
      expect(res.perplexity[s]).toBeGreaterThan(1);
      expect(res.perplexity[s]).toBeLessThan(vocab.size);
      expect(res.perplexity[s]).toBeCloseTo(Math.exp(res.crossEntropy[s]), 10);
    }
  });

  it('saves its vocabulary and reuses it from a checkpoint-like file, with the same result', () => {
    const saved = join(tmp, 'vocab.json');
    const a = ngramRun({ corpus: ptb, order: 2, vocabSize: 6, saveVocab: saved });
    const json = JSON.parse(readFileSync(saved, 'utf8'));
    expect(json.size).toBe(6);
    const checkpoint = join(tmp, 'checkpoint.json');
    writeFileSync(checkpoint, JSON.stringify({ config: { order: 2 }, vocabulary: json }));
    const b = ngramRun({ corpus: ptb, order: 2, vocab: checkpoint });
    expect(b.vocabulary.fingerprint).toBe(a.vocabulary.fingerprint);
    expect(b.perplexity).toEqual(a.perplexity);
  });

  it('refuses a vocabulary file together with vocabulary rules, and a damaged one', () => {
    expect(() => ngramRun({ corpus: ptb, vocab: join(tmp, 'vocab.json'), minCount: 2 })).toThrow(
      /^vocab fixes the vocabulary; drop minCount and vocabSize$/,
    );
    const bad = join(tmp, 'bad-vocab.json');
    writeFileSync(
      bad,
      JSON.stringify({ vocabulary: { tokens: ['<unk>', '<eos>', 'a'], fingerprint: '0000000000000000' } }),
    );
    expect(() => ngramRun({ corpus: ptb, vocab: bad })).toThrow(SeqlabError);
    expect(() => ngramRun({ corpus: ptb, vocab: bad })).toThrow(
      /fingerprint 0000000000000000 does not match its tokens/,
    );
  });
});

describe('ngramRun with a vocabulary in another order', () => {
  it('refuses a word_language_model-order vocabulary (no reserved ids) with one line naming where they are', () => {
    // the PTB text's own words in first-appearance order, as word_language_model's Dictionary: no <unk> 0, <eos> 1
    const words = ['the', 'cat', 'sat', 'on', 'mat', '<eos>', 'dog', 'log', 'a', 'saw', '<unk>', 'ran', 'bird'];
    const path = join(tmp, 'given-order.json');
    writeFileSync(path, JSON.stringify(Vocabulary.fromWordList(words).toJSON()));
    let message = '';
    try {
      ngramRun({ corpus: ptb, order: 2, vocab: path });
    } catch (e) {
      expect(e).toBeInstanceOf(SeqlabError);
      expect((e as SeqlabError).code).toBe('input');
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /keeps another order \(<unk> id 10, <eos> id 5\); the n-gram model needs <unk> = 0 and <eos> = 1/,
    );
    expect(message).not.toContain('\n');
  });
});

describe('seqlab ngram', () => {
  it('--json prints one JSON document on stdout', async () => {
    const r = await seqlab(['ngram', '--corpus', ptb, '--order', '3', '--json', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(doc.model.order).toBe(3);
    expect(doc.perplexity.valid).toBeGreaterThan(1);
  });

  it('prints a table with valid and test perplexity, progress on stderr', async () => {
    const r = await seqlab(['ngram', '--corpus', ptb, '--order', '2', '--boundary', 'sentence']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Kneser–Ney 2-gram/);
    expect(r.stdout).toMatch(/\n\s*valid\s+13\s+2\s+11\s/);
    expect(r.stderr).toMatch(/^seqlab: .*: counting 2-grams on \d+ train tokens/);
  });

  const cases: [string, string[], number, RegExp][] = [
    ['no --corpus', ['ngram'], EXIT_CODES.usage, /--corpus is required/],
    [
      'missing corpus',
      ['ngram', '--corpus', join(tmp, 'missing.txt')],
      EXIT_CODES.input,
      /corpus not found: .*missing\.txt/,
    ],
    ['binary corpus', ['ngram', '--corpus', 'BINARY'], EXIT_CODES.input, /binary file \(NUL byte at offset 2\)/],
    ['empty corpus', ['ngram', '--corpus', 'EMPTY'], EXIT_CODES.input, /corpus file is empty/],
    ['corpus too small', ['ngram', '--corpus', 'SMALL'], EXIT_CODES.input, /corpus too small to split/],
    [
      'order 0',
      ['ngram', '--corpus', ptb, '--order', '0'],
      EXIT_CODES.usage,
      /--order must be a positive integer, got 0/,
    ],
    ['order 12', ['ngram', '--corpus', ptb, '--order', '12'], EXIT_CODES.usage, /--order must be at most 9, got 12/],
    [
      'bad tokenizer',
      ['ngram', '--corpus', ptb, '--tokenizer', 'fr'],
      EXIT_CODES.usage,
      /unknown tokenizer "fr"; use en, pt, whitespace/,
    ],
    [
      'bad boundary',
      ['ngram', '--corpus', ptb, '--boundary', 'line'],
      EXIT_CODES.usage,
      /unknown boundary "line"; use stream, sentence/,
    ],
    [
      'bad min-count',
      ['ngram', '--corpus', ptb, '--min-count', '0'],
      EXIT_CODES.usage,
      /--min-count must be a positive integer/,
    ],
  ];
  const fixtures: Record<string, string | Buffer> = {
    BINARY: Buffer.from([0x50, 0x4b, 0x00, 0x03]),
    EMPTY: '\n \n',
    SMALL: 'one line\n',
  };
  for (const [name, args, code, re] of cases) {
    it(`${name}: one line on stderr, exit ${code}`, async () => {
      const resolved = args.map((x) => {
        if (!(x in fixtures)) return x;
        const path = join(tmp, `${x}.txt`);
        writeFileSync(path, fixtures[x]);
        return path;
      });
      const r = await seqlab(resolved);
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  }
});
