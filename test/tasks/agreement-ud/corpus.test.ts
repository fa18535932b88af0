import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConllu, surfaceTokens } from '../../../src/data/conllu.js';
import { readPtbDir } from '../../../src/data/corpus.js';
import { EOS } from '../../../src/data/vocab.js';
import {
  buildUdCorpus,
  ensureUdCorpus,
  splitDocuments,
  writeUdCorpus,
} from '../../../src/tasks/agreement-ud/corpus.js';
import { readItems } from '../../../src/tasks/agreement-ud/items.js';
import { lmToken, shippedTreebanks, treebankName } from '../../../src/tasks/agreement-ud/treebanks.js';
import { SeqlabError } from '../../../src/util/errors.js';
import { HAND_CONLLU, conllu } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-udcorpus-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A small treebank of many one-sentence documents "dN": "o homem N entrou ." … */
function manyDocs(n: number): string {
  const rows: string[] = [];
  for (let d = 0; d < n; d++) {
    rows.push(`# newdoc id = d${d}`, `# sent_id = d${d}-1`);
    rows.push('1 O o DET _ Definite=Def|Gender=Masc|Number=Sing|PronType=Art 2 det _ _');
    rows.push('2 homem homem NOUN _ Gender=Masc|Number=Sing 4 nsubj _ _');
    rows.push(`3 ${d} ${d} NUM _ NumType=Card 2 nummod _ _`);
    rows.push('4 entrou entrar VERB _ Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin 0 root _ _');
    rows.push('5 . . PUNCT _ _ 4 punct _ _', '');
  }
  return conllu(rows);
}

describe('splitDocuments', () => {
  it('deals whole documents out by their middle word: test, valid, train shares of the words', () => {
    const sentences = parseConllu(manyDocs(100), 'm.conllu');
    const split = splitDocuments('m', sentences, { validFraction: 0.1, testFraction: 0.2, seed: 3 });
    const counts = { train: 0, valid: 0, test: 0 };
    for (const s of split.values()) counts[s]++;
    // 100 documents of 5 words each: 500 words, the middles at 2.5, 7.5, … → exactly 20 / 10 / 70
    expect(counts).toEqual({ train: 70, valid: 10, test: 20 });
    expect(splitDocuments('m', sentences, { validFraction: 0.1, testFraction: 0.2, seed: 3 })).toEqual(split);
    expect(splitDocuments('m', sentences, { validFraction: 0.1, testFraction: 0.2, seed: 4 })).not.toEqual(split);
  });
});

describe('buildUdCorpus on hand-written treebanks', () => {
  // a Portuguese treebank by its name (pt_…): the Portuguese rule fallback applies
  const hand = join(tmp, 'pt_hand-ud-test.conllu');
  writeFileSync(hand, HAND_CONLLU + manyDocs(60));

  it('rejects fractions that leave no train', () => {
    expect(() => buildUdCorpus({ treebanks: [hand], validFraction: 0.5, testFraction: 0.5 })).toThrow(SeqlabError);
    expect(() => buildUdCorpus({ treebanks: [hand], testFraction: 0 })).toThrow(/testFraction must be between 0 and 1/);
  });

  it('writes a directory that --corpus reads, tokenized as the items are', () => {
    const dir = join(tmp, 'out');
    const corpus = buildUdCorpus({ treebanks: [hand], seed: 2, nonce: 2 });
    const manifest = writeUdCorpus(corpus, dir);
    const read = readPtbDir(dir);
    for (const split of ['train', 'valid', 'test'] as const) {
      expect(read[split]).toEqual(corpus.text[split].flatMap((s) => [...s, EOS]));
      expect(manifest.counts[split].sentences).toBe(corpus.text[split].length);
    }
    const items = readItems(join(dir, 'items.jsonl'));
    expect(items).toEqual(corpus.items);
    const testLines = new Set(readFileSync(join(dir, 'test.txt'), 'utf8').split('\n'));
    for (const item of items.filter((i) => i.variant === 0)) {
      // each test item's sentence is a line of test.txt that starts with its prefix and verb
      const line = [...testLines].find((l) => l.startsWith(`${[...item.prefix, item.correct].join(' ')} `));
      expect(line).toBeDefined();
    }
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('CC BY-SA 4.0');
  });

  it('is a cache: rebuilt only when the options or the inputs change', () => {
    const dir = join(tmp, 'cache');
    expect(ensureUdCorpus(dir, { treebanks: [hand] }).built).toBe(true);
    expect(ensureUdCorpus(dir, { treebanks: [hand] }).built).toBe(false);
    expect(ensureUdCorpus(dir, { treebanks: [hand], seed: 9 }).built).toBe(true);
    writeFileSync(hand, HAND_CONLLU + manyDocs(61));
    expect(ensureUdCorpus(dir, { treebanks: [hand], seed: 9 }).built).toBe(true);
    rmSync(join(dir, 'valid.txt'));
    expect(ensureUdCorpus(dir, { treebanks: [hand], seed: 9 }).built).toBe(true);
  });
});

describe('the shipped treebanks', () => {
  it('are the four UD Portuguese treebanks, each file with its license beside it', () => {
    const files = shippedTreebanks();
    expect(files).toHaveLength(9);
    const names = [...new Set(files.map(treebankName))];
    expect(names).toEqual(['pt_bosque', 'pt_gsd', 'pt_petrogold', 'pt_porttinari']);
    const dir = join(files[0], '..');
    for (const license of ['Bosque', 'GSD', 'PetroGold', 'Porttinari']) {
      expect(readFileSync(join(dir, `LICENSE-${license}.txt`), 'utf8')).toMatch(/Creative Commons/);
    }
  });

  it('give an LM corpus whose train and valid text holds no sentence of a test item', () => {
    const corpus = buildUdCorpus({ nonce: 0 });
    const originals = corpus.items.filter((i) => i.variant === 0);
    expect(originals.length).toBeGreaterThan(1000);
    const trainValid = new Set([...corpus.text.train, ...corpus.text.valid].map((s) => s.join(' ')));
    const testText = new Set(corpus.text.test.map((s) => s.join(' ')));
    const splitOf = (item: (typeof originals)[number]) => corpus.documentSplit.get(`${item.treebank}\t${item.docId}`);
    const leaked: string[] = [];
    const missing: string[] = [];
    const misaligned: string[] = [];
    let testItems = 0;
    corpus.extraction.items.forEach((item, i) => {
      if (splitOf(item) !== 'test') return;
      testItems++;
      const line = surfaceTokens(corpus.extraction.sources[i].sentence)
        .map((t) => lmToken(t.form, true))
        .join(' ');
      if (trainValid.has(line)) leaked.push(item.id);
      if (!testText.has(line)) missing.push(item.id);
      // the prefix is the sentence's first tokens, as the LM reads them
      if (!`${line} `.startsWith(`${[...item.prefix, item.correct].join(' ')} `)) misaligned.push(item.id);
    });
    expect({ leaked, missing, misaligned }).toEqual({ leaked: [], missing: [], misaligned: [] });
    expect(testItems).toBe(originals.length);
    // and every item of items.jsonl comes from a test document
    expect(originals.filter((item) => splitOf(item) !== 'test')).toEqual([]);
  });
});
