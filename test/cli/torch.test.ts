import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/util/errors.js';
import { FIXTURES, fixtureJson } from '../commands/torch-helpers.js';
import { ROOT, expectOneLineError, runSeqlab } from './run.js';

// PyTorch's files through the `seqlab` binary: every lying safetensors file is one "seqlab: …" line
// and exit 3 (whichever command reads it), nothing read past its end; the new commands' usage errors
// are one line and exit 2; and the commands run end to end on the fixtures.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-cli-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const W = ['--backend', 'wasm', '--quiet'];
const vocab = join(FIXTURES, 'vocab.txt');
const corpus = join(FIXTURES, 'corpus');

/** A safetensors file from its header (JSON text or raw bytes) and data; `declared` overrides the header length. */
function safetensors(header: string | Uint8Array, data = new Uint8Array(0), declared?: number): Uint8Array {
  const text = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});
const h = (o: unknown) => JSON.stringify(o);
const zeros = (n: number) => new Uint8Array(n);

// [name, bytes, what the line must say]
const LIES: [string, () => Uint8Array, RegExp][] = [
  ['header length past the end', () => safetensors(h({}), zeros(0), 4096), /header length 4096 runs past the end/],
  ['shorter than the length field', () => new Uint8Array(5), /fewer than the 8 of the header length/],
  [
    'offsets outside the data',
    () => safetensors(h({ a: entry('F32', [4], 0, 16) }), zeros(8)),
    /data_offsets \[0, 16\] outside the data \(8 bytes\)/,
  ],
  [
    'overlapping tensors',
    () => safetensors(h({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }), zeros(12)),
    /tensors "a" and "b" overlap/,
  ],
  [
    'a hole between tensors',
    () => safetensors(h({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }), zeros(12)),
    /belong to no tensor \(a hole before "b"\)/,
  ],
  [
    'bytes after the last tensor',
    () => safetensors(h({ a: entry('F32', [1], 0, 4) }), zeros(8)),
    /belong to no tensor/,
  ],
  ['an unknown dtype', () => safetensors(h({ a: entry('F24', [1], 0, 3) }), zeros(3)), /unknown dtype "F24"/],
  ['an integer dtype', () => safetensors(h({ a: entry('I64', [1], 0, 8) }), zeros(8)), /dtype I64; seqlab reads/],
  ['a header that is not UTF-8', () => safetensors(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/],
  ['a header that is not JSON', () => safetensors('{"a": '), /the header is not valid JSON/],
  [
    'a shape that does not match its bytes',
    () => safetensors(h({ a: entry('F32', [3, 2], 0, 16) }), zeros(16)),
    /has shape \[3, 2\] \(F32: 24 bytes\) but data_offsets \[0, 16\] hold 16 bytes/,
  ],
  [
    'a name given twice',
    () => safetensors(`{"a": ${h(entry('F32', [1], 0, 4))}, "a": ${h(entry('F32', [1], 4, 8))}}`, zeros(8)),
    /lists "a" twice/,
  ],
];

const paths: Record<string, string> = {};
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  for (const [name, bytes] of LIES) {
    paths[name] = join(tmp, `${name.replace(/\W+/g, '-')}.safetensors`);
    writeFileSync(paths[name], bytes());
  }
});

describe.concurrent('a lying safetensors file: exit 3, one line', () => {
  for (const [name, , message] of LIES) {
    it(`probe --weights: ${name}`, async () => {
      const r = await runSeqlab(['probe', '--weights', paths[name], ...W]);
      expectOneLineError(r, EXIT_CODES.input, message);
      expect(r.stderr).toMatch(/is not a valid safetensors file: /);
    });
  }
  for (const name of ['header length past the end', 'overlapping tensors', 'a name given twice']) {
    it(`eval-lm --weights: ${name}`, async () => {
      const r = await runSeqlab(['eval-lm', '--weights', paths[name], '--vocab', vocab, '--corpus', corpus, ...W]);
      expectOneLineError(r, EXIT_CODES.input, LIES.find(([n]) => n === name)![2]);
    });
  }
});

