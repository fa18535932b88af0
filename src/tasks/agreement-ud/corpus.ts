/**
 * The Portuguese LM corpus and its agreement items, from the same treebanks.
 *
 * Split by document: within each treebank, its documents (treebanks.ts says how each treebank's
 * are found) are shuffled with a seeded Rng and laid end to end; a document whose middle word
 * falls in the first `testFraction` of the treebank's words goes to test, in the next
 * `validFraction` to valid, the rest to train. The
 * treebanks' own train/dev/test files are not followed (GSD's are cut by sentence; Porttinari
 * ships one file): every treebank adds its share to every split. Then every train or valid
 * sentence whose tokens equal those of a test item's sentence (headlines, bylines, repeated
 * lines) is dropped, so no sentence that yields a test item is in the LM's train or valid text.
 *
 * Items are extracted over all the treebanks (the form table sees every verb; the Portuguese rule
 * fallback only when every treebank is a pt_* one) and the test
 * documents' items kept; each gets `nonce` twins whose words are drawn from the train text's
 * vocabulary (nonce.ts; seen ≥ nonceMinCount times, so a word LM built on train knows them).
 *
 * Written as a Penn-Treebank-style directory, which `--corpus DIR` reads (src/data/corpus.ts):
 *
 *   train.txt, valid.txt, test.txt   one sentence a line, tokens joined by single spaces,
 *                                    exactly as the items' prefixes are tokenized (lmToken)
 *   items.jsonl                      the test items and their nonce twins (items.ts)
 *   manifest.json                    inputs (with sha256), options, counts, licenses
 *   README.md                        what the files are, attribution and license
 *
 * The directory is a cache: ensureUdCorpus() rebuilds it when the inputs, the options or
 * BUILD_VERSION change, and otherwise leaves it alone.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SPLITS, type SplitName, type Splits } from '../../data/corpus.js';
import { surfaceTokens, type Sentence } from '../../data/conllu.js';
import { usageError } from '../../util/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/files.js';
import { Rng } from '../../util/rng.js';
import { DROP_REASONS, extractItems, type Extraction } from './extract.js';
import { formatItems, type AgreementItem } from './items.js';
import { NonceVocabulary, nonceTwins } from './nonce.js';
import { lmToken, readTreebanks, shippedTreebanks } from './treebanks.js';

/** Bump when the derived files would change for the same inputs and options. */
export const BUILD_VERSION = 1;

export interface UdCorpusOptions {
  /** Treebank files (.conllu or .conllu.gz); default: the shipped Portuguese ones. */
  treebanks: string[] | null;
  /** Share of each treebank's words in valid / test (whole documents). Defaults 0.1 / 0.2. */
  validFraction: number;
  testFraction: number;
  /** Seeds the document shuffle and the nonce twins. Default 1. */
  seed: number;
  /** Lower-case the text and the items. Default true. */
  lowercase: boolean;
  /** Nonce twins per test item. Default 5. */
  nonce: number;
  /** A nonce word must occur this often in train. Default 2. */
  nonceMinCount: number;
}

export const UD_CORPUS_DEFAULTS: Readonly<UdCorpusOptions> = {
  treebanks: null,
  validFraction: 0.1,
  testFraction: 0.2,
  seed: 1,
  lowercase: true,
  nonce: 5,
  nonceMinCount: 2,
};

export interface SplitCounts {
  documents: number;
  sentences: number;
  /** Tokens of the text (no <eos>). */
  tokens: number;
}

export interface UdCorpus {
  options: Readonly<UdCorpusOptions>;
  /** Tokenized sentences per split, in treebank and file order. */
  text: Splits<string[][]>;
  /** Test items and their nonce twins, each original followed by its twins. */
  items: AgreementItem[];
  /** Extraction over all treebanks (all splits). */
  extraction: Extraction;
  counts: Splits<SplitCounts>;
  /** Train/valid sentences dropped because a test item's sentence reads the same. */
  droppedDuplicates: number;
  /** The split of every document: "<treebank>\t<docId>" → split. */
  documentSplit: Map<string, SplitName>;
}

const docKey = (treebank: string, docId: string) => `${treebank}\t${docId}`;

/**
 * The split of each document of one treebank (all its files' sentences; see the module comment).
 * Documents are keyed by docId.
 */
