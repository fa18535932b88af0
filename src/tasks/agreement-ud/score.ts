/**
 * Scoring agreement items, whatever model made the numbers: an item is passed when
 * ln p(correct | prefix) > ln p(wrong | prefix) (Linzen et al. 2016; Gulordava et al. 2018), a
 * tie counts as failed. Accuracy overall and broken down by distance, attractors, construction,
 * number and originals against nonce twins; the baselines' models (an n-gram model, or the
 * unigram frequencies of the LM's train text) as TokenLMs scored the same way.
 *
 * Every model reads a prefix as the LM reads a sentence: after the sentence boundary <eos>,
 * then the prefix's tokens, words outside the vocabulary as <unk>. An item whose `correct` or
 * `wrong` form is outside the vocabulary cannot be scored: it is counted and left out.
 */
import { inputError } from '../../util/errors.js';
import type { TokenLM } from '../../data/ngram.js';
import { EOS, UNK, type Vocabulary } from '../../data/vocab.js';
import { CONSTRUCTIONS } from './extract.js';
import type { AgreementItem } from './items.js';

/** ln p(correct | <eos> prefix) and ln p(wrong | <eos> prefix) of one item. */
export interface PairLogProbs {
  correct: number;
  wrong: number;
}

export const isPassed = (p: PairLogProbs): boolean => p.correct > p.wrong;

/** More of the items out of vocabulary than this share: the model was not trained on their text. */
export const MAX_OOV_SHARE = 0.5;

const isWord = (vocab: Vocabulary, token: string) => token !== UNK && token !== EOS && vocab.has(token);

export interface Coverage {
  /** Indices (into the items) of the items whose two forms are in the vocabulary. */
  scored: number[];
  /**
   * Indices of the items left out: `correct` or `wrong` not in the vocabulary, or (a vocabulary
   * with no <unk>, such as word_language_model's) a word of the prefix not in it.
   */
  oov: number[];
  oovShare: number;
  /** Of `oov`: the items left out for a prefix word alone (a vocabulary with no <unk>). */
  unknownPrefix: number;
}

/** Which items a model with `vocab` can score: both verb forms must be its words (without <unk>, the prefix too). */
export function vocabularyCoverage(items: readonly AgreementItem[], vocab: Vocabulary): Coverage {
  const scored: number[] = [];
  const oov: number[] = [];
  let unknownPrefix = 0;
  items.forEach((item, i) => {
    const formsKnown = isWord(vocab, item.correct) && isWord(vocab, item.wrong);
    const prefixKnown = vocab.unkId !== null || item.prefix.every((t) => vocab.has(t));
    if (formsKnown && !prefixKnown) unknownPrefix++;
    (formsKnown && prefixKnown ? scored : oov).push(i);
  });
  return { scored, oov, oovShare: items.length === 0 ? 0 : oov.length / items.length, unknownPrefix };
}

/**
 * Throw one clear line when more than MAX_OOV_SHARE of the items are out of vocabulary: the
 * accuracy on the rest would describe a model that does not know the items' language.
 */
export function requireCoverage(coverage: Coverage, total: number, vocab: Vocabulary, what: string): void {
  if (coverage.oovShare <= MAX_OOV_SHARE) return;
  const pct = (100 * coverage.oovShare).toFixed(0);
  const what2 = coverage.unknownPrefix > 0 ? ` (or, having no ${UNK}, a word of the prefix)` : '';
  throw inputError(
    `${what}: its vocabulary (${vocab.size} tokens) lacks a verb form${what2} of ${coverage.oov.length} of ${total} ` +
      `items (${pct} %, more than ${100 * MAX_OOV_SHARE} %); use a model trained on the text the items come from`,
  );
}

/** The ids a language model reads for an item: <eos>, then the prefix (unknown words as <unk>). */
export function prefixIds(vocab: Vocabulary, prefix: readonly string[]): Int32Array {
  if (vocab.eosId === null)
    throw inputError(
      `the vocabulary (${vocab.size} words) has no ${EOS}: the items' prefixes start a sentence after it`,
    );
  const ids = new Int32Array(prefix.length + 1);
  ids[0] = vocab.eosId;
  ids.set(vocab.encode(prefix), 1);
  return ids;
}

/** Score items with any TokenLM (an n-gram model, the unigram frequencies) over `vocab`'s ids. */
export function tokenLMScores(lm: TokenLM, vocab: Vocabulary, items: readonly AgreementItem[]): PairLogProbs[] {
  return items.map((item) => {
    const context = prefixIds(vocab, item.prefix);
    return { correct: lm.logProb(context, vocab.id(item.correct)), wrong: lm.logProb(context, vocab.id(item.wrong)) };
  });
}

/**
 * The frequency baseline as a language model: p(w) = c(w) / N over a stream of ids (the LM's
 * train text), ignoring the context. Between two forms it picks the more frequent one.
 */
export class UnigramLM implements TokenLM {
  readonly contextSize = 0;
  readonly counts: Float64Array;
  readonly total: number;

  constructor(
    ids: ArrayLike<number>,
    readonly vocabSize: number,
  ) {
    this.counts = new Float64Array(vocabSize);
    for (let i = 0; i < ids.length; i++) this.counts[ids[i]]++;
    this.total = ids.length;
  }

  logProb(_context: ArrayLike<number>, word: number): number {
    return Math.log(this.counts[word] / this.total);
  }
}

// ---------------------------------------------------------------------------------------------
// Accuracy and its breakdowns

export interface AccuracyCell {
  label: string;
  /** Items in the cell (scored ones only). */
  n: number;
  passed: number;
  /** passed / n; null for an empty cell. */
  accuracy: number | null;
}

