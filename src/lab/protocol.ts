import type { LogRecord } from '../runlog/schema.js';
import type { LabBackend } from '../compute/browser.js';
import type { WordReading } from './inspect.js';
import type { RunStatus, WhyStats } from './session.js';
import type { LabSettings } from './settings.js';

/**
 * The messages between the lab page and its training worker (worker.ts). The worker
 * owns tfjs, the session and the models; the page keeps a copy of each run's log,
 * grown by `runs` messages, and draws it. Requests that answer carry an id.
 */

/** A model to read a sentence with: a run of the current session, or a checkpoint loaded from a file. */
export type ModelRef = { run: string } | { file: string };

/** A SeqlabError or a bug, as it crosses the thread boundary. */
export interface ErrorInfo {
  message: string;
  /** The SeqlabError code, or null for a bug. */
  code: string | null;
}

export type ToWorker =
  | { type: 'init'; backend: LabBackend; wasmDir: string; lexiconUrl: string }
  | { type: 'start'; session: number; settings: LabSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  /** Stop training and free the session's models. */
  | { type: 'reset' }
  | { type: 'load-model'; id: number; name: string; checkpoint: unknown }
  | { type: 'inspect'; id: number; model: ModelRef; text: string };

/** One run's news since the last message: its new log records and where it is now. */
export interface RunUpdate {
  cell: string;
  step: number;
  status: RunStatus;
  error: string | null;
  why: WhyStats | null;
  records: LogRecord[];
}

export type FromWorker =
  | { type: 'ready'; backend: string; failed: string[] }
  | { type: 'init-failed'; error: ErrorInfo }
  | { type: 'runs'; session: number; updates: RunUpdate[] }
  /** Paused, and every run still training waits before its next step; all news sent before this. */
  | { type: 'held'; session: number }
  | { type: 'ended'; session: number; error: ErrorInfo | null }
  | { type: 'answer'; id: number; words?: WordReading[]; error?: ErrorInfo };
