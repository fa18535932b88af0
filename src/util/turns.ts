import { Interrupted, type StopSignal, stopSignalOf } from './errors.js';

/**
 * Long work in one async function can run for minutes without giving the event loop a turn:
 * awaiting an already-settled promise (a wasm tensor's data) only runs microtasks, so a signal
 * handler (Ctrl-C), a timer or I/O waits until the work ends. `maybe()` yields one macrotask turn
 * when `everyMs` have passed since the last, so the cost stays negligible.
 */
export class EventLoopTurns {
  private last = performance.now();

  constructor(private readonly everyMs = 50) {}

  async maybe(): Promise<void> {
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    await new Promise<void>((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
    this.last = performance.now();
  }
}

/**
 * A place between pieces of long work where it may stop: now and then a turn of the event loop
 * (so Ctrl-C's handler runs and aborts `signal`), then, once `signal` is aborted, Interrupted with
 * the message `stopped(signal)` gives (it says where the work stopped and what was kept).
 */
export class StopPoint {
  private readonly turns = new EventLoopTurns();

  constructor(private readonly signal: AbortSignal | undefined) {}

  async check(stopped: (signal: StopSignal) => string): Promise<void> {
    if (!this.signal) return;
    await this.turns.maybe();
    if (!this.signal.aborted) return;
    const name = stopSignalOf(this.signal.reason);
    throw new Interrupted(name, stopped(name));
  }
}
