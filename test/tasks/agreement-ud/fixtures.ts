import { parseConllu } from '../../../src/data/conllu.js';
import type { AgreementItem } from '../../../src/tasks/agreement-ud/items.js';
import type { Treebank } from '../../../src/tasks/agreement-ud/treebanks.js';

/** CoNLL-U from rows of space-separated columns (tabs in the text). */
export const conllu = (rows: string[]) =>
  `${rows.map((r) => (r.startsWith('#') || r === '' ? r : r.split(/ +/).join('\t'))).join('\n')}\n`;

const DEF_MS = 'Definite=Def|Gender=Masc|Number=Sing|PronType=Art';
const DEF_MP = 'Definite=Def|Gender=Masc|Number=Plur|PronType=Art';
const DEF_FS = 'Definite=Def|Gender=Fem|Number=Sing|PronType=Art';
const DEF_FP = 'Definite=Def|Gender=Fem|Number=Plur|PronType=Art';
const PAST_S = 'Mood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin';
const PAST_P = 'Mood=Ind|Number=Plur|Person=3|Tense=Past|VerbForm=Fin';
const IMP_S = 'Mood=Ind|Number=Sing|Person=3|Tense=Imp|VerbForm=Fin';

/**
 * Hand-written sentences, each made for one case of the extraction:
 *   s1  a relative clause between subject and verb, with an attractor (perucas)
 *   s2  a coordinated subject (left out)
 *   s3  verb–subject order (left out)
 *   s4  a contraction in the prefix ("das" = de + as) and a passive auxiliary
 *   s5  a verb written with its clitic ("tornou-se"): kept
 *   s6  a verb whose clitic changes with it ("fê-lo" = fez + o): left out
 *   s7  a pronoun subject (left out); a noun subject, then an adverb between commas
 */
export const HAND_CONLLU = conllu([
  '# newdoc id = d1',
  '# sent_id = d1-1',
  '# text = O homem que usava as perucas entrou no bar.',
  `1 O o DET _ ${DEF_MS} 2 det _ _`,
  '2 homem homem NOUN _ Gender=Masc|Number=Sing 7 nsubj _ _',
  '3 que que PRON _ PronType=Rel 4 nsubj _ _',
  `4 usava usar VERB _ ${IMP_S} 2 acl:relcl _ _`,
  `5 as o DET _ ${DEF_FP} 6 det _ _`,
  '6 perucas peruca NOUN _ Gender=Fem|Number=Plur 4 obj _ _',
  `7 entrou entrar VERB _ ${PAST_S} 0 root _ _`,
  '8-9 no _ _ _ _ _ _ _ _',
  '8 em em ADP _ _ 10 case _ _',
  `9 o o DET _ ${DEF_MS} 10 det _ _`,
  '10 bar bar NOUN _ Gender=Masc|Number=Sing 7 obl _ SpaceAfter=No',
  '11 . . PUNCT _ _ 7 punct _ _',
  '',
  '# sent_id = d1-2',
  '# text = O pai e a mãe chegaram.',
  `1 O o DET _ ${DEF_MS} 2 det _ _`,
  '2 pai pai NOUN _ Gender=Masc|Number=Sing 6 nsubj _ _',
  '3 e e CCONJ _ _ 5 cc _ _',
  `4 a o DET _ ${DEF_FS} 5 det _ _`,
  '5 mãe mãe NOUN _ Gender=Fem|Number=Sing 2 conj _ _',
  `6 chegaram chegar VERB _ ${PAST_P} 0 root _ SpaceAfter=No`,
  '7 . . PUNCT _ _ 6 punct _ _',
  '',
  '# newdoc id = d2',
  '# sent_id = d2-1',
  '# text = Chegaram os homens.',
  `1 Chegaram chegar VERB _ ${PAST_P} 0 root _ _`,
  `2 os o DET _ ${DEF_MP} 3 det _ _`,
  '3 homens homem NOUN _ Gender=Masc|Number=Plur 1 nsubj _ SpaceAfter=No',
  '4 . . PUNCT _ _ 1 punct _ _',
  '',
  '# sent_id = d2-2',
  '# text = O preço das casas foi fixado.',
  `1 O o DET _ ${DEF_MS} 2 det _ _`,
  '2 preço preço NOUN _ Gender=Masc|Number=Sing 7 nsubj:pass _ _',
  '3-4 das _ _ _ _ _ _ _ _',
  '3 de de ADP _ _ 5 case _ _',
  `4 as o DET _ ${DEF_FP} 5 det _ _`,
  '5 casas casa NOUN _ Gender=Fem|Number=Plur 2 nmod _ _',
  `6 foi ser AUX _ ${PAST_S} 7 aux:pass _ _`,
  '7 fixado fixar VERB _ Gender=Masc|Number=Sing|VerbForm=Part|Voice=Pass 0 root _ SpaceAfter=No',
  '8 . . PUNCT _ _ 7 punct _ _',
  '',
  '# newdoc id = d3',
  '# sent_id = d3-1',
  '# text = A empresa tornou-se líder.',
  `1 A o DET _ ${DEF_FS} 2 det _ _`,
  '2 empresa empresa NOUN _ Gender=Fem|Number=Sing 3 nsubj _ _',
  '3-4 tornou-se _ _ _ _ _ _ _ _',
  `3 tornou tornar VERB _ ${PAST_S} 0 root _ _`,
  '4 se se PRON _ Case=Acc|Gender=Fem|Number=Sing|Person=3|PronType=Prs 3 expl _ _',
  '5 líder líder NOUN _ Gender=Fem|Number=Sing 3 xcomp _ SpaceAfter=No',
  '6 . . PUNCT _ _ 3 punct _ _',
  '',
  '# sent_id = d3-2',
  '# text = O juiz fê-lo sair.',
  `1 O o DET _ ${DEF_MS} 2 det _ _`,
  '2 juiz juiz NOUN _ Gender=Masc|Number=Sing 3 nsubj _ _',
  '3-4 fê-lo _ _ _ _ _ _ _ _',
  `3 fez fazer VERB _ ${PAST_S} 0 root _ _`,
  '4 o o PRON _ Case=Acc|Gender=Masc|Number=Sing|Person=3|PronType=Prs 3 obj _ _',
  '5 sair sair VERB _ VerbForm=Inf 3 xcomp _ SpaceAfter=No',
  '6 . . PUNCT _ _ 3 punct _ _',
  '',
  '# sent_id = d3-3',
  '# text = Ele disse que os juízes, ontem, também saíram.',
  '1 Ele ele PRON _ Gender=Masc|Number=Sing|Person=3|PronType=Prs 2 nsubj _ _',
  `2 disse dizer VERB _ ${PAST_S} 0 root _ _`,
  '3 que que SCONJ _ _ 10 mark _ _',
  `4 os o DET _ ${DEF_MP} 5 det _ _`,
  '5 juízes juiz NOUN _ Gender=Masc|Number=Plur 10 nsubj _ SpaceAfter=No',
  '6 , , PUNCT _ _ 7 punct _ _',
  '7 ontem ontem ADV _ _ 10 advmod _ SpaceAfter=No',
  '8 , , PUNCT _ _ 7 punct _ _',
  '9 também também ADV _ _ 10 advmod _ _',
  `10 saíram sair VERB _ ${PAST_P} 2 ccomp _ SpaceAfter=No`,
  '11 . . PUNCT _ _ 2 punct _ _',
  '',
]);

