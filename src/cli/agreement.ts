import type { Argv } from 'yargs';
import { MAX_ORDER, NGRAM_DEFAULTS } from '../data/ngram.js';
import {
  AGREEMENT_EVAL_DEFAULTS,
  RULES_CHOICES,
  agreementCorpus,
  agreementEval,
  agreementExtract,
  type AgreementCorpusResult,
  type AgreementEvalResult,
  type AgreementExtractResult,
  type CountRow,
  type JacobianLink,
} from '../commands/agreement.js';
import { MAX_OOV_SHARE, type AccuracyCell, type AccuracySummary } from '../tasks/agreement-ud/score.js';
import { UD_CORPUS_DEFAULTS } from '../tasks/agreement-ud/corpus.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { fmt, table } from '../util/format.js';
import { modelSourceArgs, noteBackend, printJson, startBackend, withCommon } from './common.js';
import { StopRequests } from './signals.js';

export const AGREEMENT_ACTIONS = ['extract', 'corpus', 'eval'] as const;

/** Flags only `agreement eval` reads. */
const EVAL_ONLY = ['checkpoint', 'weights', 'vocab', 'items', 'scores', 'corpus'];

export function agreementOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .positional('action', {
      type: 'string',
      describe:
        'extract: items from UD treebanks; corpus: the LM corpus directory (train/valid/test.txt) and its test ' +
        'items with nonce twins; eval: a word LM checkpoint on an items file',
    })
    .option('treebank', {
      type: 'string',
      describe:
        'extract: CoNLL-U files (.conllu or .conllu.gz), comma-separated; any UD treebank whose nouns and ' +
        'finite verbs carry Number (default: the shipped Portuguese ones)',
    })
    .option('out', {
      type: 'string',
      describe: 'extract: write the items here (JSONL; docs/agreement-items.md); corpus: the directory to build',
    })
    .option('nonce', {
      type: 'number',
      describe: `corpus: nonce twins per test item (Gulordava et al. 2018; default ${UD_CORPUS_DEFAULTS.nonce})`,
    })
    .option('rules', {
      type: 'string',
      default: 'auto',
      describe:
        'extract: wrong forms the treebanks lack from Portuguese rules (pt), or not (none); auto: pt when every ' +
        'file is a pt_* treebank. Other languages get their wrong forms from the treebanks’ own forms only',
    })
    .option('lowercase', {
      type: 'boolean',
      default: true,
      describe: 'extract, corpus: lower-case the tokens (--no-lowercase)',
    })
    .option('checkpoint', {
      type: 'string',
      describe: 'eval: a word LM: a --task lm run directory or its checkpoint.json',
    })
    .option('weights', {
      type: 'string',
      describe: 'eval: or a word_language_model RNNModel as safetensors (with --vocab)',
    })
    .option('vocab', {
      type: 'string',
      describe: 'eval: the vocabulary file of --weights, one word a line in id order',
    })
    .option('items', { type: 'string', describe: 'eval: an items file (JSONL)' })
    .option('corpus', {
      type: 'string',
      describe: 'eval: the baselines’ train text, as --corpus of train (default: the checkpoint’s corpus)',
    })
    .option('baselines', {
      type: 'boolean',
      default: true,
      describe: 'eval: Kneser–Ney and frequency baselines on the same items (--no-baselines: skip)',
    })
    .option('order', { type: 'number', default: NGRAM_DEFAULTS.order, describe: 'eval: n of the Kneser–Ney baseline' })
    .option('jacobian', {
      type: 'boolean',
      default: true,
      describe: 'eval: ‖∂h_verb/∂h_subject‖ per item and accuracy by it (--no-jacobian: skip)',
    })
    .option('jacobian-mode', {
      type: 'string',
      default: AGREEMENT_EVAL_DEFAULTS.jacobianMode,
      describe: 'eval: LSTM Jacobian mode: h (c held fixed) or state (s = [h; c])',
    })
    .option('batch', {
      type: 'number',
      default: AGREEMENT_EVAL_DEFAULTS.batchSize,
      describe: 'eval: prefixes per forward pass',
    })
    .option('scores', { type: 'string', describe: 'eval: write each item’s scores here (JSONL)' });
}

