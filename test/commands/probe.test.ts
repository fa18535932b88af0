import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ProbeRunOptions, loadProbeSetup, probeRun } from '../../src/commands/probe.js';
import { readSafetensorsFile } from '../../src/data/safetensors.js';
import { SeqlabError } from '../../src/util/errors.js';

// `seqlab probe --weights` on PyTorch's files (test/fixtures/torch, scripts/torch-fixtures.py):
// the norms PyTorch's autograd gives, the cell and φ from the file, and real text through a word LM.

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
const json = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'seqlab-probe-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The probe's float32 sweep against autograd in float64, gap by gap. */
const JACOBIAN_TOL = 1e-5;

const BASE: ProbeRunOptions = {
  hiddenSize: 8,
  inputSize: 5,
  seqLen: 10,
  batch: 1,
  layer: 0,
  mode: 'h',
  spectral: true,
  allPairs: false,
  seed: 1,
  backend: 'test',
};

function errorOf(fn: () => unknown): SeqlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as Error).message).not.toContain('\n');
    return e as SeqlabError;
  }
  throw new Error('expected a SeqlabError');
}

describe('probe --weights a safetensors file', () => {
  for (const name of ['lstm', 'gru', 'rnn-tanh', 'rnn-relu']) {
    it(`${name}: ‖∂h_T/∂h_k‖ of each layer equal PyTorch's autograd, per sequence`, async () => {
      const ref = json(`cell-${name}.json`);
      const inputs = join(tmp, `${name}-inputs.json`);
      writeFileSync(inputs, JSON.stringify({ inputs: ref.inputs })); // [B][T][I]
      const weights = join(FIXTURES, `cell-${name}.safetensors`);
      // a ReLU RNN has a tanh RNN's shapes: the file does not say, so the option does
      const nonlinearity = name === 'rnn-relu' ? 'relu' : undefined;
      for (const layer of [0, 1]) {
        const res = await probeRun({ ...BASE, weights, inputs, layer, nonlinearity });
        expect(res).toMatchObject({ cell: name.slice(0, 3) === 'rnn' ? 'rnn' : name, hiddenSize: 8, layer });
        const perSeq: { gap: number; spectral: number; frobenius: number }[][] = ref.jacobians[layer].h;
        expect(res.jacobian.map((r) => r.gap)).toEqual(perSeq[0].map((r) => r.gap));
        perSeq.forEach((rows, b) => {
          rows.forEach((r, i) => {
            const got = res.jacobian[i];
            expect(Math.abs((got.spectralPerSeq as number[])[b] - r.spectral) / r.spectral).toBeLessThan(JACOBIAN_TOL);
            expect(Math.abs((got.frobeniusPerSeq as number[])[b] - r.frobenius) / r.frobenius).toBeLessThan(
              JACOBIAN_TOL,
            );
          });
        });
      }
    });
  }

  it('says where a plain RNN’s φ came from: the option, the file, or the tanh default', () => {
    const source = (weights: string, nonlinearity?: 'tanh' | 'relu') =>
      loadProbeSetup({ ...BASE, weights, nonlinearity }).nonlinearitySource;
    expect(source(join(FIXTURES, 'cell-rnn-tanh.safetensors'))).toBe('default');
    expect(source(join(FIXTURES, 'cell-rnn-relu.safetensors'), 'relu')).toBe('option');
    expect(source(join(FIXTURES, 'lm-rnn-relu.safetensors'))).toBe('file'); // metadata rnn_type RNN_RELU
    expect(loadProbeSetup({ ...BASE, weights: join(FIXTURES, 'lm-rnn-relu.safetensors') }).weights.nonlinearity).toBe(
      'relu',
    );
    expect(source(join(FIXTURES, 'cell-gru.safetensors'))).toBeNull();
    // seqlab's JSON weights: the file's "nonlinearity", else the option, else tanh; a contradiction is refused
    const { tensors } = readSafetensorsFile(join(FIXTURES, 'cell-rnn-relu.safetensors'));
    const rows = (t: { shape: number[]; data: Float32Array | Float64Array }) =>
      t.shape.length === 1
        ? Array.from(t.data)
        : Array.from({ length: t.shape[0] }, (_, r) =>
            Array.from(t.data.subarray(r * t.shape[1], (r + 1) * t.shape[1])),
          );
    const stateDict = Object.fromEntries([...tensors].map(([k, t]) => [k, rows(t)]));
    const bare = join(tmp, 'rnn.json');
    writeFileSync(bare, JSON.stringify({ cell: 'rnn', state_dict: stateDict }));
    const stated = join(tmp, 'rnn-relu.json');
    writeFileSync(stated, JSON.stringify({ cell: 'rnn', nonlinearity: 'relu', state_dict: stateDict }));
    expect(source(bare)).toBe('default');
    expect(source(bare, 'relu')).toBe('option');
    expect(source(stated)).toBe('file');
    expect(errorOf(() => source(stated, 'tanh')).message).toMatch(/a relu RNN's \("nonlinearity"\), not a tanh RNN's/);
  });

  it('takes --prefix to choose the module, and refuses it where it means nothing', () => {
    const lm = join(FIXTURES, 'lm-lstm.safetensors');
    expect(loadProbeSetup({ ...BASE, weights: lm, prefix: 'rnn.' }).weights).toMatchObject({
      cell: 'lstm',
      inputSize: 6,
    });
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights: lm, prefix: 'lstm.' })).message).toMatch(
      /has no tensor lstm\.weight_hh_l0/,
    );
    expect(errorOf(() => loadProbeSetup({ ...BASE, prefix: 'rnn.' })).message).toMatch(/prefix needs weights/);
  });

  it('reads a safetensors file by its first bytes whatever its name, and an empty file is one line', () => {
    const renamed = join(tmp, 'weights.bin');
    copyFileSync(join(FIXTURES, 'cell-gru.safetensors'), renamed);
    expect(loadProbeSetup({ ...BASE, weights: renamed }).weights.cell).toBe('gru');
    const empty = join(tmp, 'empty.safetensors');
    writeFileSync(empty, '');
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights: empty })).message).toMatch(/weights file is empty/);
  });
});

