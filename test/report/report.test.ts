import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlots, writeReport, type ReportResult } from '../../src/report/report.js';
import { readSource } from '../../src/report/rundata.js';
import { decadeAxis, pickSteps } from '../../src/report/plots.js';
import { SeqlabError } from '../../src/util/errors.js';
import { writeCompare, writeRun } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-report-test-'));
// SEQLAB_KEEP_REPORTS=1 keeps the rendered fixtures, to look at the plots
afterAll(() =>
  process.env.SEQLAB_KEEP_REPORTS
    ? console.log(`reports kept in ${tmp}`)
    : rmSync(tmp, { recursive: true, force: true }),
);

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/** The plot's SVG and PNG exist and are non-empty; the SVG draws `mark` and names every series. */
function expectPlot(r: ReportResult, id: string, mark: string, series: string[]) {
  const plot = r.plots.find((p) => p.id === id);
  expect(plot, `plot ${id} among ${r.plots.map((p) => p.id).join(', ')}`).toBeDefined();
  const svg = readFileSync(plot!.svg, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain(`mark-${mark} role-mark`);
  for (const s of series) expect(svg).toContain(`>${s}</text>`);
  const png = readFileSync(plot!.png!);
  expect(png.subarray(0, 4).equals(PNG_MAGIC)).toBe(true);
  expect(png.length).toBeGreaterThan(5000);
  expect(plot!.series).toEqual(series);
}

describe('report of a comparison', () => {
  const dir = join(tmp, 'compare');
  let r: ReportResult;
  beforeAll(async () => {
    writeCompare(dir, [
      { cell: 'rnn', rate: 0.3 },
      { cell: 'lstm', rate: 0.8 },
    ]);
    r = await writeReport(dir);
  });

  it('draws the gradient-flow curves per cell, one panel per training step', () => {
    expectPlot(r, 'gradflow', 'line', ['rnn', 'lstm']);
    const svg = readFileSync(r.plots.find((p) => p.id === 'gradflow')!.svg, 'utf8');
    expect(svg).toContain('before training (step 0)');
    expect(svg).toContain('gap T − k');
    expect(svg).toContain('log scale');
  });
  it('draws accuracy by distance and by attractors, with axis units', () => {
    expectPlot(r, 'accuracy-by-distance', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'accuracy-by-attractors', 'line', ['rnn', 'lstm']);
    expect(readFileSync(r.plots.find((p) => p.id === 'accuracy-by-distance')!.svg, 'utf8')).toContain('(words)');
  });
  it('draws the loss and metric curves, the error signal and the heat map', () => {
    expectPlot(r, 'loss', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'metrics', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'loss-gradient', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'gradflow-heatmap', 'rect', ['rnn', 'lstm']);
  });
  it('draws the singular values by gap and index, and the Lyapunov spectrum per cell at several steps', () => {
    expectPlot(r, 'spectrum-heatmap', 'rect', ['rnn', 'lstm']);
    expectPlot(r, 'lyapunov', 'line', ['rnn', 'lstm']);
    const heat = readFileSync(r.plots.find((p) => p.id === 'spectrum-heatmap')!.svg, 'utf8');
    expect(heat).toContain('singular value index i');
    expect(heat).toContain('log₁₀ σ_i');
    const lyap = readFileSync(r.plots.find((p) => p.id === 'lyapunov')!.svg, 'utf8');
    expect(lyap).toContain('before training (step 0)');
    expect(lyap).toContain('step 20');
    expect(lyap).toContain('nats per step');
  });
  it('writes one self-contained report.html with the plots inline and the resolved configs', () => {
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|src="http/);
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(r.plots.length);
    expect(html).toContain('config.json (resolved)');
    expect(html).toContain('accuracy by d');
  });
  it('summarizes in the terminal: a table and a sparkline per run on one log scale', () => {
    expect(r.summary).toMatch(/^\s*run\s+status/);
    const lines = r.sparklines.slice(1);
    expect(lines).toHaveLength(2);
    // the LSTM's curve decays slower, so its sparkline stays higher
    const level = (l: string) => [...l].filter((c) => '▁▂▃▄▅▆▇█'.includes(c)).map((c) => '▁▂▃▄▅▆▇█'.indexOf(c));
    expect(level(lines[1]).at(-1)!).toBeGreaterThan(level(lines[0]).at(-1)!);
  });
});

describe('report of a comparison over seeds', () => {
  const dir = join(tmp, 'seeds');
  // seeds 1–3 of each cell decay at different rates: per gap g the norms are rateᵍ
  const rates: Record<string, number[]> = { rnn: [0.3, 0.4, 0.5], lstm: [0.7, 0.8, 0.9] };
  let r: ReportResult;
  beforeAll(async () => {
    writeCompare(
      dir,
      Object.entries(rates).flatMap(([cell, rs]) => rs.map((rate, i) => ({ cell, rate, seed: i + 1 }))),
    );
    r = await writeReport(dir);
  });

  it('draws one line and band per cell: the mean of ln‖·‖ over seeds and its t-interval', () => {
    expectPlot(r, 'gradflow', 'line', ['rnn', 'lstm']);
    expect(readFileSync(r.plots.find((p) => p.id === 'gradflow')!.svg, 'utf8')).toContain('mark-area role-mark');
    const plot = buildPlots(readSource(dir)).find((p) => p.id === 'gradflow')!;
    const rows = (plot.spec.data as { values: Record<string, number | string>[] }).values;
    // ln‖·‖ at gap g is g·ln(rate): mean g·m, sd g·s over the three seeds; t_{0.975,2} in closed form
    const T2 = 0.95 * Math.sqrt(2 / (4 * 0.975 * 0.025));
    const logs = rates.rnn.map(Math.log);
    const m = logs.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
    for (const g of [1, 4]) {
      const row = rows.find((x) => x.run === 'rnn' && x.step === 20 && x.x === g)!;
      expect(row.norm as number).toBeCloseTo((0.3 * 0.4 * 0.5) ** (g / 3), 12);
      expect(Math.log(row.lo as number)).toBeCloseTo(g * m - (T2 * g * sd) / Math.sqrt(3), 12);
      expect(Math.log(row.hi as number)).toBeCloseTo(g * m + (T2 * g * sd) / Math.sqrt(3), 12);
      expect(row.n).toBe(3);
    }
  });

  it('draws bands in the metric plots too; one seed of each cell where a plot shows single runs', () => {
    expectPlot(r, 'metrics', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'accuracy-by-distance', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'loss', 'line', ['rnn', 'lstm']);
    expectPlot(r, 'loss-gradient', 'line', ['rnn seed=1', 'lstm seed=1']);
    expect(r.plots.find((p) => p.id === 'gradflow-heatmap')!.series).toEqual(['rnn seed=1', 'lstm seed=1']);
  });

  it('shows the table over seeds in report.html and returns it', () => {
    expect(r.seeds!.map((g) => [g.settings.cell, g.seeds])).toEqual([
      ['rnn', [1, 2, 3]],
      ['lstm', [1, 2, 3]],
    ]);
    expect(r.seedsTable!.header.slice(0, 4)).toEqual(['cell', 'n', 'accuracy mean ± sd', '95 % CI']);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Over seeds</h2>');
    expect(html).toContain('<th>rnn</th><td>3</td><td>0.9000 ± 0</td>');
  });
});

describe('report of one training run', () => {
  it('colours the snapshots by step and draws ‖δˡ‖ per layer for MLP runs', async () => {
    const dir = join(tmp, 'train');
    writeRun(dir, { cell: 'gru', rate: 0.5, deltas: true });
    const r = await writeReport(dir, { png: true });
    expect(r.kind).toBe('train');
    expectPlot(r, 'gradflow', 'line', ['before training (step 0)', 'step 20']);
    expectPlot(r, 'spectrum-heatmap', 'rect', ['before training (step 0)', 'step 20']);
    expectPlot(r, 'lyapunov', 'line', ['before training (step 0)', 'step 20']);
    expectPlot(r, 'deltas', 'line', ['hidden layer 1', 'hidden layer 2', 'hidden layer 3']);
  });

  it('renders only what the log holds, and replaces the plots of an earlier report', async () => {
    const dir = join(tmp, 'bare');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'log.jsonl'),
      `${[
        { type: 'start', backend: 'cpu', params: 3 },
        { type: 'step', step: 1, loss: 2, gradNorm: 1, lr: 0.1 },
        { type: 'step', step: 2, loss: 1, gradNorm: 1, lr: 0.1 },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n')}\n{"type":"st`,
    );
    mkdirSync(join(dir, 'plots'));
    writeFileSync(join(dir, 'plots', 'stale.svg'), '<svg/>');
    const r = await writeReport(dir, { png: false });
    expect(r.plots.map((p) => p.id)).toEqual(['loss']);
    expect(r.plots[0].png).toBeNull();
    expect(existsSync(join(dir, 'plots', 'stale.svg'))).toBe(false);
    expect(statSync(join(dir, 'report.html')).size).toBeGreaterThan(0);
  });
});

