import { Rng } from '../../util/rng.js';
import { nonNegativeInt, positiveInt, usageError } from '../../util/errors.js';
import { stripUndefined } from '../../util/objects.js';
import type { Batch, SequenceTask } from '../task.js';
import { EOS, EOS_ID, UNK, Vocabulary } from '../../data/vocab.js';
import { lexiconWords, loadLexicon, type Lexicon } from './lexicon.js';
import { makeSplit, resolveConstructions, type AgreementExample, type Construction } from './generator.js';

/**
 * The agreement probe as two SequenceTasks over the same generated sentences.
 *
 * (a) AgreementTask, number prediction: read the sentence up to, not including, the
 *     verb and say from the last hidden state whether the subject is singular (0) or
 *     plural (1); two-class softmax cross-entropy = binary cross-entropy.
 * (b) AgreementLMTask, language modeling: token t predicts token t + 1 (the last one
 *     predicts <eos>); the probe is then how often the model scores the correct verb
 *     form above the wrong one after the prefix (Linzen et al. 2016; Gulordava et al. 2018).
 *
 * Both are trained on distances ≤ trainMaxDistance and evaluated on testDistances,
 * with accuracy broken down by distance and by attractor count.
 */
export interface AgreementConfig {
  /** Shortest training distance (words between subject head and verb). Default 1. */
  trainMinDistance: number;
  /** Longest training distance, D_train. Default 8. */
  trainMaxDistance: number;
  /** Test distances; the ones > D_train measure length generalization. Default 2, 4, …, 16. */
  testDistances: number[];
  /** 'free' (each intervening noun's number a fair coin: no cue) or an exact [min, max] count. Default 'free'. */
  attractors: 'free' | [number, number];
  /** Distinct training sentences; batches are drawn from them with replacement. Default 10000. */
  trainSize: number;
  /** Test sentences per test distance. Default 200. */
  testSize: number;
  /** A preset ("no-cue", "no-cue-orc", "relatives", "all") or construction names, comma-separated. Default "no-cue". */
  constructions: string | string[];
  /** Relative clauses nested in one another, at most. Default 2. */
  maxDepth: number;
  /** Lexicon JSON file; null = the shipped corpora/agreement-pt.json. */
  lexicon: string | null;
  /** Sentences in the gradient-flow probe batch, all at the longest test distance. Default 8. */
  probeSize: number;
  seed: number;
}

export const AGREEMENT_DEFAULTS: Readonly<AgreementConfig> = {
  trainMinDistance: 1,
  trainMaxDistance: 8,
  testDistances: [2, 4, 6, 8, 10, 12, 14, 16],
  attractors: 'free',
  trainSize: 10000,
  testSize: 200,
  constructions: 'no-cue',
  maxDepth: 2,
  lexicon: null,
  probeSize: 8,
  seed: 1,
};

/** Test sentences per eval batch (one or more batches per distance). */
const EVAL_BATCH = 250;

/**
 * The task's vocabulary: <unk> (id 0, never in a sentence: padding's target), <eos> (1), then the lexicon's
 * words in code-unit order.
 */
export function agreementVocabulary(lex: Lexicon): Vocabulary {
  return Vocabulary.fromTokens([UNK, EOS, ...lexiconWords(lex)]);
}

/**
 * Number prediction: inputs [T, B, V] one-hot of each sentence's prefix (tokens before the
 * verb), right-padded with zero rows to the longest prefix T; targets [B] (0 = sg, 1 = pl);
 * mask [T, B] one-hot at each sentence's last prefix token.
 */
export function numberBatch(examples: readonly AgreementExample[], vocab: Vocabulary): Batch {
  const B = examples.length;
  const T = Math.max(1, ...examples.map((ex) => ex.verbIndex));
  const V = vocab.size;
  const inputs = new Float32Array(T * B * V);
  const targets = new Int32Array(B);
  const mask = new Float32Array(T * B);
  examples.forEach((ex, b) => {
    if (ex.verbIndex < 1) throw new Error('agreement: a sentence needs a subject before its verb');
    for (let t = 0; t < ex.verbIndex; t++) inputs[(t * B + b) * V + vocab.id(ex.tokens[t])] = 1;
    targets[b] = ex.number === 'sg' ? 0 : 1;
    mask[(ex.verbIndex - 1) * B + b] = 1;
  });
  return { seqLen: T, batchSize: B, inputs, targets, mask };
}

/**
 * Language modeling: inputs [T, B, V] one-hot of whole sentences, right-padded with zero
 * rows; targets [T, B]: the next word's id (<eos> after the last word, <unk> (masked) on padding);
 * mask [T, B]: 1 on the sentence's words, 0 on padding.
 */
