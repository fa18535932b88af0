import { fmt } from '../util/format.js';
import type { CensoredSummary, SeedAggregate, SeedGroup } from './aggregate.js';
import type { Cell } from './sweep-table.js';
import type { SummaryTable } from './tables.js';

/**
 * Results over seeds as text: one row per configuration (a SeedGroup), for the terminal, the
 * HTML report and seeds.csv. A metric reads "mean ± sd" with its t-interval of the mean beside
 * it; a censored measure (steps to a target, a horizon) reads "k of n · median".
 */

/** "0.1648 ± 0.0021"; the mean alone for one seed; "-" for none. */
export function meanSd(a: SeedAggregate, digits = 4): string {
  if (a.mean === null) return '-';
  return a.sd === null ? fmt(a.mean, digits) : `${fmt(a.mean, digits)} ± ${fmt(a.sd, 2)}`;
}

/** "[0.1622, 0.1674]": the interval of the mean; "-" below two seeds. */
export function interval(a: SeedAggregate, digits = 4): string {
  return a.ci === null ? '-' : `[${fmt(a.ci[0], digits)}, ${fmt(a.ci[1], digits)}]`;
}

/** "3 of 5 · 600": seeds that reached it, and the median; "0 of 5 · >1000" when the median is beyond the bound. */
export function reachedMedian(c: CensoredSummary & { bound: number | null }): string {
  if (c.n === 0) return '-';
  const median = c.median !== null ? fmt(c.median, 4, true) : c.bound !== null ? `>${c.bound}` : 'beyond';
  return `${c.reached} of ${c.n} · ${median}`;
}

/** "5", or "4 of 5" when seeds were left out (missing, diverged), naming them in `note`. */
export function seedCount(a: SeedAggregate, total: number): string {
  return a.n === total ? String(a.n) : `${a.n} of ${total}`;
}

/** What a column of the seeds table shows. */
export type SeedsColumn =
  | { kind: 'setting'; key: string; title: string }
  | { kind: 'n'; key: string; title: string }
  | { kind: 'mean'; key: string; title: string; digits?: number }
  | { kind: 'interval'; key: string; title: string; digits?: number }
  | { kind: 'censored'; key: string; title: string };

/** The seeds summary as a table with the given columns. */
export function seedsTable(groups: readonly SeedGroup[], columns: readonly SeedsColumn[]): SummaryTable {
  const cell = (g: SeedGroup, c: SeedsColumn): string => {
    switch (c.kind) {
      case 'setting': {
        const v = g.settings[c.key];
        return v === null || v === undefined ? '-' : String(v);
      }
      case 'n':
        return g.metrics[c.key] ? seedCount(g.metrics[c.key], g.seeds.length) : String(g.seeds.length);
      case 'mean':
        return g.metrics[c.key] ? meanSd(g.metrics[c.key], c.digits) : '-';
      case 'interval':
        return g.metrics[c.key] ? interval(g.metrics[c.key], c.digits) : '-';
      case 'censored':
        return g.censored[c.key] ? reachedMedian(g.censored[c.key]) : '-';
    }
  };
  return { header: columns.map((c) => c.title), rows: groups.map((g) => columns.map((c) => cell(g, c))) };
}

/** Seeds left out of a metric's aggregate, as one line per configuration that lost any ("" when none did). */
export function exclusionNotes(groups: readonly SeedGroup[], metric: string, name: (g: SeedGroup) => string): string {
  return groups
    .filter((g) => (g.metrics[metric]?.excluded.length ?? 0) > 0)
    .map(
      (g) =>
        `${name(g)}: ${g.metrics[metric].excluded
          .map((e) => `seed ${e.seed} ${e.reason === 'missing' ? 'has no result' : `is ${e.reason}`}`)
          .join(', ')}`,
    )
    .join('\n');
}

/**
 * The seeds summary as flat rows (seeds.csv): the settings, the seeds, then per metric n, mean, sd and
 * the interval, per censored measure n, reached, median and bound.
 */
