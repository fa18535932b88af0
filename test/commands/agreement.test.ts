import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agreementCorpus, agreementEval, agreementExtract } from '../../src/commands/agreement.js';
import { buildVocabulary, encodeCorpus, resolveCorpus } from '../../src/data/corpus.js';
import { KneserNeyModel } from '../../src/data/ngram.js';
import { SequenceModel, modelConfigFor } from '../../src/models/model.js';
import { RunDir } from '../../src/runlog/rundir.js';
import { formatItems, readItems } from '../../src/tasks/agreement-ud/items.js';
import { prefixIds, summarizeAccuracy, tokenLMScores } from '../../src/tasks/agreement-ud/score.js';
import { writeCheckpoint } from '../../src/training/checkpoint.js';
import { scorePairs } from '../../src/training/minimal-pairs.js';
import { loadLanguageModel } from '../../src/training/torch-checkpoint.js';
import { TRAIN_DEFAULTS } from '../../src/training/config.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { HAND_CONLLU, item, numberDocs } from '../tasks/agreement-ud/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-agreement-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('agreementExtract', () => {
  const pt = join(tmp, 'pt_hand-ud-test.conllu');
  writeFileSync(pt, HAND_CONLLU);

  it('writes the items and counts them by distance, attractors, construction, number and drop reason', () => {
    const out = join(tmp, 'hand.jsonl');
    const r = agreementExtract({ treebanks: [pt], out });
    // fixtures.ts: four of the seven subjects give items (the relative clause, the passive, tornou-se, juízes)
    expect(r.items).toBe(4);
    expect(r.rules).toBe('pt');
    expect(readItems(out)).toHaveLength(4);
    const count = (rows: { label: string; items: number }[], label: string) =>
      rows.find((x) => x.label === label)?.items;
    expect(count(r.byDistance, '0')).toBe(1); // a empresa tornou-se
    expect(count(r.byDistance, '2')).toBe(1); // o preço [das casas] foi
    // o homem [que usava as perucas] entrou; os juízes [, ontem , também] saíram
    expect(count(r.byDistance, '3–4')).toBe(2);
    expect(count(r.byAttractors, '1')).toBe(2); // perucas; casas
    expect(count(r.byConstruction, 'relcl')).toBe(1);
    expect(count(r.byNumber, 'pl')).toBe(1);
    expect(count(r.dropped, 'coordinated-subject')).toBe(1);
    expect(count(r.dropped, 'verb-before-subject')).toBe(1);
    expect(count(r.dropped, 'subject-pronoun')).toBe(2); // ele; the relative que
    expect(count(r.dropped, 'verb-in-multiword-token')).toBe(1);
    expect(r.treebanks).toEqual([{ name: 'pt_hand', path: pt, sentences: 7, words: expect.any(Number) }]);
  });

  it('uses the Portuguese rules only for pt_* treebanks: elsewhere the treebank’s own forms alone', () => {
    const other = join(tmp, 'xx_hand-ud-test.conllu');
    writeFileSync(other, HAND_CONLLU);
    const r = agreementExtract({ treebanks: [other] });
    expect(r.rules).toBeNull();
    // no verb of the hand-written text appears in both numbers: nothing to take the wrong form from
    expect(r.items).toBe(0);
    expect(r.dropped.find((d) => d.label === 'no-wrong-form')?.items).toBe(4);
    expect(agreementExtract({ treebanks: [other], rules: 'pt' }).items).toBe(4);
  });

  it('refuses a treebank without Number on its nouns and finite verbs', () => {
    const bare = join(tmp, 'bare.conllu');
    writeFileSync(bare, HAND_CONLLU.replace(/Number=(Sing|Plur)/g, 'NumType=Card'));
    expect(() => agreementExtract({ treebanks: [bare] })).toThrow(
      /has no Number feature on its nouns and finite verbs/,
    );
  });
});

/** A toy LM corpus directory: "o cão corre" three times for every "os cães correm". */
function toyCorpus(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const train = ['o cão corre', 'os cães correm', 'o cão corre', 'o cão que viu os cães corre', 'o cão corre'];
  writeFileSync(join(dir, 'train.txt'), `${train.join('\n')}\n`);
  writeFileSync(join(dir, 'valid.txt'), 'o cão corre\n');
  writeFileSync(join(dir, 'test.txt'), 'os cães correm\n');
}

