import { describe, expect, it } from 'vitest';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { type CellKind, initialWeights } from '../../src/models/registry.js';
import { INIT_DEFAULTS, INITS, initRecurrentLayer, randomOrthogonal, type InitOptions } from '../../src/models/init.js';
import { randomCell } from '../../src/models/model.js';
import { Rng } from '../../src/util/rng.js';
import { matMul64, transpose64 } from '../reference/cells64.js';

// Initializers (src/models/init.ts): shapes, bounds and moments, orthogonality, determinism.
// Moments are checked to 5 standard errors on ≥ 600 draws, so a fixed seed is far from the edge.

const GATES: Readonly<Record<CellKind, number>> = { rnn: 1, lstm: 4, gru: 3 };
const KINDS: CellKind[] = ['rnn', 'lstm', 'gru'];

const opts = (init: InitOptions['init'], extra: Partial<InitOptions> = {}): InitOptions => ({
  ...INIT_DEFAULTS,
  init,
  ...extra,
});

function moments(xs: ArrayLike<number>): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let maxAbs = 0;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i];
    maxAbs = Math.max(maxAbs, Math.abs(xs[i]));
  }
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length), maxAbs };
}

/** Gate block g of a [gates·H, cols] matrix: rows g·H … (g+1)·H − 1. */
const block = (m: Float64Array, g: number, H: number, cols: number) => m.subarray(g * H * cols, (g + 1) * H * cols);

/** Sample std within 5 standard errors of σ (SE of a std ≈ σ/√(2n)). */
function expectStd(xs: ArrayLike<number>, sigma: number): void {
  const { mean, std } = moments(xs);
  expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(xs.length));
  expect(Math.abs(std - sigma)).toBeLessThan((5 * sigma) / Math.sqrt(2 * xs.length));
}

/**
 * U(±bound): every entry inside, the extremes near the bound, variance bound²/3 (SE of a variance of U
 * ≈ bound²·0.30/√n).
 */
function expectUniform(xs: ArrayLike<number>, bound: number): void {
  const { mean, std, maxAbs } = moments(xs);
  expect(maxAbs).toBeLessThanOrEqual(bound);
  expect(maxAbs).toBeGreaterThan(0.97 * bound);
  expect(Math.abs(mean)).toBeLessThan((5 * bound) / Math.sqrt(3 * xs.length));
  expect(Math.abs(std ** 2 - bound ** 2 / 3)).toBeLessThan((5 * 0.3 * bound ** 2) / Math.sqrt(xs.length));
}

const allZero = (xs: ArrayLike<number>) => Array.from(xs).every((x) => x === 0);

describe('initRecurrentLayer', () => {
  it.each(INITS)('%s: PyTorch-layout shapes for 1, 3 and 4 gate blocks', (init) => {
    const [I, H] = [3, 5];
    for (const gates of [1, 3, 4]) {
      const w = initRecurrentLayer(new Rng('shape'), gates, I, H, opts(init));
      expect(w.weight_ih).toHaveLength(gates * H * I);
      expect(w.weight_hh).toHaveLength(gates * H * H);
      expect(w.bias_ih).toHaveLength(gates * H);
      expect(w.bias_hh).toHaveLength(gates * H);
      for (const a of Object.values(w)) expect(Array.from(a).every(Number.isFinite)).toBe(true);
    }
  });

  it('pytorch: every weight and bias U(±1/√H)', () => {
    const [I, H] = [10, 30];
    const w = initRecurrentLayer(new Rng('pytorch'), 4, I, H, opts('pytorch'));
    const k = 1 / Math.sqrt(H);
    expectUniform(w.weight_ih, k);
    expectUniform(w.weight_hh, k);
    expectUniform([...w.bias_ih, ...w.bias_hh], k);
  });

  it('normal: weights N(0, initStd²), biases 0', () => {
    const [I, H] = [10, 30];
    const w = initRecurrentLayer(new Rng('normal'), 4, I, H, opts('normal', { initStd: 0.3 }));
    expectStd(w.weight_ih, 0.3);
    expectStd(w.weight_hh, 0.3);
    expect(allZero(w.bias_ih) && allZero(w.bias_hh)).toBe(true);
  });

  it('xavier: each gate block U(±√(6/(fanIn + H))), biases 0', () => {
    const [I, H] = [6, 40];
    const w = initRecurrentLayer(new Rng('xavier'), 3, I, H, opts('xavier'));
    for (let g = 0; g < 3; g++) {
      expectUniform(block(w.weight_ih, g, H, I), Math.sqrt(6 / (I + H)));
      expectUniform(block(w.weight_hh, g, H, H), Math.sqrt(6 / (H + H)));
    }
    expect(allZero(w.bias_ih) && allZero(w.bias_hh)).toBe(true);
  });

  it('he: each gate block N(0, 2/fanIn), biases 0', () => {
    const [I, H] = [8, 40];
    const w = initRecurrentLayer(new Rng('he'), 4, I, H, opts('he'));
    for (let g = 0; g < 4; g++) {
      expectStd(block(w.weight_ih, g, H, I), Math.sqrt(2 / I));
      expectStd(block(w.weight_hh, g, H, H), Math.sqrt(2 / H));
    }
    expect(allZero(w.bias_ih) && allZero(w.bias_hh)).toBe(true);
  });

  it('orthogonal: each recurrent block has Q Qᵀ = QᵀQ = I (1e−10), input blocks xavier, biases 0', () => {
    const [I, H] = [5, 12];
    const w = initRecurrentLayer(new Rng('orthogonal'), 4, I, H, opts('orthogonal'));
    const blocks = [0, 1, 2, 3].map((g) => block(w.weight_hh, g, H, H));
    for (const q of blocks) {
      const qt = transpose64(q, H, H);
      for (const prod of [matMul64(q, qt, H, H, H), matMul64(qt, q, H, H, H)]) {
        for (let i = 0; i < H; i++)
          for (let j = 0; j < H; j++) expect(Math.abs(prod[i * H + j] - (i === j ? 1 : 0))).toBeLessThan(1e-10);
      }
    }
    // independent draws per gate, not one Q repeated
    expect(Array.from(blocks[0])).not.toEqual(Array.from(blocks[1]));
    for (let g = 0; g < 4; g++)
      expect(moments(block(w.weight_ih, g, H, I)).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / (I + H)));
    expect(allZero(w.bias_ih) && allZero(w.bias_hh)).toBe(true);
  });

  it('identity: each recurrent block = identityScale·I, input N(0, 0.001²), biases 0', () => {
    const [I, H] = [20, 8];
    const w = initRecurrentLayer(new Rng('identity'), 3, I, H, opts('identity', { identityScale: 0.9 }));
    for (let g = 0; g < 3; g++) {
      const b = block(w.weight_hh, g, H, H);
      for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) expect(b[i * H + j]).toBe(i === j ? 0.9 : 0);
    }
    expectStd(w.weight_ih, 0.001);
    expect(allZero(w.bias_ih) && allZero(w.bias_hh)).toBe(true);
  });

  it.each(INITS)('%s: the same seed gives the same weights, another seed other weights', (init) => {
    const make = (seed: string) => initRecurrentLayer(new Rng(seed), 4, 3, 6, opts(init));
    const [a, b, c] = [make('s1'), make('s1'), make('s2')];
    for (const name of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const)
      expect(Array.from(b[name])).toEqual(Array.from(a[name]));
    // identity's recurrent blocks and the zero biases do not depend on the seed; the input weights always do
    expect(Array.from(c.weight_ih)).not.toEqual(Array.from(a.weight_ih));
    if (init !== 'identity') expect(Array.from(c.weight_hh)).not.toEqual(Array.from(a.weight_hh));
  });
});

