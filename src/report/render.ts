/**
 * Vega-Lite spec → SVG (vega's headless renderer, no canvas, no browser) → PNG
 * (resvg). Both libraries load on first use, so commands that never plot pay
 * nothing for them at start-up.
 */

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

/** SVG text of a Vega-Lite spec. */
export async function specToSvg(spec: VegaLiteSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const full = { ...spec, config: { ...PLOT_CONFIG, ...((spec.config as object) ?? {}) } };
  const compiled = vegaLite.compile(full as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
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
