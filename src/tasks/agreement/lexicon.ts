import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inputError } from '../../util/errors.js';
import { readJsonFile } from '../../util/files.js';

/**
 * The hand-written lexicon of the agreement probe (corpora/agreement-pt.json by
 * default). Nouns carry a gender and a kind ("person", "animal", "object", …);
 * verbs, prepositions and adjectives say which kinds they combine with, so the
 * generated sentences stay sensible ("o homem usava uma peruca", not "a peruca
 * usava um homem"). Main verbs use the pretérito perfeito (entrou/entraram),
 * relative clauses the imperfeito (usava/usavam).
 *
 * Every way the file can be wrong is an inputError naming the file and the entry.
 */

export type Gender = 'm' | 'f';
export type GrammaticalNumber = 'sg' | 'pl';
export const NUMBERS: readonly GrammaticalNumber[] = ['sg', 'pl'];

export interface NumberForms {
  sg: string;
  pl: string;
}

export interface Noun extends NumberForms {
  gender: Gender;
  kind: string;
}

export interface Adjective {
  ms: string;
  fs: string;
  mp: string;
  fp: string;
  /** Noun kinds it describes. */
  kinds: string[];
}

export interface Verb {
  lemma: string;
  /** 3rd person, pretérito perfeito: the main verb. */
  perfeito: NumberForms;
  /** 3rd person, pretérito imperfeito: verbs inside relative clauses. */
  imperfeito: NumberForms;
  /** Noun kinds that can be its subject. */
  subjects: string[];
  /** Noun kinds that can be its object; null for an intransitive verb. */
  objects: string[] | null;
  /** Preposition that introduces a place after it as a main verb ("entrou no bar"); null for none. */
  place: string | null;
}

export interface Preposition {
  /** "perto de" → ["perto", "de"]; the last word contracts with the article (de + as = das). */
  words: string[];
  /** Noun kinds it takes. */
  kinds: string[];
}

/** A proper place name: number-neutral ("de lisboa", "do porto"). */
export interface PlaceName {
  word: string;
  /** Gender of its article, or null for a name used without one. */
  gender: Gender | null;
}

export interface Lexicon {
  /** Where it was read from. */
  source: string;
  determiners: { definite: Record<Gender, NumberForms>; indefinite: Record<Gender, NumberForms> };
  /** preposition → definite article → contracted form (em + o = no). */
  contractions: Record<string, Record<string, string>>;
  relativePronoun: string;
  nouns: Noun[];
  adjectives: Adjective[];
  verbs: Verb[];
  prepositions: Preposition[];
  namePreposition: string;
  names: PlaceName[];
  /** Each adverb as its words ("de repente" → ["de", "repente"]). */
  adverbs: string[][];
}

/** The kind of noun that follows a main verb's `place` preposition. */
export const PLACE_KIND = 'place';

const LEXICON_FILE = 'agreement-pt.json';

/** The shipped lexicon: corpora/agreement-pt.json at the package root (found from src/ or dist/src/). */
export function defaultLexiconPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    const candidate = join(dir, 'corpora', LEXICON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`shipped lexicon corpora/${LEXICON_FILE} not found above ${fileURLToPath(import.meta.url)}`);
}

let shipped: Lexicon | null = null;

/** Read and validate a lexicon file (default: the shipped one, parsed once). */
export function loadLexicon(path: string | null = null): Lexicon {
  if (path !== null) return parseLexicon(readJsonFile(path, 'lexicon'), path);
  shipped ??= parseLexicon(readJsonFile(defaultLexiconPath(), 'lexicon'), defaultLexiconPath());
  return shipped;
}

/**
 * Use `raw` (the parsed JSON of corpora/agreement-pt.json) as the shipped lexicon, so
 * loadLexicon(null) reads no file: the browser lab has no file system and fetches it.
 */
export function provideShippedLexicon(raw: unknown): void {
  shipped = parseLexicon(raw, `corpora/${LEXICON_FILE}`);
}

