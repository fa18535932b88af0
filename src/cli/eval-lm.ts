import type { Argv } from 'yargs';
import { EVAL_SPLITS, evalLMRun } from '../commands/eval-lm.js';
import { NONLINEARITIES } from '../models/activations.js';
import { CELL_KINDS, cellKindList } from '../models/registry.js';
import { WORD_LM_EVAL_DEFAULTS } from '../training/word-lm-eval.js';
import { oneOf, positiveInt, usageError } from '../util/errors.js';
import { fmt, table } from '../util/format.js';
import { modelSourceArgs, noteBackend, printJson, startBackend, withCommon } from './common.js';
import { StopRequests } from './signals.js';

export function evalLMOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .option('checkpoint', { type: 'string', describe: 'run directory or checkpoint.json of a --task lm run' })
    .option('weights', { type: 'string', describe: 'or: a word_language_model RNNModel as safetensors (with --vocab)' })
    .option('vocab', { type: 'string', describe: 'the vocabulary file of --weights: one word a line, in id order' })
    .option('corpus', {
      type: 'string',
      describe: 'a word_language_model data directory: train.txt, valid.txt, test.txt',
    })
    .option('splits', {
      type: 'string',
      default: 'valid,test',
      describe: `splits of --corpus: ${EVAL_SPLITS.join(', ')}`,
    })
    .option('text', { type: 'string', describe: 'or: one text file' })
    .option('batch', {
      type: 'number',
      default: WORD_LM_EVAL_DEFAULTS.batchSize,
      describe: 'parallel streams (word_language_model’s eval_batch_size)',
    })
    .option('bptt', { type: 'number', default: WORD_LM_EVAL_DEFAULTS.bptt, describe: 'steps per chunk' })
    .option('cell', { type: 'string', describe: `--weights: the cell the shapes must show (${cellKindList()})` })
    .option('nonlinearity', {
      type: 'string',
      describe: `--weights, a plain RNN: ${NONLINEARITIES.join(', ')} (default: the file’s rnn_type, else tanh)`,
    });
}

type EvalLMArgs = Awaited<ReturnType<typeof evalLMOptions>['argv']>;

export async function evalLMCommand(argv: EvalLMArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const model = modelSourceArgs(a);
  if ((a.corpus === undefined) === (a.text === undefined))
    throw usageError('give --corpus DIR (train.txt, valid.txt, test.txt) or --text FILE, one of them');
  const splits = String(a.splits)
    .split(',')
    .map((s) => oneOf('split', s.trim(), EVAL_SPLITS));
  const opts = {
    model,
    corpus: a.corpus as string | undefined,
    splits,
    text: a.text as string | undefined,
    batchSize: positiveInt('--batch', a.batch),
    bptt: positiveInt('--bptt', a.bptt),
    cell: a.cell === undefined ? undefined : oneOf('cell', a.cell, CELL_KINDS),
    nonlinearity: a.nonlinearity === undefined ? undefined : oneOf('nonlinearity', a.nonlinearity, NONLINEARITIES),
  };
  const backend = await startBackend(String(a.backend));
  const stops = new StopRequests(
    (signal) => `${signal}: stopping the evaluation (again: at once)`,
    (signal) => `second ${signal}: stopped at once`,
  );
  const r = await evalLMRun({ ...opts, signal: stops.signal }).finally(() => stops.dispose());
  noteBackend(backend, Boolean(a.quiet));
  if (a.json) {
    printJson({ backend, ...r });
    return;
  }
  const rows = r.rows.map((row) => [
    row.name,
    row.tokens,
    row.predicted,
    fmt(row.unkRate, 3),
    fmt(row.loss, 4),
    row.perplexity.toFixed(2),
  ]);
  process.stdout.write(
    `${r.model} · ${r.vocabSize} words · ${r.params} parameters · batch ${r.batchSize} · bptt ${r.bptt} · ` +
      `${(r.elapsedMs / 1000).toFixed(2)} s\n` +
      `${table(['text', 'tokens', 'predicted', '<unk>', 'loss', 'perplexity'], rows)}\n`,
  );
}