describe.concurrent('the new commands: usage mistakes are one line, exit 2', () => {
  const weights = join(FIXTURES, 'lm-lstm.safetensors');
  const cases: [string, string[], RegExp][] = [
    ['eval-lm without a model', ['eval-lm', '--corpus', corpus], /name the model: --checkpoint RUN/],
    [
      'eval-lm --weights without --vocab',
      ['eval-lm', '--weights', weights, '--corpus', corpus],
      /--weights needs --vocab/,
    ],
    ['eval-lm without text', ['eval-lm', '--weights', weights, '--vocab', vocab], /--corpus DIR .* or --text FILE/],
    [
      'eval-lm with an unknown split',
      ['eval-lm', '--weights', weights, '--vocab', vocab, '--corpus', corpus, '--splits', 'dev'],
      /unknown split "dev"/,
    ],
    ['sample with --checkpoint and --weights', ['sample', '--checkpoint', tmp, '--weights', weights], /not both/],
    ['export without --out', ['export', '--checkpoint', tmp], /--out is required/],
    ['export --dtype F16', ['export', '--checkpoint', tmp, '--out', join(tmp, 'x'), '--dtype', 'F16'], /unknown dtype/],
    ['probe --text without --vocab', ['probe', '--weights', weights, '--text', join(corpus, 'test.txt')], /needs/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => expectOneLineError(await runSeqlab([...args, ...W]), EXIT_CODES.usage, message));
  }
});

describe('the new commands end to end', () => {
  it('eval-lm --json: PyTorch’s perplexities', async () => {
    const r = await runSeqlab([
      'eval-lm',
      '--weights',
      join(FIXTURES, 'lm-gru-tied.safetensors'),
      '--vocab',
      vocab,
      '--corpus',
      corpus,
      '--json',
      ...W,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const ref = fixtureJson('lm-gru-tied.json').float32;
    const doc = JSON.parse(r.stdout);
    for (const row of doc.rows) {
      expect(Math.abs(row.perplexity / ref[row.name].perplexity - 1)).toBeLessThan(1e-4);
    }
  });

  it('probe notes on stderr that a plain RNN’s tanh was assumed, and not when told', async () => {
    const weights = join(FIXTURES, 'cell-rnn-tanh.safetensors');
    const assumed = await runSeqlab(['probe', '--weights', weights, '--seq-len', '5', ...W]);
    expect(assumed.status).toBe(0);
    expect(assumed.stderr).toMatch(/^seqlab: note: .*does not say the RNN's nonlinearity; tanh assumed/);
    const told = await runSeqlab(['probe', '--weights', weights, '--seq-len', '5', '--nonlinearity', 'tanh', ...W]);
    expect(told.stderr).toBe('');
  });

  it('export writes a safetensors file and vocab.txt that eval-lm reads back to the same perplexity', async () => {
    const run = join(tmp, 'run');
    const train = await runSeqlab([
      'train',
      '--task',
      'lm',
      '--corpus',
      corpus,
      '--hidden',
      '6',
      '--steps',
      '3',
      '--batch',
      '4',
      '--bptt',
      '8',
      '--out',
      run,
      '--no-report',
      ...W,
    ]);
    expect(train.status, train.stderr).toBe(0);
    const out = join(tmp, 'export', 'model.safetensors');
    const exported = await runSeqlab(['export', '--checkpoint', run, '--out', out, ...W]);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(
      /→ .*model\.safetensors \(word_language_model RNNModel \(LSTM\), F32, \d+ bytes\) \+ /,
    );
    expect(
      readFileSync(join(tmp, 'export', 'vocab.txt'), 'utf8')
        .split('\n')
        .slice(0, 2),
    ).toEqual(['<unk>', '<eos>']);
    const ppl = async (args: string[]) => {
      const r = await runSeqlab(['eval-lm', ...args, '--text', join(corpus, 'valid.txt'), '--json', ...W]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout).rows[0].perplexity;
    };
    const [a, b] = await Promise.all([
      ppl(['--checkpoint', run]),
      ppl(['--weights', out, '--vocab', join(tmp, 'export', 'vocab.txt')]),
    ]);
    expect(b).toBe(a);
    const again = await runSeqlab(['export', '--checkpoint', run, '--out', out, ...W]);
    expectOneLineError(again, EXIT_CODES.usage, /exists; add --overwrite/);
  });
});