export function splitDocuments(
  treebank: string,
  sentences: readonly Sentence[],
  fractions: { validFraction: number; testFraction: number; seed: number },
): Map<string, SplitName> {
  const { validFraction, testFraction, seed } = fractions;
  const words = new Map<string, number>();
  for (const s of sentences) words.set(s.docId, (words.get(s.docId) ?? 0) + s.words.length);
  const docs = [...words.keys()];
  new Rng(`${seed}/split/${treebank}`).shuffle(docs);
  let total = 0;
  for (const n of words.values()) total += n;
  const out = new Map<string, SplitName>();
  let dealt = 0;
  for (const doc of docs) {
    // a document goes where its middle word falls: each split's share is right on average
    const middle = dealt + words.get(doc)! / 2;
    const share = middle / total;
    out.set(doc, share < testFraction ? 'test' : share < testFraction + validFraction ? 'valid' : 'train');
    dealt += words.get(doc)!;
  }
  return out;
}

function checkOptions(o: Readonly<UdCorpusOptions>): void {
  const fraction = (name: string, v: number) => {
    if (!(v > 0 && v < 1)) throw usageError(`${name} must be between 0 and 1 (exclusive), got ${v}`);
  };
  fraction('validFraction', o.validFraction);
  fraction('testFraction', o.testFraction);
  if (o.validFraction + o.testFraction >= 1) {
    const sum = o.validFraction + o.testFraction;
    throw usageError(`validFraction + testFraction must be below 1 (train needs the rest), got ${sum}`);
  }
  if (!Number.isInteger(o.nonce) || o.nonce < 0) {
    throw usageError(`nonce must be a non-negative integer, got ${o.nonce}`);
  }
  if (!Number.isInteger(o.nonceMinCount) || o.nonceMinCount < 1) {
    throw usageError(`nonceMinCount must be a positive integer, got ${o.nonceMinCount}`);
  }
}

/** Build the corpus in memory (see the module comment). */
export function buildUdCorpus(options: Partial<UdCorpusOptions> = {}): UdCorpus {
  const opts: Readonly<UdCorpusOptions> = { ...UD_CORPUS_DEFAULTS, ...options };
  checkOptions(opts);
  const treebanks = readTreebanks(opts.treebanks ?? shippedTreebanks());
  const byName = new Map<string, Sentence[]>();
  for (const tb of treebanks) byName.set(tb.name, [...(byName.get(tb.name) ?? []), ...tb.sentences]);
  const documentSplit = new Map<string, SplitName>();
  for (const [name, sentences] of byName) {
    for (const [doc, split] of splitDocuments(name, sentences, opts)) documentSplit.set(docKey(name, doc), split);
  }
  const splitOf = (treebank: string, s: Sentence) => documentSplit.get(docKey(treebank, s.docId))!;

  // the rule fallback for wrong forms is Portuguese: other languages get the treebanks' own forms only
  const rules = treebanks.every((tb) => tb.name.startsWith('pt_')) ? 'pt' : null;
  const extraction = extractItems(treebanks, { lowercase: opts.lowercase, rules });
  const testItemLines = new Set<string>();
  const testOriginals: number[] = [];
  extraction.items.forEach((item, i) => {
    const src = extraction.sources[i];
    if (splitOf(item.treebank!, src.sentence) !== 'test') return;
    testOriginals.push(i);
    testItemLines.add(sentenceLine(src.sentence, opts.lowercase));
  });

  const text: Splits<string[][]> = { train: [], valid: [], test: [] };
  const docs: Splits<Set<string>> = { train: new Set(), valid: new Set(), test: new Set() };
  const trainSentences: Sentence[] = [];
  let droppedDuplicates = 0;
  for (const tb of treebanks) {
    for (const s of tb.sentences) {
      const split = splitOf(tb.name, s);
      const tokens = surfaceTokens(s).map((t) => lmToken(t.form, opts.lowercase));
      if (split !== 'test' && testItemLines.has(tokens.join(' '))) {
        droppedDuplicates++;
        continue;
      }
      text[split].push(tokens);
      docs[split].add(docKey(tb.name, s.docId));
      if (split === 'train') trainSentences.push(s);
    }
  }

  const vocabulary = opts.nonce > 0 ? new NonceVocabulary(trainSentences, opts.nonceMinCount) : null;
  const items: AgreementItem[] = [];
  for (const i of testOriginals) {
    const item = extraction.items[i];
    const twinOptions = { variants: opts.nonce, seed: opts.seed, lowercase: opts.lowercase };
    items.push(item, ...(vocabulary === null ? [] : nonceTwins(item, extraction.sources[i], vocabulary, twinOptions)));
  }
  const count = (split: SplitName): SplitCounts => ({
    documents: docs[split].size,
    sentences: text[split].length,
    tokens: text[split].reduce((n, s) => n + s.length, 0),
  });
  const counts = { train: count('train'), valid: count('valid'), test: count('test') };
  return { options: opts, text, items, extraction, counts, droppedDuplicates, documentSplit };
}

function sentenceLine(s: Sentence, lowercase: boolean): string {
  return surfaceTokens(s)
    .map((t) => lmToken(t.form, lowercase))
    .join(' ');
}

