import type { Argv } from 'yargs';
import { COMPARE_AGREEMENT_DEFAULTS, type CompareAgreementDefaults } from '../commands/compare-defaults.js';
import { TOKENIZER_NAMES } from '../data/tokenize.js';
import { NONLINEARITIES } from '../models/activations.js';
import { INITS } from '../models/init.js';
import { MODEL_DEFAULTS } from '../models/model.js';
import { TASK_NAMES } from '../tasks/registry.js';
import { LM_DEFAULTS, LM_READERS } from '../tasks/lm.js';
import { TRAIN_DEFAULTS } from '../training/config.js';
import { OPTIMIZERS, SCHEDULES } from '../training/optim.js';
import { type SeqlabError, finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { withCommon } from './common.js';

/**
 * The options that train, compare and sweep share: their flags (TRAIN_OPTIONS, each default read
 * from the library's DEFAULTS, never restated), the named presets and each command's per-task
 * defaults as option values, one way to merge them (resolveOptions), and one parser from flags to
 * the library's typed options (parseTrainArgs). Messages here name flags; the library's name fields,
 * which the CLI prints as flags (FIELD_FLAGS, cliMessage).
 */

interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  default?: unknown;
  describe: string;
}

/** Named settings (as option values; anything given on the command line wins): `--preset NAME`. */
export const TRAIN_PRESETS: Readonly<Record<string, Record<string, string | number | boolean>>> = {
  // Zaremba et al. (2014) "small": 2 × 200 LSTM, U(±0.1), bptt 20, batch 20, SGD lr 1 halved each epoch
  // after the 4th, clip 5, 13 epochs
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
  // Zaremba et al. (2014) "medium": 2 × 650 LSTM, dropout 0.5, U(±0.05), bptt 35, lr 1 divided by 1.2 each
  // epoch after the 6th, 39 epochs
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
  // pytorch/examples' word_language_model main.py with its defaults: 2 × 200 LSTM (emsize 200), its
  // init_weights (encoder and decoder U(±0.1), decoder bias 0), dropout 0.2 on the embedding, between the
  // layers and before the decoder, bptt 35, batch 20 (eval 10), SGD lr 20 ÷ 4 after an epoch without a better
  // validation loss, clip 0.25, 40 epochs, the test set scored with the best validation weights, and its
  // reading of a data directory (--corpus DIR with train.txt, valid.txt, test.txt: every line + <eos>)
  'word-lm': {
    task: 'lm',
    'corpus-reader': 'word-lm',
    cell: 'lstm',
    layers: 2,
    hidden: 200,
    emsize: 200,
    init: 'pytorch',
    'init-range': 0.1,
    dropout: 0.2,
    bptt: 35,
    batch: 20,
    optimizer: 'sgd',
    lr: 20,
    'weight-decay': 0,
    'clip-norm': 0.25,
    schedule: 'plateau',
    'decay-factor': 0.25,
    patience: 1,
    'restore-best': true,
    epochs: 40,
  },
  // The Portuguese agreement study's full setting (compare --task agreement-ud --preset ud-full): a tied 200-unit
  // word LM over the 10 000 most frequent words, dropout 0.2, Adam, 3 epochs with the rate halved after the 2nd
  // (the Brown run of the README on the Portuguese corpus); the time is in the README.
  'ud-full': {
    hidden: 200,
    'tie-weights': true,
    'vocab-size': 10000,
    dropout: 0.2,
    bptt: 35,
    batch: 20,
    optimizer: 'adam',
    lr: 0.002,
    'clip-norm': 5,
    schedule: 'step',
    'decay-factor': 0.5,
    'decay-start': 2,
    'decay-every': 1,
    'decay-unit': 'epochs',
    epochs: 3,
  },
};

