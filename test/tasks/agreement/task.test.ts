import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/util/rng.js';
import { MODEL_DEFAULTS, SequenceModel } from '../../../src/models/model.js';
import { TRAIN_DEFAULTS } from '../../../src/training/config.js';
import { evaluate } from '../../../src/training/measure.js';
import { train } from '../../../src/training/trainer.js';
import type { Batch } from '../../../src/tasks/task.js';
import { createTask } from '../../../src/tasks/registry.js';
import { parseLexicon } from '../../../src/tasks/agreement/lexicon.js';
import {
  CONSTRUCTION_PRESETS,
  generateExample,
  type AgreementExample,
} from '../../../src/tasks/agreement/generator.js';
import {
  AGREEMENT_DEFAULTS,
  AgreementLMTask,
  AgreementTask,
  agreementVocabulary,
  lmBatch,
  numberBatch,
  type AgreementConfig,
} from '../../../src/tasks/agreement/task.js';
import { EOS, UNK, type Vocabulary } from '../../../src/data/vocab.js';
import { expectSeqlabError, tinyLexiconJson } from './fixtures.js';

const SMALL: Partial<AgreementConfig> = {
  trainMaxDistance: 4,
  testDistances: [2, 5, 9],
  trainSize: 300,
  testSize: 12,
  probeSize: 4,
  seed: 3,
};

const tiny = parseLexicon(tinyLexiconJson(), 'tiny');
const tinyVocab = agreementVocabulary(tiny);
/** "o homem perto dos homens viu …" (d = 3) and "os homens também viram …" (d = 1). */
const handExamples: AgreementExample[] = [
  generateExample(tiny, new Rng(1), {
    distance: 3,
    attractors: 1,
    number: 'sg',
    constructions: ['pp'],
    maxDepth: 1,
    indefiniteRate: 0,
  }),
  generateExample(tiny, new Rng(2), {
    distance: 1,
    attractors: 'free',
    number: 'pl',
    constructions: ['adverb'],
    maxDepth: 1,
    indefiniteRate: 0,
  }),
];

/** The 1-positions of a one-hot [T, B, V] array as [t, b, word]. */
function hot(batch: Batch, vocab: Vocabulary): [number, number, string][] {
  const V = vocab.size;
  const out: [number, number, string][] = [];
  batch.inputs.forEach((x, k) => {
    if (x !== 0) {
      expect(x).toBe(1);
      const v = k % V;
      const tb = (k - v) / V;
      out.push([Math.floor(tb / batch.batchSize), tb % batch.batchSize, vocab.tokens[v]]);
    }
  });
  return out;
}

/** Shapes and contents every number-prediction batch must have. */
function checkNumberBatch(batch: Batch, examples: readonly AgreementExample[], vocab: Vocabulary): void {
  const { seqLen: T, batchSize: B } = batch;
  expect(B).toBe(examples.length);
  expect(T).toBe(Math.max(...examples.map((ex) => ex.verbIndex)));
  expect(batch.inputs).toHaveLength(T * B * vocab.size);
  expect(batch.targets).toBeInstanceOf(Int32Array);
  expect(Array.from(batch.targets)).toEqual(examples.map((ex) => (ex.number === 'sg' ? 0 : 1)));
  const mask = batch.mask!;
  expect(mask).toHaveLength(T * B);
  examples.forEach((ex, b) => {
    const marked = Array.from({ length: T }, (_, t) => mask[t * B + b]);
    expect(marked.indexOf(1)).toBe(ex.verbIndex - 1);
    expect(marked.reduce((s, m) => s + m, 0)).toBe(1);
    // one word per real step (never the verb), zero rows on padding
    for (let t = 0; t < T; t++) {
      const row = batch.inputs.subarray((t * B + b) * vocab.size, (t * B + b + 1) * vocab.size);
      const sum = row.reduce((s, x) => s + x, 0);
      expect(sum).toBe(t < ex.verbIndex ? 1 : 0);
      if (t < ex.verbIndex) expect(row[vocab.id(ex.tokens[t])]).toBe(1);
    }
  });
}

