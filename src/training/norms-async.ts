import { Worker } from 'node:worker_threads';
import { workerFile } from './parallel.js';

/**
 * Norms of the probe's Jacobians on a second thread (norm-worker.ts): the sweep hands
 * over each read-back chunk and goes on pulling back, so on two cores the spectral
 * norms (Lanczos in float64 JS) cost no wall time beyond the sweep's own.
 */
export interface NormRequest {
  id: number;
  first: boolean; // a new sweep: reset the warm starts
  data: Float32Array; // count × batch matrices R×C, row-major
  logScale: Float64Array; // count × batch
  count: number;
  batch: number;
  R: number;
  C: number;
}

export interface NormReply {
  id: number;
  fro: Float64Array;
  spec: Float64Array;
}

let shared: Worker | null = null;
let nextId = 0;
const waiting = new Map<number, { resolve: (r: NormReply) => void; reject: (e: Error) => void }>();

function worker(): Worker {
  if (!shared) {
    shared = new Worker(workerFile('norm-worker'));
    shared.on('message', (r: NormReply) => {
      waiting.get(r.id)?.resolve(r);
      waiting.delete(r.id);
      if (waiting.size === 0) shared?.unref();
    });
    shared.on('error', (e: Error) => {
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
      shared = null;
    });
    // referenced only while requests are out: an idle norm thread never keeps the process alive
    shared.unref();
  }
  return shared;
}

/** Whether a norm thread can run here (Node with worker_threads; not in the browser). */
export function normThreadAvailable(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Collects the matrices one sweep visits (in order) and sends them to the norm thread
 * `chunk` at a time; `results()` resolves with the norms per visited matrix.
 */
/**
 * Chunks sent to the norm thread and not yet answered, at most: when the thread is slower than
 * the sweep (spectral norms of wide Jacobians), the sweep waits instead of queueing every
 * Jacobian of the probe in memory (T · batch · R · C floats).
 */
export const NORM_CHUNKS_IN_FLIGHT = 2;

export class AsyncNorms {
  private readonly replies: Promise<NormReply>[] = [];
  private answered = 0;
  private ks: number[] = [];
  private data: Float32Array[] = [];
  private scales: Float64Array[] = [];
  private readonly order: number[][] = [];
  private first = true;

  constructor(
    private readonly batch: number,
    private readonly R: number,
    private readonly C: number,
    private readonly chunk = 32,
  ) {}

  /** The matrices of step k for every sequence ([batch, R, C], scaled down by exp(logScale)). */
  add(k: number, data: Float32Array, logScale: Float64Array): void {
    this.ks.push(k);
    this.data.push(data.slice());
    this.scales.push(logScale.slice());
    if (this.ks.length === this.chunk) this.send();
  }

  private send(): void {
    const count = this.ks.length;
    if (count === 0) return;
    const per = this.batch * this.R * this.C;
    const data = new Float32Array(count * per);
    const logScale = new Float64Array(count * this.batch);
    for (const [i, d] of this.data.entries()) data.set(d, i * per);
    for (const [i, s] of this.scales.entries()) logScale.set(s, i * this.batch);
    const req: NormRequest = {
      id: nextId++,
      first: this.first,
      data,
      logScale,
      count,
      batch: this.batch,
      R: this.R,
      C: this.C,
    };
    this.first = false;
    const reply = new Promise<NormReply>((resolve, reject) => {
      waiting.set(req.id, { resolve, reject });
      const w = worker();
      w.ref();
      w.postMessage(req, [data.buffer, logScale.buffer]);
    });
    reply.then(
      () => this.answered++,
      () => this.answered++,
    );
    this.replies.push(reply);
    this.order.push(this.ks);
    this.ks = [];
    this.data = [];
    this.scales = [];
  }

  /** Resolves once at most NORM_CHUNKS_IN_FLIGHT chunks wait for their norms (a failed one rejects here). */
  async throttle(): Promise<void> {
    while (this.replies.length - this.answered > NORM_CHUNKS_IN_FLIGHT)
      await this.replies[this.replies.length - NORM_CHUNKS_IN_FLIGHT - 1];
  }

  /** Per visited k: the Frobenius and spectral norm of every sequence. */
  async results(): Promise<Map<number, { fro: number[]; spec: number[] }>> {
    this.send();
    const out = new Map<number, { fro: number[]; spec: number[] }>();
    const replies = await Promise.all(this.replies);
    replies.forEach((r, j) => {
      this.order[j].forEach((k, i) => {
        const at = (a: Float64Array) => Array.from(a.subarray(i * this.batch, (i + 1) * this.batch));
        out.set(k, { fro: at(r.fro), spec: at(r.spec) });
      });
    });
    return out;
  }
}
