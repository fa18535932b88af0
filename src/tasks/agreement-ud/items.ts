/**
 * Agreement items as a file: JSONL, one item a line (docs/agreement-items.md describes the
 * format). An item is a minimal pair in the language-model framing: after the tokens of
 * `prefix`, does the model give `correct` a higher probability than `wrong`?
 *
 * Four fields are required (id, prefix, correct, wrong), so researchers can bring their own
 * pairs; the rest describe where an item came from and are optional (null or [] when absent).
 * Items read from a file are checked field by field: a wrong or missing field is an input
 * error naming the file, the line and the field.
 */
import { inputError, oneLine } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/files.js';
import { readTextFile } from '../../data/corpus.js';

export type ItemNumber = 'sg' | 'pl';

export interface AgreementItem {
  /** Unique in its file. Extracted items: "<treebank>/<sent_id>/<verb word id>", twins add "~n<k>". */
  id: string;
  /** The tokens before the verb, tokenized exactly as the LM's text (no <eos> before them). */
  prefix: string[];
  /** The verb as the text has it (with its clitics when written together: "tornou-se"). */
  correct: string;
  /** The same verb in the other number. */
  wrong: string;
  /** Number of the subject and of `correct`. */
  number: ItemNumber | null;
  /** Index in `prefix` of the subject's head noun. */
  subjectIndex: number | null;
  /** Tokens strictly between the subject's head and the verb (punctuation included). */
  distance: number | null;
  /** Nouns between the subject's head and the verb whose number is the other one. */
  attractors: number | null;
  /** What stands between subject and verb, read off the tree (CONSTRUCTIONS in extract.ts). */
  constructions: string[];
  /** How the agreeing word relates to the predicate: main, aux, aux:pass or cop. */
  verbRole: string | null;
  /** The verb's lemma and Mood.Tense cell ("Ind.Pres"). */
  lemma: string | null;
  cell: string | null;
  /** Where the wrong form came from: the treebanks' form table or the rule fallback. */
  wrongSource: string | null;
  treebank: string | null;
  sentId: string | null;
  docId: string | null;
  /** 0 for an item from the text; k = 1 … N for its k-th nonce twin. */
  variant: number;
  /** The original's id for a nonce twin; null otherwise. */
  twinOf: string | null;
}

/** Field order in the file. */
export const ITEM_FIELDS: readonly (keyof AgreementItem)[] = [
  'id',
  'prefix',
  'correct',
  'wrong',
  'number',
  'subjectIndex',
  'distance',
  'attractors',
  'constructions',
  'verbRole',
  'lemma',
  'cell',
  'wrongSource',
  'treebank',
  'sentId',
  'docId',
  'variant',
  'twinOf',
];

/** One line of JSONL per item, fields in a fixed order. */
export function formatItems(items: readonly AgreementItem[]): string {
  return items.map((item) => JSON.stringify(item, ITEM_FIELDS as string[])).join('\n') + (items.length > 0 ? '\n' : '');
}

export function writeItems(path: string, items: readonly AgreementItem[]): void {
  writeFileAtomic(path, formatItems(items));
}

const isToken = (t: unknown): t is string => typeof t === 'string' && t !== '' && !/\s/.test(t);

/** Check one parsed JSON line as an item; `where` is "file:line" for the messages. */
export function parseItem(raw: unknown, where: string): AgreementItem {
  const bad = (field: string, why: string) => inputError(`${where}: item field "${field}" ${why}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw inputError(`${where}: not a JSON object`);
  const o = raw as Record<string, unknown>;
  const required = (field: string) => {
    if (!(field in o) || o[field] === null) throw bad(field, 'is missing');
    return o[field];
  };
  const id = required('id');
  if (typeof id !== 'string' || id === '') throw bad('id', 'must be a non-empty string');
  const prefix = required('prefix');
  if (!Array.isArray(prefix) || prefix.length === 0 || !prefix.every(isToken)) {
    throw bad('prefix', 'must be a non-empty array of tokens (non-empty strings without spaces)');
  }
  const token = (field: string) => {
    const v = required(field);
    if (!isToken(v)) throw bad(field, 'must be one token (a non-empty string without spaces)');
    return v;
  };
  const correct = token('correct');
  const wrong = token('wrong');
  if (correct === wrong) throw bad('wrong', `is the same as "correct" (${JSON.stringify(correct)})`);

  const optional = <T>(field: string, check: (v: unknown) => v is T, what: string): T | null => {
    const v = o[field];
    if (v === undefined || v === null) return null;
    if (!check(v)) throw bad(field, `must be ${what} or null`);
    return v;
  };
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const isString = (v: unknown): v is string => typeof v === 'string';
  const isNumber = (v: unknown): v is ItemNumber => v === 'sg' || v === 'pl';
  const subjectIndex = optional('subjectIndex', isCount, 'a non-negative integer');
  if (subjectIndex !== null && subjectIndex >= prefix.length) {
    throw bad('subjectIndex', `is ${subjectIndex}, past the prefix's last token (${prefix.length - 1})`);
  }
  const constructions = o.constructions ?? [];
  if (!Array.isArray(constructions) || !constructions.every(isString)) {
    throw bad('constructions', 'must be an array of strings');
  }
  return {
    id,
    prefix: prefix as string[],
    correct,
    wrong,
    number: optional('number', isNumber, '"sg" or "pl"'),
    subjectIndex,
    distance: optional('distance', isCount, 'a non-negative integer'),
    attractors: optional('attractors', isCount, 'a non-negative integer'),
    constructions: constructions as string[],
    verbRole: optional('verbRole', isString, 'a string'),
    lemma: optional('lemma', isString, 'a string'),
    cell: optional('cell', isString, 'a string'),
    wrongSource: optional('wrongSource', isString, 'a string'),
    treebank: optional('treebank', isString, 'a string'),
    sentId: optional('sentId', isString, 'a string'),
    docId: optional('docId', isString, 'a string'),
    variant: optional('variant', isCount, 'a non-negative integer') ?? 0,
    twinOf: optional('twinOf', isString, 'a string'),
  };
}

/** Parse JSONL text; `source` names it in messages. Blank lines are skipped; ids must be unique. */
export function parseItems(text: string, source: string): AgreementItem[] {
  const items: AgreementItem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${source}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(lines[i]);
    } catch (e) {
      const why = oneLine((e as Error).message);
      throw inputError(`${where}: not valid JSON (${why}); items are one JSON object a line`);
    }
    const item = parseItem(raw, where);
    const first = seen.get(item.id);
    if (first !== undefined) {
      throw inputError(`${where}: item id ${JSON.stringify(item.id)} already used on line ${first}`);
    }
    seen.set(item.id, i + 1);
    items.push(item);
  }
  for (const item of items) {
    if (item.twinOf !== null && !seen.has(item.twinOf)) {
      const where = `${source}:${seen.get(item.id)}`;
      throw inputError(`${where}: item field "twinOf" names ${JSON.stringify(item.twinOf)}, which is not in the file`);
    }
  }
  if (items.length === 0) throw inputError(`${source}: no items (expected one JSON object a line)`);
  return items;
}

/** Read and check an items file. */
export function readItems(path: string): AgreementItem[] {
  return parseItems(readTextFile(path, 'items file'), path);
}
