import type { Plot } from './plots.js';
import { facetByRun, pickSteps, runColor, stepLabel } from './plots.js';
import type { RunData, SpectrumSnapshot } from './runlog.js';

/**
 * The spectra's plots (docs/ARCHITECTURE.md, "Gradient flow"): every singular value of ∂h_T/∂h_k
 * at the logged gaps as a heat map, and the Lyapunov spectrum at several training steps. Both
 * read the `spectrum` records of RunData (the trainer logs them every spectrumEvery steps), so
 * the report and the browser lab draw them from the same run data.
 */

/** The top layer's spectrum snapshots of a run. */
function topSpectra(run: RunData): SpectrumSnapshot[] {
  const top = Math.max(...run.spectra.map((s) => s.layer));
  return run.spectra.filter((s) => s.layer === top);
}

const jacobianName = (s: SpectrumSnapshot) => (s.mode === 'state' ? '∂s_T/∂s_k, s = [h; c]' : '∂h_T/∂h_k');

/**
 * log₁₀ σ_i of ∂h_T/∂h_k against the gap (columns, the logged gaps in order) and the index i
 * (rows, σ_1 on top): the last snapshot of each run, or the first and last of a single run.
 */
export function spectrumHeatmapPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.spectra.length > 0);
  if (withData.length === 0) return null;
  const panels = withData.flatMap((r) => {
    const snaps = topSpectra(r);
    const chosen = withData.length > 1 ? [snaps.at(-1)] : [...new Set([snaps[0], snaps.at(-1)])];
    return chosen.map((s) => ({ run: r.label, snap: s as SpectrumSnapshot }));
  });
  const rows: { run: string; step: string; gap: number; i: number; log10sigma: number }[] = [];
  for (const { run, snap } of panels) {
    for (const [g, gap] of snap.gap.entries()) {
      for (const [i, l] of snap.logSigma[g].entries()) {
        if (l !== null) rows.push({ run, step: stepLabel(snap.step), gap, i: i + 1, log10sigma: l / Math.LN10 });
      }
    }
  }
  if (rows.length === 0) return null;
  const gaps = [...new Set(rows.map((r) => r.gap))].sort((a, b) => a - b);
  const size = Math.max(...panels.map((p) => p.snap.size));
  const threshold = Math.log10(panels[0].snap.horizonThreshold);
  const every = Math.ceil(gaps.length / 12); // ~12 gap labels
  const inner = {
    width: Math.min(360, Math.max(160, 9 * gaps.length)),
    height: Math.min(260, Math.max(120, 2 * size)),
    mark: { type: 'rect' },
    encoding: {
      x: {
        field: 'gap',
        type: 'ordinal',
        title: 'gap T − k (time steps)',
        scale: { domain: gaps },
        axis: { values: gaps.filter((_, j) => j % every === 0 || j === gaps.length - 1), labelAngle: 0 },
      },
      y: {
        field: 'i',
        type: 'ordinal',
        title: 'singular value index i (σ_1 largest)',
        scale: { domain: Array.from({ length: size }, (_, i) => i + 1) },
        axis: { values: [1, ...Array.from({ length: 8 }, (_, j) => Math.round(((j + 1) * size) / 8))] },
      },
      color: {
        field: 'log10sigma',
        type: 'quantitative',
        title: ['log₁₀ σ_i'],
        scale: { scheme: 'viridis' },
      },
    },
  };
  const facet =
    withData.length > 1
      ? { field: 'run', type: 'nominal', sort: withData.map((r) => r.label), title: null }
      : { field: 'step', type: 'ordinal', sort: [...new Set(rows.map((r) => r.step))], title: null };
  const first = panels[0].snap;
  const stepsShown = [...new Set(rows.map((r) => r.step))];
  return {
    id: 'spectrum-heatmap',
    title: 'Every singular value of the Jacobian at each gap',
    caption:
      `log₁₀ σ_i of ${jacobianName(first)} (batch mean of each σ_i over the probe batch) at the logged gaps: ` +
      'each column is the whole spectrum at one gap, σ_1 on top. Directions with σ_i ≥ ' +
      `${first.horizonThreshold} (log₁₀ ${threshold}) survive the gap; how far down each column they reach ` +
      'is how many directions still carry gradient. Below ~1e-6 of σ_1 the values are float32 rounding.',
    spec: {
      title: {
        text: `Singular values of ${jacobianName(first)} by gap`,
        subtitle: `top layer, ${withData.length > 1 ? 'last logged step' : stepsShown.join(' and ')}`,
      },
      data: { values: rows },
      facet: { column: { ...facet, header: { labelFontSize: 13 } } },
      spec: inner,
    },
    series: withData.length > 1 ? withData.map((r) => r.label) : stepsShown,
  };
}

