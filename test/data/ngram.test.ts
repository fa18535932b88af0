import { describe, expect, it } from 'vitest';
import {
  BOUNDARIES,
  KneserNeyModel,
  UniformLM,
  estimateDiscounts,
  evaluateTokenLM,
  type Boundary,
  type Discounts,
} from '../../src/data/ngram.js';
import { EOS_ID } from '../../src/data/vocab.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const E = EOS_ID;
const FIXED: Discounts = [0.5, 1, 1.5];
const fixed = (n: number) => Array.from({ length: n }, () => FIXED);

describe('Kneser–Ney by hand', () => {
  // ids: 0 <unk>, 1 <eos>, 2 a, 3 b, 4 c;  train "a b <eos> a c <eos>", order 2, D = 0.5, 1, 1.5.
  // Scored as if after one <eos>: bigrams <eos>a ×2, ab, b<eos>, ac, c<eos> (raw counts, top level).
  // Unigram continuation counts (distinct words before): a {<eos>} 1, b {a} 1, c {a} 1, <eos> {b, c} 2.
  //   level 1: total 5, N1 = 3, N2 = 1, γ numerator 0.5·3 + 1·1 = 2.5, spread over |V| = 5: 0.5 each.
  //   p1(a) = p1(b) = p1(c) = (1 − 0.5 + 0.5)/5 = 0.2,  p1(<eos>) = (2 − 1 + 0.5)/5 = 0.3,  p1(<unk>) = 0.5/5 = 0.1
  //   context a: ab 1, ac 1 → total 2, γ numerator 0.5·2 = 1
  //     p(b | a) = (0.5 + 1·0.2)/2 = 0.35,  p(<eos> | a) = (0 + 1·0.3)/2 = 0.15
  //   context <eos>: <eos>a 2 → total 2, γ numerator 1 → p(a | <eos>) = (2 − 1 + 1·0.2)/2 = 0.6
  //   context b: b<eos> 1 → total 1, γ numerator 0.5 → p(<eos> | b) = 0.5 + 0.5·0.3 = 0.65
  const bigram = KneserNeyModel.train([2, 3, E, 2, 4, E], { order: 2, vocabSize: 5, discounts: fixed(2) });

  it('order 2, stream boundary', () => {
    expect(bigram.prob([], 2)).toBeCloseTo(0.2, 14);
    expect(bigram.prob([], E)).toBeCloseTo(0.3, 14);
    expect(bigram.prob([], 0)).toBeCloseTo(0.1, 14);
    expect(bigram.prob([2], 3)).toBeCloseTo(0.35, 14);
    expect(bigram.prob([2], E)).toBeCloseTo(0.15, 14);
    expect(bigram.prob([E], 2)).toBeCloseTo(0.6, 14);
    expect(bigram.prob([3], E)).toBeCloseTo(0.65, 14);
    expect(bigram.prob([0], 3)).toBeCloseTo(0.2, 14); // unseen context: level 1
    expect(bigram.prob([4, 4, 2], 3)).toBeCloseTo(0.35, 14); // only the last word counts
    expect(bigram.ngramTypes).toEqual([4, 5]);
  });

  it('perplexity of "a b <eos>" (after the <eos> sentinel)', () => {
    const ev = bigram.evaluate([2, 3, E]);
    expect(ev.tokens).toBe(3);
    expect(ev.nllSum).toBeCloseTo(-Math.log(0.6 * 0.35 * 0.65), 12);
    expect(ev.perplexity).toBeCloseTo((0.6 * 0.35 * 0.65) ** (-1 / 3), 12);
  });

  // ids: 0 <unk>, 1 <eos>, 2 a, 3 b;  train "a b <eos> a b <eos>", order 3, sentence boundary.
  // Contexts stop at the last <eos>, so n-grams that start with <eos> have no word before them
  // and keep raw counts at every level (SRILM's <s> rule):
  //   level 3: <eos>ab 2, ab<eos> 2.   level 2: <eos>a 2 (raw), ab 1 {<eos>}, b<eos> 1 {a}.
  //   level 1: a 1 {<eos>}, b 1 {a}, <eos> 1 {b}.
  //   p1(a) = p1(b) = p1(<eos>) = (0.5 + 1.5/4)/3 = 7/24,  p1(<unk>) = (1.5/4)/3 = 1/8
  //   p2(a | <eos>) = (2 − 1 + 1·7/24)/2 = 31/48,  p2(b | <eos>) = (1·7/24)/2 = 7/48
  //   p2(<eos> | b) = 0.5 + 0.5·7/24 = 31/48,  p2(a | b) = 0.5·7/24 = 7/48,  p2(<unk> | b) = 0.5/8 = 1/16
  //   p3(b | <eos> a) = (2 − 1 + 1·p2(b | a))/2 with p2(b | a) = 0.5 + 0.5·7/24 = 31/48 → 79/96
  //   p3(<eos> | a b) = (1 + 31/48)/2 = 79/96,  p3(a | a b) = (0 + 1·7/48)/2 = 7/96
  const trigram = KneserNeyModel.train([2, 3, E, 2, 3, E], {
    order: 3,
    vocabSize: 4,
    boundary: 'sentence',
    discounts: fixed(3),
  });

  it('order 3, sentence boundary', () => {
    expect(trigram.prob([], 2)).toBeCloseTo(7 / 24, 14);
    expect(trigram.prob([], 0)).toBeCloseTo(1 / 8, 14);
    expect(trigram.prob([E], 2)).toBeCloseTo(31 / 48, 14);
    expect(trigram.prob([E], 3)).toBeCloseTo(7 / 48, 14);
    expect(trigram.prob([3], E)).toBeCloseTo(31 / 48, 14);
    expect(trigram.prob([3], 0)).toBeCloseTo(1 / 16, 14);
    expect(trigram.prob([E, 2], 3)).toBeCloseTo(79 / 96, 14);
    expect(trigram.prob([3, E, 2], 3)).toBeCloseTo(79 / 96, 14); // the context stops at <eos>
    expect(trigram.prob([2, 3], E)).toBeCloseTo(79 / 96, 14);
    expect(trigram.prob([2, 3], 2)).toBeCloseTo(7 / 96, 14);
    expect(trigram.prob([2, E], 2)).toBeCloseTo(31 / 48, 14); // "a <eos> a": only "<eos> a" counts
  });

  it('Chen & Goodman discounts from count-of-counts', () => {
    // n1..n4 = 4, 2, 1, 1: Y = 4/(4 + 4) = 0.5; D1 = 1 − 2·0.5·2/4 = 0.5; D2 = 2 − 3·0.5·1/2 = 1.25;
    // D3+ = 3 − 4·0.5·1/1 = 1
    expect(estimateDiscounts(4, 2, 1, 1)).toEqual({ discounts: [0.5, 1.25, 1], estimated: true });
    // n3 = 0: undefined, so Ney's single discount Y = 0.5 for every count
    expect(estimateDiscounts(4, 2, 0, 1)).toEqual({ discounts: [0.5, 0.5, 0.5], estimated: false });
    // D3+ = 3 − 4·(10/14)·(50/1) < 0: out of range, Y = 10/14
    expect(estimateDiscounts(10, 2, 1, 50).estimated).toBe(false);
    expect(estimateDiscounts(0, 0, 0, 0).discounts).toEqual([0.5, 0.5, 0.5]);
  });
});

