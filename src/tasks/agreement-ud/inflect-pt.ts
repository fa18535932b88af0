/**
 * Third-person singular ↔ plural of a Portuguese finite verb form, by rule: the fallback for
 * the wrong form of an agreement item when the treebanks' own (lemma, features) → form table
 * has no entry. Written from the grammar (regular -ar/-er/-ir paradigms and the usual
 * irregulars); a form the rules cannot change with certainty gives null.
 *
 * Cells are the treebanks' Mood and Tense (the UD features): Ind.Pres, Ind.Past (pretérito
 * perfeito), Ind.Imp, Ind.Pqp (mais-que-perfeito), Ind.Fut, Cnd, Sub.Pres, Sub.Imp, Sub.Fut,
 * Imp (the 3rd-person imperative, which is Sub.Pres's form). In all but two cells the plural is
 * the singular with -m (or á → ão in the future):
 *
 *   Ind.Imp   falava / falavam, era / eram, tinha / tinham     Cnd      falaria / falariam
 *   Ind.Pqp   falara / falaram, fora / foram                   Sub.Imp  falasse / falassem
 *   Ind.Fut   falará / falarão, será / serão                   Sub.Fut  falar / falarem, for / forem
 *   Sub.Pres  fale / falem, coma / comam (but dê / deem, vá / vão)
 *
 * The present and the perfeito indicative are where the verbs differ; `PRESENT` and `PERFEITO`
 * below hold their classes, the most specific first. A class matches a lemma (by its ending or
 * exactly) and, for a form of one number, says how the other number is made. Classes marked
 * `only` claim their lemmas: a form that does not fit them gives null rather than falling
 * through to the general -ar/-er/-ir rule (fazer's present is always faz, never "faze").
 */

export type VerbNumber = 'Sing' | 'Plur';

export interface Cell {
  mood: string;
  tense: string | null;
}

/** A class of verbs: a lemma pattern and the ending pairs [sg, pl] that replace each other. */
interface Paradigm {
  lemma: RegExp;
  /** Tried in order; the first pair decides the form made (later pairs read other spellings). */
  endings: readonly (readonly [string, string])[];
  /** Lemmas matching `lemma` belong to this class alone: no fall-through. */
  only?: boolean;
  /** The form minus its ending must be the lemma minus this (the perfeito's regularity check). */
  stemOf?: string;
}

// compounds of ter and vir (not meter, servir: regular)
const TER = 'manter|obter|conter|deter|reter|entreter|abster|ater|suster';
const VIR = 'provir|intervir|convir|advir|sobrevir|desavir';

// Present indicative. "vêem", "lêem", "dêem": the spelling before the 1990 orthographic agreement
// (Bosque's news of the 1990s), read but not made.
const PRESENT: readonly Paradigm[] = [
  { lemma: /^ser$/, endings: [['é', 'são']], only: true },
  { lemma: /^estar$/, endings: [['está', 'estão']], only: true },
  { lemma: /^haver$/, endings: [['há', 'hão']], only: true },
  { lemma: /^ir$/, endings: [['vai', 'vão']], only: true },
  { lemma: /^dar$/, endings: [['dá', 'dão']], only: true },
  { lemma: /^(re)?querer$/, endings: [['quer', 'querem']], only: true },
  { lemma: /^(sor)?rir$/, endings: [['ri', 'riem']], only: true },
  { lemma: /^(re)?(cons|des)truir$/, endings: [['ói', 'oem']], only: true }, // constrói / constroem
  { lemma: /^(ter|vir)$/, endings: [['em', 'êm']], only: true }, // tem / têm, vem / vêm
  { lemma: new RegExp(`^(${TER}|${VIR})$`), endings: [['ém', 'êm']], only: true }, // mantém / mantêm
  // ver, ler, crer and compounds (not prover, which is regular: provê / proveem … but dever, valer)
  {
    lemma: /^(ver|prever|rever|antever|ler|reler|crer|descrer)$/,
    endings: [
      ['ê', 'eem'],
      ['ê', 'êem'],
    ],
    only: true,
  },
  { lemma: /(zer|zir)$/, endings: [['z', 'zem']], only: true }, // faz / fazem, produz / produzem
  { lemma: /[^gq]uir$/, endings: [['ui', 'uem']], only: true }, // possui / possuem (seguir: general)
  { lemma: /air$/, endings: [['ai', 'aem']], only: true }, // sai / saem, atrai / atraem
  { lemma: /oer$/, endings: [['ói', 'oem']], only: true }, // dói / doem
  { lemma: /p[oô]r$/, endings: [['õe', 'õem']], only: true }, // põe / põem, propõe / propõem
  { lemma: /ar$/, endings: [['a', 'am']], only: true },
  { lemma: /[ei]r$/, endings: [['e', 'em']], only: true },
];