describe('randomOrthogonal', () => {
  it('is orthogonal to 1e−10 for n = 1 … 9', () => {
    const rng = new Rng('ortho');
    for (let n = 1; n <= 9; n++) {
      const q = randomOrthogonal(rng, n);
      const prod = matMul64(q, transpose64(q, n, n), n, n, n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) expect(Math.abs(prod[i * n + j] - (i === j ? 1 : 0))).toBeLessThan(1e-10);
    }
  });
});

describe('initialWeights (registry.ts)', () => {
  it('LSTM forgetBias sets the f block of bias_ih (rows H…2H) and zeroes that of bias_hh, nothing else', () => {
    const [I, H] = [3, 5];
    const base = initialWeights('lstm', I, H, CELL_DEFAULTS, new Rng('fb'));
    const fb = initialWeights('lstm', I, H, { ...CELL_DEFAULTS, forgetBias: 1 }, new Rng('fb'));
    for (let r = 0; r < 4 * H; r++) {
      const isF = r >= H && r < 2 * H;
      expect(fb.bias_ih[r]).toBe(isF ? 1 : base.bias_ih[r]);
      expect(fb.bias_hh[r]).toBe(isF ? 0 : base.bias_hh[r]);
    }
    expect(Array.from(fb.weight_ih)).toEqual(Array.from(base.weight_ih));
    expect(Array.from(fb.weight_hh)).toEqual(Array.from(base.weight_hh));
  });

  it.each(['rnn', 'gru'] as const)('%s ignores forgetBias', (kind) => {
    const base = initialWeights(kind, 3, 5, CELL_DEFAULTS, new Rng('fb'));
    const fb = initialWeights(kind, 3, 5, { ...CELL_DEFAULTS, forgetBias: 1 }, new Rng('fb'));
    expect(Array.from(fb.bias_ih)).toEqual(Array.from(base.bias_ih));
    expect(Array.from(fb.bias_hh)).toEqual(Array.from(base.bias_hh));
  });

  it.each(KINDS)('%s: randomCell holds initialWeights, in PyTorch layout (stateDict round trip)', async (kind) => {
    const [I, H] = [3, 4];
    const cellOpts = { ...CELL_DEFAULTS, forgetBias: kind === 'lstm' ? 2 : null };
    const w = initialWeights(kind, I, H, cellOpts, new Rng('cell'));
    const cell = randomCell(kind, I, H, cellOpts, new Rng('cell'), `init-${kind}`);
    try {
      const sd = await cell.stateDict();
      const G = GATES[kind] * H;
      expect(sd.weight_ih).toHaveLength(G);
      expect((sd.weight_ih as number[][])[0]).toHaveLength(I);
      expect((sd.weight_hh as number[][])[0]).toHaveLength(H);
      for (const name of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'] as const) {
        const got = (sd[name] as number[] | number[][]).flat();
        for (const [i, v] of got.entries()) expect(v).toBeCloseTo(w[name][i], 6);
      }
      if (kind === 'lstm') expect((sd.bias_ih as number[]).slice(H, 2 * H)).toEqual([2, 2, 2, 2]);
    } finally {
      cell.dispose();
    }
  });
});
