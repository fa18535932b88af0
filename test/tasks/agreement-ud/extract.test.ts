import { describe, expect, it } from 'vitest';
import { parseConllu } from '../../../src/data/conllu.js';
import { DROP_REASONS, extractItems } from '../../../src/tasks/agreement-ud/extract.js';
import { FormTable } from '../../../src/tasks/agreement-ud/forms.js';
import type { AgreementItem } from '../../../src/tasks/agreement-ud/items.js';
import { SeqlabError } from '../../../src/util/errors.js';
import { conllu, handTreebank } from './fixtures.js';

const ORIGIN = { variant: 0, twinOf: null, treebank: 'hand' } as const;

describe('extractItems on hand-written sentences', () => {
  const ex = extractItems([handTreebank()]);

  it('finds exactly the expected items', () => {
    const expected: AgreementItem[] = [
      {
        id: 'hand/d1-1/7',
        prefix: ['o', 'homem', 'que', 'usava', 'as', 'perucas'],
        correct: 'entrou',
        wrong: 'entraram',
        number: 'sg',
        subjectIndex: 1,
        distance: 4,
        attractors: 1,
        constructions: ['relcl'],
        verbRole: 'main',
        lemma: 'entrar',
        cell: 'Ind.Past',
        wrongSource: 'rule',
        sentId: 'd1-1',
        docId: 'd1',
        ...ORIGIN,
      },
      {
        id: 'hand/d2-2/6',
        prefix: ['o', 'preço', 'das', 'casas'], // "das" = de + as: one token, as written
        correct: 'foi',
        wrong: 'foram',
        number: 'sg',
        subjectIndex: 1,
        distance: 2,
        attractors: 1,
        constructions: ['nmod'],
        verbRole: 'aux:pass',
        lemma: 'ser',
        cell: 'Ind.Past',
        wrongSource: 'rule',
        sentId: 'd2-2',
        docId: 'd2',
        ...ORIGIN,
      },
      {
        id: 'hand/d3-1/3',
        prefix: ['a', 'empresa'],
        correct: 'tornou-se',
        wrong: 'tornaram-se',
        number: 'sg',
        subjectIndex: 1,
        distance: 0,
        attractors: 0,
        constructions: ['adjacent'],
        verbRole: 'main',
        lemma: 'tornar',
        cell: 'Ind.Past',
        wrongSource: 'rule',
        sentId: 'd3-1',
        docId: 'd3',
        ...ORIGIN,
      },
      {
        id: 'hand/d3-3/10',
        prefix: ['ele', 'disse', 'que', 'os', 'juízes', ',', 'ontem', ',', 'também'],
        correct: 'saíram',
        wrong: 'saiu',
        number: 'pl',
        subjectIndex: 4,
        distance: 4,
        attractors: 0,
        constructions: ['advmod', 'parenthetical'],
        verbRole: 'main',
        lemma: 'sair',
        cell: 'Ind.Past',
        wrongSource: 'rule',
        sentId: 'd3-3',
        docId: 'd3',
        ...ORIGIN,
      },
    ];
    expect(ex.items).toEqual(expected);
  });

  it('counts every left-out subject under its reason', () => {
    expect(ex.candidates).toBe(9);
    const nonZero = Object.fromEntries(Object.entries(ex.dropped).filter(([, n]) => n > 0));
    expect(nonZero).toEqual({
      'subject-pronoun': 2, // que (s1), Ele (s7)
      'coordinated-subject': 1, // o pai e a mãe
      'verb-before-subject': 1, // chegaram os homens
      'verb-in-multiword-token': 1, // fê-lo
    });
    expect(Object.keys(ex.dropped)).toEqual([...DROP_REASONS]);
    expect(ex.items.length + Object.values(ex.dropped).reduce((a, b) => a + b, 0)).toBe(ex.candidates);
    expect(ex.wrongSources).toEqual({ rule: 4 });
  });

  it('keeps case when asked, the wrong form following the correct one', () => {
    const cased = extractItems([handTreebank()], { lowercase: false });
    expect(cased.items[0].prefix.slice(0, 2)).toEqual(['O', 'homem']);
    const upper = handTreebank(
      conllu([
        '# sent_id = u1',
        '1 OS o DET _ Definite=Def|Gender=Masc|Number=Plur|PronType=Art 2 det _ _',
        '2 HOMENS homem NOUN _ Gender=Masc|Number=Plur 3 nsubj _ _',
        '3 ENTRARAM entrar VERB _ Mood=Ind|Number=Plur|Person=3|Tense=Past|VerbForm=Fin 0 root _ _',
      ]),
    );
    const [cap] = extractItems([upper], { lowercase: false }).items;
    expect(cap).toMatchObject({ correct: 'ENTRARAM', wrong: 'ENTROU' });
    expect(extractItems([upper]).items[0]).toMatchObject({ correct: 'entraram', wrong: 'entrou' });
  });

  it("takes the wrong form from the treebanks' table first", () => {
    const table = new FormTable();
    table.add('entrar', { Mood: 'Ind', Tense: 'Past', Person: '3', Number: 'Plur', VerbForm: 'Fin' }, 'Entraram');
    const items = extractItems([handTreebank()], {}, table).items;
    expect(items[0]).toMatchObject({ wrong: 'entraram', wrongSource: 'table' });
    expect(items.slice(1).map((i) => i.wrongSource)).toEqual(['rule', 'rule', 'rule']);
  });

  it('drops an item whose table form and rule form differ in more than accents', () => {
    const table = new FormTable();
    // an annotation slip: a present tagged as a perfeito
    table.add('entrar', { Mood: 'Ind', Tense: 'Past', Person: '3', Number: 'Plur', VerbForm: 'Fin' }, 'entram');
    const ex2 = extractItems([handTreebank()], {}, table);
    expect(ex2.items.map((i) => i.id)).not.toContain('hand/d1-1/7');
    expect(ex2.dropped['forms-disagree']).toBe(1);
  });

  it('with no rule fallback, drops what the table cannot inflect', () => {
    const ex2 = extractItems([handTreebank()], { rules: null });
    expect(ex2.items).toEqual([]);
    expect(ex2.dropped['no-wrong-form']).toBe(4);
  });

  it('rejects a treebank without Number features', () => {
    const bare = handTreebank(HAND_WITHOUT_NUMBER, 'bare');
    try {
      extractItems([bare]);
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(SeqlabError);
      expect((e as Error).message).toBe(
        'treebank bare.conllu has no Number feature on its nouns and finite verbs; agreement items need it on both',
      );
    }
  });
});

