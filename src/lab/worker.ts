import { setLabBackend } from '../compute/browser.js';
import { provideShippedLexicon } from '../tasks/agreement/lexicon.js';
import { LabCore, errorInfo } from './core.js';
import type { FromWorker, RunUpdate, ToWorker } from './protocol.js';
import type { CellRun } from './session.js';

/**
 * The lab's training worker (a module worker the page starts; bundled beside the page by
 * site.ts). tfjs, the tasks and the models live here, so a training step never holds up
 * the page: the page sends commands (protocol.ts) and draws the records sent back.
 */

/** What the page hears about: at most one `runs` message per FLUSH_MS while training. */
const FLUSH_MS = 250;

const scope = self as unknown as {
  postMessage: (message: FromWorker) => void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
};
const post = (message: FromWorker) => scope.postMessage(message);
const core = new LabCore();

/** A macrotask yield: messages (Pause, Reset) get through between steps. No 4 ms clamp, unlike nested setTimeout. */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

/** The records each run has already sent, and the runs with news. */
let sessionId = -1;
const sent = new Map<CellRun, number>();
const dirty = new Set<CellRun>();
let lastFlush = 0;
let flushTimer: ReturnType<typeof setTimeout> | null = null;

function flush(): void {
  if (flushTimer !== null) clearTimeout(flushTimer);
  flushTimer = null;
  lastFlush = performance.now();
  if (dirty.size === 0) return;
  const updates: RunUpdate[] = [...dirty].map((run) => {
    const from = sent.get(run) ?? 0;
    sent.set(run, run.records.length);
    return {
      cell: run.cell,
      step: run.step,
      status: run.status,
      error: run.error,
      why: run.why,
      records: run.records.slice(from),
    };
  });
  dirty.clear();
  post({ type: 'runs', session: sessionId, updates });
}

function onUpdate(run: CellRun): void {
  dirty.add(run);
  // a finished, stopped or failed run is news at once; steps are batched
  if (run.status !== 'running' || performance.now() - lastFlush >= FLUSH_MS) flush();
  else flushTimer ??= setTimeout(flush, FLUSH_MS);
}

async function start(session: number, message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  flush();
  sessionId = session;
  sent.clear();
  let error = null;
  try {
    // a replaced session's last news (its runs stopping) is not this one's
    await core.start(message.settings, {
      yieldNow,
      onUpdate: (run) => sessionId === session && onUpdate(run),
      onHeld: () => {
        if (sessionId !== session) return;
        flush();
        post({ type: 'held', session });
      },
    });
  } catch (e) {
    error = errorInfo(e);
  }
  if (sessionId !== session) return; // replaced meanwhile
  flush();
  post({ type: 'ended', session, error });
}

async function init(message: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  try {
    const response = await fetch(message.lexiconUrl);
    if (!response.ok) throw new Error(`${message.lexiconUrl}: HTTP ${response.status}`);
    provideShippedLexicon(await response.json());
    const { backend, failed } = await setLabBackend(message.backend, message.wasmDir);
    post({ type: 'ready', backend, failed });
  } catch (e) {
    post({ type: 'init-failed', error: errorInfo(e) });
  }
}

scope.onmessage = (ev) => {
  const m = ev.data;
  switch (m.type) {
    case 'init':
      void init(m);
      break;
    case 'start':
      void start(m.session, m);
      break;
    case 'pause':
      core.pause();
      break;
    case 'resume':
      core.resume();
      break;
    case 'reset':
      sessionId = -1;
      dirty.clear();
      core.reset();
      break;
    case 'load-model':
      try {
        core.loadModel(m.name, m.checkpoint);
        post({ type: 'answer', id: m.id });
      } catch (e) {
        post({ type: 'answer', id: m.id, error: errorInfo(e) });
      }
      break;
    case 'inspect':
      core.inspect(m.model, m.text).then(
        (words) => post({ type: 'answer', id: m.id, words }),
        (e) => post({ type: 'answer', id: m.id, error: errorInfo(e) }),
      );
      break;
  }
};
