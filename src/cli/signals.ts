import { SIGNAL_EXIT_CODES, type StopSignal } from '../util/errors.js';

/**
 * Ctrl-C (SIGINT) and SIGTERM during long work. The first asks the work to stop cleanly: `signal`
 * aborts with the signal's name as its reason, and the command finishes its step, saves what it
 * can and says how to go on. The second exits at once with 128 + the signal's number. Every file
 * seqlab writes is written whole by one synchronous call (util/files.ts), and a signal handler
 * runs only between such calls, so exiting here never leaves a partial file.
 */
/** Off a progress bar's line first (a TTY redraws one in place). */
const lead = () => (process.stderr.isTTY ? '\n' : '');

export class StopRequests {
  private readonly controller = new AbortController();
  private readonly handlers: [StopSignal, () => void][];

  /** `onFirst` says on stderr what the stop will do; `onSecond` what an immediate exit leaves behind. */
  constructor(onFirst: (signal: StopSignal) => string, onSecond: (signal: StopSignal) => string) {
    this.handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => [
      name,
      () => {
        if (!this.controller.signal.aborted) {
          process.stderr.write(`${lead()}seqlab: ${onFirst(name)}\n`);
          this.controller.abort(name);
          return;
        }
        process.stderr.write(`${lead()}seqlab: ${onSecond(name)}\n`);
        process.exit(SIGNAL_EXIT_CODES[name]);
      },
    ]);
    for (const [name, handler] of this.handlers) process.on(name, handler);
  }

  /** Aborted on the first signal; its reason is the signal's name. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal that asked to stop, if one did. */
  get received(): StopSignal | null {
    return this.controller.signal.aborted ? (this.controller.signal.reason as StopSignal) : null;
  }

  /** Back to Node's defaults (a signal then ends the process). */
  dispose(): void {
    for (const [name, handler] of this.handlers) process.removeListener(name, handler);
  }
}
