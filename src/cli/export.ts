import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { exportRun } from '../commands/export.js';
import { WRITE_DTYPES } from '../data/safetensors.js';
import { oneOf, usageError } from '../util/errors.js';
import { noteBackend, printJson, startBackend, withCommon } from './common.js';

export function exportOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .option('checkpoint', { type: 'string', describe: 'run directory or checkpoint.json to export' })
    .option('out', { type: 'string', describe: 'the safetensors file to write (PyTorch names)' })
    .option('vocab-out', { type: 'string', describe: 'a word LM’s vocabulary file (default: vocab.txt beside --out)' })
    .option('dedupe-tied', {
      type: 'boolean',
      default: false,
      describe: 'tied read-out written once, as safetensors’ save_model does (load with load_model)',
    })
    .option('dtype', { type: 'string', default: 'F32', describe: `element type: ${WRITE_DTYPES.join(', ')}` })
    .option('with-head', {
      type: 'boolean',
      default: false,
      describe: 'models without a vocabulary: also write the read-out as head.weight, head.bias',
    })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace files that exist' });
}

type ExportArgs = Awaited<ReturnType<typeof exportOptions>['argv']>;

export async function exportCommand(argv: ExportArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  if (a.checkpoint === undefined) throw usageError('--checkpoint is required: the run directory to export');
  if (a.out === undefined) throw usageError('--out is required: the safetensors file to write');
  const opts = {
    checkpoint: String(a.checkpoint),
    out: String(a.out),
    vocabOut: a['vocab-out'] === undefined ? undefined : String(a['vocab-out']),
    dedupeTied: Boolean(a['dedupe-tied']),
    dtype: oneOf('dtype', a.dtype, WRITE_DTYPES),
    withHead: Boolean(a['with-head']),
    overwrite: Boolean(a.overwrite),
  };
  for (const [flag, path] of [
    ['--out', opts.out],
    ['--vocab-out', opts.vocabOut],
  ] as const) {
    if (path !== undefined && existsSync(path) && !opts.overwrite)
      throw usageError(`${flag} ${path} exists; add --overwrite to replace it`);
  }
  const backend = await startBackend(String(a.backend));
  const r = await exportRun(opts);
  noteBackend(backend, Boolean(a.quiet));
  if (a.json) {
    printJson(r);
    return;
  }
  const what =
    r.layout === 'RNNModel' ? `word_language_model RNNModel (${r.rnnType}${r.tied ? ', tied' : ''})` : r.rnnType;
  process.stdout.write(
    `${r.checkpoint} (step ${r.step}) → ${r.weights} (${what}, ${r.dtype}, ${r.bytes} bytes)` +
      `${r.vocab ? ` + ${r.vocab}` : ''}\n`,
  );
}
