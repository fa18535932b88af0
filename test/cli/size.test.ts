import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/util/errors.js';
import { expectOneLineError, runSeqlab } from './run.js';

// Sizes that cannot fit, as a user types them (issue 17): one line naming the estimate and what to
// lower, exit 2, before anything of that size is allocated. The time bound is loose: it is Node's
// start and the imports (about 1 s of CPU), and machines running other work stretch it; the
// check itself takes milliseconds (test/training/budget.test.ts).

const W = ['--backend', 'wasm'];
const usage = EXIT_CODES.usage;

/** Run `args`; its wall time in ms with the result. */
async function timed(args: string[]) {
  const t0 = performance.now();
  const r = await runSeqlab(args);
  return { r, ms: performance.now() - t0 };
}

describe.concurrent('sizes that cannot fit: one line, exit 2', () => {
  // [args, what the line says]
  const cases: [string[], RegExp][] = [
    [
      ['probe', '--cell', 'lstm', '--hidden', '100000', '--seq-len', '10'],
      /^seqlab: probe needs about [\d.]+ TiB of tensor memory .*3\.8 GiB heap holds: lower --hidden or --batch$/,
    ],
    [
      ['probe', '--cell', 'lstm', '--seq-len', '100000000'],
      /^seqlab: probe needs about 870 GiB of tensor memory \(activations of 100000000 steps .*lower --seq-len/,
    ],
    [
      ['probe', '--cell', 'lstm', '--hidden', '1024', '--seq-len', '30000'],
      /^seqlab: probe would take at least [\d.]+ hours \(more than --max-hours 1\): .*pass --max-hours 0/,
    ],
    [
      ['train', '--task', 'adding', '--seq-len', '100000000', '--out', '/nonexistent/never'],
      /^seqlab: train needs about/,
    ],
    [
      ['compare', '--task', 'copy', '--seq-len', '10,50000000', '--out', '/nonexistent/never'],
      /^seqlab: compare needs/,
    ],
    [['bench', '--vocab', '50000000', '--hidden', '512'], /^seqlab: bench needs about .*lower --hidden/],
  ];
  for (const [args, line] of cases) {
    it(`seqlab ${args.join(' ')}`, async () => {
      const { r, ms } = await timed([...args, ...W]);
      expectOneLineError(r, usage, line);
      expect(ms).toBeLessThan(30_000);
    });
  }
});
