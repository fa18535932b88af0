import { CELL_KINDS } from '../models/registry.js';
import { HORIZON_THRESHOLD } from '../runlog/schema.js';
import type { DeltaSnapshot, GradflowSnapshot, RunData } from './runlog.js';
import type { VegaLiteSpec } from './render.js';
import { bandLayer, bandPoints, groupRunsBySeed, hasSeeds, type RunGroup } from './bands.js';

/**
 * The report's plots as Vega-Lite specs built from run data. Every builder returns
 * null when the runs hold nothing to draw, so a report shows what its runs logged.
 * Conventions: norms that span decades are on log axes; each axis says its unit;
 * several runs are told apart by colour with a legend; snapshots in time by panel
 * (several runs) or by a sequential colour scale (one run).
 */
export interface Plot {
  /** File stem: plots/<id>.svg and .png. */
  id: string;
  title: string;
  /** One or two sentences under the plot in the HTML report: what is drawn and how to read it. */
  caption: string;
  spec: VegaLiteSpec;
  /** The names of the series in the legend (runs, layers, steps), for tests and the summary. */
  series: string[];
}

/** A plot rendered to files: its SVG text, and where the SVG (and PNG) went. */
export interface RenderedPlot extends Plot {
  svg: string;
  svgFile: string;
  pngFile: string | null;
}

const positive = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** A log scale when the positive values span more than a decade, else a linear one that need not start at 0. */
function scaleFor(values: number[]): { type: 'log' } | LinearScale {
  const v = values.filter(positive);
  if (v.length > 0 && Math.max(...v) / Math.min(...v) > 10) return { type: 'log' };
  return linearScale(values);
}

type LinearScale = { zero: false; domain?: [number, number] };

/**
 * A linear scale that need not start at 0. A flat series (every value equal) gets a domain
 * around its value: vega would otherwise draw a zero-width domain as one tick with all the
 * digits it has ("1.000000").
 */
export function linearScale(values: number[]): LinearScale {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { zero: false };
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  if (hi - lo > 1e-9 * Math.max(1, Math.abs(hi))) return { zero: false };
  const pad = lo === 0 ? 1 : Math.abs(lo) / 10;
  return { zero: false, domain: [lo - pad, lo + pad] };
}

const isLog = (s: ReturnType<typeof scaleFor>) => 'type' in s;

/** Axis ticks and grid lines at whole decades only (a log axis otherwise draws 2…9 of every decade too). */
export function decadeAxis(values: number[]): Record<string, unknown> {
  const v = values.filter(positive);
  if (v.length === 0) return {};
  const lo = Math.floor(Math.log10(Math.min(...v)));
  const hi = Math.ceil(Math.log10(Math.max(...v)));
  const every = Math.max(1, Math.ceil((hi - lo) / 10)); // at most ~10 labels
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += every) ticks.push(Number(`1e${e}`)); // exact: 10 ** -5 is 9.999…e-6
  return { values: ticks, format: '.0e' };
}

/** Axis settings for a scale from scaleFor: decade ticks when it is logarithmic. */
const axisFor = (scale: ReturnType<typeof scaleFor>, values: number[]) => (isLog(scale) ? decadeAxis(values) : {});

/** A dashed horizontal reference line at `y`, labelled at the right end of the x field's range. */
function referenceLine(y: number, label: string, xField: string | null): Record<string, unknown>[] {
  const rule = {
    mark: { type: 'rule', strokeDash: [5, 4], color: '#777', strokeWidth: 1 },
    encoding: { y: { datum: y } },
  };
  if (xField === null) return [rule];
  return [
    rule,
    {
      mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, color: '#555', fontSize: 11 },
      encoding: {
        x: { field: xField, type: 'quantitative', aggregate: 'max' },
        y: { datum: y },
        text: { value: label },
      },
    },
  ];
}

/** Up to `n` of the sorted distinct steps: the first, the last and evenly spaced ones between. */
export function pickSteps(steps: number[], n: number): number[] {
  const all = [...new Set(steps)].sort((a, b) => a - b);
  if (all.length <= n) return all;
  const idx = new Set<number>();
  for (let i = 0; i < n; i++) idx.add(Math.round((i * (all.length - 1)) / (n - 1)));
  return [...idx].map((i) => all[i]);
}

export const stepLabel = (s: number) => (s === 0 ? 'before training (step 0)' : `step ${s}`);

/** The top layer's snapshots of a run (the trainer probes the top layer; with all layers, the others too). */
function topSnapshots(run: RunData): GradflowSnapshot[] {
  const top = Math.max(...run.gradflow.map((g) => g.layer));
  return run.gradflow.filter((g) => g.layer === top);
}

function modeNote(runs: RunData[]): string {
  const lstm = runs.flatMap((r) => r.gradflow).find((g) => g.mode === 'state');
  return lstm ? 'LSTM in "state" mode: s = [h; c]' : 'LSTM (if any) in "h" mode: c_k held fixed';
}

/** Colour by run; the legend says "cell" when the runs are named by their cells (a comparison). */
export const runColor = (runs: readonly { label: string }[]) => ({
  field: 'run',
  type: 'nominal',
  title: runs.every((r) => CELL_KINDS.some((c) => r.label === c || r.label.startsWith(`${c} `))) ? 'cell' : 'run',
  sort: runs.map((r) => r.label),
  // full colour in the legend, also when a translucent band shares the scale
  legend: { symbolOpacity: 1 },
});

/**
 * Snapshots against a per-position axis: several runs → one panel per chosen
 * training step, colour = run; one run → one panel, colour = training step.
 */
