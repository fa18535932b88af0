import type { Argv } from 'yargs';
import { CELL_KINDS } from '../models/cell.js';
import { INITS } from '../models/init.js';
import { NONLINEARITIES } from '../models/activations.js';
import { OPTIMIZERS, SCHEDULES } from '../training/optim.js';
import { TRAIN_DEFAULTS } from '../training/config.js';
import type { Progress } from '../training/trainer.js';
import { MODEL_DEFAULTS } from '../models/model.js';
import { resumeRun, trainRun } from '../commands/train.js';
import { TASK_NAMES } from '../tasks/registry.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { LM_DEFAULTS } from '../tasks/lm.js';
import { TOKENIZER_NAMES } from '../data/tokenize.js';
import { fmt, metricLines, noteBackend, printJson, startBackend, withCommon } from './common.js';
import { ProgressReporter } from './progress.js';
import { reportAfterRun } from './report.js';
import { mnistCommand } from './mnist.js';

interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  default?: unknown;
  describe: string;
}

/** Named settings for `train` (as option values; anything given on the command line wins). */
export const TRAIN_PRESETS: Readonly<Record<string, Record<string, string | number | boolean>>> = {
  // Zaremba et al. (2014) "small": 2 × 200 LSTM, U(±0.1), bptt 20, batch 20, SGD lr 1 halved each epoch after the 4th, clip 5, 13 epochs
  small: {
    task: 'lm',
    cell: 'lstm',
    layers: 2,
    hidden: 200,
    init: 'uniform',
    'init-scale': 0.1,
    bptt: 20,
    batch: 20,
    optimizer: 'sgd',
    lr: 1,
    'clip-norm': 5,
    schedule: 'step',
    'decay-factor': 0.5,
    'decay-start': 4,
    'decay-every': 1,
    'decay-unit': 'epochs',
    epochs: 13,
  },
  // Zaremba et al. (2014) "medium": 2 × 650 LSTM, dropout 0.5, U(±0.05), bptt 35, lr 1 divided by 1.2 each epoch after the 6th, 39 epochs
  medium: {
    task: 'lm',
    cell: 'lstm',
    layers: 2,
    hidden: 650,
    init: 'uniform',
    'init-scale': 0.05,
    dropout: 0.5,
    bptt: 35,
    batch: 20,
    optimizer: 'sgd',
    lr: 1,
    'clip-norm': 5,
    schedule: 'step',
    'decay-factor': 1 / 1.2,
    'decay-start': 6,
    'decay-every': 1,
    'decay-unit': 'epochs',
    epochs: 39,
  },
};

