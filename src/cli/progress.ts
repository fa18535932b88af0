/**
 * Progress on stderr: a redrawn bar on a TTY, plain lines otherwise (every 10 %
 * or every 15 s), so logs of scripted runs stay readable.
 */
export class ProgressReporter {
  private readonly started = performance.now();
  private lastLineAt = 0;
  private lastFraction = -1;
  private drawn = false;
  private firstDone: number | null = null; // a resumed run starts counting mid-way

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
    /** Show throughput in tokens/s (this many tokens per step) instead of steps/s. */
    private readonly tokensPerStep?: number,
  ) {}

  update(done: number, detail: string): void {
    if (!this.enabled) return;
    const now = performance.now();
    const fraction = Math.min(1, done / this.total);
    const elapsedS = (now - this.started) / 1000;
    this.firstDone ??= done - 1;
    const rate = (done - this.firstDone) / Math.max(elapsedS, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    const throughput = this.tokensPerStep
      ? `${Math.round(rate * this.tokensPerStep)} tokens/s`
      : `${rate.toFixed(1)} steps/s`;
    const speed = elapsedS > 0.5 ? ` ${throughput} ETA ${formatSeconds(eta)}` : '';
    const text = `${this.label} ${done}/${this.total} ${detail}${speed}`;
    if (this.stream.isTTY) {
      if (now - this.lastLineAt < 100 && done < this.total) return;
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      this.stream.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${text}\x1b[K`);
      this.drawn = true;
      this.lastLineAt = now;
    } else if (Math.floor(fraction * 10) > Math.floor(this.lastFraction * 10) || now - this.lastLineAt > 15000) {
      this.stream.write(`${(fraction * 100).toFixed(0)}% ${text}\n`);
      this.lastLineAt = now;
      this.lastFraction = fraction;
    }
  }

  /** Leave the bar's line before other output. */
  done(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const whole = Math.round(s); // round once, so 119.6 s reads 02:00, never 01:60
  const m = Math.floor(whole / 60);
  const sec = whole % 60;
  return `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