function snapshotSpec(
  runs: readonly { label: string }[],
  rows: { run: string; step: number; x: number; norm: number }[],
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  extraLayers: Record<string, unknown>[],
): VegaLiteSpec {
  const steps = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
  const data = { values: rows.map((r) => ({ ...r, stepLabel: stepLabel(r.step) })) };
  const line = { mark: { type: 'line', point: { size: 18 } }, encoding: { x, y } as Record<string, unknown> };
  if (runs.length > 1) {
    line.encoding.color = runColor(runs);
    return {
      data,
      facet: {
        column: {
          field: 'stepLabel',
          type: 'ordinal',
          sort: steps.map(stepLabel),
          title: 'training step',
          header: { labelFontSize: 13 },
        },
      },
      spec: { width: steps.length > 2 ? 280 : 340, height: 260, layer: [line, ...extraLayers] },
    };
  }
  line.encoding.color = {
    field: 'stepLabel',
    type: 'ordinal',
    sort: steps.map(stepLabel),
    scale: { scheme: 'viridis' },
    title: 'training step',
  };
  return { data, width: 480, height: 300, layer: [line, ...extraLayers] };
}

/** log ‖∂h_T/∂h_k‖ against the gap T − k, at several training steps; the horizon threshold as a dashed rule. */
export function gradflowPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.gradflow.length > 0);
  if (withData.length === 0) return null;
  const groups = groupRunsBySeed(withData);
  const banded = hasSeeds(groups);
  const steps = pickSteps(
    withData.flatMap((r) => topSnapshots(r).map((g) => g.step)),
    groups.length > 1 ? 3 : 6,
  );
  const spectral = withData.some((r) => r.gradflow.some((g) => g.spectral.some(positive)));
  const curves = (r: RunData, run: string) =>
    topSnapshots(r)
      .filter((g) => steps.includes(g.step))
      .flatMap((g) =>
        g.gap.map((gap, i) => ({
          run,
          step: g.step,
          x: gap,
          norm: (spectral ? g.spectral[i] : g.frobenius[i]) as number,
        })),
      )
      .filter((p) => positive(p.norm));
  // several seeds: per group, step and gap the mean of ln‖·‖ over the seeds and its t-interval
  const rows: { run: string; step: number; x: number; norm: number; lo?: number | null; hi?: number | null }[] = banded
    ? bandPoints(
        groups.flatMap((g) =>
          g.runs.flatMap((r) =>
            curves(r, g.label).map((p) => ({ series: p.run, key: String(p.step), x: p.x, value: p.norm })),
          ),
        ),
        true,
      ).map((b) => ({ run: b.series, step: Number(b.key), x: b.x, norm: b.mean, lo: b.lo, hi: b.hi, n: b.n }))
    : withData.flatMap((r) => curves(r, r.label));
  if (rows.length === 0) return null;
  const normName = spectral ? 'spectral norm' : 'Frobenius norm';
  const x = { field: 'x', type: 'quantitative', title: 'gap T − k (time steps)', scale: { nice: false } };
  const y = {
    field: 'norm',
    type: 'quantitative',
    title: `‖∂h_T/∂h_k‖ (${normName}, log scale)`,
    scale: { type: 'log' },
    axis: decadeAxis([...rows.flatMap((r) => [r.norm, r.lo ?? r.norm, r.hi ?? r.norm]), HORIZON_THRESHOLD]),
  };
  const labels = banded ? groups : withData;
  const band = banded ? [bandLayer(x, y, labels.length > 1 ? runColor(labels) : { value: '#4c78a8' })] : [];
  const spec = snapshotSpec(labels, rows, x, y, [
    ...band,
    ...referenceLine(HORIZON_THRESHOLD, `horizon threshold ${HORIZON_THRESHOLD}`, 'x'),
  ]);
  const seedNote = banded
    ? ` Over ${seedCounts(groups)} seeds: the line is the mean of ln‖·‖ (the geometric mean), the band its 95 % ` +
      't-interval over the seeds.'
    : '';
  return {
    id: 'gradflow',
    title: 'Gradient flow: how much h_T still depends on h_k',
    caption:
      `‖∂h_T/∂h_k‖ (${normName}, mean over the probe batch) against the gap T − k, on a log axis: a straight ` +
      `falling line is exponential vanishing (slope = decay per step). The dashed line is the horizon threshold ` +
      `${HORIZON_THRESHOLD}. ${modeNote(withData)}.${seedNote}`,
    spec: {
      title: {
        text: 'Gradient flow ‖∂h_T/∂h_k‖ against gap',
        subtitle: `${normName}, mean over the probe batch${banded ? '; geometric mean over seeds, 95 % band' : ''}`,
      },
      ...spec,
    },
    series: labels.length > 1 ? labels.map((r) => r.label) : steps.map(stepLabel),
  };
}

/** "5", or "3–5" when the groups hold different numbers of seeds. */
function seedCounts(groups: readonly RunGroup[]): string {
  const counts = groups.map((g) => g.runs.length);
  const [lo, hi] = [Math.min(...counts), Math.max(...counts)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

/** ‖∂L/∂h_k‖ against position k: the error signal BPTT delivers to each step. */
export function lossGradPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.gradflow.some((g) => g.lossGrad));
  if (withData.length === 0) return null;
  const steps = pickSteps(
    withData.flatMap((r) => r.gradflow.filter((g) => g.lossGrad).map((g) => g.step)),
    withData.length > 1 ? 2 : 6,
  );
  const rows = withData.flatMap((r) =>
    r.gradflow
      .filter((g) => g.lossGrad && steps.includes(g.step))
      .flatMap((g) => g.lossGrad!.map((norm, k) => ({ run: r.label, step: g.step, x: k, norm })))
      .filter((p) => positive(p.norm)),
  );
  if (rows.length === 0) return null;
  const spec = snapshotSpec(
    withData,
    rows,
    { field: 'x', type: 'quantitative', title: 'time step k (0 = initial state h₀)', scale: { nice: false } },
    {
      field: 'norm',
      type: 'quantitative',
      title: '‖∂L/∂h_k‖ (log scale)',
      scale: { type: 'log' },
      axis: decadeAxis(rows.map((r) => r.norm)),
    },
    [],
  );
  return {
    id: 'loss-gradient',
    title: 'Error signal ‖∂L/∂h_k‖ at each step',
    caption:
      '‖∂L/∂h_k‖ on the probe batch (Frobenius norm over the batch): ' +
      'how much of the loss gradient BPTT delivers to the hidden state at step k. ' +
      'Where it is tiny, the weights get no signal from those steps.',
    spec: { title: { text: 'Error signal ‖∂L/∂h_k‖ along the sequence', subtitle: 'top layer, probe batch' }, ...spec },
    series: withData.length > 1 ? withData.map((r) => r.label) : steps.map(stepLabel),
  };
}