describe('batches from hand-checked sentences', () => {
  it('the sentences are the ones the test expects', () => {
    expect(handExamples[0].tokens.slice(0, 6)).toEqual(['o', 'homem', 'perto', 'dos', 'homens', 'viu']);
    expect(handExamples[1].tokens.slice(0, 4)).toEqual(['os', 'homens', 'também', 'viram']);
  });

  it('vocabulary: <unk> = 0, <eos> = 1, then the words', () => {
    expect(tinyVocab.tokens.slice(0, 2)).toEqual([UNK, EOS]);
    expect(tinyVocab.id(UNK)).toBe(0);
    expect(tinyVocab.tokens).toContain('dos');
    expect(tinyVocab.has('cachorro')).toBe(false);
  });

  it('number prediction: the prefix up to the verb, mask on its last word', () => {
    const batch = numberBatch(handExamples, tinyVocab);
    expect(batch.seqLen).toBe(5);
    expect(hot(batch, tinyVocab).sort()).toEqual(
      [
        [0, 0, 'o'],
        [1, 0, 'homem'],
        [2, 0, 'perto'],
        [3, 0, 'dos'],
        [4, 0, 'homens'],
        [0, 1, 'os'],
        [1, 1, 'homens'],
        [2, 1, 'também'],
      ].sort(),
    );
    // mask [T, B]: example 0 read at t = 4, example 1 at t = 2
    expect(Array.from(batch.mask!)).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
    expect(Array.from(batch.targets)).toEqual([0, 1]);
    checkNumberBatch(batch, handExamples, tinyVocab);
  });

  it('language model: word t predicts word t + 1, the last predicts <eos>', () => {
    const batch = lmBatch(handExamples, tinyVocab);
    const [L0, L1] = handExamples.map((ex) => ex.tokens.length);
    expect([L0, L1]).toEqual([8, 6]); // "… viu o homem" / "… viram os homens"
    const T = 8;
    const B = 2;
    expect(batch.seqLen).toBe(T);
    expect(batch.inputs).toHaveLength(T * B * tinyVocab.size);
    expect(batch.targets).toHaveLength(T * B);
    handExamples.forEach((ex, b) => {
      const L = ex.tokens.length;
      for (let t = 0; t < T; t++) {
        expect(batch.mask![t * B + b]).toBe(t < L ? 1 : 0);
        const want = t < L - 1 ? ex.tokens[t + 1] : t === L - 1 ? EOS : UNK;
        expect(tinyVocab.tokens[batch.targets[t * B + b]]).toBe(want);
      }
    });
    expect(tinyVocab.tokens[batch.targets[4 * B + 0]]).toBe('viu');
    expect(tinyVocab.tokens[batch.targets[2 * B + 1]]).toBe('viram');
    expect(
      hot(batch, tinyVocab)
        .filter(([, b]) => b === 1)
        .map(([, , w]) => w),
    ).toEqual(handExamples[1].tokens);
  });
});

