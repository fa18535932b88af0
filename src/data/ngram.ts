/**
 * Interpolated modified Kneser–Ney n-gram model over vocabulary ids (Chen & Goodman 1999,
 * "An empirical study of smoothing techniques for language modeling", §3 and §4.1.6).
 *
 * For a word w after a context h (|h| = k − 1, the level-k distribution):
 *
 *   p_k(w | h) = max(c_k(h w) − D_k(c_k(h w)), 0) / Σ_v c_k(h v)  +  γ_k(h) · p_{k−1}(w | h′)
 *   γ_k(h)     = (D_k1 N1(h•) + D_k2 N2(h•) + D_k3+ N3+(h•)) / Σ_v c_k(h v)
 *   p_0(w)     = 1 / |V|                                    (uniform over the vocabulary)
 *
 * h′ is h without its oldest word; N_j(h•) counts the words v with c_k(h v) = j (j = 3: ≥ 3);
 * when h was never seen as a context, p_k(w | h) = p_{k−1}(w | h′). The counts c_k are
 *   - the raw counts of the n-grams at the highest level (k = n), and
 *   - continuation counts below it: c_k(g) = N1+(• g), the number of distinct words seen
 *     right before g; plus, as the raw-count rule of SRILM/KenLM for n-grams that start at a
 *     boundary, one per occurrence of g that has no word before it (see below).
 * Three discounts per level from that level's count-of-counts n_j (counts of the c_k):
 *   Y = n1 / (n1 + 2 n2),  D1 = 1 − 2Y n2/n1,  D2 = 2 − 3Y n3/n2,  D3+ = 3 − 4Y n4/n3.
 * Every level sums to 1 over the vocabulary because each denominator is the sum of its
 * numerators' counts (not the count of h as an n-gram of its own).
 *
 * Sentence boundaries. A stream is scored as if preceded by one <eos> (a sentinel that is
 * context, never predicted), and every <eos> in it is predicted like a word.
 *   'stream'   (default) the context runs across sentence ends: the first word of a sentence
 *              sees <eos> and the end of the previous sentence, as a recurrent LM carrying its
 *              state across sentences does, so both score the same events with the same history.
 *   'sentence' the context stops at the last <eos>: a sentence's first word sees only <eos>,
 *              which plays the role of SRILM's <s>.
 * An n-gram occurrence that reaches back to where the context stops has no word before it;
 * it counts once toward its continuation count (in 'sentence' mode that is exactly the
 * n-grams starting with <eos>; in 'stream' mode only the first n − 1 tokens of the stream).
 *
 * Storage: a trie over reversed n-grams. The node of (w_1 … w_k) is the child of the node of
 * (w_2 … w_k) under w_1, so the n-grams ending at one position, and the contexts before it,
 * are each one walk from the root. Children live in one open-addressing hash table keyed by
 * (parent node, word id): no strings, about 12 bytes a slot.
 */
import { usageError } from '../util/errors.js';
import { EOS_ID } from './vocab.js';

export const MAX_ORDER = 9;
export const BOUNDARIES = ['stream', 'sentence'] as const;
export type Boundary = (typeof BOUNDARIES)[number];

/** D1, D2, D3+ of one level. */
export type Discounts = readonly [number, number, number];

export interface NgramOptions {
  /** n: the longest n-gram (context n − 1 words). Default 5. */
  order: number;
  /** |V|: ids run 0 … vocabSize − 1; the lowest level is uniform over them. Required. */
  vocabSize: number;
  /** Where a context may reach back to (see the module comment). Default 'stream'. */
  boundary: Boundary;
  /** 'estimate' (Chen & Goodman's formulas), or fixed D1, D2, D3+ per level 1 … n. Default 'estimate'. */
  discounts: 'estimate' | readonly Discounts[];
}

export const NGRAM_DEFAULTS: Readonly<Omit<NgramOptions, 'vocabSize'>> = {
  order: 5,
  boundary: 'stream',
  discounts: 'estimate',
};

