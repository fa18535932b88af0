import { describe, expect, it } from 'vitest';
import { featsString, type Word } from '../../../src/data/conllu.js';
import { extractItems } from '../../../src/tasks/agreement-ud/extract.js';
import { NonceVocabulary, isReplaceable, nonceTwins } from '../../../src/tasks/agreement-ud/nonce.js';
import { readTreebanks, shippedTreebanks } from '../../../src/tasks/agreement-ud/treebanks.js';
import { conllu, HAND_CONLLU, handTreebank } from './fixtures.js';

const NOUN_MP = 'Gender=Masc|Number=Plur';
const NOUN_FP = 'Gender=Fem|Number=Plur';
const IMP_S = 'Mood=Ind|Number=Sing|Person=3|Tense=Imp|VerbForm=Fin';

// Words for the vocabulary: each class with several forms, each form twice (minCount 2).
const VOCAB = conllu(
  [
    ['perucas', 'peruca', 'NOUN', NOUN_FP],
    ['cadeiras', 'cadeira', 'NOUN', NOUN_FP],
    ['janelas', 'janela', 'NOUN', NOUN_FP],
    ['livros', 'livro', 'NOUN', NOUN_MP],
    ['usava', 'usar', 'VERB', IMP_S],
    ['comia', 'comer', 'VERB', IMP_S],
    ['lia', 'ler', 'VERB', IMP_S],
    ['homem', 'homem', 'NOUN', 'Gender=Masc|Number=Sing'],
    ['cão', 'cão', 'NOUN', 'Gender=Masc|Number=Sing'],
    ['rapidamente', 'rapidamente', 'ADV', '_'],
    ['lentamente', 'lentamente', 'ADV', '_'],
    ['ontem', 'ontem', 'ADV', '_'],
    ['hoje', 'hoje', 'ADV', '_'],
  ].flatMap(([form, lemma, upos, feats], i) =>
    [1, 2].flatMap((k) => [`# sent_id = v${i}-${k}`, `1 ${form} ${lemma} ${upos} _ ${feats} 0 root _ _`, '']),
  ),
);

describe('nonce twins', () => {
  const tb = handTreebank(HAND_CONLLU + VOCAB);
  const ex = extractItems([tb]);
  const vocabulary = new NonceVocabulary(tb.sentences, 2);
  const index = ex.items.findIndex((i) => i.id === 'hand/d1-1/7'); // o homem que usava as perucas entrou
  const item = ex.items[index];
  const source = ex.sources[index];
  const twins = nonceTwins(item, source, vocabulary, { variants: 5, seed: 7 });

  it('keeps every class of the vocabulary whose forms were seen twice', () => {
    const word = (upos: string, feats: Record<string, string>, form = 'x'): Word => ({
      id: 1,
      form,
      lemma: 'x',
      upos,
      xpos: '_',
      feats,
      head: 0,
      deprel: 'root',
      deps: '_',
      misc: '_',
    });
    const femPlur = word('NOUN', { Gender: 'Fem', Number: 'Plur' });
    expect(vocabulary.formsLike(femPlur)).toEqual(['cadeiras', 'janelas', 'perucas']);
    expect(vocabulary.formsLike(word('ADV', {}, 'bem'))).toEqual(['lentamente', 'rapidamente']);
    // the hand sentences' words are seen once each: not in the vocabulary unless listed above
    expect(vocabulary.formsLike(word('NOUN', { Gender: 'Masc', Number: 'Plur' }))).toEqual(['livros']);
  });

  it('makes N twins with their own ids, the pair and everything but the prefix unchanged', () => {
    expect(twins).toHaveLength(5);
    twins.forEach((t, k) => {
      expect(t).toEqual({ ...item, id: `${item.id}~n${k + 1}`, prefix: t.prefix, variant: k + 1, twinOf: item.id });
      expect(t.prefix).toHaveLength(item.prefix.length);
    });
  });

  it('replaces content words by words of the same UPOS and features, and nothing else', () => {
    const words = source.sentence.words; // prefix tokens 0..5 are words 1..6 (no multiword token before the verb)
    const seenClass = new Map<string, Set<string>>();
    for (const s of tb.sentences) {
      for (const w of s.words) {
        const forms = seenClass.get(w.form.toLowerCase()) ?? new Set();
        forms.add(`${w.upos} ${featsString(w.feats)}`);
        seenClass.set(w.form.toLowerCase(), forms);
      }
    }
    let replaced = 0;
    for (const t of twins) {
      t.prefix.forEach((token, i) => {
        const original = words[i];
        if (token === item.prefix[i]) return;
        replaced++;
        expect(isReplaceable(original)).toBe(true);
        expect(i).not.toBe(item.subjectIndex);
        expect(seenClass.get(token)).toContain(`${original.upos} ${featsString(original.feats)}`);
      });
      // o, homem (the subject), que, as: kept; usava and perucas: always replaced (other forms exist)
      expect([t.prefix[0], t.prefix[1], t.prefix[2], t.prefix[4]]).toEqual(['o', 'homem', 'que', 'as']);
      expect(t.prefix[3]).not.toBe('usava');
      expect(['comia', 'lia']).toContain(t.prefix[3]);
      expect(['cadeiras', 'janelas']).toContain(t.prefix[5]);
    }
    expect(replaced).toBe(10);
  });

  it('is seeded: the same seed gives the same twins, another seed others', () => {
    expect(nonceTwins(item, source, vocabulary, { variants: 5, seed: 7 })).toEqual(twins);
    const others = Array.from({ length: 4 }, (_, s) => nonceTwins(item, source, vocabulary, { variants: 5, seed: s }));
    const prefixes = (ts: typeof twins) => JSON.stringify(ts.map((t) => t.prefix));
    expect(others.some((o) => prefixes(o) !== prefixes(twins))).toBe(true);
  });

  it('leaves words inside multiword tokens and closed-class adverbs alone', () => {
    const i = ex.items.findIndex((it) => it.id === 'hand/d2-2/6'); // o preço das casas foi
    const [twin] = nonceTwins(ex.items[i], ex.sources[i], vocabulary, { variants: 1, seed: 1 });
    expect(twin.prefix.slice(0, 3)).toEqual(['o', 'preço', 'das']);
    const j = ex.items.findIndex((it) => it.id === 'hand/d3-3/10'); // … juízes , ontem , também
    const [twin2] = nonceTwins(ex.items[j], ex.sources[j], vocabulary, { variants: 1, seed: 1 });
    expect(twin2.prefix).toEqual(ex.items[j].prefix.map((t) => (t === 'disse' ? twin2.prefix[1] : t)));
  });
});

