import {
  CORPUS_DEFAULTS,
  SPLITS,
  buildVocabulary,
  corpusStats,
  describeCorpus,
  encodeCorpus,
  resolveCorpus,
  type CorpusKind,
  type EosMode,
  type SplitStats,
  type Splits,
} from '../data/corpus.js';
import { KneserNeyModel, NGRAM_DEFAULTS, type Boundary, type Discounts } from '../data/ngram.js';
import type { TokenizerName, TokenizerSpec } from '../data/tokenize.js';
import { EOS_ID, UNK_ID, Vocabulary, type VocabularyJSON } from '../data/vocab.js';
import { inputError, usageError } from '../util/errors.js';
import { readJsonFile, writeJsonAtomic } from '../util/files.js';
import { stripUndefined } from '../util/objects.js';

export interface NgramRunOptions {
  /** "brown", a UTF-8 text file, or a directory with train.txt / valid.txt / test.txt. */
  corpus: string;
  /** n of the Kneser–Ney model. Default 5. */
  order: number;
  /** Whether contexts cross <eos> ('stream') or stop at it ('sentence'). Default 'stream'. */
  boundary: Boundary;
  /** Lower-case the words. Default false. */
  lowercase: boolean;
  /** Tokenizer for text files. Default 'en'. */
  tokenizer: TokenizerName;
  /** Text files: <eos> per non-blank line or per sentence. Default 'line'. */
  eos: EosMode;
  /** Keep words seen ≥ minCount times in train; null: the corpus's rule (Brown 4, text 2, PTB 1; 1 with vocabSize). */
  minCount: number | null;
  /** Cap on the vocabulary size (<unk>, <eos> included); null: none. */
  vocabSize: number | null;
  /** Use a saved vocabulary instead: its JSON, or any JSON with a "vocabulary" field holding one (a checkpoint). */
  vocab: string | null;
  /** Write the vocabulary used here to this file. */
  saveVocab: string | null;
  /** Progress lines (no newline), e.g. to stderr. */
  onProgress?: (message: string) => void;
}

export const NGRAM_RUN_DEFAULTS: Readonly<Omit<NgramRunOptions, 'corpus'>> = {
  order: NGRAM_DEFAULTS.order,
  boundary: NGRAM_DEFAULTS.boundary,
  lowercase: CORPUS_DEFAULTS.lowercase,
  tokenizer: CORPUS_DEFAULTS.tokenizer,
  eos: CORPUS_DEFAULTS.eos,
  minCount: null,
  vocabSize: null,
  vocab: null,
  saveVocab: null,
};

export interface NgramRunResult {
  corpus: {
    name: string;
    kind: CorpusKind;
    description: string;
    tokenizer: TokenizerSpec | null;
    lowercase: boolean;
    splitRule: string;
    splits: Splits<SplitStats>;
  };
  vocabulary: {
    size: number;
    fingerprint: string;
    /** "built from train" or the file it came from. */
    source: string;
    minCount: number | null;
    maxSize: number | null;
    /** Fraction of each split's tokens that are <unk>. */
    unkRate: Splits<number>;
  };
  model: {
    order: number;
    boundary: Boundary;
    discounts: Discounts[];
    discountsEstimated: boolean[];
    ngramTypes: number[];
    sizeBytes: number;
  };
  /** Predicted tokens per split (<eos> included). */
  tokens: { valid: number; test: number };
  /** nats per token. */
  crossEntropy: { valid: number; test: number };
  perplexity: { valid: number; test: number };
  elapsedMs: { corpus: number; vocabulary: number; train: number; evaluate: number; total: number };
}

/** A vocabulary from a file: its own JSON, or the "vocabulary" field of a checkpoint. */
export function loadVocabulary(path: string): Vocabulary {
  const json = readJsonFile(path, 'vocabulary');
  const inner =
    typeof json === 'object' && json !== null && 'vocabulary' in json
      ? (json as { vocabulary: unknown }).vocabulary
      : json;
  return Vocabulary.fromJSON(inner as VocabularyJSON, `vocabulary in ${path}`);
}

