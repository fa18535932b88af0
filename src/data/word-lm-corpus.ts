/**
 * Text as pytorch/examples' word_language_model reads it (its data.py), so that perplexities
 * computed here and there are over the same token ids:
 *
 *   - a directory with train.txt, valid.txt, test.txt, read as UTF-8;
 *   - lines as Python's text mode iterates them: "\n", "\r\n" and "\r" end a line, a final line
 *     without a newline still counts, a newline at the very end adds none;
 *   - every line, blank ones included, gives its words (Python's str.split(): runs of whitespace)
 *     and then <eos>; nothing else is done (no lower-casing, no <unk>, a BOM stays part of the
 *     first word as Python leaves it);
 *   - the Dictionary numbers words by first appearance over train, then valid, then test.
 *
 * This differs from seqlab's Penn-Treebank-style reader (corpus.ts), which skips blank lines and
 * builds a frequency-ordered vocabulary with <unk> and <eos> first; WikiText's blank lines make
 * the difference visible.
 *
 * A vocabulary file is one word per line in id order, UTF-8, "\n" after each word.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SeqlabError, inputError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { SPLITS, type Splits, readTextFile } from './corpus.js';
import { EOS, PY_WHITESPACE, Vocabulary } from './vocab.js';

const SPLIT_ON = new RegExp(`${PY_WHITESPACE.source}+`);

/** Python's str.split(): the words between runs of whitespace (no normalization, nothing else). */
export function pythonSplit(text: string): string[] {
  return text.split(SPLIT_ON).filter((w) => w !== '');
}

/** UTF-8 text → word_language_model's tokens: each line's words, then <eos>. */
export function wordLMTokens(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop(); // a final newline ends the last line, it opens none
  const out: string[] = [];
  for (const line of lines) {
    for (const w of pythonSplit(line)) out.push(w);
    out.push(EOS);
  }
  return out;
}

/** A file decoded as strict UTF-8, a BOM kept (Python's encoding="utf8" keeps it as U+FEFF). */
function readUtf8(path: string, what: string): string {
  if (!existsSync(path)) throw inputError(`${what} not found: ${path}`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw inputError(`${what} is not valid UTF-8 text: ${path}`);
  }
}

/** The three splits of a word_language_model data directory as token streams. */
export function readWordLMCorpus(dir: string): Splits<string[]> {
  if (!existsSync(dir)) throw inputError(`corpus directory not found: ${dir}`);
  if (!statSync(dir).isDirectory()) {
    throw inputError(`not a directory: ${dir} (word_language_model reads train.txt, valid.txt, test.txt from one)`);
  }
  const missing = SPLITS.filter((s) => !existsSync(join(dir, `${s}.txt`)));
  if (missing.length > 0) {
    throw inputError(`corpus directory ${dir} has no ${missing.map((s) => `${s}.txt`).join(', ')}`);
  }
  const read = (s: (typeof SPLITS)[number]) => {
    const path = join(dir, `${s}.txt`);
    return wordLMTokens(readUtf8(path, `${s} file`));
  };
  return { train: read('train'), valid: read('valid'), test: read('test') };
}

/** word_language_model's Dictionary of a corpus: every token, numbered by first appearance over train, valid, test. */
export function wordLMDictionary(splits: Splits<readonly string[]>): Vocabulary {
  const seen = new Set<string>();
  const words: string[] = [];
  for (const s of SPLITS) {
    for (const t of splits[s]) {
      if (!seen.has(t)) {
        seen.add(t);
        words.push(t);
      }
    }
  }
  return Vocabulary.fromWordList(words, 'word_language_model dictionary');
}

/** A vocabulary file's text → its words in id order; `source` names it in errors. */
export function parseVocabFile(text: string, source: string): Vocabulary {
  const lines = text.split(/\r\n|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw inputError(`vocabulary file ${source} is empty`);
  const blank = lines.indexOf('');
  if (blank >= 0) {
    throw inputError(`vocabulary file ${source}: line ${blank + 1} is blank; one word a line, in id order`);
  }
  return Vocabulary.fromWordList(lines, `vocabulary file ${source}`);
}

/** A vocabulary as file text: one word per line in id order, "\n" after each. */
export function formatVocabFile(vocab: Vocabulary): string {
  for (const [i, t] of vocab.tokens.entries()) {
    if (PY_WHITESPACE.test(t)) {
      throw inputError(
        `vocabulary token ${i} (${JSON.stringify(t)}) contains whitespace and cannot be one line of a vocabulary file`,
      );
    }
  }
  return vocab.tokens.map((t) => `${t}\n`).join('');
}

export function readVocabFile(path: string): Vocabulary {
  // the BOM readTextFile drops is never part of a word a tool meant to write
  return parseVocabFile(readTextFile(path, 'vocabulary file'), path);
}

export function writeVocabFile(path: string, vocab: Vocabulary): void {
  const text = formatVocabFile(vocab);
  try {
    writeFileAtomic(path, text);
  } catch (e) {
    throw new SeqlabError('io', `cannot write vocabulary file ${path}: ${(e as Error).message}`);
  }
}
