import seedrandom from 'seedrandom';

/**
 * The one source of randomness: a seeded generator (seedrandom's alea) passed
 * explicitly to whatever needs it. Same seed, same stream, on every backend.
 */
export interface RngState {
  seed: string;
  state: unknown;
  spare: number | null;
}

export class Rng {
  private readonly prng: seedrandom.PRNG;
  private spare: number | null = null;

  constructor(
    readonly seed: number | string,
    saved?: RngState,
  ) {
    // state: true lets a run's data stream be saved in a checkpoint and resumed exactly
    this.prng = saved
      ? seedrandom.alea('', { state: saved.state as never })
      : seedrandom.alea(String(seed), { state: true });
    if (saved) this.spare = saved.spare;
  }

  /** The generator's exact position, for checkpoints. */
  snapshot(): RngState {
    return {
      seed: String(this.seed),
      state: (this.prng as unknown as { state(): unknown }).state(),
      spare: this.spare,
    };
  }

  static restore(saved: RngState): Rng {
    return new Rng(saved.seed, saved);
  }

  /** U[0, 1). */
  uniform(): number {
    return this.prng();
  }

  /** U[lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.prng();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  /** Standard normal (Box–Muller, the second draw kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.prng();
    const v = this.prng();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A new independent stream derived from this seed and a label. */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }
}