const HAND_WITHOUT_NUMBER = conllu([
  '# sent_id = b1',
  '1 O o DET _ _ 2 det _ _',
  '2 homem homem NOUN _ _ 3 nsubj _ _',
  '3 entrou entrar VERB _ VerbForm=Fin 0 root _ _',
]);

describe('extractItems on other orders and relations', () => {
  it('finds the finite copula of a nominal predicate, and reads a sentence as parsed', () => {
    const [s] = parseConllu(
      conllu([
        '# sent_id = c1',
        '1 As o DET _ Definite=Def|Gender=Fem|Number=Plur|PronType=Art 2 det _ _',
        '2 casas casa NOUN _ Gender=Fem|Number=Plur 4 nsubj _ _',
        '3 eram ser AUX _ Mood=Ind|Number=Plur|Person=3|Tense=Imp|VerbForm=Fin 4 cop _ _',
        '4 grandes grande ADJ _ Gender=Fem|Number=Plur 0 root _ _',
      ]),
      'c.conllu',
    );
    const ex = extractItems([{ name: 'c', path: 'c.conllu', sentences: [s] }]);
    expect(ex.items).toHaveLength(1);
    expect(ex.items[0]).toMatchObject({
      prefix: ['as', 'casas'],
      correct: 'eram',
      wrong: 'era',
      verbRole: 'cop',
      cell: 'Ind.Imp',
    });
  });
});
