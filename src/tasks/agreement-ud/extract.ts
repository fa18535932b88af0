/**
 * Subject–verb agreement items from Universal Dependencies treebanks (after Linzen, Dupoux &
 * Goldberg 2016: pairs found in parsed text, scored by distance and attractors).
 *
 * A candidate is every nominal subject: a word whose relation is nsubj or nsubj:pass. Its
 * agreeing word is the predicate itself when finite ("o homem ENTROU"), otherwise the one finite
 * aux, aux:pass or cop of the predicate ("os carros FORAM vistos", "a casa É grande", "o preço
 * VAI subir": the finite auxiliary or copula carries the agreement). A candidate becomes an item
 * when it passes every check below; the first check it fails is counted as its drop reason:
 *
 *   subject-pronoun, subject-proper-noun, subject-other-pos
 *                         the subject's head is not a common noun (options.subjectUpos: NOUN)
 *   no-finite-verb        the predicate is not finite and has no finite aux/cop (infinitives,
 *                         participle clauses); several-finite-verbs: more than one such
 *   coordinated-subject   the subject's head has a conj dependent ("o pai e a mãe"), or is the
 *                         first of a correlative "tanto X como/quanto Y" (PetroGold: an nmod)
 *   verb-not-third-person, verb-no-number, subject-no-number
 *   verb-before-subject   inversion ("chegaram os homens")
 *   number-mismatch       subject and verb differ in Number (notional agreement, slips)
 *   typo                  Typo=Yes on the subject or the verb
 *   verb-in-multiword-token
 *                         the verb is written together with clitics whose form depends on it
 *                         ("fê-lo", "vê-lo", mesoclisis "dir-se-ia"); "tornou-se" is kept: its
 *                         clitics (se, lhe, lhes, me, te, nos, vos) follow either number unchanged
 *   no-wrong-form         neither the form table nor the rules give the other number
 *   forms-disagree        the table and the rules give different words (forms.ts)
 *   same-form             the other number is spelled the same
 *
 * Tokens are the surface tokens of the text (a multiword token's form, "no", in place of its
 * words "em" + "o"), as lmToken() writes them for the LM; distance counts them.
 */
import { childrenOf, surfaceTokens, tokenIndexOfWords, type Sentence, type Word } from '../../data/conllu.js';
import { inputError } from '../../util/errors.js';
import { cellName } from './inflect-pt.js';
import { FormTable, isTableVerb, wrongForm, type RuleFallback } from './forms.js';
import type { AgreementItem } from './items.js';
import { lmToken, type Treebank } from './treebanks.js';

export interface ExtractOptions {
  /** Lower-case the tokens (as the Portuguese LM corpus is). Default true. */
  lowercase: boolean;
  /** UPOS a subject's head must have. Default ['NOUN'] (see docs/agreement-items.md). */
  subjectUpos: readonly string[];
  /** Rule fallback for wrong forms the table lacks: 'pt' or null. Default 'pt'. */
  rules: RuleFallback;
}

export const EXTRACT_DEFAULTS: Readonly<ExtractOptions> = { lowercase: true, subjectUpos: ['NOUN'], rules: 'pt' };

export const SUBJECT_RELATIONS: readonly string[] = ['nsubj', 'nsubj:pass'];