/** The (t, k) heat map of ‖∂h_t/∂h_k‖ for k < t, from the last `pairs` record of each run. */
export function heatmapPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.pairs.length > 0);
  if (withData.length === 0) return null;
  const rows: { run: string; t: number; k: number; norm: number }[] = [];
  let T = 0;
  let norm = 'Frobenius';
  let step = 0;
  for (const r of withData) {
    const p = r.pairs.at(-1)!;
    T = Math.max(T, p.T);
    norm = p.norm === 'frobenius' ? 'Frobenius' : p.norm;
    step = p.step;
    for (const [i, row] of p.pairs.entries())
      for (const [k, v] of row.entries()) if (positive(v)) rows.push({ run: r.label, t: i + 1, k, norm: v });
  }
  if (rows.length === 0) return null;
  const tick = T <= 12 ? 1 : T <= 30 ? 5 : T <= 60 ? 10 : 20;
  const ticks = (lo: number) => Array.from({ length: T + 1 }, (_, i) => i).filter((v) => v >= lo && v % tick === 0);
  const size = Math.min(300, Math.max(150, 8 * T));
  const inner = {
    width: size,
    height: size,
    mark: { type: 'rect' },
    encoding: {
      x: {
        field: 'k',
        type: 'ordinal',
        title: 'earlier time step k',
        axis: { values: ticks(0), labelAngle: 0 },
        scale: { domain: Array.from({ length: T }, (_, i) => i) },
      },
      y: {
        field: 't',
        type: 'ordinal',
        title: 'later time step t',
        sort: 'descending',
        axis: { values: ticks(1) },
        scale: { domain: Array.from({ length: T }, (_, i) => T - i) },
      },
      color: {
        field: 'norm',
        type: 'quantitative',
        scale: { type: 'log', scheme: 'viridis' },
        title: ['‖∂h_t/∂h_k‖', `(${norm}, log)`],
        legend: { format: '.0e' },
      },
    },
  };
  const spec = facetByRun(rows, withData, inner, { title: null, header: { labelFontSize: 14 } });
  return {
    id: 'gradflow-heatmap',
    title: 'Jacobian norms for every pair of steps',
    caption:
      `‖∂h_t/∂h_k‖ (${norm} norm, mean over the probe batch) for every k < t ≤ T at step ${step}, ` +
      'colour on a log scale. Each row t is the gradient-flow curve of a sequence ending at t; ' +
      'the diagonal is one step back.',
    spec: {
      title: { text: '‖∂h_t/∂h_k‖ for every pair k < t', subtitle: `${norm} norm, after ${step} training steps` },
      ...spec,
    },
    series: withData.map((r) => r.label),
  };
}

/** Mean training loss over bins of `width` steps (the raw per-step loss is too noisy to read). */
function binnedLoss(points: { step: number; loss: number }[], width: number): { step: number; loss: number }[] {
  const out: { step: number; loss: number }[] = [];
  for (let i = 0; i < points.length; i += width) {
    const bin = points.slice(i, i + width);
    out.push({ step: bin.at(-1)!.step, loss: bin.reduce((s, p) => s + p.loss, 0) / bin.length });
  }
  return out;
}

/** What the loss of a task is, for axis titles. */
export function lossName(run: RunData): string {
  const task =
    run.config.experiment !== undefined
      ? 'mnist'
      : String(
          run.config.taskName ?? (run.config.task as { task?: string } | undefined)?.task ?? run.metrics?.task ?? '',
        );
  if (task === 'lm') return 'cross-entropy (nats per word)';
  if (task === 'adding') return 'mean squared error';
  if (task === 'agreement' || task === 'copy' || task === 'mnist') return 'cross-entropy (nats)';
  return 'loss';
}