/** The training options shared by `train` and `compare`, with their defaults. */
export const TRAIN_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  task: { type: 'string', default: 'adding', describe: `task: ${[...TASK_NAMES, 'mnist'].join(', ')}` },
  hidden: { type: 'number', default: MODEL_DEFAULTS.hiddenSize, describe: 'hidden units per layer' },
  layers: {
    type: 'string',
    default: String(MODEL_DEFAULTS.numLayers),
    describe: 'stacked recurrent layers (--task mnist: the MLP layer sizes, e.g. 784,30,30,10)',
  },
  init: { type: 'string', default: MODEL_DEFAULTS.init, describe: `initializer: ${INITS.join(', ')}` },
  'init-std': { type: 'number', default: MODEL_DEFAULTS.initStd, describe: 'σ of the normal initializer' },
  nonlinearity: {
    type: 'string',
    default: MODEL_DEFAULTS.nonlinearity,
    describe: `vanilla RNN φ: ${NONLINEARITIES.join(', ')}`,
  },
  'forget-bias': { type: 'number', describe: 'LSTM forget-gate bias (default: the initializer’s)' },
  steps: { type: 'number', default: TRAIN_DEFAULTS.steps, describe: 'optimizer updates' },
  batch: { type: 'number', default: TRAIN_DEFAULTS.batchSize, describe: 'sequences per batch' },
  optimizer: { type: 'string', default: TRAIN_DEFAULTS.optimizer, describe: OPTIMIZERS.join(', ') },
  lr: { type: 'number', default: TRAIN_DEFAULTS.lr, describe: 'learning rate' },
  momentum: { type: 'number', default: TRAIN_DEFAULTS.momentum, describe: 'momentum (optimizer momentum)' },
  'weight-decay': { type: 'number', default: TRAIN_DEFAULTS.weightDecay, describe: 'L2 penalty λ' },
  'clip-norm': {
    type: 'number',
    default: TRAIN_DEFAULTS.clipNorm ?? 0,
    describe: 'clip gradients to this global norm (0 = off)',
  },
  'clip-value': { type: 'number', default: 0, describe: 'clamp gradient entries to ±value (0 = off)' },
  bptt: { type: 'number', default: TRAIN_DEFAULTS.bptt, describe: 'truncated-BPTT chunk length (0 = full BPTT)' },
  schedule: { type: 'string', default: TRAIN_DEFAULTS.schedule, describe: SCHEDULES.join(', ') },
  'decay-every': { type: 'number', default: TRAIN_DEFAULTS.decayEvery, describe: 'step schedule: decay every N steps' },
  'decay-factor': { type: 'number', default: TRAIN_DEFAULTS.decayFactor, describe: 'lr multiplier at each decay' },
  patience: {
    type: 'number',
    default: TRAIN_DEFAULTS.patience,
    describe: 'plateau schedule: evals without improvement before decay',
  },
  'eval-every': {
    type: 'number',
    default: TRAIN_DEFAULTS.evalEvery,
    describe: 'validate and checkpoint every N steps',
  },
  'eval-size': {
    type: 'number',
    describe: 'validation examples (task default; lm: tokens of valid and test, default all)',
  },
  'early-stop': {
    type: 'number',
    default: TRAIN_DEFAULTS.earlyStop,
    describe: 'stop after N evals without improvement (0 = never)',
  },
  'gradflow-every': {
    type: 'number',
    default: TRAIN_DEFAULTS.gradflowEvery,
    describe: 'log gradient flow every N steps (0 = off)',
  },
  'gradflow-mode': { type: 'string', default: TRAIN_DEFAULTS.gradflowMode, describe: 'LSTM Jacobian mode: h or state' },
  'init-scale': { type: 'number', default: MODEL_DEFAULTS.initScale, describe: 'a of U(±a) for --init uniform' },
  dropout: {
    type: 'number',
    default: MODEL_DEFAULTS.dropout,
    describe: 'dropout on non-recurrent connections while training (0 ≤ p < 1)',
  },
  'tie-weights': {
    type: 'boolean',
    default: MODEL_DEFAULTS.tieWeights,
    describe: 'lm: tie the read-out to the embedding (embedding size = hidden size)',
  },
  'decay-start': {
    type: 'number',
    default: TRAIN_DEFAULTS.decayStart,
    describe: 'step schedule: updates (or epochs) at the full rate first',
  },
  'decay-unit': {
    type: 'string',
    default: 'steps',
    describe: 'units of --decay-every/--decay-start: steps or epochs (lm)',
  },
  threads: {
    type: 'string',
    default: String(TRAIN_DEFAULTS.threads),
    describe: 'threads per gradient (data-parallel halves of each batch): 1, 2 or auto (2 on wasm with ≥ 2 cores)',
  },
  preset: {
    type: 'string',
    describe: `named settings, overridable option by option: ${Object.keys(TRAIN_PRESETS).join(', ')}`,
  },
  corpus: {
    type: 'string',
    default: LM_DEFAULTS.corpus,
    describe: 'lm: "brown", a UTF-8 text file, or a dir with train/valid/test.txt',
  },
  tokenizer: {
    type: 'string',
    default: LM_DEFAULTS.tokenizer,
    describe: `lm: tokenizer for text files: ${TOKENIZER_NAMES.join(', ')}`,
  },
  lowercase: { type: 'boolean', default: LM_DEFAULTS.lowercase, describe: 'lm: lower-case the corpus' },
  'min-count': {
    type: 'number',
    describe: 'lm: keep words seen ≥ N times in train (default: the corpus rule; Brown > 3)',
  },
  'vocab-size': { type: 'number', describe: 'lm: cap the vocabulary (most frequent first)' },
  epochs: { type: 'number', describe: 'lm: passes over the training text (sets --steps)' },
  'train-distances': { type: 'string', describe: 'agreement: training distances as MIN-MAX (default 1-8)' },
  'test-distances': { type: 'string', describe: 'agreement: test distances, comma-separated (default 2,4,…,16)' },
  attractors: {
    type: 'string',
    describe: 'agreement: "free" (no cue) or MIN-MAX intervening nouns of the other number',
  },
  constructions: { type: 'string', describe: 'agreement: no-cue, no-cue-orc, relatives, all, or construction names' },
  'train-size': { type: 'number', describe: 'agreement: distinct training sentences (default 10000)' },
  lexicon: { type: 'string', describe: 'agreement: lexicon JSON (default corpora/agreement-pt.json)' },
  overwrite: { type: 'boolean', default: false, describe: 'reuse a non-empty output directory' },
  report: {
    type: 'boolean',
    default: true,
    describe: 'end with report.html and plots in the run directory (--no-report: skip)',
  },
};

