import { describe, expect, it } from 'vitest';
import { aggregateSeeds, censoredMedian, groupBySeed, type SeedAggregate } from '../../src/report/aggregate.js';
import type { Cell } from '../../src/report/sweep-table.js';
import { SeqlabError } from '../../src/util/errors.js';

// Aggregates over seeds worked by hand. The t quantiles are closed forms, independent of
// src/report/student-t.ts (which test/report/student-t.test.ts holds to them):
//   t_{0.975,1} = tan(0.475 π)                       (Cauchy)
//   t_{0.975,2} = 0.95 · √(2 / (4 · 0.975 · 0.025))  (ν = 2: t = (2p − 1) √(2 / (4p(1 − p))))
//   t_{0.975,4} = 2 √(q − 1), q = cos(⅓ arccos √α) / √α, α = 4 · 0.975 · 0.025
const T1 = Math.tan(0.475 * Math.PI); // 12.7062…
const T2 = 0.95 * Math.sqrt(2 / (4 * 0.975 * 0.025)); // 4.3027…
const ALPHA = 4 * 0.975 * 0.025;
const T4 = 2 * Math.sqrt(Math.cos(Math.acos(Math.sqrt(ALPHA)) / 3) / Math.sqrt(ALPHA) - 1); // 2.7764…

const bySeed = (values: (number | null)[]) => values.map((value, i) => ({ seed: i + 1, value }));

/** Every number of `got` within `digits` decimals of `want`. */
function expectClose(aggregate: SeedAggregate, want: Record<string, number | [number, number]>, digits = 14) {
  const got = aggregate as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(want)) {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) expect((got[k] as number[])[i], `${k}[${i}]`).toBeCloseTo(x, digits);
    } else expect(got[k], k).toBeCloseTo(v, digits);
  }
}