/** Anything that scores a next word given the ids before it (oldest first). */
export interface TokenLM {
  readonly vocabSize: number;
  /** How many preceding ids it looks at (0: none). */
  readonly contextSize: number;
  /** ln p(word | context). */
  logProb(context: ArrayLike<number>, word: number): number;
}

export interface Evaluation {
  /** Predicted tokens (the stream's length; every <eos> included). */
  tokens: number;
  /** −Σ ln p, in nats. */
  nllSum: number;
  /** nats per token. */
  crossEntropy: number;
  /** exp(crossEntropy). */
  perplexity: number;
}

function evaluation(tokens: number, nllSum: number): Evaluation {
  const crossEntropy = tokens === 0 ? NaN : nllSum / tokens;
  return { tokens, nllSum, crossEntropy, perplexity: Math.exp(crossEntropy) };
}

/** Perplexity of any TokenLM over a stream, which is taken to follow one <eos>. */
export function evaluateTokenLM(lm: TokenLM, ids: ArrayLike<number>): Evaluation {
  const seq = withSentinel(ids);
  let nll = 0;
  for (let i = 1; i < seq.length; i++) {
    nll -= lm.logProb(seq.subarray(Math.max(0, i - lm.contextSize), i), seq[i]);
  }
  return evaluation(ids.length, nll);
}

/** p(w) = 1/|V| for every w: its perplexity is |V| on any stream. */
export class UniformLM implements TokenLM {
  readonly contextSize = 0;
  constructor(readonly vocabSize: number) {}
  logProb(_context: ArrayLike<number>, word: number): number {
    checkId(word, this.vocabSize);
    return -Math.log(this.vocabSize);
  }
}

/**
 * Chen & Goodman's discounts from the count-of-counts n1 … n4 of one level. Where they are
 * undefined (some n_j = 0) or fall outside (0, j], every count gets Ney's single discount
 * Y = n1/(n1 + 2 n2) instead (0.5 if n1 = 0); `estimated` says which happened.
 */
export function estimateDiscounts(
  n1: number,
  n2: number,
  n3: number,
  n4: number,
): { discounts: Discounts; estimated: boolean } {
  if (n1 > 0 && n2 > 0 && n3 > 0 && n4 > 0) {
    const Y = n1 / (n1 + 2 * n2);
    const d: Discounts = [1 - (2 * Y * n2) / n1, 2 - (3 * Y * n3) / n2, 3 - (4 * Y * n4) / n3];
    if (d.every((x, j) => x > 0 && x <= j + 1)) return { discounts: d, estimated: true };
  }
  const Y = n1 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  return { discounts: [Y, Y, Y], estimated: false };
}

function checkId(id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
    throw new RangeError(`token id ${id} outside the vocabulary (size ${vocabSize})`);
}

function withSentinel(ids: ArrayLike<number>): Int32Array {
  const seq = new Int32Array(ids.length + 1);
  seq[0] = EOS_ID;
  seq.set(ids, 1);
  return seq;
}

