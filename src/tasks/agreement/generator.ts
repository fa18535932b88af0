import type { Rng } from '../../util/rng.js';
import { nonNegativeInt, positiveInt, usageError } from '../../util/errors.js';
import { stripUndefined } from '../../util/objects.js';
import {
  PLACE_KIND,
  adjectiveForm,
  loadLexicon,
  prepositionWithArticle,
  type Adjective,
  type GrammaticalNumber,
  type Lexicon,
  type Noun,
  type PlaceName,
  type Preposition,
  type Verb,
} from './lexicon.js';

/**
 * Sentences for the subject–verb agreement probe:
 *
 *   o homem  perto das mesas de lisboa  entrou  no bar
 *   ^subject  ^----- distance = 5 -----^  ^verb
 *
 * subject (article + head noun), then exactly `distance` words of intervening
 * material, then the main verb, which agrees in number with the subject, then its
 * complement. Attractors are the intervening nouns whose number differs from the
 * subject's ("mesas" above).
 *
 * Intervening constructions, all attached right-branching to the most recent noun:
 *   pp                 "perto das mesas", "na praça": a common noun of its own number
 *   name               "de lisboa", "do porto": a proper name, no number cue at all
 *   adverb             "também", "de repente": only right before the verb
 *   adjective          an adjective on an intervening noun ("das mesas velhas"), agreeing with that noun
 *   subject-adjective  an adjective on the subject ("o homem alto"): agrees with the subject, a cue
 *   subject-relative   "que usava uma peruca": its verb agrees with the noun it modifies
 *                      (the subject when it comes first: a cue)
 *   object-relative    "que os cachorros viam": its verb agrees with its own subject, not the head
 * Relative clauses nest (a relative inside a relative) up to `maxDepth`.
 *
 * Sentences are built in two steps: a plan that fixes every construction and its
 * length so the words add up to the distance exactly (and hold enough nouns for the
 * attractors), then words drawn for the plan, respecting which noun kinds each verb,
 * preposition and adjective takes.
 */

export type Construction =
  | 'pp'
  | 'name'
  | 'adverb'
  | 'adjective'
  | 'subject-adjective'
  | 'subject-relative'
  | 'object-relative';

export const CONSTRUCTIONS: readonly Construction[] = [
  'pp',
  'name',
  'adverb',
  'adjective',
  'subject-adjective',
  'subject-relative',
  'object-relative',
];

/**
 * Named construction mixes. "no-cue": nothing between subject and verb agrees with the
 * subject (PP nouns take their own, independent number; names and adverbs have none), so
 * the subject's number must be carried over the whole distance; the default.
 * "no-cue-orc" adds object relatives, whose verbs agree with their own subjects.
 */
export const CONSTRUCTION_PRESETS = {
  'no-cue': ['pp', 'name', 'adverb', 'adjective'],
  'no-cue-orc': ['pp', 'name', 'adverb', 'adjective', 'object-relative'],
  relatives: ['pp', 'adjective', 'subject-relative', 'object-relative'],
  all: CONSTRUCTIONS,
} as const satisfies Record<string, readonly Construction[]>;

export type ConstructionPreset = keyof typeof CONSTRUCTION_PRESETS;

/**
 * A preset name, construction names, or a comma-separated mix of both ("no-cue,object-relative")
 * → the constructions, in canonical order. Unknown names are usage errors.
 */
export function resolveConstructions(spec: string | readonly string[]): Construction[] {
  const names = (typeof spec === 'string' ? spec.split(',') : [...spec])
    .map((s) => String(s).trim())
    .filter((s) => s !== '');
  const presets = Object.keys(CONSTRUCTION_PRESETS).join(', ');
  if (names.length === 0)
    throw usageError(
      (field) =>
        `${field('constructions')} is empty; use a preset (${Object.keys(CONSTRUCTION_PRESETS).join(', ')}) ` +
        `or constructions (${CONSTRUCTIONS.join(', ')})`,
    );
  const chosen = new Set<Construction>();
  for (const name of names) {
    if (name in CONSTRUCTION_PRESETS) for (const c of CONSTRUCTION_PRESETS[name as ConstructionPreset]) chosen.add(c);
    else if ((CONSTRUCTIONS as readonly string[]).includes(name)) chosen.add(name as Construction);
    else
      throw usageError(
        `unknown construction ${JSON.stringify(name)}; use a preset (${presets}) or ${CONSTRUCTIONS.join(', ')}`,
      );
  }
  return CONSTRUCTIONS.filter((c) => chosen.has(c));
}

