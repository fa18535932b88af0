import { CELL_KINDS, type CellKind, cellKindList } from '../models/registry.js';
import { LAB_BACKENDS } from '../compute/browser.js';
import { SeqlabError, usageError } from '../util/errors.js';
import { LAB_DATA, LAB_DEFAULTS, LAB_TASKS, type LabSettings, type LabTask, checkSettings } from './settings.js';

/**
 * A lab setup as text: the form's fields, the page's query string (a link that reproduces a
 * run) and the `seqlab compare` command that trains the same runs from the command line.
 * One table, LAB_FIELDS, says how each setting reads and writes; its keys are the CLI's flag
 * names, so `?hidden=32&train-distances=8-16` reads like `--hidden 32 --train-distances 8-16`.
 * Nothing here touches the DOM.
 */

export interface LabField {
  /** Query parameter, form element id and CLI flag (--key). */
  key: string;
  /** The name the page and its messages use. */
  label: string;
  /** The tasks it applies to (the form hides it for others; the CLI command leaves it out). */
  tasks: readonly LabTask[];
  format: (s: Readonly<LabSettings>) => string;
  /** The field's text into the settings; a mistake is a SeqlabError naming the label. */
  parse: (text: string, into: LabSettings) => void;
}

const ALL_TASKS = LAB_TASKS;
const SYNTHETIC: readonly LabTask[] = ['adding', 'copy'];

/** A number as typed (checkSettings then checks its range and integrality). */
function number(label: string, text: string): number {
  const t = text.trim();
  const n = t === '' ? Number.NaN : Number(t);
  if (!Number.isFinite(n)) throw usageError(`${label} must be a number, got "${text}"`);
  return n;
}

