import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportRun } from '../../src/commands/export.js';
import { readSafetensorsFile } from '../../src/data/safetensors.js';
import { SequenceModel, modelConfigFor } from '../../src/models/model.js';
import { RunDir } from '../../src/runlog/rundir.js';
import { writeCheckpoint } from '../../src/training/checkpoint.js';
import { TRAIN_DEFAULTS } from '../../src/training/config.js';
import { loadRecurrentWeights } from '../../src/training/torch-checkpoint.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { FIXTURES, checkpointOf } from './torch-helpers.js';

// `seqlab export`: a checkpoint as safetensors with PyTorch's names. The word LMs are compared byte for
// byte with test/fixtures/torch/export/, the files scripts/torch-fixtures.py --check-export loaded into
// word_language_model's RNNModel (and the rnn.* part into a bare module) and ran: PyTorch took them unchanged.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-export-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('exportRun: word LMs as word_language_model RNNModels', () => {
  for (const [name, dedupeTied] of [
    ['lstm-tied', false],
    ['gru-tied-once', true],
    ['rnn-relu', false],
  ] as const) {
    it(`${name}: the checkpoint's export is the file PyTorch loaded, byte for byte, with its vocabulary`, async () => {
      const files = {
        weights: join(FIXTURES, 'export', `${name}.safetensors`),
        vocab: join(FIXTURES, 'export', `${name}.vocab.txt`),
      };
      const run = await checkpointOf(files, join(tmp, name));
      const out = join(tmp, `${name}-out`, 'model.safetensors');
      const before = tf.memory().numTensors;
      const r = await exportRun({ checkpoint: run, out, dedupeTied });
      expect(r).toMatchObject({
        layout: 'RNNModel',
        step: 7,
        vocab: join(tmp, `${name}-out`, 'vocab.txt'),
        dtype: 'F32',
      });
      expect(readFileSync(out)).toEqual(readFileSync(files.weights));
      expect(readFileSync(r.vocab as string, 'utf8')).toBe(readFileSync(files.vocab, 'utf8'));
      expect(r.bytes).toBe(readFileSync(files.weights).length);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('writes F64 on request (the same values), a vocabulary where asked, and refuses to overwrite', async () => {
    const files = {
      weights: join(FIXTURES, 'export', 'rnn-relu.safetensors'),
      vocab: join(FIXTURES, 'export', 'rnn-relu.vocab.txt'),
    };
    const run = await checkpointOf(files, join(tmp, 'f64'));
    const out = join(tmp, 'f64.safetensors');
    const vocabOut = join(tmp, 'f64.words.txt');
    await exportRun({ checkpoint: run, out, vocabOut, dtype: 'F64' });
    const [mine, theirs] = [readSafetensorsFile(out), readSafetensorsFile(files.weights)];
    expect([...mine.tensors.keys()]).toEqual([...theirs.tensors.keys()]);
    for (const [k, t] of mine.tensors) {
      expect(t.dtype).toBe('F64');
      expect(Array.from(t.data)).toEqual(Array.from(theirs.tensors.get(k)!.data));
    }
    expect(mine.metadata).toEqual(theirs.metadata);
    expect(readFileSync(vocabOut, 'utf8')).toBe(readFileSync(files.vocab, 'utf8'));
    await expect(exportRun({ checkpoint: run, out, vocabOut })).rejects.toThrow(
      /f64\.safetensors exists; set overwrite/,
    );
    await exportRun({ checkpoint: run, out, vocabOut, overwrite: true });
    expect(readSafetensorsFile(out).tensors.get('decoder.bias')!.dtype).toBe('F32');
    await expect(exportRun({ checkpoint: run, out: vocabOut, vocabOut, overwrite: true })).rejects.toThrow(
      /would both be/,
    );
  });
});

describe('exportRun: other models as a bare nn.RNN/LSTM/GRU', () => {
  it('writes weight_ih_l0 … under nn.GRU’s names (the read-out on request): the checkpoint’s values', async () => {
    const config = modelConfigFor({ inputSize: 3, outputSize: 2 }, { cell: 'gru', hiddenSize: 5, numLayers: 2 });
    const model = SequenceModel.random(config, new Rng('export-gru'));
    const dir = join(tmp, 'gru-run');
    await writeCheckpoint(model, RunDir.create(dir), 3, TRAIN_DEFAULTS);
    const sd = await model.stateDict();
    model.dispose();
    const out = join(tmp, 'gru.safetensors');
    const r = await exportRun({ checkpoint: dir, out });
    expect(r).toMatchObject({ layout: 'recurrent', rnnType: 'GRU', vocab: null, tied: false });
    const file = readSafetensorsFile(out);
    const names = ['weight_ih_l', 'weight_hh_l', 'bias_ih_l', 'bias_hh_l'];
    expect([...file.tensors.keys()]).toEqual([0, 1].flatMap((l) => names.map((n) => `${n}${l}`)));
    expect(file.metadata).toEqual({ format: 'pt', rnn_type: 'GRU' });
    for (const [k, t] of file.tensors) expect(Array.from(t.data)).toEqual((sd[k] as number[] | number[][]).flat());
    expect(file.tensors.get('weight_ih_l0')!.shape).toEqual([15, 3]);
    // the probe reads it back as the same cell
    expect(loadRecurrentWeights(out)).toMatchObject({
      cell: 'gru',
      inputSize: 3,
      hiddenSize: 5,
      format: 'safetensors',
    });

    const withHead = join(tmp, 'gru-head.safetensors');
    await exportRun({ checkpoint: dir, out: withHead, withHead: true });
    const head = readSafetensorsFile(withHead).tensors;
    expect(head.get('head.weight')!.shape).toEqual([2, 5]);
    expect(Array.from(head.get('head.weight')!.data)).toEqual((sd['head.weight'] as number[][]).flat());
    expect(Array.from(head.get('head.bias')!.data)).toEqual(sd['head.bias']);
  });

  it('refuses what does not apply with one line', async () => {
    const config = modelConfigFor(
      { inputSize: 2, outputSize: 1 },
      { cell: 'rnn', nonlinearity: 'sigmoid', hiddenSize: 3 },
    );
    const model = SequenceModel.random(config, new Rng('export-sigmoid'));
    const dir = join(tmp, 'sigmoid-run');
    await writeCheckpoint(model, RunDir.create(dir), 1, TRAIN_DEFAULTS);
    model.dispose();
    const out = join(tmp, 'sigmoid.safetensors');
    await expect(exportRun({ checkpoint: dir, out })).rejects.toThrow(/a sigmoid RNN has no PyTorch counterpart/);
    const lm = await checkpointOf(
      { weights: join(FIXTURES, 'lm-lstm.safetensors'), vocab: join(FIXTURES, 'vocab.txt') },
      join(tmp, 'lm'),
    );
    await expect(exportRun({ checkpoint: lm, out: join(tmp, 'lm.safetensors'), withHead: true })).rejects.toThrow(
      /a word LM is written whole/,
    );
    writeFileSync(join(tmp, 'not-a-checkpoint.json'), '{}');
    await expect(exportRun({ checkpoint: join(tmp, 'not-a-checkpoint.json'), out })).rejects.toThrow(SeqlabError);
  });
});
