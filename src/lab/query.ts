import { LAB_BACKENDS, type LabBackend } from '../compute/browser.js';
import { CELL_KINDS, type CellKind } from '../models/registry.js';
import { SeqlabError } from '../util/errors.js';
import { LAB_DEFAULTS, type LabSettings, checkSettings } from './session.js';

/**
 * The lab page's URL query (?hidden=8&steps=40&cells=rnn,lstm&backend=cpu: links that preset the
 * form, and the browser test) read into settings. A value the form would refuse never breaks the
 * page: it is dropped, its setting keeps the default, and a notice says so, to be shown on the page.
 */
export interface LabQuery {
  /** The defaults with every usable value of the query over them (checkSettings passes). */
  settings: LabSettings;
  backend: LabBackend;
  /** One line per value dropped, for the page to show. */
  notices: string[];
}

/**
 * The query with every part that does not decode (a stray "%", half a UTF-8 sequence) made
 * literal ("%" → "%25"), or null when all of it decodes. tfjs-core decodes location.search for its
 * debug flags when it loads, and a part that does not decode throws there and breaks the page: the
 * server redirects to the repaired query (site.ts), and index.html repairs it the same way before
 * the bundle loads (REPAIR_QUERY_SCRIPT) for a static host.
 */
export function repairQuery(search: string): string | null {
  const body = search.startsWith('?') ? search.slice(1) : search;
  let changed = false;
  const parts = body.split('&').map((part) => {
    try {
      decodeURIComponent(part);
      return part;
    } catch {
      changed = true;
      return part.replace(/%/g, '%25');
    }
  });
  return changed ? `?${parts.join('&')}` : null;
}

/** repairQuery for index.html, as a classic script that runs before the module bundle. */
export const REPAIR_QUERY_SCRIPT =
  "(function(){var s=location.search.slice(1),c=false;var p=s.split('&').map(function(x){" +
  "try{decodeURIComponent(x);return x}catch(e){c=true;return x.replace(/%/g,'%25')}});" +
  "if(c)history.replaceState(null,'',location.pathname+'?'+p.join('&')+location.hash)})();";

/** Query keys (the form's element ids) and the setting each presets. */
const KEYS = {
  task: 'task',
  cells: 'cells',
  hidden: 'hiddenSize',
  length: 'length',
  init: 'init',
  clip: 'clipNorm',
  lr: 'lr',
  seed: 'seed',
  steps: 'steps',
  batch: 'batchSize',
  every: 'gradflowEvery',
  mode: 'gradflowMode',
} as const satisfies Record<string, keyof LabSettings>;

type Key = keyof typeof KEYS;

/** A query value as the setting's type: numbers for the numeric fields, lists for cells, null for "no clipping". */
function parsedValue(key: Key, raw: string): unknown {
  const text = raw.trim();
  switch (key) {
    case 'task':
    case 'init':
    case 'mode':
      return text;
    case 'cells':
      return text === '' ? [] : text.split(',').map((c) => c.trim());
    case 'clip':
      return text === '' || text === 'off' ? null : Number(text);
    default:
      return text === '' ? Number.NaN : Number(text);
  }
}

/** The changes one query value makes (the form's "every" sets both the probe and the evaluation interval). */
function change(key: Key, value: unknown): Partial<LabSettings> {
  const n = value as number;
  return key === 'every' ? { gradflowEvery: n, evalEvery: n } : ({ [KEYS[key]]: value } as Partial<LabSettings>);
}

const shown = (raw: string) => JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);

/** Read `search` (location.search, with or without "?"); never throws. */
export function parseLabQuery(search: string): LabQuery {
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(search);
  } catch {
    params = new URLSearchParams();
  }
  const notices: string[] = [];
  let settings: LabSettings = { ...LAB_DEFAULTS, cells: [...LAB_DEFAULTS.cells] };
  let backend: LabBackend = 'auto';
  const seen = new Set<string>();
  for (const [key, raw] of params) {
    if (seen.has(key)) {
      notices.push(`?${key} is given twice; the first value counts`);
      continue;
    }
    seen.add(key);
    if (key === 'backend') {
      if ((LAB_BACKENDS as readonly string[]).includes(raw)) backend = raw as LabBackend;
      else notices.push(`?backend=${shown(raw)} ignored: use ${LAB_BACKENDS.join(', ')}; using auto`);
      continue;
    }
    if (!Object.hasOwn(KEYS, key)) {
      notices.push(`?${shown(key).slice(1, -1)} ignored: not a setting of the lab (${Object.keys(KEYS).join(', ')})`);
      continue;
    }
    const k = key as Key;
    const value = parsedValue(k, raw);
    // each value on its own over what was accepted so far, so one bad value costs only itself
    const next = { ...settings, ...change(k, value) } as LabSettings;
    try {
      checkSettings(next);
      settings = next;
    } catch (e) {
      if (!(e instanceof SeqlabError)) throw e;
      notices.push(`?${k}=${shown(raw)} ignored (${e.message}); using ${String(settingShown(settings, k))}`);
    }
  }
  const MAX_NOTICES = 5;
  if (notices.length > MAX_NOTICES)
    notices.splice(MAX_NOTICES, notices.length, `and ${notices.length - MAX_NOTICES} more values ignored`);
  return { settings, backend, notices };
}

function settingShown(s: LabSettings, key: Key): string {
  const v = s[KEYS[key]];
  if (key === 'clip' && v === null) return 'off';
  return Array.isArray(v) ? (v as CellKind[]).join(',') : String(v);
}

/** The cells the query's settings check, in the registry's order (the form's check boxes). */
export function checkedCells(settings: LabSettings): Record<CellKind, boolean> {
  return Object.fromEntries(CELL_KINDS.map((c) => [c, settings.cells.includes(c)])) as Record<CellKind, boolean>;
}