describe('probe on real text through a word LM (--weights, --vocab, --text)', () => {
  const weights = join(FIXTURES, 'lm-lstm.safetensors');
  const vocab = join(FIXTURES, 'vocab.txt');
  const text = join(FIXTURES, 'corpus', 'valid.txt');

  it('equals the probe of the same embedded tokens given as inputs, for each layer', async () => {
    // the windows by hand: words and <eos> per line, the first B·T tokens, B windows of T
    const words = readFileSync(text, 'utf8')
      .split('\n')
      .slice(0, -1)
      .flatMap((line) => [...line.split(/\s+/).filter(Boolean), '<eos>']);
    const ids = new Map(
      readFileSync(vocab, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((w, i) => [w, i]),
    );
    const encoder = readSafetensorsFile(weights).tensors.get('encoder.weight')!;
    const E = encoder.shape[1];
    const [T, B] = [15, 3];
    const inputs = Array.from({ length: B }, (_, b) =>
      Array.from({ length: T }, (_, t) => {
        const id = ids.get(words[b * T + t])!;
        return Array.from(encoder.data.subarray(id * E, (id + 1) * E));
      }),
    );
    const inputsFile = join(tmp, 'embedded.json');
    writeFileSync(inputsFile, JSON.stringify({ inputs }));
    const before = tf.memory().numTensors;
    for (const layer of [0, 1]) {
      const opts = { ...BASE, seqLen: T, batch: B, layer };
      const viaText = await probeRun({ ...opts, weights, vocab, text });
      const viaInputs = await probeRun({ ...opts, weights, prefix: 'rnn.', inputs: inputsFile });
      expect(viaText.text?.tokens).toEqual(Array.from({ length: B }, (_, b) => words.slice(b * T, (b + 1) * T)));
      expect(viaText.jacobian).toEqual(viaInputs.jacobian);
      expect(viaText.summary).toEqual(viaInputs.summary);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses too little text, a missing piece, and --inputs beside --text with one line each', () => {
    const short = join(tmp, 'short.txt');
    writeFileSync(short, 'the cat\n');
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights, vocab, text: short, seqLen: 10 })).message).toMatch(
      /has 3 tokens \(words and one <eos> a line\); batch 1 × seqLen 10 needs 10/,
    );
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights, text })).code).toBe('usage');
    expect(errorOf(() => loadProbeSetup({ ...BASE, vocab, text })).message).toMatch(
      /a text probe needs weights \(a word_language_model RNNModel\), vocab and text/,
    );
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights, vocab, text, inputs: short })).message).toMatch(
      /give text or inputs, not both/,
    );
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights, vocab, text, layer: 2 })).message).toMatch(
      /layer 2 is out of range: the model has 2 layer\(s\)/,
    );
    const unknown = join(tmp, 'unknown.txt');
    writeFileSync(unknown, `${'the zebra '.repeat(10)}\n`);
    expect(errorOf(() => loadProbeSetup({ ...BASE, weights, vocab, text: unknown })).message).toMatch(
      /the word "zebra" is not in the vocabulary \(38 words\), which has no <unk>/,
    );
  });
});
