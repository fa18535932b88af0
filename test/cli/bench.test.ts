import { describe, expect, it } from 'vitest';
import { expectOneLineError, runSeqlab } from './run.js';

// `seqlab bench --kernels`: the one kernel switch (src/compute/kernel-choice.ts) from the command line.

const tiny = ['--cell', 'gru', '--hidden', '6', '--vocab', '7', '--batch', '2', '--bptt', '3'];
const quick = ['--steps', '1', '--warmup', '0', '--no-probe', '--threads', '1', '--backend', 'wasm', '--json'];

describe('seqlab bench --kernels', () => {
  it('runs the step on the composite ops when asked, and says which kernels ran', async () => {
    for (const kernels of ['fused', 'composite']) {
      const r = await runSeqlab(['bench', ...tiny, ...quick, '--kernels', kernels]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.config.kernels).toBe(kernels);
      expect(out.seqlab.tokensPerSec).toBeGreaterThan(0);
    }
  });

  it('defaults to the fused kernels', async () => {
    const r = await runSeqlab(['bench', ...tiny, ...quick]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).config.kernels).toBe('fused');
  });

  it('rejects an unknown choice in one line', async () => {
    const r = await runSeqlab(['bench', ...tiny, ...quick, '--kernels', 'simd']);
    expectOneLineError(r, 2, /unknown kernels "simd"; use fused, composite/);
  });
});
