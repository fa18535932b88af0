import type { Plot } from '../report/plots.js';
import { specToSvg } from '../report/render.js';
import type { RenderReply, RenderRequest } from './render-worker.js';

/**
 * The page's charts: each a slot (a figure element) showing the latest Plot given to it.
 * Where a chart worker (render-worker.ts) runs and canvases can be handed to it, the worker
 * lays the chart out and draws it into the slot's canvas itself, and this thread does nothing
 * per drawing but set the caption. Elsewhere the SVG comes from the worker, or from this
 * thread when no worker runs. A slot whose inputs or spec did not change is left alone; while
 * a chart renders, only the latest of the plots given meanwhile follows it.
 */

interface Slot {
  /** What the last plot given was drawn from (the caller's key). */
  key: string;
  /** The spec last given (JSON), drawn or on its way; null before the first. */
  latest: string | null;
  /** A render is under way. */
  busy: boolean;
  /** The plot to render when the current one is done. */
  next: Plot | null | undefined;
  /** The slot's canvas, drawn by the worker; null where the slot shows SVG. */
  canvas: HTMLCanvasElement | null;
}

export class Charts {
  private readonly slots = new Map<string, Slot>();
  private readonly waiting = new Map<number, { spec: Plot['spec']; done: (reply: RenderReply) => void }>();
  private nextKey = 0;
  private canvasesToWorker: boolean;

  /** `worker`: the chart worker, or null to render on this thread (also if the worker fails to load). */
  constructor(private worker: Worker | null) {
    this.canvasesToWorker =
      worker !== null &&
      typeof HTMLCanvasElement !== 'undefined' &&
      'transferControlToOffscreen' in HTMLCanvasElement.prototype;
    if (!worker) return;
    worker.onmessage = (ev: MessageEvent<RenderReply>) => this.receive(ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault();
      worker.terminate();
      this.worker = null;
      this.canvasesToWorker = false;
      // canvases handed to the dead worker draw nothing more: SVG holders in their place
      for (const slot of this.slots.values())
        if (slot.canvas) {
          slot.canvas.replaceWith(document.createElement('div'));
          slot.canvas = null;
        }
      for (const [key, w] of this.waiting)
        specToSvg(w.spec).then(
          (svg) => this.receive({ key, svg }),
          (e) => this.receive({ key, error: (e as Error).message }),
        );
    };
  }

  /** A chart worker if this browser runs module workers; null otherwise. */
  static startWorker(url: URL): Worker | null {
    try {
      return typeof Worker === 'undefined' ? null : new Worker(url, { type: 'module' });
    } catch {
      return null;
    }
  }

  /**
   * Show the plot `build` makes in the element `id` (null: the element's empty note). `key`
   * names what the plot is drawn from: while it stays the same, `build` is not even called.
   */
  show(id: string, key: string, build: () => Plot | null): void {
    let slot = this.slots.get(id);
    if (slot && slot.key === key) return;
    const plot = build();
    const latest = plot ? JSON.stringify(plot.spec) : '';
    if (!slot) {
      slot = { key, latest: null, busy: false, next: undefined, canvas: this.canvasFor(id) };
      this.slots.set(id, slot);
    }
    slot.key = key;
    if (slot.latest === latest) return;
    slot.latest = latest;
    if (slot.busy) slot.next = plot;
    else void this.draw(id, slot, plot);
  }

  /** The slot's figure: [canvas (handed to the worker) or SVG holder, empty note, caption]. */
  private canvasFor(id: string): HTMLCanvasElement | null {
    const el = document.getElementById(id)!;
    const note = document.createElement('p');
    note.className = 'empty';
    note.textContent = el.dataset.empty ?? 'nothing to show yet';
    const caption = document.createElement('figcaption');
    if (!this.canvasesToWorker || !this.worker) {
      el.replaceChildren(document.createElement('div'), note, caption);
      return null;
    }
    const canvas = document.createElement('canvas');
    canvas.width = 0;
    canvas.height = 0;
    canvas.hidden = true;
    el.replaceChildren(canvas, note, caption);
    const offscreen = canvas.transferControlToOffscreen();
    const request: RenderRequest = { type: 'canvas', id, canvas: offscreen };
    this.worker.postMessage(request, [offscreen]);
    return canvas;
  }

  private async draw(id: string, slot: Slot, plot: Plot | null): Promise<void> {
    const el = document.getElementById(id)!;
    const [shown, note, caption] = Array.from(el.children) as HTMLElement[];
    if (!plot) {
      shown.hidden = true;
      note.hidden = false;
      caption.textContent = '';
      el.dataset.series = '0';
      el.dataset.points = '{}';
      return;
    }
    slot.busy = true;
    let reply: RenderReply;
    try {
      reply = await this.render(id, slot, plot);
    } catch (e) {
      reply = { key: -1, error: (e as Error).message };
    }
    slot.busy = false;
    const next = slot.next;
    slot.next = undefined;
    if (next !== undefined) {
      void this.draw(id, slot, next); // newer than this one: it is the one to show
      return;
    }
    if ('error' in reply) {
      shown.hidden = true;
      note.hidden = false;
      note.textContent = `this chart failed to draw: ${reply.error}`;
      return;
    }
    if ('svg' in reply) shown.innerHTML = reply.svg;
    else if (shown.style.width !== `${reply.width}px` || shown.style.height !== `${reply.height}px`) {
      shown.style.width = `${reply.width}px`;
      shown.style.height = `${reply.height}px`;
    }
    shown.hidden = false;
    note.hidden = true;
    shown.setAttribute('role', 'img');
    shown.setAttribute('aria-label', plot.title);
    if (caption.textContent !== plot.caption) caption.textContent = plot.caption;
    el.dataset.series = String(plot.series.length);
    el.dataset.points = JSON.stringify(pointsByRun(plot));
  }

  /** Draw a plot in the report's look (specToSvg and the worker add PLOT_CONFIG). */
  private async render(id: string, slot: Slot, plot: Plot): Promise<RenderReply> {
    if (!this.worker) return { key: -1, svg: await specToSvg(plot.spec) };
    const key = this.nextKey++;
    return new Promise((resolve) => {
      this.waiting.set(key, { spec: plot.spec, done: resolve });
      const request: RenderRequest = {
        type: 'render',
        key,
        id: slot.canvas ? id : '',
        spec: plot.spec,
        scale: Math.max(1, window.devicePixelRatio || 1),
      };
      this.worker!.postMessage(request);
    });
  }

  private receive(reply: RenderReply): void {
    this.waiting.get(reply.key)?.done(reply);
    this.waiting.delete(reply.key);
  }
}

/** Rows of a plot's data per run (the browser test waits until every cell has gradient-flow points). */
function pointsByRun(plot: Plot): Record<string, number> {
  const values = (plot.spec.data as { values?: { run?: string }[] } | undefined)?.values ?? [];
  const out: Record<string, number> = {};
  for (const v of values) if (v.run !== undefined) out[v.run] = (out[v.run] ?? 0) + 1;
  return out;
}
