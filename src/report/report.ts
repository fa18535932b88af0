import { fmtNum } from '../util/format.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../util/files.js';
import { renderHtml } from './html.js';
import {
  agreementPlots,
  agreementStudyData,
  breakdownPlots,
  deltasPlot,
  gradflowPlot,
  heatmapPlot,
  lossCurvePlot,
  lossGradPlot,
  metricCurvesPlot,
  paramPlot,
  type ParamPoint,
  type Plot,
  type RenderedPlot,
} from './plots.js';
import { groupRunsBySeed } from './bands.js';
import { lyapunovPlot, spectrumHeatmapPlot } from './spectrum-plots.js';
import { specToSvg, svgToPng } from './render.js';
import { readSource, type ReportSource } from './rundata.js';
import type { RunData } from './runlog.js';
import type { SeedGroup } from './aggregate.js';
import { sweepResults, sweepSeeds, type SweepResults } from './sweep-table.js';
import { seedsSummary } from './seeds-table.js';
import {
  MAIN_METRIC,
  type SummaryTable,
  breakdownTables,
  lastGradflow,
  runTable,
  sparkline,
  taskOf,
  textTable,
} from './tables.js';

/**
 * `seqlab report DIR`: read a run, comparison, sweep or directory of runs, draw
 * every plot its logs allow, and write DIR/report.html (self-contained: inline SVG,
 * tables, the resolved config) and DIR/plots/<plot>.svg|.png.
 */
export interface ReportOptions {
  /** Also write PNG files (SVG is always written). Default true. */
  png: boolean;
  /** Runs drawn in the per-run plots of a sweep; more would make them unreadable. Default 12. */
  maxRunsPerPlot: number;
}

export const REPORT_DEFAULTS: Readonly<ReportOptions> = { png: true, maxRunsPerPlot: 12 };

export interface ReportResult {
  dir: string;
  kind: ReportSource['kind'];
  html: string;
  plots: { id: string; title: string; svg: string; png: string | null; series: string[] }[];
  /** The terminal summary (a table and a sparkline per run). */
  summary: string;
  /** Just the sparkline lines of the summary (for commands that print their own table). */
  sparklines: string[];
  sweep: SweepResults | null;
  /** A comparison over seeds (compare.json's aggregates) or a sweep with a seed axis: per configuration, over seeds. */
  seeds: SeedGroup[] | null;
  /** The seeds as the report's table shows them (seedsSummary), for the terminal. */
  seedsTable: SummaryTable | null;
}

/** The aggregates over seeds of a source: a comparison's from compare.json, a sweep's from its results table. */
export function seedGroupsOf(source: ReportSource, sweep: SweepResults | null): SeedGroup[] | null {
  if (sweep) return sweepSeeds(sweep);
  const aggregates = source.summary?.aggregates;
  return source.kind === 'compare' && Array.isArray(aggregates) ? (aggregates as SeedGroup[]) : null;
}

/** The plots for a source, in the order the report shows them. */
export function buildPlots(source: ReportSource, opts: Readonly<ReportOptions> = REPORT_DEFAULTS): Plot[] {
  const plots: (Plot | null)[] = [];
  // a sweep's first configurations (with all their seeds), so the per-run plots stay readable
  const groups = groupRunsBySeed(source.runs).slice(0, source.kind === 'sweep' ? opts.maxRunsPerPlot : undefined);
  const runs = groups.flatMap((g) => g.runs);
  // plots of one run's curves draw the first seed of each configuration
  const firstSeeds = groups.map((g) => g.runs[0]);
  if (source.kind === 'sweep') plots.push(...sweepParamPlots(source));
  if (source.kind === 'compare') plots.push(compareLengthPlot(source));
  const study = source.kind === 'compare' ? agreementStudyData(source.summary) : null;
  if (study) plots.push(...agreementPlots(study));
  plots.push(gradflowPlot(runs));
  plots.push(...breakdownPlots(runs));
  plots.push(lossCurvePlot(runs), metricCurvesPlot(runs), lossGradPlot(firstSeeds), heatmapPlot(firstSeeds));
  plots.push(spectrumHeatmapPlot(firstSeeds), lyapunovPlot(firstSeeds), deltasPlot(runs));
  return plots.filter((p): p is Plot => p !== null);
}

/** Seq-len sweeps in a comparison: the task's main metric against T, one line per cell. */
function compareLengthPlot(source: ReportSource): Plot | null {
  const rows = (source.summary?.rows ?? []) as {
    cell: string;
    seqLen: number | null;
    metrics: Record<string, number | null>;
  }[];
  if (new Set(rows.map((r) => r.seqLen)).size < 2) return null;
  const task = String(source.summary?.task ?? '');
  const main = MAIN_METRIC[task]?.metric ?? 'loss';
  const points: ParamPoint[] = rows.map((r) => ({ series: r.cell, x: Number(r.seqLen), y: Number(r.metrics[main]) }));
  const baseline = rows.map((r) => r.metrics.baselineMse).find((v) => typeof v === 'number') ?? null;
  const baselineNote =
    baseline !== null
      ? `; the dashed line is the baseline of always predicting the mean (MSE ${fmtNum(baseline, 3)})`
      : '';
  return paramPlot(
    `${main}-by-length`,
    points,
    'sequence length T (time steps)',
    `final validation ${main}`,
    `${task}: ${main} against sequence length`,
    `The final validation ${main} of each cell at each sequence length${baselineNote}.` +
      (Array.isArray(source.summary?.seeds) && source.summary.seeds.length > 1
        ? ' Each point is one seed; the line is the mean over seeds, the band its 95 % t-interval.'
        : ''),
    baseline,
  );
}