export function handTreebank(text = HAND_CONLLU, name = 'hand'): Treebank {
  return { name, path: `${name}.conllu`, sentences: parseConllu(text, `${name}.conllu`) };
}

/** An item with the four required fields and the descriptive ones this test sets. */
export function item(id: string, prefix: string[], correct: string, wrong: string, more: Partial<AgreementItem> = {}) {
  const out: AgreementItem = {
    id,
    prefix,
    correct,
    wrong,
    number: null,
    subjectIndex: null,
    distance: null,
    attractors: null,
    constructions: [],
    verbRole: null,
    lemma: null,
    cell: null,
    wrongSource: null,
    treebank: null,
    sentId: null,
    docId: null,
    variant: 0,
    twinOf: null,
    ...more,
  };
  return out;
}

/**
 * A small treebank of `n` one-sentence documents, singular and plural in turn, so that both
 * verb forms are words of an LM trained on it: "O homem N entrou ." / "Os homens N entraram ."
 * (N = 0, 1, 2 in turn), every third with an adjective after the noun ("O homem grande 0 entrou .":
 * distance 2); after the verb, the document's number ("n7").
 */
export function numberDocs(n: number): string {
  const rows: string[] = [];
  for (let d = 0; d < n; d++) {
    const pl = d % 2 === 1;
    const adj = d % 3 === 0;
    const num = pl ? 'Plur' : 'Sing';
    const verb = adj ? 5 : 4;
    rows.push(`# newdoc id = n${d}`, `# sent_id = n${d}-1`);
    rows.push(`1 ${pl ? 'Os' : 'O'} o DET _ Definite=Def|Gender=Masc|Number=${num}|PronType=Art 2 det _ _`);
    rows.push(`2 ${pl ? 'homens' : 'homem'} homem NOUN _ Gender=Masc|Number=${num} ${verb} nsubj _ _`);
    if (adj) rows.push(`3 ${pl ? 'grandes' : 'grande'} grande ADJ _ Number=${num} 2 amod _ _`);
    rows.push(`${verb - 1} ${d % 3} ${d % 3} NUM _ NumType=Card 2 nummod _ _`);
    rows.push(
      `${verb} ${pl ? 'entraram' : 'entrou'} entrar VERB _ ` +
        `Mood=Ind|Number=${num}|Person=3|Tense=Past|VerbForm=Fin 0 root _ _`,
    );
    // the document's own number after the verb keeps every sentence distinct (the corpus drops the train
    // copies of test sentences)
    rows.push(`${verb + 1} n${d} n${d} NUM _ NumType=Card ${verb} obl _ _`);
    rows.push(`${verb + 2} . . PUNCT _ _ ${verb} punct _ _`, '');
  }
  return conllu(rows);
}
