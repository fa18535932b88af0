import { describe, expect, it } from 'vitest';
import { bandPoints, groupRunsBySeed, hasSeeds, splitSeed } from '../../src/report/bands.js';
import type { RunData } from '../../src/report/runlog.js';

// t_{0.975,1} = tan(0.475 π) (Cauchy) and t_{0.975,2} = 0.95 · √(2 / (4 · 0.975 · 0.025)): closed forms,
// independent of src/report/student-t.ts.
const T1 = Math.tan(0.475 * Math.PI);
const T2 = 0.95 * Math.sqrt(2 / (4 * 0.975 * 0.025));

describe('seed groups from run labels', () => {
  it('take seed=N out of a comparison’s or a sweep’s label, wherever it stands', () => {
    expect(splitSeed('rnn T=50 seed=3')).toEqual({ label: 'rnn T=50', seed: 3 });
    expect(splitSeed('cell=rnn seed=12 seq-len=50')).toEqual({ label: 'cell=rnn seq-len=50', seed: 12 });
    expect(splitSeed('seed=2')).toEqual({ label: '', seed: 2 });
    expect(splitSeed('lstm')).toEqual({ label: 'lstm', seed: null });
    expect(splitSeed('my-seed=3-run')).toEqual({ label: 'my-seed=3-run', seed: null });
  });

  it('group runs that differ only in their seed, in order of first appearance', () => {
    const run = (label: string) => ({ label }) as RunData;
    const groups = groupRunsBySeed(['gru seed=1', 'rnn seed=1', 'gru seed=2', 'rnn seed=2', 'lstm'].map(run));
    expect(groups.map((g) => [g.label, g.seeds])).toEqual([
      ['gru', [1, 2]],
      ['rnn', [1, 2]],
      ['lstm', [null]],
    ]);
    expect(hasSeeds(groups)).toBe(true);
    expect(hasSeeds(groupRunsBySeed(['a', 'b'].map(run)))).toBe(false);
  });
});

describe('bandPoints', () => {
  it('the mean over seeds per (series, key, x) and its t-interval', () => {
    // 1, 2, 6 at x = 5: x̄ = 3, s = √7, half width T2 · √(7/3); one value at x = 6: no interval
    const [a, b] = bandPoints([
      { series: 'rnn', x: 5, value: 1 },
      { series: 'rnn', x: 5, value: 2 },
      { series: 'rnn', x: 6, value: 4 },
      { series: 'rnn', x: 5, value: 6 },
    ]);
    expect(a).toMatchObject({ series: 'rnn', x: 5, key: '', mean: 3, n: 3 });
    expect(a.hi! - a.mean).toBeCloseTo(T2 * Math.sqrt(7 / 3), 12);
    expect(a.mean - a.lo!).toBeCloseTo(T2 * Math.sqrt(7 / 3), 12);
    expect(b).toEqual({ series: 'rnn', x: 6, key: '', mean: 4, lo: null, hi: null, n: 1 });
  });

  it('on a log scale: the geometric mean, the interval of the mean log; non-positive values left out', () => {
    // 1e-2 and 1e-4: mean log = ln 1e-3, s = ln(100)/√2, half width T1 · s / √2 = T1 · ln(10)
    const [p] = bandPoints(
      [1e-2, 1e-4, 0, Number.NaN].map((value) => ({ series: 's', key: 'step 5', x: 1, value })),
      true,
    );
    expect(p.n).toBe(2);
    expect(p.key).toBe('step 5');
    expect(Math.log(p.mean)).toBeCloseTo(Math.log(1e-3), 12);
    expect(Math.log(p.hi!) - Math.log(p.mean)).toBeCloseTo(T1 * Math.log(10), 11);
    expect(Math.log(p.mean) - Math.log(p.lo!)).toBeCloseTo(T1 * Math.log(10), 11);
  });
});
