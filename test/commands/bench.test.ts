import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { benchGradflowOverhead, benchProbe, benchTrainStep } from '../../src/commands/bench.js';

describe('bench', () => {
  it('times the LM training step and reports memory across the timed steps (no tensors left behind)', async () => {
    const before = tf.memory().numTensors;
    const r = await benchTrainStep({
      cell: 'gru',
      hidden: 8,
      vocab: 13,
      batch: 3,
      bptt: 4,
      steps: 3,
      warmup: 1,
      threads: 1,
    });
    expect(r.threads).toBe(1);
    expect(r.tokensPerSec).toBeGreaterThan(0);
    expect(r.memory.rssMiB).toHaveLength(4); // after the warm-up and after each of the 3 steps
    expect(r.memory.tensors.every((n) => n === r.memory.tensors[0])).toBe(true);
    expect(r.memory.peakRssMiB).toBeGreaterThanOrEqual(Math.max(...r.memory.rssMiB) - 1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('times the probe alone and with the spectra: a first call and a warm one, no tensors left behind', async () => {
    const before = tf.memory().numTensors;
    const r = await benchProbe('lstm', 8, 30, 2);
    expect(r).toMatchObject({ cell: 'lstm', hidden: 8, T: 30 });
    for (const t of [r, r.spectrum]) {
      expect(t.ms).toBeGreaterThan(0);
      expect(t.cpuMs).toBeGreaterThan(0);
      expect(t.firstMs).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('measures the gradient-flow logging overhead with probes and spectra, probes only, and off', async () => {
    const r = await benchGradflowOverhead({ cell: 'rnn', hidden: 4, seqLen: 5, steps: 3, repeats: 1 });
    expect(r.withProbesMs).toBeGreaterThan(0);
    expect(r.withoutSpectraMs).toBeGreaterThan(0);
    expect(r.withoutProbesMs).toBeGreaterThan(0);
    expect(r.withProbesCpuMs).toBeGreaterThan(0);
    expect(r.probeMs).toBeGreaterThan(0); // probes ran (before training and at the end)
    expect(r.probeSharePercent).toBeGreaterThan(0);
    expect(r.spectraSharePercent).toBeGreaterThanOrEqual(0); // the spectra at step 0
    expect(r.spectraSharePercent).toBeLessThanOrEqual(r.probeSharePercent);
  });
});