export const DROP_REASONS = [
  'subject-pronoun',
  'subject-proper-noun',
  'subject-other-pos',
  'no-finite-verb',
  'several-finite-verbs',
  'coordinated-subject',
  'verb-not-third-person',
  'verb-no-number',
  'subject-no-number',
  'verb-before-subject',
  'number-mismatch',
  'typo',
  'verb-in-multiword-token',
  'no-wrong-form',
  'forms-disagree',
  'same-form',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * What can stand between a subject and its verb, read off the tree. Each word between them is
 * traced up to the highest ancestor still between them; that ancestor's relation and parent
 * name the construction:
 *
 *   adjacent       nothing between (distance 0)
 *   relcl, acl, nmod, amod, appos
 *                  a dependent of the subject: relative clause (acl:relcl), other adnominal
 *                  clause, prepositional/nominal modifier, adjective, apposition
 *   advmod, obl, advcl
 *                  a dependent of the verb or its predicate: adverb, adverbial phrase, adverbial clause
 *   clitic         a pronoun before the verb (obj, iobj, expl: "o homem SE sentou")
 *   parenthetical  parataxis, or a constituent opened and closed by paired punctuation
 *                  (commas, dashes, brackets) — tagged beside its own relation
 *   other          anything else (non-finite auxiliaries, discourse markers, odd attachments)
 */
export const CONSTRUCTIONS = [
  'adjacent',
  'relcl',
  'acl',
  'nmod',
  'amod',
  'appos',
  'advmod',
  'obl',
  'advcl',
  'clitic',
  'parenthetical',
  'other',
] as const;
export type Construction = (typeof CONSTRUCTIONS)[number];

/** Where an item came from, for nonce twins and checks (not written to the items file). */
export interface ItemSource {
  sentence: Sentence;
  subject: Word;
  verb: Word;
  /** Index of the verb's surface token (= the prefix length). */
  verbToken: number;
}

export interface Extraction {
  items: AgreementItem[];
  /** `sources[i]` is where `items[i]` came from. */
  sources: ItemSource[];
  /** Nominal subjects seen (nsubj, nsubj:pass). */
  candidates: number;
  dropped: Record<DropReason, number>;
  /** Items per wrong-form source. */
  wrongSources: Record<string, number>;
}

const CLITICS = new Set(['se', 'lhe', 'lhes', 'me', 'te', 'nos', 'vos']);
const PAIRS: Readonly<Record<string, string>> = { ',': ',', '(': ')', '[': ']', '—': '—', '–': '–', '-': '-' };

const base = (deprel: string) => deprel.split(':')[0];

/** "o pai e a mãe": a conj dependent; "tanto aminas como produtos": tanto + a dependent marked como/quanto. */
function isCoordinated(sentence: Sentence, children: number[][], subject: Word): boolean {
  const kids = children[subject.id].map((id) => sentence.words[id - 1]);
  if (kids.some((k) => base(k.deprel) === 'conj')) return true;
  if (!kids.some((k) => k.form.toLowerCase() === 'tanto' && k.id < subject.id)) return false;
  const marker = (id: number) => ['como', 'quanto'].includes(sentence.words[id - 1].form.toLowerCase());
  return kids.some((k) => k.id > subject.id && children[k.id].some(marker));
}

/** The finite word that agrees with the predicate's subject: the predicate or its one finite aux/cop. */
function agreeingWord(sentence: Sentence, children: number[][], predicate: Word): Word[] {
  if (predicate.feats.VerbForm === 'Fin') return [predicate];
  return children[predicate.id]
    .map((id) => sentence.words[id - 1])
    .filter((w) => (w.deprel === 'aux' || w.deprel === 'aux:pass' || w.deprel === 'cop') && w.feats.VerbForm === 'Fin');
}

/**
 * The verb's surface token when it can stand for the verb in either number: the verb itself, or
 * the verb with enclitics that do not change with it ("tornou-se"). Returns the text after the
 * verb's form ("" or "-se"), or null.
 */
function encliticTail(sentence: Sentence, verb: Word): string | null {
  const mwt = sentence.multiwordTokens.find((t) => t.first <= verb.id && verb.id <= t.last);
  if (mwt === undefined) return '';
  if (mwt.first !== verb.id) return null;
  const token = mwt.form.toLowerCase();
  const parts = sentence.words.slice(mwt.first, mwt.last).map((w) => w.form.toLowerCase());
  const expected = verb.form.toLowerCase() + parts.map((p) => `-${p}`).join('');
  if (token !== expected || !parts.every((p) => CLITICS.has(p))) return null;
  return mwt.form.slice(verb.form.length);
}

/** The words strictly between subject and verb, grouped under their highest ancestor still between them. */
function constructionsBetween(
  sentence: Sentence,
  subject: Word,
  verb: Word,
  predicate: Word,
  distance: number,
): Construction[] {
  const tags = new Set<Construction>();
  if (distance === 0) tags.add('adjacent');
  const lo = subject.id;
  const hi = verb.id;
  const inside = (id: number) => id > lo && id < hi;
  const words = sentence.words;
  const tops = new Map<number, number[]>(); // top id → the ids under it
  for (let id = lo + 1; id < hi; id++) {
    let top = id;
    for (let steps = 0; inside(words[top - 1].head) && steps < words.length; steps++) top = words[top - 1].head;
    const group = tops.get(top);
    if (group === undefined) tops.set(top, [id]);
    else group.push(id);
  }
  const verbSide = new Set([verb.id, predicate.id]);
  for (const [top, ids] of tops) {
    const w = words[top - 1];
    const rel = base(w.deprel);
    if (rel === 'punct') continue;
    let tag: Construction = 'other';
    if (w.head === subject.id) {
      if (w.deprel === 'acl:relcl') tag = 'relcl';
      else if (rel === 'acl' || rel === 'nmod' || rel === 'amod' || rel === 'appos') tag = rel;
    } else if (verbSide.has(w.head)) {
      if (rel === 'advmod' || rel === 'obl' || rel === 'advcl') tag = rel;
      else if ((rel === 'obj' || rel === 'iobj' || rel === 'expl') && w.upos === 'PRON') tag = 'clitic';
      else if (rel === 'parataxis') tag = 'parenthetical';
    }
    tags.add(tag);
    const first = words[ids[0] - 1];
    const last = words[ids[ids.length - 1] - 1];
    if (ids.length >= 3 && first.upos === 'PUNCT' && PAIRS[first.form] === last.form && last.upos === 'PUNCT') {
      tags.add('parenthetical');
    }
  }
  return CONSTRUCTIONS.filter((c) => tags.has(c));
}

function matchCase(form: string, model: string): string {
  if (model.length > 1 && model === model.toUpperCase() && model !== model.toLowerCase()) return form.toUpperCase();
  if (model[0] !== model[0].toLowerCase()) return form[0].toUpperCase() + form.slice(1);
  return form;
}

/** Every finite verb of these treebanks, for the form table. */
export function* finiteVerbs(treebanks: readonly Treebank[]): Generator<Word> {
  for (const tb of treebanks) for (const s of tb.sentences) for (const w of s.words) if (isTableVerb(w)) yield w;
}

/**
 * The agreement items of the given treebanks (see the module comment), with wrong forms from
 * `table` (default: built over these treebanks). Throws an input error for a treebank whose
 * nouns or finite verbs carry no Number.
 */
export function extractItems(
  treebanks: readonly Treebank[],
  options: Partial<ExtractOptions> = {},
  table: FormTable = FormTable.build(finiteVerbs(treebanks)),
): Extraction {
  const opts: Readonly<ExtractOptions> = { ...EXTRACT_DEFAULTS, ...options };
  for (const tb of treebanks) requireNumber(tb);
  const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  const wrongSources: Record<string, number> = {};
  const items: AgreementItem[] = [];
  const sources: ItemSource[] = [];
  const ids = new Set<string>();
  let candidates = 0;

  for (const tb of treebanks) {
    for (const sentence of tb.sentences) {
      let children: number[][] | null = null;
      let tokens: ReturnType<typeof surfaceTokens> | null = null;
      let tokenOf: Int32Array | null = null;
      for (const subject of sentence.words) {
        if (!SUBJECT_RELATIONS.includes(subject.deprel)) continue;
        candidates++;
        const drop = (reason: DropReason) => {
          dropped[reason]++;
        };
        if (!opts.subjectUpos.includes(subject.upos)) {
          const upos = subject.upos;
          drop(upos === 'PRON' ? 'subject-pronoun' : upos === 'PROPN' ? 'subject-proper-noun' : 'subject-other-pos');
          continue;
        }
        if (subject.head === 0) {
          drop('no-finite-verb');
          continue;
        }
        children ??= childrenOf(sentence);
        const predicate = sentence.words[subject.head - 1];
        const finite = agreeingWord(sentence, children, predicate);
        if (finite.length !== 1) {
          drop(finite.length === 0 ? 'no-finite-verb' : 'several-finite-verbs');
          continue;
        }
        const verb = finite[0];
        const sNum = subject.feats.Number;
        const vNum = verb.feats.Number;
        if (isCoordinated(sentence, children, subject)) drop('coordinated-subject');
        else if (verb.feats.Person !== '3') drop('verb-not-third-person');
        else if (vNum !== 'Sing' && vNum !== 'Plur') drop('verb-no-number');
        else if (sNum !== 'Sing' && sNum !== 'Plur') drop('subject-no-number');
        else if (verb.id < subject.id) drop('verb-before-subject');
        else if (sNum !== vNum) drop('number-mismatch');
        else if (subject.feats.Typo === 'Yes' || verb.feats.Typo === 'Yes') drop('typo');
        else {
          const tail = encliticTail(sentence, verb);
          if (tail === null) {
            drop('verb-in-multiword-token');
            continue;
          }
          const wrong = wrongForm(table, verb, opts.rules);
          if (typeof wrong === 'string') {
            drop(wrong);
            continue;
          }
          if (wrong.form === verb.form.normalize('NFC').toLowerCase()) {
            drop('same-form');
            continue;
          }
          tokens ??= surfaceTokens(sentence);
          tokenOf ??= tokenIndexOfWords(tokens, sentence.words.length);
          const verbToken = tokenOf[verb.id - 1];
          const subjectToken = tokenOf[subject.id - 1];
          const distance = verbToken - subjectToken - 1;
          let attractors = 0;
          for (let id = subject.id + 1; id < verb.id; id++) {
            const w = sentence.words[id - 1];
            const n = w.feats.Number;
            if (w.upos === 'NOUN' && (n === 'Sing' || n === 'Plur') && n !== sNum) attractors++;
          }
          const correctSurface = verb.form + tail;
          let id = `${tb.name}/${sentence.sentId}/${verb.id}`;
          for (let k = 2; ids.has(id); k++) id = `${tb.name}/${sentence.sentId}/${verb.id}#${k}`;
          ids.add(id);
          items.push({
            id,
            prefix: tokens.slice(0, verbToken).map((t) => lmToken(t.form, opts.lowercase)),
            correct: lmToken(correctSurface, opts.lowercase),
            wrong: lmToken(matchCase(wrong.form, verb.form) + tail, opts.lowercase),
            number: sNum === 'Sing' ? 'sg' : 'pl',
            subjectIndex: subjectToken,
            distance,
            attractors,
            constructions: constructionsBetween(sentence, subject, verb, predicate, distance),
            verbRole: verb === predicate ? 'main' : verb.deprel,
            lemma: verb.lemma,
            cell: cellName({ mood: verb.feats.Mood ?? '', tense: verb.feats.Tense ?? null }) ?? null,
            wrongSource: wrong.source,
            treebank: tb.name,
            sentId: sentence.sentId,
            docId: sentence.docId,
            variant: 0,
            twinOf: null,
          });
          sources.push({ sentence, subject, verb, verbToken });
          wrongSources[wrong.source] = (wrongSources[wrong.source] ?? 0) + 1;
        }
      }
    }
  }
  return { items, sources, candidates, dropped, wrongSources };
}

/** A treebank whose nouns or finite verbs never carry Number cannot give items. */
export function requireNumber(tb: Treebank): void {
  let nouns = 0;
  let verbs = 0;
  for (const s of tb.sentences) {
    for (const w of s.words) {
      if (w.feats.Number === undefined) continue;
      if (w.upos === 'NOUN') nouns++;
      else if (w.feats.VerbForm === 'Fin') verbs++;
    }
    if (nouns > 0 && verbs > 0) return;
  }
  const what = nouns === 0 && verbs === 0 ? 'nouns and finite verbs' : nouns === 0 ? 'nouns' : 'finite verbs';
  throw inputError(`treebank ${tb.path} has no Number feature on its ${what}; agreement items need it on both`);
}