describe('AgreementTask (number prediction)', () => {
  const task = new AgreementTask(SMALL);

  it('defaults to the no-cue preset and reports its resolved config', () => {
    expect(AGREEMENT_DEFAULTS.constructions).toBe('no-cue');
    const d = task.describe();
    expect(d.task).toBe('agreement');
    expect(d.constructions).toEqual([...CONSTRUCTION_PRESETS['no-cue']]);
    expect(d.trainMaxDistance).toBe(4);
    expect(d.testDistances).toEqual([2, 5, 9]);
    expect(d.vocabSize).toBe(task.inputSize);
    expect(d.trainExamples).toBe(300);
    expect(d.testExamples).toBe(36);
    expect(String(d.lexicon)).toMatch(/corpora[/\\]agreement-pt\.json$/);
  });

  it('has consistent sizes and batches', () => {
    expect(task.outputSize).toBe(2);
    expect(task.readout).toBe('last');
    expect(task.loss).toBe('xent');
    expect(task.inputSize).toBe(task.vocab.size);
    const rng = new Rng(1);
    const batch = task.trainBatch(rng, 16);
    expect(batch.batchSize).toBe(16);
    expect(batch.inputs).toHaveLength(batch.seqLen * 16 * task.inputSize);
    for (const ex of task.trainExamples) expect(ex.distance).toBeLessThanOrEqual(4);
    for (const [i, b] of task.evalBatches().entries()) checkNumberBatch(b, task.evalExamples[i], task.vocab);
    expect(task.evalExamples.map((g) => g[0].distance)).toEqual([2, 5, 9]);
  });

  it('draws training batches from the rng it is given', () => {
    const a = task.trainBatch(new Rng(7), 8);
    const b = task.trainBatch(new Rng(7), 8);
    const c = task.trainBatch(new Rng(8), 8);
    expect(a).toEqual(b);
    expect(Array.from(a.inputs)).not.toEqual(Array.from(c.inputs));
  });

  it('is deterministic per seed', () => {
    const again = new AgreementTask(SMALL);
    expect(again.evalExamples).toEqual(task.evalExamples);
    expect(again.trainExamples).toEqual(task.trainExamples);
    expect(new AgreementTask({ ...SMALL, seed: 4 }).evalExamples).not.toEqual(task.evalExamples);
  });

  it('probes with a fixed batch at the longest test distance', () => {
    const probe = task.probeBatch();
    expect(probe.batchSize).toBe(4);
    expect(probe.seqLen).toBe(2 + 9);
    expect(Array.from(probe.mask!.subarray(10 * 4, 11 * 4))).toEqual([1, 1, 1, 1]);
  });

  it('evaluate: accuracy overall, by distance and by attractors', () => {
    // right on every d = 2 sentence, wrong on every d = 9 one, right on 2 of 3 at d = 5
    const isRight = (ex: AgreementExample, b: number) => ex.distance === 2 || (ex.distance === 5 && b % 3 !== 0);
    const outputs = task.evalExamples.map((group) => {
      const out = new Float32Array(group.length * 2);
      group.forEach((ex, b) => {
        const truth = ex.number === 'sg' ? 0 : 1;
        const said = isRight(ex, b) ? truth : 1 - truth;
        out[2 * b + said] = 1.5;
        out[2 * b + (1 - said)] = -0.5;
      });
      return out;
    });
    const m = task.evaluate(outputs, 0.25);
    expect(m.loss).toBe(0.25);
    expect(m['accuracy@d=2']).toBe(1);
    expect(m['accuracy@d=5']).toBeCloseTo(8 / 12, 12);
    expect(m['accuracy@d=9']).toBe(0);
    expect(m.accuracy).toBeCloseTo((12 + 8) / 36, 12);
    for (const d of [2, 5, 9]) expect(m[`n@d=${d}`]).toBe(12);
    // by attractors: counted here straight from the sentences
    const byA = new Map<number, [number, number]>();
    for (const group of task.evalExamples)
      for (const [b, ex] of group.entries()) {
        const c = byA.get(ex.attractors) ?? [0, 0];
        byA.set(ex.attractors, [c[0] + +isRight(ex, b), c[1] + 1]);
      }
    expect(byA.size).toBeGreaterThan(1);
    for (const [a, [right, n]] of byA) {
      expect(m[`accuracy@a=${a}`]).toBeCloseTo(right / n, 12);
      expect(m[`n@a=${a}`]).toBe(n);
    }
    const keys = Object.keys(m).filter((k) => k.includes('@'));
    expect(keys).toHaveLength(2 * 3 + 2 * byA.size);
  });
});