export interface AgreementExample {
  /** Lower-case words. */
  tokens: string[];
  /** Index of the subject's head noun. */
  subjectIndex: number;
  /** Index of the main verb. */
  verbIndex: number;
  /** The subject's number, which the verb must show. */
  number: GrammaticalNumber;
  /** tokens[verbIndex]. */
  correct: string;
  /** The same verb in the other number. */
  wrong: string;
  /** Words strictly between the subject's head noun and the verb: verbIndex − subjectIndex − 1. */
  distance: number;
  /** Nouns strictly between them whose number differs from the subject's. */
  attractors: number;
  /** The intervening constructions, in order of appearance. */
  constructions: Construction[];
  /** Per token: index of the noun whose number it shows (a noun: itself); −1 for number-invariant words. */
  controllers: number[];
  /** Per token: the number it shows, null for number-invariant words. */
  numbers: (GrammaticalNumber | null)[];
}

/** One sentence, exactly as asked. */
export interface ExampleRequest {
  /** Words strictly between subject head and verb. */
  distance: number;
  /** Exact attractor count, or 'free': every intervening noun's number is a fair coin, independent of the subject's. */
  attractors: number | 'free';
  constructions: readonly Construction[];
  /** Relative clauses nested in one another, at most. */
  maxDepth: number;
  /** The subject's number; default a fair coin. */
  number?: GrammaticalNumber;
  /** Probability of an indefinite article (um, uma, …) on a verb's object. Default 0.25. */
  indefiniteRate?: number;
}

export interface GeneratorConfig {
  /** [min, max] distance, drawn uniformly per sentence. Default [1, 8]. */
  distance: readonly [number, number];
  /**
   * 'free' (default): each intervening noun's number is a fair coin, so the material says
   * nothing about the subject's number. [min, max]: an exact count drawn uniformly among those
   * reachable at the drawn distance; the remaining nouns then share the subject's number, which
   * is itself a cue (majority vote) when the range is lopsided.
   */
  attractors: 'free' | readonly [number, number];
  /** Default: the "no-cue" preset. */
  constructions: readonly Construction[];
  /** Default 2. */
  maxDepth: number;
  /** Default 0.25. */
  indefiniteRate: number;
}

export const GENERATOR_DEFAULTS: Readonly<GeneratorConfig> = {
  distance: [1, 8],
  attractors: 'free',
  constructions: CONSTRUCTION_PRESETS['no-cue'],
  maxDepth: 2,
  indefiniteRate: 0.25,
};

/**
 * One sentence with exactly the requested distance and attractor count; a usageError if the constructions
 * cannot make it.
 */
export function generateExample(lex: Lexicon, rng: Rng, req: ExampleRequest): AgreementExample {
  const distance = nonNegativeInt('distance', req.distance);
  const maxDepth = nonNegativeInt('maxDepth', req.maxDepth);
  const need = req.attractors === 'free' ? 0 : nonNegativeInt('attractors', req.attractors);
  const planner = plannerFor(lex, req.constructions, maxDepth);
  const start = planner.start(distance, need);
  if (!start) {
    const what = req.attractors === 'free' ? '' : ` and ${need} attractor${need === 1 ? '' : 's'}`;
    throw usageError(
      `cannot build a sentence with distance ${distance}${what} ` +
        `from the constructions ${req.constructions.join(', ') || '(none)'} (max depth ${maxDepth}); ` +
        'allow more constructions or change the distance',
    );
  }
  const number = req.number ?? (rng.uniform() < 0.5 ? 'sg' : 'pl');
  const withSubjectAdjective = planner.chooseSubjectAdjective(rng, distance, need);
  const plan = planner.sample(rng, { ...start, budget: distance - (withSubjectAdjective ? 1 : 0) });
  const slots = countNounSlots(plan);
  const other: GrammaticalNumber = number === 'sg' ? 'pl' : 'sg';
  let slotNumbers: GrammaticalNumber[];
  if (req.attractors === 'free') {
    slotNumbers = Array.from({ length: slots }, () => (rng.uniform() < 0.5 ? 'sg' : 'pl'));
  } else {
    const order = rng.shuffle(Array.from({ length: slots }, (_, i) => i));
    const isAttractor = new Set(order.slice(0, need));
    slotNumbers = Array.from({ length: slots }, (_, i) => (isAttractor.has(i) ? other : number));
  }
  const ex = new Realizer(lex, rng, slotNumbers, req.indefiniteRate ?? GENERATOR_DEFAULTS.indefiniteRate).sentence(
    number,
    withSubjectAdjective,
    plan,
  );
  if (ex.distance !== distance || (req.attractors !== 'free' && ex.attractors !== need)) {
    throw new Error(
      `agreement generator: planned distance ${distance}/${need} attractors, ` +
        `built ${ex.distance}/${ex.attractors}: ${ex.tokens.join(' ')}`,
    );
  }
  return ex;
}

