import { SeqlabError } from '../util/errors.js';
import { studentTQuantile } from './student-t.js';

/**
 * Results over seeds. For the finite values x₁ … x_n of one metric of one configuration:
 *   mean        x̄ = Σ xᵢ / n
 *   sample sd   s = √(Σ (xᵢ − x̄)² / (n − 1))          (two passes: no cancellation on large offsets)
 *   interval    x̄ ± t_{(1+level)/2, n−1} · s / √n      (Student's t: s is estimated from the same seeds)
 * A seed whose value is missing (null: no such metric, or the run did not finish) or not finite
 * (NaN, ±∞: the run diverged) is excluded, counted and named: never averaged, never dropped silently.
 */

/** A value of a results table: a setting, a status, a metric; null when there is none. */
export type Cell = string | number | null;

export interface SeedValue {
  seed: number;
  value: number | null;
}

export type Exclusion = 'missing' | 'NaN' | 'Infinity' | '-Infinity';

export interface SeedAggregate {
  /** Seeds averaged. */
  n: number;
  /** null when n = 0. */
  mean: number | null;
  /** Sample standard deviation (divisor n − 1); null when n < 2. */
  sd: number | null;
  /** t_{(1+level)/2, n−1} · s / √n; null when n < 2. */
  halfWidth: number | null;
  /** [mean − halfWidth, mean + halfWidth]; null when n < 2. */
  ci: [number, number] | null;
  /** Coverage of the interval, 0.95 by default. */
  level: number;
  /** The seeds averaged, in the order given. */
  seeds: number[];
  /** The seeds left out, and why. */
  excluded: { seed: number; reason: Exclusion }[];
}

/** n, mean, sd and the confidence interval of the mean over one configuration's seeds. */
export function aggregateSeeds(values: readonly SeedValue[], level = 0.95): SeedAggregate {
  if (!(level > 0 && level < 1)) {
    throw new SeqlabError('input', `level must be between 0 and 1 (e.g. 0.95), got ${level}`);
  }
  const seen = new Set<number>();
  const seeds: number[] = [];
  const xs: number[] = [];
  const excluded: SeedAggregate['excluded'] = [];
  for (const { seed, value } of values) {
    if (seen.has(seed)) throw new SeqlabError('input', `seed ${seed} is listed twice; give each seed one value`);
    seen.add(seed);
    if (value === null || value === undefined) excluded.push({ seed, reason: 'missing' });
    else if (!Number.isFinite(value)) excluded.push({ seed, reason: String(value) as Exclusion });
    else {
      seeds.push(seed);
      xs.push(value);
    }
  }
  const n = xs.length;
  const none = { n, mean: null, sd: null, halfWidth: null, ci: null, level, seeds, excluded };
  if (n === 0) return none;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n === 1) return { ...none, mean };
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const halfWidth = (studentTQuantile((1 + level) / 2, n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, halfWidth, ci: [mean - halfWidth, mean + halfWidth], level, seeds, excluded };
}

export interface CensoredSummary {
  /** Seeds counted. */
  n: number;
  /** Seeds whose event happened (a number, not null). */
  reached: number;
  /** The median over all n seeds, a censored seed ranking above every number; null when the median is censored. */
  median: number | null;
}

/**
 * A censored measure over seeds, such as the steps to reach a target or the gradient-flow horizon: null means
 * "not within the bound" (not reached in the steps trained, no vanishing within T), a value larger than any
 * observed, not a missing one. Its mean would be wrong either way, so: how many seeds reached it, and the median.
 */
export function censoredMedian(values: readonly SeedValue[]): CensoredSummary {
  const seen = new Set<number>();
  for (const { seed, value } of values) {
    if (seen.has(seed)) throw new SeqlabError('input', `seed ${seed} is listed twice; give each seed one value`);
    if (Number.isNaN(value)) throw new SeqlabError('input', `seed ${seed} has NaN; leave out the runs that diverged`);
    seen.add(seed);
  }
  const n = values.length;
  // censored seeds sort last, as +∞
  const sorted = values.map((v) => v.value ?? Infinity).sort((a, b) => a - b);
  const reached = sorted.filter(Number.isFinite).length;
  if (n === 0) return { n, reached, median: null };
  const median = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { n, reached, median: Number.isFinite(median) ? median : null };
}

export interface SeedGroup {
  /** The settings the group's runs share: every setting but the seed. */
  settings: Record<string, Cell>;
  /** The group's seeds, in the order of its rows. */
  seeds: number[];
  /** Per metric, the aggregate over the group's seeds. */
  metrics: Record<string, SeedAggregate>;
  /** Per censored measure, how many seeds reached it and the median; its bound (the largest over the seeds). */
  censored: Record<string, CensoredSummary & { bound: number | null }>;
}

/**
 * A censored column of the rows: null there means "not within the bound" that the column `bound`
 * holds (steps → the steps trained; a horizon → the probe's T). A row without a number in `bound`
 * (the run did not finish, or logged no probe) has no value and is left out.
 */
export interface CensoredColumn {
  column: string;
  bound: string;
}

export interface GroupOptions {
  /** Columns that identify a configuration (the seed among them or not). */
  settings: readonly string[];
  /** Columns to aggregate; a value that is not a number counts as missing. */
  metrics: readonly string[];
  /** Columns to summarize as censored measures (censoredMedian). */
  censored?: readonly CensoredColumn[];
  /** The seed column; default "seed". */
  seedKey?: string;
  level?: number;
}

/**
 * Rows of single runs (as in a sweep's results table) grouped into configurations over seeds:
 * one group per distinct combination of the settings other than the seed, in order of first
 * appearance, so a grid whose seed axis varies fastest or slowest gives the same groups.
 */
export function groupBySeed(rows: readonly Record<string, Cell>[], opts: GroupOptions): SeedGroup[] {
  const seedKey = opts.seedKey ?? 'seed';
  const keys = opts.settings.filter((k) => k !== seedKey);
  const groups = new Map<string, { settings: Record<string, Cell>; rows: Record<string, Cell>[] }>();
  for (const row of rows) {
    const seed = row[seedKey];
    if (typeof seed !== 'number' || !Number.isInteger(seed)) {
      throw new SeqlabError('input', `every row needs an integer "${seedKey}", got ${JSON.stringify(seed ?? null)}`);
    }
    const settings = Object.fromEntries(keys.map((k) => [k, row[k] ?? null]));
    const id = JSON.stringify(keys.map((k) => settings[k]));
    if (!groups.has(id)) groups.set(id, { settings, rows: [] });
    groups.get(id)!.rows.push(row);
  }
  const num = (v: Cell | undefined) => (typeof v === 'number' ? v : null);
  return [...groups.values()].map((g) => {
    const seedOf = (r: Record<string, Cell>) => r[seedKey] as number;
    const censored = (opts.censored ?? []).map(({ column, bound }) => {
      const counted = g.rows.filter((r) => num(r[bound]) !== null);
      const bounds = counted.map((r) => num(r[bound])!);
      const summary = censoredMedian(counted.map((r) => ({ seed: seedOf(r), value: num(r[column]) })));
      return [column, { ...summary, bound: bounds.length > 0 ? Math.max(...bounds) : null }];
    });
    return {
      settings: g.settings,
      seeds: g.rows.map(seedOf),
      metrics: Object.fromEntries(
        opts.metrics.map((m) => [
          m,
          aggregateSeeds(
            g.rows.map((r) => ({ seed: seedOf(r), value: num(r[m]) })),
            opts.level,
          ),
        ]),
      ),
      censored: Object.fromEntries(censored),
    };
  });
}