/** λ_i against i at several training steps, a panel per run; λ = 0 dashed (above it, directions grow). */
export function lyapunovPlot(runs: RunData[]): Plot | null {
  const withData = runs.filter((r) => r.spectra.length > 0);
  if (withData.length === 0) return null;
  const steps = pickSteps(
    withData.flatMap((r) => topSpectra(r).map((s) => s.step)),
    4,
  );
  const rows: { run: string; step: number; stepLabel: string; i: number; lambda: number; ky: string }[] = [];
  for (const r of withData) {
    for (const s of topSpectra(r).filter((x) => steps.includes(x.step))) {
      const ky = s.kaplanYorke === null ? '-' : `${s.kaplanYorke.toFixed(2)}${s.kaplanYorkeIsLowerBound ? '+' : ''}`;
      for (const [i, l] of s.lyapunov.entries()) {
        if (l !== null)
          rows.push({ run: r.label, step: s.step, stepLabel: stepLabel(s.step), i: i + 1, lambda: l, ky });
      }
    }
  }
  if (rows.length === 0) return null;
  const labels = steps.map(stepLabel);
  const line = {
    mark: { type: 'line', point: { size: 16 } },
    encoding: {
      x: { field: 'i', type: 'quantitative', title: 'exponent index i', scale: { nice: false } },
      y: {
        field: 'lambda',
        type: 'quantitative',
        title: 'Lyapunov exponent λ_i (nats per step)',
        scale: { zero: false },
      },
      color: {
        field: 'stepLabel',
        type: 'ordinal',
        sort: labels,
        scale: { scheme: 'viridis' },
        title: 'training step',
      },
      tooltip: [
        { field: 'run' },
        { field: 'stepLabel', title: 'step' },
        { field: 'i' },
        { field: 'lambda', format: '.4f' },
        { field: 'ky', title: 'Kaplan–Yorke' },
      ],
    },
  };
  const zero = { mark: { type: 'rule', strokeDash: [5, 4], color: '#777' }, encoding: { y: { datum: 0 } } };
  const layer = { width: 300, height: 240, layer: [line, zero] };
  const spec = facetByRun(rows, withData, layer, { title: runColor(withData).title, header: { labelFontSize: 13 } });
  const state = withData.some((r) => r.spectra.some((s) => s.lyapunovSize !== s.size || s.mode === 'state'));
  return {
    id: 'lyapunov',
    title: 'Lyapunov spectrum during training',
    caption:
      'The largest Lyapunov exponents λ_1 ≥ λ_2 ≥ … of the state dynamics along the probe batch (QR method, ' +
      `nats per step, mean over the batch)${state ? '; the LSTM’s on s = [h; c]' : ''}, at several training ` +
      'steps. λ_i < 0: perturbations along the i-th direction shrink by e^λ per step, so over long sequences ' +
      'λ_1 ≈ −(decay per step) of the gradient-flow plot; λ near 0: a direction kept. The Kaplan–Yorke ' +
      'dimension (tooltip) counts the expanding ones.',
    spec: {
      title: { text: 'Lyapunov spectrum λ_i', subtitle: 'top layer, probe batch, several training steps' },
      ...spec,
    },
    series: withData.length > 1 ? withData.map((r) => r.label) : labels,
  };
}
