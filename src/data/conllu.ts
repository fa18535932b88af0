/**
 * A reader for CoNLL-U, the Universal Dependencies file format
 * (universaldependencies.org/format.html): one word a line, ten tab-separated columns
 *
 *   ID  FORM  LEMMA  UPOS  XPOS  FEATS  HEAD  DEPREL  DEPS  MISC
 *
 * sentences separated by a blank line, comment lines (`# key = value`) before each sentence.
 * Three kinds of ID:
 *
 *   7      a syntactic word: a node of the dependency tree (HEAD is its parent, 0 = the root)
 *   2-3    a multiword token: the surface token "no" that stands for the words 2 "em" and 3 "o";
 *          the words make the tree, the token is what the text shows
 *   8.1    an empty node of the enhanced graph (DEPS): not part of the basic tree, skipped here
 *
 * `surfaceTokens()` gives the text as written (a multiword token's form in place of its words):
 * what a language model reads. `Sentence.words` gives the tree.
 *
 * Documents: `# newdoc id = X` (and Bosque's `# newdoc_id = X`) starts document X; the sentences
 * after it belong to X until the next one. Where a file has no such comment, the caller's
 * `docIdFromSentId` names the document of each sentence (default: each sentence its own document).
 *
 * Files may be gzipped (recognized by their first two bytes, 1f 8b). Anything that is not
 * CoNLL-U is an input error naming the file and the line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { SeqlabError, inputError } from '../util/errors.js';

export interface Word {
  /** 1-based position in the sentence (the ID column); `words[i].id === i + 1`. */
  id: number;
  form: string;
  lemma: string;
  upos: string;
  xpos: string;
  /** FEATS as a map, e.g. { Number: 'Sing', Person: '3' }; empty for "_". */
  feats: Readonly<Record<string, string>>;
  /** Parent's id, 0 for the root. */
  head: number;
  deprel: string;
  deps: string;
  misc: string;
}

/** A range line `first-last FORM`: one token of the text standing for words first … last. */
export interface MultiwordToken {
  first: number;
  last: number;
  form: string;
  misc: string;
}

export interface Sentence {
  /** `# sent_id`, or `<file name>#<n>` (n counted from 1 in the file) when it has none. */
  sentId: string;
  /** `# text`, or null. */
  text: string | null;
  docId: string;
  /** The file and the 1-based line where the sentence's block starts. */
  source: string;
  line: number;
  /** The comment lines as written, without the leading "#" and surrounding spaces. */
  comments: string[];
  words: Word[];
  multiwordTokens: MultiwordToken[];
}

/** One token of the text and the syntactic words it stands for (first = last unless a multiword token). */
export interface SurfaceToken {
  form: string;
  first: number;
  last: number;
}

export interface ConlluOptions {
  /** The document of a sentence that no newdoc comment covers. Default: the sentence id itself. */
  docIdFromSentId: (sentId: string) => string;
}

export const CONLLU_DEFAULTS: Readonly<ConlluOptions> = { docIdFromSentId: (sentId) => sentId };

const WORD_ID = /^[1-9]\d*$/;
const RANGE_ID = /^([1-9]\d*)-([1-9]\d*)$/;
const EMPTY_ID = /^\d+\.[1-9]\d*$/;
const NEWDOC = /^newdoc(?:(?: id|_id)\s*=\s*(.*))?$/;

/** FEATS "A=x|B=y" as { A: 'x', B: 'y' }; null when the column is malformed. */
export function parseFeats(column: string): Record<string, string> | null {
  const feats: Record<string, string> = {};
  if (column === '_') return feats;
  for (const pair of column.split('|')) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) return null;
    feats[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return feats;
}

/** A feature map back in FEATS form, names sorted as CoNLL-U asks ("_" when empty). */
export function featsString(feats: Readonly<Record<string, string>>): string {
  const names = Object.keys(feats).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  return names.length === 0 ? '_' : names.map((n) => `${n}=${feats[n]}`).join('|');
}

