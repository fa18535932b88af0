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
