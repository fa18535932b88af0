/**
 * Vega-Lite spec → SVG (vega's headless renderer, no canvas, no browser) → PNG
 * (resvg). Both libraries load on first use, so commands that never plot pay
 * nothing for them at start-up.
 */

import type { View } from 'vega';

/** A Vega-Lite specification, as a plain JSON object. */
export type VegaLiteSpec = Record<string, unknown>;

/** Fonts: vega measures text without a canvas by estimate; resvg draws it with the first installed family. */
export const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

/** The look shared by every plot: readable at the default size, same fonts everywhere. */
export const PLOT_CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 8,
  view: { continuousWidth: 460, continuousHeight: 280, stroke: '#ccc' },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', symbolStrokeWidth: 2.5, labelLimit: 260 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  title: { fontSize: 15, subtitleFontSize: 12, anchor: 'start', subtitleColor: '#555', offset: 10 },
  line: { strokeWidth: 2 },
  point: { size: 40, filled: true },
};

/** A headless vega View of a Vega-Lite spec in the report's look; the caller finalizes it. */
export async function headlessView(spec: VegaLiteSpec): Promise<View> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const full = { ...spec, config: { ...PLOT_CONFIG, ...((spec.config as object) ?? {}) } };
  const compiled = vegaLite.compile(full as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  return new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
}

/** A view's full size in CSS pixels (plot area, axes, legends and padding): the size of its SVG or canvas. */
export function viewSize(view: View): { width: number; height: number } {
  const inner = view as unknown as { _viewWidth?: number; _viewHeight?: number };
  const pad = view.padding() as { left: number; right: number; top: number; bottom: number };
  if (Number.isFinite(inner._viewWidth) && Number.isFinite(inner._viewHeight))
    return {
      width: Math.ceil(inner._viewWidth! + pad.left + pad.right),
      height: Math.ceil(inner._viewHeight! + pad.top + pad.bottom),
    };
  // without vega's own numbers: the scenegraph's bounds, padded (within a pixel of the above)
  const scene = view.scenegraph() as unknown as {
    root: { bounds: { x1: number; y1: number; x2: number; y2: number } };
  };
  const b = scene.root.bounds;
  return {
    width: Math.ceil(b.x2 - b.x1 + pad.left + pad.right),
    height: Math.ceil(b.y2 - b.y1 + pad.top + pad.bottom),
  };
}

/** SVG text of a Vega-Lite spec. */
export async function specToSvg(spec: VegaLiteSpec): Promise<string> {
  const view = await headlessView(spec);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG bytes of an SVG, at `scale` × its own size (2 = sharp on high-DPI screens). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
