import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { KERNEL_CHOICES, setKernels } from '../compute/kernel-choice.js';
import { CELL_KINDS, cellKindList } from '../models/registry.js';
import {
  BENCH_DEFAULTS,
  benchGradflowOverhead,
  benchProbe,
  benchTrainStep,
  checkBenchSize,
  type BenchResult,
} from '../commands/bench.js';
import { inputError, nonNegativeInt, oneOf, positiveInt } from '../util/errors.js';
import { threadCount } from './options.js';
import { noteBackend, printJson, startBackend, withCommon } from './common.js';
import { fmt, table } from '../util/format.js';

export function benchOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .option('cell', { type: 'string', default: BENCH_DEFAULTS.cell, describe: cellKindList() })
    .option('hidden', { type: 'number', default: BENCH_DEFAULTS.hidden, describe: 'hidden units (= embedding size)' })
    .option('vocab', { type: 'number', default: BENCH_DEFAULTS.vocab, describe: 'vocabulary size' })
    .option('batch', { type: 'number', default: BENCH_DEFAULTS.batch, describe: 'sequences per batch' })
    .option('bptt', { type: 'number', default: BENCH_DEFAULTS.bptt, describe: 'time steps per batch' })
    .option('steps', { type: 'number', default: BENCH_DEFAULTS.steps, describe: 'timed steps' })
    .option('warmup', { type: 'number', default: BENCH_DEFAULTS.warmup, describe: 'untimed steps first' })
    .option('probe', {
      type: 'boolean',
      default: true,
      describe: 'also time the probe (T = 1000, H = 128, all k), alone and with --spectrum',
    })
    .option('gradflow', {
      type: 'boolean',
      default: false,
      describe:
        'also measure the gradient-flow logging overhead in training ' +
        '(adding task, H 64, T 50, 300 steps: probes and spectra at their intervals, probes only, off; ~2 min)',
    })
    .option('torch', {
      type: 'string',
      default: process.env.SEQLAB_TORCH_BENCH,
      describe: 'PyTorch reference script to run beside (env SEQLAB_TORCH_BENCH)',
    })
    .option('python', {
      type: 'string',
      default: process.env.SEQLAB_PYTHON ?? 'python3',
      describe: 'Python interpreter for --torch',
    })
    .option('threads', {
      type: 'string',
      default: String(BENCH_DEFAULTS.threads),
      describe: 'seqlab threads per gradient: 1, 2 or auto (as train --threads)',
    })
    .option('kernels', {
      type: 'string',
      default: KERNEL_CHOICES[0],
      describe: 'wasm kernels: fused (the SIMD kernels) or composite (the tfjs ops they replace)',
    })
    .option('torch-threads', { type: 'string', default: '1,2', describe: 'PyTorch thread counts to run' })
    .option('tfjs-layers', {
      type: 'string',
      default: process.env.SEQLAB_TFJS_LAYERS_BENCH,
      describe: 'tf.layers reference script to run beside (env SEQLAB_TFJS_LAYERS_BENCH)',
    });
}

type BenchArgs = Awaited<ReturnType<typeof benchOptions>['argv']>;