describe('aggregateSeeds', () => {
  it('two seeds: 0.10 and 0.30', () => {
    // x̄ = 0.2; Σ(x − x̄)² = 0.01 + 0.01 = 0.02, s² = 0.02 / 1, s = √0.02;
    // half width = t_{0.975,1} · s / √2 = T1 · √0.01 = 0.1 · T1 ≈ 1.2706
    const a = aggregateSeeds(bySeed([0.1, 0.3]));
    expect(a.n).toBe(2);
    expectClose(a, { mean: 0.2, sd: Math.sqrt(0.02), halfWidth: 0.1 * T1, ci: [0.2 - 0.1 * T1, 0.2 + 0.1 * T1] });
  });

  it('three seeds: 1, 2, 6', () => {
    // x̄ = 3; Σ(x − x̄)² = 4 + 1 + 9 = 14, s² = 14 / 2 = 7, s = √7;
    // half width = T2 · √7 / √3 = T2 · √(7/3) ≈ 4.3027 · 1.5275 ≈ 6.5724
    const a = aggregateSeeds(bySeed([1, 2, 6]));
    expectClose(a, { n: 3, mean: 3, sd: Math.sqrt(7), halfWidth: T2 * Math.sqrt(7 / 3) }, 13);
    expect(a.halfWidth!).toBeCloseTo(6.5724, 4);
  });

  it('five seeds of a final MSE: 0.12, 0.15, 0.11, 0.14, 0.13', () => {
    // x̄ = 0.65 / 5 = 0.13; deviations −0.01, 0.02, −0.02, 0.01, 0:
    //   Σ(x − x̄)² = 0.0001 + 0.0004 + 0.0004 + 0.0001 = 0.001, s² = 0.001 / 4 = 0.00025, s = 0.015811…;
    //   half width = T4 · s / √5 = T4 · √0.00005 ≈ 2.7764 · 0.0070711 ≈ 0.019632
    const a = aggregateSeeds(bySeed([0.12, 0.15, 0.11, 0.14, 0.13]));
    expectClose(a, { n: 5, mean: 0.13, sd: Math.sqrt(0.00025), halfWidth: T4 * Math.sqrt(0.00005) });
    expect(a.halfWidth!).toBeCloseTo(0.019632, 6);
    expect(a.seeds).toEqual([1, 2, 3, 4, 5]);
    expect(a.excluded).toEqual([]);
  });

  it('counts, excludes and names the seeds without a finite value', () => {
    // seeds 1 and 4 remain: x̄ = 0.6, s = √0.02, half width = 0.1 · T1 as for 0.1 and 0.3
    const a = aggregateSeeds(bySeed([0.5, null, NaN, 0.7, Infinity, -Infinity]));
    expectClose(a, { n: 2, mean: 0.6, sd: Math.sqrt(0.02), halfWidth: 0.1 * T1 });
    expect(a.seeds).toEqual([1, 4]);
    expect(a.excluded).toEqual([
      { seed: 2, reason: 'missing' },
      { seed: 3, reason: 'NaN' },
      { seed: 5, reason: 'Infinity' },
      { seed: 6, reason: '-Infinity' },
    ]);
    // NaN never reaches the JSON that --json would print
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('one seed has a mean but no spread; none has nothing', () => {
    expect(aggregateSeeds(bySeed([0.4, null]))).toMatchObject({ n: 1, mean: 0.4, sd: null, halfWidth: null, ci: null });
    expect(aggregateSeeds(bySeed([NaN]))).toMatchObject({ n: 0, mean: null, sd: null, ci: null, seeds: [] });
    expect(aggregateSeeds([])).toMatchObject({ n: 0, mean: null, excluded: [] });
  });

  it('takes another level: 90 % from t_{0.95,1} = tan(0.45 π)', () => {
    const a = aggregateSeeds(bySeed([0.1, 0.3]), 0.9);
    expectClose(a, { halfWidth: 0.1 * Math.tan(0.45 * Math.PI), level: 0.9 });
  });

  it('keeps its digits on a large offset (two passes)', () => {
    // 1e9 + 1, 2, 3: x̄ = 1e9 + 2, s = 1 exactly; one pass (Σx² − n x̄²) would lose it to cancellation
    const a = aggregateSeeds(bySeed([1e9 + 1, 1e9 + 2, 1e9 + 3]));
    expect([a.mean, a.sd]).toEqual([1e9 + 2, 1]);
  });

  it('refuses a seed listed twice and a level outside (0, 1), naming them', () => {
    const twice = () =>
      aggregateSeeds([
        { seed: 3, value: 1 },
        { seed: 3, value: 2 },
      ]);
    expect(twice).toThrow(SeqlabError);
    expect(twice).toThrow(/seed 3 is listed twice/);
    expect(() => aggregateSeeds(bySeed([1, 2]), 95)).toThrow(/level must be between 0 and 1.*got 95/);
  });
});

describe('groupBySeed', () => {
  // a 2 × 2 grid over 3 seeds, rows as in a sweep's results table; one run diverged
  const grid: [string, number][] = [
    ['rnn', 10],
    ['rnn', 20],
    ['gru', 10],
    ['gru', 20],
  ];
  const mse = (i: number, seed: number) => (i === 1 && seed === 2 ? null : 0.1 * (i + 1) + 0.01 * seed);
  const row = (i: number, seed: number): Record<string, Cell> => ({
    name: `cell=${grid[i][0]} seq-len=${grid[i][1]} seed=${seed}`,
    cell: grid[i][0],
    'seq-len': grid[i][1],
    seed,
    status: mse(i, seed) === null ? 'diverged' : 'completed',
    mse: mse(i, seed),
  });
  const seedsFastest = grid.flatMap((_, i) => [1, 2, 3].map((s) => row(i, s)));
  const seedsSlowest = [1, 2, 3].flatMap((s) => grid.map((_, i) => row(i, s)));
  const opts = { settings: ['cell', 'seq-len', 'seed'], metrics: ['mse'] };

  it('gives one group per configuration, its settings without the seed, in grid order', () => {
    const groups = groupBySeed(seedsFastest, opts);
    expect(groups.map((g) => g.settings)).toEqual(grid.map(([cell, len]) => ({ cell, 'seq-len': len })));
    // configuration 0: 0.11, 0.12, 0.13 → x̄ = 0.12, s = 0.01, half width = T2 · 0.01 / √3
    expectClose(groups[0].metrics.mse, { n: 3, mean: 0.12, sd: 0.01, halfWidth: (T2 * 0.01) / Math.sqrt(3) });
    // configuration 1 lost seed 2: 0.21, 0.23 → x̄ = 0.22, s = √0.0002, half width = T1 · 0.01
    expectClose(groups[1].metrics.mse, { n: 2, mean: 0.22, sd: Math.sqrt(0.0002), halfWidth: 0.01 * T1 });
    expect(groups[1].metrics.mse.excluded).toEqual([{ seed: 2, reason: 'missing' }]);
  });

  it('does not depend on whether the seed axis varies fastest or slowest', () => {
    expect(groupBySeed(seedsSlowest, opts)).toEqual(groupBySeed(seedsFastest, opts));
  });

  it('equals aggregateSeeds on each configuration', () => {
    const groups = groupBySeed(seedsFastest, opts);
    for (const i of grid.keys())
      expect(groups[i].metrics.mse).toEqual(aggregateSeeds([1, 2, 3].map((seed) => ({ seed, value: mse(i, seed) }))));
  });

  it('refuses a row without a seed, naming the column', () => {
    const bad = [{ ...row(0, 1), seed: null }];
    expect(() => groupBySeed(bad, opts)).toThrow(/every row needs an integer "seed", got null/);
  });
});

describe('censoredMedian', () => {
  // null = not within the bound (target never reached, no vanishing within T): larger than every number
  it('counts the seeds that reached, and takes the median with the others ranked last', () => {
    // 300, 500, ∞ → median 500
    expect(censoredMedian(bySeed([500, null, 300]))).toEqual({ n: 3, reached: 2, median: 500 });
    // 200, 400, 600, ∞ → (400 + 600) / 2 = 500
    expect(censoredMedian(bySeed([600, 200, null, 400]))).toEqual({ n: 4, reached: 3, median: 500 });
    // 100, ∞, ∞ → the median is censored
    expect(censoredMedian(bySeed([null, 100, null]))).toEqual({ n: 3, reached: 1, median: null });
    // 100, 200, ∞, ∞ → the upper middle is censored
    expect(censoredMedian(bySeed([null, 100, null, 200]))).toEqual({ n: 4, reached: 2, median: null });
    expect(censoredMedian([])).toEqual({ n: 0, reached: 0, median: null });
  });

  it('refuses a seed listed twice, and NaN (a diverged run is not a censored one)', () => {
    expect(() =>
      censoredMedian([
        { seed: 1, value: 3 },
        { seed: 1, value: null },
      ]),
    ).toThrow(/seed 1 is listed twice/);
    expect(() => censoredMedian(bySeed([3, NaN]))).toThrow(/seed 2 has NaN; leave out the runs that diverged/);
  });
});
