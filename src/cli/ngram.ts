import type { Argv } from 'yargs';
import { EOS_MODES } from '../data/corpus.js';
import { BOUNDARIES, MAX_ORDER, NGRAM_DEFAULTS } from '../data/ngram.js';
import { TOKENIZER_NAMES } from '../data/tokenize.js';
import { ngramRun } from '../commands/ngram.js';
import { finiteNumber, oneOf, positiveInt, usageError } from '../util/errors.js';
import { printJson } from './common.js';
import { fmt, table } from '../util/format.js';

export function ngramOptions<T>(y: Argv<T>) {
  return y
    .option('corpus', {
      type: 'string',
      describe: '"brown", a UTF-8 text file, or a directory with train.txt, valid.txt, test.txt',
    })
    .option('order', {
      type: 'number',
      default: NGRAM_DEFAULTS.order,
      describe: `n of the Kneser–Ney model (1–${MAX_ORDER})`,
    })
    .option('min-count', {
      type: 'number',
      describe: 'keep words seen ≥ N times in train (default: brown 4, text file 2, directory 1)',
    })
    .option('vocab-size', {
      type: 'number',
      describe: 'cap the vocabulary at N ids, <unk> and <eos> included (most frequent words first)',
    })
    .option('vocab', {
      type: 'string',
      describe: 'use a saved vocabulary (its JSON, or a checkpoint holding one) instead of building it',
    })
    .option('save-vocab', { type: 'string', describe: 'write the vocabulary used to this JSON file' })
    .option('lowercase', { type: 'boolean', default: false, describe: 'lower-case the words' })
    .option('tokenizer', {
      type: 'string',
      default: 'en',
      describe:
        `text files: ${TOKENIZER_NAMES.join(', ')} ` +
        '(en: natural TreebankWordTokenizer, pt: natural AggressiveTokenizerPt)',
    })
    .option('eos', {
      type: 'string',
      default: 'line',
      describe: `text files: one <eos> per ${EOS_MODES.join(' or per ')}`,
    })
    .option('boundary', {
      type: 'string',
      default: NGRAM_DEFAULTS.boundary,
      describe: 'stream: contexts run across <eos> (as a recurrent LM carrying its state); sentence: they stop at it',
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print one JSON document on stdout (progress stays on stderr)',
    })
    .option('seed', {
      type: 'number',
      default: 1,
      describe: 'accepted for scripts; the n-gram model has no randomness',
    })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' });
}

type NgramArgs = Awaited<ReturnType<typeof ngramOptions>['argv']>;

export async function ngramCommand(argv: NgramArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  if (typeof a.corpus !== 'string' || a.corpus === '')
    throw usageError(
      '--corpus is required: "brown", a UTF-8 text file, or a directory with train.txt, valid.txt, test.txt',
    );
  finiteNumber('--seed', a.seed);
  const quiet = Boolean(a.quiet);
  const order = positiveInt('--order', a.order);
  if (order > MAX_ORDER) throw usageError(`--order must be at most ${MAX_ORDER}, got ${order}`);
  const res = ngramRun({
    corpus: a.corpus,
    order,
    minCount: a['min-count'] === undefined ? null : positiveInt('--min-count', a['min-count']),
    vocabSize: a['vocab-size'] === undefined ? null : positiveInt('--vocab-size', a['vocab-size']),
    vocab: (a.vocab as string | undefined) ?? null,
    saveVocab: (a['save-vocab'] as string | undefined) ?? null,
    lowercase: Boolean(a.lowercase),
    tokenizer: oneOf('tokenizer', a.tokenizer, TOKENIZER_NAMES),
    eos: oneOf('eos mode', a.eos, EOS_MODES),
    boundary: oneOf('boundary', a.boundary, BOUNDARIES),
    onProgress: quiet ? undefined : (m) => process.stderr.write(`seqlab: ${m}\n`),
  });
  if (a.json) {
    printJson(res);
    return;
  }
  const { corpus, vocabulary: v, model, perplexity: ppl } = res;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const rows = (['train', 'valid', 'test'] as const).map((s) => {
    const st = corpus.splits[s];
    return [s, st.tokens, st.sentences, st.words, pct(v.unkRate[s]), s === 'train' ? '-' : ppl[s].toFixed(2)];
  });
  const rule =
    v.minCount === null
      ? `from ${v.source}`
      : `min count ${v.minCount}${v.maxSize === null ? '' : `, at most ${v.maxSize}`}`;
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  const elapsed = res.elapsedMs;
  const discounts = model.discounts[model.order - 1].map((d) => fmt(d, 3)).join(' ');
  process.stdout.write(
    `${[
      `Kneser–Ney ${model.order}-gram (interpolated, modified) · ${corpus.description} · ` +
        `boundary ${model.boundary} · ${seconds(elapsed.total)} s`,
      `split: ${corpus.splitRule}`,
      `vocabulary: ${v.size} ids incl. <unk>, <eos> (${rule}; fingerprint ${v.fingerprint})`,
      table(['split', 'tokens', 'sentences', 'words', '<unk>', 'ppl'], rows),
      `n-grams per order: ${model.ngramTypes.join(' ')} · discounts D1/D2/D3+ of order ${model.order}: ${discounts}`,
      `time: corpus ${seconds(elapsed.corpus)} s, vocabulary ${seconds(elapsed.vocabulary)} s, ` +
        `counting ${seconds(elapsed.train)} s, scoring ${seconds(elapsed.evaluate)} s`,
    ].join('\n')}\n`,
  );
}