/** Run a peer's benchmark script (one JSON line on stdout); null with a reason if it cannot run. */
function runPeer(command: string, args: string[]): { result: Record<string, unknown> | null; error?: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0)
    return { result: null, error: (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').at(-1) };
  try {
    return { result: JSON.parse(r.stdout.trim().split('\n').at(-1) as string) };
  } catch {
    return { result: null, error: 'no JSON on stdout' };
  }
}

const seconds = (ms: number, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;

export async function benchCommand(argv: BenchArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const cfg = {
    cell: oneOf('cell', a.cell, CELL_KINDS),
    hidden: positiveInt('--hidden', a.hidden),
    vocab: positiveInt('--vocab', a.vocab),
    batch: positiveInt('--batch', a.batch),
    bptt: positiveInt('--bptt', a.bptt),
    steps: positiveInt('--steps', a.steps),
    warmup: nonNegativeInt('--warmup', a.warmup),
    seed: Number(a.seed),
    threads: threadCount(a.threads),
    kernels: oneOf('kernels', a.kernels, KERNEL_CHOICES),
  };
  const threads = String(a['torch-threads'])
    .split(',')
    .map((t) => positiveInt('--torch-threads', t));
  for (const key of ['torch', 'tfjs-layers'] as const) {
    if (a[key] && !existsSync(String(a[key]))) throw inputError(`--${key} script not found: ${a[key]}`);
  }
  checkBenchSize(cfg, String(a.backend)); // sizes that cannot fit: one line, before any output
  const backend = await startBackend(String(a.backend));
  setKernels(cfg.kernels);
  noteBackend(backend, Boolean(a.quiet));
  const say = (s: string) => !a.quiet && process.stderr.write(`${s}\n`);
  const rows: Record<string, unknown>[] = [];
  const peers: Record<string, unknown>[] = [];
  const shape = [
    '--cell',
    cfg.cell,
    '--hidden',
    String(cfg.hidden),
    '--vocab',
    String(cfg.vocab),
    '--batch',
    String(cfg.batch),
    '--length',
    String(cfg.bptt),
    '--steps',
    String(cfg.steps),
  ];
  // interleave: seqlab, then each peer, so machine load hits all alike
  const shapeText = `${cfg.cell} H${cfg.hidden} V${cfg.vocab} B${cfg.batch} T${cfg.bptt}`;
  say(`bench: seqlab ${shapeText} (threads ${cfg.threads}, kernels ${cfg.kernels})`);
  const ours: BenchResult = await benchTrainStep(cfg);
  rows.push({ ...ours });
  if (a.torch) {
    for (const t of threads) {
      say(`bench: PyTorch --threads ${t}`);
      const r = runPeer(String(a.python), [String(a.torch), ...shape, '--threads', String(t)]);
      peers.push({ ...(r.result ?? { error: r.error }), impl: `pytorch t${t}` });
    }
  }
  if (a['tfjs-layers']) {
    say('bench: tf.layers (wasm)');
    const r = runPeer(process.execPath, [String(a['tfjs-layers']), ...shape, '--backend', 'wasm']);
    peers.push({ ...(r.result ?? { error: r.error }), impl: 'tf.layers wasm' });
  }
  const probe = a.probe ? await benchProbe(cfg.cell, 128, 1000, cfg.seed) : null;
  if (a.gradflow) say('bench: gradient-flow logging overhead (adding task, probes on vs off)');
  const gradflow = a.gradflow ? await benchGradflowOverhead({ cell: cfg.cell }, backend) : null;
  const ratios = peers
    .filter((p) => typeof p.tokensPerSec === 'number')
    .map((p) => ({ vs: p.impl as string, ratio: +(ours.tokensPerSec / (p.tokensPerSec as number)).toFixed(2) }));
  const out = { backend, config: cfg, seqlab: ours, peers, ratios, probe, gradflow };
  if (a.json) {
    printJson(out);
    return;
  }
  const all = [ours as unknown as Record<string, unknown>, ...peers];
  process.stdout.write(
    `${[
      `LM training step: embedding → ${cfg.cell}(${cfg.hidden}) → linear(${cfg.vocab}) → softmax xent → backward → ` +
        `clip 5 → SGD; batch ${cfg.batch} × ${cfg.bptt} steps`,
      table(
        ['impl', 'ms/batch', 'tokens/s', 'seqlab ×'],
        all.map((r) => [
          String(r.impl),
          r.msPerBatch === undefined ? `error: ${r.error}` : fmt(r.msPerBatch as number),
          r.tokensPerSec === undefined ? '-' : String(r.tokensPerSec),
          r === all[0]
            ? '1'
            : typeof r.tokensPerSec === 'number'
              ? fmt(ours.tokensPerSec / (r.tokensPerSec as number), 3)
              : '-',
        ]),
      ),
      `memory over ${cfg.steps} steps: RSS ${ours.memory.rssMiB[0]} → ${ours.memory.rssMiB.at(-1)} MiB ` +
        `(peak ${ours.memory.peakRssMiB} MiB), live tensors ${ours.memory.tensors[0]} → ${ours.memory.tensors.at(-1)}`,
      gradflow
        ? `gradient-flow logging every ${gradflow.gradflowEvery} steps, spectra every ${gradflow.spectrumEvery} ` +
          `(adding, ${gradflow.cell} H${gradflow.hidden} T${gradflow.seqLen}, ${gradflow.steps} steps): ` +
          `${(gradflow.withProbesMs / 1000).toFixed(1)} s vs ` +
          `${(gradflow.withoutProbesMs / 1000).toFixed(1)} s without ` +
          `(${gradflow.overheadPercent >= 0 ? '+' : ''}${gradflow.overheadPercent} %; ` +
          `probes' own share ${gradflow.probeSharePercent} %, ` +
          `of which the spectra ${gradflow.spectraSharePercent} %; ` +
          `CPU ${seconds(gradflow.withProbesCpuMs, 1)} vs ${seconds(gradflow.withoutProbesCpuMs, 1)})`
        : '',
      probe
        ? `probe: ${probe.cell} H${probe.hidden} T${probe.T}, all k, spectral + Frobenius: ` +
          `${(probe.ms / 1000).toFixed(2)} s, CPU ${(probe.cpuMs / 1000).toFixed(2)} s ` +
          `(the first probe in the process: ${(probe.firstMs / 1000).toFixed(2)} s); ` +
          `with --spectrum: ${(probe.spectrum.ms / 1000).toFixed(2)} s, ` +
          `CPU ${(probe.spectrum.cpuMs / 1000).toFixed(2)} s (first ${(probe.spectrum.firstMs / 1000).toFixed(2)} s)`
        : '',
    ]
      .filter(Boolean)
      .join('\n')}\n`,
  );
}