export function lmBatch(examples: readonly AgreementExample[], vocab: Vocabulary): Batch {
  const B = examples.length;
  const T = Math.max(1, ...examples.map((ex) => ex.tokens.length));
  const V = vocab.size;
  const eos = EOS_ID;
  const inputs = new Float32Array(T * B * V);
  const targets = new Int32Array(T * B);
  const mask = new Float32Array(T * B);
  examples.forEach((ex, b) => {
    const L = ex.tokens.length;
    for (let t = 0; t < L; t++) {
      inputs[(t * B + b) * V + vocab.id(ex.tokens[t])] = 1;
      targets[t * B + b] = t + 1 < L ? vocab.id(ex.tokens[t + 1]) : eos;
      mask[t * B + b] = 1;
    }
  });
  return { seqLen: T, batchSize: B, inputs, targets, mask };
}

/** The sentences and vocabulary both framings share, built once from the config. */
class AgreementData {
  readonly config: Readonly<AgreementConfig>;
  readonly constructions: Construction[];
  readonly lexicon: Lexicon;
  readonly vocab: Vocabulary;
  readonly train: AgreementExample[];
  /** The test split in eval-batch groups (by distance). */
  readonly evalGroups: AgreementExample[][];
  readonly probeExamples: AgreementExample[];

  constructor(config: Partial<AgreementConfig>) {
    const cfg = { ...AGREEMENT_DEFAULTS, ...stripUndefined(config) };
    positiveInt('probeSize', cfg.probeSize);
    nonNegativeInt('maxDepth', cfg.maxDepth);
    if (!Array.isArray(cfg.testDistances) || cfg.testDistances.length === 0)
      throw usageError((field) => `${field('testDistances')} must list at least one distance`);
    this.constructions = resolveConstructions(cfg.constructions);
    this.config = { ...cfg, testDistances: [...cfg.testDistances] };
    this.lexicon = loadLexicon(cfg.lexicon);
    this.vocab = agreementVocabulary(this.lexicon);
    const split = makeSplit(
      {
        trainMinDistance: cfg.trainMinDistance,
        trainMaxDistance: cfg.trainMaxDistance,
        testDistances: cfg.testDistances,
        trainSize: cfg.trainSize,
        testSize: cfg.testSize,
        attractors: cfg.attractors,
        constructions: this.constructions,
        maxDepth: cfg.maxDepth,
        lexicon: this.lexicon,
      },
      new Rng(`${cfg.seed}/agreement`),
    );
    this.train = split.train;
    this.evalGroups = [];
    for (const d of cfg.testDistances) {
      const atD = split.test.filter((ex) => ex.distance === d);
      for (let i = 0; i < atD.length; i += EVAL_BATCH) this.evalGroups.push(atD.slice(i, i + EVAL_BATCH));
    }
    const longest = Math.max(...cfg.testDistances);
    this.probeExamples = split.test.filter((ex) => ex.distance === longest).slice(0, cfg.probeSize);
  }

  sample(rng: Rng, batchSize: number): AgreementExample[] {
    return Array.from({ length: batchSize }, () => this.train[rng.int(this.train.length)]);
  }

  describe(name: string): Record<string, unknown> {
    return {
      task: name,
      ...this.config,
      constructions: this.constructions,
      lexicon: this.lexicon.source,
      vocabSize: this.vocab.size,
      trainExamples: this.train.length,
      testExamples: this.evalGroups.reduce((n, g) => n + g.length, 0),
    };
  }
}

/**
 * Right/total counts by distance and by attractor count, flattened to `accuracy@d=…`, `n@d=…`, `accuracy@a=…`,
 * `n@a=…`.
 */
export class AgreementTally {
  private right = 0;
  private total = 0;
  private readonly byDistance = new Map<number, [number, number]>();
  private readonly byAttractors = new Map<number, [number, number]>();

  add(ex: AgreementExample, isRight: boolean): void {
    this.total++;
    if (isRight) this.right++;
    for (const [map, key] of [
      [this.byDistance, ex.distance],
      [this.byAttractors, ex.attractors],
    ] as const) {
      const cell = map.get(key) ?? [0, 0];
      cell[0] += +isRight;
      cell[1]++;
      map.set(key, cell);
    }
  }

  get accuracy(): number | null {
    return this.total === 0 ? null : this.right / this.total;
  }

  breakdown(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [tag, map] of [
      ['d', this.byDistance],
      ['a', this.byAttractors],
    ] as const) {
      const keys = [...map.keys()].sort((x, y) => x - y);
      for (const k of keys) out[`accuracy@${tag}=${k}`] = map.get(k)![0] / map.get(k)![1];
      for (const k of keys) out[`n@${tag}=${k}`] = map.get(k)![1];
    }
    return out;
  }
}

