import { describe, expect, it } from 'vitest';
import { aggregateSeeds, type SeedGroup } from '../../src/report/aggregate.js';
import { interval, meanSd, reachedMedian, seedsRows, seedsSummary, seedsTable } from '../../src/report/seeds-table.js';
import { type SweepResults, sweepSeeds } from '../../src/report/sweep-table.js';

const bySeed = (values: (number | null)[]) => values.map((value, i) => ({ seed: i + 1, value }));

describe('the cells of a seeds table', () => {
  it('mean ± sd, the interval, and fewer seeds', () => {
    // 1, 2, 6: x̄ = 3, s = √7 = 2.6457…
    const a = aggregateSeeds(bySeed([1, 2, 6]));
    expect(meanSd(a)).toBe('3.000 ± 2.6');
    expect(interval(a)).toMatch(/^\[-3\.\d{3}, 9\.\d{3}\]$/);
    const one = aggregateSeeds(bySeed([0.25]));
    expect([meanSd(one), interval(one)]).toEqual(['0.2500', '-']);
    const none = aggregateSeeds(bySeed([null]));
    expect([meanSd(none), interval(none)]).toEqual(['-', '-']);
  });

  it('k of n · median, and the bound when the median seed is beyond it', () => {
    expect(reachedMedian({ n: 5, reached: 3, median: 600, bound: 1000 })).toBe('3 of 5 · 600');
    expect(reachedMedian({ n: 5, reached: 2, median: null, bound: 1000 })).toBe('2 of 5 · >1000');
    expect(reachedMedian({ n: 0, reached: 0, median: null, bound: null })).toBe('-');
  });
});

// two configurations over seeds 1–3; the second lost seed 3 (a missing run)
const groups: SeedGroup[] = [
  {
    settings: { cell: 'rnn', 'seq-len': 10 },
    seeds: [1, 2, 3],
    metrics: { mse: aggregateSeeds(bySeed([0.1, 0.2, 0.6])), decayPerStep: aggregateSeeds(bySeed([0.5, 0.5, 0.5])) },
    censored: { horizon: { n: 3, reached: 3, median: 7, bound: 10 } },
  },
  {
    settings: { cell: 'gru', 'seq-len': 10 },
    seeds: [1, 2, 3],
    metrics: {
      mse: aggregateSeeds(bySeed([0.01, 0.03, null])),
      decayPerStep: aggregateSeeds(bySeed([0.1, 0.3, null])),
    },
    censored: { horizon: { n: 2, reached: 0, median: null, bound: 10 } },
  },
];

describe('seedsTable and seedsSummary', () => {
  it('show the settings that differ, n (k of n when seeds are missing), the main metric with its interval', () => {
    const t = seedsSummary(groups, 'mse');
    expect(t.header).toEqual(['cell', 'n', 'mse mean ± sd', '95 % CI', 'horizon', 'decay/step']);
    expect(t.rows[0]).toEqual(['rnn', '3', '0.3000 ± 0.26', interval(groups[0].metrics.mse), '3 of 3 · 7', '0.50 ± 0']);
    expect(t.rows[1].slice(0, 3)).toEqual(['gru', '2 of 3', '0.02000 ± 0.014']);
    expect(t.rows[1][4]).toBe('0 of 2 · >10');
  });

  it('take their columns as asked', () => {
    const t = seedsTable(groups, [
      { kind: 'setting', key: 'seq-len', title: 'T' },
      { kind: 'mean', key: 'nothing', title: 'x' },
    ]);
    expect(t).toEqual({
      header: ['T', 'x'],
      rows: [
        ['10', '-'],
        ['10', '-'],
      ],
    });
  });

  it('flatten to seeds.csv rows: per metric n, mean, sd and the interval; per censored measure its counts', () => {
    const { columns, rows } = seedsRows(groups);
    expect(columns).toEqual([
      'cell',
      'seq-len',
      'seeds',
      ...['mse', 'decayPerStep'].flatMap((m) => ['n', 'mean', 'sd', 'ci95.lo', 'ci95.hi'].map((x) => `${m}.${x}`)),
      'horizon.n',
      'horizon.reached',
      'horizon.median',
      'horizon.bound',
    ]);
    expect(rows[1]).toMatchObject({
      cell: 'gru',
      seeds: '1 2 3',
      'mse.n': 2,
      'mse.mean': 0.02,
      'horizon.median': null,
    });
    expect(rows[1]['mse.ci95.lo']).toBe(groups[1].metrics.mse.ci![0]);
  });
});

describe('sweepSeeds', () => {
  const row = (cell: string, seed: number, mse: number | null, horizon: number | null, status = 'completed') => ({
    name: `cell=${cell} seed=${seed}`,
    cell,
    seed,
    status,
    steps: status === 'missing' ? null : 100,
    params: null,
    loss: mse,
    mse,
    horizon,
    probeT: status === 'missing' ? null : 20,
    decayPerStep: status === 'missing' ? null : 0.2,
  });
  const results: SweepResults = {
    columns: ['name', 'cell', 'seed', 'status', 'steps', 'params', 'loss', 'mse', 'horizon', 'probeT', 'decayPerStep'],
    varying: ['cell', 'seed'],
    rows: [
      row('rnn', 1, 0.2, 5),
      row('rnn', 2, 0.4, null),
      row('gru', 1, 0.1, null),
      row('gru', 2, null, null, 'missing'),
    ],
  };

  it('groups a sweep by the settings other than the seed; a missing run has no value, a horizon beyond T does', () => {
    const [rnn, gru] = sweepSeeds(results)!;
    expect(rnn.settings).toEqual({ cell: 'rnn' });
    expect(rnn.metrics.mse.mean).toBeCloseTo(0.3, 15);
    expect(Object.keys(rnn.metrics)).toEqual(['loss', 'mse', 'decayPerStep']);
    // horizons 5 and >20 → 1 of 2, the median beyond 20
    expect(rnn.censored.horizon).toEqual({ n: 2, reached: 1, median: null, bound: 20 });
    expect(gru.metrics.mse).toMatchObject({ n: 1, mean: 0.1, excluded: [{ seed: 2, reason: 'missing' }] });
    expect(gru.censored.horizon).toEqual({ n: 1, reached: 0, median: null, bound: 20 });
  });

  it('is null when the seed does not vary', () => {
    expect(sweepSeeds({ ...results, varying: ['cell'] })).toBeNull();
  });
});
