import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { SequenceModel, modelConfigFor } from '../../src/models/model.js';
import { Rng } from '../../src/util/rng.js';

// SequenceModel.random's read-out and embedding: nn.Linear / nn.Embedding's defaults, or word_language_model's
// init_weights (initRange).

async function parts(model: SequenceModel) {
  const sd = await model.stateDict();
  return {
    head: (sd['head.weight'] as number[][]).flat(),
    bias: sd['head.bias'] as number[],
    embedding: (sd['embedding.weight'] as number[][]).flat(),
    recurrent: (sd.weight_hh_l0 as number[][]).flat(),
  };
}

describe('SequenceModel.random: initRange', () => {
  const data = { inputSize: 0, outputSize: 300, vocabSize: 300 };

  it('draws the embedding and the read-out from U(±initRange) and zeroes the read-out bias', async () => {
    const config = modelConfigFor(data, { cell: 'lstm', hiddenSize: 16, initRange: 0.1 });
    const model = SequenceModel.random(config, new Rng('init-range'));
    const { head, bias, embedding } = await parts(model);
    for (const w of [head, embedding]) {
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.1);
      // U(±a) has variance a²/3: 4800 draws put the sample variance within a few percent of it
      const variance = w.reduce((s, x) => s + x * x, 0) / w.length;
      expect(Math.abs(variance / (0.01 / 3) - 1)).toBeLessThan(0.1);
    }
    expect(bias).toEqual(new Array(300).fill(0));
    model.dispose();
  });

  const nullTitle =
    'leaves the recurrent layers to `init`; null changes nothing (nn.Embedding N(0, 1), nn.Linear U(±1/√H))';
  it(nullTitle, async () => {
    const base = modelConfigFor(data, { cell: 'gru', hiddenSize: 16 });
    expect(base.initRange).toBeNull();
    const before = tf.memory().numTensors;
    const [a, b] = [base, { ...base, initRange: 0.05 }].map((c) => SequenceModel.random(c, new Rng('same')));
    const [pa, pb] = [await parts(a), await parts(b)];
    expect(pb.recurrent).toEqual(pa.recurrent);
    expect(Math.max(...pa.head.map(Math.abs))).toBeLessThanOrEqual(1 / 4);
    expect(Math.max(...pa.head.map(Math.abs))).toBeGreaterThan(0.2);
    expect(pa.bias.some((x) => x !== 0)).toBe(true);
    expect(Math.max(...pa.embedding.map(Math.abs))).toBeGreaterThan(2.5); // a standard normal's tail
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