/**
 * Declare TRAIN_OPTIONS on a yargs builder. With `overrides`, those defaults replace
 * the table's; with `withDefaults` false, no defaults are declared at all (the
 * command merges them itself, so it can tell which options the user gave).
 */
export function declareTrainOptions<T>(y: Argv<T>, withDefaults = true, overrides: Record<string, unknown> = {}) {
  let out = withCommon(y);
  for (const [name, spec] of Object.entries(TRAIN_OPTIONS)) {
    const def = name in overrides ? overrides[name] : spec.default;
    const describe = !withDefaults && def !== undefined ? `${spec.describe} (default ${def})` : spec.describe;
    out = out.option(name, {
      type: spec.type,
      describe,
      ...(withDefaults && def !== undefined ? { default: def } : {}),
    }) as typeof out;
  }
  return out;
}

export function trainOptions<T>(y: Argv<T>) {
  // defaults are merged in trainCommand, under --preset, so a preset can change them
  return declareTrainOptions(y, false)
    .option('cell', { type: 'string', describe: `rnn, lstm or gru (default ${MODEL_DEFAULTS.cell})` })
    .option('seq-len', { type: 'number', describe: 'sequence length of synthetic tasks (adding: 50, copy: 50)' })
    .option('out', { type: 'string', describe: 'run directory (default runs/<task>-<cell>-<time>)' })
    .option('resume', {
      type: 'string',
      describe:
        'continue the run in this directory from its checkpoint (its own config; other training options are ignored, except --steps/--epochs: a new total length)',
    });
}

/** The defaults of TRAIN_OPTIONS as parsed values. */
export function trainOptionDefaults(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(TRAIN_OPTIONS)
      .filter(([, s]) => s.default !== undefined)
      .map(([k, s]) => [k, s.default]),
  );
}

type TrainArgs = Awaited<ReturnType<typeof trainOptions>['argv']>;

export function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Validate and resolve the options shared by train and compare; nothing runs before this passes. */
export function parseTrainArgs(a: Record<string, unknown>) {
  return {
    task: String(a.task),
    taskOptions: {
      evalSize: a['eval-size'] === undefined ? undefined : positiveInt('--eval-size', a['eval-size']),
      agreement: parseAgreementArgs(a),
      lm: {
        corpus: String(a.corpus),
        tokenizer: oneOf('tokenizer', a.tokenizer, TOKENIZER_NAMES),
        lowercase: Boolean(a.lowercase),
        minCount: a['min-count'] === undefined ? null : positiveInt('--min-count', a['min-count']),
        vocabSize: a['vocab-size'] === undefined ? null : positiveInt('--vocab-size', a['vocab-size']),
        bptt: positiveInt('--bptt', a.bptt === 0 ? LM_DEFAULTS.bptt : a.bptt),
      },
    },
    epochs: a.epochs === undefined ? undefined : positiveInt('--epochs', a.epochs),
    decayUnit: oneOf('decay unit', a['decay-unit'], ['steps', 'epochs'] as const),
    model: {
      hiddenSize: positiveInt('--hidden', a.hidden),
      numLayers: positiveInt('--layers', a.layers),
      init: oneOf('init', a.init, INITS),
      initStd: finiteNumber('--init-std', a['init-std'], 0, true),
      initScale: finiteNumber('--init-scale', a['init-scale'], 0, true),
      dropout: dropoutRate(a.dropout),
      tieWeights: Boolean(a['tie-weights']),
      nonlinearity: oneOf('nonlinearity', a.nonlinearity, NONLINEARITIES),
      forgetBias: a['forget-bias'] === undefined ? null : finiteNumber('--forget-bias', a['forget-bias']),
    },
    train: {
      steps: positiveInt('--steps', a.steps),
      batchSize: positiveInt('--batch', a.batch),
      optimizer: oneOf('optimizer', a.optimizer, OPTIMIZERS),
      lr: finiteNumber('--lr', a.lr, 0, true),
      momentum: finiteNumber('--momentum', a.momentum, 0),
      weightDecay: finiteNumber('--weight-decay', a['weight-decay'], 0),
      clipNorm: finiteNumber('--clip-norm', a['clip-norm'], 0) || null,
      clipValue: finiteNumber('--clip-value', a['clip-value'], 0) || null,
      // lm: --bptt is the length of each batch (the task cuts the text), not a cut inside one
      bptt: String(a.task) === 'lm' ? 0 : nonNegativeInt('--bptt', a.bptt),
      schedule: oneOf('schedule', a.schedule, SCHEDULES),
      decayEvery: positiveInt('--decay-every', a['decay-every']),
      decayStart: nonNegativeInt('--decay-start', a['decay-start']),
      decayFactor: finiteNumber('--decay-factor', a['decay-factor'], 0, true),
      patience: positiveInt('--patience', a.patience),
      evalEvery: positiveInt('--eval-every', a['eval-every']),
      earlyStop: nonNegativeInt('--early-stop', a['early-stop']),
      gradflowEvery: nonNegativeInt('--gradflow-every', a['gradflow-every']),
      gradflowMode: oneOf('gradflow mode', a['gradflow-mode'], ['h', 'state'] as const),
      seed: finiteNumber('--seed', a.seed),
      threads: threadCount(a.threads),
    },
    overwrite: Boolean(a.overwrite),
  };
}

