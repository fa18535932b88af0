import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Vocabulary } from '../../src/data/vocab.js';
import { SequenceModel, modelConfigFor } from '../../src/models/model.js';
import type { CellKind } from '../../src/models/registry.js';
import { jacobianNorms, layerInputs } from '../../src/training/gradflow.js';
import { scorePairs, subjectVerbJacobians } from '../../src/training/minimal-pairs.js';
import { Interrupted, SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import {
  type Mode64,
  type Spec64,
  type Weights64,
  frobenius64,
  jacobianFD,
  numStates64,
  randomWeights64,
  run64,
  spectralNorm64,
  uniform64,
} from '../reference/cells64.js';

// The batched scorer and the per-item Jacobians against a float64 reference that reads one
// prefix at a time (test/reference/cells64.ts), and the Jacobians against gradflow.ts on the
// whole prefix.

const TOKENS = ['<unk>', '<eos>', 'o', 'os', 'cão', 'cães', 'que', 'viu', 'corre', 'correm'];
const vocab = Vocabulary.fromTokens(TOKENS);
const V = TOKENS.length;

interface Reference {
  model: SequenceModel;
  specs: Spec64[];
  layers: Weights64[];
  embedding: number[][]; // [V][E]
  headW: number[]; // [V, H] row-major (nn.Linear)
  headB: number[];
}

function makeModel(kind: CellKind, numLayers: number, H: number, E: number, seed: string): Reference {
  const rng = new Rng(seed);
  const specs = Array.from({ length: numLayers }, (_, l) => ({ kind, inputSize: l === 0 ? E : H, hiddenSize: H }));
  // weights of scale 1 so that the states move and the Jacobians are far from the identity
  const layers = specs.map((s) => randomWeights64(rng, s, 0.9));
  const embedding = Array.from({ length: V }, () => uniform64(rng, E, 1));
  const headW = uniform64(rng, V * H, 1);
  const headB = uniform64(rng, V, 0.5);
  const config = modelConfigFor(
    { inputSize: 0, outputSize: V, vocabSize: V },
    { cell: kind, hiddenSize: H, numLayers, embedSize: E },
  );
  const model = new SequenceModel(config, layers, { weight: headW, bias: headB }, embedding.flat());
  return { model, specs, layers, embedding, headW, headB };
}

const idsOf = (prefix: string[]) => [1, ...prefix.map((t) => vocab.id(t))];

/** The inputs of every layer and the top layer's states, float64, for one id sequence from zero states. */
function forward64(ref: Reference, ids: number[]) {
  let xs = ids.map((id) => ref.embedding[id]);
  const inputs: number[][][] = [];
  let states: number[][][] = [];
  ref.specs.forEach((spec, l) => {
    inputs.push(xs);
    const zero = Array.from({ length: numStates64(spec.kind) }, () => new Array<number>(spec.hiddenSize).fill(0));
    states = run64(spec, ref.layers[l], xs, zero);
    xs = states.slice(1).map((s) => s[0]);
  });
  return { topInputs: inputs.at(-1)!, states };
}

/** ln softmax(W h + b)[word], float64. */
function logProb64(ref: Reference, h: number[], word: number): number {
  const H = h.length;
  const logits = ref.headB.map((b, v) => b + h.reduce((s, x, j) => s + ref.headW[v * H + j] * x, 0));
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0));
  return logits[word] - lse;
}

const PAIRS = [
  { prefix: ['o', 'cão'], correct: 'corre', wrong: 'correm' },
  { prefix: ['os', 'cães', 'que', 'o', 'cão', 'viu'], correct: 'correm', wrong: 'corre' },
  { prefix: ['o'], correct: 'cão', wrong: 'cães' },
  { prefix: ['os', 'gatos', 'que', 'viu'], correct: 'correm', wrong: 'corre' }, // "gatos" is <unk>
  { prefix: ['o', 'cão', 'que', 'os', 'cães', 'viu', 'o', 'cão'], correct: 'corre', wrong: 'correm' },
  { prefix: ['os', 'cães'], correct: 'correm', wrong: 'corre' },
  { prefix: ['o', 'cão', 'que', 'viu'], correct: 'corre', wrong: 'correm' },
];

