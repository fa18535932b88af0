import type { Vocabulary } from '../data/vocab.js';
import type { SequenceModel } from '../models/model.js';
import { agreementVocabulary, type AgreementTask } from '../tasks/agreement/task.js';
import { loadLexicon } from '../tasks/agreement/lexicon.js';
import { checkpointModel } from '../training/checkpoint.js';
import type { JacobianMode } from '../training/gradflow.js';
import { SeqlabError, usageError } from '../util/errors.js';
import { readSentence, type WordReading } from './inspect.js';
import type { ErrorInfo, ModelRef } from './protocol.js';
import { LabSession, type SessionHooks } from './session.js';
import type { LabSettings } from './settings.js';

/**
 * Where the lab's tfjs work happens, on whichever thread runs it (the worker, or the page
 * when no worker can): one training session at a time, the checkpoints loaded from files,
 * and "inspect a sentence" on either.
 */
export class LabCore {
  private session: LabSession | null = null;
  private readonly loaded = new Map<string, SequenceModel>();

  get current(): LabSession | null {
    return this.session;
  }

  /**
   * Replace the session by a new one and train it; resolves when every run has ended. A
   * setting the task refuses throws (a SeqlabError) before anything trains.
   */
  start(settings: Readonly<LabSettings>, hooks: SessionHooks): Promise<void> {
    this.reset();
    this.session = new LabSession(settings, hooks);
    return this.session.start();
  }

  pause(): void {
    this.session?.pause();
  }

  resume(): void {
    this.session?.resume();
  }

  /** Stop training and free the session's models. */
  reset(): void {
    this.session?.dispose();
    this.session = null;
  }

  /** A checkpoint.json's model, kept under `name` for inspect(). */
  loadModel(name: string, checkpoint: unknown): void {
    const { model } = checkpointModel(checkpoint as Record<string, unknown>, `${name}/checkpoint.json`);
    this.loaded.get(name)?.dispose();
    this.loaded.set(name, model);
  }

  async inspect(ref: ModelRef, text: string): Promise<WordReading[]> {
    let model: SequenceModel | undefined;
    let vocab: Vocabulary;
    let mode: JacobianMode = 'h';
    if ('run' in ref) {
      const session = this.session;
      const run = session?.runs.find((r) => r.cell === ref.run);
      if (!session || !run || session.settings.task !== 'agreement')
        throw usageError('no model to read with: train on the agreement task (or load a checkpoint.json) first');
      model = run.model;
      vocab = (run.task as AgreementTask).vocab;
      mode = session.settings.gradflowMode;
    } else {
      model = this.loaded.get(ref.file);
      vocab = agreementVocabulary(loadLexicon());
    }
    if (!model)
      throw usageError('no model to read with: train on the agreement task (or load a checkpoint.json) first');
    return readSentence(model, vocab, text, mode);
  }
}

/** An error as data, to cross a thread boundary. */
export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof SeqlabError) return { message: e.message, code: e.code };
  return { message: (e as Error)?.message ?? String(e), code: null };
}