/**
 * The Kneser–Ney baseline on a corpus: read and split it, build (or load) the vocabulary
 * from train, count n-grams on train, and score valid and test.
 */
export function ngramRun(options: Partial<NgramRunOptions> & Pick<NgramRunOptions, 'corpus'>): NgramRunResult {
  const opts: Readonly<NgramRunOptions> = { ...NGRAM_RUN_DEFAULTS, ...stripUndefined(options), corpus: options.corpus };
  if (opts.vocab !== null && (opts.minCount !== null || opts.vocabSize !== null)) {
    throw usageError(
      (field) => `${field('vocab')} fixes the vocabulary; drop ${field('minCount')} and ${field('vocabSize')}`,
    );
  }
  const progress = opts.onProgress ?? (() => {});
  const t0 = performance.now();

  // no progress line before the corpus is read: bad input gets its one line on stderr alone
  const corpus = resolveCorpus(opts.corpus, { lowercase: opts.lowercase, tokenizer: opts.tokenizer, eos: opts.eos });
  const t1 = performance.now();

  let vocab: Vocabulary;
  let minCount: number | null = null;
  let maxSize: number | null = null;
  if (opts.vocab !== null) {
    vocab = loadVocabulary(opts.vocab);
    // the n-gram model's sentence boundaries and its <unk> row are seqlab's fixed ids
    if (!vocab.hasReservedIds) {
      const at = (id: number | null) => (id === null ? 'none' : `id ${id}`);
      throw inputError(
        `vocabulary in ${opts.vocab} keeps another order (<unk> ${at(vocab.unkId)}, <eos> ${at(vocab.eosId)}); ` +
          `the n-gram model needs <unk> = ${UNK_ID} and <eos> = ${EOS_ID}: build the vocabulary here instead`,
      );
    }
  } else {
    minCount = opts.minCount ?? (opts.vocabSize !== null ? 1 : corpus.vocabDefaults.minCount);
    maxSize = opts.vocabSize;
    vocab = buildVocabulary(corpus, { minCount, maxSize });
  }
  if (opts.saveVocab !== null) writeJsonAtomic(opts.saveVocab, vocab.toJSON());
  const ids = encodeCorpus(corpus, vocab);
  const t2 = performance.now();

  progress(
    `${describeCorpus(corpus)}: counting ${opts.order}-grams on ${ids.train.length} train tokens ` +
      `(vocabulary ${vocab.size})`,
  );
  const model = KneserNeyModel.train(ids.train, { order: opts.order, vocabSize: vocab.size, boundary: opts.boundary });
  const t3 = performance.now();

  progress('scoring valid and test');
  const valid = model.evaluate(ids.valid);
  const test = model.evaluate(ids.test);
  const t4 = performance.now();

  const unkRate = Object.fromEntries(SPLITS.map((s) => [s, vocab.unkRate(corpus[s])])) as Splits<number>;
  return {
    corpus: {
      name: corpus.name,
      kind: corpus.kind,
      description: describeCorpus(corpus),
      tokenizer: corpus.tokenizer,
      lowercase: corpus.lowercase,
      splitRule: corpus.splitRule,
      splits: corpusStats(corpus),
    },
    vocabulary: {
      size: vocab.size,
      fingerprint: vocab.fingerprint,
      source: opts.vocab ?? 'built from train',
      minCount,
      maxSize,
      unkRate,
    },
    model: {
      order: model.order,
      boundary: model.boundary,
      discounts: [...model.discounts],
      discountsEstimated: [...model.discountsEstimated],
      ngramTypes: [...model.ngramTypes],
      sizeBytes: model.sizeBytes,
    },
    tokens: { valid: valid.tokens, test: test.tokens },
    crossEntropy: { valid: valid.crossEntropy, test: test.crossEntropy },
    perplexity: { valid: valid.perplexity, test: test.perplexity },
    elapsedMs: { corpus: t1 - t0, vocabulary: t2 - t1, train: t3 - t2, evaluate: t4 - t3, total: t4 - t0 },
  };
}
