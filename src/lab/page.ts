import embed, { type Result as EmbedResult } from 'vega-embed';
import type { SequenceModel } from '../models/model.js';
import {
  breakdownPlots,
  gradflowPlot,
  heatmapPlot,
  lossCurvePlot,
  lossGradPlot,
  metricCurvesPlot,
  type Plot,
} from '../report/plots.js';
import { PLOT_CONFIG } from '../report/render.js';
import type { RunData } from '../report/runlog.js';
import { runFromLog } from '../report/runlog.js';
import { parseLog } from '../runlog/schema.js';
import { checkpointModel } from '../training/checkpoint.js';
import { loadLexicon, provideShippedLexicon } from '../tasks/agreement/lexicon.js';
import type { Vocabulary } from '../data/vocab.js';
import { agreementVocabulary, type AgreementTask } from '../tasks/agreement/task.js';
import { SeqlabError, usageError } from '../util/errors.js';
import { setLabBackend, type LabBackend } from '../compute/browser.js';
import { EXAMPLE_SENTENCE, readSentence } from './inspect.js';
import { LabSession, type CellRun, type LabSettings } from './session.js';
import { parseLabQuery } from './query.js';
import { CELL_KINDS, cellSpec } from '../models/registry.js';
import { fmt } from '../util/format.js';
import type { JacobianMode } from '../training/gradflow.js';

/**
 * The lab page (bundled by `seqlab lab`): the form, Start/Pause/Reset, live charts
 * (the report's Vega-Lite specs through vega-embed), the numbers table, the "why"
 * panel, "inspect a sentence" and loading a CLI run. Every user mistake lands in an
 * inline message; nothing is thrown to the console.
 */

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let session: LabSession | null = null;
/** Runs read from files (a CLI run directory), shown when no session trains. */
let loaded: RunData[] = [];
/** Models from loaded checkpoint.json files, for "inspect a sentence". */
const loadedModels = new Map<string, SequenceModel>();

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = $('message');
  box.textContent = text;
  box.className = text === '' ? '' : kind;
}

/** One line for the user: a SeqlabError's message as it is, anything else marked as a bug. */
function describe(e: unknown): string {
  if (e instanceof SeqlabError) return e.message;
  return `internal error: ${(e as Error)?.message ?? String(e)}`;
}

// ---------------------------------------------------------------- form

function field(id: string, label: string): string {
  const v = $<HTMLInputElement>(id).value.trim();
  if (v === '') throw usageError(`${label} is empty; enter a number`);
  return v;
}

function numberField(id: string, label: string): number {
  const raw = field(id, label);
  const n = Number(raw);
  if (!Number.isFinite(n)) throw usageError(`${label} must be a number, got "${raw}"`);
  return n;
}

function readSettings(): LabSettings {
  const cells = CELL_KINDS.filter((c) => $<HTMLInputElement>(`cell-${c}`).checked);
  const clip = $<HTMLInputElement>('clip').value.trim();
  return {
    task: $<HTMLSelectElement>('task').value as LabSettings['task'],
    cells,
    hiddenSize: numberField('hidden', 'hidden size'),
    length: numberField('length', $('length-label').textContent ?? 'length'),
    init: $<HTMLSelectElement>('init').value as LabSettings['init'],
    clipNorm: clip === '' || clip === 'off' ? null : numberField('clip', 'clipping norm'),
    lr: numberField('lr', 'learning rate'),
    seed: numberField('seed', 'seed'),
    steps: numberField('steps', 'steps'),
    batchSize: numberField('batch', 'batch size'),
    evalEvery: numberField('every', 'probe every'),
    gradflowEvery: numberField('every', 'probe every'),
    gradflowMode: $<HTMLSelectElement>('mode').value as JacobianMode,
  };
}