/**
 * A slow reference written from the definitions with string keys and sets, to check the
 * trie and hash table on random corpora: counts, count-of-counts, discounts and probabilities.
 */
function referenceKN(train: number[], n: number, V: number, boundary: Boundary) {
  const seq = [E, ...train];
  const bounded = new Map<string, number>();
  const before = new Map<string, Set<number>>();
  const grams = new Map<string, number[]>();
  let lastEos = 0;
  for (let i = 1; i < seq.length; i++) {
    const start = Math.max(i - n + 1, boundary === 'sentence' ? lastEos : 0);
    for (let j = start; j <= i; j++) {
      const g = seq.slice(j, i + 1);
      const key = g.join(' ');
      grams.set(key, g);
      if (j === start) bounded.set(key, (bounded.get(key) ?? 0) + 1);
      else (before.get(key) ?? before.set(key, new Set()).get(key)!).add(seq[j - 1]);
    }
    if (seq[i] === E) lastEos = i;
  }
  const count = (key: string) => (bounded.get(key) ?? 0) + (before.get(key)?.size ?? 0);
  const total = new Map<string, number>(); // key: level|context
  const byCount = new Map<string, [number, number, number]>();
  const coc = Array.from({ length: n + 1 }, () => [0, 0, 0, 0, 0]);
  for (const [key, g] of grams) {
    const c = count(key);
    const ctx = `${g.length}|${g.slice(0, -1).join(' ')}`;
    total.set(ctx, (total.get(ctx) ?? 0) + c);
    const nj = byCount.get(ctx) ?? [0, 0, 0];
    nj[Math.min(c, 3) - 1]++;
    byCount.set(ctx, nj);
    if (c <= 4) coc[g.length][c]++;
  }
  const discounts = coc.slice(1).map(([, n1, n2, n3, n4]) => estimateDiscounts(n1, n2, n3, n4).discounts);
  const prob = (context: number[], w: number): number => {
    let ctx = context.slice(Math.max(0, context.length - (n - 1)));
    if (boundary === 'sentence') ctx = ctx.slice(Math.max(0, ctx.lastIndexOf(E)));
    let p = 1 / V;
    for (let k = 1; k <= ctx.length + 1; k++) {
      const h = ctx.slice(ctx.length - (k - 1));
      const key = `${k}|${h.join(' ')}`;
      const tot = total.get(key);
      if (!tot) break;
      const [n1, n2, n3] = byCount.get(key)!;
      const D = discounts[k - 1];
      const c = count([...h, w].join(' '));
      const kept = c === 0 ? 0 : Math.max(c - D[Math.min(c, 3) - 1], 0);
      p = (kept + (D[0] * n1 + D[1] * n2 + D[2] * n3) * p) / tot;
    }
    return p;
  };
  return { prob, discounts };
}

