/**
 * Word tokenizers for language modeling, built on the `natural` package.
 *
 *   en          natural's TreebankWordTokenizer (Penn Treebank conventions: punctuation
 *               is a token of its own, "can't" → "ca" "n't"), applied to each sentence
 *               found by natural's SentenceTokenizer, because the Treebank rules only split
 *               a period that ends the text they are given.
 *   pt          natural's AggressiveTokenizerPt: runs of letters (accented ones included);
 *               punctuation and digits are dropped.
 *   whitespace  split on whitespace only (pre-tokenized text, e.g. Penn Treebank files).
 *
 * Special tokens such as <unk> and <eos> (any "<name>" of letters, digits and underscores)
 * pass through untouched and are never lower-cased: the text between them is what gets
 * tokenized. Text is NFC-normalized first, so "ção" typed with combining accents is one word.
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
  /** Sentences of `text` (natural's SentenceTokenizer for en/pt; whitespace: the text itself). */
  sentences(text: string): string[];
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

// Abbreviations the sentence splitter must not end a sentence at. natural matches them
// case-insensitively anywhere, even inside words ("ms." would end "programs."), so the
// list holds only forms that do not occur as word endings.
const ABBREVIATIONS: Readonly<Record<'en' | 'pt', string[]>> = {
  en: ['Mr.', 'Mrs.', 'Dr.', 'e.g.', 'i.e.'],
  pt: ['Sr.', 'Sra.', 'Dr.', 'Dra.'],
};

const CLOSERS = new Set(['"', "'", "''", ')', ']', '}', '”', '’']);

/**
 * The Treebank rules leave a final period attached when a closing quote or bracket follows
 * it ('go."' → 'go.' '"'); split it off, as for a sentence that ends in a bare period.
 */
function splitFinalPeriod(tokens: string[]): string[] {
  let i = tokens.length - 1;
  while (i >= 0 && CLOSERS.has(tokens[i])) i--;
  if (i < 0 || i === tokens.length - 1) return tokens;
  const t = tokens[i];
  if (t.length < 2 || !t.endsWith('.') || t.endsWith('..')) return tokens;
  return [...tokens.slice(0, i), t.slice(0, -1), '.', ...tokens.slice(i + 1)];
}

export function createTokenizer(options: Partial<TokenizerOptions> = {}): Tokenizer {
  const opts: Readonly<TokenizerOptions> = { ...TOKENIZER_DEFAULTS, ...options };
  if (!(TOKENIZER_NAMES as readonly string[]).includes(opts.name)) {
    throw usageError(`unknown tokenizer ${JSON.stringify(opts.name)}; use ${TOKENIZER_NAMES.join(', ')}`);
  }
  let words: (text: string) => string[];
  let sentences: (text: string) => string[];
  let naturalName: string | null;
  if (opts.name === 'whitespace') {
    naturalName = null;
    words = (text) => text.split(/\s+/).filter(Boolean);
    sentences = (text) => (text.trim() === '' ? [] : [text.trim()]);
  } else {
    const splitter = new natural.SentenceTokenizer(ABBREVIATIONS[opts.name]);
    sentences = (text) => (text.trim() === '' ? [] : splitter.tokenize(text).filter((s) => s.trim() !== ''));
    if (opts.name === 'en') {
      naturalName = 'TreebankWordTokenizer';
      const treebank = new natural.TreebankWordTokenizer();
      words = (text) => sentences(text).flatMap((s) => splitFinalPeriod(treebank.tokenize(s)));
    } else {
      naturalName = 'AggressiveTokenizerPt';
      const aggressive = new natural.AggressiveTokenizerPt();
      words = (text) => aggressive.tokenize(text);
    }
  }
  const spec: Readonly<TokenizerSpec> = Object.freeze({ name: opts.name, lowercase: opts.lowercase, natural: naturalName });
  const lower = (w: string) => (opts.lowercase ? w.toLowerCase() : w);
  return {
    spec,
    tokenize(text: string): string[] {
      const out: string[] = [];
      // split() with a capturing group keeps the specials at the odd indices
      text.normalize('NFC').split(SPECIAL_SPLIT).forEach((piece, i) => {
        if (i % 2 === 1) out.push(piece);
        else if (piece.trim() !== '') for (const w of words(piece)) out.push(lower(w));
      });
      return out;
    },
    sentences: (text: string) => sentences(text.normalize('NFC')),
    describe: () => describeTokenizer(spec),
  };
}

export function describeTokenizer(spec: TokenizerSpec): string {
  const how = spec.natural === null ? 'split on whitespace' : `natural ${spec.natural}`;
  return `${spec.name} (${how})${spec.lowercase ? ', lowercased' : ''}`;
}
