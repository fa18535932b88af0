import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProbeSetup, type ProbeRunOptions } from '../../src/commands/probe.js';
import { WASM_HEAP_BYTES, WASM_HEAP_RESERVE_BYTES, memoryLimits } from '../../src/compute/memory.js';
import { SequenceModel, countParams, modelConfigFor } from '../../src/models/model.js';
import { CELL_KINDS, type CellKind } from '../../src/models/registry.js';
import { RunDir } from '../../src/runlog/rundir.js';
import {
  CHECKPOINT_CHARS_PER_PARAM,
  MAX_STRING_CHARS,
  type ProbeShape,
  checkMemory,
  checkTime,
  formatBytes,
  probeFlops,
  probeMemory,
  trainMemory,
} from '../../src/training/budget.js';
import { forwardSequence } from '../../src/training/bptt.js';
import { writeCheckpoint } from '../../src/training/checkpoint.js';
import { TRAIN_DEFAULTS } from '../../src/training/config.js';
import { randomCell } from '../../src/models/model.js';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { SeqlabError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-budget-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GiB = 2 ** 30;
const probe = (s: Partial<ProbeShape>): ProbeShape => ({
  cell: 'lstm',
  hiddenSize: 128,
  inputSize: 16,
  seqLen: 100,
  batch: 1,
  mode: 'h',
  allPairs: false,
  layersBelow: 0,
  randomWeights: true,
  randomInputs: true,
  ...s,
});
const wasm = { backend: 'wasm', deviceBytes: WASM_HEAP_BYTES - WASM_HEAP_RESERVE_BYTES, hostBytes: 20 * GiB };
/** The message as the CLI prints it: fields as flags. */
const asFlags = (e: SeqlabError) =>
  e.messageWith((f) => ({ hiddenSize: '--hidden', seqLen: '--seq-len', batch: '--batch' })[f] ?? f);

function refusal(fn: () => void): SeqlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    return e as SeqlabError;
  }
  throw new Error('expected a refusal');
}

