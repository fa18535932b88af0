import { fmtNum, table } from '../util/format.js';
import { finalMetrics, plainMetrics } from './plots.js';
import type { GradflowSnapshot, RunData } from './runlog.js';

/** Plain tables and text shared by the HTML report and the terminal summary. */

/** The metric that says how well a task went, and which way is better. */
export const MAIN_METRIC: Readonly<Record<string, { metric: string; goal: 'max' | 'min' }>> = {
  agreement: { metric: 'accuracy', goal: 'max' },
  adding: { metric: 'mse', goal: 'min' },
  copy: { metric: 'copyAccuracy', goal: 'max' },
  lm: { metric: 'perplexity', goal: 'min' },
  mnist: { metric: 'accuracy', goal: 'max' },
};

export function taskOf(run: RunData): string {
  if (run.config.experiment !== undefined) return 'mnist'; // the MLP experiments' config.json
  return String(
    run.config.taskName ?? (run.config.task as { task?: string } | undefined)?.task ?? run.metrics?.task ?? 'unknown',
  );
}

/** The last gradient-flow snapshot of the top layer, or null. */
export function lastGradflow(run: RunData): GradflowSnapshot | null {
  if (run.gradflow.length === 0) return null;
  const top = Math.max(...run.gradflow.map((g) => g.layer));
  return run.gradflow.filter((g) => g.layer === top).at(-1) ?? null;
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * A one-line picture of a curve on a log scale: each value becomes one of eight
 * bar heights between `range` (default: the curve's own min and max); at most `width` characters.
 */
export function sparkline(values: number[], width = 60, range?: [number, number]): string {
  const logs = values.map((v) => (v > 0 && Number.isFinite(v) ? Math.log10(v) : NaN));
  const stride = Math.max(1, Math.ceil(logs.length / width));
  const picked = logs.filter((_, i) => i % stride === 0);
  const finite = picked.filter(Number.isFinite);
  if (finite.length === 0) return '';
  const [lo, hi] = range ? range.map(Math.log10) : [Math.min(...finite), Math.max(...finite)];
  return picked
    .map((v) =>
      Number.isFinite(v)
        ? BARS[hi === lo ? BARS.length - 1 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))]
        : ' ',
    )
    .join('');
}

export interface SummaryTable {
  header: string[];
  rows: string[][];
}

/** One row per run: status, size, the final metrics and the gradient-flow summary. */
export function runTable(runs: RunData[]): SummaryTable {
  const metricNames = [...new Set(runs.flatMap((r) => plainMetrics(finalMetrics(r))))];
  const withLoss = runs.some((r) => r.metrics?.eval || r.evals.length > 0);
  const header = [
    'run',
    'status',
    'steps',
    'hidden',
    'params',
    ...(withLoss ? ['loss'] : []),
    ...metricNames,
    'horizon',
    'decay/step',
  ];
  const rows = runs.map((r) => {
    const fm = finalMetrics(r);
    const g = lastGradflow(r);
    const ev = r.test ?? r.evals.at(-1);
    return [
      r.label,
      String(r.metrics?.status ?? (r.other.end ? 'ended' : 'unfinished')),
      String(r.metrics?.steps ?? r.steps.at(-1)?.step ?? '-'),
      fmtNum((r.config.model as { hiddenSize?: number } | undefined)?.hiddenSize),
      fmtNum(r.metrics?.params ?? r.config.params),
      ...(withLoss ? [fmtNum(ev?.loss)] : []),
      ...metricNames.map((m) => fmtNum(fm[m])),
      g ? (g.horizon === null ? `>${g.T}` : String(g.horizon)) : '-',
      g ? fmtNum(g.decayPerStep, 3) : '-',
    ];
  });
  return { header, rows };
}

/** Breakdown tables (accuracy by distance, …) from the final metrics: one row per run, with counts. */
export function breakdownTables(runs: RunData[]): { title: string; table: SummaryTable }[] {
  const groups = new Map<string, string[]>();
  for (const r of runs) {
    for (const k of Object.keys(finalMetrics(r))) {
      const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
      if (!m || m[1] === 'n') continue;
      const g = `${m[1]} by ${m[2]}`;
      const values = groups.get(g) ?? [];
      if (!values.includes(m[3])) values.push(m[3]);
      groups.set(g, values);
    }
  }
  return [...groups.entries()].map(([g, values]) => {
    const [metric, key] = g.split(' by ');
    const rows = runs.map((r) => {
      const fm = finalMetrics(r);
      return [
        r.label,
        ...values.map((v) =>
          fmtNum(fm[`${metric}@${key}=${v}`], 3).replace(/^(-?\d+)$/, (n) =>
            Math.abs(Number(n)) <= 1 ? Number(n).toFixed(3) : n,
          ),
        ),
      ];
    });
    const counts = runs[0] ? finalMetrics(runs[0]) : {};
    if (values.some((v) => typeof counts[`n@${key}=${v}`] === 'number'))
      rows.push(['examples', ...values.map((v) => fmtNum(counts[`n@${key}=${v}`]))]);
    return { title: g, table: { header: [key, ...values], rows } };
  });
}

/** A summary table as plain text. */
export function textTable(t: SummaryTable): string {
  return table(t.header, t.rows);
}
