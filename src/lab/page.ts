import {
  breakdownPlots,
  gradflowPlot,
  heatmapPlot,
  lossCurvePlot,
  lossGradPlot,
  metricCurvesPlot,
  type Plot,
} from '../report/plots.js';
import type { RunData } from '../report/runlog.js';
import { runFromLog } from '../report/runlog.js';
import { lyapunovPlot, spectrumHeatmapPlot } from '../report/spectrum-plots.js';
import { parseLog } from '../runlog/schema.js';
import { SeqlabError, usageError } from '../util/errors.js';
import type { LabBackend } from '../compute/browser.js';
import { Charts } from './charts.js';
import { EXAMPLE_SENTENCE } from './inspect.js';
import { createEngine, type LabEngine, type LabTraining } from './engine.js';
import { labRunData } from './session.js';
import { LAB_DEFAULTS, checkSettings, type LabSettings } from './settings.js';
import {
  LAB_FIELDS,
  compareCommand,
  fieldsQuery,
  fieldsToSettings,
  parseLabQuery,
  settingsToFields,
  type LabPageOptions,
} from './link.js';
import { CELL_KINDS, cellSpec } from '../models/registry.js';
import { fmt } from '../util/format.js';

/**
 * The lab page (bundled by `seqlab lab`): the form (its settings in the page's link),
 * Start/Pause/Reset, live charts (the report's Vega-Lite specs, drawn in a chart worker), the
 * numbers table, the "why" panel, "inspect a sentence" and loading a CLI run. Training runs
 * in a Web Worker when one can (engine.ts), so this thread only inserts what is drawn. Every user mistake
 * lands in an inline message; nothing is thrown to the console.
 */

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let engine: LabEngine | null = null;
let training: LabTraining | null = null;
/** Runs read from files (a CLI run directory), shown when no session trains. */
let loaded: RunData[] = [];
/** Names of the checkpoints loaded from files, for "inspect a sentence". */
const loadedModels = new Set<string>();
let page: LabPageOptions = { backend: 'auto', worker: true };

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

// ---------------------------------------------------------------- form and link

/** The form's fields as texts, by LAB_FIELDS key. */
function readFields(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of LAB_FIELDS)
    out[f.key] =
      f.key === 'cells'
        ? CELL_KINDS.filter((c) => $<HTMLInputElement>(`cell-${c}`).checked).join(',')
        : $<HTMLInputElement>(f.key).value;
  return out;
}

function writeFields(fields: Readonly<Record<string, string>>): void {
  for (const [key, text] of Object.entries(fields)) {
    if (key === 'cells') {
      const cells = text.split(',');
      for (const c of CELL_KINDS) $<HTMLInputElement>(`cell-${c}`).checked = cells.includes(c);
    } else $<HTMLInputElement>(key).value = text;
  }
}

function readSettings(): LabSettings {
  return fieldsToSettings(readFields(), LAB_DEFAULTS);
}

/** After any edit: the fields for this task only, the link and the CLI command. */
function syncSetup(): void {
  const task = $<HTMLSelectElement>('task').value;
  for (const el of document.querySelectorAll<HTMLElement>('[data-tasks]'))
    el.hidden = !(el.dataset.tasks ?? '').split(' ').includes(task);
  const query = fieldsQuery(readFields(), page);
  history.replaceState(null, '', `${location.pathname}?${query}`);
  $<HTMLInputElement>('link').value = location.href;
  let command = '';
  try {
    command = compareCommand(checkSettings(readSettings()), engine?.backend ?? 'cpu');
  } catch {
    command = '(fix the settings above first)';
  }
  $('cli-command').textContent = command;
}

async function copyLink(): Promise<void> {
  syncSetup();
  const link = $<HTMLInputElement>('link');
  try {
    await navigator.clipboard.writeText(link.value);
    showMessage('link copied: it opens the lab with these settings', 'info');
  } catch {
    link.select();
    showMessage('copy the link from the box below (this browser did not let the page copy it)', 'info');
  }
}

