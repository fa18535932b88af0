import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVocabulary, resolveCorpus } from '../../src/data/corpus.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { SequenceModel, modelConfigFor } from '../../src/models/model.js';
import { RunDir } from '../../src/runlog/rundir.js';
import { formatItems } from '../../src/tasks/agreement-ud/items.js';
import { writeCheckpoint } from '../../src/training/checkpoint.js';
import { TRAIN_DEFAULTS } from '../../src/training/config.js';
import { EXIT_CODES } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { HAND_CONLLU, item } from '../tasks/agreement-ud/fixtures.js';
import { expectOneLineError, runSeqlab } from './run.js';

// `seqlab agreement …` and `compare --task agreement-ud` as a user runs them: each mistake is one
// "seqlab: …" line on stderr and a non-zero exit; --json prints one document.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-cli-agreement-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const file = (name: string, content: string) => {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
};

/** A small word-LM checkpoint (GRU, H 3) over `vocab`, trained on nothing. */
async function checkpoint(name: string, vocab: Vocabulary, corpus: string): Promise<string> {
  const V = vocab.size;
  const config = modelConfigFor({ inputSize: 0, outputSize: V, vocabSize: V }, { cell: 'gru', hiddenSize: 3 });
  const model = SequenceModel.random(config, new Rng(name));
  const runDir = RunDir.create(join(tmp, name));
  const taskConfig = { task: 'lm', corpus, lowercase: false, tokenizer: 'en', eos: 'line' };
  await writeCheckpoint(model, runDir, 1, TRAIN_DEFAULTS, { vocabulary: vocab.toJSON(), taskConfig });
  model.dispose();
  return runDir.path;
}

const paths: Record<string, string> = {};
beforeAll(async () => {
  paths.hand = file('pt_hand-ud-test.conllu', HAND_CONLLU);
  paths.text = file('notes.txt', 'o homem entrou\nos homens entraram\n');
  paths.bare = file('bare.conllu', HAND_CONLLU.replace(/Number=(Sing|Plur)/g, 'NumType=Card'));
  const corpus = join(tmp, 'toy');
  mkdirSync(corpus);
  writeFileSync(join(corpus, 'train.txt'), 'o cão corre\nos cães correm\no cão corre\n');
  writeFileSync(join(corpus, 'valid.txt'), 'o cão corre\n');
  writeFileSync(join(corpus, 'test.txt'), 'os cães correm\n');
  paths.corpus = corpus;
  paths.checkpoint = await checkpoint('toy-gru', buildVocabulary(resolveCorpus(corpus)), corpus);
  paths.english = await checkpoint(
    'english-gru',
    Vocabulary.fromTokens(['<unk>', '<eos>', 'the', 'dog', 'runs', 'run']),
    corpus,
  );
  paths.items = file(
    'items.jsonl',
    formatItems([
      item('sg', ['o', 'cão'], 'corre', 'correm', { subjectIndex: 1, distance: 0 }),
      item('pl', ['os', 'cães'], 'correm', 'corre', { subjectIndex: 1, distance: 0 }),
    ]),
  );
  paths.missingField = file(
    'missing.jsonl',
    '{"id":"a","prefix":["o","cão"],"correct":"corre","wrong":"correm"}\n{"id":"b","prefix":["o"],"wrong":"x"}\n',
  );
});

describe('seqlab agreement: bad input is one line and a non-zero exit', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    [
      'a file that is not CoNLL-U',
      () => ['agreement', 'extract', '--treebank', paths.text],
      EXIT_CODES.input,
      /notes\.txt:1: expected 10 tab-separated columns.*not a CoNLL-U file/,
    ],
    [
      'a treebank without Number',
      () => ['agreement', 'extract', '--treebank', paths.bare],
      EXIT_CODES.input,
      /bare\.conllu has no Number feature on its nouns and finite verbs/,
    ],
    [
      'a missing treebank',
      () => ['agreement', 'extract', '--treebank', join(tmp, 'none.conllu')],
      EXIT_CODES.input,
      /CoNLL-U file not found/,
    ],
    [
      'an unknown action',
      () => ['agreement', 'score'],
      EXIT_CODES.usage,
      /unknown agreement action "score"; use extract, corpus, eval/,
    ],
    [
      'eval without a checkpoint',
      () => ['agreement', 'eval', '--items', paths.items],
      EXIT_CODES.usage,
      /name the model: --checkpoint RUN/,
    ],
    [
      'eval without items',
      () => ['agreement', 'eval', '--checkpoint', paths.checkpoint],
      EXIT_CODES.usage,
      /agreement eval needs --items/,
    ],
    [
      'an eval flag on extract',
      () => ['agreement', 'extract', '--checkpoint', paths.checkpoint],
      EXIT_CODES.usage,
      /--checkpoint applies to agreement eval, not extract/,
    ],
    ['corpus without --out', () => ['agreement', 'corpus'], EXIT_CODES.usage, /agreement corpus needs --out DIR/],
    [
      'an items file with a missing field',
      () => ['agreement', 'eval', '--checkpoint', paths.checkpoint, '--items', paths.missingField],
      EXIT_CODES.input,
      /missing\.jsonl:2: item field "correct" is missing/,
    ],
    [
      'a file that is not a checkpoint',
      () => ['agreement', 'eval', '--checkpoint', paths.items, '--items', paths.items],
      EXIT_CODES.input,
      /not valid JSON|not a seqlab checkpoint/,
    ],
    [
      'a checkpoint whose vocabulary lacks most verb forms',
      () => ['agreement', 'eval', '--checkpoint', paths.english, '--items', paths.items],
      EXIT_CODES.input,
      /lacks a verb form of 2 of 2 items \(100 %, more than 50 %\)/,
    ],
    [
      '--seeds on the study',
      () => ['compare', '--task', 'agreement-ud', '--seeds', '1-2'],
      EXIT_CODES.usage,
      /--seeds does not apply to --task agreement-ud/,
    ],
    [
      '--seq-len on the study',
      () => ['compare', '--task', 'agreement-ud', '--seq-len', '5'],
      EXIT_CODES.usage,
      /--seq-len does not apply to --task agreement-ud/,
    ],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => expectOneLineError(await runSeqlab(args()), code, message));
  }
});

describe('seqlab agreement --json', () => {
  it('extract: one document with the counts, the items written', async () => {
    const out = join(tmp, 'hand.jsonl');
    const r = await runSeqlab(['agreement', 'extract', '--treebank', paths.hand, '--out', out, '--json', '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.items).toBe(4);
    expect(doc.rules).toBe('pt');
    expect(doc.out).toBe(out);
  });

  it('eval: one document with the accuracy, the baselines and the link', async () => {
    const args = ['agreement', 'eval', '--checkpoint', paths.checkpoint, '--items', paths.items, '--json', '--quiet'];
    const r = await runSeqlab([...args, '--backend', 'wasm']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.items.scored).toBe(2);
    expect(doc.lm.accuracy.overall.n).toBe(2);
    expect(doc.baselines.frequency.accuracy.overall.passed).toBe(1);
    expect(doc.lm.jacobian.mode).toBe('h');
  });

  it('eval in text: the tables', async () => {
    const r = await runSeqlab([
      'agreement',
      'eval',
      '--checkpoint',
      paths.checkpoint,
      '--items',
      paths.items,
      '--backend',
      'wasm',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/accuracy: p\(correct \| prefix\) > p\(wrong \| prefix\)/);
    expect(r.stdout).toMatch(/frequency/);
  });
});