/** Training loss (binned mean) and validation loss against the optimizer step. */
export function lossCurvePlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.steps.length > 0 || r.evals.length > 0);
  if (withData.length === 0) return null;
  // several seeds: a colour per group, a line per seed
  const groups = groupRunsBySeed(withData);
  const banded = hasSeeds(groups);
  const labels = banded ? groups : withData;
  const groupOf = new Map(groups.flatMap((g) => g.runs.map((r, i) => [r, { label: g.label, seed: g.seeds[i] }])));
  const rows: { run: string; seed: number | null; step: number; loss: number; series: string }[] = [];
  const maxSteps = Math.max(...withData.map((r) => r.steps.length));
  const width = Math.max(1, Math.ceil(maxSteps / 100));
  const trainName = width > 1 ? `training (mean of ${width} steps)` : 'training';
  for (const r of withData) {
    const { label, seed } = banded ? groupOf.get(r)! : { label: r.label, seed: null };
    for (const p of binnedLoss(r.steps, width))
      rows.push({ run: label, seed, step: p.step, loss: p.loss, series: trainName });
    for (const e of r.evals) rows.push({ run: label, seed, step: e.step, loss: e.loss, series: 'validation' });
  }
  const finite = rows.filter((r) => Number.isFinite(r.loss));
  if (finite.length === 0) return null;
  const yScale = scaleFor(finite.map((r) => r.loss));
  const name = lossName(withData[0]);
  const x = { field: 'step', type: 'quantitative', title: 'training step (optimizer updates)' };
  const y = {
    field: 'loss',
    type: 'quantitative',
    title: `loss: ${name}${isLog(yScale) ? ', log scale' : ''}`,
    scale: yScale,
    axis: axisFor(
      yScale,
      finite.map((r) => r.loss),
    ),
  };
  const color = labels.length > 1 ? runColor(labels) : { value: '#4c78a8' };
  const detail = banded ? { detail: { field: 'seed', type: 'nominal' } } : {};
  const dash = {
    field: 'series',
    type: 'nominal',
    title: 'loss',
    sort: [trainName, 'validation'],
    scale: {
      domain: [trainName, 'validation'],
      range: [
        [1, 0],
        [6, 3],
      ],
    },
  };
  const layer = [
    {
      transform: [{ filter: { field: 'series', equal: trainName } }],
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: { x, y, color, strokeDash: dash, ...detail },
    },
    {
      transform: [{ filter: { field: 'series', equal: 'validation' } }],
      mark: { type: 'line', strokeWidth: 2.5, point: { size: 70, stroke: 'white', strokeWidth: 1 } },
      encoding: { x, y, color, strokeDash: dash, ...detail },
    },
  ];
  return {
    id: 'loss',
    title: 'Loss during training',
    caption:
      `Training loss (${name}; ${width > 1 ? `mean over bins of ${width} steps` : 'per step'}, solid) ` +
      'and validation loss at each evaluation (dashed, dots).' +
      (banded ? ' One line per seed, coloured by configuration.' : ''),
    spec: {
      title: { text: 'Loss during training', subtitle: name },
      data: { values: finite },
      width: 480,
      height: 280,
      layer,
    },
    series: [...new Set(finite.map((r) => (labels.length > 1 ? r.run : r.series)))],
  };
}

/** Metric names worth a curve: plain (no breakdown), not the loss again, not counts or constant baselines. */
export function plainMetrics(metrics: Record<string, unknown>): string[] {
  return Object.keys(metrics).filter(
    (k) =>
      !k.includes('@') &&
      !['loss', 'xent', 'mse', 'split', 'epoch'].includes(k) &&
      !/^baseline|^n$/.test(k) &&
      typeof metrics[k] === 'number',
  );
}

/** Validation metrics (accuracy, perplexity, …) against the step, one panel per metric; over seeds a mean and band. */
export function metricCurvesPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.evals.length >= 2);
  if (withData.length === 0) return null;
  const groups = groupRunsBySeed(withData);
  const banded = hasSeeds(groups);
  const names = [...new Set(withData.flatMap((r) => r.evals.flatMap((e) => plainMetrics(e.metrics))))];
  const perRun = (r: RunData, run: string) =>
    r.evals.flatMap((e) =>
      names
        .map((m) => ({ run, step: e.step, metric: m, value: e.metrics[m] }))
        .filter((p): p is typeof p & { value: number } => typeof p.value === 'number' && Number.isFinite(p.value)),
    );
  // several seeds: per group, metric and step the mean over the seeds and its t-interval
  const rows: { run: string; step: number; metric: string; value: number; lo?: number | null; hi?: number | null }[] =
    banded
      ? bandPoints(
          groups.flatMap((g) =>
            g.runs.flatMap((r) =>
              perRun(r, g.label).map((p) => ({ series: p.run, key: p.metric, x: p.step, value: p.value })),
            ),
          ),
        ).map((b) => ({ run: b.series, step: b.x, metric: b.key, value: b.mean, lo: b.lo, hi: b.hi }))
      : withData.flatMap((r) => perRun(r, r.label));
  if (rows.length === 0) return null;
  const values = (m: string) => rows.filter((r) => r.metric === m).flatMap((r) => [r.value, r.lo ?? r.value]);
  const logMetrics = names.filter((m) => isLog(scaleFor(rows.filter((r) => r.metric === m).map((r) => r.value))));
  // on a log axis an interval reaching 0 or below is cut at the lowest mean drawn
  for (const m of logMetrics) {
    const floor = Math.min(
      ...rows
        .filter((r) => r.metric === m)
        .map((r) => r.value)
        .filter(positive),
    );
    for (const r of rows) if (r.metric === m && typeof r.lo === 'number') r.lo = Math.max(r.lo, floor);
  }
  const labels = banded ? groups : withData;
  const color = labels.length > 1 ? runColor(labels) : { value: '#4c78a8' };
  const panel = (m: string) => {
    const x = { field: 'step', type: 'quantitative', title: 'training step (optimizer updates)' };
    const y = {
      field: 'value',
      type: 'quantitative',
      title: `${m}${logMetrics.includes(m) ? ' (log scale)' : ''}${/accuracy/i.test(m) ? ' (fraction)' : ''}`,
      // fractions on [0, 1]: a run at 1.00 throughout is then a line along the top, not a lone tick
      scale: logMetrics.includes(m)
        ? { type: 'log' }
        : /accuracy/i.test(m)
          ? { domain: [0, 1] }
          : linearScale(rows.filter((r) => r.metric === m).map((r) => r.value)),
      axis: logMetrics.includes(m) ? decadeAxis(values(m)) : {},
    };
    const line = { mark: { type: 'line', point: { size: 20 } }, encoding: { x, y, color } };
    return {
      title: m,
      width: 420,
      height: 160,
      transform: [{ filter: { field: 'metric', equal: m } }],
      ...(banded ? { layer: [bandLayer(x, y, color), line] } : line),
    };
  };
  return {
    id: 'metrics',
    title: 'Validation metrics during training',
    caption:
      'Each validation metric at every evaluation. Accuracies are fractions of the validation set; perplexity is ' +
      'exp(cross-entropy per word).' +
      (banded ? ` Over ${seedCounts(groups)} seeds: the line is the mean, the band its 95 % t-interval.` : ''),
    spec: { title: { text: 'Validation metrics during training' }, data: { values: rows }, vconcat: names.map(panel) },
    series: labels.length > 1 ? labels.map((r) => r.label) : names,
  };
}