/** --threads: 1, 2 or auto. */
export function threadCount(value: unknown): number | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  const n = Number(value);
  if (n !== 1 && n !== 2) throw usageError(`--threads must be 1, 2 or auto, got ${JSON.stringify(value)}`);
  return n;
}

function dropoutRate(value: unknown): number {
  const p = finiteNumber('--dropout', value, 0);
  if (p >= 1) throw usageError(`--dropout must be below 1, got ${p}`);
  return p;
}

/** "A-B" → [A, B] of non-negative integers with A ≤ B, or a usage error naming the option. */
function parseRange(name: string, value: unknown): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(String(value));
  if (!m || Number(m[1]) > Number(m[2]))
    throw usageError(`${name} must be MIN-MAX with MIN ≤ MAX, e.g. 1-8, got ${JSON.stringify(value)}`);
  return [Number(m[1]), Number(m[2])];
}

function parseAgreementArgs(a: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  if (a['train-distances'] !== undefined) {
    const [lo, hi] = parseRange('--train-distances', a['train-distances']);
    if (lo < 1) throw usageError('--train-distances must start at 1 or more');
    out.trainMinDistance = lo;
    out.trainMaxDistance = hi;
  }
  if (a['test-distances'] !== undefined) {
    out.testDistances = String(a['test-distances'])
      .split(',')
      .map((d) => positiveInt('--test-distances', d.trim()));
  }
  if (a.attractors !== undefined)
    out.attractors = a.attractors === 'free' ? 'free' : parseRange('--attractors', a.attractors);
  if (a.constructions !== undefined) out.constructions = String(a.constructions);
  if (a['train-size'] !== undefined) out.trainSize = positiveInt('--train-size', a['train-size']);
  if (a.lexicon !== undefined) out.lexicon = String(a.lexicon);
  return out;
}

/** Option values: the defaults, then the preset, then what the user gave. */
export function withPreset(
  argv: Record<string, unknown>,
  extraDefaults: Record<string, unknown> = {},
): Record<string, unknown> {
  const given = Object.fromEntries(Object.entries(argv).filter(([, v]) => v !== undefined));
  const preset = given.preset === undefined ? {} : TRAIN_PRESETS[String(given.preset)];
  if (!preset)
    throw usageError(`unknown preset ${JSON.stringify(given.preset)}; use ${Object.keys(TRAIN_PRESETS).join(', ')}`);
  return { ...trainOptionDefaults(), cell: MODEL_DEFAULTS.cell, ...extraDefaults, ...preset, ...given };
}

/** Options of `train` that `--task mnist` passes on to the MLP trainer (`seqlab mnist train`). */
const MNIST_TRAIN_OPTIONS = [
  'layers',
  'epochs',
  'batch',
  'lr',
  'optimizer',
  'momentum',
  'clip-norm',
  'early-stop',
  'gradflow-every',
  'seed',
  'out',
  'overwrite',
  'json',
  'quiet',
  'verbose',
  'backend',
];

/**
 * `train --task mnist`: an MLP on MNIST through the MLP trainer (the options it shares with
 * `seqlab mnist train`; that command has the MLP's own: --activation, --cost, --batch-norm, …).
 */