/** (parent node, word) → child node, open addressing with linear probing. */
class ChildTable {
  private parents: Int32Array;
  private words: Int32Array;
  private children: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1 << 16) {
    this.parents = new Int32Array(capacity).fill(-1);
    this.words = new Int32Array(capacity);
    this.children = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private slot(parent: number, word: number): number {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(word, 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h & this.mask;
  }

  /** The child, or −1. */
  get(parent: number, word: number): number {
    for (let i = this.slot(parent, word); ; i = (i + 1) & this.mask) {
      const p = this.parents[i];
      if (p === -1) return -1;
      if (p === parent && this.words[i] === word) return this.children[i];
    }
  }

  /** The existing child, or `child` after storing it. */
  getOrInsert(parent: number, word: number, child: number): number {
    let i = this.slot(parent, word);
    for (; ; i = (i + 1) & this.mask) {
      const p = this.parents[i];
      if (p === -1) break;
      if (p === parent && this.words[i] === word) return this.children[i];
    }
    this.parents[i] = parent;
    this.words[i] = word;
    this.children[i] = child;
    if (++this.size > 0.7 * (this.mask + 1)) this.rehash();
    return child;
  }

  private rehash(): void {
    const { parents, words, children } = this;
    const capacity = 2 * (this.mask + 1);
    this.parents = new Int32Array(capacity).fill(-1);
    this.words = new Int32Array(capacity);
    this.children = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let j = 0; j < parents.length; j++) {
      if (parents[j] === -1) continue;
      let i = this.slot(parents[j], words[j]);
      while (this.parents[i] !== -1) i = (i + 1) & this.mask;
      this.parents[i] = parents[j];
      this.words[i] = words[j];
      this.children[i] = children[j];
    }
  }

  get sizeBytes(): number {
    return 12 * (this.mask + 1);
  }
}

/** Growable per-node columns used while counting. */
class NodeColumns {
  parent = new Int32Array(1 << 16); // node of the n-gram without its oldest word
  word = new Int32Array(1 << 16); // that oldest word
  depth = new Uint8Array(1 << 16); // n-gram length (0: root)
  bounded = new Int32Array(1 << 16); // occurrences with no word before them within the context
  leftExtensions = new Int32Array(1 << 16); // distinct words seen right before it: N1+(• g)
  size = 1; // node 0 is the root, the empty n-gram

  add(parent: number, word: number, depth: number): number {
    if (this.size === this.parent.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(2 * a.length);
        b.set(a);
        return b;
      };
      this.parent = grow(this.parent);
      this.word = grow(this.word);
      this.depth = grow(this.depth);
      this.bounded = grow(this.bounded);
      this.leftExtensions = grow(this.leftExtensions);
    }
    const id = this.size++;
    this.parent[id] = parent;
    this.word[id] = word;
    this.depth[id] = depth;
    return id;
  }
}

export class KneserNeyModel implements TokenLM {
  readonly order: number;
  readonly vocabSize: number;
  readonly boundary: Boundary;
  /** discounts[k − 1] = D1, D2, D3+ of level k. */
  readonly discounts: readonly Discounts[];
  /** Per level: whether its discounts came from Chen & Goodman's formulas (false: fixed or fallback). */
  readonly discountsEstimated: readonly boolean[];
  /** Distinct n-grams with a nonzero count, per level k = 1 … n. */
  readonly ngramTypes: readonly number[];
  /** Tokens the model was trained on. */
  readonly trainTokens: number;

  private readonly table: ChildTable;
  private readonly count: Int32Array; // c_k of the node's n-gram at its own level
  private readonly contextTotal: Float64Array; // Σ_v c_{k+1}(h v) for the node as a context h
  private readonly gammaNumerator: Float64Array; // D1 N1(h•) + D2 N2(h•) + D3+ N3+(h•)

  private constructor(fields: {
    order: number;
    vocabSize: number;
    boundary: Boundary;
    discounts: Discounts[];
    discountsEstimated: boolean[];
    ngramTypes: number[];
    trainTokens: number;
    table: ChildTable;
    count: Int32Array;
    contextTotal: Float64Array;
    gammaNumerator: Float64Array;
  }) {
    this.order = fields.order;
    this.vocabSize = fields.vocabSize;
    this.boundary = fields.boundary;
    this.discounts = fields.discounts;
    this.discountsEstimated = fields.discountsEstimated;
    this.ngramTypes = fields.ngramTypes;
    this.trainTokens = fields.trainTokens;
    this.table = fields.table;
    this.count = fields.count;
    this.contextTotal = fields.contextTotal;
    this.gammaNumerator = fields.gammaNumerator;
  }

  get contextSize(): number {
    return this.order - 1;
  }

  /** Memory held by the trained model, in bytes (hash table and per-node columns). */
  get sizeBytes(): number {
    return this.table.sizeBytes + this.count.byteLength + this.contextTotal.byteLength + this.gammaNumerator.byteLength;
  }

