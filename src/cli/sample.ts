import type { Argv } from 'yargs';
import { sampleRun } from '../commands/sample.js';
import { finiteNumber, positiveInt } from '../util/errors.js';
import { modelSourceArgs, noteBackend, printJson, startBackend, withCommon } from './common.js';

export function sampleOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .option('checkpoint', { type: 'string', describe: 'run directory or checkpoint.json of a --task lm run' })
    .option('weights', {
      type: 'string',
      describe: 'or: a word_language_model RNNModel as safetensors (with --vocab; the prompt split on whitespace)',
    })
    .option('vocab', { type: 'string', describe: 'the vocabulary file of --weights: one word a line, in id order' })
    .option('prompt', { type: 'string', default: '', describe: 'text to start from' })
    .option('length', { type: 'number', default: 30, describe: 'words to generate' })
    .option('temperature', { type: 'number', default: 1, describe: 'softmax temperature (> 0)' })
    .option('top-k', { type: 'number', describe: 'draw only among the k most likely words' });
}

type SampleArgs = Awaited<ReturnType<typeof sampleOptions>['argv']>;

export async function sampleCommand(argv: SampleArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const source = modelSourceArgs(a);
  const opts = {
    ...source,
    prompt: String(a.prompt),
    length: positiveInt('--length', a.length),
    temperature: finiteNumber('--temperature', a.temperature, 0, true),
    topK: a['top-k'] === undefined ? null : positiveInt('--top-k', a['top-k']),
    seed: finiteNumber('--seed', a.seed),
  };
  const backend = await startBackend(String(a.backend));
  const r = await sampleRun(opts);
  noteBackend(backend, Boolean(a.quiet));
  if (a.json) printJson(r);
  else process.stdout.write(`${r.text}\n`);
}