/** The training options shared by `train` and `compare`, with their defaults. */
export const TRAIN_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  task: { type: 'string', default: 'adding', describe: `task: ${[...TASK_NAMES, 'mnist'].join(', ')}` },
  hidden: { type: 'number', default: MODEL_DEFAULTS.hiddenSize, describe: 'hidden units per layer' },
  emsize: { type: 'number', describe: 'token tasks (lm): embedding size (default: --hidden)' },
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
  'spectrum-every': {
    type: 'number',
    default: TRAIN_DEFAULTS.spectrumEvery,
    describe: 'with the probe every N steps: singular values at 32 gaps, 32 Lyapunov exponents (0 = off)',
  },
  'init-scale': { type: 'number', default: MODEL_DEFAULTS.initScale, describe: 'a of U(±a) for --init uniform' },
  dropout: {
    type: 'number',
    default: MODEL_DEFAULTS.dropout,
    describe: 'dropout on non-recurrent connections while training (0 ≤ p < 1)',
  },
  'init-range': {
    type: 'number',
    describe: 'embedding and read-out weights U(±a), read-out bias 0: word_language_model’s init_weights (default off)',
  },
  'init-from': {
    type: 'string',
    describe: 'start from these weights (safetensors, PyTorch names), e.g. word_language_model’s untrained model',
  },
  'restore-best': {
    type: 'boolean',
    default: TRAIN_DEFAULTS.restoreBest,
    describe: 'end with the best validation weights (test score, last checkpoint), as word_language_model',
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
  'corpus-reader': {
    type: 'string',
    default: LM_DEFAULTS.reader,
    describe: `lm: ${LM_READERS.join(' or ')} (word-lm: word_language_model's data.py, every line + <eos>)`,
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
 * The flag that sets each option field a library message names (SeqlabError.messageWith): the library
 * says `seqLen`, the CLI `--seq-len`. null: no flag sets the field (the CLI keeps its name).
 * test/cli/flags.test.ts checks that the keys are exactly the fields src names outside src/cli, and
 * that every flag is one a command declares.
 */
export const FIELD_FLAGS: Readonly<Record<string, string | null>> = {
  // tasks (TaskOptions, the adding/copy/lm configs, AgreementConfig and its generator)
  task: '--task',
  seqLen: '--seq-len',
  evalSize: '--eval-size',
  probeSize: '--probe-size',
  bptt: '--bptt',
  corpus: '--corpus',
  minCount: '--min-count',
  vocabSize: '--vocab-size',
  constructions: '--constructions',
  attractors: '--attractors',
  trainMinDistance: '--train-distances',
  trainMaxDistance: '--train-distances',
  testDistances: '--test-distances',
  trainSize: '--train-size',
  testSize: '--eval-size', // createTask passes evalSize as the agreement task's testSize
  distance: null,
  maxDepth: null,
  // models (ModelOptions, MlpConfig) and training (TrainConfig, MlpTrainConfig)
  cell: '--cell',
  hiddenSize: '--hidden',
  embedSize: '--emsize',
  tieWeights: '--tie-weights',
  layers: '--layers',
  cost: '--cost',
  output: '--output',
  slope: '--slope',
  steps: '--steps',
  batchSize: '--batch',
  batch: '--batch', // the probe's sequences
  maxHours: '--max-hours',
  numLayers: '--layers',
  lr: '--lr',
  // commands (TrainRunOptions, CompareOptions, ProbeRunOptions, …) and what they hand on
  epochs: '--epochs',
  decayUnit: '--decay-unit',
  cells: '--cells',
  seeds: '--seeds',
  layer: '--layer',
  weights: '--weights',
  biases: '--biases',
  temperature: '--temperature',
  vocab: '--vocab',
  shard: '--shard',
  dir: '--data', // loadMnist's directory of IDX files
  backend: '--backend',
  out: '--out',
  overwrite: '--overwrite',
  port: '--port',
  // PyTorch's files (probe, sample, eval-lm, export) and the word-lm reader
  prefix: '--prefix',
  inputs: '--inputs',
  text: '--text',
  checkpoint: '--checkpoint',
  prompt: '--prompt',
  vocabOut: '--vocab-out',
  withHead: '--with-head',
  lowercase: '--lowercase',
  // agreement (extract)
  rules: '--rules',
  treebanks: '--treebank',
  // the spectra (probe --spectrum; training/spectra.ts, lyapunov.ts)
  spectrum: '--spectrum',
  allPairs: '--all-pairs',
  gaps: '--gaps',
  exponents: '--exponents',
  burnIn: '--burn-in',
  reorthEvery: '--reorth-every',
  maxGaps: null,
  horizonThreshold: null,
};

/** A SeqlabError as the CLI prints it: every option field it names spelled as its flag. */
export function cliMessage(e: SeqlabError): string {
  return e.messageWith((field) => (Object.hasOwn(FIELD_FLAGS, field) ? (FIELD_FLAGS[field] ?? field) : field));
}

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

/** The defaults of TRAIN_OPTIONS as parsed values. */
export function trainOptionDefaults(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(TRAIN_OPTIONS)
      .filter(([, s]) => s.default !== undefined)
      .map(([k, s]) => [k, s.default]),
  );
}

export function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Validate and resolve the options shared by train and compare; nothing runs before this passes. */
export function parseTrainArgs(a: Record<string, unknown>) {
  if (a.emsize !== undefined && a['tie-weights'] && Number(a.emsize) !== Number(a.hidden))
    throw usageError(`--tie-weights needs --emsize equal to --hidden (got ${a.emsize} and ${a.hidden})`);
  return {
    task: String(a.task),
    taskOptions: {
      evalSize: a['eval-size'] === undefined ? undefined : positiveInt('--eval-size', a['eval-size']),
      agreement: parseAgreementArgs(a),
      lm: {
        corpus: String(a.corpus),
        reader: oneOf('corpus reader', a['corpus-reader'], LM_READERS),
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
      initRange: a['init-range'] === undefined ? null : finiteNumber('--init-range', a['init-range'], 0, true),
      embedSize: a.emsize === undefined ? undefined : positiveInt('--emsize', a.emsize),
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
      spectrumEvery: nonNegativeInt('--spectrum-every', a['spectrum-every']),
      restoreBest: Boolean(a['restore-best']),
      seed: finiteNumber('--seed', a.seed),
      threads: threadCount(a.threads),
    },
    overwrite: Boolean(a.overwrite),
    initFrom: a['init-from'] === undefined ? undefined : String(a['init-from']),
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

/**
 * Defaults of `seqlab compare` per task, as CLI option values (anything the user
 * passes wins). Chosen so that the default run finishes in minutes on 2 cores.
 */
export const COMPARE_PRESETS: Readonly<Record<string, Record<string, string | number | boolean>>> = {
  // the agreement probe's defaults live in commands/compare-defaults.ts (the lab starts from them too)
  agreement: agreementPreset(COMPARE_AGREEMENT_DEFAULTS),
  // The Portuguese agreement study, quick: ≤ 10 minutes on 2 cores for the three cells (README). One epoch of the
  // 420 000-token train text, a tied 128-unit word LM over the 5 000 most frequent words (fewer items scored than
  // with --preset ud-full's vocabulary, whose softmax costs 2-3 × more); LSTM probes in "h" mode.
  'agreement-ud': {
    hidden: 128,
    'tie-weights': true,
    'vocab-size': 5000,
    bptt: 35,
    batch: 20,
    optimizer: 'adam',
    lr: 0.003,
    'clip-norm': 5,
    epochs: 1,
    'gradflow-every': 500,
  },
  adding: { steps: 1000, hidden: 32, 'eval-every': 100, 'eval-size': 500 },
  copy: { steps: 1000, hidden: 32, 'eval-every': 100, 'eval-size': 200 },
};

/** The agreement defaults as option values. */
function agreementPreset(d: Readonly<CompareAgreementDefaults>): Record<string, string | number> {
  return {
    hidden: d.hiddenSize,
    steps: d.steps,
    'eval-every': d.evalEvery,
    'gradflow-every': d.gradflowEvery,
    'gradflow-mode': d.gradflowMode,
    'train-distances': `${d.trainMinDistance}-${d.trainMaxDistance}`,
    'test-distances': d.testDistances.join(','),
  };
}

/** The task `seqlab compare` runs when none is given: the agreement probe. */
export const COMPARE_DEFAULT_TASK = 'agreement';

/**
 * Option values, merged one way: the table's defaults, then `defaults` (a command's own, e.g.
 * compare's per-task ones), then the named preset (--preset), then what the user gave.
 */
export function resolveOptions(
  argv: Readonly<Record<string, unknown>>,
  defaults: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const given = Object.fromEntries(Object.entries(argv).filter(([, v]) => v !== undefined));
  const preset = given.preset === undefined ? {} : TRAIN_PRESETS[String(given.preset)];
  if (!preset)
    throw usageError(`unknown preset ${JSON.stringify(given.preset)}; use ${Object.keys(TRAIN_PRESETS).join(', ')}`);
  return { ...trainOptionDefaults(), cell: MODEL_DEFAULTS.cell, ...defaults, ...preset, ...given };
}
