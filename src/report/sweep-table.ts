import { type Cell, groupBySeed, type SeedGroup } from './aggregate.js';
import { finalMetrics } from './plots.js';
import type { ReportSource } from './rundata.js';
import { lastGradflow } from './tables.js';

/**
 * The results table of a sweep: one row per configuration in grid order, its
 * settings, then its final status, metrics and gradient-flow summary (the horizon at the
 * last probe, null when it is beyond the probe's length probeT). No timings, so the table
 * of a sweep run in shards equals the table of the same sweep run at once.
 */
export type { Cell };

export interface SweepResults {
  columns: string[];
  /** Settings that take more than one value across the grid. */
  varying: string[];
  rows: Record<string, Cell>[];
}

interface ListedRun {
  name: string;
  dir: string;
  settings: Record<string, Cell>;
}

export function sweepResults(source: ReportSource): SweepResults {
  const listed = ((source.summary?.runs ?? []) as ListedRun[]).filter((r) => typeof r.dir === 'string');
  const byDir = new Map(source.runs.map((r) => [r.dir.split(/[\\/]/).at(-1)!, r]));
  const settingKeys = [...new Set(listed.flatMap((r) => Object.keys(r.settings ?? {})))];
  const varying = settingKeys.filter(
    (k) => new Set(listed.map((r) => JSON.stringify(r.settings?.[k] ?? null))).size > 1,
  );
  const metricKeys: string[] = [];
  const rows = listed.map((l) => {
    const run = byDir.get(l.dir);
    const row: Record<string, Cell> = { name: l.name };
    for (const k of settingKeys) row[k] = l.settings?.[k] ?? null;
    if (!run?.metrics) {
      row.status = run ? 'unfinished' : 'missing';
      return row;
    }
    row.status = String(run.metrics.status ?? 'unknown');
    row.steps = typeof run.metrics.steps === 'number' ? run.metrics.steps : null;
    row.params = typeof run.metrics.params === 'number' ? run.metrics.params : null;
    const ev = run.test ?? run.evals.at(-1) ?? null;
    row.loss = ev ? ev.loss : null;
    for (const [k, v] of Object.entries(finalMetrics(run))) {
      if (k.startsWith('n@') || k === 'loss' || typeof v !== 'number') continue;
      if (!metricKeys.includes(k)) metricKeys.push(k);
      row[k] = v;
    }
    const g = lastGradflow(run);
    row.horizon = g ? (g.horizon ?? null) : null;
    row.probeT = g ? g.T : null;
    row.decayPerStep = g ? g.decayPerStep : null;
    return row;
  });
  const columns = [
    'name',
    ...settingKeys,
    'status',
    'steps',
    'params',
    'loss',
    ...metricKeys,
    'horizon',
    'probeT',
    'decayPerStep',
  ];
  for (const row of rows) for (const c of columns) row[c] ??= null;
  return { columns, varying, rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]]))) };
}

/** RFC 4180 CSV: a header line, then one line per row; empty for null. */
export function toCsv(results: SweepResults): string {
  const quote = (v: Cell) => {
    if (v === null) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [results.columns.map(quote), ...results.rows.map((r) => results.columns.map((c) => quote(r[c])))];
  return `${lines.map((l) => l.join(',')).join('\n')}\n`;
}

/**
 * A sweep with a seed axis, over its seeds: one group per configuration of the other settings,
 * the loss, every metric and the decay per step as mean, sd and 95 % t-interval, the horizon as
 * "reached by k of n" and a median. Null when the seed takes fewer than two values.
 */
export function sweepSeeds(results: SweepResults): SeedGroup[] | null {
  if (!results.varying.includes('seed')) return null;
  const settings = results.columns.slice(1, results.columns.indexOf('status')).filter((k) => k !== 'seed');
  const metrics = results.columns.slice(results.columns.indexOf('loss'), results.columns.indexOf('horizon'));
  return groupBySeed(results.rows, {
    settings,
    metrics: [...metrics, 'decayPerStep'],
    censored: [{ column: 'horizon', bound: 'probeT' }],
  });
}