// Pretérito perfeito indicative.
const PERFEITO: readonly Paradigm[] = [
  { lemma: /^(ser|ir)$/, endings: [['foi', 'foram']], only: true },
  { lemma: /^estar$/, endings: [['esteve', 'estiveram']], only: true },
  { lemma: /^dar$/, endings: [['deu', 'deram']], only: true },
  { lemma: /^poder$/, endings: [['pôde', 'puderam']], only: true },
  { lemma: /^querer$/, endings: [['quis', 'quiseram']], only: true },
  { lemma: /^saber$/, endings: [['soube', 'souberam']], only: true },
  { lemma: /^caber$/, endings: [['coube', 'couberam']], only: true },
  { lemma: /^haver$/, endings: [['houve', 'houveram']], only: true },
  { lemma: /^trazer$/, endings: [['trouxe', 'trouxeram']], only: true },
  { lemma: /^(pre|re|ante)?ver$/, endings: [['viu', 'viram']], only: true },
  { lemma: /dizer$/, endings: [['disse', 'disseram']], only: true }, // and contradizer, predizer
  { lemma: /fazer$/, endings: [['fez', 'fizeram']], only: true }, // and desfazer, satisfazer
  { lemma: /p[oô]r$/, endings: [['pôs', 'puseram']], only: true }, // and compor, propor
  { lemma: new RegExp(`^(ter|${TER})$`), endings: [['teve', 'tiveram']], only: true },
  { lemma: new RegExp(`^(vir|${VIR})$`), endings: [['veio', 'vieram']], only: true },
  // vowel + ir: the plural's i takes an accent (saiu / saíram, incluiu / incluíram; seguiu / seguiram)
  { lemma: /([aeo]|[^gq]u)ir$/, endings: [['iu', 'íram']], only: true, stemOf: 'ir' },
  { lemma: /ar$/, endings: [['ou', 'aram']], only: true, stemOf: 'ar' },
  { lemma: /er$/, endings: [['eu', 'eram']], only: true, stemOf: 'er' },
  { lemma: /ir$/, endings: [['iu', 'iram']], only: true, stemOf: 'ir' },
];

// Cells where the plural is the singular plus a fixed ending (see the module comment).
const ANY = /./;
const REGULAR_CELLS: Readonly<Record<string, readonly Paradigm[]>> = {
  'Ind.Imp': [{ lemma: ANY, endings: [['a', 'am']] }],
  'Ind.Pqp': [{ lemma: ANY, endings: [['ra', 'ram']] }],
  'Ind.Fut': [{ lemma: ANY, endings: [['á', 'ão']] }],
  Cnd: [{ lemma: ANY, endings: [['ia', 'iam']] }],
  'Sub.Imp': [{ lemma: ANY, endings: [['sse', 'ssem']] }],
  'Sub.Fut': [{ lemma: ANY, endings: [['r', 'rem']] }],
  'Sub.Pres': [
    {
      lemma: /^dar$/,
      endings: [
        ['dê', 'deem'],
        ['dê', 'dêem'],
      ],
      only: true,
    },
    { lemma: /^ir$/, endings: [['vá', 'vão']], only: true },
    {
      lemma: ANY,
      endings: [
        ['a', 'am'],
        ['e', 'em'],
      ],
    },
  ],
};

/**
 * The cell name of a finite verb's Mood and Tense, or null for a combination the rules do not
 * know. Sub with Tense=Past is read as Sub.Imp (some treebanks tag the imperfect subjunctive so);
 * an indicative without Tense as Ind.Past (Bosque leaves Tense off the 3pl in -ram, which
 * is a perfeito or a mais-que-perfeito: the perfeito is by far the more frequent; see
 * docs/agreement-items.md).
 */
export function cellName(cell: Cell): string | null {
  const { mood, tense } = cell;
  if (mood === 'Cnd') return 'Cnd';
  if (mood === 'Imp') return 'Sub.Pres';
  if (mood === 'Sub' && tense === 'Past') return 'Sub.Imp';
  if (mood === 'Ind' && tense === null) return 'Ind.Past';
  const name = `${mood}.${tense}`;
  return name === 'Ind.Pres' || name === 'Ind.Past' || name in REGULAR_CELLS ? name : null;
}

function paradigmsOf(name: string): readonly Paradigm[] {
  if (name === 'Ind.Pres') return PRESENT;
  if (name === 'Ind.Past') return PERFEITO;
  return REGULAR_CELLS[name] ?? [];
}

/**
 * The 3rd-person form of the other number: `form` is the lemma's form in `cell` with number
 * `from` (lower-case). Null when the rules cannot tell with certainty.
 */
export function otherNumberPt(lemma: string, cell: Cell, form: string, from: VerbNumber): string | null {
  const name = cellName(cell);
  if (name === null) return null;
  // a tenseless indicative is only read as a perfeito when it looks like the plural of one
  if (cell.mood === 'Ind' && cell.tense === null && !(from === 'Plur' && form.endsWith('ram'))) return null;
  const lem = lemma.toLowerCase();
  for (const p of paradigmsOf(name)) {
    if (!p.lemma.test(lem)) continue;
    for (const [sg, pl] of p.endings) {
      const [have, want] = from === 'Sing' ? [sg, pl] : [pl, sg];
      if (!form.endsWith(have)) continue;
      const stem = form.slice(0, form.length - have.length);
      if (p.stemOf !== undefined && stem !== lem.slice(0, lem.length - p.stemOf.length)) continue;
      return stem + want;
    }
    if (p.only) return null;
  }
  return null;
}
