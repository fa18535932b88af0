import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  childrenOf,
  featsString,
  parseConllu,
  parseFeats,
  readConllu,
  surfaceTokens,
  tokenIndexOfWords,
} from '../../src/data/conllu.js';
import { SeqlabError } from '../../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-conllu-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** CoNLL-U from rows of space-separated columns (readable in the test; tabs in the file). */
const conllu = (rows: string[]) =>
  rows.map((r) => (r.startsWith('#') || r === '' ? r : r.split(/ +/).join('\t'))).join('\n');

// "No bar, o homem viu-o." — a contraction (no = em + o), a clitic written with its verb
// (viu-o = viu + o), an empty node (3.1) and the comments of a document's first sentence.
const SENTENCE = conllu([
  '# newdoc id = doc-A',
  '# sent_id = doc-A-1',
  '# text = No bar, o homem viu-o.',
  '1-2 No _ _ _ _ _ _ _ _',
  '1 Em em ADP _ _ 3 case _ _',
  '2 o o DET _ Definite=Def|Gender=Masc|Number=Sing|PronType=Art 3 det _ _',
  '3 bar bar NOUN _ Gender=Masc|Number=Sing 7 obl _ SpaceAfter=No',
  '3.1 estava estar VERB _ _ _ _ 7:parataxis _',
  '4 , , PUNCT _ _ 3 punct _ _',
  '5 o o DET _ Definite=Def|Gender=Masc|Number=Sing|PronType=Art 6 det _ _',
  '6 homem homem NOUN _ Gender=Masc|Number=Sing 7 nsubj _ _',
  '7-8 viu-o _ _ _ _ _ _ _ SpaceAfter=No',
  '7 viu ver VERB _ Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin 0 root _ _',
  '8 o o PRON _ Case=Acc|Gender=Masc|Number=Sing|Person=3|PronType=Prs 7 obj _ _',
  '9 . . PUNCT _ _ 7 punct _ _',
  '',
  '# sent_id = doc-A-2',
  '# text = Ele saiu.',
  '1 Ele ele PRON _ Gender=Masc|Number=Sing|Person=3|PronType=Prs 2 nsubj _ _',
  '2 saiu sair VERB _ Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin 0 root _ SpaceAfter=No',
  '3 . . PUNCT _ _ 2 punct _ _',
  '',
]);

