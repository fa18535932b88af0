import { aggregateSeeds } from './aggregate.js';
import type { RunData } from './runlog.js';

/**
 * Runs that differ only in their seed, drawn as one line and a band. A comparison labels such
 * runs "rnn T=50 seed=3", a sweep "cell=rnn seed=3 seq-len=50": the group is the label without
 * its seed=N, so the plots need nothing but the labels the report already gives its runs.
 */
export interface RunGroup {
  /** The runs' label without its seed. */
  label: string;
  runs: RunData[];
  /** Each run's seed (null for a run whose label names none). */
  seeds: (number | null)[];
}

const SEED = /(^|\s)seed=(-?\d+)(?=\s|$)/;

/** The seed a run's label names, and the label without it. */
export function splitSeed(label: string): { label: string; seed: number | null } {
  const m = SEED.exec(label);
  if (!m) return { label, seed: null };
  return { label: label.replace(SEED, '$1').replace(/\s+/g, ' ').trim(), seed: Number(m[2]) };
}

/** The runs grouped by their labels without the seed, in order of first appearance. */
export function groupRunsBySeed(runs: readonly RunData[]): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const run of runs) {
    const { label, seed } = splitSeed(run.label);
    if (!groups.has(label)) groups.set(label, { label, runs: [], seeds: [] });
    const g = groups.get(label)!;
    g.runs.push(run);
    g.seeds.push(seed);
  }
  return [...groups.values()];
}

/** True when some group holds two or more seeds: the plots then draw means and bands. */
export const hasSeeds = (groups: readonly RunGroup[]) => groups.some((g) => g.runs.length > 1);

/** One value of one seed at one point of a curve. */
export interface SeedPoint {
  series: string;
  x: number;
  /** Further fields that tell the curves apart (a panel, a training step); part of the point's key. */
  key?: string;
  value: number;
}

/** The mean over seeds at one point, and its t-interval (null below two seeds). */
export interface BandPoint {
  series: string;
  x: number;
  key: string;
  mean: number;
  lo: number | null;
  hi: number | null;
  n: number;
}

/**
 * Per (series, key, x), the mean of the seeds' values and the 95 % t-interval of that mean
 * (aggregateSeeds); with `log`, of ln(value) (positive values only), returned as exp(·): the
 * geometric mean and its interval, for norms that span decades.
 */
export function bandPoints(points: readonly SeedPoint[], log = false, level = 0.95): BandPoint[] {
  const cells = new Map<string, { series: string; x: number; key: string; values: number[] }>();
  for (const p of points) {
    const v = log ? (p.value > 0 ? Math.log(p.value) : Number.NaN) : p.value;
    if (!Number.isFinite(v)) continue;
    const key = p.key ?? '';
    const id = JSON.stringify([p.series, key, p.x]);
    if (!cells.has(id)) cells.set(id, { series: p.series, x: p.x, key, values: [] });
    cells.get(id)!.values.push(v);
  }
  const back = log ? Math.exp : (v: number) => v;
  return [...cells.values()].map((c) => {
    const a = aggregateSeeds(
      c.values.map((value, seed) => ({ seed, value })),
      level,
    );
    return {
      series: c.series,
      x: c.x,
      key: c.key,
      mean: back(a.mean!),
      lo: a.ci ? back(a.ci[0]) : null,
      hi: a.ci ? back(a.ci[1]) : null,
      n: a.n,
    };
  });
}

/** The band's area layer: from lo to hi, translucent, in the line's colour. */
export function bandLayer(
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  color: Record<string, unknown>,
): Record<string, unknown> {
  return {
    transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
    mark: { type: 'area', opacity: 0.2 },
    encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color },
  };
}