/**
 * Breakdown bins backed by fewer test examples than this are drawn hollow and left out of the
 * line: at accuracy 0.5, 20 examples already give a standard error of 0.11.
 */
export const FEW_EXAMPLES = 20;

/** Axis titles of the breakdown keys the tasks write (metric@key=value). */
const BREAKDOWN_AXES: Record<string, string> = {
  d: 'distance from subject to verb (words)',
  a: 'attractors (intervening nouns of the other number)',
};
const BREAKDOWN_NAMES: Record<string, string> = { d: 'distance', a: 'attractors' };

/** The final evaluation of a run: its test set when it has one, else its last validation. */
export function finalMetrics(run: RunData): Record<string, number | null> {
  const fromFile = (run.metrics?.eval as { metrics?: Record<string, number | null> } | undefined)?.metrics;
  return run.test?.metrics ?? fromFile ?? run.evals.at(-1)?.metrics ?? {};
}

/** One plot per breakdown in the final metrics (accuracy by distance, by attractors, …). */
export function breakdownPlots(runs: RunData[]): Plot[] {
  const groups = new Map<string, { metric: string; key: string }>();
  for (const r of runs) {
    for (const k of Object.keys(finalMetrics(r))) {
      const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
      if (m && m[1] !== 'n') groups.set(`${m[1]}@${m[2]}`, { metric: m[1], key: m[2] });
    }
  }
  const plots: Plot[] = [];
  const seedGroups = groupRunsBySeed(runs);
  const banded = hasSeeds(seedGroups);
  const labels = banded ? seedGroups : runs;
  for (const { metric, key } of groups.values()) {
    const perRun = (r: RunData, run: string) => {
      const fm = finalMetrics(r);
      return Object.entries(fm)
        .map(([k, v]) => {
          const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
          if (!m || m[1] !== metric || m[2] !== key || typeof v !== 'number') return null;
          const n = fm[`n@${key}=${m[3]}`];
          return { run, value: Number(m[3]), label: m[3], y: v, n: typeof n === 'number' ? n : null };
        })
        .filter((x) => x !== null);
    };
    const single = runs.flatMap((r) => perRun(r, r.label));
    const order = [...new Set(single.map((r) => r.label))];
    // several seeds: per group and breakdown value the mean over the seeds and its t-interval
    // over seeds the band shows the spread, so the points carry no example counts (n null)
    const rows: {
      run: string;
      value: number;
      label: string;
      y: number;
      n: number | null;
      lo?: number | null;
      hi?: number | null;
    }[] = banded
      ? bandPoints(
          seedGroups.flatMap((g) =>
            g.runs.flatMap((r) =>
              perRun(r, g.label).map((p) => ({ series: p.run, key: p.label, x: order.indexOf(p.label), value: p.y })),
            ),
          ),
        ).map((b) => ({ run: b.series, value: Number(b.key), label: b.key, y: b.mean, n: null, lo: b.lo, hi: b.hi }))
      : single;
    if (new Set(rows.map((r) => r.label)).size < 2) continue;
    const numeric = rows.every((r) => Number.isFinite(r.value));
    const isAccuracy = /accuracy/i.test(metric);
    const keyName = BREAKDOWN_NAMES[key] ?? key;
    const chance = isAccuracy && runs.some((r) => String(r.config.taskName) === 'agreement') ? 0.5 : null;
    const color = labels.length > 1 ? runColor(labels) : { value: '#4c78a8' };
    const counted = rows.some((r) => r.n !== null);
    const maxN = Math.max(1, ...rows.map((r) => r.n ?? 0));
    const x = numeric
      ? {
          field: 'value',
          type: 'quantitative',
          title: BREAKDOWN_AXES[key] ?? key,
          axis: { values: [...new Set(rows.map((r) => r.value))], format: 'd' },
          scale: { zero: false, nice: false, padding: 10 },
        }
      : { field: 'label', type: 'ordinal', title: BREAKDOWN_AXES[key] ?? key, sort: order };
    const y = {
      field: 'y',
      type: 'quantitative',
      title: `${metric}${isAccuracy ? ' (fraction correct)' : ''}`,
      scale: isAccuracy ? { domain: [0, 1] } : linearScale(rows.map((r) => r.y)),
    };
    // a point's area ∝ its examples; bins under FEW_EXAMPLES are hollow and left out of the line
    const size = counted
      ? { field: 'n', type: 'quantitative', title: 'test examples', scale: { domain: [0, maxN], range: [16, 260] } }
      : { value: 50 };
    const isFew = `datum.n !== null && datum.n < ${FEW_EXAMPLES}`;
    const tooltip = [
      { field: 'run', title: 'run' },
      { field: 'label', title: BREAKDOWN_NAMES[key] ?? key },
      { field: 'y', title: metric, format: '.3f' },
      { field: 'n', title: 'examples' },
    ];
    const layers: Record<string, unknown>[] = [
      ...(banded ? [bandLayer(x, y, color)] : []),
      {
        transform: [{ filter: `!(${isFew})` }],
        mark: { type: 'line' },
        encoding: { x, y, color },
      },
      {
        transform: [{ filter: `!(${isFew})` }],
        mark: { type: 'point', filled: true, opacity: 1 },
        encoding: { x, y, color, size, tooltip },
      },
      {
        transform: [{ filter: isFew }],
        mark: { type: 'point', filled: false, opacity: 1, strokeWidth: 1.5 },
        encoding: { x, y, color, size, tooltip },
      },
    ];
    if (chance !== null) {
      layers.push(...referenceLine(chance, 'chance', numeric ? 'value' : null));
    }
    const few = rows.filter((r) => r.n !== null && r.n < FEW_EXAMPLES).length;
    plots.push({
      id: `${metric}-by-${keyName}`.replace(/[^\w.-]+/g, '-'),
      title: `${metric} by ${keyName}`,
      caption:
        `Final ${metric} broken down by ${BREAKDOWN_AXES[key] ?? key}` +
        (chance !== null ? '; the dashed line is chance (0.5: singular or plural).' : '.') +
        (counted
          ? " A point's area grows with the test examples behind it; hollow points, not joined by the line, " +
            `have fewer than ${FEW_EXAMPLES} (their ${metric} is mostly noise)${few > 0 ? `: ${few} here` : ''}.`
          : ' Points with few examples are noisy: the counts are in the table below.') +
        (banded ? ` Over ${seedCounts(seedGroups)} seeds: the line is the mean, the band its 95 % t-interval.` : ''),
      spec: {
        title: { text: `${metric} by ${keyName}` },
        data: { values: rows },
        width: 460,
        height: 260,
        layer: layers,
      },
      series: labels.map((r) => r.label),
    });
  }
  return plots;
}