// ---------------------------------------------------------------- training

function setButtons(state: 'idle' | 'running' | 'paused' | 'finished'): void {
  $<HTMLButtonElement>('start').disabled = state === 'running' || state === 'paused' || engine === null;
  $<HTMLButtonElement>('pause').disabled = state === 'idle' || state === 'finished';
  $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
  document.body.dataset.state = state;
}

async function start(): Promise<void> {
  if (!engine) return;
  showMessage('');
  let settings: Readonly<LabSettings>;
  try {
    settings = checkSettings(readSettings());
  } catch (e) {
    showMessage(describe(e));
    return;
  }
  loaded = [];
  generation++;
  const mine = engine.start(settings, scheduleRender);
  training = mine;
  fillInspectChoices();
  setButtons('running');
  renderNow();
  try {
    await mine.done;
  } catch (e) {
    if (training === mine) showMessage(describe(e));
  }
  if (training !== mine) return; // reset meanwhile
  const failed = mine.runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) showMessage(failed.map((r) => `${r.cell}: ${r.error}`).join(' · '));
  setButtons('finished');
  renderNow();
}

function togglePause(): void {
  if (!training) return;
  if (training.isPaused) {
    training.resume();
    setButtons('running');
  } else {
    training.pause();
    setButtons('paused');
  }
  renderCounter();
}

function reset(): void {
  engine?.reset();
  training = null;
  generation++;
  loaded = [];
  showMessage('');
  fillInspectChoices();
  setButtons('idle');
  renderNow();
}

// ---------------------------------------------------------------- rendering

let charts: Charts | null = null;
let renderTimer: ReturnType<typeof setTimeout> | null = null;
let lastRender = 0;
const RENDER_EVERY_MS = 1000;

function scheduleRender(): void {
  if (renderTimer !== null) return;
  const wait = Math.max(0, lastRender + RENDER_EVERY_MS - performance.now());
  renderTimer = setTimeout(() => {
    renderTimer = null;
    renderNow();
  }, wait);
}

function currentRuns(): RunData[] {
  return training ? labRunData(training.settings.task, training.runs) : loaded;
}

/** Bumped when the runs shown are replaced (Start, Reset, files loaded): every chart is then redrawn. */
let generation = 0;

function renderNow(): void {
  lastRender = performance.now();
  const runs = currentRuns();
  renderCounter();
  renderNumbers(runs);
  renderWhy();
  if (!charts) return;
  // each chart is rebuilt only when the records it is drawn from grew
  const count = (f: (r: RunData) => number) => `${generation}:${runs.map(f).join(',')}`;
  const evals = count((r) => r.evals.length);
  const gradflow = count((r) => r.gradflow.length);
  let breakdowns: Plot[] | null = null;
  const breakdown = (suffix: string) => {
    breakdowns ??= breakdownPlots(runs);
    return breakdowns.find((p) => p.id.endsWith(suffix)) ?? null;
  };
  charts.show('chart-gradflow', gradflow, () => gradflowPlot(runs));
  charts.show('chart-distance', evals, () => breakdown('by-distance'));
  charts.show('chart-loss', `${count((r) => r.steps.length)}/${evals}`, () => lossCurvePlot(runs));
  charts.show('chart-metrics', evals, () => metricCurvesPlot(runs));
  charts.show(
    'chart-heatmap',
    count((r) => r.pairs.length),
    () => heatmapPlot(runs),
  );
  charts.show('chart-lossgrad', gradflow, () => lossGradPlot(runs));
  charts.show('chart-attractors', evals, () => breakdown('by-attractors'));
  const spectra = count((r) => r.spectra.length);
  charts.show('chart-spectrum', spectra, () => spectrumHeatmapPlot(runs));
  charts.show('chart-lyapunov', spectra, () => lyapunovPlot(runs));
}

