import { describe, expect, it } from 'vitest';
import { FEW_EXAMPLES, breakdownPlots, linearScale, metricCurvesPlot } from '../../src/report/plots.js';
import { specToSvg } from '../../src/report/render.js';
import { runFromLog, type RunData } from '../../src/report/runlog.js';
import type { LogRecord } from '../../src/runlog/schema.js';

// The plots' honesty about small bins and flat series, on runs written by hand.

/** An agreement run with evaluations at steps 10 and 20 holding `metrics` (the same at both). */
function run(label: string, metrics: Record<string, number>): RunData {
  const records: LogRecord[] = [10, 20].map((step) => ({ type: 'eval', step, loss: 0.1, metrics }));
  return runFromLog(label, label, { taskName: 'agreement' }, null, records);
}

/** The text of every <text> element of an SVG (tick labels, titles, legends). */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

/** The symbols (points) an SVG draws in the mark group whose class names `layer`. */
function symbols(svg: string, layer: string): string[] {
  const group = new RegExp(`<g class="mark-symbol role-mark ${layer}"[^>]*>(.*?)</g>`, 's').exec(svg);
  return group ? [...group[1].matchAll(/<path [^>]*>/g)].map((m) => m[0]) : [];
}

describe('accuracy by attractors with bins of very different sizes', () => {
  // as in a real comparison: 500 sentences without attractors, one with eight
  const counts: Record<number, number> = { 0: 500, 1: 300, 2: 40, 3: FEW_EXAMPLES, 4: FEW_EXAMPLES - 1, 8: 1 };
  const metrics: Record<string, number> = { accuracy: 0.5 };
  for (const [a, n] of Object.entries(counts)) {
    metrics[`accuracy@a=${a}`] = a === '8' ? 0 : 0.5;
    metrics[`n@a=${a}`] = n;
  }
  const plot = breakdownPlots([run('rnn', metrics)]).find((p) => p.id === 'accuracy-by-attractors')!;

  it(`draws bins under ${FEW_EXAMPLES} examples hollow and out of the line, and says so`, async () => {
    expect(plot).toBeDefined();
    const svg = await specToSvg(plot.spec);
    // layer 1: filled points (0, 1, 2, 3 attractors); layer 2: hollow ones (4 and 8)
    const filled = symbols(svg, 'layer_1_marks');
    const hollow = symbols(svg, 'layer_2_marks');
    expect(filled).toHaveLength(4);
    expect(hollow).toHaveLength(2);
    for (const p of hollow) {
      expect(p).not.toMatch(/ fill="/); // an outline only
      expect(p).toMatch(/ stroke="#4c78a8"/);
    }
    for (const p of filled) expect(p).toMatch(/ fill="#4c78a8"/);
    // the line joins the four well-backed bins only: one path, four vertices (M + 3 L)
    const line = /<g class="mark-line role-mark layer_0_marks"[^>]*>.*?<path [^>]*d="([^"]*)"/s.exec(svg)![1];
    expect(line.match(/[ML]/g)).toHaveLength(4);
    expect(plot.caption).toContain(`fewer than ${FEW_EXAMPLES}`);
    expect(plot.caption).toContain('2 here');
  });

  it("sizes each point by its examples (area ∝ n, a legend titled 'test examples')", async () => {
    const svg = await specToSvg(plot.spec);
    expect(texts(svg)).toContain('test examples');
    // vega writes a symbol's size as its path: the 500-example one is drawn larger than the 40-example one
    const radius = (p: string) => Number(/d="M(-?[\d.]+),0A/.exec(p)?.[1] ?? Number.NaN);
    const [r500, , r40] = symbols(svg, 'layer_1_marks').map(radius);
    expect(Math.abs(r500)).toBeGreaterThan(Math.abs(r40));
  });
});

describe('a flat series', () => {
  it('puts an accuracy at 1.00 throughout on a [0, 1] axis with readable ticks', async () => {
    const plot = metricCurvesPlot([run('lstm', { accuracy: 1 }), run('gru', { accuracy: 1 })])!;
    const labels = texts(await specToSvg(plot.spec));
    expect(labels).toContain('0.0');
    expect(labels).toContain('1.0');
    expect(labels.some((t) => /\d\.\d{4,}/.test(t))).toBe(false);
  });

  it('pads the domain of any other constant value', async () => {
    expect(linearScale([5, 5, 5])).toEqual({ zero: false, domain: [4.5, 5.5] });
    expect(linearScale([0, 0])).toEqual({ zero: false, domain: [-1, 1] });
    expect(linearScale([-2, -2])).toEqual({ zero: false, domain: [-2.2, -1.8] });
    expect(linearScale([1, 2])).toEqual({ zero: false });
    const plot = metricCurvesPlot([run('lstm', { perplexity: 5 })])!;
    const labels = texts(await specToSvg(plot.spec));
    expect(labels.filter((t) => /^\d/.test(t)).length).toBeGreaterThan(2);
    expect(labels.some((t) => /\d\.\d{4,}/.test(t))).toBe(false);
  });
});