describe('scorePairs', () => {
  for (const [kind, layers] of [
    ['rnn', 1],
    ['lstm', 1],
    ['gru', 1],
    ['lstm', 2],
  ] as [CellKind, number][]) {
    it(`${kind} × ${layers}: batched and padded, equal to one prefix at a time in float64`, async () => {
      const ref = makeModel(kind, layers, 5, 4, `pairs-${kind}-${layers}`);
      const before = tf.memory().numTensors;
      const scores = await scorePairs(ref.model, vocab, PAIRS, { batchSize: 3 });
      expect(tf.memory().numTensors).toBe(before);
      PAIRS.forEach((p, i) => {
        const { states } = forward64(ref, idsOf(p.prefix));
        const h = states.at(-1)![0];
        expect(scores[i].correct).toBeCloseTo(logProb64(ref, h, vocab.id(p.correct)), 4);
        expect(scores[i].wrong).toBeCloseTo(logProb64(ref, h, vocab.id(p.wrong)), 4);
      });
      ref.model.dispose();
    });
  }

  it('a read-out that makes one form certain: ln p = b_w − ln Σ_v exp(b_v) whatever the prefix', async () => {
    const H = 4;
    const ref = makeModel('gru', 1, H, 3, 'certain');
    const bias = TOKENS.map((t) => (t === 'corre' ? 20 : 0));
    const model = new SequenceModel(
      ref.model.config,
      ref.layers,
      { weight: new Array(V * H).fill(0), bias },
      ref.embedding.flat(),
    );
    const scores = await scorePairs(model, vocab, PAIRS);
    const lse = Math.log(Math.exp(20) + (V - 1));
    PAIRS.forEach((p, i) => {
      expect(scores[i].correct).toBeCloseTo(bias[vocab.id(p.correct)] - lse, 4);
      expect(scores[i].wrong).toBeCloseTo(bias[vocab.id(p.wrong)] - lse, 4);
      // passed only when the certain form is the correct one ("o" → cão/cães: a tie, failed)
      expect(scores[i].correct > scores[i].wrong).toBe(p.correct === 'corre');
    });
    model.dispose();
    ref.model.dispose();
  });

  it('refuses a model that does not predict the vocabulary’s ids', async () => {
    const ref = makeModel('rnn', 1, 3, 2, 'mismatch');
    const other = Vocabulary.fromTokens(['<unk>', '<eos>', 'a']);
    await expect(scorePairs(ref.model, other, PAIRS)).rejects.toThrow(SeqlabError);
    await expect(scorePairs(ref.model, other, PAIRS)).rejects.toThrow(
      /reads 10 and predicts 10 token ids, but its vocabulary has 3/,
    );
    ref.model.dispose();
  });
});

const SUBJECTS = [
  { prefix: ['o', 'cão'], subjectIndex: 1 }, // gap 0: the identity
  { prefix: ['os', 'cães', 'que', 'o', 'cão', 'viu'], subjectIndex: 1 }, // gap 4
  { prefix: ['o', 'cão', 'que', 'viu'], subjectIndex: 1 }, // gap 2
  { prefix: ['os', 'gatos', 'que', 'viu'], subjectIndex: 1 }, // gap 2, the subject unknown
  { prefix: ['que', 'os', 'cães', 'viu', 'o'], subjectIndex: 2 }, // gap 2, another subject position
  { prefix: ['o', 'cão', 'que', 'os', 'cães', 'viu', 'o', 'cão'], subjectIndex: 1 }, // gap 6
];

