import { headlessView, specToSvg, type VegaLiteSpec, viewSize } from '../report/render.js';

/**
 * The lab's chart worker: a Vega-Lite spec, laid out by the report's own renderer (vega's
 * headless view, which needs no DOM), drawn straight into the page's canvas for that chart
 * (handed over with transferControlToOffscreen: what is drawn here reaches the screen without
 * the page's thread). Compiling, laying out and drawing a chart is the page's heaviest work
 * after training; here it never holds up the page. For a chart without a canvas (a browser
 * without OffscreenCanvas) the worker sends SVG text instead.
 */

export type RenderRequest =
  /** The canvas chart `id` is drawn into from now on. */
  | { type: 'canvas'; id: string; canvas: OffscreenCanvas }
  /** Draw `spec` for chart `id`; `scale` device pixels per CSS pixel. */
  | { type: 'render'; key: number; id: string; spec: VegaLiteSpec; scale: number };

export type RenderReply =
  /** Drawn into the chart's canvas, `width` × `height` CSS pixels. */
  { key: number; width: number; height: number } | { key: number; svg: string } | { key: number; error: string };

const scope = self as unknown as {
  postMessage: (message: RenderReply) => void;
  onmessage: ((ev: MessageEvent<RenderRequest>) => void) | null;
};

/** Draw `spec` into `canvas`, sized to the chart; returns its size in CSS pixels. */
async function drawInto(
  canvas: OffscreenCanvas,
  spec: VegaLiteSpec,
  scale: number,
): Promise<{ width: number; height: number }> {
  const view = await headlessView(spec);
  try {
    await view.runAsync();
    const size = viewSize(view);
    canvas.width = Math.ceil(size.width * scale);
    canvas.height = Math.ceil(size.height * scale);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2d context on the chart canvas');
    await view.toCanvas(scale, { externalContext: context } as never);
    return size;
  } finally {
    view.finalize();
  }
}

const canvases = new Map<string, OffscreenCanvas>();

scope.onmessage = async (ev) => {
  const m = ev.data;
  if (m.type === 'canvas') {
    canvases.set(m.id, m.canvas);
    return;
  }
  try {
    const canvas = canvases.get(m.id);
    if (canvas) scope.postMessage({ key: m.key, ...(await drawInto(canvas, m.spec, m.scale)) });
    else scope.postMessage({ key: m.key, svg: await specToSvg(m.spec) });
  } catch (e) {
    scope.postMessage({ key: m.key, error: (e as Error).message });
  }
};