/** `count` sentences, distance and attractor count drawn per sentence from the config's ranges. */
export function generateExamples(
  lex: Lexicon,
  rng: Rng,
  config: Partial<GeneratorConfig>,
  count: number,
): AgreementExample[] {
  const cfg = resolveGeneratorConfig(config);
  const draw = distanceDrawer(lex, cfg);
  return Array.from({ length: count }, () => {
    const { distance, attractors } = draw(rng);
    return generateExample(lex, rng, { ...cfg, distance, attractors });
  });
}

/** Defaults filled in and every field checked (usage errors); constructions resolved from presets. */
export function resolveGeneratorConfig(config: Partial<GeneratorConfig>): GeneratorConfig {
  const cfg = { ...GENERATOR_DEFAULTS, ...stripUndefined(config) };
  const [lo, hi] = checkRange('distance', cfg.distance);
  const attractors = cfg.attractors === 'free' ? 'free' : checkRange('attractors', cfg.attractors);
  const rate = cfg.indefiniteRate;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
    throw usageError(`indefiniteRate must be in [0, 1], got ${rate}`);
  return {
    ...cfg,
    distance: [lo, hi],
    attractors,
    constructions: resolveConstructions(cfg.constructions),
    maxDepth: nonNegativeInt('maxDepth', cfg.maxDepth),
  };
}

function checkRange(name: string, range: unknown): [number, number] {
  if (!Array.isArray(range) || range.length !== 2)
    throw usageError(`${name} must be a [min, max] pair, got ${JSON.stringify(range)}`);
  const lo = nonNegativeInt(`${name} min`, range[0]);
  const hi = nonNegativeInt(`${name} max`, range[1]);
  if (lo > hi) throw usageError(`${name} range [${lo}, ${hi}] is empty (min > max)`);
  return [lo, hi];
}

/**
 * Draws (distance, attractors) pairs that the constructions can build; a usageError up front if some distance
 * cannot be built.
 */
function distanceDrawer(
  lex: Lexicon,
  cfg: GeneratorConfig,
): (rng: Rng) => { distance: number; attractors: number | 'free' } {
  const planner = plannerFor(lex, cfg.constructions, cfg.maxDepth);
  const [lo, hi] = cfg.distance;
  const options = new Map<number, (number | 'free')[]>();
  for (let d = lo; d <= hi; d++) {
    let ks: (number | 'free')[] = ['free'];
    if (cfg.attractors !== 'free') {
      ks = [];
      for (let k = cfg.attractors[0]; k <= cfg.attractors[1]; k++) if (planner.start(d, k)) ks.push(k);
    } else if (!planner.start(d, 0)) {
      ks = [];
    }
    if (ks.length === 0) {
      const what = cfg.attractors === 'free' ? '' : ` with ${cfg.attractors[0]}..${cfg.attractors[1]} attractors`;
      throw usageError(
        `cannot build sentences at distance ${d}${what} ` +
          `from the constructions ${cfg.constructions.join(', ')} (max depth ${cfg.maxDepth})`,
      );
    }
    options.set(d, ks);
  }
  return (rng) => {
    const distance = lo + rng.int(hi - lo + 1);
    return { distance, attractors: rng.pick(options.get(distance)!) };
  };
}

