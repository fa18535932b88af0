/**
 * Word tokenizers for language modeling, built on the `natural` package.
 *
 *   en          natural's TreebankWordTokenizer (Penn Treebank conventions: punctuation is a
 *               token of its own, "can't" → "ca" "n't"). The Treebank rules split only the
 *               period that ends the text they are given; a period that ends a sentence inside
 *               a line ("home. The") is split off here too, unless its word has a period of its
 *               own ("U.S.", "p.m."), is one letter (an initial) or is a known abbreviation.
 *   pt          natural's AggressiveTokenizerPt: runs of letters (accented ones included);
 *               punctuation and digits are dropped.
 *   whitespace  split on whitespace only (pre-tokenized text, e.g. Penn Treebank files).
 *
 * Special tokens such as <unk> and <eos> (any "<name>" of letters, digits and underscores)
 * pass through untouched and are never lower-cased: the text between them is what gets
 * tokenized. Text is NFC-normalized first, so "ção" typed with combining accents is one word.
 *
 * Sentences (for one <eos> per sentence): en and whitespace cut after ".", "!" or "?" tokens
 * (with the closing quotes and brackets that follow); pt has no punctuation tokens left, so
 * its text is cut by natural's SentenceTokenizer first.
 */
import natural from 'natural/lib/natural/tokenizers/index.js';
import { usageError } from '../util/errors.js';

// Importing the package root ('natural') would also load modules that print to stdout on
// import, which breaks --json; the tokenizers module alone is enough and loads faster.

export const TOKENIZER_NAMES = ['en', 'pt', 'whitespace'] as const;
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

export interface TokenizerOptions {
  /** Which tokenizer. Default 'en'. */
  name: TokenizerName;
  /** Lower-case every word (special tokens excepted). Default false. */
  lowercase: boolean;
}

export const TOKENIZER_DEFAULTS: Readonly<TokenizerOptions> = { name: 'en', lowercase: false };

/** What a config records about a tokenizer: enough to rebuild it. */
export interface TokenizerSpec {
  name: TokenizerName;
  lowercase: boolean;
  /** The natural class doing the work, or null for whitespace splitting. */
  natural: string | null;
}

export interface Tokenizer {
  readonly spec: Readonly<TokenizerSpec>;
  /** Words of `text`, in order; special tokens kept whole. */
  tokenize(text: string): string[];
  /** The words of `text` cut into sentences (see the module comment). */
  sentences(text: string): string[][];
  /** One line for logs and tables, e.g. "en (natural TreebankWordTokenizer), lowercased". */
  describe(): string;
}

/** A special token: "<unk>", "<eos>", "<s>", "</s>", "<pad>", … */
export const SPECIAL_TOKEN = /<\/?[A-Za-z][A-Za-z0-9_]*>/;
const SPECIAL_SPLIT = new RegExp(`(${SPECIAL_TOKEN.source})`);
const SPECIAL_EXACT = new RegExp(`^${SPECIAL_TOKEN.source}$`);

export function isSpecialToken(token: string): boolean {
  return SPECIAL_EXACT.test(token);
}

// Words whose period is part of them, not a sentence end (matched case-sensitively, period dropped).
const ABBREVIATIONS = new Set([
  'Mr',
  'Mrs',
  'Ms',
  'Dr',
  'St',
  'Jr',
  'Sr',
  'Sra',
  'Dra',
  'Prof',
  'Gen',
  'Col',
  'Lt',
  'Capt',
  'Rev',
  'Sen',
  'Rep',
  'Gov',
  'Mt',
  'No',
  'vs',
  'etc',
  'cf',
  'al',
  'Inc',
  'Co',
  'Corp',
  'Ltd',
]);
// natural's SentenceTokenizer matches abbreviations case-insensitively anywhere, even inside
// words ("sr." would end "…sr."), so its list holds only forms that are not word endings.
const PT_SENTENCE_ABBREVIATIONS = ['Sr.', 'Sra.', 'Dr.', 'Dra.'];

