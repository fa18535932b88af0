import { describe, expect, it } from 'vitest';
import type { Word } from '../../../src/data/conllu.js';
import { FormTable, wrongForm } from '../../../src/tasks/agreement-ud/forms.js';
import { cellName, otherNumberPt } from '../../../src/tasks/agreement-ud/inflect-pt.js';

// 3sg / 3pl pairs written from the grammar (not from the code's output): [lemma, Mood.Tense, sg, pl]
const PAIRS: [string, string, string, string][] = [
  // presente do indicativo: regular, then the irregular classes
  ['falar', 'Ind.Pres', 'fala', 'falam'],
  ['comer', 'Ind.Pres', 'come', 'comem'],
  ['partir', 'Ind.Pres', 'parte', 'partem'],
  ['subir', 'Ind.Pres', 'sobe', 'sobem'],
  ['passear', 'Ind.Pres', 'passeia', 'passeiam'],
  ['seguir', 'Ind.Pres', 'segue', 'seguem'],
  ['ser', 'Ind.Pres', 'é', 'são'],
  ['estar', 'Ind.Pres', 'está', 'estão'],
  ['ir', 'Ind.Pres', 'vai', 'vão'],
  ['dar', 'Ind.Pres', 'dá', 'dão'],
  ['haver', 'Ind.Pres', 'há', 'hão'],
  ['ter', 'Ind.Pres', 'tem', 'têm'],
  ['vir', 'Ind.Pres', 'vem', 'vêm'],
  ['manter', 'Ind.Pres', 'mantém', 'mantêm'],
  ['provir', 'Ind.Pres', 'provém', 'provêm'],
  ['meter', 'Ind.Pres', 'mete', 'metem'],
  ['servir', 'Ind.Pres', 'serve', 'servem'],
  ['ver', 'Ind.Pres', 'vê', 'veem'],
  ['prever', 'Ind.Pres', 'prevê', 'preveem'],
  ['ler', 'Ind.Pres', 'lê', 'leem'],
  ['crer', 'Ind.Pres', 'crê', 'creem'],
  ['dever', 'Ind.Pres', 'deve', 'devem'],
  ['fazer', 'Ind.Pres', 'faz', 'fazem'],
  ['dizer', 'Ind.Pres', 'diz', 'dizem'],
  ['produzir', 'Ind.Pres', 'produz', 'produzem'],
  ['querer', 'Ind.Pres', 'quer', 'querem'],
  ['possuir', 'Ind.Pres', 'possui', 'possuem'],
  ['construir', 'Ind.Pres', 'constrói', 'constroem'],
  ['sair', 'Ind.Pres', 'sai', 'saem'],
  ['doer', 'Ind.Pres', 'dói', 'doem'],
  ['pôr', 'Ind.Pres', 'põe', 'põem'],
  ['propor', 'Ind.Pres', 'propõe', 'propõem'],
  ['rir', 'Ind.Pres', 'ri', 'riem'],
  // pretérito perfeito
  ['falar', 'Ind.Past', 'falou', 'falaram'],
  ['ficar', 'Ind.Past', 'ficou', 'ficaram'],
  ['comer', 'Ind.Past', 'comeu', 'comeram'],
  ['partir', 'Ind.Past', 'partiu', 'partiram'],
  ['seguir', 'Ind.Past', 'seguiu', 'seguiram'],
  ['sair', 'Ind.Past', 'saiu', 'saíram'],
  ['incluir', 'Ind.Past', 'incluiu', 'incluíram'],
  ['ser', 'Ind.Past', 'foi', 'foram'],
  ['ir', 'Ind.Past', 'foi', 'foram'],
  ['estar', 'Ind.Past', 'esteve', 'estiveram'],
  ['ter', 'Ind.Past', 'teve', 'tiveram'],
  ['manter', 'Ind.Past', 'manteve', 'mantiveram'],
  ['fazer', 'Ind.Past', 'fez', 'fizeram'],
  ['satisfazer', 'Ind.Past', 'satisfez', 'satisfizeram'],
  ['dizer', 'Ind.Past', 'disse', 'disseram'],
  ['poder', 'Ind.Past', 'pôde', 'puderam'],
  ['pôr', 'Ind.Past', 'pôs', 'puseram'],
  ['propor', 'Ind.Past', 'propôs', 'propuseram'],
  ['querer', 'Ind.Past', 'quis', 'quiseram'],
  ['saber', 'Ind.Past', 'soube', 'souberam'],
  ['trazer', 'Ind.Past', 'trouxe', 'trouxeram'],
  ['haver', 'Ind.Past', 'houve', 'houveram'],
  ['vir', 'Ind.Past', 'veio', 'vieram'],
  ['intervir', 'Ind.Past', 'interveio', 'intervieram'],
  ['ver', 'Ind.Past', 'viu', 'viram'],
  ['dar', 'Ind.Past', 'deu', 'deram'],
  // the cells where the plural adds -m (or á → ão)
  ['falar', 'Ind.Imp', 'falava', 'falavam'],
  ['ser', 'Ind.Imp', 'era', 'eram'],
  ['ter', 'Ind.Imp', 'tinha', 'tinham'],
  ['falar', 'Ind.Pqp', 'falara', 'falaram'],
  ['ser', 'Ind.Pqp', 'fora', 'foram'],
  ['falar', 'Ind.Fut', 'falará', 'falarão'],
  ['fazer', 'Ind.Fut', 'fará', 'farão'],
  ['falar', 'Cnd', 'falaria', 'falariam'],
  ['falar', 'Sub.Pres', 'fale', 'falem'],
  ['comer', 'Sub.Pres', 'coma', 'comam'],
  ['ficar', 'Sub.Pres', 'fique', 'fiquem'],
  ['dar', 'Sub.Pres', 'dê', 'deem'],
  ['ir', 'Sub.Pres', 'vá', 'vão'],
  ['ser', 'Sub.Imp', 'fosse', 'fossem'],
  ['falar', 'Sub.Fut', 'falar', 'falarem'],
  ['ser', 'Sub.Fut', 'for', 'forem'],
];