export function seedsRows(groups: readonly SeedGroup[]): { columns: string[]; rows: Record<string, Cell>[] } {
  const first = groups[0];
  if (!first) return { columns: [], rows: [] };
  const settings = Object.keys(first.settings);
  const metrics = Object.keys(first.metrics);
  const censored = Object.keys(first.censored);
  const level = first.metrics[metrics[0]]?.level ?? 0.95;
  const ci = `ci${Math.round(level * 100)}`;
  const columns = [
    ...settings,
    'seeds',
    ...metrics.flatMap((m) => [`${m}.n`, `${m}.mean`, `${m}.sd`, `${m}.${ci}.lo`, `${m}.${ci}.hi`]),
    ...censored.flatMap((c) => [`${c}.n`, `${c}.reached`, `${c}.median`, `${c}.bound`]),
  ];
  const rows = groups.map((g) => {
    const row: Record<string, Cell> = { ...g.settings, seeds: g.seeds.join(' ') };
    for (const m of metrics) {
      const a = g.metrics[m];
      Object.assign(row, {
        [`${m}.n`]: a.n,
        [`${m}.mean`]: a.mean,
        [`${m}.sd`]: a.sd,
        [`${m}.${ci}.lo`]: a.ci?.[0] ?? null,
        [`${m}.${ci}.hi`]: a.ci?.[1] ?? null,
      });
    }
    for (const c of censored) {
      const s = g.censored[c];
      Object.assign(row, {
        [`${c}.n`]: s.n,
        [`${c}.reached`]: s.reached,
        [`${c}.median`]: s.median,
        [`${c}.bound`]: s.bound,
      });
    }
    return row;
  });
  return { columns, rows };
}

const SETTING_TITLES: Record<string, string> = { seqLen: 'T', hiddenSize: 'H' };
/**
 * The seeds summary of a comparison or a sweep, as the report and `sweep --collect` show it: the
 * settings that differ between configurations, n, the main metric as mean ± sd with its interval,
 * the other metrics as mean ± sd, each censored measure as "k of n · median", the decay per step.
 */
export function seedsSummary(groups: readonly SeedGroup[], main: string): SummaryTable {
  const first = groups[0];
  if (!first) return { header: [], rows: [] };
  const keys = Object.keys(first.settings);
  const varying = keys.filter((k) => new Set(groups.map((g) => JSON.stringify(g.settings[k]))).size > 1);
  const metrics = Object.keys(first.metrics);
  const shown = metrics.includes(main) ? main : 'loss';
  const others = metrics.filter((m) => m !== shown && !m.includes('@') && !/^baseline|^decayPerStep|^loss$/.test(m));
  const level = `${Math.round((first.metrics[shown]?.level ?? 0.95) * 100)} % CI`;
  // before training, then at the end
  const censored = ['stepsToTarget', 'horizonStart', 'horizon'].filter((c) => c in first.censored);
  censored.push(...Object.keys(first.censored).filter((c) => !censored.includes(c)));
  const censoredTitle = (c: string) =>
    (({ stepsToTarget: 'steps to target', horizonStart: 'horizon start' }) as Record<string, string>)[c] ??
    (c === 'horizon' && censored.includes('horizonStart') ? 'horizon end' : c);
  const columns: SeedsColumn[] = [
    ...(varying.length > 0 ? varying : keys.slice(0, 1)).map(
      (k) => ({ kind: 'setting', key: k, title: SETTING_TITLES[k] ?? k }) as const,
    ),
    { kind: 'n', key: shown, title: 'n' },
    { kind: 'mean', key: shown, title: `${shown} mean ± sd` },
    { kind: 'interval', key: shown, title: level },
    ...others.map((m) => ({ kind: 'mean', key: m, title: m, digits: 3 }) as const),
    ...censored.map((c) => ({ kind: 'censored', key: c, title: censoredTitle(c) }) as const),
    ...(metrics.includes('decayPerStep')
      ? [{ kind: 'mean', key: 'decayPerStep', title: 'decay/step', digits: 2 } as const]
      : []),
  ];
  return seedsTable(groups, columns);
}