/** Validate parsed JSON as a lexicon; `source` names it in error messages. */
export function parseLexicon(raw: unknown, source: string): Lexicon {
  const v = new Validator(source);
  const top = v.object(raw, 'the top level');
  const det = v.object(v.field(top, 'determiners', 'the top level'), 'determiners');
  const determiners = {
    definite: v.genders(v.field(det, 'definite', 'determiners'), 'determiners.definite'),
    indefinite: v.genders(v.field(det, 'indefinite', 'determiners'), 'determiners.indefinite'),
  };
  const definiteArticles = (['m', 'f'] as const).flatMap((g) => [
    determiners.definite[g].sg,
    determiners.definite[g].pl,
  ]);

  const contractions: Record<string, Record<string, string>> = {};
  const rawContractions = v.object(v.field(top, 'contractions', 'the top level'), 'contractions');
  for (const [prep, table] of Object.entries(rawContractions)) {
    const where = `contractions.${prep}`;
    const t = v.object(table, where);
    const out: Record<string, string> = {};
    for (const [article, form] of Object.entries(t)) out[lower(article)] = v.word(form, `${where}.${article}`);
    // a preposition contracts with all definite articles or none, so a PP's length never depends on the noun
    for (const a of definiteArticles)
      if (!(a in out))
        v.fail(`${where} has no entry for the article "${a}" (give all of ${definiteArticles.join(', ')})`);
    contractions[lower(prep)] = out;
  }

  const relativePronoun = v.word(v.field(top, 'relativePronoun', 'the top level'), 'relativePronoun');

  const nouns = v.list(top, 'nouns').map((item, i): Noun => {
    const where = `nouns[${i}]${v.label(item, 'sg')}`;
    const o = v.object(item, where);
    if (o.pl === undefined) v.fail(`${where} has no plural ("pl")`);
    return {
      sg: v.word(v.field(o, 'sg', where), `${where}.sg`),
      pl: v.word(o.pl, `${where}.pl`),
      gender: v.gender(v.field(o, 'gender', where), `${where}.gender`),
      kind: v.word(v.field(o, 'kind', where), `${where}.kind`),
    };
  });
  const kinds = new Set(nouns.map((n) => n.kind));
  const kindList = (value: unknown, where: string) => {
    const ks = v.words(value, where);
    for (const k of ks)
      if (!kinds.has(k)) v.fail(`${where} names the kind "${k}", which no noun has (kinds: ${[...kinds].join(', ')})`);
    return ks;
  };

  const adjectives = v.list(top, 'adjectives').map((item, i): Adjective => {
    const where = `adjectives[${i}]${v.label(item, 'ms')}`;
    const o = v.object(item, where);
    return {
      ms: v.word(v.field(o, 'ms', where), `${where}.ms`),
      fs: v.word(v.field(o, 'fs', where), `${where}.fs`),
      mp: v.word(v.field(o, 'mp', where), `${where}.mp`),
      fp: v.word(v.field(o, 'fp', where), `${where}.fp`),
      kinds: kindList(v.field(o, 'kinds', where), `${where}.kinds`),
    };
  });

  const verbs = v.list(top, 'verbs').map((item, i): Verb => {
    const where = `verbs[${i}]${v.label(item, 'lemma')}`;
    const o = v.object(item, where);
    const verb: Verb = {
      lemma: v.word(v.field(o, 'lemma', where), `${where}.lemma`),
      perfeito: v.numberForms(v.field(o, 'perfeito', where), `${where}.perfeito`),
      imperfeito: v.numberForms(v.field(o, 'imperfeito', where), `${where}.imperfeito`),
      subjects: kindList(v.field(o, 'subjects', where), `${where}.subjects`),
      objects: o.objects === undefined || o.objects === null ? null : kindList(o.objects, `${where}.objects`),
      place: o.place === undefined || o.place === null ? null : v.word(o.place, `${where}.place`),
    };
    for (const tense of ['perfeito', 'imperfeito'] as const) {
      // the wrong form is the other number's: it must differ
      if (verb[tense].sg === verb[tense].pl)
        v.fail(`${where}.${tense} has the same singular and plural form "${verb[tense].sg}"`);
    }
    if (verb.place !== null && !kinds.has(PLACE_KIND))
      v.fail(`${where}.place needs nouns of kind "${PLACE_KIND}", and there are none`);
    return verb;
  });
  if (!verbs.some((verb) => verb.objects !== null))
    v.fail('verbs has no transitive verb (one with "objects"); relative clauses need one');

  const prepositions = v.list(top, 'prepositions').map((item, i): Preposition => {
    const where = `prepositions[${i}]`;
    const o = v.object(item, where);
    return {
      words: v.words(v.field(o, 'words', where), `${where}.words`),
      kinds: kindList(v.field(o, 'kinds', where), `${where}.kinds`),
    };
  });

  const namePreposition = v.word(v.field(top, 'namePreposition', 'the top level'), 'namePreposition');
  const names = v.list(top, 'names').map((item, i): PlaceName => {
    const where = `names[${i}]${v.label(item, 'word')}`;
    const o = v.object(item, where);
    return {
      word: v.word(v.field(o, 'word', where), `${where}.word`),
      gender: o.gender === undefined || o.gender === null ? null : v.gender(o.gender, `${where}.gender`),
    };
  });

  const adverbs = v.list(top, 'adverbs').map((item, i) => v.phrase(item, `adverbs[${i}]`));

  const lexicon: Lexicon = {
    source,
    determiners,
    contractions,
    relativePronoun,
    nouns,
    adjectives,
    verbs,
    prepositions,
    namePreposition,
    names,
    adverbs,
  };
  checkVerbFormsAreUnique(lexicon, v);
  return lexicon;
}

