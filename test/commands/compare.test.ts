import { describe, expect, it } from 'vitest';
import { cliMessage } from '../../src/cli/options.js';
import { type CompareOptions, type CompareRow, compareRun, seedAggregates } from '../../src/commands/compare.js';
import { SeqlabError } from '../../src/util/errors.js';

// The aggregates of `compare --seeds` on rows whose numbers are chosen so that every
// aggregate is worked by hand. t_{0.975,2} = 0.95 · √(2 / (4 · 0.975 · 0.025)) (ν = 2 has the
// closed form t = (2p − 1) √(2 / (4p(1 − p)))), independent of src/report/student-t.ts.
const T2 = 0.95 * Math.sqrt(2 / (4 * 0.975 * 0.025));

const gradflow = (T: number, horizon: number | null, decayPerStep: number) => ({ T, horizon, decayPerStep });

function row(seqLen: number, seed: number, over: Partial<CompareRow>): CompareRow {
  return {
    cell: 'rnn',
    seqLen,
    seed,
    hiddenSize: 8,
    params: 105,
    status: 'completed',
    steps: 1000,
    evalLoss: 0,
    metrics: {},
    stepsToTarget: null,
    gradflow: gradflow(seqLen, null, 0),
    gradflowStart: gradflow(seqLen, null, 0),
    runDir: null,
    elapsedMs: 1,
    ...over,
  };
}

// T = 10: mse 0.1, 0.2, 0.6; the target reached at 300 and 500 by two seeds; horizons >10, 4, 6.
// T = 20: seed 2 diverged (loss NaN, no final metrics, stopped at step 40).
const rows: CompareRow[] = [
  row(10, 1, {
    evalLoss: 0.1,
    metrics: { mse: 0.1, 'acc@d=2': 1, 'n@d=2': 16 },
    stepsToTarget: 300,
    gradflow: gradflow(10, null, 0.2),
  }),
  row(10, 2, { evalLoss: 0.2, metrics: { mse: 0.2, 'acc@d=2': 0.5, 'n@d=2': 16 }, gradflow: gradflow(10, 4, 0.4) }),
  row(10, 3, {
    evalLoss: 0.6,
    metrics: { mse: 0.6, 'acc@d=2': 0.75, 'n@d=2': 16 },
    stepsToTarget: 500,
    gradflow: gradflow(10, 6, 0.6),
  }),
  row(20, 1, { evalLoss: 0.3, metrics: { mse: 0.3 } }),
  row(20, 2, { evalLoss: Number.NaN, status: 'diverged', steps: 40, metrics: {} }),
  row(20, 3, { evalLoss: 0.5, metrics: { mse: 0.5 } }),
];

describe('seedAggregates', () => {
  const [t10, t20] = seedAggregates(rows, true);

  it('groups the rows by (cell, length), the seeds in their order', () => {
    expect(t10.settings).toEqual({ cell: 'rnn', seqLen: 10, hiddenSize: 8, params: 105 });
    expect(t20.settings.seqLen).toBe(20);
    expect([t10.seeds, t20.seeds]).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('averages each metric: 0.1, 0.2, 0.6 → 0.3 ± √0.07, half width t_{0.975,2} · √(0.07 / 3)', () => {
    // deviations −0.2, −0.1, 0.3: Σ² = 0.14, s² = 0.14 / 2 = 0.07
    for (const key of ['mse', 'loss']) {
      const a = t10.metrics[key];
      expect(a.n).toBe(3);
      expect(a.mean).toBeCloseTo(0.3, 15);
      expect(a.sd).toBeCloseTo(Math.sqrt(0.07), 15);
      expect(a.halfWidth).toBeCloseTo(T2 * Math.sqrt(0.07 / 3), 13);
    }
    // the decay per step at the end: 0.2, 0.4, 0.6 → 0.4 ± 0.2
    expect(t10.metrics.decayPerStep.mean).toBeCloseTo(0.4, 15);
    expect(t10.metrics.decayPerStep.sd).toBeCloseTo(0.2, 15);
    // a breakdown too, without its counts: 1, 0.5, 0.75 → 0.75 ± 0.25
    expect(t10.metrics['acc@d=2'].mean).toBe(0.75);
    expect(t10.metrics['acc@d=2'].sd).toBeCloseTo(0.25, 15);
    expect(t10.metrics['n@d=2']).toBeUndefined();
  });

  it('leaves a diverged seed out of the means and names it', () => {
    expect(t20.metrics.loss.n).toBe(2);
    expect(t20.metrics.loss.mean).toBeCloseTo(0.4, 15);
    expect(t20.metrics.loss.excluded).toEqual([{ seed: 2, reason: 'NaN' }]);
    expect(t20.metrics.mse.excluded).toEqual([{ seed: 2, reason: 'missing' }]);
  });

  it('counts steps to the target and horizons as reached by k of n, with the median', () => {
    // steps: 300, 500, not in 1000 → 2 of 3, median 500
    expect(t10.censored.stepsToTarget).toEqual({ n: 3, reached: 2, median: 500, bound: 1000 });
    // horizons: >10, 4, 6 → 2 of 3, median 6
    expect(t10.censored.horizon).toEqual({ n: 3, reached: 2, median: 6, bound: 10 });
    expect(t10.censored.horizonStart).toEqual({ n: 3, reached: 0, median: null, bound: 10 });
    // the diverged seed did not reach the target either; the bound is the longest run
    expect(t20.censored.stepsToTarget).toEqual({ n: 3, reached: 0, median: null, bound: 1000 });
  });

  it('has no steps to a target when the task has none', () => {
    expect(seedAggregates(rows, false)[0].censored.stepsToTarget).toBeUndefined();
  });
});

describe('compareRun', () => {
  it('refuses no seeds and a seed twice before anything runs, naming the field (the CLI: the flag)', async () => {
    const opts = (seeds: number[]): CompareOptions => ({
      cells: ['rnn'],
      task: 'adding',
      taskOptions: {},
      seqLens: [undefined],
      model: {},
      matchParams: false,
      train: {},
      seeds,
      backend: 'cpu',
    });
    for (const [seeds, message] of [
      [[], 'seeds is empty; give at least one seed'],
      [[1, 2, 1], 'seeds lists a seed twice: 1, 2, 1'],
    ] as const) {
      const e = await compareRun(opts([...seeds])).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SeqlabError);
      expect((e as SeqlabError).message).toBe(message);
      expect(cliMessage(e as SeqlabError)).toBe(`--${message}`);
    }
  });
});