describe('size estimates', () => {
  it("the issue's two probes are refused on the wasm heap, naming what to lower", () => {
    // --hidden 100000: W_hh alone is 4·H² floats = 160 GB, far past a 4 GiB heap
    const wide = refusal(() => checkMemory('probe', probeMemory(probe({ hiddenSize: 100_000, seqLen: 10 })), wasm));
    expect(wide.code).toBe('usage');
    expect(asFlags(wide)).toMatch(/^probe needs about [\d.]+ TiB of tensor memory .*3\.8 GiB heap.*lower --hidden/);
    // --seq-len 1e8: the forward pass holds (8 + 2·4 + 2)·H floats a step: 1e8 · 18 · 128 · 4 bytes = 858 GiB
    const long = refusal(() => checkMemory('probe', probeMemory(probe({ seqLen: 100_000_000 })), wasm));
    expect(asFlags(long)).toMatch(/activations of 100000000 steps kept for the backward sweep: 858 GiB/);
    expect(asFlags(long)).toMatch(/lower --seq-len/);
  });

  it('the same sizes pass where the memory is there', () => {
    expect(() => checkMemory('probe', probeMemory(probe({})), wasm)).not.toThrow();
    const big = { backend: 'tensorflow', deviceBytes: null, hostBytes: 2 ** 50 };
    expect(() => checkMemory('probe', probeMemory(probe({ seqLen: 100_000_000 })), big)).not.toThrow();
    // host memory bounds a backend without a heap of its own
    const small = { backend: 'tensorflow', deviceBytes: null, hostBytes: 64 * 2 ** 20 };
    expect(asFlags(refusal(() => checkMemory('probe', probeMemory(probe({ seqLen: 100_000 })), small)))).toMatch(
      /needs about [\d.]+ MiB .*64 MiB free: lower --seq-len/,
    );
  });

  it('probe FLOP: forward 2·G·H·(I + H) and sweep 2·R·G·H² per step and sequence (by hand for a tiny RNN)', () => {
    // rnn, H 2, I 1, T 3, B 1: forward 3·2·1·2·(1 + 2) = 36; sweep 3·2·2·1·2·2 = 48
    expect(probeFlops(probe({ cell: 'rnn', hiddenSize: 2, inputSize: 1, seqLen: 3 }))).toBe(84);
    // LSTM state mode doubles the rows R
    const h = probeFlops(probe({ mode: 'h' }));
    const state = probeFlops(probe({ mode: 'state' }));
    const forward = 100 * 2 * 4 * 128 * (16 + 128);
    expect(state - forward).toBe(2 * (h - forward));
  });

  it('the spectra add their decompositions, the QR method and their arrays (by hand)', () => {
    // LSTM H 128, T 100, state mode (R = 2H = 256), 32 gaps, 16 exponents of S = 2H = 256
    const plain = probe({ mode: 'state' });
    const withSpectra = probe({ mode: 'state', spectrum: { gaps: 32, exponents: 16 } });
    expect(probeFlops(withSpectra) - probeFlops(plain)).toBe(32 * 4 * 256 ** 3 + 100 * 2 * 128 ** 2 * 16);
    const added = (name: string) => probeMemory(withSpectra).parts.find((p) => p.what.startsWith(name))?.bytes;
    expect(added('Jacobians kept')).toBe(4 * 32 * 256 * 256);
    expect(added('singular values')).toBe(4 * (2 * 32 * 256 + 4 * 256 * 256));
    expect(added('the Lyapunov basis')).toBe(4 * 6 * 256 * 16);
    expect(probeMemory(plain).parts.some((p) => p.what.startsWith('the Lyapunov'))).toBe(false);
    // more gaps than the spectra copy: decomposed as they come, one Jacobian at a time
    const all = probeMemory(probe({ mode: 'state', spectrum: { gaps: 100, exponents: 16 } }));
    expect(all.parts.find((p) => p.what.startsWith('Jacobians kept'))?.bytes).toBe(4 * 256 * 256);
  });

  for (const cell of CELL_KINDS) {
    it(`${cell}: the forward pass's kept activations are what the estimate says (measured on the backend)`, () => {
      const [T, B, I, H] = [12, 3, 5, 8];
      const c = randomCell(cell as CellKind, I, H, CELL_DEFAULTS, new Rng(1));
      const xs = tf.randomNormal([T, B, I]) as tf.Tensor3D;
      const s0 = c.initState(B);
      const before = tf.memory().numBytes;
      let heldBytes = 0;
      tf.tidy(() => {
        forwardSequence(c, xs, s0);
        heldBytes = tf.memory().numBytes - before;
      });
      tf.dispose([xs, ...s0]);
      c.dispose();
      const estimated = probeMemory(
        probe({ cell: cell as CellKind, hiddenSize: H, inputSize: I, seqLen: T, batch: B }),
      );
      const forward = estimated.parts.find((p) => p.what.startsWith('activations'));
      // the estimate counts the step outputs and the input projection; tidy also holds a few
      // reshapes and the stacked h's (≤ 2·T·B·H more)
      expect(forward?.bytes).toBeGreaterThan(0);
      expect(heldBytes / (forward?.bytes ?? 1)).toBeGreaterThan(0.9);
      expect(heldBytes / (forward?.bytes ?? 1)).toBeLessThan(1.35);
    });
  }

  it('checkpoint.json takes about CHECKPOINT_CHARS_PER_PARAM characters a parameter', async () => {
    const config = modelConfigFor({ inputSize: 3, outputSize: 2 }, { cell: 'lstm', hiddenSize: 24 });
    const model = SequenceModel.random(config, new Rng(2));
    const dir = RunDir.create(join(tmp, 'ck'));
    await writeCheckpoint(model, dir, 0, TRAIN_DEFAULTS);
    model.dispose();
    const chars = readFileSync(dir.file('checkpoint.json'), 'utf8').length;
    const perParam = chars / countParams(config);
    expect(perParam).toBeGreaterThan(0.85 * CHECKPOINT_CHARS_PER_PARAM);
    expect(perParam).toBeLessThan(1.1 * CHECKPOINT_CHARS_PER_PARAM);
  });

  it("Zaremba's medium model on Brown's vocabulary is refused: its checkpoint.json is longer than a JS string", () => {
    const model = modelConfigFor(
      { inputSize: 0, outputSize: 14_115, vocabSize: 14_115 },
      { cell: 'lstm', hiddenSize: 650, numLayers: 2 },
    );
    expect(countParams(model) * CHECKPOINT_CHARS_PER_PARAM).toBeGreaterThan(MAX_STRING_CHARS);
    const shape = {
      model,
      batchSize: 20,
      chunkLen: 35,
      readout: 'every' as const,
      optimizer: 'sgd',
      threads: 2,
      eval: { batchSize: 10, seqLen: 35 },
      probe: null,
      dataFloats: 0,
      checkpoint: true,
    };
    const big = { backend: 'tensorflow', deviceBytes: null, hostBytes: 2 ** 50 };
    const e = refusal(() => checkMemory('train', trainMemory(shape), big));
    expect(e.message).toMatch(/checkpoint\.json would be about [\d.]+ MiB of JSON, more than the 512 MiB/);
    // without a run directory nothing is written, and the model itself fits
    expect(() => checkMemory('train', trainMemory({ ...shape, checkpoint: false }), big)).not.toThrow();
  });

  it('the LM logits [bptt·batch·V] dominate a large-vocabulary step', () => {
    const model = modelConfigFor(
      { inputSize: 0, outputSize: 200_000, vocabSize: 200_000 },
      { cell: 'lstm', hiddenSize: 32 },
    );
    const est = trainMemory({
      model,
      batchSize: 64,
      chunkLen: 70,
      readout: 'every',
      optimizer: 'sgd',
      threads: 1,
      eval: { batchSize: 10, seqLen: 70 },
      probe: null,
      dataFloats: 0,
      checkpoint: false,
    });
    expect(est.parts[0].what).toBe('logits [70·64·200000]');
    expect(est.parts[0].bytes).toBe((70 * 64 * 200_000 * 2 + 70 * 64 * 32) * 4);
    const e = refusal(() => checkMemory('train', est, wasm));
    expect(e.messageWith((f) => `<${f}>`)).toMatch(/lower <bptt>, <batchSize> or <vocabSize>/);
  });

  it('time: refused past maxHours with how to run it anyway; 0 = no limit', () => {
    const e = refusal(() => checkTime('probe', 7200, 1, ['seqLen']));
    expect(e.messageWith((f) => `--${f}`)).toMatch(
      /^probe would take at least 2 hours \(more than --maxHours 1\): lower --seqLen, or pass --maxHours 0/,
    );
    expect(() => checkTime('probe', 7200, 0, ['seqLen'])).not.toThrow();
    expect(() => checkTime('probe', 3500, 1, ['seqLen'])).not.toThrow();
  });

  it('loadProbeSetup refuses before drawing any weights (milliseconds, no typed array of that size)', () => {
    const opts: ProbeRunOptions = {
      cell: 'lstm',
      hiddenSize: 100_000,
      inputSize: 16,
      seqLen: 10,
      batch: 1,
      layer: 0,
      mode: 'h',
      spectral: true,
      allPairs: false,
      seed: 1,
      backend: 'wasm',
    };
    const t0 = performance.now();
    expect(() => loadProbeSetup(opts)).toThrow(/needs about .* lower hiddenSize/);
    expect(() => loadProbeSetup({ ...opts, hiddenSize: 128, seqLen: 100_000_000 })).toThrow(/lower seqLen/);
    // fits in memory but would run for hours: refused unless maxHours says otherwise
    const slow = { ...opts, hiddenSize: 1024, seqLen: 30_000 };
    expect(() => loadProbeSetup(slow)).toThrow(/would take at least [\d.]+ hours/);
    expect(performance.now() - t0).toBeLessThan(500);
    const small = { ...opts, hiddenSize: 4, seqLen: 3000 };
    expect(() => loadProbeSetup({ ...small, maxHours: 1e-6 })).toThrow(/would take at least 1 min/);
    expect(loadProbeSetup({ ...small, maxHours: 0 }).inputs.T).toBe(3000);
  });

  it('memoryLimits: the wasm heap less the reserve and what tensors hold; formatBytes reads as people do', () => {
    const limits = memoryLimits('wasm');
    expect(limits.backend).toBe('wasm');
    expect(limits.deviceBytes).toBeLessThanOrEqual(WASM_HEAP_BYTES - WASM_HEAP_RESERVE_BYTES);
    expect(limits.deviceBytes).toBeGreaterThan(3 * GiB);
    expect(limits.hostBytes).toBeGreaterThan(0);
    expect(memoryLimits('cpu').deviceBytes).toBeNull();
    expect([formatBytes(512), formatBytes(1536), formatBytes(150 * GiB), formatBytes(3.75 * GiB)]).toEqual([
      '512 bytes',
      '1.5 KiB',
      '150 GiB',
      '3.8 GiB',
    ]);
  });
});
