import { setLabBackend, type LabBackend } from '../compute/browser.js';
import { provideShippedLexicon } from '../tasks/agreement/lexicon.js';
import { SeqlabError, type ErrorCode } from '../util/errors.js';
import { LabCore } from './core.js';
import type { WordReading } from './inspect.js';
import type { ErrorInfo, FromWorker, ModelRef, ToWorker } from './protocol.js';
import type { CellRunState } from './session.js';
import { type LabSettings, labTrainConfig } from './settings.js';

/**
 * The page's handle on training, wherever it runs: in a Web Worker (WorkerEngine; the
 * page's thread only draws), or on the page's own thread where no worker can train
 * (PageEngine: the cells then step between the page's tasks, each step one task).
 * createEngine tries the worker first and falls back, saying why.
 */

/** One training session as the page sees it. */
export interface LabTraining {
  readonly settings: Readonly<LabSettings>;
  readonly runs: readonly CellRunState[];
  readonly isPaused: boolean;
  /** Paused, and every run still training has stopped before its next step (the numbers stay until resume). */
  readonly isHeld: boolean;
  /** Resolves when every run has ended; rejects (a SeqlabError for a user's mistake) if the session could not start. */
  readonly done: Promise<void>;
  pause(): void;
  resume(): void;
}

export interface LabEngine {
  /** Where training runs. */
  readonly where: 'worker' | 'page';
  /** The tfjs backend training runs on. */
  readonly backend: string;
  /** Why not the worker, or not another backend (empty when everything worked). */
  readonly notes: readonly string[];
  /** Train `settings` (already checked), replacing the current session; onUpdate after every change. */
  start(settings: Readonly<LabSettings>, onUpdate: () => void): LabTraining;
  /** Stop training and free the session's models. */
  reset(): void;
  loadModel(name: string, checkpoint: unknown): Promise<void>;
  inspect(model: ModelRef, text: string): Promise<WordReading[]>;
}

export interface EngineOptions {
  backend: LabBackend;
  /** Try a Web Worker first. */
  worker: boolean;
  workerUrl: URL;
  wasmDir: string;
  lexiconUrl: string;
}

/** An error back from the worker: a SeqlabError again when it was one. */
export function fromErrorInfo(e: ErrorInfo): Error {
  return e.code === null ? new Error(e.message) : new SeqlabError(e.code as ErrorCode, e.message);
}

/** The worker if it starts and gets a backend; else the page's own thread. */
export async function createEngine(o: EngineOptions): Promise<LabEngine> {
  const notes: string[] = [];
  if (!o.worker) notes.push('worker: off in this link (worker=0)');
  else if (typeof Worker === 'undefined') notes.push('worker: this browser has no Web Workers');
  else {
    try {
      return await WorkerEngine.create(o);
    } catch (e) {
      notes.push(`worker: ${(e as Error).message}`);
    }
  }
  return PageEngine.create(o, notes);
}

// ---------------------------------------------------------------- in a worker

class WorkerEngine implements LabEngine {
  readonly where = 'worker';
  private session = 0;
  private training: {
    runs: CellRunState[];
    onUpdate: () => void;
    onHeld: () => void;
    end: (error: ErrorInfo | null) => void;
  } | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, (m: Extract<FromWorker, { type: 'answer' }>) => void>();

  private constructor(
    private readonly worker: Worker,
    readonly backend: string,
    readonly notes: readonly string[],
  ) {
    worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
  }