describe('AgreementLMTask (language model)', () => {
  const task = new AgreementLMTask(SMALL);
  const V = task.outputSize;

  it('has consistent sizes and batches', () => {
    expect(task.readout).toBe('every');
    expect(task.loss).toBe('xent');
    expect(task.inputSize).toBe(V);
    expect(V).toBe(task.vocab.size);
    task.evalBatches().forEach((batch, i) => {
      const group = task.evalExamples[i];
      const { seqLen: T, batchSize: B } = batch;
      expect(T).toBe(Math.max(...group.map((ex) => ex.tokens.length)));
      expect(batch.inputs).toHaveLength(T * B * V);
      expect(batch.targets).toHaveLength(T * B);
      group.forEach((ex, b) => {
        let n = 0;
        for (let t = 0; t < T; t++) n += batch.mask![t * B + b];
        expect(n).toBe(ex.tokens.length);
        // the row before the verb is where the model must predict it
        expect(task.vocab.tokens[batch.targets[(ex.verbIndex - 1) * B + b]]).toBe(ex.correct);
      });
    });
    expect(task.probeBatch().batchSize).toBe(4);
  });

  /** Logits in the trainer's layout ([T·B, V]): zero, except the two verb forms before each verb. */
  function handOutputs(isRight: (ex: AgreementExample, b: number) => boolean): Float32Array[] {
    return task.evalBatches().map((batch, i) => {
      const out = new Float32Array(batch.seqLen * batch.batchSize * V);
      task.evalExamples[i].forEach((ex, b) => {
        const row = ((ex.verbIndex - 1) * batch.batchSize + b) * V;
        out[row + task.vocab.id(ex.correct)] = isRight(ex, b) ? 2 : 1;
        out[row + task.vocab.id(ex.wrong)] = isRight(ex, b) ? 1 : 2;
      });
      return out;
    });
  }

  it('evaluate: p(correct) > p(wrong) before the verb, by distance and attractors, plus perplexity', () => {
    const isRight = (ex: AgreementExample, b: number) => ex.distance !== 9 && b % 2 === 0;
    const m = task.evaluate(handOutputs(isRight), Math.log(20));
    expect(m.perplexity).toBeCloseTo(20, 9);
    expect(m['accuracy@d=2']).toBeCloseTo(6 / 12, 12);
    expect(m['accuracy@d=5']).toBeCloseTo(6 / 12, 12);
    expect(m['accuracy@d=9']).toBe(0);
    expect(m.accuracy).toBeCloseTo(12 / 36, 12);
    expect(m['n@d=9']).toBe(12);
    expect(Object.keys(m).some((k) => k.startsWith('accuracy@a='))).toBe(true);
    // a tie is not a win
    expect(
      task.evaluate(
        handOutputs(() => true).map((o) => o.fill(0)),
        1,
      ).accuracy,
    ).toBe(0);
  });

  it('evaluate accepts rows for the counted positions only', () => {
    const full = handOutputs((ex) => ex.number === 'sg');
    const counted = full.map((out, i) => {
      const { mask } = task.evalBatches()[i];
      const rows: number[] = [];
      mask!.forEach((w, k) => {
        if (w > 0) rows.push(...out.subarray(k * V, (k + 1) * V));
      });
      return Float32Array.from(rows);
    });
    expect(counted[0].length).toBeLessThan(full[0].length);
    expect(task.evaluate(counted, 1)).toEqual(task.evaluate(full, 1));
  });
});

describe('registry and bad options', () => {
  it('builds both tasks by name', () => {
    const a = createTask('agreement', { seed: 3, evalSize: 5, agreement: SMALL });
    expect(a).toBeInstanceOf(AgreementTask);
    expect(a.describe().testExamples).toBe(15);
    expect(createTask('agreement-lm', { seed: 3, agreement: SMALL })).toBeInstanceOf(AgreementLMTask);
  });

  it('bad options are one-line errors', () => {
    expectSeqlabError(
      () => createTask('agreement', { seed: 1, seqLen: 20, agreement: SMALL }),
      'usage',
      /^seqLen does not apply to the agreement task/,
    );
    expectSeqlabError(
      () => new AgreementTask({ ...SMALL, constructions: 'nope' }),
      'usage',
      /unknown construction "nope"/,
    );
    expectSeqlabError(
      () => new AgreementTask({ ...SMALL, lexicon: '/nonexistent/lex.json' }),
      'input',
      /lexicon file not found/,
    );
    expectSeqlabError(() => new AgreementTask({ ...SMALL, testDistances: [] }), 'usage', /at least one distance/);
    expectSeqlabError(
      () => new AgreementTask({ ...SMALL, constructions: 'relatives', trainMinDistance: 1 }),
      'usage',
      /cannot build sentences at distance 1/,
    );
  });
});

describe('with a real model and the trainer', () => {
  it('both framings evaluate and train a few steps', async () => {
    for (const task of [new AgreementTask(SMALL), new AgreementLMTask(SMALL)]) {
      const model = SequenceModel.random(
        { ...MODEL_DEFAULTS, cell: 'rnn', hiddenSize: 4, inputSize: task.inputSize, outputSize: task.outputSize },
        new Rng('m'),
      );
      try {
        const { loss, metrics } = await evaluate(model, task);
        expect(Number.isFinite(loss)).toBe(true);
        for (const d of [2, 5, 9]) {
          expect(metrics[`accuracy@d=${d}`]).toBeGreaterThanOrEqual(0);
          expect(metrics[`accuracy@d=${d}`]).toBeLessThanOrEqual(1);
        }
        const res = await train(model, task, {
          ...TRAIN_DEFAULTS,
          steps: 2,
          batchSize: 4,
          evalEvery: 2,
          gradflowEvery: 2,
        });
        expect(res.steps).toBe(2);
        expect(res.gradflow.length).toBeGreaterThan(0);
      } finally {
        model.dispose();
      }
    }
  });
});