function renderCounter(): void {
  const runs = training?.runs ?? [];
  const total = runs.reduce((n, r) => n + r.step, 0);
  const el = $('step-counter');
  el.dataset.steps = String(total);
  el.textContent =
    runs.length === 0
      ? 'not started'
      : runs.map((r) => `${r.cell} ${r.step}/${r.config.steps}`).join(' · ') +
        (training?.isHeld ? ' (paused)' : training?.isPaused ? ' (pausing after this step…)' : '');
  if (training?.isHeld) document.body.dataset.held = 'true';
  else delete document.body.dataset.held;
}

function cell(field: string, value: number | null | undefined, digits = 6): string {
  const v = value === null || value === undefined ? '' : String(value);
  return `<td data-field="${field}" data-value="${v}">${fmt(value, digits)}</td>`;
}

/** The numbers behind the charts, at full precision in data-value (the test compares them with the CLI's). */
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
    const status = training?.runs.find((x) => x.cell === r.label)?.status ?? 'loaded';
    const metric = metricName ? (ev!.metrics[metricName] as number) : null;
    return (
      `<tr data-cell="${r.label}" data-status="${status}" data-gradflow-step="${g?.step ?? ''}" ` +
      `data-curve='${JSON.stringify(curve)}' data-metrics='${JSON.stringify(ev?.metrics ?? {})}'>` +
      `<th>${r.label}</th><td>${status}</td>` +
      `<td data-field="step" data-value="${last?.step ?? ''}">${last?.step ?? '–'}</td>` +
      cell('loss', last?.loss) +
      cell('evalLoss', ev?.loss) +
      `<td data-field="metric" data-value="${metric ?? ''}">` +
      `${metricName ? `${metricName} ${fmt(metric, 3)}` : '–'}</td>` +
      cell('gap1', g?.spectral[0] ?? null, 4) +
      cell('gapT', g?.spectral.at(-1) ?? null, 4) +
      `<td>${g ? (g.horizon ?? `none within ${g.T}`) : '–'}</td>` +
      cell('decay', g?.decayPerStep ?? null, 3) +
      '</tr>'
    );
  });
  const body = $('numbers-body');
  const same =
    rows.length > 0 &&
    body.children.length === rows.length &&
    runs.every((r, i) => (body.children[i] as HTMLElement).dataset.cell === r.label);
  if (same) for (const [i, html] of rows.entries()) patchRow(body.children[i] as HTMLTableRowElement, html);
  else
    setHtml(
      'numbers-body',
      rows.join('') || '<tr><td colspan="10" class="empty">Start a run, or load a CLI run directory below.</td></tr>',
    );
}

/** Make row `tr` read as `html` (one <tr>), touching only the attributes and cells that differ: less to lay out. */
function patchRow(tr: HTMLTableRowElement, html: string): void {
  const template = document.createElement('template');
  template.innerHTML = `<table><tbody>${html}</tbody></table>`;
  const fresh = template.content.querySelector('tr')!;
  const sync = (to: Element, from: Element) => {
    for (const { name, value } of Array.from(from.attributes))
      if (to.getAttribute(name) !== value) to.setAttribute(name, value);
  };
  sync(tr, fresh);
  for (let i = 0; i < fresh.cells.length; i++) {
    const to = tr.cells[i];
    const from = fresh.cells[i];
    sync(to, from);
    if (to.innerHTML !== from.innerHTML) to.innerHTML = from.innerHTML;
  }
}

const shownHtml = new Map<string, string>();

/** Replace an element's content only when it changed (each replacement costs a layout). */
function setHtml(id: string, html: string): void {
  if (shownHtml.get(id) === html) return;
  shownHtml.set(id, html);
  $(id).innerHTML = html;
}