type AgreementArgs = Awaited<ReturnType<typeof agreementOptions>['argv']>;

export async function agreementCommand(argv: AgreementArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const action = oneOf('agreement action', a.action, AGREEMENT_ACTIONS);
  const quiet = Boolean(a.quiet);
  const progress = quiet ? undefined : (m: string) => process.stderr.write(`seqlab: ${m}\n`);
  if (action === 'extract') {
    for (const flag of EVAL_ONLY)
      if (a[flag] !== undefined) throw usageError(`--${flag} applies to agreement eval, not extract`);
    if (a.nonce !== undefined) throw usageError('--nonce applies to agreement corpus, not extract');
    const treebanks = a.treebank === undefined ? null : fileList('--treebank', a.treebank);
    const res = agreementExtract({
      treebanks,
      out: (a.out as string | undefined) ?? null,
      lowercase: Boolean(a.lowercase),
      rules: oneOf('rules', a.rules, RULES_CHOICES),
      onProgress: progress,
    });
    if (a.json) printJson(res);
    else process.stdout.write(`${renderExtract(res)}\n`);
    return;
  }
  if (action === 'corpus') {
    for (const flag of EVAL_ONLY)
      if (a[flag] !== undefined) throw usageError(`--${flag} applies to agreement eval, not corpus`);
    if (typeof a.out !== 'string' || a.out === '')
      throw usageError('agreement corpus needs --out DIR (where train.txt, valid.txt, test.txt and items.jsonl go)');
    const res = agreementCorpus(a.out, {
      treebanks: a.treebank === undefined ? null : fileList('--treebank', a.treebank),
      seed: finiteNumber('--seed', a.seed),
      nonce: a.nonce === undefined ? undefined : nonNegativeInt('--nonce', a.nonce),
      lowercase: Boolean(a.lowercase),
    });
    if (a.json) printJson(res);
    else process.stdout.write(`${renderCorpus(res)}\n`);
    return;
  }
  for (const flag of ['treebank', 'out', 'nonce'])
    if (a[flag] !== undefined) throw usageError(`--${flag} applies to agreement extract and corpus, not eval`);
  const model = modelSourceArgs(a);
  if (typeof a.items !== 'string' || a.items === '')
    throw usageError('agreement eval needs --items FILE (JSONL; `seqlab agreement extract --out FILE` writes one)');
  const order = positiveInt('--order', a.order);
  if (order > MAX_ORDER) throw usageError(`--order must be at most ${MAX_ORDER}, got ${order}`);
  const options = {
    model,
    items: a.items,
    corpus: (a.corpus as string | undefined) ?? null,
    baselines: Boolean(a.baselines),
    ngramOrder: order,
    jacobian: Boolean(a.jacobian),
    jacobianMode: oneOf('jacobian mode', a['jacobian-mode'], ['h', 'state'] as const),
    batchSize: positiveInt('--batch', a.batch),
    scoresOut: (a.scores as string | undefined) ?? null,
    onProgress: progress,
  };
  const backend = await startBackend(String(a.backend));
  const stops = new StopRequests(
    (signal) => `${signal}: stopping the evaluation (again: at once)`,
    (signal) => `second ${signal}: stopped at once; nothing was written`,
  );
  const res = await agreementEval({
    ...options,
    signal: stops.signal,
    onProgress: (m) => {
      noteBackend(backend, quiet);
      progress?.(m);
    },
  }).finally(() => stops.dispose());
  if (a.json) printJson({ backend, ...res });
  else process.stdout.write(`${renderEval(res)}\n`);
}