function fillDefaults(): void {
  // ?hidden=8&steps=40 … preset the form (links, the browser test); values the form would refuse are noted
  const query = parseLabQuery(location.search);
  const d = query.settings;
  const set = (id: string, v: unknown) => ($<HTMLInputElement>(id).value = String(v));
  set('task', d.task);
  for (const c of CELL_KINDS) $<HTMLInputElement>(`cell-${c}`).checked = d.cells.includes(c);
  set('hidden', d.hiddenSize);
  set('length', d.length);
  set('init', d.init);
  set('clip', d.clipNorm ?? '');
  set('lr', d.lr);
  set('seed', d.seed);
  set('steps', d.steps);
  set('batch', d.batchSize);
  set('every', d.gradflowEvery);
  set('mode', d.gradflowMode);
  if (query.notices.length > 0) showMessage(`URL: ${query.notices.join(' · ')}`, 'info');
  syncLengthLabel();
}

function syncLengthLabel(): void {
  const isAgreement = $<HTMLSelectElement>('task').value === 'agreement';
  $('length-label').textContent = isAgreement ? 'distance D' : 'sequence length T';
  $('length').title = isAgreement
    ? 'train on subject–verb distances 1..D, test at 2, 4, …, 2D'
    : 'time steps per sequence';
}

// ---------------------------------------------------------------- training

/**
 * A macrotask yield (MessageChannel: no 4 ms clamp like nested setTimeout), so clicks and paints get through
 * between steps.
 */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

function setButtons(state: 'idle' | 'running' | 'paused' | 'finished'): void {
  $<HTMLButtonElement>('start').disabled = state === 'running' || state === 'paused';
  $<HTMLButtonElement>('pause').disabled = state === 'idle' || state === 'finished';
  $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
  document.body.dataset.state = state;
}

async function start(): Promise<void> {
  showMessage('');
  let next: LabSession;
  try {
    next = new LabSession(readSettings(), { yieldNow, onUpdate: () => scheduleRender() });
  } catch (e) {
    showMessage(describe(e));
    return;
  }
  session?.dispose();
  session = next;
  loaded = [];
  fillInspectChoices();
  setButtons('running');
  renderNow();
  const mine = session;
  await mine.start();
  if (session !== mine) return; // reset meanwhile
  const failed = mine.runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) showMessage(failed.map((r) => `${r.cell}: ${r.error}`).join(' · '));
  setButtons('finished');
  renderNow();
}

function togglePause(): void {
  if (!session) return;
  if (session.isPaused) {
    session.resume();
    setButtons('running');
  } else {
    session.pause();
    setButtons('paused');
  }
}

function reset(): void {
  session?.dispose();
  session = null;
  loaded = [];
  showMessage('');
  fillInspectChoices();
  setButtons('idle');
  renderNow();
}

// ---------------------------------------------------------------- rendering

const views = new Map<string, { json: string; result: EmbedResult | null }>();
let renderTimer: ReturnType<typeof setTimeout> | null = null;
let lastRender = 0;
const RENDER_EVERY_MS = 600;

function scheduleRender(): void {
  if (renderTimer !== null) return;
  const wait = Math.max(0, lastRender + RENDER_EVERY_MS - performance.now());
  renderTimer = setTimeout(() => {
    renderTimer = null;
    renderNow();
  }, wait);
}

function currentRuns(): RunData[] {
  return session ? session.runData() : loaded;
}

function renderNow(): void {
  lastRender = performance.now();
  const runs = currentRuns();
  renderCounter();
  renderNumbers(runs);
  renderWhy();
  const breakdowns = breakdownPlots(runs);
  const slots: [string, Plot | null | undefined][] = [
    ['chart-loss', lossCurvePlot(runs)],
    ['chart-metrics', metricCurvesPlot(runs)],
    ['chart-gradflow', gradflowPlot(runs)],
    ['chart-heatmap', heatmapPlot(runs)],
    ['chart-distance', breakdowns.find((p) => p.id.endsWith('by-distance')) ?? breakdowns[0]],
    ['chart-lossgrad', lossGradPlot(runs)],
  ];
  for (const [id, plot] of slots) void drawPlot(id, plot ?? null);
}