/** What both framings share: the data, batches built by `toBatch`, the fixed eval and probe batches. */
abstract class AgreementTaskBase {
  abstract readonly name: string;
  readonly inputSize: number;
  readonly loss = 'xent' as const;
  readonly target = { metric: 'accuracy', goal: 'max' as const, value: 0.9 };
  protected readonly data: AgreementData;
  protected readonly evalSet: Batch[];
  private readonly probe: Batch;

  constructor(
    config: Partial<AgreementConfig>,
    private readonly toBatch: (examples: readonly AgreementExample[], vocab: Vocabulary) => Batch,
  ) {
    this.data = new AgreementData(config);
    this.inputSize = this.data.vocab.size;
    this.evalSet = this.data.evalGroups.map((g) => toBatch(g, this.data.vocab));
    this.probe = toBatch(this.data.probeExamples, this.data.vocab);
  }

  get config(): Readonly<AgreementConfig> {
    return this.data.config;
  }

  get vocab(): Vocabulary {
    return this.data.vocab;
  }

  /** The test sentences behind evalBatches(), batch by batch. */
  get evalExamples(): readonly (readonly AgreementExample[])[] {
    return this.data.evalGroups;
  }

  get trainExamples(): readonly AgreementExample[] {
    return this.data.train;
  }

  trainBatch(rng: Rng, batchSize: number): Batch {
    return this.toBatch(this.data.sample(rng, batchSize), this.data.vocab);
  }

  evalBatches(): Batch[] {
    return this.evalSet;
  }

  probeBatch(): Batch {
    return this.probe;
  }

  describe(): Record<string, unknown> {
    return this.data.describe(this.name);
  }
}

/** (a) Number prediction from the prefix before the verb. */
export class AgreementTask extends AgreementTaskBase implements SequenceTask {
  readonly name = 'agreement';
  readonly outputSize = 2;
  readonly readout = 'last' as const;

  constructor(config: Partial<AgreementConfig> = {}) {
    super(config, numberBatch);
  }

  /** outputs[i]: [B_i, 2] logits (sg, pl) for evalBatches()[i]; the larger one is the prediction. */
  evaluate(outputs: Float32Array[], loss: number): Record<string, number | null> {
    const tally = new AgreementTally();
    outputs.forEach((out, i) => {
      const group = this.data.evalGroups[i];
      if (out.length !== group.length * 2)
        throw new Error(`agreement evaluate: batch ${i} has ${out.length} outputs, expected ${group.length} × 2`);
      for (const [b, ex] of group.entries())
        tally.add(ex, (out[2 * b + 1] > out[2 * b] ? 1 : 0) === (ex.number === 'sg' ? 0 : 1));
    });
    return { accuracy: tally.accuracy, loss, ...tally.breakdown() };
  }
}

/** (b) A word LM on the sentences; the probe compares the two verb forms after each test prefix. */
export class AgreementLMTask extends AgreementTaskBase implements SequenceTask {
  readonly name = 'agreement-lm';
  readonly outputSize: number;
  readonly readout = 'every' as const;

  constructor(config: Partial<AgreementConfig> = {}) {
    super(config, lmBatch);
    this.outputSize = this.data.vocab.size;
  }

  /**
   * outputs[i]: logits for evalBatches()[i], either one row per (t, b) in time-major order
   * ([T·B, V], what the trainer's "every" readout gives) or one row per counted (mask = 1)
   * position in the same order ([N, V]). Agreement is right when the row at the position
   * just before the verb scores the correct form above the wrong one (softmax is monotone,
   * so comparing logits compares probabilities); perplexity = exp(mean cross-entropy).
   */
  evaluate(outputs: Float32Array[], loss: number): Record<string, number | null> {
    const V = this.outputSize;
    const tally = new AgreementTally();
    outputs.forEach((out, i) => {
      const batch = this.evalSet[i];
      const group = this.data.evalGroups[i];
      const { seqLen: T, batchSize: B } = batch;
      const mask = batch.mask!;
      let rowOf: (t: number, b: number) => number;
      if (out.length === T * B * V) {
        rowOf = (t, b) => t * B + b;
      } else {
        const counted = new Int32Array(T * B).fill(-1);
        let n = 0;
        for (let k = 0; k < T * B; k++) if (mask[k] > 0) counted[k] = n++;
        if (out.length !== n * V)
          throw new Error(
            `agreement-lm evaluate: batch ${i} has ${out.length} outputs, expected ${T * B} or ${n} rows of ${V}`,
          );
        rowOf = (t, b) => counted[t * B + b];
      }
      group.forEach((ex, b) => {
        const row = rowOf(ex.verbIndex - 1, b) * V;
        tally.add(ex, out[row + this.data.vocab.id(ex.correct)] > out[row + this.data.vocab.id(ex.wrong)]);
      });
    });
    return { accuracy: tally.accuracy, loss, perplexity: Math.exp(loss), ...tally.breakdown() };
  }
}