describe('subjectVerbJacobians', () => {
  for (const [kind, layers, mode] of [
    ['rnn', 1, 'h'],
    ['gru', 1, 'h'],
    ['lstm', 1, 'h'],
    ['lstm', 1, 'state'],
    ['gru', 2, 'h'],
  ] as [CellKind, number, Mode64][]) {
    it(`${kind} × ${layers} (${mode}): ‖∂h_n/∂h_s‖ of the top layer equals float64 finite differences`, async () => {
      const H = 4;
      const ref = makeModel(kind, layers, H, 3, `jac-${kind}-${layers}-${mode}`);
      const before = tf.memory().numTensors;
      const got = await subjectVerbJacobians(ref.model, vocab, SUBJECTS, { mode, batchSize: 2 });
      expect(tf.memory().numTensors).toBe(before);
      const top = ref.specs.length - 1;
      SUBJECTS.forEach((item, i) => {
        const ids = idsOf(item.prefix);
        const s = item.subjectIndex + 1; // the subject's id position; its state is the one after s + 1 inputs
        const n = ids.length - 1;
        expect(got[i].gap).toBe(n - s);
        const { topInputs } = forward64(ref, ids);
        const spec = ref.specs[top];
        const zero = Array.from({ length: numStates64(spec.kind) }, () => new Array<number>(H).fill(0));
        const J = jacobianFD(spec, ref.layers[top], topInputs, zero, s + 1, n + 1, mode);
        const R = Math.sqrt(J.length);
        expect(got[i].frobenius).toBeCloseTo(frobenius64(J), 3);
        expect(got[i].spectral).toBeCloseTo(spectralNorm64(J, R, R), 3);
      });
      ref.model.dispose();
    });
  }

  it('is the gradient-flow probe of the whole prefix at k = s + 1 (gradflow.ts jacobianNorms)', async () => {
    const ref = makeModel('lstm', 2, 4, 3, 'jac-vs-gradflow');
    const got = await subjectVerbJacobians(ref.model, vocab, SUBJECTS);
    for (const [i, item] of SUBJECTS.entries()) {
      const ids = idsOf(item.prefix);
      const xs = tf.tidy(() => ref.model.embed(tf.tensor2d(ids, [ids.length, 1], 'int32')));
      const inputs = layerInputs(ref.model.layers, xs, 1);
      const whole = await jacobianNorms(ref.model.layers[1], inputs, undefined, { normThread: false });
      tf.dispose([xs, inputs]);
      const row = whole.rows.find((r) => r.k === item.subjectIndex + 2);
      // gap 0: ∂h_n/∂h_n = I, which the probe (k < T) does not list
      expect(got[i].spectral).toBeCloseTo(row?.spectral ?? 1, 4);
      expect(got[i].frobenius).toBeCloseTo(row?.frobenius ?? 2, 4);
    }
    ref.model.dispose();
  });

  it('stops between batches once its signal is aborted, tensors released', async () => {
    const ref = makeModel('gru', 1, 3, 2, 'stop-pairs');
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    const scoring = scorePairs(ref.model, vocab, PAIRS, {
      batchSize: 1,
      signal: stop.signal,
      onProgress: (done) => {
        if (done === 2) stop.abort('SIGTERM');
      },
    });
    await expect(scoring).rejects.toThrow(Interrupted);
    await expect(scoring).rejects.toThrow(`scoring stopped (SIGTERM) after 2 of ${PAIRS.length} prefixes`);
    const stopped = new AbortController();
    stopped.abort('SIGINT');
    await expect(subjectVerbJacobians(ref.model, vocab, SUBJECTS, { signal: stopped.signal })).rejects.toThrow(
      `the Jacobians stopped (SIGINT) after 0 of ${SUBJECTS.length} items`,
    );
    expect(tf.memory().numTensors).toBe(before);
    ref.model.dispose();
  });

  it('refuses a subjectIndex outside the prefix', async () => {
    const ref = makeModel('rnn', 1, 3, 2, 'bad-subject');
    await expect(subjectVerbJacobians(ref.model, vocab, [{ prefix: ['o'], subjectIndex: 1 }])).rejects.toThrow(
      /item 0: subjectIndex 1 is not a position of its prefix/,
    );
    ref.model.dispose();
  });
});