// ---------------------------------------------------------------------------------------------
// Length-generalization split

export interface SplitOptions {
  /** Shortest training distance. Default 1. */
  trainMinDistance?: number;
  /** Longest training distance: D_train. */
  trainMaxDistance: number;
  /** Test distances, typically all > D_train; shorter ones give the in-range reference points. */
  testDistances: readonly number[];
  /** Training sentences, distances uniform in [trainMinDistance, trainMaxDistance]. */
  trainSize: number;
  /** Test sentences per test distance. */
  testSize: number;
  attractors?: GeneratorConfig['attractors'];
  constructions?: readonly Construction[];
  maxDepth?: number;
  indefiniteRate?: number;
  /** Default: the shipped lexicon. */
  lexicon?: Lexicon;
}

export interface Split {
  train: AgreementExample[];
  /** Grouped by distance, in the order of testDistances. */
  test: AgreementExample[];
}

/** Give up after this many draws per wanted sentence (a tiny lexicon cannot fill a big split). */
const MAX_DRAWS_PER_SENTENCE = 50;

/**
 * Train sentences at distances ≤ D_train and test sentences at the given distances, each set
 * free of duplicates; no training sentence shares its prefix up to the verb with a test sentence
 * (so neither framing sees a test input in training). The test set of a distance depends only on
 * the rng's seed and that distance, not on the other settings.
 */
export function makeSplit(opts: SplitOptions, rng: Rng): Split {
  const trainMin = nonNegativeInt('trainMinDistance', opts.trainMinDistance ?? 1);
  const trainMax = nonNegativeInt('trainMaxDistance', opts.trainMaxDistance);
  if (trainMin > trainMax)
    throw usageError((field) => `${field('trainMinDistance')} ${trainMin} > ${field('trainMaxDistance')} ${trainMax}`);
  const trainSize = positiveInt('trainSize', opts.trainSize);
  const testSize = positiveInt('testSize', opts.testSize);
  if (!Array.isArray(opts.testDistances) || opts.testDistances.length === 0)
    throw usageError((field) => `${field('testDistances')} must list at least one distance`);
  const testDistances = opts.testDistances.map((d) => nonNegativeInt('test distance', d));
  if (new Set(testDistances).size !== testDistances.length)
    throw usageError((field) => `${field('testDistances')} has a repeated distance: ${testDistances.join(', ')}`);
  const lexicon = opts.lexicon ?? loadLexicon();
  const base = {
    attractors: opts.attractors ?? GENERATOR_DEFAULTS.attractors,
    constructions: opts.constructions ?? GENERATOR_DEFAULTS.constructions,
    maxDepth: opts.maxDepth ?? GENERATOR_DEFAULTS.maxDepth,
    indefiniteRate: opts.indefiniteRate ?? GENERATOR_DEFAULTS.indefiniteRate,
  };

  const test: AgreementExample[] = [];
  const testPrefixes = new Set<string>();
  for (const d of testDistances) {
    const cfg = resolveGeneratorConfig({ ...base, distance: [d, d] });
    const draw = distanceDrawer(lexicon, cfg);
    const r = rng.fork(`test/d=${d}`);
    const seen = new Set<string>();
    for (let tries = 0; seen.size < testSize; tries++) {
      if (tries >= MAX_DRAWS_PER_SENTENCE * testSize)
        throw tooFew(seen.size, testSize, `test sentences at distance ${d}`);
      const ex = generateExample(lexicon, r, { ...cfg, ...draw(r) });
      const key = ex.tokens.join(' ');
      if (seen.has(key)) continue;
      seen.add(key);
      testPrefixes.add(prefixKey(ex));
      test.push(ex);
    }
  }

  const cfg = resolveGeneratorConfig({ ...base, distance: [trainMin, trainMax] });
  const draw = distanceDrawer(lexicon, cfg);
  const r = rng.fork('train');
  const train: AgreementExample[] = [];
  const seen = new Set<string>();
  for (let tries = 0; train.length < trainSize; tries++) {
    if (tries >= MAX_DRAWS_PER_SENTENCE * trainSize) throw tooFew(train.length, trainSize, 'training sentences');
    const ex = generateExample(lexicon, r, { ...cfg, ...draw(r) });
    const key = ex.tokens.join(' ');
    if (seen.has(key) || testPrefixes.has(prefixKey(ex))) continue;
    seen.add(key);
    train.push(ex);
  }
  return { train, test };
}

