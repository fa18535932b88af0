import { describe, expect, it } from 'vitest';
import { type AgreementStudyPlotData, agreementPlots, agreementStudyData } from '../../src/report/plots.js';
import { specToSvg } from '../../src/report/render.js';

const cell = (label: string, n: number, accuracy: number | null) => ({ label, n, accuracy });
const accuracy = (a: number) => ({
  overall: cell('all', 100, a),
  byVariant: [cell('original', 20, a), cell('nonce', 80, a)],
  byDistance: [cell('0', 50, a), cell('1', 30, a), cell('2', 20, a - 0.1), cell('3–4', 0, null)],
  byAttractors: [cell('0', 90, a), cell('1', 10, a - 0.2), cell('2', 0, null), cell('3+', 0, null)],
});

const study: AgreementStudyPlotData = {
  models: [
    {
      cell: 'lstm',
      accuracy: accuracy(0.8),
      jacobian: {
        norm: 'spectral',
        byNorm: [
          cell('<1e-8', 12, 0.5),
          cell('1e-8–1e-7', 3, 1),
          cell('1e-2–1e-1', 40, 0.7),
          cell('1e-1–1e0', 45, 0.9),
        ],
        byDistance: [
          { label: '1', n: 30, geometricMean: 0.3 },
          { label: '2', n: 20, geometricMean: 0.05 },
          { label: '3–4', n: 0, geometricMean: null },
        ],
      },
    },
    { cell: 'rnn', accuracy: accuracy(0.6), jacobian: null },
  ],
  baselines: { ngram: { order: 5, accuracy: accuracy(0.7) }, frequency: { accuracy: accuracy(0.65) } },
};

describe('agreement study plots', () => {
  it('reads compare.json’s agreement section, and nothing from a summary without one', () => {
    expect(agreementStudyData({ agreement: study })).toBe(study);
    expect(agreementStudyData({ rows: [] })).toBeNull();
    expect(agreementStudyData(null)).toBeNull();
  });

  it('draws accuracy by distance and attractors, originals vs nonce, and the Jacobian link', async () => {
    const plots = agreementPlots(study);
    expect(plots.map((p) => p.id)).toEqual([
      'agreement-by-distance',
      'agreement-by-attractors',
      'agreement-original-vs-nonce',
      'agreement-by-jacobian',
      'agreement-jacobian-by-distance',
    ]);
    expect(plots[0].series).toEqual(['lstm', 'rnn', 'KN 5-gram', 'frequency']);
    // empty bins are not on the axis; the item counts are in its labels
    const distance = plots[0].spec.data as { values: { x: string }[] };
    expect([...new Set(distance.values.map((v) => v.x))]).toEqual(['0 (50)', '1 (30)', '2 (20)']);
    // bins of fewer than 10 items are left out; "<1e-8" sits half a decade below 1e-8
    const link = plots[3].spec.data as { values: { x: number; n: number }[] };
    expect(link.values.map((v) => v.n)).toEqual([12, 40, 45]);
    expect(link.values[0].x).toBeCloseTo(10 ** -8.5, 20);
    expect(plots[3].series).toEqual(['lstm']);
    for (const p of plots) expect(await specToSvg(p.spec)).toMatch(/^<svg/);
  });
});
