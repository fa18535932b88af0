import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CompareRow, seedAggregates } from '../../src/commands/compare.js';
import type { GradflowRecord, LogRecord, SpectrumRecord } from '../../src/runlog/schema.js';

/**
 * Small run directories written by hand in the format the trainer logs
 * (typed by src/runlog/schema.ts), so the report tests need no training. The numbers
 * are made up but shaped like real ones: norms that decay geometrically with the gap.
 */
export interface FixtureRun {
  cell: string;
  /** Per-step decay factor of the Jacobian norm. */
  rate: number;
  task?: string;
  seqLen?: number;
  /** Add an MLP-style `deltas` record series. */
  deltas?: boolean;
  /** One of several seeds of a comparison (writeCompare names the run <cell>-seed<seed>). */
  seed?: number;
}

const T = 6;

export function writeRun(dir: string, run: FixtureRun): void {
  mkdirSync(dir, { recursive: true });
  const task = run.task ?? 'agreement';
  const seqLen = run.seqLen ?? T;
  const config = {
    backend: 'wasm',
    task: { task },
    taskName: task,
    model: { cell: run.cell, hiddenSize: 4, outputSize: 2 },
    train: { steps: 20 },
    params: 100,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const lines: LogRecord[] = [{ type: 'start', backend: 'wasm', params: 100 }];
  const gradflow = (step: number, rate: number): GradflowRecord => ({
    type: 'gradflow',
    step,
    layer: 0,
    mode: run.cell === 'lstm' ? 'state' : 'h',
    T: seqLen,
    batch: 2,
    gap: Array.from({ length: seqLen }, (_, i) => i + 1),
    spectral: Array.from({ length: seqLen }, (_, i) => rate ** (i + 1)),
    frobenius: Array.from({ length: seqLen }, (_, i) => 2 * rate ** (i + 1)),
    summary: {
      spectral: { decayPerStep: -Math.log(rate), horizon: null },
      frobenius: { decayPerStep: -Math.log(rate), horizon: null },
    },
    lossGrad: Array.from({ length: seqLen + 1 }, (_, k) => 0.1 * rate ** (seqLen - k)),
  });
  // σ_i = c_i·rate^gap at every gap (c = 1, 1/2, 1/4, 1/8), λ_i = ln rate + ln c_i / 10
  const spectrum = (step: number, rate: number): SpectrumRecord => {
    const c = [1, 0.5, 0.25, 0.125];
    const gap = Array.from({ length: seqLen }, (_, i) => i + 1);
    const lyapunov = [...c, ...(run.cell === 'lstm' ? c.map((x) => x / 16) : [])].map(
      (x) => Math.log(rate) + Math.log(x) / 10,
    );
    return {
      type: 'spectrum',
      ...{ step, layer: 0, mode: 'h', T: seqLen, batch: 2, size: 4, horizonThreshold: 1e-3, gap },
      logSigma: gap.map((g) => c.map((x) => Math.log(x) + g * Math.log(rate))),
      count: gap.map((g) => c.filter((x) => x * rate ** g >= 1e-3).length),
      participationRatio: gap.map(() => 1.8),
      lyapunov,
      lyapunovSize: lyapunov.length,
      burnIn: 0,
      kaplanYorke: 0,
      kaplanYorkeIsLowerBound: false,
      decayPerStep: -Math.log(rate),
    };
  };
  lines.push(gradflow(0, run.rate / 2), spectrum(0, run.rate / 2));
  for (let step = 1; step <= 20; step++) lines.push({ type: 'step', step, loss: 1 / step, gradNorm: 0.5, lr: 0.01 });
  const metrics = (step: number) => {
    const acc = (d: number) => Math.min(1, 0.5 + step / 40 - d / 100);
    return {
      accuracy: 0.5 + step / 50,
      loss: 1 / step,
      'accuracy@d=2': acc(2),
      'accuracy@d=8': acc(8),
      'n@d=2': 200,
      'n@d=8': 200,
      'accuracy@a=0': 0.7,
      'accuracy@a=1': 0.6,
      'n@a=0': 240,
      'n@a=1': 160,
    };
  };
  for (const step of [10, 20]) lines.push({ type: 'eval', step, loss: 1 / step, metrics: metrics(step) });
  lines.push(gradflow(20, run.rate), spectrum(20, run.rate));
  if (run.deltas) {
    // as the MLP trainer logs them: once before training and after each epoch, on a fixed probe set
    for (const epoch of [0, 1, 2])
      lines.push({
        type: 'deltas',
        step: epoch * 10,
        epoch,
        kind: 'probe',
        examples: 100,
        deltaNorms: [0.001 * (epoch + 1), 0.01 * (epoch + 1), 0.1],
      });
  }
  lines.push({
    type: 'pairs',
    step: 20,
    layer: 0,
    mode: 'h',
    T: seqLen,
    norm: 'frobenius',
    pairs: Array.from({ length: seqLen }, (_, t) => Array.from({ length: t + 1 }, (_, k) => run.rate ** (t + 1 - k))),
  });
  lines.push({ type: 'checkpoint', step: 20, file: 'checkpoint.json' });
  lines.push({ type: 'end', step: 20, status: 'completed', elapsedMs: 100, stepsPerSec: 200, gradflowMs: 1 });
  writeFileSync(join(dir, 'log.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  writeFileSync(
    join(dir, 'metrics.json'),
    JSON.stringify({
      task,
      cell: run.cell,
      backend: 'wasm',
      status: 'completed',
      steps: 20,
      params: 100,
      eval: { step: 20, loss: 0.05, metrics: metrics(20) },
    }),
  );
}

/** A comparison directory: compare.json and one run per cell (and per length, and per seed, when several). */
export function writeCompare(dir: string, runs: FixtureRun[], task = 'agreement'): void {
  const sweep = new Set(runs.map((r) => r.seqLen)).size > 1;
  const seeds = [...new Set(runs.map((r) => r.seed ?? 1))];
  const rows = runs.map((r) => {
    const base = sweep ? `${r.cell}-T${r.seqLen}` : r.cell;
    const name = seeds.length > 1 ? `${base}-seed${r.seed}` : base;
    writeRun(join(dir, name), { ...r, task });
    const mse = 0.01 * (r.seqLen ?? T) * (r.cell === 'rnn' ? 2 : 1) * r.rate;
    return {
      cell: r.cell,
      seqLen: r.seqLen ?? null,
      seed: r.seed ?? 1,
      hiddenSize: 4,
      params: 100,
      status: 'completed',
      steps: 20,
      evalLoss: 0.05,
      metrics: task === 'adding' ? { mse, baselineMse: 0.1667 } : { accuracy: 0.9 },
      runDir: join(dir, name),
    };
  });
  // over several seeds, the aggregates compareRun adds
  const aggregates = seeds.length > 1 ? seedAggregates(rows as unknown as CompareRow[], false) : null;
  writeFileSync(
    join(dir, 'compare.json'),
    JSON.stringify({ backend: 'wasm', task, seeds, rows, aggregates, outDir: dir }),
  );
}