/** The words before the verb: what the number-prediction task reads. */
export function prefixKey(ex: AgreementExample): string {
  return ex.tokens.slice(0, ex.verbIndex).join(' ');
}

function tooFew(got: number, wanted: number, what: string) {
  return usageError(
    `could only generate ${got} distinct ${what} of ${wanted} wanted; lower the size or use a bigger lexicon`,
  );
}

// ---------------------------------------------------------------------------------------------
// Planning: constructions and their lengths, so the words add up exactly

type Segment =
  | { kind: 'pp'; prep: Preposition; adjective: boolean }
  | { kind: 'name'; name: PlaceName }
  | { kind: 'adverb'; words: string[] }
  | { kind: 'subject-relative'; adjective: boolean }
  | { kind: 'object-relative'; adjective: boolean; inner: Segment[] };

/** What is left to fill at some point of the plan. */
interface PlanState {
  budget: number; // words still to place
  need: number; // nouns still needed (for the attractors)
  depth: number; // relative clauses that may still open inside one another
  canRelativize: boolean; // false right after an object relative closes (no stacked relatives)
  isTop: boolean; // in the main clause's material (where the closing adverb may go)
  afterName: boolean; // no two names in a row ("de lisboa de paris")
}

type Move =
  | { kind: 'pp'; length: number; adjective: boolean; next: PlanState }
  | { kind: 'name'; length: number; next: PlanState }
  | { kind: 'adverb'; length: number }
  | { kind: 'subject-relative'; adjective: boolean; next: PlanState }
  | { kind: 'object-relative'; adjective: boolean; inner: PlanState; next: PlanState };

/** How often each kind of segment is chosen when several fit. */
const WEIGHTS: Readonly<Record<Move['kind'], number>> = {
  pp: 3,
  name: 1,
  adverb: 2,
  'subject-relative': 2,
  'object-relative': 2,
};

/** "que" + verb + article + noun. */
const RELATIVE_BASE_LENGTH = 4;

const planners = new WeakMap<Lexicon, Map<string, Planner>>();

function plannerFor(lex: Lexicon, constructions: readonly Construction[], maxDepth: number): Planner {
  let byKey = planners.get(lex);
  if (!byKey) {
    byKey = new Map();
    planners.set(lex, byKey);
  }
  const allowed = resolveConstructions(constructions);
  const key = `${allowed.join(',')}|${maxDepth}`;
  let planner = byKey.get(key);
  if (!planner) {
    planner = new Planner(lex, new Set(allowed), maxDepth);
    byKey.set(key, planner);
  }
  return planner;
}

class Planner {
  private readonly feasibleMemo = new Map<string, boolean>();
  private readonly workingMoves = new Map<string, Move[]>();
  /** PP length (preposition + article + noun, no adjective) → the prepositions of that length. */
  private readonly pps = new Map<number, Preposition[]>();
  private readonly names = new Map<number, PlaceName[]>();
  private readonly adverbs = new Map<number, string[][]>();

  constructor(
    lex: Lexicon,
    private readonly allowed: ReadonlySet<Construction>,
    private readonly maxDepth: number,
  ) {
    // the definite article contracts for all genders and numbers or for none (lexicon.ts), so any one fixes the length
    const someArticle = lex.determiners.definite.m.sg;
    for (const p of lex.prepositions) push(this.pps, prepositionWithArticle(lex, p.words, someArticle).length + 1, p);
    for (const n of lex.names) push(this.names, nameTokens(lex, n).length, n);
    for (const a of lex.adverbs) push(this.adverbs, a.length, a);
  }

  /** The initial state for a distance and attractor count, or null if no plan reaches them. */
  start(distance: number, need: number): PlanState | null {
    const s: PlanState = {
      budget: distance,
      need,
      depth: this.maxDepth,
      canRelativize: true,
      isTop: true,
      afterName: false,
    };
    if (this.feasible(s)) return s;
    if (this.allowed.has('subject-adjective') && distance > 0 && this.feasible({ ...s, budget: distance - 1 }))
      return s;
    return null;
  }

