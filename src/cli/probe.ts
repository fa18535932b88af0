import type { Argv } from 'yargs';
import { CELL_KINDS, cellKindList } from '../models/registry.js';
import { MODEL_DEFAULTS } from '../models/model.js';
import { INITS } from '../models/init.js';
import { NONLINEARITIES } from '../models/activations.js';
import {
  PROBE_MAX_HOURS,
  loadProbeSetup,
  probeRun,
  type ProbeRunResult,
  type ProbeSpectrum,
} from '../commands/probe.js';
import type { GapSelection } from '../training/spectra.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { noteBackend, printJson, startBackend, withCommon } from './common.js';
import { fmt, table } from '../util/format.js';
import { ProgressReporter } from './progress.js';
import { StopRequests } from './signals.js';

export function probeOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .option('cell', {
      type: 'string',
      describe: `${cellKindList()} (default ${MODEL_DEFAULTS.cell}; with --weights, the file’s)`,
    })
    .option('weights', {
      type: 'string',
      describe:
        'weights: safetensors with PyTorch names (weight_ih_l0 …; cell from the shapes), JSON ({"cell",' +
        ' "nonlinearity", "state_dict"}) or a seqlab checkpoint.json',
    })
    .option('prefix', {
      type: 'string',
      describe: 'safetensors: the recurrent module’s name prefix, e.g. "rnn." (default: the one found)',
    })
    .option('inputs', { type: 'string', describe: 'inputs JSON: {"inputs": [T][I] or [B][T][I], "h0"?, "c0"?}' })
    .option('text', {
      type: 'string',
      describe: 'word LM: probe on this text (words, <eos> per line), in --batch windows of --seq-len tokens',
    })
    .option('vocab', { type: 'string', describe: 'word LM: the vocabulary file of --weights (one word a line)' })
    .option('hidden', { type: 'number', default: 128, describe: 'hidden units (random weights)' })
    .option('input-size', { type: 'number', default: 16, describe: 'input features (random weights)' })
    .option('seq-len', { type: 'number', default: 100, describe: 'T (random inputs)' })
    .option('batch', { type: 'number', default: 1, describe: 'probe sequences (random inputs)' })
    .option('init', {
      type: 'string',
      default: 'pytorch',
      describe: `initializer (random weights): ${INITS.join(', ')}`,
    })
    .option('init-std', { type: 'number', default: 0.1, describe: 'σ of the normal initializer' })
    .option('nonlinearity', {
      type: 'string',
      describe: `vanilla RNN φ: ${NONLINEARITIES.join(', ')} (default tanh; with --weights, the file’s)`,
    })
    .option('forget-bias', { type: 'number', describe: 'LSTM forget-gate bias (random weights)' })
    .option('layer', { type: 'number', default: 0, describe: 'which stacked layer of --weights to probe' })
    .option('mode', { type: 'string', default: 'h', describe: 'LSTM: h (c_k held fixed) or state (s = [h; c])' })
    .option('spectral', { type: 'boolean', default: true, describe: 'spectral norms (--no-spectral: Frobenius only)' })
    .option('all-pairs', { type: 'boolean', default: false, describe: 'also ‖∂h_t/∂h_k‖ for every t > k (O(T²))' })
    .option('max-hours', {
      type: 'number',
      default: PROBE_MAX_HOURS,
      describe: 'refuse a probe that would take longer even at the best speed (0: no limit)',
    })
    .option('spectrum', {
      type: 'boolean',
      default: false,
      describe: 'also every singular value of ∂h_T/∂h_k at --gaps and the Lyapunov spectrum (QR method)',
    })
    .option('gaps', {
      type: 'string',
      describe: 'spectrum: log (up to 32 log-spaced gaps, default), all, or a list, e.g. 1,10,100',
    })
    .option('exponents', { type: 'string', describe: 'spectrum: Lyapunov exponents to compute, N or all (default 32)' })
    .option('burn-in', { type: 'number', describe: 'spectrum: steps left out of the exponents (default 0)' })
    .option('reorth-every', {
      type: 'number',
      describe: 'spectrum: re-orthonormalize at most every M steps (default 5; fewer where it stretches)',
    });
}

/** --gaps: log, all, or a comma-separated list of gaps. */
function parseGaps(value: unknown): GapSelection | undefined {
  if (value === undefined || value === 'log' || value === 'all') return value;
  const gaps = String(value).split(',').map(Number);
  if (!gaps.every((g) => Number.isInteger(g) && g >= 1))
    throw usageError(`--gaps must be log, all or a list of gaps ≥ 1 such as 1,10,100; got ${JSON.stringify(value)}`);
  return gaps;
}