/** Parse CoNLL-U text; `source` names it in error messages (a path, usually). */
export function parseConllu(text: string, source: string, options: Partial<ConlluOptions> = {}): Sentence[] {
  const opts: Readonly<ConlluOptions> = { ...CONLLU_DEFAULTS, ...options };
  const lines = text.split('\n');
  const out: Sentence[] = [];
  // the same FEATS strings recur thousands of times: parse each once, share the frozen map
  const featsCache = new Map<string, Readonly<Record<string, string>> | null>();
  const fail = (lineNo: number, why: string): never => {
    throw inputError(`${source}:${lineNo}: ${why} (not a CoNLL-U file? see universaldependencies.org/format.html)`);
  };

  let comments: string[] = [];
  let words: Word[] = [];
  let tokens: MultiwordToken[] = [];
  let headLines: number[] = [];
  let start = 0;
  let currentDoc: string | null = null;

  const finish = (endLine: number) => {
    if (words.length === 0) {
      if (tokens.length > 0) fail(endLine, 'a multiword token with no words after it');
      if (comments.length > 0) fail(endLine, 'comment lines with no sentence after them');
      return;
    }
    for (let i = 0; i < words.length; i++) {
      if (words[i].head > words.length) fail(headLines[i], `HEAD ${words[i].head} is past the sentence's last word`);
    }
    const last = tokens[tokens.length - 1];
    if (last !== undefined && last.last > words.length) {
      fail(endLine, `multiword token ${last.first}-${last.last} has no word ${last.last}`);
    }
    let sentId: string | null = null;
    let sentText: string | null = null;
    let newdoc: { id: string | null } | null = null;
    for (const c of comments) {
      const eq = c.indexOf('=');
      const key = (eq < 0 ? c : c.slice(0, eq)).trim();
      const value = eq < 0 ? '' : c.slice(eq + 1).trim();
      if (key === 'sent_id') sentId = value;
      else if (key === 'text') sentText = value;
      const doc = NEWDOC.exec(c);
      if (doc) newdoc = { id: doc[1]?.trim() || null };
    }
    sentId ??= `${source.split(/[\\/]/).pop()}#${out.length + 1}`;
    if (newdoc !== null) currentDoc = newdoc.id ?? opts.docIdFromSentId(sentId);
    out.push({
      sentId,
      text: sentText,
      docId: currentDoc ?? opts.docIdFromSentId(sentId),
      source,
      line: start,
      comments,
      words,
      multiwordTokens: tokens,
    });
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line === '' || line.trim() === '') {
      finish(lineNo);
      comments = [];
      words = [];
      tokens = [];
      headLines = [];
      continue;
    }
    if (words.length === 0 && tokens.length === 0 && comments.length === 0) start = lineNo;
    if (line.startsWith('#')) {
      if (words.length > 0 || tokens.length > 0) fail(lineNo, 'a comment line inside a sentence');
      comments.push(line.slice(1).trim());
      continue;
    }
    const cols = line.split('\t');
    if (cols.length !== 10) fail(lineNo, `expected 10 tab-separated columns, got ${cols.length}`);
    const id = cols[0];
    const form = cols[1];
    const feats = cols[5];
    const head = cols[6];
    const deprel = cols[7];
    if (WORD_ID.test(id)) {
      if (Number(id) !== words.length + 1) fail(lineNo, `word ID ${id} out of order, expected ${words.length + 1}`);
      if (!/^\d+$/.test(head)) fail(lineNo, `HEAD ${JSON.stringify(head)} is not a word number (0 for the root)`);
      if (head === id) fail(lineNo, `word ${id} is its own HEAD`);
      let featMap = featsCache.get(feats);
      if (featMap === undefined) {
        const parsed = parseFeats(feats);
        featMap = parsed === null ? null : Object.freeze(parsed);
        featsCache.set(feats, featMap);
      }
      if (featMap === null) fail(lineNo, `FEATS ${JSON.stringify(feats)} is not "_" or Name=Value pairs joined by "|"`);
      if (form === '' || cols[3] === '' || deprel === '') fail(lineNo, 'FORM, UPOS and DEPREL must not be empty');
      words.push({
        id: words.length + 1,
        form,
        lemma: cols[2],
        upos: cols[3],
        xpos: cols[4],
        feats: featMap!,
        head: Number(head),
        deprel: deprel,
        deps: cols[8],
        misc: cols[9],
      });
      headLines.push(lineNo);
      continue;
    }
    if (EMPTY_ID.test(id)) continue; // enhanced-graph node: not in the basic tree
    const range = RANGE_ID.exec(id);
    if (range) {
      const first = Number(range[1]);
      const last = Number(range[2]);
      const pending = tokens[tokens.length - 1];
      if (pending !== undefined && pending.last > words.length) {
        fail(lineNo, `multiword token ${id} overlaps ${pending.first}-${pending.last}`);
      }
      if (first !== words.length + 1 || last <= first) {
        fail(lineNo, `multiword token ${id} must cover two or more words starting at word ${words.length + 1}`);
      }
      tokens.push({ first, last, form, misc: cols[9] });
      continue;
    }
    fail(lineNo, `ID ${JSON.stringify(id)} is not a word number, a range (2-3) or an empty node (8.1)`);
  }
  finish(lines.length);
  if (out.length === 0) {
    throw inputError(`${source}: no sentences (not a CoNLL-U file? see universaldependencies.org/format.html)`);
  }
  return out;
}

/** Read a CoNLL-U file, plain or gzipped. */
export function readConllu(path: string, options: Partial<ConlluOptions> = {}): Sentence[] {
  if (!existsSync(path)) throw inputError(`CoNLL-U file not found: ${path}`);
  if (statSync(path).isDirectory()) throw inputError(`CoNLL-U path is a directory, expected a file: ${path}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SeqlabError('io', `cannot read CoNLL-U file ${path}: ${(e as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw inputError(`${path}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw inputError(`${path}: not UTF-8 text (not a CoNLL-U file?)`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseConllu(text, path, options);
}

/**
 * The tokens of the text, in order: a multiword token's form in place of its words, every
 * other word as itself. `first`/`last` are the word ids each token covers.
 */
export function surfaceTokens(sentence: Sentence): SurfaceToken[] {
  const out: SurfaceToken[] = [];
  let m = 0;
  for (let id = 1; id <= sentence.words.length; id++) {
    const mwt = sentence.multiwordTokens[m];
    if (mwt !== undefined && mwt.first === id) {
      out.push({ form: mwt.form, first: mwt.first, last: mwt.last });
      id = mwt.last;
      m++;
    } else {
      out.push({ form: sentence.words[id - 1].form, first: id, last: id });
    }
  }
  return out;
}

/** For each word id (index id − 1), the index of the surface token it belongs to. */
export function tokenIndexOfWords(tokens: readonly SurfaceToken[], wordCount: number): Int32Array {
  const index = new Int32Array(wordCount);
  tokens.forEach((t, i) => {
    for (let id = t.first; id <= t.last; id++) index[id - 1] = i;
  });
  return index;
}

/** The children of every word: `children[id]` lists the ids whose HEAD is id (index 0: the root's). */
export function childrenOf(sentence: Sentence): number[][] {
  const children: number[][] = Array.from({ length: sentence.words.length + 1 }, () => []);
  for (const w of sentence.words) children[w.head].push(w.id);
  return children;
}