async function drawPlot(id: string, plot: Plot | null): Promise<void> {
  const el = $(id);
  const json = plot ? JSON.stringify(plot.spec) : '';
  const prev = views.get(id);
  if (prev && prev.json === json) return;
  views.set(id, { json, result: null });
  prev?.result?.finalize();
  const series = plot?.series.length ?? 0;
  el.dataset.series = String(series);
  if (!plot) {
    el.dataset.points = '{}';
    el.innerHTML = `<p class="empty">${el.dataset.empty ?? 'nothing to show yet'}</p>`;
    return;
  }
  try {
    el.innerHTML = '';
    // logLevel 1 = errors only: a layer still without data (no evaluation yet) is not worth a console warning
    const result = await embed(el, { ...plot.spec, config: PLOT_CONFIG } as never, {
      actions: false,
      renderer: 'svg',
      logLevel: 1,
    });
    const now = views.get(id);
    if (now && now.json === json) now.result = result;
    else result.finalize();
    el.dataset.points = JSON.stringify(pointsByRun(plot));
  } catch (e) {
    el.innerHTML = `<p class="empty">this chart failed to draw: ${(e as Error).message}</p>`;
  }
}

/** Rows of a plot's data per run (the browser test waits until every cell has gradient-flow points). */
function pointsByRun(plot: Plot): Record<string, number> {
  const values = (plot.spec.data as { values?: { run?: string }[] } | undefined)?.values ?? [];
  const out: Record<string, number> = {};
  for (const v of values) if (v.run !== undefined) out[v.run] = (out[v.run] ?? 0) + 1;
  return out;
}

function renderCounter(): void {
  const runs = session?.runs ?? [];
  const total = runs.reduce((n, r) => n + r.step, 0);
  const el = $('step-counter');
  el.dataset.steps = String(total);
  el.textContent =
    runs.length === 0
      ? 'not started'
      : runs.map((r) => `${r.cell} ${r.step}/${r.config.steps}`).join(' · ') + (session?.isPaused ? ' (paused)' : '');
}

function cell(field: string, value: number | null | undefined, digits = 6): string {
  const v = value === null || value === undefined ? '' : String(value);
  return `<td data-field="${field}" data-value="${v}">${fmt(value, digits)}</td>`;
}

/** The numbers behind the charts, at full precision in data-value (the test compares them with the library's). */
function renderNumbers(runs: RunData[]): void {
  const rows = runs.map((r) => {
    const last = r.steps.at(-1);
    const ev = r.evals.at(-1);
    const metricName = ev
      ? (['accuracy', 'copyAccuracy', 'mse'].find((m) => typeof ev.metrics[m] === 'number') ?? null)
      : null;
    const top = Math.max(0, ...r.gradflow.map((g) => g.layer));
    const g = r.gradflow.filter((x) => x.layer === top).at(-1);
    const curve = g ? g.spectral : [];
    const status = session?.runs.find((x) => x.cell === r.label)?.status ?? 'loaded';
    return (
      `<tr data-cell="${r.label}" data-status="${status}" data-gradflow-step="${g?.step ?? ''}" ` +
      `data-curve='${JSON.stringify(curve)}'>` +
      `<th>${r.label}</th><td>${status}</td>` +
      `<td data-field="step" data-value="${last?.step ?? ''}">${last?.step ?? '–'}</td>` +
      cell('loss', last?.loss) +
      cell('evalLoss', ev?.loss) +
      `<td>${metricName ? `${metricName} ${fmt(ev!.metrics[metricName], 3)}` : '–'}</td>` +
      cell('gap1', g?.spectral[0] ?? null, 4) +
      cell('gapT', g?.spectral.at(-1) ?? null, 4) +
      `<td>${g ? (g.horizon ?? `none within ${g.T}`) : '–'}</td>` +
      cell('decay', g?.decayPerStep ?? null, 3) +
      '</tr>'
    );
  });
  $('numbers-body').innerHTML =
    rows.join('') || '<tr><td colspan="10" class="empty">Start a run, or load a CLI run directory below.</td></tr>';
}