/** Per-layer ‖δˡ‖ = ‖∂C/∂bˡ‖ during training (MLP runs): the speed at which each layer learns. */
export function deltasPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.deltas.length > 0);
  if (withData.length === 0) return null;
  // the once-an-epoch probe on a fixed set (Nielsen's figure) when there are two or more, else the training-batch means
  const snapshots = (r: RunData): DeltaSnapshot[] => {
    const probes = r.deltas.filter((d) => d.kind === 'probe');
    return probes.length >= 2
      ? probes
      : r.deltas.filter((d) => d.kind !== 'probe').length >= 2
        ? r.deltas.filter((d) => d.kind !== 'probe')
        : r.deltas;
  };
  // epochs from steps when the config says how many steps an epoch has (the MLP runs: trainSize / batchSize)
  const stepsPerEpoch = (r: RunData): number | null => {
    const n = r.config.trainSize;
    const b = (r.config.train as { batchSize?: unknown } | undefined)?.batchSize;
    return typeof n === 'number' && typeof b === 'number' && n > 0 && b > 0 ? Math.ceil(n / b) : null;
  };
  const byEpoch = withData.every((r) => stepsPerEpoch(r) !== null);
  const rows = withData.flatMap((r) =>
    snapshots(r).flatMap((d) =>
      d.norms
        .map((norm, l) => ({
          run: r.label,
          x: byEpoch ? d.step / stepsPerEpoch(r)! : d.step,
          layer: `hidden layer ${l + 1}`,
          l: l + 1,
          norm,
        }))
        .filter((p) => positive(p.norm)),
    ),
  );
  if (rows.length === 0) return null;
  const layers = [...new Set(rows.map((r) => r.l))].sort((a, b) => a - b).map((l) => `hidden layer ${l}`);
  const inner = {
    width: withData.length > 1 ? 260 : 480,
    height: 260,
    mark: { type: 'line', point: { size: 14 } },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: byEpoch ? 'epochs of training' : 'training step (mini-batches)',
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: {
        field: 'norm',
        type: 'quantitative',
        title: '‖δˡ‖ = ‖∂C/∂bˡ‖ (log scale)',
        scale: { type: 'log' },
        axis: decadeAxis(rows.map((r) => r.norm)),
      },
      color: { field: 'layer', type: 'ordinal', sort: layers, title: null, scale: { scheme: 'viridis' } },
    },
  };
  const spec = facetByRun(rows, withData, inner, { title: null });
  return {
    id: 'deltas',
    title: 'Speed of learning: ‖δˡ‖ per layer',
    caption:
      'The gradient with respect to each hidden layer’s biases, ‖δˡ‖ = ‖∂C/∂bˡ‖, averaged over a batch: ' +
      'the speed at which layer l learns (layer 1 is nearest the input). ' +
      'In deep sigmoid nets the early layers learn orders of magnitude slower (vanishing gradient).',
    spec: { title: { text: 'Speed of learning ‖δˡ‖ by layer' }, ...spec },
    series: layers,
  };
}

export interface ParamPoint {
  /** The series (e.g. the cell), from the settings that vary other than x and the seed. */
  series: string;
  x: number;
  y: number;
}

/**
 * A result against a numeric setting (error against sequence length, accuracy
 * against learning rate): each run as a point, the mean over seeds as a line and,
 * where there are two or more seeds, the 95 % t-interval of that mean as a band.
 */
export function paramPlot(
  id: string,
  points: ParamPoint[],
  xTitle: string,
  yTitle: string,
  title: string,
  caption: string,
  baseline: number | null = null,
): Plot | null {
  const rows = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (new Set(rows.map((r) => r.x)).size < 2) return null;
  const xScale = scaleFor(rows.map((r) => r.x));
  const yScale = scaleFor([...rows.map((r) => r.y), ...(baseline !== null ? [baseline] : [])]);
  const series = [...new Set(rows.map((r) => r.series))];
  const xs = [...new Set(rows.map((r) => r.x))].sort((a, b) => a - b);
  const x = {
    field: 'x',
    type: 'quantitative',
    title: `${xTitle}${isLog(xScale) ? ' (log scale)' : ''}`,
    scale: { ...xScale, nice: false, padding: 12 },
    axis: xs.length <= 12 ? { values: xs } : {},
  };
  const y = {
    field: 'y',
    type: 'quantitative',
    title: `${yTitle}${isLog(yScale) ? ' (log scale)' : ''}`,
    scale: yScale,
    axis: axisFor(
      yScale,
      rows.map((r) => r.y),
    ),
  };
  const color =
    series.length > 1 || series[0] !== ''
      ? { field: 'series', type: 'nominal', title: null, sort: series, legend: { symbolOpacity: 1 } }
      : { value: '#4c78a8' };
  // the mean over the points at each x of a series (its seeds), and the 95 % t-interval of that mean
  // on a log axis an interval reaching 0 or below is cut at the lowest point drawn
  const floor = isLog(yScale) ? Math.min(...rows.map((r) => r.y).filter(positive)) : -Infinity;
  const means = bandPoints(rows.map((r) => ({ series: r.series, x: r.x, value: r.y }))).map((b) => ({
    series: b.series,
    x: b.x,
    y: b.mean,
    lo: b.lo === null ? null : Math.max(b.lo, floor),
    hi: b.hi,
  }));
  const layer: Record<string, unknown>[] = [
    { data: { values: means }, ...bandLayer(x, y, color) },
    { data: { values: rows }, mark: { type: 'point', opacity: 0.5, filled: true }, encoding: { x, y, color } },
    { data: { values: means }, mark: { type: 'line', point: false }, encoding: { x, y, color } },
  ];
  if (baseline !== null) layer.push(...referenceLine(baseline, 'baseline: predict the mean', 'x'));
  return {
    id,
    title,
    caption,
    spec: { title: { text: title }, data: { values: rows }, width: 460, height: 280, layer },
    series,
  };
}