const CLOSERS = new Set(['"', "'", "''", ')', ']', '}', '”', '’']);
const TERMINATORS = new Set(['.', '!', '?']);

/** Split the period off words that end a sentence inside the text (see the module comment). */
function splitSentencePeriods(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const body = t.slice(0, -1);
    if (t.endsWith('.') && body.length >= 2 && !body.includes('.') && !ABBREVIATIONS.has(body)) {
      let j = i + 1;
      while (j < tokens.length && CLOSERS.has(tokens[j])) j++;
      const next = tokens[j];
      if (next === undefined || /^[\p{Lu}\p{N}"'`([“‘]/u.test(next)) {
        out.push(body, '.');
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

const QUOTES = new Set(['"', "'"]);

/** Brackets always close; a straight quote opens the next sentence when a capitalized word follows it. */
function isCloser(tokens: string[], i: number): boolean {
  if (!CLOSERS.has(tokens[i])) return false;
  return !QUOTES.has(tokens[i]) || i + 1 >= tokens.length || !/^\p{Lu}/u.test(tokens[i + 1]);
}

/** Cut a token list after each run of ".", "!", "?" and the closers that follow it. */
function cutSentences(tokens: string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    current.push(tokens[i]);
    if (!TERMINATORS.has(tokens[i])) continue;
    while (i + 1 < tokens.length && (TERMINATORS.has(tokens[i + 1]) || isCloser(tokens, i + 1)))
      current.push(tokens[++i]);
    out.push(current);
    current = [];
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function createTokenizer(options: Partial<TokenizerOptions> = {}): Tokenizer {
  const opts: Readonly<TokenizerOptions> = { ...TOKENIZER_DEFAULTS, ...options };
  if (!(TOKENIZER_NAMES as readonly string[]).includes(opts.name)) {
    throw usageError(`unknown tokenizer ${JSON.stringify(opts.name)}; use ${TOKENIZER_NAMES.join(', ')}`);
  }
  let words: (text: string) => string[];
  let naturalName: string | null;
  if (opts.name === 'whitespace') {
    naturalName = null;
    words = (text) => text.split(/\s+/).filter(Boolean);
  } else if (opts.name === 'en') {
    naturalName = 'TreebankWordTokenizer';
    const treebank = new natural.TreebankWordTokenizer();
    words = (text) => splitSentencePeriods(treebank.tokenize(text));
  } else {
    naturalName = 'AggressiveTokenizerPt';
    const aggressive = new natural.AggressiveTokenizerPt();
    words = (text) => aggressive.tokenize(text);
  }
  const spec: Readonly<TokenizerSpec> = Object.freeze({
    name: opts.name,
    lowercase: opts.lowercase,
    natural: naturalName,
  });
  const lower = (w: string) => (opts.lowercase ? w.toLowerCase() : w);
  const tokenize = (text: string): string[] => {
    const out: string[] = [];
    // split() with a capturing group puts the specials at the odd indices
    text
      .normalize('NFC')
      .split(SPECIAL_SPLIT)
      .forEach((piece, i) => {
        if (i % 2 === 1) out.push(piece);
        else if (piece.trim() !== '') for (const w of words(piece)) out.push(lower(w));
      });
    return out;
  };
  let sentences: (text: string) => string[][];
  if (opts.name === 'pt') {
    const splitter = new natural.SentenceTokenizer(PT_SENTENCE_ABBREVIATIONS);
    sentences = (text) =>
      text.trim() === ''
        ? []
        : splitter
            .tokenize(text.normalize('NFC'))
            .map(tokenize)
            .filter((s) => s.length > 0);
  } else {
    sentences = (text) => cutSentences(tokenize(text));
  }
  return { spec, tokenize, sentences, describe: () => describeTokenizer(spec) };
}

export function describeTokenizer(spec: TokenizerSpec): string {
  const how = spec.natural === null ? 'split on whitespace' : `natural ${spec.natural}`;
  return `${spec.name} (${how})${spec.lowercase ? ', lowercased' : ''}`;
}