/** --exponents: a count or all. */
function parseExponents(value: unknown): number | 'all' | undefined {
  if (value === undefined || value === 'all') return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw usageError(`--exponents must be a positive integer or all, got ${JSON.stringify(value)}`);
  return n;
}

type ProbeArgs = Awaited<ReturnType<typeof probeOptions>['argv']>;

/** Gaps shown in the human-readable table: 1, 2, 5, 10, 20, 50, … up to T. */
function displayGaps(T: number): number[] {
  const out: number[] = [];
  for (let scale = 1; scale <= T; scale *= 10) for (const m of [1, 2, 5]) if (m * scale <= T) out.push(m * scale);
  if (out.at(-1) !== T) out.push(T);
  return out;
}

/** The probe's flags as the library's options (messages name flags); nothing runs. */
export function parseProbeArgs(a: Readonly<Record<string, unknown>>) {
  return {
    cell: a.cell === undefined ? undefined : oneOf('cell', a.cell, CELL_KINDS),
    weights: a.weights as string | undefined,
    inputs: a.inputs as string | undefined,
    hiddenSize: positiveInt('--hidden', a.hidden),
    inputSize: positiveInt('--input-size', a['input-size']),
    seqLen: positiveInt('--seq-len', a['seq-len']),
    batch: positiveInt('--batch', a.batch),
    init: oneOf('init', a.init, INITS),
    initStd: finiteNumber('--init-std', a['init-std'], 0, true),
    nonlinearity: a.nonlinearity === undefined ? undefined : oneOf('nonlinearity', a.nonlinearity, NONLINEARITIES),
    prefix: a.prefix as string | undefined,
    text: a.text as string | undefined,
    vocab: a.vocab as string | undefined,
    forgetBias: a['forget-bias'] === undefined ? null : finiteNumber('--forget-bias', a['forget-bias']),
    layer: nonNegativeInt('--layer', a.layer),
    mode: oneOf('mode', a.mode, ['h', 'state'] as const),
    spectral: Boolean(a.spectral),
    allPairs: Boolean(a['all-pairs']),
    spectrum: Boolean(a.spectrum),
    gaps: parseGaps(a.gaps),
    exponents: parseExponents(a.exponents),
    burnIn: a['burn-in'] === undefined ? undefined : nonNegativeInt('--burn-in', a['burn-in']),
    reorthEvery: a['reorth-every'] === undefined ? undefined : positiveInt('--reorth-every', a['reorth-every']),
    seed: finiteNumber('--seed', a.seed),
    maxHours: finiteNumber('--max-hours', a['max-hours'], 0),
  };
}

export async function probeCommand(argv: ProbeArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const opts = parseProbeArgs(a);
  // bad files and sizes that cannot fit fail before any work starts
  const setup = loadProbeSetup({ ...opts, backend: String(a.backend) });
  const backend = await startBackend(String(a.backend));
  const quiet = Boolean(a.quiet);
  noteBackend(backend, quiet);
  const stops = new StopRequests(
    (signal) => `${signal}: stopping the probe (again: at once)`,
    (signal) => `second ${signal}: stopped at once`,
  );
  const progress = new Map<string, ProgressReporter>();
  const res = await probeRun(
    {
      ...opts,
      backend,
      signal: stops.signal,
      onProgress: (phase, done, total) => {
        if (!progress.has(phase)) {
          for (const p of progress.values()) p.done();
          progress.set(phase, new ProgressReporter(`probe ${phase}`, total, process.stderr, !quiet));
        }
        progress.get(phase)?.update(done, phase === 'sweep' ? 'gaps' : 'steps');
      },
    },
    setup,
  ).finally(() => {
    for (const p of progress.values()) p.done();
    stops.dispose();
  });
  if (res.nonlinearitySource === 'default') {
    // a tanh and a ReLU nn.RNN have the same shapes: say what was assumed (even with --quiet)
    process.stderr.write(
      `seqlab: note: ${opts.weights} does not say the RNN's nonlinearity; tanh assumed (nn.RNN's default), ` +
        'give --nonlinearity relu for a ReLU RNN\n',
    );
  }
  if (a.json) {
    printJson(res);
    return;
  }
  const byGap = new Map(res.jacobian.map((r) => [r.gap, r]));
  const rows = displayGaps(res.T).map((g) => {
    const r = byGap.get(g)!;
    return [g, r.k, fmt(r.spectral), fmt(r.frobenius)];
  });
  const s = res.summary;
  const horizon = (h: number | null) => (h === null ? `none within T=${res.T}` : String(h));
  process.stdout.write(
    `${[
      `${res.cell} · H ${res.hiddenSize} · T ${res.T} · batch ${res.batch} · mode ${res.mode} · ` +
        `weights ${res.weights}` +
        `${res.layer > 0 ? ` · layer ${res.layer}` : ''}${res.text ? ` · text ${res.text.file}` : ''}` +
        ` · ${(res.elapsedMs / 1000).toFixed(2)} s`,
      `‖∂h_T/∂h_k‖ (batch mean)`,
      table(['gap', 'k', 'spectral', 'frobenius'], rows),
      s.spectral
        ? `spectral: decay ${fmt(s.spectral.decayPerStep, 3)} nats/step, ` +
          `horizon (< 1e-3) ${horizon(s.spectral.horizon)}`
        : '',
      `frobenius: decay ${fmt(s.frobenius.decayPerStep, 3)} nats/step, ` +
        `horizon (< 1e-3) ${horizon(s.frobenius.horizon)}`,
      res.spectrum ? `\n${spectrumReport(res, res.spectrum)}` : '',
    ]
      .filter(Boolean)
      .join('\n')}\n`,
  );
}