/**
 * Sentences over words 2 … 2 + kinds − 1 from a Markov chain: each word is usually followed
 * by one fixed successor, otherwise by a skewed random word, so n-grams repeat and context helps.
 */
function randomCorpus(rng: Rng, tokens: number, kinds: number): number[] {
  const out: number[] = [];
  let prev = 2;
  while (out.length < tokens) {
    const w = rng.uniform() < 0.6 ? 2 + (((prev - 2) * 5 + 1) % kinds) : 2 + Math.floor(kinds * rng.uniform() ** 2);
    out.push(w);
    prev = w;
    if (rng.uniform() < 0.15) out.push(E);
  }
  if (out.at(-1) !== E) out.push(E);
  return out;
}

function sampleContexts(rng: Rng, stream: number[], V: number, count: number): number[][] {
  const out: number[][] = [[]];
  for (let s = 0; s < count; s++) {
    const len = rng.int(7);
    if (s % 2 === 0) {
      const end = len + rng.int(stream.length - len);
      out.push(stream.slice(end - len, end)); // seen in training
    } else {
      out.push(Array.from({ length: len }, () => rng.int(V))); // mostly unseen
    }
  }
  return out;
}

describe('Kneser–Ney on random corpora', () => {
  const rng = new Rng('ngram-test');
  const V = 20; // words 2 … 13 used, 14 … 19 never seen in training
  const train = randomCorpus(rng, 3000, 12);
  const heldOut = randomCorpus(rng, 400, 12);

  for (const boundary of BOUNDARIES) {
    for (let n = 1; n <= 5; n++) {
      it(`order ${n}, ${boundary}: probabilities sum to 1 over the vocabulary`, () => {
        const m = KneserNeyModel.train(train, { order: n, vocabSize: V, boundary });
        for (const ctx of sampleContexts(rng, train, V, 40)) {
          let sum = 0;
          for (let w = 0; w < V; w++) {
            const p = m.prob(ctx, w);
            expect(p).toBeGreaterThan(0);
            sum += p;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
        }
      });

      it(`order ${n}, ${boundary}: matches a reference written from the definitions`, () => {
        const m = KneserNeyModel.train(train, { order: n, vocabSize: V, boundary });
        const ref = referenceKN(train, n, V, boundary);
        expect(m.discounts).toEqual(ref.discounts);
        for (const ctx of sampleContexts(rng, heldOut, V, 25)) {
          for (let w = 0; w < V; w++) expect(m.prob(ctx, w)).toBeCloseTo(ref.prob(ctx, w), 13);
        }
        // evaluate() walks the stream itself; it must agree with prob() event by event
        const slow = evaluateTokenLM(m, heldOut);
        const fast = m.evaluate(heldOut);
        expect(fast.tokens).toBe(heldOut.length);
        expect(fast.nllSum).toBeCloseTo(slow.nllSum, 8);
      });
    }
  }

  it('higher orders fit held-out text of the same source better than a unigram', () => {
    const ppl = [1, 2, 3].map(
      (n) => KneserNeyModel.train(train, { order: n, vocabSize: V }).evaluate(heldOut).perplexity,
    );
    expect(ppl[1]).toBeLessThan(ppl[0]);
    expect(ppl[2]).toBeLessThan(ppl[0]);
    expect(ppl[0]).toBeLessThan(V);
  });
});

describe('perplexity', () => {
  it('of the uniform model is the vocabulary size', () => {
    const ids = randomCorpus(new Rng(3), 500, 10);
    for (const V of [12, 100, 10_000])
      expect(evaluateTokenLM(new UniformLM(V), ids).perplexity).toBeCloseTo(V, 8 - Math.log10(V));
  });

  it('of a unigram KN model whose training covers nothing is the vocabulary size too', () => {
    // one token of training: level 1 has total 1; everything else comes from the uniform floor.
    const m = KneserNeyModel.train([E], { order: 1, vocabSize: 50, discounts: [[1, 1, 1]] });
    expect(m.prob([], 7)).toBeCloseTo(1 / 50, 15);
    expect(m.evaluate([3, 4, 5]).perplexity).toBeCloseTo(50, 10);
  });
});

describe('bad input', () => {
  const usage = (fn: () => unknown, re: RegExp) => {
    expect(fn).toThrow(SeqlabError);
    expect(fn).toThrow(re);
  };
  it('order, vocabulary size, boundary, discounts, empty stream', () => {
    usage(
      () => KneserNeyModel.train([2, E], { order: 0, vocabSize: 3 }),
      /order must be an integer from 1 to 9, got 0/,
    );
    usage(() => KneserNeyModel.train([2, E], { order: 10, vocabSize: 3 }), /order must be an integer from 1 to 9/);
    usage(() => KneserNeyModel.train([2, E], { order: 2, vocabSize: 1 }), /vocabulary size must be an integer ≥ 2/);
    usage(
      () => KneserNeyModel.train([2, E], { order: 2, vocabSize: 3, boundary: 'line' as never }),
      /unknown boundary "line"/,
    );
    usage(() => KneserNeyModel.train([2, E], { order: 2, vocabSize: 3, discounts: [FIXED] }), /discounts for level 2/);
    usage(() => KneserNeyModel.train([2, E], { order: 1, vocabSize: 3, discounts: [[1.5, 1, 1]] }), /0 < D_j ≤ j/);
    usage(() => KneserNeyModel.train([], { order: 2, vocabSize: 3 }), /empty stream/);
  });

  it('ids outside the vocabulary are a bug in the caller', () => {
    expect(() => KneserNeyModel.train([2, 7], { order: 2, vocabSize: 5 })).toThrow(RangeError);
    const m = KneserNeyModel.train([2, E], { order: 2, vocabSize: 5 });
    expect(() => m.prob([9], 2)).toThrow(RangeError);
    expect(() => m.prob([2], 5)).toThrow(RangeError);
    expect(() => m.evaluate([2, -1])).toThrow(RangeError);
  });
});
