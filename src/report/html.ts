import { fmtNum } from '../util/format.js';
import { basename, relative } from 'node:path';
import type { RenderedPlot } from './plots.js';
import type { ReportSource } from './rundata.js';
import type { SeedGroup } from './aggregate.js';
import { seedsSummary } from './seeds-table.js';
import type { SweepResults } from './sweep-table.js';
import { MAIN_METRIC, breakdownTables, runTable, taskOf, type SummaryTable } from './tables.js';

/**
 * report.html: one self-contained page (inline SVG, inline CSS, no scripts, no
 * network), so it can be mailed or opened from a cluster's scratch directory.
 */

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function tableHtml(t: SummaryTable): string {
  const head = `<tr>${t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const cell = (c: string, i: number) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`);
  const body = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

const CSS =
  `
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; ` +
  `padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; ` +
  `font-variant-numeric: tabular-nums; }
tr:first-child th { border-bottom: 2px solid #bbb; } th:first-child { text-align: left; }
figure { margin: 1.5em 0; } figcaption { color: #444; max-width: 60em; font-size: 0.92em; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
`;

function title(source: ReportSource): string {
  const task = source.runs[0] ? taskOf(source.runs[0]) : 'unknown task';
  const cells = [
    ...new Set(
      source.runs.map((r) => String((r.config.model as { cell?: string } | undefined)?.cell ?? r.metrics?.cell ?? '')),
    ),
  ].filter(Boolean);
  switch (source.kind) {
    case 'train':
      return `${task} · ${cells[0] ?? 'run'}`;
    case 'compare':
      return `${task}: ${cells.join(' vs ')}`;
    case 'sweep':
      return `sweep ${String(source.summary?.name ?? basename(source.dir))}: ${source.runs.length} runs`;
    default:
      return `${basename(source.dir)}: ${source.runs.length} runs`;
  }
}

function sweepTableHtml(s: SweepResults): string {
  const header = s.columns;
  const rows = s.rows.map((r) => s.columns.map((c) => (typeof r[c] === 'number' ? fmtNum(r[c]) : String(r[c] ?? '-'))));
  return tableHtml({ header, rows });
}

/** The table over seeds, with how to read it. */
function seedsHtml(source: ReportSource, seeds: readonly SeedGroup[]): string[] {
  const task = source.runs[0] ? taskOf(source.runs[0]) : '';
  const main = MAIN_METRIC[task]?.metric ?? 'loss';
  const n = Math.max(...seeds.map((g) => g.seeds.length));
  const file = source.kind === 'sweep' ? ' (also in <code>seeds.csv</code> and <code>seeds.json</code>)' : '';
  return [
    '<h2>Over seeds</h2>',
    `<p>One row per configuration over its ${n} seeds${file}: mean ± sample standard deviation, the 95 % ` +
      'interval of the mean from Student’s t with n − 1 degrees of freedom, and n, the seeds averaged (a ' +
      'diverged or missing run is left out and counted). Steps to the target and horizons are censored (a seed ' +
      'may never get there): “k of n · median”, with “&gt;N” when the median seed is beyond the bound N.</p>',
    tableHtml(seedsSummary(seeds, main)),
  ];
}

export function renderHtml(
  source: ReportSource,
  plots: RenderedPlot[],
  sweep: SweepResults | null,
  seeds: readonly SeedGroup[] | null = null,
): string {
  const heading = title(source);
  const runsTable = runTable(source.runs);
  const parts: string[] = [];
  parts.push(
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      `<title>seqlab report: ${escapeHtml(heading)}</title>\n<style>${CSS}</style>\n</head>\n<body>`,
  );
  parts.push(`<h1>${escapeHtml(heading)}</h1>`);
  const backend = source.runs.map((r) => r.metrics?.backend ?? r.config.backend).find((b) => b);
  const backendNote = backend ? ` · backend ${escapeHtml(String(backend))}` : '';
  parts.push(
    `<p class="meta">${escapeHtml(source.kind)} report of <code>${escapeHtml(source.dir)}</code>${backendNote} · ` +
      `${source.runs.length} run${source.runs.length === 1 ? '' : 's'}</p>`,
  );
  if (plots.length > 0)
    parts.push(`<nav>${plots.map((p) => `<a href="#${p.id}">${escapeHtml(p.title)}</a>`).join(' ')}</nav>`);
  if (seeds) parts.push(...seedsHtml(source, seeds));
  if (sweep) {
    parts.push(
      '<h2>Results</h2>',
      '<p>One row per configuration (also in <code>results.csv</code> and <code>results.json</code> ' +
        'after <code>seqlab sweep --collect</code>).</p>',
      sweepTableHtml(sweep),
    );
  } else {
    parts.push('<h2>Runs</h2>', tableHtml(runsTable));
    parts.push(
      '<p class="meta">horizon: first gap at which ‖∂h_T/∂h_k‖ falls below 1e-3 at the last probe ' +
        '(“&gt;T”: not within T); decay/step: −slope of ln‖∂h_T/∂h_k‖ against the gap (nats per step).</p>',
    );
  }
  for (const p of plots) {
    const files = [p.svgFile, p.pngFile]
      .filter((f): f is string => f !== null)
      .map((f) => {
        const format = f.endsWith('.png') ? 'PNG' : 'SVG';
        return `<a href="${escapeHtml(relative(source.dir, f))}">${escapeHtml(format)}</a>`;
      });
    const svg = p.svg.replace(/^<\?xml[^>]*>\s*/, '');
    parts.push(
      `<figure id="${p.id}">\n<h2>${escapeHtml(p.title)}</h2>\n${svg}\n` +
        `<figcaption>${escapeHtml(p.caption)} ${files.join(' · ')}</figcaption>\n</figure>`,
    );
  }
  const breakdowns = breakdownTables(source.runs.slice(0, 24));
  if (breakdowns.length > 0) {
    parts.push('<h2>Breakdowns</h2>');
    for (const b of breakdowns) parts.push(`<h3>${escapeHtml(b.title)}</h3>`, tableHtml(b.table));
  }
  parts.push('<h2>Configuration</h2>');
  if (source.summary) {
    const summary = escapeHtml(JSON.stringify(source.summary, null, 2));
    parts.push(`<details open><summary>${source.kind}.json</summary><pre>${summary}</pre></details>`);
  }
  for (const r of source.runs.slice(0, 24)) {
    const open = source.runs.length === 1 ? ' open' : '';
    const config = escapeHtml(JSON.stringify(r.config, null, 2));
    parts.push(
      `<details${open}><summary>${escapeHtml(r.label)}: config.json (resolved)</summary><pre>${config}</pre></details>`,
    );
  }
  parts.push('</body>\n</html>\n');
  return parts.join('\n');
}
