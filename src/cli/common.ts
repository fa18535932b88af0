import type { Argv } from 'yargs';
import { BACKENDS, setBackend } from '../compute/backend.js';
import { usageError } from '../util/errors.js';
import { fmt } from '../util/format.js';

/** Options every results-producing command takes. */
export function withCommon<T>(y: Argv<T>) {
  return y
    .option('backend', {
      type: 'string',
      choices: BACKENDS,
      default: process.env.SEQLAB_BACKEND ?? 'auto',
      describe: 'tfjs backend (auto: tensorflow → wasm → cpu); env SEQLAB_BACKEND',
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print one JSON document on stdout (progress stays on stderr)',
    })
    .option('seed', { type: 'number', default: 1, describe: 'seed for weights, data order and inputs' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' });
}

/** Set the backend; noteBackend() says which one runs, once the command's inputs have passed their checks. */
export async function startBackend(requested: string): Promise<string> {
  return setBackend(requested);
}

let noted = false;

/**
 * Say once, on stderr, which backend runs. Commands call it when real work starts,
 * so bad input still gets exactly one line on stderr.
 */
export function noteBackend(backend: string, quiet: boolean): void {
  if (noted || quiet) return;
  noted = true;
  process.stderr.write(`seqlab: backend ${backend}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonNumbers, 2)}\n`);
}

/** JSON has no NaN/Infinity: write them as null rather than produce an invalid document. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/**
 * Metrics as readable lines: the plain ones on one line, each breakdown such as
 * accuracy@d=12 (counts n@… left out) on a line of its own: "accuracy by d: 8 1.00 · 12 0.98".
 */
export function metricLines(label: string, loss: number, metrics: Record<string, number | null>): string[] {
  const plain = Object.entries(metrics).filter(([k]) => !k.includes('@'));
  const lines = [`${label} loss ${fmt(loss)}  ${plain.map(([k, v]) => `${k} ${fmt(v)}`).join('  ')}`];
  const groups = new Map<string, string[]>();
  for (const [k, v] of Object.entries(metrics)) {
    const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
    if (!m || m[1] === 'n') continue;
    const g = `${m[1]} by ${m[2]}`;
    groups.set(g, [...(groups.get(g) ?? []), `${m[3]} ${fmt(v, 3)}`]);
  }
  for (const [g, items] of groups) lines.push(`  ${g}: ${items.join(' · ')}`);
  return lines;
}

/**
 * A word LM named on the command line: --checkpoint (a seqlab run), or --weights with --vocab
 * (PyTorch's word_language_model as safetensors and its vocabulary file).
 */
export function modelSourceArgs(
  a: Record<string, unknown>,
): { checkpoint: string } | { weights: string; vocab: string } {
  const [checkpoint, weights, vocab] = [a.checkpoint, a.weights, a.vocab].map((v) =>
    v === undefined ? undefined : String(v),
  );
  if (checkpoint !== undefined && (weights !== undefined || vocab !== undefined))
    throw usageError('give --checkpoint or --weights with --vocab, not both');
  if (checkpoint !== undefined) return { checkpoint };
  if (weights !== undefined && vocab !== undefined) return { weights, vocab };
  if (weights !== undefined)
    throw usageError('--weights needs --vocab: the vocabulary file, one word a line in id order');
  if (vocab !== undefined) throw usageError('--vocab needs --weights: the safetensors file of the model');
  throw usageError(
    'name the model: --checkpoint RUN (a --task lm run), or --weights model.safetensors --vocab vocab.txt',
  );
}