// ---------------------------------------------------------------------------------------------
// The agreement study (compare --task agreement-ud): read from compare.json's `agreement` section

interface StudyCell {
  label: string;
  n: number;
  accuracy: number | null;
}

interface StudyAccuracy {
  overall: StudyCell;
  byVariant: StudyCell[];
  byDistance: StudyCell[];
  byAttractors: StudyCell[];
}

/** The part of the study (commands/agreement-study.ts, AgreementStudy) the plots read. */
export interface AgreementStudyPlotData {
  models: {
    cell: string;
    accuracy: StudyAccuracy;
    jacobian: {
      norm: string;
      byNorm: StudyCell[];
      byDistance: { label: string; n: number; geometricMean: number | null }[];
    } | null;
  }[];
  baselines: { ngram: { order: number; accuracy: StudyAccuracy }; frequency: { accuracy: StudyAccuracy } };
}

/** The study's section of compare.json, or null when it lacks the fields the plots read. */
export function agreementStudyData(summary: Record<string, unknown> | null): AgreementStudyPlotData | null {
  const study = summary?.agreement as Partial<AgreementStudyPlotData> | undefined;
  if (!study || !Array.isArray(study.models) || !study.baselines?.ngram || !study.baselines.frequency) return null;
  return study as AgreementStudyPlotData;
}

const chanceNote = ' The dashed line is chance (0.5).';

/** Norm bins with fewer items are not drawn: their accuracy is noise. */
const MIN_BIN_ITEMS = 10;

/** Accuracy (y) over ordered labels (x), a line per model, the item counts in the labels of the x axis. */
function accuracyByLabelPlot(
  id: string,
  title: string,
  xTitle: string,
  caption: string,
  models: { name: string; cells: StudyCell[] }[],
): Plot | null {
  const labels = models[0].cells.filter((c) => c.n > 0).map((c) => c.label);
  if (labels.length < 2) return null;
  const counts = new Map(models[0].cells.map((c) => [c.label, c.n]));
  const axisLabel = (l: string) => `${l} (${counts.get(l)})`;
  const rows = models.flatMap((m) =>
    m.cells
      .filter((c) => labels.includes(c.label) && c.accuracy !== null)
      .map((c) => ({ run: m.name, x: axisLabel(c.label), y: c.accuracy })),
  );
  const names = models.map((m) => m.name);
  return {
    id,
    title,
    caption: `${caption}${chanceNote}`,
    spec: {
      title: { text: title },
      data: { values: rows },
      width: 480,
      height: 280,
      layer: [
        {
          mark: { type: 'line', point: { size: 40 } },
          encoding: {
            x: { field: 'x', type: 'ordinal', sort: labels.map(axisLabel), title: `${xTitle} (items)` },
            y: { field: 'y', type: 'quantitative', title: 'accuracy (fraction correct)', scale: { domain: [0, 1] } },
            color: { field: 'run', type: 'nominal', title: 'model', sort: names },
            strokeDash: {
              field: 'run',
              type: 'nominal',
              sort: names,
              title: 'model', // the same title as the colour's: one legend with both
              scale: { domain: names, range: names.map((n) => (CELL_KINDS.some((c) => c === n) ? [1, 0] : [4, 3])) },
            },
          },
        },
        ...referenceLine(0.5, 'chance', null),
      ],
    },
    series: names,
  };
}