/** The surface forms of one adjective for a noun's gender and number. */
export function adjectiveForm(adj: Adjective, gender: Gender, number: GrammaticalNumber): string {
  return adj[`${gender}${number === 'sg' ? 's' : 'p'}` as 'ms' | 'fs' | 'mp' | 'fp'];
}

/** Preposition + article as tokens, contracted where the lexicon says so (de + as → ["das"]). */
export function prepositionWithArticle(lex: Lexicon, words: readonly string[], article: string | null): string[] {
  if (article === null) return [...words];
  const last = words[words.length - 1];
  const contracted = lex.contractions[last]?.[article];
  return contracted === undefined ? [...words, article] : [...words.slice(0, -1), contracted];
}

/** Every word a generated sentence can contain, sorted (code-unit order) and unique. */
export function lexiconWords(lex: Lexicon): string[] {
  const words = new Set<string>([lex.relativePronoun, lex.namePreposition]);
  const add = (...ws: string[]) => {
    for (const w of ws) words.add(w);
  };
  for (const kind of ['definite', 'indefinite'] as const) {
    for (const g of ['m', 'f'] as const) add(lex.determiners[kind][g].sg, lex.determiners[kind][g].pl);
  }
  for (const table of Object.values(lex.contractions)) add(...Object.values(table));
  for (const n of lex.nouns) add(n.sg, n.pl);
  for (const a of lex.adjectives) add(a.ms, a.fs, a.mp, a.fp);
  for (const verb of lex.verbs) {
    add(verb.perfeito.sg, verb.perfeito.pl, verb.imperfeito.sg, verb.imperfeito.pl);
    if (verb.place !== null) add(verb.place);
  }
  for (const p of lex.prepositions) add(...p.words);
  for (const n of lex.names) add(n.word);
  for (const a of lex.adverbs) add(...a);
  return [...words].sort();
}