/** σ from ln σ, also far below float64's range (the probe keeps the logs): 3 significant digits. */
function fmtLog(logSigma: number): string {
  if (Number.isNaN(logSigma)) return '-';
  if (logSigma === -Infinity) return '0';
  if (logSigma > -690) return fmt(Math.exp(logSigma), 3);
  const log10 = logSigma / Math.LN10;
  const e = Math.floor(log10);
  return `${(10 ** (log10 - e)).toFixed(2)}e${e}`;
}

/** The spectra's table: per gap the surviving directions, the participation ratio and the top σ's; then λ's. */
function spectrumReport(res: ProbeRunResult, sp: ProbeSpectrum): string {
  const shown = sp.singular.length <= 40 ? sp.singular : sp.singular.filter((r) => displayGaps(res.T).includes(r.gap));
  const R = sp.shape[0];
  const top = Math.min(4, R);
  const rows = shown.map((r) => [
    r.gap,
    r.k,
    fmt(r.count, 4, true),
    fmt(r.participationRatio, 3),
    ...r.logSigma.slice(0, top).map(fmtLog),
    fmtLog(r.logSigma[R - 1]),
  ]);
  const ly = sp.lyapunov;
  const lambdas = ly.exponents.slice(0, 5).map((l, i) => `λ${i + 1} ${fmt(l, 4)}`);
  const bound = ly.kaplanYorkeIsLowerBound ? ` (at least: the ${ly.count} computed sum to ≥ 0)` : '';
  const ky = `${fmt(ly.kaplanYorke, 4)}${bound}`;
  const batch = res.batch > 1 ? ', batch mean' : '';
  const state = ly.size === 2 * res.hiddenSize ? 's = [h; c]' : 'h';
  return [
    `singular values of ∂${R === res.hiddenSize ? 'h' : 's'}_T/∂${R === res.hiddenSize ? 'h' : 's'}_k ` +
      `(${R}×${R}${batch}; ${sp.singular.length} gaps` +
      `${shown.length < sp.singular.length ? `, ${shown.length} shown, all in --json` : ''})`,
    table(
      [
        'gap',
        'k',
        `σ ≥ ${sp.horizonThreshold}`,
        'PR',
        ...Array.from({ length: top }, (_, i) => `σ${i + 1}`),
        `σ${R} (min)`,
      ],
      rows,
    ),
    'PR: participation ratio (Σσ²)²/Σσ⁴, the number of directions that share the gain',
    `Lyapunov spectrum on ${state} (QR method, ${ly.count} of ${ly.size} exponents, ${ly.steps} steps` +
      `${ly.burnIn > 0 ? ` after a burn-in of ${ly.burnIn}` : ''}${batch}), nats per step:`,
    `  ${lambdas.join('  ')}`,
    `  Kaplan–Yorke dimension ${ky}`,
    `  λ1 ${fmt(sp.lambda1, 4)} beside the decay per step ${fmt(sp.decayPerStep, 4)} (for long T, λ1 ≈ −decay)`,
  ].join('\n');
}