  chooseSubjectAdjective(rng: Rng, distance: number, need: number): boolean {
    if (!this.allowed.has('subject-adjective') || distance === 0) return false;
    const s = this.start(distance, need)!;
    const without = this.feasible(s);
    const withAdj = this.feasible({ ...s, budget: distance - 1 });
    if (without && withAdj) return rng.uniform() < 0.5;
    return withAdj;
  }

  sample(rng: Rng, s: PlanState): Segment[] {
    if (s.budget === 0) return [];
    const key = stateKey(s);
    let moves = this.workingMoves.get(key);
    if (!moves) {
      moves = this.moves(s).filter((m) => this.works(m));
      this.workingMoves.set(key, moves);
    }
    if (moves.length === 0) throw new Error(`agreement planner: no move from a feasible state ${JSON.stringify(s)}`);
    const kinds = [...new Set(moves.map((m) => m.kind))];
    const kind = weightedPick(rng, kinds, (k) => WEIGHTS[k]);
    const move = rng.pick(moves.filter((m) => m.kind === kind));
    switch (move.kind) {
      case 'pp':
        return [
          { kind: 'pp', prep: rng.pick(this.pps.get(move.length)!), adjective: move.adjective },
          ...this.sample(rng, move.next),
        ];
      case 'name':
        return [{ kind: 'name', name: rng.pick(this.names.get(move.length)!) }, ...this.sample(rng, move.next)];
      case 'adverb':
        return [{ kind: 'adverb', words: rng.pick(this.adverbs.get(move.length)!) }];
      case 'subject-relative':
        return [{ kind: 'subject-relative', adjective: move.adjective }, ...this.sample(rng, move.next)];
      case 'object-relative': {
        const inner = this.sample(rng, move.inner);
        return [{ kind: 'object-relative', adjective: move.adjective, inner }, ...this.sample(rng, move.next)];
      }
    }
  }

  private works(m: Move): boolean {
    if (m.kind === 'adverb') return true;
    if (m.kind === 'object-relative') return this.feasible(m.inner) && this.feasible(m.next);
    return this.feasible(m.next);
  }

  private feasible(s: PlanState): boolean {
    if (s.budget < 0) return false;
    if (s.budget === 0) return s.need === 0;
    const key = stateKey(s);
    let ok = this.feasibleMemo.get(key);
    if (ok === undefined) {
      // not re-entrant on the same key: every move strictly shrinks the budget
      ok = this.moves(s).some((m) => this.works(m));
      this.feasibleMemo.set(key, ok);
    }
    return ok;
  }

  /** Every structural next step from s (not yet checked for completing the plan). */
  private moves(s: PlanState): Move[] {
    const moves: Move[] = [];
    const adjectives = this.allowed.has('adjective') ? [false, true] : [false];
    const less = (n: number) => Math.max(0, s.need - n);
    if (this.allowed.has('pp')) {
      for (const length of this.pps.keys()) {
        for (const adjective of adjectives) {
          const next = { ...s, budget: s.budget - length - +adjective, need: less(1), afterName: false };
          if (next.budget >= 0) moves.push({ kind: 'pp', length, adjective, next });
        }
      }
    }
    if (this.allowed.has('name') && !s.afterName) {
      for (const length of this.names.keys()) {
        const next = { ...s, budget: s.budget - length, afterName: true };
        if (next.budget >= 0) moves.push({ kind: 'name', length, next });
      }
    }
    if (this.allowed.has('adverb') && s.isTop && s.need === 0 && this.adverbs.has(s.budget))
      moves.push({ kind: 'adverb', length: s.budget });
    if (s.canRelativize && s.depth > 0) {
      for (const adjective of adjectives) {
        const base = RELATIVE_BASE_LENGTH + +adjective;
        if (this.allowed.has('subject-relative') && s.budget >= base) {
          // everything after it sits inside it (right-branching), one level deeper
          moves.push({
            kind: 'subject-relative',
            adjective,
            next: { ...s, budget: s.budget - base, need: less(1), depth: s.depth - 1, afterName: false },
          });
        }
        if (this.allowed.has('object-relative')) {
          // que [embedded subject] [inner material] verb — then no further relative at this level
          for (let innerBudget = 0; innerBudget <= s.budget - base; innerBudget++) {
            for (let innerNeed = 0; innerNeed <= Math.max(0, s.need - 1); innerNeed++) {
              moves.push({
                kind: 'object-relative',
                adjective,
                inner: {
                  budget: innerBudget,
                  need: innerNeed,
                  depth: s.depth - 1,
                  canRelativize: true,
                  isTop: false,
                  afterName: false,
                },
                next: {
                  ...s,
                  budget: s.budget - base - innerBudget,
                  need: less(1 + innerNeed),
                  canRelativize: false,
                  afterName: false,
                },
              });
            }
          }
        }
      }
    }
    return moves;
  }
}

