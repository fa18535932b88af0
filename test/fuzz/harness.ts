import * as fc from 'fast-check';
import { expect } from 'vitest';
import { SeqlabError } from '../../src/util/errors.js';

/**
 * Property-based fuzzing of every input a user hands seqlab (issue 17). Each input kind is a
 * parser (or a command's preparation) and an arbitrary of inputs; the property is the CLI's,
 * stated for the library: the parser returns, or throws a SeqlabError of a user's kind (usage,
 * input, io: exit 2, 3, 5) whose message is one line (NOT_ONE_LINE: no line break of any kind,
 * no control character a terminal would act on). Anything else (a TypeError, a RangeError, a
 * stack trace, a message over several lines, a warning) fails and fast-check shrinks it to a
 * small input.
 *
 * The kinds: option values, weights JSON, inputs, checkpoints, run directories, corpora, sweep
 * files, --shard and the lab's query (inputs.test.ts); safetensors weights, CoNLL-U treebanks and
 * agreement items files (data.test.ts); a seeded sample through the binary (cli.test.ts). A new
 * kind is one more `fuzzInput(arbitrary, parse)` call with its own arbitrary: the property and the
 * case count stay the same.
 */

/** Cases per input kind (issue 17: at least 1 000). */
export const CASES = 1000;
/** One seed for the whole suite, so a failure is reproduced by running it again. */
export const SEED = 17;

export type Outcome = 'ok' | 'usage' | 'input' | 'io';

/**
 * What keeps a message from being one clean line on a terminal: a line break of any kind (\n, \r,
 * U+2028, U+2029, U+0085, \v, \f) or another control character (an escape sequence would reach
 * the terminal). A tab is fine.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const NOT_ONE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

/** What `fn(input)` does: returns (ok), or fails as a user's mistake; anything else is rethrown as a failure. */
export async function outcomeOf<T>(fn: (input: T) => unknown, input: T): Promise<Outcome> {
  try {
    await fn(input);
    return 'ok';
  } catch (e) {
    if (!(e instanceof SeqlabError) || !['usage', 'input', 'io'].includes(e.code))
      throw new Error(`not a user error: ${(e as Error)?.stack ?? String(e)}`);
    if (NOT_ONE_LINE.test(e.message) || e.message.trim() === '')
      throw new Error(`not one line: ${JSON.stringify(e.message)}`);
    return e.code as Outcome;
  }
}

/**
 * Run the property over CASES inputs of `arbitrary`; returns how many cases ended in each outcome,
 * so a test can also check that the fuzzing reached both valid and invalid inputs.
 */
export async function fuzzInput<T>(
  arbitrary: fc.Arbitrary<T>,
  parse: (input: T) => unknown,
  numRuns = CASES,
): Promise<Record<Outcome, number>> {
  const counts: Record<Outcome, number> = { ok: 0, usage: 0, input: 0, io: 0 };
  // a library printing a warning of its own (process.emitWarning) would be a second stderr line
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        counts[await outcomeOf(parse, input)]++;
      }),
      { numRuns, seed: SEED, endOnFailure: true },
    );
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  } finally {
    process.removeListener('warning', onWarning);
  }
  expect(warnings, 'warnings printed while parsing').toEqual([]);
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(numRuns);
  return counts;
}

/** Strings a user might type for a number or a name, mixed with anything at all. */
export const optionValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-0',
    '1',
    '2',
    '-1',
    '1.5',
    '1e3',
    '1e400',
    '-1e400',
    'NaN',
    'nan',
    'Infinity',
    '-Infinity',
    '0x10',
    '1_000',
    '١٢',
    'true',
    'false',
    'null',
    '[]',
    '{}',
    '--',
    '-',
    'lstm',
    'rnn',
    'gru',
    'adam',
    'sgd',
    'h',
    'state',
    'adding',
    'copy',
    'step',
    'plateau',
  ),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

/** JSON-like values of any shape (objects, arrays, strings, numbers, null), to nest anywhere. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/** A numeric tensor as nested arrays [rows][cols]: mostly well formed, else with one bad entry, ragged, or anything. */
export function matrixLike(rows: number, cols: number): fc.Arbitrary<unknown> {
  const good = fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: cols, maxLength: cols }), {
    minLength: rows,
    maxLength: rows,
  });
  const badEntry = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, null, '0.5', true, [], {});
  return fc.oneof(
    { weight: 12, arbitrary: good },
    {
      weight: 1,
      arbitrary: fc.tuple(good, fc.nat(), fc.nat(), badEntry).map(([m, r, c, v]) => {
        if (rows > 0 && cols > 0) m[r % rows][c % cols] = v as number;
        return m;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.array(fc.array(fc.double({ noNaN: true }), { maxLength: cols + 1 }), { maxLength: rows + 1 }),
    },
    { weight: 1, arbitrary: anyJson },
  );
}
