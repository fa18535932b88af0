import {
  CORPUS_DEFAULTS,
  buildVocabulary,
  describeCorpus,
  encodeCorpus,
  resolveCorpus,
  type CorpusOptions,
  type Splits,
} from '../data/corpus.js';
import type { Vocabulary } from '../data/vocab.js';
import { readWordLMCorpus, wordLMDictionary } from '../data/word-lm-corpus.js';
import type { Batch, SequenceTask } from './task.js';
import { inputError, oneOf, positiveInt, usageError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';

/**
 * Word-level language modeling, o_t = x_{t+1}. Each split is one token stream cut into
 * B parallel streams (batchify); a batch is the next `bptt` steps of all B streams,
 * and the hidden state is carried from one batch to the next (stateful), so truncated
 * BPTT sees the text in order:
 *
 *   stream:  a b c d e f g h i j k l      B = 3 →  a e i      batch 1 (bptt 2):  a e i  → targets b f j
 *                                                  b f j                         b f j              c g k
 *                                                  c g k      batch 2:           c g k  → targets d h l
 *                                                  d h l
 *
 * Training data order is fixed (the text's); the Rng is unused. Perplexity = exp(mean
 * cross-entropy per token, <eos> included), the same predictions seqlab ngram scores.
 */
/** How the corpus is read: seqlab's readers (corpus.ts), or word_language_model's data.py (word-lm-corpus.ts). */
export const LM_READERS = ['seqlab', 'word-lm'] as const;
export type LMReader = (typeof LM_READERS)[number];

export interface LMConfig extends CorpusOptions {
  /** "brown", a UTF-8 text file, or a directory with train.txt/valid.txt/test.txt. */
  corpus: string;
  /**
   * "seqlab": Brown, a text file or a PTB-style directory, a vocabulary by frequency with <unk>.
   * "word-lm": a directory read as pytorch/examples' word_language_model reads it (every line,
   * blank ones too, ends in <eos>; no lower-casing) with its Dictionary (every word of the three
   * splits, by first appearance), so losses compare with its own. Default "seqlab".
   */
  reader: LMReader;
  /** Parallel streams in training (the batch size). Default 20. */
  batchSize: number;
  /** Steps per batch (truncated-BPTT length). Default 35. */
  bptt: number;
  /** Streams for validation and test. Default 10. */
  evalBatchSize: number;
  /** Keep words seen ≥ minCount times; null: the corpus's rule (Brown: > 3 times in train). */
  minCount: number | null;
  /** Cap on the vocabulary size; null: none. */
  vocabSize: number | null;
  /** Evaluate on the first N tokens of valid and test only; null: all of them. Default null. */
  evalTokens: number | null;
  /** Use this vocabulary instead of building one (a checkpoint's). */
  vocabulary: Vocabulary | null;
  seed: number;
}

export const LM_DEFAULTS: Readonly<LMConfig> = {
  ...CORPUS_DEFAULTS,
  corpus: 'brown',
  reader: 'seqlab',
  batchSize: 20,
  bptt: 35,
  evalBatchSize: 10,
  minCount: null,
  vocabSize: null,
  evalTokens: null,
  vocabulary: null,
  seed: 1,
};

/** Cut a token stream into `batchSize` streams of equal length, time-major: [n, batchSize]. */
export function batchify(ids: Int32Array, batchSize: number): { data: Int32Array; steps: number } {
  const steps = Math.floor(ids.length / batchSize);
  const data = new Int32Array(steps * batchSize);
  for (let b = 0; b < batchSize; b++) for (let t = 0; t < steps; t++) data[t * batchSize + b] = ids[b * steps + t];
  return { data, steps };
}

/** The batches of a batchified stream: inputs [t, t+T), targets [t+1, t+T+1). */
export function streamBatches(stream: { data: Int32Array; steps: number }, batchSize: number, bptt: number): Batch[] {
  const out: Batch[] = [];
  for (let t0 = 0; t0 + 1 < stream.steps; t0 += bptt) {
    const T = Math.min(bptt, stream.steps - 1 - t0);
    out.push({
      seqLen: T,
      batchSize,
      inputs: new Float32Array(0),
      tokens: stream.data.slice(t0 * batchSize, (t0 + T) * batchSize),
      targets: stream.data.slice((t0 + 1) * batchSize, (t0 + 1 + T) * batchSize),
    });
  }
  return out;
}

export class LMTask implements SequenceTask {
  readonly name = 'lm';
  readonly readout = 'every' as const;
  readonly loss = 'xent' as const;
  readonly stateful = true;
  readonly usesOutputs = false;
  readonly config: Readonly<LMConfig>;
  readonly vocab: Vocabulary;
  readonly vocabSize: number;
  readonly outputSize: number;
  /** Token inputs: no dense features (the model's embedding makes them). */
  readonly inputSize = 0;
  readonly ids: Splits<Int32Array>;
  readonly corpusName: string;
  private readonly train: Batch[];
  private readonly valid: Batch[];
  private readonly test: Batch[];
  private cursor = 0;
  /** Completed passes over the training stream. */
  epoch = 0;

  constructor(config: Partial<LMConfig> = {}) {
    this.config = { ...LM_DEFAULTS, ...config };
    const c = this.config;
    positiveInt('batchSize', c.batchSize);
    positiveInt('bptt', c.bptt);
    oneOf('reader', c.reader, LM_READERS);
    if (c.reader === 'word-lm') {
      if (c.minCount !== null || c.vocabSize !== null || c.lowercase)
        throw usageError(
          (field) =>
            `the word-lm reader keeps every word as written (its Dictionary): no ${field('minCount')}, ` +
            `${field('vocabSize')} or ${field('lowercase')}`,
        );
      if (c.corpus === 'brown')
        throw usageError(
          (field) =>
            `the word-lm reader reads a data directory (train.txt, valid.txt, test.txt): set ${field('corpus')}`,
        );
      const splits = readWordLMCorpus(c.corpus);
      this.corpusName = `${c.corpus} (word_language_model's data.py: every line + <eos>)`;
      this.vocab = c.vocabulary ?? wordLMDictionary(splits);
      this.ids = {
        train: this.vocab.encode(splits.train),
        valid: this.vocab.encode(splits.valid),
        test: this.vocab.encode(splits.test),
      };
    } else {
      const corpus = resolveCorpus(c.corpus, { lowercase: c.lowercase, tokenizer: c.tokenizer, eos: c.eos });
      this.corpusName = describeCorpus(corpus);
      this.vocab =
        c.vocabulary ??
        buildVocabulary(corpus, {
          ...(c.minCount !== null ? { minCount: c.minCount } : {}),
          ...(c.vocabSize !== null ? { maxSize: c.vocabSize } : {}),
        });
      this.ids = encodeCorpus(corpus, this.vocab);
    }
    this.vocabSize = this.vocab.size;
    this.outputSize = this.vocab.size;
    if (this.ids.train.length < c.batchSize * (c.bptt + 1)) {
      throw inputError(
        `corpus ${c.corpus} is too small: its train split has ${this.ids.train.length} tokens, ` +
          `fewer than one batch (${c.batchSize} streams × ${c.bptt + 1} steps)`,
      );
    }
    for (const split of ['valid', 'test'] as const) {
      if (this.ids[split].length < 2 * c.evalBatchSize)
        throw inputError(`corpus ${c.corpus} is too small: its ${split} split has ${this.ids[split].length} tokens`);
    }
    this.train = streamBatches(batchify(this.ids.train, c.batchSize), c.batchSize, c.bptt);
    const head = (ids: Int32Array) =>
      c.evalTokens === null ? ids : ids.subarray(0, Math.max(c.evalTokens, 2 * c.evalBatchSize));
    this.valid = streamBatches(batchify(head(this.ids.valid), c.evalBatchSize), c.evalBatchSize, c.bptt);
    this.test = streamBatches(batchify(head(this.ids.test), c.evalBatchSize), c.evalBatchSize, c.bptt);
  }

  get fixedBatchSize(): number {
    return this.config.batchSize;
  }

  get vocabFingerprint(): string {
    return this.vocab.fingerprint;
  }

  /** Optimizer steps in one pass over the training stream. */
  get stepsPerEpoch(): number {
    return this.train.length;
  }

  /** Where the next training batch starts (for resuming). */
  position(): { epoch: number; cursor: number } {
    return { epoch: this.epoch, cursor: this.cursor };
  }

  seek(position: unknown): void {
    const p = position as { epoch: number; cursor: number };
    this.epoch = p.epoch;
    this.cursor = p.cursor;
  }

  trainBatch(_rng: Rng, batchSize: number): Batch {
    if (batchSize !== this.config.batchSize)
      throw new Error(`LM batches are fixed at ${this.config.batchSize} streams, asked for ${batchSize}`);
    const batch = this.train[this.cursor];
    this.cursor++;
    if (this.cursor === this.train.length) {
      this.cursor = 0;
      this.epoch++;
    }
    return batch;
  }

  /** True when the next training batch starts a new pass: the carried state restarts. */
  startsStream(): boolean {
    return this.cursor === 0;
  }

  evalBatches(): Batch[] {
    return this.valid;
  }

  testBatches(): Batch[] {
    return this.test;
  }

  probeBatch(): Batch {
    // the first `bptt` steps of 8 validation streams
    const B = Math.min(8, this.config.evalBatchSize);
    const first = this.valid[0];
    const tokens = new Int32Array(first.seqLen * B);
    const targets = new Int32Array(first.seqLen * B);
    const src = first.tokens as Int32Array;
    const tgt = first.targets as Int32Array;
    for (let t = 0; t < first.seqLen; t++) {
      for (let b = 0; b < B; b++) {
        tokens[t * B + b] = src[t * first.batchSize + b];
        targets[t * B + b] = tgt[t * first.batchSize + b];
      }
    }
    return { seqLen: first.seqLen, batchSize: B, inputs: new Float32Array(0), tokens, targets };
  }

  evaluate(_outputs: Float32Array[], loss: number): Record<string, number | null> {
    return { xent: loss, perplexity: Math.exp(loss) };
  }

  /** The vocabulary and corpus settings travel with the weights: a model never separates from its vocabulary. */
  checkpointExtra(): Record<string, unknown> {
    return { vocabulary: this.vocab.toJSON(), taskConfig: this.describe() };
  }

  describe(): Record<string, unknown> {
    const { vocabulary, ...rest } = this.config;
    void vocabulary;
    return {
      task: this.name,
      ...rest,
      corpusName: this.corpusName,
      vocabSize: this.vocab.size,
      vocabFingerprint: this.vocab.fingerprint,
      tokens: { train: this.ids.train.length, valid: this.ids.valid.length, test: this.ids.test.length },
      stepsPerEpoch: this.stepsPerEpoch,
    };
  }
}