function renderWhy(): void {
  const runs = training?.runs ?? [];
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
  setHtml('why-list', items.join('') || '<li class="empty">appears with the first gradient-flow probe of a run</li>');
}

// ---------------------------------------------------------------- inspect a sentence

function fillInspectChoices(): void {
  const select = $<HTMLSelectElement>('inspect-model');
  const options: string[] = [];
  if (training && training.settings.task === 'agreement')
    for (const r of training.runs) options.push(`<option value="run:${r.cell}">${r.cell} (this page)</option>`);
  for (const name of loadedModels) options.push(`<option value="file:${name}">${name} (loaded)</option>`);
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
    if (!engine || choice === '')
      throw usageError(
        'no model to read with: train on the agreement task (or load an agreement checkpoint.json) first',
      );
    const words = await engine.inspect(
      choice.startsWith('run:') ? { run: choice.slice(4) } : { file: choice.slice(5) },
      text,
    );
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
      `<th>‖∂h<sub>T</sub>/∂h<sub>t</sub>‖</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
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
      if (ck && engine) {
        await engine.loadModel(dir, ck);
        loadedModels.add(dir);
        models++;
      }
    }
    if (runs.length === 0 && models === 0)
      throw usageError(
        'no log.jsonl or checkpoint.json among the chosen files; ' +
          'choose a run directory written by seqlab train or seqlab compare',
      );
    if (runs.length > 0) {
      engine?.reset();
      training = null;
      loaded = runs;
      generation++;
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
  // the defaults with what the link says over them; values the form would refuse are dropped and noted
  const link = parseLabQuery(location.search);
  page = link.page;
  writeFields(settingsToFields(link.settings));
  if (link.notices.length > 0) showMessage(`URL: ${link.notices.join(' · ')}`, 'info');
  $('sentence').setAttribute('placeholder', EXAMPLE_SENTENCE);
  charts = new Charts(page.worker ? Charts.startWorker(new URL('lab-render.js', import.meta.url)) : null);
  $('settings').addEventListener('input', syncSetup);
  $('settings').addEventListener('change', syncSetup);
  const backendSelect = $<HTMLSelectElement>('backend');
  backendSelect.value = page.backend;
  backendSelect.addEventListener('change', () => {
    page = { ...page, backend: backendSelect.value };
    syncSetup();
    location.reload();
  });
  $('start').addEventListener('click', () => void start());
  $('pause').addEventListener('click', togglePause);
  $('reset').addEventListener('click', reset);
  $('copy-link').addEventListener('click', () => void copyLink());
  $('inspect').addEventListener('click', () => void inspect());
  $('sentence').addEventListener('keydown', (ev) => {
    if ((ev as KeyboardEvent).key === 'Enter') void inspect();
  });
  for (const id of ['load-files', 'load-dir'])
    $<HTMLInputElement>(id).addEventListener('change', (ev) => void loadFiles((ev.target as HTMLInputElement).files));
  setButtons('idle');
  syncSetup();
  fillInspectChoices();
  renderNow();
  try {
    engine = await createEngine({
      backend: backendSelect.value as LabBackend,
      worker: page.worker,
      workerUrl: new URL('lab-worker.js', import.meta.url),
      wasmDir: new URL('wasm/', location.href).href,
      lexiconUrl: new URL('agreement-pt.json', location.href).href,
    });
  } catch (e) {
    showMessage(`the lab could not start: ${(e as Error).message}`);
    return;
  }
  $('backend-name').textContent = engine.backend;
  $('backend-name').title = engine.notes.length > 0 ? `notes: ${engine.notes.join('; ')}` : '';
  $('thread-name').textContent = engine.where === 'worker' ? '(training in a worker)' : '(training on the page)';
  $('thread-name').title = engine.notes.join('; ');
  document.body.dataset.backend = engine.backend;
  document.body.dataset.where = engine.where;
  setButtons('idle');
  syncSetup();
  document.body.dataset.ready = 'true';
}

void main();