function renderWhy(): void {
  const runs: CellRun[] = session?.runs ?? [];
  const items = runs
    .filter((r) => r.why)
    .map((r) => {
      const w = r.why!;
      const gain = `one-step gain σ<sub>max</sub>(∂s<sub>T</sub>/∂s<sub>T−1</sub>) = ${fmt(w.oneStepGain, 3)}`;
      const gate = cellSpec(r.cell).memoryGate;
      if (gate)
        return (
          `<li><b>${r.cell}</b> (step ${w.step}): ${gain}; mean ${gate.name} gate = ${fmt(w.gateMean, 3)}. ` +
          `${gate.role}.</li>`
        );
      return (
        `<li><b>${r.cell}</b> (step ${w.step}): ${gain} ` +
        `≤ max|φ′(a<sub>T</sub>)|·‖U‖<sub>2</sub> = ${fmt(w.bound, 3)}, ` +
        `with ‖U‖<sub>2</sub> = ${fmt(w.recurrentNorm, 3)}. J<sub>t</sub> = diag(φ′(a<sub>t</sub>))·U, ` +
        'so while this bound is below 1 every step shrinks the gradient by at least that factor: ' +
        'over a gap of g steps, by its g-th power.</li>'
      );
    });
  $('why-list').innerHTML =
    items.join('') || '<li class="empty">appears with the first gradient-flow probe of a run</li>';
}

// ---------------------------------------------------------------- inspect a sentence

function fillInspectChoices(): void {
  const select = $<HTMLSelectElement>('inspect-model');
  const options: string[] = [];
  if (session && session.settings.task === 'agreement')
    for (const r of session.runs) options.push(`<option value="run:${r.cell}">${r.cell} (this page)</option>`);
  for (const name of loadedModels.keys()) options.push(`<option value="file:${name}">${name} (loaded)</option>`);
  select.innerHTML = options.join('') || '<option value="">train on the agreement task first</option>';
}

async function inspect(): Promise<void> {
  const out = $('inspect-out');
  const msg = $('inspect-message');
  msg.textContent = '';
  out.innerHTML = '';
  try {
    const choice = $<HTMLSelectElement>('inspect-model').value;
    const text = $<HTMLInputElement>('sentence').value;
    let model: SequenceModel | undefined;
    let vocab: Vocabulary;
    let mode: JacobianMode = 'h';
    if (choice.startsWith('run:') && session) {
      const run = session.runs.find((r) => `run:${r.cell}` === choice);
      // a bug if missing: fillInspectChoices lists this session's runs whenever the session changes
      if (!run) throw new Error(`the choice ${choice} names no run of this page`);
      model = run.model;
      vocab = (run.task as AgreementTask).vocab;
      mode = session.settings.gradflowMode;
    } else {
      model = loadedModels.get(choice.slice('file:'.length));
      vocab = agreementVocabulary(loadLexicon());
    }
    if (!model)
      throw usageError(
        'no model to read with: train on the agreement task (or load an agreement checkpoint.json) first',
      );
    const words = await readSentence(model, vocab, text, mode);
    const rows = words.map(
      (w) =>
        `<tr${w.subject ? ' class="subject"' : ''}><td>${w.word}` +
        `${w.subject ? ` <small>subject, ${w.subject === 'sg' ? 'singular' : 'plural'}</small>` : ''}</td>` +
        `<td>${w.pPlural >= 0.5 ? 'plural' : 'singular'}</td><td data-value="${w.pPlural}">` +
        `<span class="bar" style="width:${(100 * w.pPlural).toFixed(0)}%"></span>${w.pPlural.toFixed(3)}</td>` +
        `<td data-value="${w.flow ?? ''}">${w.flow === null ? '1 (h<sub>T</sub> itself)' : fmt(w.flow, 3)}</td></tr>`,
    );
    out.innerHTML =
      '<table><thead><tr><th>word</th><th>prediction</th><th>p(plural)</th>' +
      '<th>‖∂h<sub>T</sub>/∂h<sub>t</sub>‖</th></tr></thead>' +
      `<tbody>${rows.join('')}</tbody></table>`;
  } catch (e) {
    msg.textContent = describe(e);
  }
}

// ---------------------------------------------------------------- load a CLI run

/**
 * Files from a run directory (or a compare directory of runs): log.jsonl (+ config.json, metrics.json) per run,
 * checkpoint.json for inspection.
 */