/** A sweep: the main metric against each numeric setting that varies (sequence length, learning rate, …). */
function sweepParamPlots(source: ReportSource): Plot[] {
  const results = sweepResults(source);
  const task = source.runs[0] ? taskOf(source.runs[0]) : '';
  const main = MAIN_METRIC[task]?.metric ?? 'loss';
  const plots: Plot[] = [];
  for (const key of results.varying) {
    if (key === 'seed') continue;
    const rows = results.rows.filter((r) => r.status !== 'missing');
    if (!rows.every((r) => typeof r[key] === 'number')) continue;
    const others = results.varying.filter((k) => k !== key && k !== 'seed');
    const points = rows.map((r) => ({
      series: others.map((k) => `${k}=${r[k]}`).join(' '),
      x: r[key] as number,
      y: Number(r[main] ?? NaN),
    }));
    const baseline =
      task === 'adding' ? (rows.map((r) => r.baselineMse).find((v) => typeof v === 'number') ?? null) : null;
    const xTitle = key === 'seq-len' ? 'sequence length T (time steps)' : key;
    const baselineNote = baseline !== null ? ' Dashed: the predict-the-mean baseline.' : '';
    const plot = paramPlot(
      `${main}-by-${key}`.replace(/[^\w.-]+/g, '-'),
      points,
      xTitle,
      `final validation ${main}`,
      `${main} against ${key === 'seq-len' ? 'sequence length' : key}`,
      'Each point is one run (seeds as separate points); the line is the mean over seeds, the band (two or more ' +
        `seeds) its 95 % t-interval.${baselineNote}`,
      baseline as number | null,
    );
    if (plot) plots.push(plot);
  }
  return plots;
}

/** The plain-text summary a terminal user reads instead of the HTML: a table and each run's gradient-flow sparkline. */
export function terminalSummary(source: ReportSource): string {
  const lines = [textTable(runTable(source.runs)), ...sparklines(source.runs)];
  for (const { title, table } of breakdownTables(source.runs.slice(0, 12))) lines.push(`${title}:`, textTable(table));
  return lines.join('\n');
}

/** Each run's last gradient-flow curve as a sparkline, with its first and last value. */
export function sparklines(runs: RunData[]): string[] {
  const lines: string[] = [];
  const curves = runs.map((r) => ({ r, g: lastGradflow(r) })).filter((x) => x.g !== null);
  if (curves.length > 0) {
    const width = Math.max(...curves.map((c) => c.r.label.length));
    const norms = curves.map(({ g }) => g!.gap.map((_, i) => g!.spectral[i] ?? g!.frobenius[i]));
    const all = norms.flat().filter((v) => v > 0 && Number.isFinite(v));
    const range: [number, number] = [Math.min(...all), Math.max(...all)];
    lines.push(
      '‖∂h_T/∂h_k‖ against gap 1…T at the last probe ' +
        `(log scale from ${fmtNum(range[0], 2)} ▁ to ${fmtNum(range[1], 2)} █):`,
    );
    curves.forEach(({ r, g }, i) => {
      const positive = norms[i].filter((v) => v > 0);
      lines.push(
        `  ${r.label.padEnd(width)}  ${sparkline(norms[i], 60, range)}  ` +
          `${fmtNum(positive[0], 2)} → ${fmtNum(positive.at(-1), 2)} (step ${g!.step}, T ${g!.T})`,
      );
    });
  }
  return lines;
}

/** Write the report of DIR; returns the files written and the terminal summary. */
export async function writeReport(dir: string, options: Partial<ReportOptions> = {}): Promise<ReportResult> {
  const opts = { ...REPORT_DEFAULTS, ...options };
  const source = readSource(dir);
  const plots = buildPlots(source, opts);
  const plotDir = join(dir, 'plots');
  rmSync(plotDir, { recursive: true, force: true }); // plots of an earlier report that this one no longer draws
  ensureDir(plotDir);
  const rendered: RenderedPlot[] = [];
  for (const plot of plots) {
    const svg = await specToSvg(plot.spec);
    const svgFile = join(plotDir, `${plot.id}.svg`);
    writeFileAtomic(svgFile, svg);
    let pngFile: string | null = null;
    if (opts.png) {
      pngFile = join(plotDir, `${plot.id}.png`);
      writeFileAtomic(pngFile, await svgToPng(svg));
    }
    rendered.push({ ...plot, svg, svgFile, pngFile });
  }
  const sweep = source.kind === 'sweep' ? sweepResults(source) : null;
  const seeds = seedGroupsOf(source, sweep);
  const html = join(dir, 'report.html');
  writeFileAtomic(html, renderHtml(source, rendered, sweep, seeds));
  const main = MAIN_METRIC[source.runs[0] ? taskOf(source.runs[0]) : '']?.metric ?? 'loss';
  return {
    dir,
    kind: source.kind,
    html,
    plots: rendered.map((p) => ({ id: p.id, title: p.title, svg: p.svgFile, png: p.pngFile, series: p.series })),
    summary: terminalSummary(source),
    sparklines: sparklines(source.runs),
    sweep,
    seeds,
    seedsTable: seeds ? seedsSummary(seeds, main) : null,
  };
}

export { readSource };
export type { RunData };