describe('agreementEval on a hand-made checkpoint', () => {
  const corpusDir = join(tmp, 'toy');
  toyCorpus(corpusDir);
  const corpus = resolveCorpus(corpusDir);
  const vocab = buildVocabulary(corpus);
  const V = vocab.size;
  const H = 4;

  /** A GRU word LM whose read-out ignores the state and makes "corre" all but certain. */
  async function certainCheckpoint(name: string): Promise<string> {
    const config = modelConfigFor({ inputSize: 0, outputSize: V, vocabSize: V }, { cell: 'gru', hiddenSize: H });
    const random = SequenceModel.random(config, new Rng('toy-gru'));
    const sd = await random.stateDict();
    random.dispose();
    const layer = {
      weight_ih: (sd.weight_ih_l0 as number[][]).flat(),
      weight_hh: (sd.weight_hh_l0 as number[][]).flat(),
      bias_ih: sd.bias_ih_l0 as number[],
      bias_hh: sd.bias_hh_l0 as number[],
    };
    const bias = vocab.tokens.map((t) => (t === 'corre' ? 20 : 0));
    const model = new SequenceModel(
      config,
      [layer],
      { weight: new Array(V * H).fill(0), bias },
      (sd['embedding.weight'] as number[][]).flat(),
    );
    const runDir = RunDir.create(join(tmp, name));
    const taskConfig = { task: 'lm', corpus: corpusDir, lowercase: false, tokenizer: 'en', eos: 'line' };
    await writeCheckpoint(model, runDir, 7, TRAIN_DEFAULTS, { vocabulary: vocab.toJSON(), taskConfig });
    model.dispose();
    return runDir.path;
  }

  const items = [
    item('sg', ['o', 'cão'], 'corre', 'correm', { number: 'sg', subjectIndex: 1, distance: 0, attractors: 0 }),
    item('sg2', ['o', 'cão', 'que', 'viu', 'os', 'cães'], 'corre', 'correm', {
      number: 'sg',
      subjectIndex: 1,
      distance: 4,
      attractors: 1,
      constructions: ['relcl'],
    }),
    item('pl', ['os', 'cães'], 'correm', 'corre', { number: 'pl', subjectIndex: 1, distance: 0, attractors: 0 }),
    item('pl~n1', ['os', 'gatos'], 'correm', 'corre', { subjectIndex: 1, distance: 0, variant: 1, twinOf: 'pl' }),
    item('oov', ['os', 'gatos'], 'miam', 'mia', { subjectIndex: 1, distance: 0 }),
  ];
  const itemsFile = join(tmp, 'toy-items.jsonl');
  writeFileSync(itemsFile, formatItems(items));

  it('scores the covered items, leaves out and counts the rest, gives both baselines on the same items', async () => {
    const checkpoint = await certainCheckpoint('certain');
    const scoresOut = join(tmp, 'scores.jsonl');
    const before = tf.memory().numTensors;
    const r = await agreementEval({ model: { checkpoint }, items: itemsFile, scoresOut });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.items).toEqual({ total: 5, scored: 4, oov: 1, oovShare: 0.2, unknownPrefix: 0, originals: 3, nonce: 1 });
    expect(r.model).toMatchObject({ cell: 'gru', hiddenSize: H, vocabSize: V, step: 7 });
    // the read-out makes "corre" certain: the two singular items pass, the plural ones fail
    expect(r.lm.accuracy.overall).toEqual({ label: 'all', n: 4, passed: 2, accuracy: 0.5 });
    expect(r.lm.accuracy.byNumber).toEqual([
      { label: 'sg', n: 2, passed: 2, accuracy: 1 },
      { label: 'pl', n: 1, passed: 0, accuracy: 0 },
    ]);
    // frequency: corre (4 in train) over correm (1) whatever the prefix: the same answers
    expect(r.baselines!.frequency.accuracy.overall.passed).toBe(2);
    // Kneser–Ney: the pipeline's numbers are those of the model trained here on the same ids
    const ids = encodeCorpus(corpus, vocab);
    const kn = KneserNeyModel.train(ids.train, { order: 5, vocabSize: V });
    const covered = [0, 1, 2, 3];
    const direct = summarizeAccuracy(
      items,
      covered,
      tokenLMScores(
        kn,
        vocab,
        covered.map((i) => items[i]),
      ),
    );
    expect(r.baselines!.ngram.accuracy).toEqual(direct);
    expect(r.baselines!.corpus).toBe(corpusDir);
    // the link: one item at distance ≥ 1 (sg2), binned by its norm
    const link = r.lm.jacobian!;
    expect(link.byNorm.reduce((n, c) => n + c.n, 0)).toBe(1);
    expect(link.byDistance.find((d) => d.label === '3–4')?.n).toBe(1);
    const lines = readFileSync(scoresOut, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.oov, l.passed])).toEqual([
      ['sg', false, true],
      ['sg2', false, true],
      ['pl', false, false],
      ['pl~n1', false, false],
      ['oov', true, null],
    ]);
    expect(lines[0].jacobianSpectral).toBe(1); // distance 0: the identity
  });

  it('refuses, in one line, a checkpoint whose vocabulary lacks most of the items’ verb forms', async () => {
    const checkpoint = await certainCheckpoint('certain-2');
    const foreign = join(tmp, 'foreign.jsonl');
    writeFileSync(
      foreign,
      formatItems([
        item('a', ['the', 'dog'], 'runs', 'run'),
        item('b', ['the', 'dogs'], 'run', 'runs'),
        item('c', ['o', 'cão'], 'corre', 'correm'),
      ]),
    );
    const err = await agreementEval({ model: { checkpoint }, items: foreign }).catch((e) => e);
    expect(err).toBeInstanceOf(SeqlabError);
    expect(err.message).toMatch(/lacks a verb form of 2 of 3 items \(67 %, more than 50 %\)/);
    expect(err.message).not.toContain('\n');
  });

  it('leaves the baselines out, saying why, when the checkpoint’s corpus is gone', async () => {
    const checkpoint = await certainCheckpoint('certain-3');
    const doc = JSON.parse(readFileSync(join(checkpoint, 'checkpoint.json'), 'utf8'));
    doc.taskConfig.corpus = join(tmp, 'gone');
    writeFileSync(join(checkpoint, 'checkpoint.json'), JSON.stringify(doc));
    const r = await agreementEval({ model: { checkpoint }, items: itemsFile, jacobian: false });
    expect(r.baselines).toBeNull();
    expect(r.baselinesSkipped).toMatch(/is not there/);
    expect(r.lm.jacobian).toBeNull();
  });
});