function fileList(flag: string, value: unknown): string[] {
  const files = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (files.length === 0) throw usageError(`${flag} is empty; give one or more CoNLL-U files, comma-separated`);
  return files;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** A row of counts under its labels. */
function countTable(title: string, rows: readonly CountRow[]): string {
  return table([title, ...rows.map((r) => r.label)], [['items', ...rows.map((r) => String(r.items))]]);
}

export function renderExtract(r: AgreementExtractResult): string {
  const sentences = r.treebanks.reduce((n, t) => n + t.sentences, 0);
  const words = r.treebanks.reduce((n, t) => n + t.words, 0);
  const forms = r.rules === 'pt' ? 'the treebanks’ forms, then Portuguese rules' : 'the treebanks’ own forms only';
  const kept = r.dropped.filter((d) => d.items > 0);
  const counts = (rows: readonly CountRow[]) => rows.map((c) => `${c.label} ${c.items}`).join(' · ');
  return [
    `${r.items} items from ${r.candidates} nominal subjects · ${r.treebanks.length} file(s), ${sentences} sentences, ` +
      `${words} words · wrong forms: ${forms} · ${(r.elapsedMs.total / 1000).toFixed(1)} s`,
    countTable('distance', r.byDistance),
    countTable('attractors', r.byAttractors),
    countTable('construction', r.byConstruction),
    `number: ${counts(r.byNumber)} · wrong form from: ${counts(r.wrongForms)}`,
    `left out (first failed check): ${counts(kept) || 'none'}`,
    r.out === null ? 'items not written (give --out FILE)' : `items written to ${r.out}`,
  ].join('\n');
}

export function renderCorpus(r: AgreementCorpusResult): string {
  const m = r.manifest;
  const split = (name: 'train' | 'valid' | 'test') =>
    `${name} ${m.counts[name].documents} documents, ${m.counts[name].sentences} sentences, ` +
    `${m.counts[name].tokens} tokens`;
  return [
    `${r.built ? 'built' : 'up to date, left as it is'}: ${r.dir} (${(r.elapsedMs / 1000).toFixed(1)} s) · ` +
      `${m.inputs.length} treebank file(s), split by document (seed ${m.options.seed})`,
    `${split('train')} · ${split('valid')} · ${split('test')}`,
    `items.jsonl: ${m.items.originals} test items and ${m.items.twins} nonce twins ` +
      `(of ${m.items.extractedAllSplits} items in all splits) · ` +
      "derived data: the treebanks' licenses (README.md there)",
    `train a word LM on it: seqlab train --task lm --corpus ${r.dir} …; ` +
      `score it: seqlab agreement eval --items ${r.dir}/items.jsonl`,
  ].join('\n');
}

const acc = (c: AccuracyCell | undefined) => (c === undefined || c.accuracy === null ? '-' : fmt(c.accuracy, 3));

/** One table per breakdown: a row per model, a column per label, and the item counts beneath. */
export function renderAccuracy(models: readonly { name: string; accuracy: AccuracySummary }[]): string {
  const first = models[0].accuracy;
  const header = [
    'model',
    'all',
    ...first.byVariant.map((c) => c.label),
    ...first.byNumber.map((c) => c.label),
    'sg/pl mean',
  ];
  const rowOf = (s: AccuracySummary) => [
    acc(s.overall),
    ...s.byVariant.map((c) => acc(c)),
    ...s.byNumber.map((c) => acc(c)),
    fmt(s.balanced, 3),
  ];
  const counts = (cells: AccuracyCell[]) => cells.map((c) => String(c.n));
  const parts = [
    'accuracy: p(correct | prefix) > p(wrong | prefix)',
    table(header, [
      ...models.map((m) => [m.name, ...rowOf(m.accuracy)]),
      ['items', String(first.overall.n), ...counts(first.byVariant), ...counts(first.byNumber), ''],
    ]),
    'sg/pl mean: the mean of the singular and plural accuracies (0.5 for always one number, as the frequency baseline)',
  ];
  const breakdowns: [string, (s: AccuracySummary) => AccuracyCell[]][] = [
    ['by distance (tokens between subject and verb)', (s) => s.byDistance],
    ['by attractors (nouns of the other number between them)', (s) => s.byAttractors],
    ['by construction (what stands between them; an item may have several)', (s) => s.byConstruction],
  ];
  for (const [title, cells] of breakdowns) {
    const labels = cells(first).filter((c) => c.n > 0);
    if (labels.length < 2) continue;
    const pick = (s: AccuracySummary) => labels.map((l) => acc(cells(s).find((c) => c.label === l.label)));
    parts.push(
      `${title}:`,
      table(
        ['model', ...labels.map((c) => c.label)],
        [...models.map((m) => [m.name, ...pick(m.accuracy)]), ['items', ...labels.map((c) => String(c.n))]],
      ),
    );
  }
  return parts.join('\n');
}

/** The gradient-flow link: accuracy by the decade of ‖∂h_verb/∂h_subject‖, one row per model. */
export function renderJacobianLink(models: readonly { name: string; link: JacobianLink }[]): string {
  const { norm, mode } = models[0].link;
  const labels = [...new Set(models.flatMap((m) => m.link.byNorm.map((c) => c.label)))];
  const sortKey = (l: string) => (l.startsWith('<') ? Number.NEGATIVE_INFINITY : Number(l.split('–')[0]));
  labels.sort((x, y) => sortKey(x) - sortKey(y));
  const cellOf = (m: (typeof models)[number], l: string) => {
    const c = m.link.byNorm.find((x) => x.label === l);
    return c === undefined || c.n === 0 ? '-' : `${acc(c)} (${c.n})`;
  };
  const distances = models[0].link.byDistance.filter((d) => d.n > 0).map((d) => d.label);
  const meanOf = (m: (typeof models)[number], l: string) =>
    fmt(m.link.byDistance.find((d) => d.label === l)?.geometricMean ?? null, 2);
  return [
    `accuracy by ‖∂h_verb/∂h_subject‖ (${norm}, top layer${mode === 'state' ? ', LSTM s = [h; c]' : ''}; ` +
      'items at distance ≥ 1, item count in brackets):',
    table(['model', ...labels], [...models.map((m) => [m.name, ...labels.map((l) => cellOf(m, l))])]),
    'geometric mean of ‖∂h_verb/∂h_subject‖ by distance:',
    table(
      ['model', ...distances],
      models.map((m) => [m.name, ...distances.map((l) => meanOf(m, l))]),
    ),
  ].join('\n');
}

export function renderEval(r: AgreementEvalResult): string {
  const c = r.model;
  const n = r.items;
  const models = [
    { name: c.cell, accuracy: r.lm.accuracy },
    ...(r.baselines
      ? [
          { name: `KN ${r.baselines.ngram.order}-gram`, accuracy: r.baselines.ngram.accuracy },
          { name: 'frequency', accuracy: r.baselines.frequency.accuracy },
        ]
      : []),
  ];
  const parts = [
    `${c.source}: ${c.cell} ${c.numLayers} × ${c.hiddenSize}, vocabulary ${c.vocabSize}` +
      `${c.step === null ? '' : `, step ${c.step}`} · items ${r.itemsFile}`,
    `items: ${n.total}; scored ${n.scored} (${n.originals} originals, ${n.nonce} nonce twins); left out ${n.oov} ` +
      `(${pct(n.oovShare)}): a verb form outside the vocabulary` +
      `${n.unknownPrefix > 0 ? ` (${n.unknownPrefix}: a prefix word, the vocabulary having no <unk>)` : ''}` +
      ` (more than ${100 * MAX_OOV_SHARE} % is refused)`,
    renderAccuracy(models),
  ];
  if (r.lm.jacobian) parts.push(renderJacobianLink([{ name: c.cell, link: r.lm.jacobian }]));
  parts.push(
    r.baselines
      ? `baselines counted on ${r.baselines.corpus} (${r.baselines.trainTokens} train tokens, the LM's vocabulary); ` +
          `KN test perplexity ${fmt(r.baselines.ngram.testPerplexity)}`
      : `baselines left out: ${r.baselinesSkipped}`,
    `time: load ${(r.elapsedMs.load / 1000).toFixed(1)} s, score ${(r.elapsedMs.score / 1000).toFixed(1)} s, ` +
      `Jacobians ${(r.elapsedMs.jacobian / 1000).toFixed(1)} s, ` +
      `baselines ${(r.elapsedMs.baselines / 1000).toFixed(1)} s`,
  );
  return parts.join('\n');
}