function stateKey(s: PlanState): string {
  return `${s.budget}|${s.need}|${s.depth}|${+s.canRelativize}|${+s.isTop}|${+s.afterName}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function weightedPick<T>(rng: Rng, items: readonly T[], weight: (item: T) => number): T {
  const total = items.reduce((sum, item) => sum + weight(item), 0);
  let r = rng.uniform() * total;
  for (const item of items) {
    r -= weight(item);
    if (r < 0) return item;
  }
  return items[items.length - 1];
}

function countNounSlots(plan: readonly Segment[]): number {
  let n = 0;
  for (const seg of plan) {
    if (seg.kind === 'pp' || seg.kind === 'subject-relative') n++;
    if (seg.kind === 'object-relative') n += 1 + countNounSlots(seg.inner);
  }
  return n;
}

function nameTokens(lex: Lexicon, name: PlaceName): string[] {
  const article = name.gender === null ? null : lex.determiners.definite[name.gender].sg;
  return [...prepositionWithArticle(lex, [lex.namePreposition], article), name.word];
}

// ---------------------------------------------------------------------------------------------
// Realization: words for a plan

interface NounRef {
  index: number;
  noun: Noun;
  number: GrammaticalNumber;
}

class Realizer {
  private readonly tokens: string[] = [];
  private readonly controllers: number[] = [];
  private readonly numbers: (GrammaticalNumber | null)[] = [];
  private readonly constructions: Construction[] = [];
  private slot = 0;

  constructor(
    private readonly lex: Lexicon,
    private readonly rng: Rng,
    private readonly slotNumbers: readonly GrammaticalNumber[],
    private readonly indefiniteRate: number,
  ) {}

  sentence(number: GrammaticalNumber, withSubjectAdjective: boolean, plan: readonly Segment[]): AgreementExample {
    const { lex, rng } = this;
    const verb = rng.pick(lex.verbs);
    const subject = this.nounPhrase(this.pickNoun(verb.subjects), number, 'definite');
    if (withSubjectAdjective) {
      this.adjective(subject);
      this.constructions.push('subject-adjective');
    }
    this.material(plan, subject);

    const verbIndex = this.tokens.length;
    this.emit(verb.perfeito[number], subject.index, number);
    this.complement(verb);

    const between = this.numbers.slice(subject.index + 1, verbIndex);
    const attractors = between.filter(
      (n, i) => this.controllers[subject.index + 1 + i] === subject.index + 1 + i && n !== number,
    ).length;
    return {
      tokens: this.tokens,
      subjectIndex: subject.index,
      verbIndex,
      number,
      correct: verb.perfeito[number],
      wrong: verb.perfeito[number === 'sg' ? 'pl' : 'sg'],
      distance: verbIndex - subject.index - 1,
      attractors,
      constructions: this.constructions,
      controllers: this.controllers,
      numbers: this.numbers,
    };
  }

  /** The segments, each attached to the most recent noun (`head` at first). */
  private material(plan: readonly Segment[], head: NounRef): void {
    let last = head;
    for (const seg of plan) {
      switch (seg.kind) {
        case 'pp': {
          const noun = this.pickNoun(seg.prep.kinds);
          last = this.nounPhrase(noun, this.nextSlot(), 'definite', seg.prep.words);
          this.constructions.push('pp');
          if (seg.adjective) this.nonSubjectAdjective(last);
          break;
        }
        case 'name':
          for (const w of nameTokens(this.lex, seg.name)) this.emit(w, -1, null);
          this.constructions.push('name');
          break;
        case 'adverb':
          for (const w of seg.words) this.emit(w, -1, null);
          this.constructions.push('adverb');
          break;
        case 'subject-relative': {
          // que + verb agreeing with `last` + object
          const verb = this.pickVerb((v) => v.subjects.includes(last.noun.kind));
          this.emit(this.lex.relativePronoun, -1, null);
          this.emit(verb.imperfeito[last.number], last.index, last.number);
          this.constructions.push('subject-relative');
          last = this.nounPhrase(this.pickNoun(verb.objects!), this.nextSlot(), this.objectArticle());
          if (seg.adjective) this.nonSubjectAdjective(last);
          break;
        }
        case 'object-relative': {
          // que + its own subject (+ inner material) + verb agreeing with that subject; `last` is the object
          const verb = this.pickVerb((v) => v.objects!.includes(last.noun.kind));
          this.emit(this.lex.relativePronoun, -1, null);
          this.constructions.push('object-relative');
          const inner = this.nounPhrase(this.pickNoun(verb.subjects), this.nextSlot(), 'definite');
          if (seg.adjective) this.nonSubjectAdjective(inner);
          this.material(seg.inner, inner);
          this.emit(verb.imperfeito[inner.number], inner.index, inner.number);
          break;
        }
      }
    }
  }

  /** What follows the main verb: a place ("no bar") or an object ("o cachorro"), or nothing. */
  private complement(verb: Verb): void {
    const coin = (): GrammaticalNumber => (this.rng.uniform() < 0.5 ? 'sg' : 'pl');
    if (verb.place !== null) this.nounPhrase(this.pickNoun([PLACE_KIND]), coin(), 'definite', [verb.place]);
    else if (verb.objects !== null) this.nounPhrase(this.pickNoun(verb.objects), coin(), this.objectArticle());
  }

  /** [preposition] article noun; the article (or the preposition's contraction with it) agrees with the noun. */
  private nounPhrase(
    noun: Noun,
    number: GrammaticalNumber,
    article: 'definite' | 'indefinite',
    prep: readonly string[] = [],
  ): NounRef {
    const art = this.lex.determiners[article][noun.gender][number];
    const words = prep.length > 0 ? prepositionWithArticle(this.lex, prep, art) : [art];
    const index = this.tokens.length + words.length;
    for (const [i, w] of words.entries()) {
      if (i === words.length - 1) this.emit(w, index, number);
      else this.emit(w, -1, null);
    }
    this.emit(number === 'sg' ? noun.sg : noun.pl, index, number);
    return { index, noun, number };
  }

  private nonSubjectAdjective(ref: NounRef): void {
    this.adjective(ref);
    this.constructions.push('adjective');
  }

  private adjective(ref: NounRef): void {
    const fitting = this.lex.adjectives.filter((a) => a.kinds.includes(ref.noun.kind));
    const adj: Adjective = this.rng.pick(fitting.length > 0 ? fitting : this.lex.adjectives);
    this.emit(adjectiveForm(adj, ref.noun.gender, ref.number), ref.index, ref.number);
  }

  private objectArticle(): 'definite' | 'indefinite' {
    return this.rng.uniform() < this.indefiniteRate ? 'indefinite' : 'definite';
  }

  private pickNoun(kinds: readonly string[]): Noun {
    // every kind a verb or preposition names has a noun (lexicon.ts checks)
    return this.rng.pick(this.lex.nouns.filter((n) => kinds.includes(n.kind)));
  }

  /** A transitive verb that fits, else any transitive verb (a custom lexicon may lack one). */
  private pickVerb(fits: (v: Verb) => boolean): Verb {
    const transitive = this.lex.verbs.filter((v) => v.objects !== null);
    const fitting = transitive.filter(fits);
    return this.rng.pick(fitting.length > 0 ? fitting : transitive);
  }

  private nextSlot(): GrammaticalNumber {
    return this.slotNumbers[this.slot++];
  }

  private emit(word: string, controller: number, number: GrammaticalNumber | null): void {
    this.tokens.push(word);
    this.controllers.push(controller);
    this.numbers.push(number);
  }
}