describe('error against sequence length', () => {
  it('comes from a comparison over several lengths, with the baseline', async () => {
    const dir = join(tmp, 'lengths');
    writeCompare(
      dir,
      [10, 20, 40].flatMap((seqLen) => [
        { cell: 'rnn', rate: 0.5, seqLen },
        { cell: 'gru', rate: 0.9, seqLen },
      ]),
      'adding',
    );
    if (process.env.SEQLAB_KEEP_REPORTS) await writeReport(dir);
    const plot = buildPlots(readSource(dir)).find((p) => p.id === 'mse-by-length');
    expect(plot).toBeDefined();
    expect(plot!.series).toEqual(['rnn', 'gru']);
    expect(JSON.stringify(plot!.spec)).toContain('sequence length T (time steps)');
  });
});

describe('bad input', () => {
  it('a directory that is not a run is one clear input error', () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir);
    expect(() => readSource(dir)).toThrow(SeqlabError);
    expect(() => readSource(dir)).toThrow(/not a seqlab run directory/);
    expect(() => readSource(join(tmp, 'missing'))).toThrow(/not found/);
  });
  it('a corrupt log line before the end is an input error naming the line', () => {
    const dir = join(tmp, 'corrupt');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'log.jsonl'),
      '{"type":"start","backend":"cpu","params":3}\n{oops\n{"type":"end","step":1}\n',
    );
    expect(() => readSource(dir)).toThrow(/line 2 is not valid JSON/);
  });
});

describe('helpers', () => {
  it('pickSteps keeps the first and the last', () => {
    expect(pickSteps([0, 100, 200, 300, 400, 500], 3)).toEqual([0, 300, 500]);
    expect(pickSteps([5, 0, 5], 3)).toEqual([0, 5]);
  });
  it('decadeAxis puts ticks on whole decades covering the data', () => {
    expect(decadeAxis([3e-5, 0.2]).values).toEqual([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]);
  });
});