/** "8-16" (or one distance, "12") into [min, max]. */
function range(label: string, text: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw usageError(`${label} must be MIN-MAX, e.g. 8-16, got "${text}"`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

/** "8,12,16" (commas or spaces) into numbers. */
function list(label: string, text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0) throw usageError(`${label} is empty; list distances, e.g. 8,12,16`);
  return parts.map((p) => number(label, p));
}

function numberField(
  key: string,
  label: string,
  field: 'hiddenSize' | 'lr' | 'seed' | 'steps' | 'batchSize' | 'evalEvery' | 'gradflowEvery' | 'spectrumEvery',
): LabField {
  return {
    key,
    label,
    tasks: ALL_TASKS,
    format: (s) => String(s[field]),
    parse: (text, into) => {
      into[field] = number(label, text);
    },
  };
}

/** Every setting, in the form's order. */
export const LAB_FIELDS: readonly LabField[] = [
  {
    key: 'task',
    label: 'task',
    tasks: ALL_TASKS,
    format: (s) => s.task,
    parse: (text, into) => {
      if (!(LAB_TASKS as readonly string[]).includes(text))
        throw usageError(`unknown task "${text}"; use ${LAB_TASKS.join(', ')}`);
      into.task = text as LabTask;
    },
  },
  {
    key: 'cells',
    label: 'cells',
    tasks: ALL_TASKS,
    format: (s) => s.cells.join(','),
    parse: (text, into) => {
      const names = text.split(',').filter((c) => c.trim() !== '');
      for (const c of names)
        if (!(CELL_KINDS as readonly string[]).includes(c.trim()))
          throw usageError(`unknown cell "${c.trim()}"; use ${cellKindList()}`);
      into.cells = names.map((c) => c.trim() as CellKind);
    },
  },
  numberField('hidden', 'hidden size', 'hiddenSize'),
  {
    key: 'train-distances',
    label: 'training distances',
    tasks: ['agreement'],
    format: (s) => `${s.trainDistances[0]}-${s.trainDistances[1]}`,
    parse: (text, into) => {
      into.trainDistances = range('training distances', text);
    },
  },
  {
    key: 'test-distances',
    label: 'test distances',
    tasks: ['agreement'],
    format: (s) => s.testDistances.join(','),
    parse: (text, into) => {
      into.testDistances = list('test distances', text);
    },
  },
  {
    key: 'seq-len',
    label: 'sequence length',
    tasks: SYNTHETIC,
    format: (s) => (s.seqLen === null ? '' : String(s.seqLen)),
    parse: (text, into) => {
      into.seqLen = text.trim() === '' ? null : number('sequence length', text);
    },
  },
  {
    key: 'init',
    label: 'initializer',
    tasks: ALL_TASKS,
    format: (s) => s.init,
    parse: (text, into) => {
      into.init = text as LabSettings['init']; // checkSettings names the choices
    },
  },
  {
    key: 'clip-norm',
    label: 'clip norm',
    tasks: ALL_TASKS,
    // the CLI's convention: 0 = off
    format: (s) => String(s.clipNorm ?? 0),
    parse: (text, into) => {
      const t = text.trim();
      const n = t === '' || t === 'off' ? 0 : number('clip norm', t);
      into.clipNorm = n === 0 ? null : n;
    },
  },
  numberField('lr', 'learning rate', 'lr'),
  numberField('steps', 'steps', 'steps'),
  numberField('batch', 'batch size', 'batchSize'),
  numberField('eval-every', 'eval every', 'evalEvery'),
  numberField('gradflow-every', 'probe every', 'gradflowEvery'),
  numberField('spectrum-every', 'spectrum every', 'spectrumEvery'),
  {
    key: 'gradflow-mode',
    label: 'LSTM Jacobian',
    tasks: ALL_TASKS,
    format: (s) => s.gradflowMode,
    parse: (text, into) => {
      into.gradflowMode = text as LabSettings['gradflowMode']; // checkSettings names the choices
    },
  },
  numberField('seed', 'seed', 'seed'),
];

export const LAB_FIELD_KEYS: readonly string[] = LAB_FIELDS.map((f) => f.key);

/** The settings as field texts, by key. */
export function settingsToFields(s: Readonly<LabSettings>): Record<string, string> {
  return Object.fromEntries(LAB_FIELDS.map((f) => [f.key, f.format(s)]));
}

/**
 * Field texts into settings, on top of `base` for keys not given. Unchecked beyond parsing
 * (checkSettings does that); a text that does not parse is a SeqlabError naming its field.
 */
export function fieldsToSettings(fields: Readonly<Record<string, string>>, base: Readonly<LabSettings>): LabSettings {
  const s: LabSettings = {
    ...base,
    cells: [...base.cells],
    trainDistances: [...base.trainDistances],
    testDistances: [...base.testDistances],
  };
  for (const f of LAB_FIELDS) if (fields[f.key] !== undefined) f.parse(fields[f.key], s);
  return s;
}

/** Page options a link carries besides the settings. */
export interface LabPageOptions {
  /** tfjs backend: auto, webgl, wasm or cpu. */
  backend: string;
  /** Train in a Web Worker (true) or on the page's own thread. */
  worker: boolean;
}

export const LAB_PAGE_DEFAULTS: Readonly<LabPageOptions> = { backend: 'auto', worker: true };

/** The query string of a link to this setup: every setting, then the page options that differ from the defaults. */
export function settingsQuery(s: Readonly<LabSettings>, page: Readonly<LabPageOptions> = LAB_PAGE_DEFAULTS): string {
  return fieldsQuery(settingsToFields(s), page);
}

/** The query string of field texts as typed (a link keeps even a setting that does not parse yet). */
export function fieldsQuery(fields: Readonly<Record<string, string>>, page: Readonly<LabPageOptions>): string {
  const q = new URLSearchParams();
  for (const key of LAB_FIELD_KEYS) if (fields[key] !== undefined) q.set(key, fields[key]);
  if (page.backend !== LAB_PAGE_DEFAULTS.backend) q.set('backend', page.backend);
  if (page.worker !== LAB_PAGE_DEFAULTS.worker) q.set('worker', page.worker ? '1' : '0');
  return q.toString();
}

/**
 * A link's query string: the field texts it gives (a key given twice: its first value, the key
 * in `repeated`), its page options, and the keys it does not know. Texts are as typed.
 */
export function readQuery(query: string): {
  fields: Record<string, string>;
  page: LabPageOptions;
  unknown: string[];
  repeated: string[];
} {
  const q = new URLSearchParams(query);
  const fields: Record<string, string> = {};
  const unknown: string[] = [];
  const repeated = new Set<string>();
  for (const [k, v] of q) {
    if (LAB_FIELD_KEYS.includes(k)) {
      if (fields[k] === undefined) fields[k] = v;
      else repeated.add(k);
    } else if (k === 'backend' || k === 'worker') {
      if (q.getAll(k).length > 1) repeated.add(k);
    } else unknown.push(k);
  }
  return {
    fields,
    page: {
      backend: q.get('backend') ?? LAB_PAGE_DEFAULTS.backend,
      worker: q.has('worker') ? !['0', 'false', 'no', 'off'].includes(q.get('worker')!) : LAB_PAGE_DEFAULTS.worker,
    },
    unknown,
    repeated: [...repeated],
  };
}

/** A page's link read into what the page starts with: settings that pass checkSettings, and what was dropped. */
export interface LabQuery {
  /** The defaults with every usable value of the link over them. */
  settings: LabSettings;
  /** The page options; a backend the lab does not have is "auto". */
  page: LabPageOptions;
  /** One line per value dropped, for the page to show (at most MAX_NOTICES and a count of the rest). */
  notices: string[];
}

const MAX_NOTICES = 5;

const shown = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/**
 * Read a link (location.search, with or without "?"); never throws. Each setting is read by its
 * field (LAB_FIELDS, as the form's texts are) in the form's order, then the settings so far are
 * checked (checkSettings): a value that does not parse or does not pass is dropped, its setting
 * keeps the value before it, and a notice says so. One bad value costs only itself, never the page.
 */
export function parseLabQuery(query: string, base: Readonly<LabSettings> = LAB_DEFAULTS): LabQuery {
  const link = readQuery(query);
  const notices: string[] = [];
  let settings = fieldsToSettings({}, base);
  for (const f of LAB_FIELDS) {
    const text = link.fields[f.key];
    if (text === undefined) continue;
    try {
      const next = fieldsToSettings({ [f.key]: text }, settings);
      checkSettings(next);
      settings = next;
    } catch (e) {
      if (!(e instanceof SeqlabError)) throw e;
      const kept = f.format(settings);
      notices.push(`?${f.key}=${shown(text)} ignored (${e.message}); using ${kept === '' ? 'the default' : kept}`);
    }
  }
  let { backend } = link.page;
  if (!(LAB_BACKENDS as readonly string[]).includes(backend)) {
    notices.push(`?backend=${shown(backend)} ignored: use ${LAB_BACKENDS.join(', ')}; using auto`);
    backend = 'auto';
  }
  for (const key of link.repeated) notices.push(`?${key} is given twice; the first value counts`);
  for (const key of link.unknown)
    notices.push(`?${shown(key).slice(1, -1)} ignored: not a setting of the lab (${LAB_FIELD_KEYS.join(', ')})`);
  if (notices.length > MAX_NOTICES)
    notices.splice(MAX_NOTICES, notices.length, `and ${notices.length - MAX_NOTICES} more values ignored`);
  return { settings, page: { ...link.page, backend }, notices };
}

/**
 * The `seqlab compare` command that trains these runs: every setting the task uses, the page's
 * data sizes, one thread per gradient. On the cpu backend it logs the page's numbers.
 */
export function compareCommand(s: Readonly<LabSettings>, backend: string): string {
  const args: string[] = [];
  for (const f of LAB_FIELDS) {
    if (!f.tasks.includes(s.task)) continue;
    const v = f.format(s);
    if (v !== '') args.push(`--${f.key} ${v}`);
  }
  if (s.task === 'agreement')
    args.push(`--train-size ${LAB_DATA.agreementTrainSize}`, `--eval-size ${LAB_DATA.agreementTestSize}`);
  else args.push(`--eval-size ${LAB_DATA.syntheticEvalSize}`);
  const cli = backend === 'wasm' || backend === 'cpu' ? backend : 'cpu';
  return `npx seqlab compare ${args.join(' ')} --threads 1 --backend ${cli}`;
}
