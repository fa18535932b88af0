/**
 * The Universal Dependencies treebanks seqlab reads: where the shipped Portuguese ones are
 * (corpora/ud-portuguese/), what each file is called, how each treebank's sentences are grouped
 * into documents, and how a treebank token becomes a token of the LM's text.
 *
 * Documents, per treebank (the CoNLL-U reader applies `# newdoc id` / `# newdoc_id` first):
 *
 *   pt_bosque      `# newdoc_id = CF876` before each document (its sent_ids are CF876-1, CF876-2, …)
 *   pt_petrogold   `# newdoc id = …` (two documents a file; sent_ids are <document>-<n>)
 *   pt_porttinari  no newdoc comments and the sentences shuffled: the document is the sent_id
 *                  without its _SENT<n> (FOLHA_DOC003053_SENT003 → FOLHA_DOC003053)
 *   pt_gsd         no document information (shuffled web sentences, sent_ids train-s1, …):
 *                  each sentence is its own document, the parts of one split sentence
 *                  (train-s1268a, train-s1268b) one document
 *   any other      newdoc comments where there are any, else each sentence its own document
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConllu, type Sentence } from '../../data/conllu.js';
import { SPECIAL_TOKEN } from '../../data/tokenize.js';

export const SHIPPED_TREEBANK_DIR = 'ud-portuguese';

/** corpora/ud-portuguese at the package root (found from src/ or dist/src/). */
export function shippedTreebankDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    const candidate = join(dir, 'corpora', SHIPPED_TREEBANK_DIR);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  const here = fileURLToPath(import.meta.url);
  throw new Error(`shipped treebanks corpora/${SHIPPED_TREEBANK_DIR} not found above ${here}`);
}

/** The shipped treebank files, sorted by name (the order every derived file follows). */
export function shippedTreebanks(): string[] {
  const dir = shippedTreebankDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.conllu.gz'))
    .sort()
    .map((f) => join(dir, f));
}

/** The treebank a file belongs to: "pt_bosque" for pt_bosque-ud-train.conllu.gz; else the file's name. */
export function treebankName(path: string): string {
  const name = basename(path)
    .replace(/\.gz$/, '')
    .replace(/\.conllu$/, '');
  const ud = /^([a-z]{2,3}_[a-z0-9]+)-ud-(train|dev|test)$/i.exec(name);
  return ud ? ud[1].toLowerCase() : name;
}

/** How a treebank's sentence ids name documents (where no newdoc comment does); see the module comment. */
export function docIdRule(treebank: string): (sentId: string) => string {
  if (treebank === 'pt_porttinari') return (id) => id.replace(/_SENT\d+$/, '');
  if (treebank === 'pt_gsd') return (id) => id.replace(/(\d)[a-z]$/, '$1');
  return (id) => id;
}

export interface Treebank {
  /** "pt_bosque", … (see treebankName). */
  name: string;
  path: string;
  sentences: Sentence[];
}

/** Read treebank files, each with its document rule. */
export function readTreebanks(paths: readonly string[]): Treebank[] {
  return paths.map((path) => {
    const name = treebankName(path);
    return { name, path, sentences: readConllu(path, { docIdFromSentId: docIdRule(name) }) };
  });
}

const SPECIAL_ANYWHERE = new RegExp(SPECIAL_TOKEN.source, 'g');
// ASCII letters, digits and common punctuation: nothing to normalize
const SIMPLE_WORD = /^[A-Za-z0-9.,;:!?'"()%$-]+$/;

/**
 * A treebank token as a token of the LM's text: NFC; inner spaces as "_" ("34 470" → "34_470",
 * so whitespace splitting keeps it one token); "<x>" inside a token as "‹x›" (seqlab's
 * tokenizers would read "<x>" as a special token such as <unk>); lower-cased when asked.
 */
export function lmToken(form: string, lowercase: boolean): string {
  if (SIMPLE_WORD.test(form)) return lowercase ? form.toLowerCase() : form;
  let t = form.normalize('NFC').trim().replace(/\s+/g, '_');
  if (t === '') t = '_';
  t = t.replace(SPECIAL_ANYWHERE, (m) => `‹${m.slice(1, -1)}›`);
  return lowercase ? t.toLowerCase() : t;
}
