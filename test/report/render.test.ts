import { describe, expect, it } from 'vitest';
import { breakdownPlots, gradflowPlot, heatmapPlot } from '../../src/report/plots.js';
import { headlessView, viewSize } from '../../src/report/render.js';
import { runFromLog } from '../../src/report/runlog.js';
import type { LogRecord } from '../../src/runlog/schema.js';

// viewSize: the size the lab's chart worker gives a chart's canvas, which must be the size
// vega gives the same chart as SVG (the report's files), so nothing is cut off.

function run(label: string, rate: number): ReturnType<typeof runFromLog> {
  const T = 6;
  const records: LogRecord[] = [0, 10].map((step) => ({
    type: 'gradflow',
    step,
    layer: 0,
    mode: 'h',
    T,
    batch: 2,
    gap: Array.from({ length: T }, (_, i) => i + 1),
    spectral: Array.from({ length: T }, (_, i) => rate ** (i + 1)),
    frobenius: Array.from({ length: T }, (_, i) => 2 * rate ** (i + 1)),
    summary: {
      spectral: { decayPerStep: -Math.log(rate), horizon: null },
      frobenius: { decayPerStep: -Math.log(rate), horizon: null },
    },
  }));
  records.push({
    type: 'pairs',
    step: 10,
    layer: 0,
    mode: 'h',
    T,
    norm: 'frobenius',
    pairs: Array.from({ length: T }, (_, t) => Array.from({ length: t + 1 }, (_, k) => rate ** (t + 1 - k))),
  });
  records.push({
    type: 'eval',
    step: 10,
    loss: 0.5,
    metrics: { accuracy: 0.6, 'accuracy@d=2': 0.7, 'accuracy@d=4': 0.5, 'n@d=2': 100, 'n@d=4': 3 },
  });
  return runFromLog(label, label, { taskName: 'agreement' }, null, records);
}

describe('viewSize', () => {
  const runs = [run('rnn', 0.3), run('lstm', 0.8)];
  const plots = [gradflowPlot(runs)!, heatmapPlot(runs)!, ...breakdownPlots(runs)];

  for (const plot of plots) {
    it(`is the size of the SVG vega draws: ${plot.id}`, async () => {
      const view = await headlessView(plot.spec);
      try {
        await view.runAsync();
        const svg = await view.toSVG();
        const [, w, h] = /<svg[^>]* width="([\d.]+)" height="([\d.]+)"/.exec(svg)!.map(Number);
        expect(viewSize(view)).toEqual({ width: Math.ceil(w), height: Math.ceil(h) });
        // without vega's own numbers, from the scenegraph's bounds: within a pixel or two
        Object.defineProperty(view, '_viewWidth', { value: undefined });
        const fallback = viewSize(view);
        expect(Math.abs(fallback.width - w)).toBeLessThanOrEqual(2);
        expect(Math.abs(fallback.height - h)).toBeLessThanOrEqual(2);
      } finally {
        view.finalize();
      }
    });
  }
});