describe('nonce twins of real items (the shipped Porttinari treebank)', () => {
  it('replace words only by words of the same UPOS and FEATS, leaving the subject, the pair and function words', () => {
    const tb = readTreebanks(shippedTreebanks().filter((f) => f.includes('porttinari')));
    const ex = extractItems(tb);
    const vocabulary = new NonceVocabulary(tb[0].sentences, 2);
    const classesOf = new Map<string, Set<string>>();
    for (const s of tb[0].sentences) {
      for (const w of s.words) {
        const key = w.form.toLowerCase();
        if (!classesOf.has(key)) classesOf.set(key, new Set());
        classesOf.get(key)!.add(`${w.upos} ${featsString(w.feats)}`);
      }
    }
    let replaced = 0;
    const wrong: string[] = [];
    ex.items.forEach((item, i) => {
      const source = ex.sources[i];
      const words = new Map<number, Word>(); // prefix token index → its word, for single-word tokens
      let t = 0;
      for (let id = 1; t < item.prefix.length; id++, t++) {
        const mwt = source.sentence.multiwordTokens.find((m) => m.first === id);
        if (mwt !== undefined) id = mwt.last;
        else words.set(t, source.sentence.words[id - 1]);
      }
      for (const twin of nonceTwins(item, source, vocabulary, { variants: 2, seed: 1 })) {
        expect([twin.correct, twin.wrong]).toEqual([item.correct, item.wrong]);
        twin.prefix.forEach((token, k) => {
          if (token === item.prefix[k]) return;
          replaced++;
          const w = words.get(k);
          const cls = w === undefined ? '' : `${w.upos} ${featsString(w.feats)}`;
          const ok = w !== undefined && k !== item.subjectIndex && isReplaceable(w) && classesOf.get(token)?.has(cls);
          if (!ok) wrong.push(`${item.id} ${k}: ${item.prefix[k]} → ${token}`);
        });
      }
    });
    expect(ex.items.length).toBeGreaterThan(300);
    expect(replaced).toBeGreaterThan(ex.items.length); // more than one replacement per twin on average
    expect(wrong).toEqual([]);
  });
});