  /** Count the n-grams of a training stream of ids (each sentence ending in EOS_ID) and fix the discounts. */
  static train(
    ids: ArrayLike<number>,
    options: Partial<NgramOptions> & Pick<NgramOptions, 'vocabSize'>,
  ): KneserNeyModel {
    const opts: Readonly<NgramOptions> = { ...NGRAM_DEFAULTS, ...options };
    const n = opts.order;
    if (!Number.isInteger(n) || n < 1 || n > MAX_ORDER)
      throw usageError(`order must be an integer from 1 to ${MAX_ORDER}, got ${n}`);
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 2)
      throw usageError(`vocabulary size must be an integer ≥ 2, got ${opts.vocabSize}`);
    if (!(BOUNDARIES as readonly string[]).includes(opts.boundary))
      throw usageError(`unknown boundary ${JSON.stringify(opts.boundary)}; use ${BOUNDARIES.join(', ')}`);
    if (ids.length === 0) throw usageError('cannot train an n-gram model on an empty stream');
    for (let i = 0; i < ids.length; i++) checkId(ids[i], opts.vocabSize);
    const seq = withSentinel(ids);

    // 1. Walk the n-grams ending at each position: every node on the walk occurred; the
    //    longest one has no word before it within the context.
    const nodes = new NodeColumns();
    const table = new ChildTable();
    const isSentence = opts.boundary === 'sentence';
    let lastEos = 0;
    for (let i = 1; i < seq.length; i++) {
      const start = Math.max(i - n + 1, isSentence ? lastEos : 0);
      let node = 0;
      for (let j = i; j >= start; j--) {
        const w = seq[j];
        const next = nodes.size;
        const child = table.getOrInsert(node, w, next);
        if (child === next) {
          nodes.add(node, w, i - j + 1);
          nodes.leftExtensions[node]++;
        }
        node = child;
      }
      nodes.bounded[node]++;
      if (seq[i] === EOS_ID) lastEos = i;
    }
    const occurred = nodes.size;

    // 2. c_k(g) = N1+(• g) + boundary occurrences (= the raw count at the top level, which has no
    //    left extensions). The context of g is g without its newest word: prefix(v·s) = v·prefix(s).
    const count = new Int32Array(occurred);
    const prefix = new Int32Array(occurred); // prefix[root] = 0 is never used
    const countOfCounts = Array.from({ length: n + 1 }, () => [0, 0, 0, 0, 0]); // [k][j]: n_j at level k, j = 1 … 4
    const ngramTypes = new Array<number>(n).fill(0);
    for (let g = 1; g < occurred; g++) {
      const k = nodes.depth[g];
      const c = nodes.bounded[g] + (k < n ? nodes.leftExtensions[g] : 0);
      count[g] = c;
      ngramTypes[k - 1]++;
      if (c <= 4) countOfCounts[k][c]++;
      if (k === 1) continue; // context: the root
      const s = nodes.parent[g];
      const v = nodes.word[g];
      const next = nodes.size;
      const h = table.getOrInsert(prefix[s], v, next);
      // a context that never occurred as an n-gram: only the leading sentinel <eos> can be one
      if (h === next) nodes.add(prefix[s], v, k - 1);
      prefix[g] = h;
    }