export interface AccuracySummary {
  overall: AccuracyCell;
  /** "original" (variant 0) and "nonce" (the twins). */
  byVariant: AccuracyCell[];
  /** Tokens between subject and verb, in the bins of DISTANCE_BINS. */
  byDistance: AccuracyCell[];
  /** Intervening nouns of the other number: 0, 1, 2, 3+. */
  byAttractors: AccuracyCell[];
  /** An item with several constructions counts in each. */
  byConstruction: AccuracyCell[];
  byNumber: AccuracyCell[];
  /**
   * The mean of the singular and the plural items' accuracies: 0.5 for a model that always picks
   * one number (the frequency baseline, nearly), whatever the share of singular subjects. Null
   * unless both numbers have items.
   */
  balanced: number | null;
  /** Items whose two forms got the same score (counted as failed). */
  ties: number;
}

/** Distance bins [lo, hi] (tokens between subject and verb), as in docs/agreement-items.md. */
export const DISTANCE_BINS: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, 1],
  [2, 2],
  [3, 4],
  [5, 7],
  [8, 11],
  [12, 19],
  [20, Number.POSITIVE_INFINITY],
];

const rangeLabel = ([lo, hi]: readonly [number, number]) =>
  lo === hi ? `${lo}` : hi === Number.POSITIVE_INFINITY ? `${lo}+` : `${lo}–${hi}`;

export const DISTANCE_LABELS: readonly string[] = DISTANCE_BINS.map(rangeLabel);
export const ATTRACTOR_LABELS: readonly string[] = ['0', '1', '2', '3+'];

export function distanceLabel(distance: number): string {
  return rangeLabel(DISTANCE_BINS.find(([lo, hi]) => distance >= lo && distance <= hi)!);
}

const attractorLabel = (n: number) => (n >= 3 ? '3+' : String(n));

/** Tally pass/fail per label; `order` fixes the labels shown (even when empty), others follow in order seen. */
class Tally {
  private readonly cells = new Map<string, { n: number; passed: number }>();

  constructor(order: readonly string[] = []) {
    for (const label of order) this.cells.set(label, { n: 0, passed: 0 });
  }

  add(label: string, passed: boolean): void {
    let cell = this.cells.get(label);
    if (cell === undefined) {
      cell = { n: 0, passed: 0 };
      this.cells.set(label, cell);
    }
    cell.n++;
    if (passed) cell.passed++;
  }

  rows(): AccuracyCell[] {
    return [...this.cells].map(([label, c]) => cell(label, c.n, c.passed));
  }
}

const cell = (label: string, n: number, passed: number): AccuracyCell => ({
  label,
  n,
  passed,
  accuracy: n === 0 ? null : passed / n,
});

/** Accuracy of `scores[j]` on `items[indices[j]]`, overall and by every breakdown the items' fields allow. */
export function summarizeAccuracy(
  items: readonly AgreementItem[],
  indices: readonly number[],
  scores: readonly PairLogProbs[],
): AccuracySummary {
  if (indices.length !== scores.length) throw new Error('one score per scored item');
  const variant = new Tally(['original', 'nonce']);
  const distance = new Tally(DISTANCE_LABELS);
  const attractors = new Tally(ATTRACTOR_LABELS);
  const construction = new Tally(CONSTRUCTIONS);
  const number = new Tally(['sg', 'pl']);
  let passed = 0;
  let ties = 0;
  indices.forEach((i, j) => {
    const item = items[i];
    const ok = isPassed(scores[j]);
    if (ok) passed++;
    if (scores[j].correct === scores[j].wrong) ties++;
    variant.add(item.variant === 0 ? 'original' : 'nonce', ok);
    if (item.distance !== null) distance.add(distanceLabel(item.distance), ok);
    if (item.attractors !== null) attractors.add(attractorLabel(item.attractors), ok);
    for (const c of item.constructions) construction.add(c, ok);
    if (item.number !== null) number.add(item.number, ok);
  });
  const byNumber = number.rows();
  const [sg, pl] = byNumber;
  return {
    overall: cell('all', indices.length, passed),
    byVariant: variant.rows(),
    byDistance: distance.rows(),
    byAttractors: attractors.rows(),
    byConstruction: construction.rows(),
    byNumber,
    balanced: sg.accuracy === null || pl.accuracy === null ? null : (sg.accuracy + pl.accuracy) / 2,
    ties,
  };
}

/** Norms below 10^NORM_FLOOR_DECADE share one bin: the subject's influence is gone. */
export const NORM_FLOOR_DECADE = -8;

/**
 * Accuracy by the decade of a per-item norm (‖∂h_verb/∂h_subject‖): bins [10^e, 10^(e+1)) from
 * the smallest decade present to the largest, all below 10^floor (zero included) in one bin
 * "<1e<floor>". Items with a null norm are left out.
 */
export function accuracyByDecade(
  norms: readonly (number | null)[],
  scores: readonly PairLogProbs[],
  floor: number = NORM_FLOOR_DECADE,
): AccuracyCell[] {
  if (norms.length !== scores.length) throw new Error('one norm per score');
  const decade = (x: number) => (x > 0 ? Math.max(Math.floor(Math.log10(x) + 1e-12), floor - 1) : floor - 1);
  const present = norms.filter((x): x is number => x !== null && Number.isFinite(x)).map(decade);
  if (present.length === 0) return [];
  const label = (e: number) => (e < floor ? `<1e${floor}` : `1e${e}–1e${e + 1}`);
  const order: string[] = [];
  for (let e = Math.min(...present); e <= Math.max(...present); e++) order.push(label(e));
  const tally = new Tally(order);
  norms.forEach((x, j) => {
    if (x !== null && Number.isFinite(x)) tally.add(label(decade(x)), isPassed(scores[j]));
  });
  return tally.rows();
}
