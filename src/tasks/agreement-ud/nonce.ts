/**
 * Nonce twins (Gulordava et al. 2018, "colorless green"): copies of an item whose content
 * words are replaced by random words of the same part of speech and the same morphological
 * features, so that a model cannot lean on meaning or collocations, only on syntax.
 *
 * Replaced: every word of the prefix whose UPOS is NOUN, VERB or ADJ, or ADV ending in -mente
 * (manner adverbs; the other adverbs — não, já, também, mais, ainda — are closed-class and
 * stay), except the subject's head (the item's controller) and the verb (not in the prefix).
 * Kept: function words, proper nouns, numbers, punctuation, words inside a multiword token
 * (their surface form would need rebuilding), nouns and adjectives without Number and verbs
 * without VerbForm (GSD leaves most words without features: "same features" would then mean
 * nothing), and words marked Typo, Foreign or Abbr.
 *
 * A replacement has exactly the original's UPOS and FEATS (Gender, Number, VerbForm, Mood,
 * Tense, Person, …), so determiners still agree and attractors stay attractors. It is drawn
 * uniformly from the distinct forms of that (UPOS, FEATS) class in the vocabulary
 * (`NonceVocabulary`: words of the given sentences seen at least `minCount` times, letters and
 * inner hyphens only), excluding the original; a class with no other form keeps the original.
 * The correct and wrong forms are not changed. Each item's twins come from its own Rng stream,
 * seeded with (seed, item id), so they do not depend on which other items were made.
 */
import { featsString, type Sentence, type Word } from '../../data/conllu.js';
import { Rng } from '../../util/rng.js';
import type { ItemSource } from './extract.js';
import type { AgreementItem } from './items.js';
import { lmToken } from './treebanks.js';

export interface NonceOptions {
  /** Twins per item. Default 5. */
  variants: number;
  seed: number;
  /** Lower-case the replacements, as the items are. Default true. */
  lowercase: boolean;
}

export const NONCE_DEFAULTS: Readonly<NonceOptions> = { variants: 5, seed: 1, lowercase: true };

const WORD_FORM = /^\p{L}+(?:-\p{L}+)*$/u;
const EXCLUDING = ['Typo', 'Foreign', 'Abbr'];

/**
 * Whether a twin replaces this word (the subject's head aside): a NOUN or ADJ with Number, a
 * VERB with VerbForm, an ADV in -mente; none marked Typo, Foreign or Abbr.
 */
export function isReplaceable(w: Word): boolean {
  if (EXCLUDING.some((f) => f in w.feats)) return false;
  if (w.upos === 'NOUN' || w.upos === 'ADJ') return w.feats.Number !== undefined;
  if (w.upos === 'VERB') return w.feats.VerbForm !== undefined;
  return w.upos === 'ADV' && /mente$/i.test(w.form);
}

const classOf = (w: Word) => `${w.upos}\t${featsString(w.feats)}`;

/** The forms of each (UPOS, FEATS) class, for drawing replacements. */
export class NonceVocabulary {
  private readonly classes = new Map<string, string[]>();

  /**
   * Count the replaceable words of these sentences that stand alone as a token (not inside a
   * multiword token) and keep, per class, the forms seen ≥ minCount times, sorted.
   */
  constructor(sentences: Iterable<Sentence>, minCount = 2) {
    const counts = new Map<string, Map<string, number>>();
    for (const s of sentences) {
      const inMwt = new Set<number>();
      for (const t of s.multiwordTokens) for (let id = t.first; id <= t.last; id++) inMwt.add(id);
      for (const w of s.words) {
        if (inMwt.has(w.id) || !isReplaceable(w)) continue;
        const form = w.form.normalize('NFC').toLowerCase();
        if (!WORD_FORM.test(form)) continue;
        const key = classOf(w);
        let forms = counts.get(key);
        if (forms === undefined) {
          forms = new Map();
          counts.set(key, forms);
        }
        forms.set(form, (forms.get(form) ?? 0) + 1);
      }
    }
    for (const [key, forms] of counts) {
      const kept = [...forms].filter(([, c]) => c >= minCount).map(([f]) => f);
      if (kept.length > 0) this.classes.set(key, kept.sort());
    }
  }

  /** The forms of the word's class (lower-case, sorted); [] if none. */
  formsLike(w: Word): readonly string[] {
    return this.classes.get(classOf(w)) ?? [];
  }

  get classCount(): number {
    return this.classes.size;
  }
}

function matchCase(form: string, model: string): string {
  return model[0] !== model[0].toLowerCase() ? form[0].toUpperCase() + form.slice(1) : form;
}

/**
 * `options.variants` nonce twins of an item from its source sentence: ids "<id>~n<k>", variant k,
 * twinOf the original's id; everything but the prefix copied.
 */
export function nonceTwins(
  item: AgreementItem,
  source: ItemSource,
  vocabulary: NonceVocabulary,
  options: Partial<NonceOptions> = {},
): AgreementItem[] {
  const opts: Readonly<NonceOptions> = { ...NONCE_DEFAULTS, ...options };
  const { sentence, subject } = source;
  // the prefix's tokens that are single replaceable words: token index → word
  const slots: [number, Word][] = [];
  let tokenIndex = 0;
  let m = 0;
  for (let id = 1; tokenIndex < item.prefix.length && id <= sentence.words.length; id++, tokenIndex++) {
    const mwt = sentence.multiwordTokens[m];
    if (mwt !== undefined && mwt.first === id) {
      id = mwt.last;
      m++;
      continue;
    }
    const w = sentence.words[id - 1];
    if (w.id !== subject.id && isReplaceable(w)) slots.push([tokenIndex, w]);
  }
  const draws = slots
    .map(([i, w]) => ({ i, w, own: w.form.normalize('NFC').toLowerCase(), pool: vocabulary.formsLike(w) }))
    .filter(({ own, pool }) => pool.length > 1 || (pool.length === 1 && pool[0] !== own));
  const rng = new Rng(`${opts.seed}/nonce/${item.id}`);
  const twins: AgreementItem[] = [];
  for (let k = 1; k <= opts.variants; k++) {
    const prefix = item.prefix.slice();
    for (const { i, w, own, pool } of draws) {
      let pick = pool[rng.int(pool.length)];
      while (pick === own) pick = pool[rng.int(pool.length)];
      prefix[i] = lmToken(opts.lowercase ? pick : matchCase(pick, w.form), opts.lowercase);
    }
    const constructions = item.constructions.slice();
    twins.push({ ...item, id: `${item.id}~n${k}`, prefix, constructions, variant: k, twinOf: item.id });
  }
  return twins;
}