export interface InputFile {
  file: string;
  sizeBytes: number;
  sha256: string;
}

function describeInputs(paths: readonly string[]): InputFile[] {
  return paths.map((p) => ({
    file: basename(p),
    sizeBytes: statSync(p).size,
    sha256: createHash('sha256').update(readFileSync(p)).digest('hex'),
  }));
}

export interface UdCorpusManifest {
  format: 'seqlab-ud-corpus';
  buildVersion: number;
  options: Omit<UdCorpusOptions, 'treebanks'>;
  inputs: InputFile[];
  counts: Splits<SplitCounts>;
  droppedDuplicates: number;
  items: { originals: number; twins: number; extractedAllSplits: number; candidates: number };
  dropped: Record<string, number>;
}

function manifestOf(corpus: UdCorpus, inputs: InputFile[]): UdCorpusManifest {
  const { treebanks: _ignored, ...options } = corpus.options;
  const originals = corpus.items.filter((i) => i.variant === 0).length;
  return {
    format: 'seqlab-ud-corpus',
    buildVersion: BUILD_VERSION,
    options,
    inputs,
    counts: corpus.counts,
    droppedDuplicates: corpus.droppedDuplicates,
    items: {
      originals,
      twins: corpus.items.length - originals,
      extractedAllSplits: corpus.extraction.items.length,
      candidates: corpus.extraction.candidates,
    },
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, corpus.extraction.dropped[r]])),
  };
}

const README = (inputs: InputFile[]) => `# Portuguese LM corpus and agreement items (derived data)

Built by seqlab (src/tasks/agreement-ud/corpus.ts) from these Universal Dependencies treebank
files: ${inputs.map((i) => i.file).join(', ')}.

- train.txt, valid.txt, test.txt: the treebanks' sentences, one a line, split by document.
- items.jsonl: subject–verb agreement items from the test documents, with nonce twins.
- manifest.json: the inputs (sha256), options and counts.

This is derived data: it keeps the license of the treebanks it comes from. UD_Portuguese-Bosque,
UD_Portuguese-GSD and UD_Portuguese-PetroGold are CC BY-SA 4.0 (ShareAlike: what you share
that is derived from them must carry the same license); UD_Portuguese-Porttinari is CC BY 4.0.
Attribution and the license texts: corpora/ud-portuguese/README.md in the seqlab package.
`;

/** Write the corpus directory (atomic files). */
export function writeUdCorpus(corpus: UdCorpus, dir: string, inputs?: InputFile[]): UdCorpusManifest {
  const given = inputs ?? describeInputs(corpus.options.treebanks ?? shippedTreebanks());
  // the manifest goes last: a directory whose writing was cut short has none and is rebuilt
  rmSync(join(dir, 'manifest.json'), { force: true });
  for (const split of SPLITS) {
    writeFileAtomic(join(dir, `${split}.txt`), `${corpus.text[split].map((s) => s.join(' ')).join('\n')}\n`);
  }
  writeFileAtomic(join(dir, 'items.jsonl'), formatItems(corpus.items));
  writeFileAtomic(join(dir, 'README.md'), README(given));
  const manifest = manifestOf(corpus, given);
  writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return manifest;
}

/**
 * The corpus directory `dir`, built now unless it already holds a build of the same inputs
 * (sha256), options and BUILD_VERSION. Returns its manifest and whether it was (re)built.
 */
export function ensureUdCorpus(
  dir: string,
  options: Partial<UdCorpusOptions> = {},
): { manifest: UdCorpusManifest; built: boolean } {
  const opts: Readonly<UdCorpusOptions> = { ...UD_CORPUS_DEFAULTS, ...options };
  checkOptions(opts);
  const inputs = describeInputs(opts.treebanks ?? shippedTreebanks());
  const manifestPath = join(dir, 'manifest.json');
  const complete = [...SPLITS.map((s) => `${s}.txt`), 'items.jsonl'].every((f) => existsSync(join(dir, f)));
  if (complete && existsSync(manifestPath)) {
    try {
      const old = JSON.parse(readFileSync(manifestPath, 'utf8')) as UdCorpusManifest;
      const { treebanks: _ignored, ...wanted } = opts;
      if (
        old.format === 'seqlab-ud-corpus' &&
        old.buildVersion === BUILD_VERSION &&
        JSON.stringify(old.options) === JSON.stringify(wanted) &&
        JSON.stringify(old.inputs) === JSON.stringify(inputs)
      ) {
        return { manifest: old, built: false };
      }
    } catch {
      // unreadable manifest: rebuild
    }
  }
  const manifest = writeUdCorpus(buildUdCorpus(opts), dir, inputs);
  return { manifest, built: true };
}