async function loadFiles(files: FileList | null): Promise<void> {
  const msg = $('load-message');
  msg.textContent = '';
  msg.className = 'inline-message';
  if (!files || files.length === 0) return;
  try {
    const byDir = new Map<string, Map<string, File>>();
    for (const f of Array.from(files)) {
      const path = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
      const parts = path.split('/');
      const dir = parts.length > 1 ? parts[parts.length - 2] : 'run';
      if (!byDir.has(dir)) byDir.set(dir, new Map());
      byDir.get(dir)!.set(parts[parts.length - 1], f);
    }
    const runs: RunData[] = [];
    let models = 0;
    for (const [dir, entries] of byDir) {
      const json = async (name: string) =>
        entries.has(name) ? (JSON.parse(await entries.get(name)!.text()) as Record<string, unknown>) : null;
      const log = entries.get('log.jsonl');
      if (log) {
        const config = (await json('config.json')) ?? {};
        const label = String((config.model as { cell?: unknown } | undefined)?.cell ?? dir);
        runs.push(
          runFromLog(
            dir,
            runs.some((r) => r.label === label) ? dir : label,
            config,
            await json('metrics.json'),
            parseLog(await log.text(), `${dir}/log.jsonl`),
          ),
        );
      }
      const ck = await json('checkpoint.json');
      if (ck) {
        loadedModels.get(dir)?.dispose();
        loadedModels.set(dir, checkpointModel(ck, `${dir}/checkpoint.json`).model);
        models++;
      }
    }
    if (runs.length === 0 && models === 0)
      throw usageError(
        'no log.jsonl or checkpoint.json among the chosen files; ' +
          'choose a run directory written by seqlab train or seqlab compare',
      );
    if (runs.length > 0) {
      session?.dispose();
      session = null;
      loaded = runs;
      setButtons('idle');
    }
    fillInspectChoices();
    renderNow();
    msg.className = 'inline-note';
    const checkpoints = models ? ` and ${models} checkpoint${models === 1 ? '' : 's'}` : '';
    msg.textContent = `loaded ${runs.length} run${runs.length === 1 ? '' : 's'}${checkpoints}`;
  } catch (e) {
    msg.textContent = e instanceof SyntaxError ? `a file is not valid JSON: ${e.message}` : describe(e);
  }
}

// ---------------------------------------------------------------- start-up

async function main(): Promise<void> {
  window.addEventListener('unhandledrejection', (ev) => {
    ev.preventDefault();
    showMessage(describe(ev.reason));
  });
  fillDefaults();
  $('sentence').setAttribute('placeholder', EXAMPLE_SENTENCE);
  $('task').addEventListener('change', syncLengthLabel);
  const backendSelect = $<HTMLSelectElement>('backend');
  backendSelect.value = parseLabQuery(location.search).backend;
  backendSelect.addEventListener('change', () => {
    const params = new URLSearchParams(location.search);
    params.set('backend', backendSelect.value);
    location.search = params.toString();
  });
  try {
    const lexicon = await fetch('agreement-pt.json');
    if (!lexicon.ok) throw new Error(`agreement-pt.json: HTTP ${lexicon.status}`);
    provideShippedLexicon(await lexicon.json());
    const { backend, failed } = await setLabBackend(
      backendSelect.value as LabBackend,
      new URL('wasm/', location.href).href,
    );
    $('backend-name').textContent = backend;
    $('backend-name').title = failed.length > 0 ? `not used: ${failed.join('; ')}` : '';
    document.body.dataset.backend = backend;
  } catch (e) {
    showMessage(`the lab could not start: ${(e as Error).message}`);
    return;
  }
  $('start').addEventListener('click', () => void start());
  $('pause').addEventListener('click', togglePause);
  $('reset').addEventListener('click', reset);
  $('inspect').addEventListener('click', () => void inspect());
  $('sentence').addEventListener('keydown', (ev) => {
    if ((ev as KeyboardEvent).key === 'Enter') void inspect();
  });
  for (const id of ['load-files', 'load-dir'])
    $<HTMLInputElement>(id).addEventListener('change', (ev) => void loadFiles((ev.target as HTMLInputElement).files));
  setButtons('idle');
  fillInspectChoices();
  renderNow();
  document.body.dataset.ready = 'true';
}

void main();