/** A verb form that is also a noun, adjective, … would make "the verb" ambiguous to the probe. */
function checkVerbFormsAreUnique(lex: Lexicon, v: Validator): void {
  const other = new Map<string, string>();
  const note = (what: string, ...ws: string[]) => {
    for (const w of ws) if (!other.has(w)) other.set(w, what);
  };
  for (const n of lex.nouns) note(`the noun "${n.sg}"`, n.sg, n.pl);
  for (const a of lex.adjectives) note(`the adjective "${a.ms}"`, a.ms, a.fs, a.mp, a.fp);
  for (const kind of ['definite', 'indefinite'] as const) {
    for (const g of ['m', 'f'] as const) note('a determiner', lex.determiners[kind][g].sg, lex.determiners[kind][g].pl);
  }
  for (const p of lex.prepositions) note(`the preposition "${p.words.join(' ')}"`, ...p.words);
  for (const n of lex.names) note(`the name "${n.word}"`, n.word);
  for (const a of lex.adverbs) note(`the adverb "${a.join(' ')}"`, ...a);
  for (const table of Object.values(lex.contractions)) note('a contraction', ...Object.values(table));
  note('the relative pronoun', lex.relativePronoun);
  const seen = new Map<string, string>();
  for (const verb of lex.verbs) {
    for (const form of [verb.perfeito.sg, verb.perfeito.pl, verb.imperfeito.sg, verb.imperfeito.pl]) {
      const clash = other.get(form);
      if (clash) v.fail(`the verb form "${form}" (${verb.lemma}) is also ${clash}; verb forms must be only verb forms`);
      const owner = seen.get(form);
      if (owner !== undefined && owner !== verb.lemma)
        v.fail(`the verb form "${form}" belongs to both "${owner}" and "${verb.lemma}"`);
      seen.set(form, verb.lemma);
    }
  }
}

function lower(s: string): string {
  return s.toLocaleLowerCase('pt');
}

/** Field readers that fail with one line: `lexicon <file>: <where> <problem>`. */
class Validator {
  constructor(private readonly source: string) {}

  fail(problem: string): never {
    throw inputError(`lexicon ${this.source}: ${problem}`);
  }

  /** ` ("homem")` when the entry has a readable name, for messages. */
  label(item: unknown, key: string): string {
    if (item !== null && typeof item === 'object' && typeof (item as Record<string, unknown>)[key] === 'string') {
      return ` ("${(item as Record<string, unknown>)[key] as string}")`;
    }
    return '';
  }

  object(value: unknown, where: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      this.fail(`${where} must be an object, got ${kindOf(value)}`);
    return value as Record<string, unknown>;
  }

  field(o: Record<string, unknown>, key: string, where: string): unknown {
    if (o[key] === undefined) this.fail(`${where} has no "${key}" field`);
    return o[key];
  }

  list(o: Record<string, unknown>, key: string): unknown[] {
    const value = this.field(o, key, 'the top level');
    if (!Array.isArray(value)) this.fail(`${key} must be a list, got ${kindOf(value)}`);
    if (value.length === 0) this.fail(`${key} is an empty list`);
    return value;
  }

  /** A non-empty string, lower-cased and trimmed, possibly of several words. */
  phrase(value: unknown, where: string): string[] {
    if (typeof value !== 'string') this.fail(`${where} must be a string, got ${kindOf(value)}`);
    const words = lower(value)
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    if (words.length === 0) this.fail(`${where} is an empty string`);
    return words;
  }

  /** One word: a non-empty string without spaces. */
  word(value: unknown, where: string): string {
    const words = this.phrase(value, where);
    if (words.length !== 1) this.fail(`${where} must be a single word, got "${words.join(' ')}"`);
    return words[0];
  }

  words(value: unknown, where: string): string[] {
    if (!Array.isArray(value)) this.fail(`${where} must be a list of strings, got ${kindOf(value)}`);
    if (value.length === 0) this.fail(`${where} is an empty list`);
    return value.map((w, i) => this.word(w, `${where}[${i}]`));
  }

  gender(value: unknown, where: string): Gender {
    if (value !== 'm' && value !== 'f') this.fail(`${where} must be "m" or "f", got ${JSON.stringify(value)}`);
    return value;
  }

  numberForms(value: unknown, where: string): NumberForms {
    const o = this.object(value, where);
    if (o.sg === undefined) this.fail(`${where} has no singular ("sg")`);
    if (o.pl === undefined) this.fail(`${where} has no plural ("pl")`);
    return { sg: this.word(o.sg, `${where}.sg`), pl: this.word(o.pl, `${where}.pl`) };
  }

  genders(value: unknown, where: string): Record<Gender, NumberForms> {
    const o = this.object(value, where);
    return {
      m: this.numberForms(this.field(o, 'm', where), `${where}.m`),
      f: this.numberForms(this.field(o, 'f', where), `${where}.f`),
    };
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `a ${typeof value}`;
}