async function trainMnist(given: Record<string, unknown>): Promise<void> {
  const known = new Set([...MNIST_TRAIN_OPTIONS, 'task', 'report', '_', '$0']);
  // yargs also sets camelCase copies of kebab-case options: look at the options as typed
  const stray = Object.keys(given).filter((k) => !/[A-Z]/.test(k) && !known.has(k) && given[k] !== undefined);
  if (stray.length > 0)
    throw usageError(
      `--${stray[0]} does not apply to --task mnist (an MLP); its options: ${MNIST_TRAIN_OPTIONS.slice(0, 10)
        .map((o) => `--${o}`)
        .join(' ')}; more in seqlab mnist --help`,
    );
  const pick = Object.fromEntries(MNIST_TRAIN_OPTIONS.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]));
  await mnistCommand({
    ...pick,
    experiment: 'train',
    'probe-size': 1000,
    inits: 1,
    'no-out': false,
    backend: given.backend ?? 'auto',
    seed: given.seed ?? 1,
  } as unknown as Parameters<typeof mnistCommand>[0]);
}

export async function trainCommand(argv: TrainArgs): Promise<void> {
  if ((argv as Record<string, unknown>).task === 'mnist') return trainMnist(argv as Record<string, unknown>);
  const a = withPreset(argv as Record<string, unknown>);
  const cell = oneOf('cell', a.cell, CELL_KINDS);
  const base = parseTrainArgs(a);
  const task = base.task;
  // with --epochs, the epochs set the length (--steps, if given on the command line, caps it)
  // and evaluation comes once an epoch unless --eval-every is given
  const typed = argv as Record<string, unknown>;
  if (base.epochs !== undefined && typed.steps === undefined) (base.train as { steps?: number }).steps = undefined;
  if (task === 'lm' && typed['eval-every'] === undefined) (base.train as { evalEvery?: number }).evalEvery = undefined;
  const opts = {
    ...base,
    taskOptions: {
      ...base.taskOptions,
      seqLen: a['seq-len'] === undefined ? undefined : positiveInt('--seq-len', a['seq-len']),
    },
    model: { ...base.model, cell },
    out: (a.out as string | undefined) ?? `runs/${task}-${cell}-${timestamp()}`,
  };
  const quiet = Boolean(a.quiet);
  const backend = await startBackend(String(a.backend));
  let progress: ProgressReporter | null = null;
  let lastLoss = NaN;
  const isLM = task === 'lm';
  const tokensPerStep = isLM ? opts.train.batchSize * opts.taskOptions.lm.bptt : undefined;
  const started = performance.now();
  const onProgress = (p: Progress) => {
    noteBackend(backend, quiet);
    progress ??= new ProgressReporter('train', p.steps, process.stderr, !quiet, tokensPerStep);
    if (Number.isFinite(p.loss)) lastLoss = p.loss;
    const evalText =
      p.evalLoss === undefined ? '' : isLM ? ` valid ppl ${fmt(Math.exp(p.evalLoss))}` : ` eval ${fmt(p.evalLoss)}`;
    progress.update(p.step, `loss ${fmt(lastLoss)}${evalText}`);
  };
  const wantsReport = Boolean(a.report);
  const length = {
    steps: typed.steps === undefined ? undefined : positiveInt('--steps', typed.steps),
    epochs: typed.epochs === undefined ? undefined : positiveInt('--epochs', typed.epochs),
  };
  const run =
    typed.resume !== undefined
      ? await resumeRun(String(typed.resume), backend, onProgress, length)
      : await trainRun({ ...opts, backend, onProgress, pairs: wantsReport });
  (progress as ProgressReporter | null)?.done();
  const elapsedMs = performance.now() - started;
  const report = wantsReport ? await reportAfterRun(run.runDir) : null;
  if (a.json) {
    printJson({
      backend,
      runDir: run.runDir,
      metrics: run.metrics,
      config: run.config,
      elapsedMs,
      gradflowMs: run.result.gradflowMs,
      report: report?.html ?? null,
    });
    return;
  }
  const m = run.result.finalEval;
  const lines = [
    `${run.metrics.task} · ${run.metrics.cell} · hidden ${(run.config.model as { hiddenSize: number }).hiddenSize} · ${run.metrics.params} params · ${run.result.steps} steps (${run.result.status}) in ${(elapsedMs / 1000).toFixed(1)} s`,
    ...metricLines('eval', m.loss, m.metrics),
  ];
  const test = run.metrics.test as { loss: number; metrics: Record<string, number | null> } | undefined;
  if (test) lines.push(...metricLines('test', test.loss, test.metrics));
  const g = run.result.gradflow.at(-1);
  if (g) {
    lines.push(
      `gradient flow (step ${g.step}, T ${g.T}): ‖∂h_T/∂h_k‖ decays ${fmt(g.spectralDecayPerStep, 3)} nats/step, horizon ${g.spectralHorizon ?? `none within ${g.T}`}`,
    );
  }
  if (report) lines.push(...report.sparklines, `report: ${report.html}`);
  lines.push(`run directory: ${run.runDir}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