const cellOf = (name: string) => {
  const [mood, tense] = name.split('.');
  return { mood, tense: tense ?? null };
};

describe('otherNumberPt', () => {
  it.each(PAIRS)('%s %s: %s ↔ %s', (lemma, cell, sg, pl) => {
    expect(otherNumberPt(lemma, cellOf(cell), sg, 'Sing')).toBe(pl);
    expect(otherNumberPt(lemma, cellOf(cell), pl, 'Plur')).toBe(sg);
  });

  it('reads the spelling before the 1990 agreement', () => {
    expect(otherNumberPt('ver', cellOf('Ind.Pres'), 'vêem', 'Plur')).toBe('vê');
    expect(otherNumberPt('dar', cellOf('Sub.Pres'), 'dêem', 'Plur')).toBe('dê');
  });

  it('reads a tenseless indicative plural in -ram as a perfeito (Bosque), and nothing else tenseless', () => {
    const tenseless = { mood: 'Ind', tense: null };
    expect(otherNumberPt('ficar', tenseless, 'ficaram', 'Plur')).toBe('ficou');
    expect(otherNumberPt('ser', tenseless, 'foram', 'Plur')).toBe('foi');
    expect(otherNumberPt('ficar', tenseless, 'ficou', 'Sing')).toBeNull();
    expect(cellName(tenseless)).toBe('Ind.Past');
  });

  it('gives null when a form does not fit its class, rather than guessing', () => {
    expect(otherNumberPt('fazer', cellOf('Ind.Pres'), 'faze', 'Sing')).toBeNull(); // -zer: faz
    expect(otherNumberPt('prover', cellOf('Ind.Pres'), 'provê', 'Sing')).toBeNull(); // not in the lists
    expect(otherNumberPt('ter', cellOf('Ind.Pres'), 'tinha', 'Sing')).toBeNull(); // a form of another cell
    expect(otherNumberPt('deter', cellOf('Ind.Past'), 'deteu', 'Sing')).toBeNull(); // strong: deteve
    expect(otherNumberPt('comer', cellOf('Ind.Past'), 'bebeu', 'Sing')).toBeNull(); // stem is not the lemma's
    expect(otherNumberPt('falar', cellOf('Ind.Pres'), 'falas', 'Sing')).toBeNull();
    expect(otherNumberPt('falar', { mood: 'Ind', tense: 'Xyz' }, 'fala', 'Sing')).toBeNull();
    expect(cellName({ mood: 'Sub', tense: 'Past' })).toBe('Sub.Imp');
    expect(cellName({ mood: 'Imp', tense: null })).toBe('Sub.Pres');
  });
});