    // 3. Discounts per level, then each context's total and γ numerator.
    const discounts: Discounts[] = [];
    const discountsEstimated: boolean[] = [];
    for (let k = 1; k <= n; k++) {
      if (opts.discounts === 'estimate') {
        const [, n1, n2, n3, n4] = countOfCounts[k];
        const est = estimateDiscounts(n1, n2, n3, n4);
        discounts.push(est.discounts);
        discountsEstimated.push(est.estimated);
      } else {
        const d = opts.discounts[k - 1];
        if (d?.length !== 3 || !d.every((x, j) => Number.isFinite(x) && x > 0 && x <= j + 1)) {
          throw usageError(`discounts for level ${k} must be [D1, D2, D3+] with 0 < D_j ≤ j, got ${JSON.stringify(d)}`);
        }
        discounts.push([d[0], d[1], d[2]]);
        discountsEstimated.push(false);
      }
    }
    const total = nodes.size;
    const contextTotal = new Float64Array(total);
    const gammaNumerator = new Float64Array(total);
    for (let g = 1; g < occurred; g++) {
      const h = nodes.depth[g] === 1 ? 0 : prefix[g];
      const c = count[g];
      contextTotal[h] += c;
      gammaNumerator[h] += discounts[nodes.depth[g] - 1][Math.min(c, 3) - 1];
    }
    const fullCount = new Int32Array(total);
    fullCount.set(count);
    return new KneserNeyModel({
      order: n,
      vocabSize: opts.vocabSize,
      boundary: opts.boundary,
      discounts,
      discountsEstimated,
      ngramTypes,
      trainTokens: ids.length,
      table,
      count: fullCount,
      contextTotal,
      gammaNumerator,
    });
  }

  /** p(seq[i] | seq[start … i − 1]), the levels interpolated from the uniform up. */
  private probAt(seq: ArrayLike<number>, i: number, start: number): number {
    const w = seq[i];
    let g = this.table.get(0, w);
    let p = (this.discounted(1, g) + this.gammaNumerator[0] / this.vocabSize) / this.contextTotal[0];
    let h = 0;
    for (let k = 2, j = i - 1; j >= start; k++, j--) {
      const v = seq[j];
      h = this.table.get(h, v);
      if (h < 0 || this.contextTotal[h] === 0) break; // unseen context: longer ones are unseen too
      if (g >= 0) g = this.table.get(g, v);
      p = (this.discounted(k, g) + this.gammaNumerator[h] * p) / this.contextTotal[h];
    }
    return p;
  }

  /** max(c − D(c), 0) for the n-gram at `node` of level k (0 when unseen). */
  private discounted(k: number, node: number): number {
    const c = node < 0 ? 0 : this.count[node];
    if (c === 0) return 0;
    return Math.max(c - this.discounts[k - 1][Math.min(c, 3) - 1], 0);
  }

  /** Where the context of position i may start (see the module comment on boundaries). */
  private contextStart(seq: ArrayLike<number>, i: number): number {
    const start = Math.max(0, i - this.order + 1);
    if (this.boundary === 'sentence') for (let j = i - 1; j > start; j--) if (seq[j] === EOS_ID) return j;
    return start;
  }

  /**
   * p(word | context), context = the preceding ids, oldest first. Only the last n − 1 are
   * used, and in 'sentence' mode only those from the last EOS_ID on.
   */
  prob(context: ArrayLike<number>, word: number): number {
    checkId(word, this.vocabSize);
    const seq = new Int32Array(context.length + 1);
    seq.set(context);
    seq[context.length] = word;
    for (let i = 0; i < context.length; i++) checkId(seq[i], this.vocabSize);
    return this.probAt(seq, context.length, this.contextStart(seq, context.length));
  }

  logProb(context: ArrayLike<number>, word: number): number {
    return Math.log(this.prob(context, word));
  }

  /** Perplexity over a stream (taken to follow one <eos>); every token, <eos> included, is predicted. */
  evaluate(ids: ArrayLike<number>): Evaluation {
    for (let i = 0; i < ids.length; i++) checkId(ids[i], this.vocabSize);
    const seq = withSentinel(ids);
    const isSentence = this.boundary === 'sentence';
    let lastEos = 0;
    let nll = 0;
    for (let i = 1; i < seq.length; i++) {
      nll -= Math.log(this.probAt(seq, i, Math.max(i - this.order + 1, isSentence ? lastEos : 0)));
      if (seq[i] === EOS_ID) lastEos = i;
    }
    return evaluation(ids.length, nll);
  }
}