  /** Start the worker and its backend; rejects if the worker cannot load or finds no backend. */
  static create(o: EngineOptions): Promise<WorkerEngine> {
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(o.workerUrl, { type: 'module' });
      } catch (e) {
        reject(e);
        return;
      }
      const fail = (message: string) => {
        worker.terminate();
        reject(new Error(message));
      };
      worker.onerror = (ev) => {
        ev.preventDefault();
        fail(ev.message || 'the worker script did not load');
      };
      worker.onmessage = (ev: MessageEvent<FromWorker>) => {
        const m = ev.data;
        if (m.type === 'ready') {
          worker.onerror = null;
          resolve(new WorkerEngine(worker, m.backend, m.failed));
        } else if (m.type === 'init-failed') fail(m.error.message);
      };
      const init: ToWorker = {
        type: 'init',
        backend: o.backend,
        wasmDir: o.wasmDir,
        lexiconUrl: o.lexiconUrl,
      };
      worker.postMessage(init);
    });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private receive(m: FromWorker): void {
    if (m.type === 'answer') {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
      return;
    }
    const t = this.training;
    if (!t || !('session' in m) || m.session !== this.session) return; // a replaced session's news
    if (m.type === 'runs') {
      for (const u of m.updates) {
        const run = t.runs.find((r) => r.cell === u.cell);
        if (!run) continue;
        run.records.push(...u.records);
        run.step = u.step;
        run.status = u.status;
        run.error = u.error;
        run.why = u.why;
      }
      t.onUpdate();
    } else if (m.type === 'held') t.onHeld();
    else if (m.type === 'ended') t.end(m.error);
  }

  start(settings: Readonly<LabSettings>, onUpdate: () => void): LabTraining {
    const session = ++this.session;
    const runs: CellRunState[] = settings.cells.map((cell) => ({
      cell,
      config: labTrainConfig(settings, cell),
      step: 0,
      records: [],
      why: null,
      status: 'idle',
      error: null,
    }));
    let end: (error: ErrorInfo | null) => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      end = (error) => (error ? reject(fromErrorInfo(error)) : resolve());
    });
    let paused = false;
    let held = false;
    const onHeld = () => {
      held = paused;
      onUpdate();
    };
    this.training = { runs, onUpdate, onHeld, end };
    this.send({ type: 'start', session, settings: { ...settings } });
    const send = (m: ToWorker) => {
      if (this.session === session) this.send(m);
    };
    return {
      settings,
      runs,
      done,
      get isPaused() {
        return paused;
      },
      get isHeld() {
        return held;
      },
      pause: () => {
        paused = true;
        send({ type: 'pause' });
      },
      resume: () => {
        paused = false;
        held = false;
        send({ type: 'resume' });
      },
    };
  }

  reset(): void {
    this.session++;
    this.training?.end(null);
    this.training = null;
    this.send({ type: 'reset' });
  }

  private request(m: ToWorker & { id: number }): Promise<Extract<FromWorker, { type: 'answer' }>> {
    return new Promise((resolve) => {
      this.pending.set(m.id, resolve);
      this.send(m);
    });
  }

  async loadModel(name: string, checkpoint: unknown): Promise<void> {
    const a = await this.request({ type: 'load-model', id: this.nextId++, name, checkpoint });
    if (a.error) throw fromErrorInfo(a.error);
  }

  async inspect(model: ModelRef, text: string): Promise<WordReading[]> {
    const a = await this.request({ type: 'inspect', id: this.nextId++, model, text });
    if (a.error) throw fromErrorInfo(a.error);
    return a.words ?? [];
  }
}

// ---------------------------------------------------------------- on the page's thread

/** A macrotask yield (MessageChannel: no 4 ms clamp like nested setTimeout), so clicks and paints get through. */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

class PageEngine implements LabEngine {
  readonly where = 'page';
  private readonly core = new LabCore();

  private constructor(
    readonly backend: string,
    readonly notes: readonly string[],
  ) {}

  static async create(o: EngineOptions, notes: string[]): Promise<PageEngine> {
    const response = await fetch(o.lexiconUrl);
    if (!response.ok) throw new Error(`${o.lexiconUrl}: HTTP ${response.status}`);
    provideShippedLexicon(await response.json());
    const { backend, failed } = await setLabBackend(o.backend, o.wasmDir);
    return new PageEngine(backend, [...notes, ...failed]);
  }

  start(settings: Readonly<LabSettings>, onUpdate: () => void): LabTraining {
    let done: Promise<void>;
    let held = false;
    const onHeld = () => {
      held = session?.isPaused ?? false;
      onUpdate();
    };
    try {
      done = this.core.start(settings, { yieldNow, onUpdate, onHeld });
    } catch (e) {
      done = Promise.reject(e);
    }
    const session = this.core.current;
    return {
      settings,
      runs: session?.runs ?? [],
      done,
      get isPaused() {
        return session?.isPaused ?? false;
      },
      get isHeld() {
        return held;
      },
      pause: () => session?.pause(),
      resume: () => {
        held = false;
        session?.resume();
      },
    };
  }

  reset(): void {
    this.core.reset();
  }

  async loadModel(name: string, checkpoint: unknown): Promise<void> {
    this.core.loadModel(name, checkpoint);
  }

  inspect(model: ModelRef, text: string): Promise<WordReading[]> {
    return this.core.inspect(model, text);
  }
}