const FIN: Readonly<Record<string, string>> = { Mood: 'Ind', Tense: 'Pres', Person: '3', VerbForm: 'Fin' };
const verb = (lemma: string, form: string, number: 'Sing' | 'Plur', feats = FIN): Word => ({
  id: 1,
  form,
  lemma,
  upos: 'VERB',
  xpos: '_',
  feats: { ...feats, Number: number },
  head: 0,
  deprel: 'root',
  deps: '_',
  misc: '_',
});

describe('FormTable', () => {
  it('counts forms per (lemma, Mood, Tense, Person, Number), case-folded', () => {
    const t = FormTable.build([verb('ser', 'É', 'Sing'), verb('ser', 'é', 'Sing'), verb('ser', 'são', 'Plur')]);
    expect(t.size).toBe(2);
    expect(t.lookup('ser', FIN, 'Sing')).toBe('é');
    expect(t.lookup('SER', FIN, 'Plur')).toBe('são');
    expect(t.lookup('ser', { ...FIN, Tense: 'Past' }, 'Plur')).toBeNull();
    expect(t.ambiguousKeys()).toBe(0);
  });

  it('leaves out non-finite verbs, verbs without Number and typos', () => {
    const inf = verb('ser', 'ser', 'Sing', { ...FIN, VerbForm: 'Inf' });
    const typo = verb('ser', 'sao', 'Plur', { ...FIN, Typo: 'Yes' });
    const noNumber: Word = { ...verb('ser', 'é', 'Sing'), feats: FIN };
    expect(FormTable.build([inf, typo, noNumber]).size).toBe(0);
  });

  it('resolves a key with several forms: the most frequent, ties to the first in code-unit order', () => {
    const words = [
      ...['vêem', 'vêem', 'veem'].map((f) => verb('ver', f, 'Plur')),
      ...['mantêm', 'mantem'].map((f) => verb('manter', f, 'Plur')),
    ];
    const t = FormTable.build(words);
    expect(t.lookup('ver', FIN, 'Plur')).toBe('vêem');
    // 'e' (0x65) sorts before 'ê' (0xEA), whatever order the words came in
    expect(t.lookup('manter', FIN, 'Plur')).toBe('mantem');
    expect(FormTable.build(words.slice().reverse()).lookup('manter', FIN, 'Plur')).toBe('mantem');
    expect(t.ambiguousKeys()).toBe(2);
  });
});

describe('wrongForm', () => {
  const past = { ...FIN, Tense: 'Past' };
  const table = FormTable.build([verb('ver', 'vêem', 'Plur'), verb('elogiar', 'elogiam', 'Plur', past)]);

  it('prefers the table, and takes its spelling where the rules differ only in accents', () => {
    expect(wrongForm(table, verb('ver', 'vê', 'Sing'), 'pt')).toEqual({ form: 'vêem', source: 'table' });
  });

  it('falls back to the rules, and gives up when neither knows or they disagree', () => {
    expect(wrongForm(table, verb('falar', 'Fala', 'Sing'), 'pt')).toEqual({ form: 'falam', source: 'rule' });
    expect(wrongForm(table, verb('falar', 'fala', 'Sing'), null)).toBe('no-wrong-form');
    expect(wrongForm(table, verb('prover', 'provê', 'Sing'), 'pt')).toBe('no-wrong-form');
    const elogiou = verb('elogiar', 'elogiou', 'Sing', past);
    expect(wrongForm(table, elogiou, 'pt')).toBe('forms-disagree');
    expect(wrongForm(table, elogiou, null)).toEqual({ form: 'elogiam', source: 'table' });
  });
});