/** The agreement study's plots: accuracy by distance, attractors, originals vs nonce, ‖∂h_verb/∂h_subject‖. */
export function agreementPlots(study: AgreementStudyPlotData): Plot[] {
  const models = [
    ...study.models.map((m) => ({ name: m.cell, accuracy: m.accuracy })),
    { name: `KN ${study.baselines.ngram.order}-gram`, accuracy: study.baselines.ngram.accuracy },
    { name: 'frequency', accuracy: study.baselines.frequency.accuracy },
  ];
  const plots: (Plot | null)[] = [
    accuracyByLabelPlot(
      'agreement-by-distance',
      'Agreement accuracy by distance',
      'tokens between subject and verb',
      'Each word LM and the two baselines on the same items: the fraction whose correct verb form gets the higher ' +
        'probability after the prefix, by the number of tokens between the subject’s head noun and the verb. ' +
        'The n-gram model sees only the last 4 tokens.',
      models.map((m) => ({ name: m.name, cells: m.accuracy.byDistance })),
    ),
    accuracyByLabelPlot(
      'agreement-by-attractors',
      'Agreement accuracy by attractors',
      'nouns of the other number between subject and verb',
      'The same items by their attractors: intervening nouns whose number is not the subject’s.',
      models.map((m) => ({ name: m.name, cells: m.accuracy.byAttractors })),
    ),
  ];
  const variants = models.flatMap((m) =>
    m.accuracy.byVariant
      .filter((c) => c.accuracy !== null)
      .map((c) => ({ run: m.name, variant: `${c.label} (${c.n})`, y: c.accuracy })),
  );
  if (variants.length > 0) {
    plots.push({
      id: 'agreement-original-vs-nonce',
      title: 'Originals against nonce twins',
      caption:
        'Accuracy on the sentences as written and on their nonce twins (content words replaced by random words of ' +
        'the same part of speech and features): a model that leans on meaning or collocations drops on the twins.' +
        chanceNote,
      spec: {
        title: { text: 'Originals against nonce twins' },
        data: { values: variants },
        width: 460,
        height: 260,
        layer: [
          {
            mark: { type: 'bar' },
            encoding: {
              x: { field: 'run', type: 'nominal', title: 'model', sort: models.map((m) => m.name) },
              xOffset: { field: 'variant', type: 'nominal' },
              y: { field: 'y', type: 'quantitative', title: 'accuracy (fraction correct)', scale: { domain: [0, 1] } },
              color: { field: 'variant', type: 'nominal', title: 'items' },
            },
          },
          ...referenceLine(0.5, 'chance', null),
        ],
      },
      series: models.map((m) => m.name),
    });
  }
  const links = study.models.filter((m) => m.jacobian?.byNorm.some((c) => c.n > 0));
  if (links.length > 0) {
    // each decade bin [10^e, 10^(e+1)) drawn at its geometric centre; "<1e<f>" (all below) half a decade under 1e<f>
    const centre = (label: string) => {
      const m = /^(<)?1e(-?\d+)/.exec(label);
      return m ? 10 ** (Number(m[2]) + (m[1] ? -0.5 : 0.5)) : null;
    };
    const rows = links.flatMap((m) =>
      m.jacobian!.byNorm.flatMap((c) => {
        const x = centre(c.label);
        return x === null || c.accuracy === null || c.n < MIN_BIN_ITEMS
          ? []
          : [{ run: m.cell, x, y: c.accuracy, n: c.n }];
      }),
    );
    const norm = links[0].jacobian!.norm;
    if (rows.length > 0) {
      plots.push({
        id: 'agreement-by-jacobian',
        title: 'Accuracy by ‖∂h_verb/∂h_subject‖',
        caption:
          `Items at distance ≥ 1 binned by the decade of the ${norm} norm of the Jacobian from the subject’s state ` +
          'to the state that predicts the verb (top layer, on the item’s own prefix), drawn at the bin’s centre; ' +
          'the leftmost point may hold every item below its decade. Point size: items in the bin ' +
          `(bins of fewer than ${MIN_BIN_ITEMS} left out). ` +
          'Do the items whose subject has lost its influence fail?' +
          chanceNote,
        spec: {
          title: { text: 'Accuracy by ‖∂h_verb/∂h_subject‖' },
          data: { values: rows },
          width: 480,
          height: 280,
          layer: [
            {
              mark: { type: 'line', point: false },
              encoding: {
                x: {
                  field: 'x',
                  type: 'quantitative',
                  title: `‖∂h_verb/∂h_subject‖ (${norm}, log scale)`,
                  scale: { type: 'log' },
                  axis: decadeAxis(rows.map((r) => r.x)),
                },
                y: {
                  field: 'y',
                  type: 'quantitative',
                  title: 'accuracy (fraction correct)',
                  scale: { domain: [0, 1] },
                },
                color: runColorOf(links.map((m) => m.cell)),
              },
            },
            {
              mark: { type: 'point', filled: true },
              encoding: {
                x: { field: 'x', type: 'quantitative', scale: { type: 'log' } },
                y: { field: 'y', type: 'quantitative' },
                size: { field: 'n', type: 'quantitative', title: 'items' },
                color: runColorOf(links.map((m) => m.cell)),
              },
            },
            ...referenceLine(0.5, 'chance', null),
          ],
        },
        series: links.map((m) => m.cell),
      });
    }
    const means = links.flatMap((m) =>
      m.jacobian!.byDistance.flatMap((d) =>
        d.geometricMean === null || !(d.geometricMean > 0) ? [] : [{ run: m.cell, x: d.label, y: d.geometricMean }],
      ),
    );
    if (means.length > 0) {
      const labels = links[0].jacobian!.byDistance.map((d) => d.label);
      plots.push({
        id: 'agreement-jacobian-by-distance',
        title: '‖∂h_verb/∂h_subject‖ by distance',
        caption:
          `The geometric mean of the per-item ${norm} norm over the items of each distance bin: how much of the ` +
          'subject’s state still reaches the verb, by cell.',
        spec: {
          title: { text: '‖∂h_verb/∂h_subject‖ by distance' },
          data: { values: means },
          width: 460,
          height: 260,
          mark: { type: 'line', point: { size: 40 } },
          encoding: {
            x: { field: 'x', type: 'ordinal', sort: labels, title: 'tokens between subject and verb' },
            y: {
              field: 'y',
              type: 'quantitative',
              title: `geometric mean of ‖∂h_verb/∂h_subject‖ (${norm}, log scale)`,
              scale: { type: 'log' },
              axis: decadeAxis(means.map((r) => r.y)),
            },
            color: runColorOf(links.map((m) => m.cell)),
          },
        },
        series: links.map((m) => m.cell),
      });
    }
  }
  return plots.filter((p): p is Plot => p !== null);
}

const runColorOf = (names: string[]) => ({ field: 'run', type: 'nominal', title: 'cell', sort: names });

/**
 * One panel per run (a facet column), or the single run's panel alone: `inner` is the panel's
 * spec (width, height, mark or layer), `column` the facet header's title and look.
 */
export function facetByRun(
  rows: readonly object[],
  withData: readonly { label: string }[],
  inner: object,
  column: { title: unknown; header?: object },
): object {
  if (withData.length <= 1) return { data: { values: rows }, ...inner };
  const facet = { column: { field: 'run', type: 'nominal', sort: withData.map((r) => r.label), ...column } };
  return { data: { values: rows }, facet, spec: inner };
}