/** The one-line message of the SeqlabError `fn` throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a SeqlabError');
}

describe('parseConllu', () => {
  const [first, second] = parseConllu(SENTENCE, 'hand.conllu');

  it('reads the comments: sent_id, text, newdoc id', () => {
    expect(first.sentId).toBe('doc-A-1');
    expect(first.text).toBe('No bar, o homem viu-o.');
    expect(first.docId).toBe('doc-A');
    expect(first.comments).toEqual(['newdoc id = doc-A', 'sent_id = doc-A-1', 'text = No bar, o homem viu-o.']);
    expect(first.line).toBe(1);
    expect(second.line).toBe(17);
  });

  it('keeps the syntactic words as the tree, skipping the empty node', () => {
    expect(first.words.map((w) => w.form)).toEqual(['Em', 'o', 'bar', ',', 'o', 'homem', 'viu', 'o', '.']);
    expect(first.words.map((w) => w.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.words.map((w) => w.head)).toEqual([3, 3, 7, 3, 6, 7, 0, 7, 7]);
    const viu = first.words[6];
    expect(viu).toMatchObject({ lemma: 'ver', upos: 'VERB', xpos: '_', deprel: 'root', deps: '_', misc: '_' });
    expect(viu.feats).toEqual({ Mood: 'Ind', Number: 'Sing', Person: '3', Tense: 'Past', VerbForm: 'Fin' });
    expect(first.words[2].misc).toBe('SpaceAfter=No');
    expect(childrenOf(first)[7]).toEqual([3, 6, 8, 9]);
    expect(childrenOf(first)[0]).toEqual([7]);
  });

  it('gives the surface tokens: a multiword token in place of its words', () => {
    const tokens = surfaceTokens(first);
    expect(tokens.map((t) => t.form)).toEqual(['No', 'bar', ',', 'o', 'homem', 'viu-o', '.']);
    expect(tokens[0]).toEqual({ form: 'No', first: 1, last: 2 });
    expect(tokens[5]).toEqual({ form: 'viu-o', first: 7, last: 8 });
    expect([...tokenIndexOfWords(tokens, first.words.length)]).toEqual([0, 0, 1, 2, 3, 4, 5, 5, 6]);
    expect(first.multiwordTokens).toEqual([
      { first: 1, last: 2, form: 'No', misc: '_' },
      { first: 7, last: 8, form: 'viu-o', misc: 'SpaceAfter=No' },
    ]);
  });

  it('keeps a document for the sentences after its newdoc comment', () => {
    expect(second.docId).toBe('doc-A');
    expect(surfaceTokens(second).map((t) => t.form)).toEqual(['Ele', 'saiu', '.']);
  });

  it("names documents with the caller's rule where no newdoc comment does, and accepts newdoc_id", () => {
    const noDoc = SENTENCE.replace('# newdoc id = doc-A\n', '');
    const byPrefix = parseConllu(noDoc, 'x', { docIdFromSentId: (id) => id.replace(/-\d+$/, '') });
    expect(byPrefix.map((s) => s.docId)).toEqual(['doc-A', 'doc-A']);
    expect(parseConllu(noDoc, 'x').map((s) => s.docId)).toEqual(['doc-A-1', 'doc-A-2']);
    const bosque = SENTENCE.replace('# newdoc id = doc-A', '# newdoc_id = CF1');
    expect(parseConllu(bosque, 'x').map((s) => s.docId)).toEqual(['CF1', 'CF1']);
  });

  it('names a sentence without sent_id by file and position, and reads CRLF files', () => {
    const crlf = SENTENCE.replace('# sent_id = doc-A-2\n', '').replace(/\n/g, '\r\n');
    const [a, b] = parseConllu(crlf, '/data/hand.conllu');
    expect(b.sentId).toBe('hand.conllu#2');
    expect(a.words[6].misc).toBe('_');
    expect(a.multiwordTokens[1].misc).toBe('SpaceAfter=No');
  });
});

describe('FEATS', () => {
  it('parses Name=Value pairs and writes them back sorted', () => {
    expect(parseFeats('_')).toEqual({});
    expect(parseFeats('Number=Sing|Gender=Masc')).toEqual({ Number: 'Sing', Gender: 'Masc' });
    expect(parseFeats('Number')).toBeNull();
    expect(parseFeats('Number=')).toBeNull();
    expect(featsString({ Number: 'Sing', Gender: 'Masc' })).toBe('Gender=Masc|Number=Sing');
    expect(featsString({})).toBe('_');
  });
});

describe('readConllu', () => {
  it('reads plain and gzipped files alike', () => {
    writeFileSync(join(tmp, 'a.conllu'), SENTENCE);
    writeFileSync(join(tmp, 'a.conllu.gz'), gzipSync(Buffer.from(SENTENCE)));
    const plain = readConllu(join(tmp, 'a.conllu'));
    const gz = readConllu(join(tmp, 'a.conllu.gz'));
    expect(gz.map((s) => s.words)).toEqual(plain.map((s) => s.words));
    expect(gz[0].source).toBe(join(tmp, 'a.conllu.gz'));
  });

  it('rejects a file that is not CoNLL-U with one line naming the file and the line', () => {
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'O homem entrou no bar.\nE saiu.\n');
    expect(errorOf(() => readConllu(text))).toMatch(new RegExp(`^${text}:1: expected 10 tab-separated columns, got 1`));
    const json = join(tmp, 'items.json');
    writeFileSync(json, '{"a": 1}\n');
    expect(errorOf(() => readConllu(json))).toContain(`${json}:1:`);
    const bin = join(tmp, 'bin.conllu');
    writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    expect(errorOf(() => readConllu(bin))).toBe(`${bin}: not UTF-8 text (not a CoNLL-U file?)`);
    const badGz = join(tmp, 'bad.conllu.gz');
    writeFileSync(badGz, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    expect(errorOf(() => readConllu(badGz))).toMatch(/bad\.conllu\.gz: not a valid gzip file/);
    expect(errorOf(() => readConllu(join(tmp, 'missing.conllu')))).toMatch(/^CoNLL-U file not found: /);
    expect(errorOf(() => readConllu(tmp))).toMatch(/is a directory/);
  });

  it('names the line of each kind of malformed row', () => {
    const lines = SENTENCE.split('\n');
    const broken = (i: number, row: string) => {
      const copy = lines.slice();
      copy[i] = row.split(/ +/).join('\t');
      return () => parseConllu(copy.join('\n'), 'f.conllu');
    };
    expect(errorOf(broken(4, '1 Em em ADP _ _ x case _ _'))).toMatch(/^f\.conllu:5: HEAD "x" is not a word number/);
    const outOfOrder = errorOf(broken(4, '2 Em em ADP _ _ 3 case _ _'));
    expect(outOfOrder).toMatch(/^f\.conllu:5: word ID 2 out of order, expected 1/);
    expect(errorOf(broken(4, '1 Em em ADP _ Number 3 case _ _'))).toMatch(/^f\.conllu:5: FEATS "Number" is not/);
    expect(errorOf(broken(4, 'a Em em ADP _ _ 3 case _ _'))).toMatch(/^f\.conllu:5: ID "a" is not a word number/);
    expect(errorOf(broken(4, '1 Em em ADP _ _ 1 case _ _'))).toMatch(/^f\.conllu:5: word 1 is its own HEAD/);
    const pastEnd = errorOf(broken(4, '1 Em em ADP _ _ 12 case _ _'));
    expect(pastEnd).toMatch(/^f\.conllu:5: HEAD 12 is past the sentence's last word/);
    expect(errorOf(broken(5, '1-3 xx _ _ _ _ _ _ _ _'))).toMatch(/^f\.conllu:6: multiword token 1-3 overlaps 1-2/);
    expect(errorOf(broken(10, '# a comment'))).toMatch(/^f\.conllu:11: a comment line inside a sentence/);
    const onlyComments = errorOf(() => parseConllu('# only = comments\n', 'c.conllu'));
    expect(onlyComments).toMatch(/^c\.conllu:2: comment lines with no sentence/);
    expect(errorOf(() => parseConllu('\n\n', 'e.conllu'))).toMatch(/^e\.conllu: no sentences/);
  });
});