describe('agreementEval on PyTorch word_language_model files (safetensors + vocabulary)', () => {
  const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
  const model = { weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab: join(FIXTURES, 'vocab.txt') };

  it('reads <eos> at its own id and leaves out an item with a word the vocabulary (no <unk>) lacks', async () => {
    const pairs = [
      item('a', ['the', 'dog'], 'runs', 'sleeps', { subjectIndex: 1, distance: 0 }),
      item('b', ['the', 'teacher', 'in', 'the', 'garden'], 'sings', 'waits', { subjectIndex: 1, distance: 3 }),
      item('c', ['the', 'zebra'], 'runs', 'sleeps', { subjectIndex: 1, distance: 0 }),
    ];
    const file = join(tmp, 'torch-items.jsonl');
    writeFileSync(file, formatItems(pairs));
    const scoresOut = join(tmp, 'torch-scores.jsonl');
    const r = await agreementEval({ model, items: file, baselines: false, scoresOut });
    expect(r.model).toMatchObject({ source: model.weights, cell: 'lstm', step: null });
    expect(r.items).toMatchObject({ total: 3, scored: 2, oov: 1, unknownPrefix: 1 });
    expect(r.baselinesSkipped).toBe('not asked for');
    const lm = loadLanguageModel(model);
    try {
      // word_language_model's Dictionary: <eos> wherever the text first had it (id 10 here)
      expect(Array.from(prefixIds(lm.vocabulary, ['the']))).toEqual([10, 3]);
      const direct = await scorePairs(lm.model, lm.vocabulary, pairs.slice(0, 2));
      const lines = readFileSync(scoresOut, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.oov)).toEqual([false, false, true]);
      direct.forEach((d, i) => {
        expect(lines[i].logpCorrect).toBeCloseTo(d.correct, 6);
        expect(lines[i].logpWrong).toBeCloseTo(d.wrong, 6);
      });
    } finally {
      lm.model.dispose();
    }
  });
});

describe('agreementCorpus', () => {
  it('builds the directory once and then leaves it alone', () => {
    const tb = join(tmp, 'pt_numbers-ud-test.conllu');
    writeFileSync(tb, numberDocs(40));
    const dir = join(tmp, 'numbers');
    const first = agreementCorpus(dir, { treebanks: [tb], nonce: 1 });
    expect(first.built).toBe(true);
    expect(first.manifest.items.originals).toBeGreaterThan(0);
    expect(first.manifest.items.twins).toBe(first.manifest.items.originals);
    expect(agreementCorpus(dir, { treebanks: [tb], nonce: 1 }).built).toBe(false);
  });
});
