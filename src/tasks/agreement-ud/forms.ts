/**
 * Wrong forms for agreement items: the same verb in the other number, with the same lemma,
 * person, tense and mood.
 *
 * First the treebanks' own (lemma, features) → form table: every finite verb or auxiliary with
 * Number (and without Typo=Yes) of the given treebanks, keyed by lemma, Mood, Tense, Person
 * and Number, counting each (lower-case, NFC) form. Where a key has more than one form
 * (spelling variants such as "vêem" / "veem", or annotation slips), the most frequent wins,
 * ties going to the first in code-unit order: deterministic, and independent of file order.
 * Then, for keys the table lacks, the Portuguese rules of inflect-pt.ts.
 *
 * Where both answer and differ in more than accents, the item is dropped (`forms-disagree`):
 * the table holds annotation slips ("elogiam" tagged as a perfeito, "reproduzi" as a 3sg
 * present) that the rules, working from the verb's own form, do not make. Accent-only
 * differences are spelling variants ("prevêem" / "preveem", "apóiam" / "apoiam"): the table's
 * form, the one the treebanks use most, is kept.
 */
import type { Word } from '../../data/conllu.js';
import { otherNumberPt, type VerbNumber } from './inflect-pt.js';

export type WrongFormSource = 'table' | 'rule';

export interface WrongForm {
  form: string;
  source: WrongFormSource;
}

/** Why no wrong form: none known, or the table and the rules give different words. */
export type NoWrongForm = 'no-wrong-form' | 'forms-disagree';

/** Which rule fallback to use when the table has no form: Portuguese, or none (other languages). */
export type RuleFallback = 'pt' | null;

const SEP = '\u0001';

function keyOf(lemma: string, feats: Readonly<Record<string, string>>, number: string): string {
  const f = feats;
  return [lemma.normalize('NFC').toLowerCase(), f.Mood ?? '', f.Tense ?? '', f.Person ?? '', number].join(SEP);
}

export const otherNumber = (n: VerbNumber): VerbNumber => (n === 'Sing' ? 'Plur' : 'Sing');

/** A finite verb form the table can use: finite, with Number Sing or Plur, not marked as a typo. */
export function isTableVerb(w: Word): boolean {
  const f = w.feats;
  return f.VerbForm === 'Fin' && (f.Number === 'Sing' || f.Number === 'Plur') && f.Typo !== 'Yes' && w.lemma !== '_';
}

export class FormTable {
  private readonly forms = new Map<string, Map<string, number>>();

  /** Count every finite verb form of these words. */
  static build(words: Iterable<Word>): FormTable {
    const table = new FormTable();
    for (const w of words) if (isTableVerb(w)) table.add(w.lemma, w.feats, w.form);
    return table;
  }

  add(lemma: string, feats: Readonly<Record<string, string>>, form: string): void {
    const key = keyOf(lemma, feats, feats.Number);
    let counts = this.forms.get(key);
    if (counts === undefined) {
      counts = new Map();
      this.forms.set(key, counts);
    }
    const f = form.normalize('NFC').toLowerCase();
    counts.set(f, (counts.get(f) ?? 0) + 1);
  }

  /** The most frequent form for (lemma, feats with Number = number), ties to the first in code-unit order. */
  lookup(lemma: string, feats: Readonly<Record<string, string>>, number: VerbNumber): string | null {
    const counts = this.forms.get(keyOf(lemma, feats, number));
    if (counts === undefined) return null;
    let best: string | null = null;
    let bestCount = 0;
    for (const [form, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== null && form < best)) {
        best = form;
        bestCount = count;
      }
    }
    return best;
  }

  /** Keys with more than one form: how often the tie-break rule decides. */
  ambiguousKeys(): number {
    let n = 0;
    for (const counts of this.forms.values()) if (counts.size > 1) n++;
    return n;
  }

  get size(): number {
    return this.forms.size;
  }
}

/** Letters without accents: "prevêem" and "preveem" are the same word spelled two ways. */
const bare = (form: string) => form.normalize('NFD').replace(/\p{M}/gu, '');

/**
 * The other-number form of finite verb `verb` (lower-case): from the table, else by rule (see
 * the module comment for when they disagree).
 */
export function wrongForm(table: FormTable, verb: Word, rules: RuleFallback): WrongForm | NoWrongForm {
  const from = verb.feats.Number as VerbNumber;
  const fromTable = table.lookup(verb.lemma, verb.feats, otherNumber(from));
  let byRule: string | null = null;
  if (rules === 'pt') {
    const cell = { mood: verb.feats.Mood ?? '', tense: verb.feats.Tense ?? null };
    byRule = otherNumberPt(verb.lemma, cell, verb.form.normalize('NFC').toLowerCase(), from);
  }
  if (fromTable !== null) {
    if (byRule === null || bare(byRule) === bare(fromTable)) return { form: fromTable, source: 'table' };
    return 'forms-disagree';
  }
  return byRule === null ? 'no-wrong-form' : { form: byRule, source: 'rule' };
}
