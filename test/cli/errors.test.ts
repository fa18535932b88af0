import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { EXIT_CODES } from '../../src/util/errors.js';
import * as ref from '../reference/cells64.js';
import { qrLyapunov64 } from '../reference/eig64.js';
import { ROOT, runSeqlab, type Result } from './run.js';

// The `seqlab` binary as a user runs it: every failure is one "seqlab: …" line on
// stderr, nothing on stdout, no stack trace, a non-zero exit; --json prints one document.
// Each case is a separate node process (≈1 s), so the cases run concurrently.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const seqlab = (args: string[]): Promise<Result> => runSeqlab(args);

const file = (name: string, content: unknown) => {
  const path = join(tmp, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

/** A PyTorch-style state_dict from float64 weights: [G·H, I] etc. as nested rows. */
const rows = (flat: number[], cols: number) =>
  Array.from({ length: flat.length / cols }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
function stateDict(layers: ref.Weights64[], inputSize: number, H: number) {
  const sd: Record<string, unknown> = {};
  layers.forEach((w, l) => {
    sd[`weight_ih_l${l}`] = rows(w.weight_ih, l === 0 ? inputSize : H);
    sd[`weight_hh_l${l}`] = rows(w.weight_hh, H);
    sd[`bias_ih_l${l}`] = w.bias_ih;
    sd[`bias_hh_l${l}`] = w.bias_hh;
  });
  return sd;
}

// a one-layer GRU, H 2, I 1
const gruSpec: ref.Spec64 = { kind: 'gru', inputSize: 1, hiddenSize: 2 };
const gruWeights = ref.randomWeights64(new Rng('cli-gru'), gruSpec);
const gruDoc = { cell: 'gru', state_dict: stateDict([gruWeights], 1, 2) };

const paths: Record<string, string> = {};
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  paths.empty = file('empty.json', '');
  paths.notJson = file('not-json.json', '{"cell": "gru", "state_dict": {');
  paths.gru = file('gru.json', gruDoc);
  const { cell: _cell, ...noCell } = gruDoc;
  paths.gruNoCell = file('gru-no-cell.json', noCell);
  paths.badHH = file('bad-hh.json', {
    ...gruDoc,
    state_dict: { ...gruDoc.state_dict, weight_hh_l0: rows(new Array(6 * 3).fill(0.1), 3) },
  });
  const ragged = structuredClone(gruDoc.state_dict) as Record<string, number[][]>;
  ragged.weight_ih_l0[2] = [0.1, 0.2];
  paths.raggedWeights = file('ragged-weights.json', { cell: 'gru', state_dict: ragged });
  paths.raggedInputs = file('ragged-inputs.json', { inputs: [[0.1], [0.2, 0.3], [0.4]] });
  paths.wideInputs = file('wide-inputs.json', {
    inputs: [
      [0.1, 0.2],
      [0.3, 0.4],
    ],
  });
  mkdirSync(join(tmp, 'busy'));
  writeFileSync(join(tmp, 'busy', 'notes.txt'), 'keep me');
});

/** Exactly one line on stderr, "seqlab: …", no stack; nothing on stdout; a non-zero exit. */
function expectCleanFailure(r: Result, names: RegExp[], exitCode?: number) {
  expect(r.stdout, 'stdout').toBe('');
  expect(r.stderr).not.toContain('    at ');
  const lines = r.stderr.split('\n');
  expect(lines.at(-1), 'stderr ends with a newline').toBe('');
  expect(lines.slice(0, -1), `stderr: ${JSON.stringify(r.stderr)}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^seqlab: \S/);
  for (const re of names) expect(lines[0]).toMatch(re);
  expect(r.status).not.toBe(0);
  if (exitCode !== undefined) expect(r.status).toBe(exitCode);
}

const W = ['--backend', 'wasm', '--quiet'];
const { usage, input } = EXIT_CODES;

describe.concurrent('seqlab: user mistakes are one clean line', () => {
  // [label, args, what the line must name, exit code]
  const cases: [string, () => string[], RegExp[], number][] = [
    [
      'missing weights file',
      () => ['probe', '--cell', 'gru', '--weights', join(tmp, 'nope.json'), '--json', ...W],
      [/not found/, /nope\.json/],
      input,
    ],
    [
      'empty weights file',
      () => ['probe', '--cell', 'gru', '--weights', paths.empty, '--json', ...W],
      [/empty/, /empty\.json/],
      input,
    ],
    [
      'non-JSON weights file',
      () => ['probe', '--cell', 'gru', '--weights', paths.notJson, '--json', ...W],
      [/not valid JSON/, /not-json\.json/],
      input,
    ],
    [
      'a gru weights file with --cell lstm',
      () => ['probe', '--cell', 'lstm', '--weights', paths.gru, ...W],
      [/gru/, /lstm/],
      input,
    ],
    [
      'gru shapes (no "cell" field) with --cell lstm',
      () => ['probe', '--cell', 'lstm', '--weights', paths.gruNoCell, ...W],
      [/weight_hh_l0/, /\[6, 2\]/, /\[8, 2\]/],
      input,
    ],
    [
      'weight_hh_l0 of the wrong shape',
      () => ['probe', '--cell', 'gru', '--weights', paths.badHH, ...W],
      [/weight_hh_l0/, /\[6, 3\]/],
      input,
    ],
    [
      'ragged rows in the weights',
      () => ['probe', '--cell', 'gru', '--weights', paths.raggedWeights, ...W],
      [/weight_ih_l0/, /ragged/],
      input,
    ],
    [
      'ragged rows in --inputs',
      () => ['probe', '--cell', 'gru', '--weights', paths.gru, '--inputs', paths.raggedInputs, ...W],
      [/ragged/, /ragged-inputs\.json/],
      input,
    ],
    [
      'inputs with the wrong feature count',
      () => ['probe', '--cell', 'gru', '--weights', paths.gru, '--inputs', paths.wideInputs, ...W],
      [/2 features/, /expects 1/],
      input,
    ],
    [
      'missing --inputs file',
      () => ['probe', '--cell', 'rnn', '--hidden', '2', '--inputs', join(tmp, 'none.json'), ...W],
      [/inputs file not found/],
      input,
    ],
    ['unknown cell', () => ['probe', '--cell', 'lsmt', ...W], [/"lsmt"/, /rnn/, /lstm/, /gru/], usage],
    ['unknown cell (train)', () => ['train', '--cell', 'lsmt', ...W], [/"lsmt"/], usage],
    ['unknown option (probe)', () => ['probe', '--frobnicate', ...W], [/frobnicate/], usage],
    ['unknown option (train)', () => ['train', '--frobnicate', '1', ...W], [/frobnicate/], usage],
    ['unknown command', () => ['frobnicate', ...W], [/frobnicate/], usage],
    ['unknown command close to a known one', () => ['prob', ...W], [/prob\b/], usage],
    ['no command', () => [...W], [/command/], usage],
    ['--hidden 0 (probe)', () => ['probe', '--hidden', '0', ...W], [/--hidden/, /positive integer/], usage],
    ['--hidden 0 (train)', () => ['train', '--hidden', '0', ...W], [/--hidden/, /positive integer/], usage],
    ['--seq-len -3 (probe)', () => ['probe', '--seq-len', '-3', ...W], [/--seq-len/, /-3/], usage],
    ['--seq-len -3 (train)', () => ['train', '--seq-len', '-3', ...W], [/--seq-len/, /-3/], usage],
    ['--lr nan', () => ['train', '--lr', 'nan', ...W], [/--lr/, /finite/, /NaN/i], usage],
    ['--steps 1.5', () => ['train', '--steps', '1.5', ...W], [/--steps/, /1\.5/], usage],
    ['unknown --backend', () => ['probe', '--backend', 'gpu', '--quiet'], [/backend/, /gpu/], usage],
    ['unknown --task', () => ['train', '--task', 'addng', ...W], [/"addng"/, /adding/], usage],
    [
      '--layer beyond the weights',
      () => ['probe', '--cell', 'gru', '--weights', paths.gru, '--layer', '1', ...W],
      [/--layer 1/, /1 layer/],
      usage,
    ],
    // the spectra: a checkpoint of another cell, no steps, a burn-in that leaves none, bad selections
    [
      'probe --spectrum of weights of another cell',
      () => ['probe', '--cell', 'lstm', '--weights', paths.gru, '--spectrum', ...W],
      [/gru/, /lstm/],
      input,
    ],
    ['probe --spectrum --seq-len 0', () => ['probe', '--spectrum', '--seq-len', '0', ...W], [/--seq-len/], usage],
    [
      'probe --spectrum --burn-in ≥ T',
      () => ['probe', '--spectrum', '--seq-len', '20', '--burn-in', '20', ...W],
      [/--burn-in 20 leaves no step/, /T = 20/],
      usage,
    ],
    [
      'probe --burn-in without --spectrum',
      () => ['probe', '--burn-in', '2', ...W],
      [/--burn-in and --reorth-every apply with --spectrum/],
      usage,
    ],
    [
      'probe --spectrum --gaps beyond T',
      () => ['probe', '--spectrum', '--seq-len', '20', '--gaps', '1,30', ...W],
      [/--gaps: 30 is not a gap/, /1 … 20/],
      usage,
    ],
    ['probe --spectrum --gaps lin', () => ['probe', '--spectrum', '--gaps', 'lin', ...W], [/--gaps/, /lin/], usage],
    [
      'probe --spectrum --exponents 0',
      () => ['probe', '--spectrum', '--exponents', '0', ...W],
      [/--exponents/, /positive integer or all/],
      usage,
    ],
    [
      'probe --spectrum --all-pairs',
      () => ['probe', '--spectrum', '--all-pairs', ...W],
      [/--spectrum and --all-pairs/],
      usage,
    ],
  ];
  for (const [label, args, names, code] of cases) {
    it(label, async () => {
      expectCleanFailure(await seqlab(args()), names, code);
    });
  }

  it('a non-empty --out without --overwrite fails cleanly and touches nothing', async () => {
    const out = join(tmp, 'busy');
    const r = await seqlab([
      'train',
      '--task',
      'adding',
      '--cell',
      'rnn',
      '--hidden',
      '2',
      '--seq-len',
      '4',
      '--steps',
      '1',
      '--eval-size',
      '4',
      '--out',
      out,
      '--json',
      ...W,
    ]);
    expectCleanFailure(r, [/not empty/, /--overwrite/, /busy/], usage);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
  });
});

describe.concurrent('seqlab: success', () => {
  it('probe --json prints exactly one JSON document', async () => {
    const r = await seqlab(['probe', '--cell', 'rnn', '--hidden', '4', '--seq-len', '6', '--json', ...W]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout); // throws unless stdout is one document
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('}');
    expect(doc).toMatchObject({ backend: 'wasm', cell: 'rnn', hiddenSize: 4, T: 6 });
    expect(doc.jacobian.map((j: { gap: number; k: number }) => [j.gap, j.k])).toEqual(
      [1, 2, 3, 4, 5, 6].map((g) => [g, 6 - g]),
    );
    for (const j of doc.jacobian) {
      expect(Object.keys(j).sort()).toEqual(['frobenius', 'gap', 'k', 'spectral']);
      expect(j.spectral).toBeGreaterThan(0);
      // ‖J‖₂ ≤ ‖J‖_F ≤ √H ‖J‖₂
      expect(j.spectral).toBeLessThanOrEqual(j.frobenius * (1 + 1e-6));
      expect(j.frobenius).toBeLessThanOrEqual(2 * j.spectral * (1 + 1e-6));
    }
  });

  it('probe --spectrum --json: every σ at every gap and the Lyapunov spectrum equal float64 references', async () => {
    const T = 6;
    const xs = Array.from({ length: T }, () => ref.uniform64(new Rng('cli-spectrum'), 1, 1));
    const inputs = file('spectrum-inputs.json', { inputs: xs });
    const args = ['probe', '--weights', paths.gru, '--inputs', inputs, '--spectrum', '--gaps', 'all'];
    const r = await seqlab([...args, '--exponents', 'all', '--reorth-every', '2', '--json', ...W]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { spectrum } = JSON.parse(r.stdout);
    const zero = [[0, 0]];
    // singular values: √ eigenvalues of JᵀJ of the float64 products of FD step Jacobians
    const jacobians = ref.chainedJacobians(gruSpec, gruWeights, xs, zero, 'h');
    expect(spectrum.singular.map((row: { gap: number }) => row.gap)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const row of spectrum.singular) {
      const J = jacobians[row.gap - 1];
      const sigma = ref
        .symmetricEigenvalues64(ref.matMul64(ref.transpose64(J, 2, 2), J, 2, 2, 2), 2)
        .map((e) => Math.sqrt(Math.max(e, 0)))
        .sort((a, b) => b - a);
      expect(ref.maxRelErr(row.sigma, sigma), `gap ${row.gap}`).toBeLessThan(1e-4);
    }
    // Lyapunov exponents: the explicit QR method over the same step Jacobians
    const states = ref.run64(gruSpec, gruWeights, xs, zero);
    const steps = xs.map((x, t) => ref.stepJacobianFD(gruSpec, gruWeights, x, states[t]));
    const lambdas = qrLyapunov64(steps, 2, 2);
    for (const [i, l] of spectrum.lyapunov.exponents.entries()) expect(Math.abs(l - lambdas[i])).toBeLessThan(1e-5);
    expect(spectrum.lambda1).toBe(spectrum.lyapunov.exponents[0]);
  });

  it('probe --spectrum prints per gap the surviving directions, PR and σ’s; λ₁…λ₅ and Kaplan–Yorke', async () => {
    const r = await seqlab(['probe', '--cell', 'lstm', '--hidden', '8', '--seq-len', '40', '--spectrum', ...W]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/singular values of ∂h_T\/∂h_k \(8×8; 32 gaps\)/);
    expect(r.stdout).toMatch(/gap +k +σ ≥ 0\.001 +PR +σ1 +σ2 +σ3 +σ4 +σ8 \(min\)/);
    expect(r.stdout).toMatch(/Lyapunov spectrum on s = \[h; c\] \(QR method, 16 of 16 exponents, 40 steps\)/);
    expect(r.stdout).toMatch(/λ1 -?\d\.\d+ +λ2 .+λ5 /);
    expect(r.stdout).toMatch(/Kaplan–Yorke dimension \d/);
    expect(r.stdout).toMatch(/λ1 -?\d\.\d+ beside the decay per step \d\.\d+/);
  });

  it('probe of layer 1 of a 2-layer PyTorch weights file matches the float64 closed form', async () => {
    const [H, I, T] = [3, 2, 5];
    const rng = new Rng('cli-rnn2');
    const spec0: ref.Spec64 = { kind: 'rnn', inputSize: I, hiddenSize: H };
    const spec1: ref.Spec64 = { kind: 'rnn', inputSize: H, hiddenSize: H };
    const w0 = ref.randomWeights64(rng, spec0, 0.8);
    const w1 = ref.randomWeights64(rng, spec1, 0.8);
    const xs = Array.from({ length: T }, () => ref.uniform64(rng, I, 1));
    const weights = file('rnn2.json', { cell: 'rnn', nonlinearity: 'tanh', state_dict: stateDict([w0, w1], I, H) });
    const inputs = file('rnn2-inputs.json', { inputs: xs });
    const r = await seqlab([
      'probe',
      '--cell',
      'rnn',
      '--weights',
      weights,
      '--inputs',
      inputs,
      '--layer',
      '1',
      '--json',
      ...W,
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ cell: 'rnn', hiddenSize: H, inputSize: I, layer: 1, T, batch: 1 });

    // layer 1 reads layer 0's h_1..h_T; ∂h_T/∂h_k = ∏ diag(φ′(a_j)) W_hh (layer 1's weights)
    const zero = [new Array(H).fill(0)];
    const hs0 = ref
      .run64(spec0, w0, xs, zero)
      .slice(1)
      .map((s) => s[0]);
    for (const row of doc.jacobian) {
      const J = ref.rnnClosedForm(spec1, w1, hs0, zero, row.k, T);
      expect(ref.relErr(row.frobenius, ref.frobenius64(J)), `gap ${row.gap}`).toBeLessThan(1e-4);
      expect(ref.relErr(row.spectral, ref.spectralNorm64(J, H, H)), `gap ${row.gap}`).toBeLessThan(1e-4);
    }
    // and it is not layer 0's Jacobian
    const J0 = ref.rnnClosedForm(spec0, w0, xs, zero, 0, T);
    expect(ref.relErr(doc.jacobian.at(-1).frobenius, ref.frobenius64(J0))).toBeGreaterThan(1e-2);
  });

  it('train --json prints one JSON document and writes the run directory; its checkpoint probes', async () => {
    const out = join(tmp, 'run');
    const r = await seqlab([
      'train',
      '--task',
      'adding',
      '--cell',
      'gru',
      '--hidden',
      '4',
      '--seq-len',
      '6',
      '--steps',
      '3',
      '--eval-every',
      '3',
      '--eval-size',
      '16',
      '--gradflow-every',
      '1',
      '--out',
      out,
      '--json',
      '--backend',
      'wasm',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      backend: 'wasm',
      runDir: out,
      metrics: { task: 'adding', cell: 'gru', status: 'completed', steps: 3 },
    });
    expect(doc.config.train).toMatchObject({ steps: 3, evalEvery: 3, gradflowEvery: 1 });
    expect(doc.config.task).toMatchObject({ seqLen: 6, evalSize: 16 });
    expect(Number.isFinite(doc.metrics.eval.loss)).toBe(true);
    // progress (without --quiet) went to stderr, never stdout
    expect(r.stderr).toMatch(/^seqlab: backend wasm$/m);
    expect(r.stderr).not.toContain('    at ');
    // the run's files, then the report drawn from them at the end
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.json',
      'config.json',
      'log.jsonl',
      'metrics.json',
      'plots',
      'report.html',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))).toEqual(doc.metrics);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual(doc.config);
    const gradflow = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"gradflow"'));
    expect(gradflow).toHaveLength(4); // steps 0, 1, 2, 3

    const p = await seqlab([
      'probe',
      '--cell',
      'gru',
      '--weights',
      join(out, 'checkpoint.json'),
      '--seq-len',
      '5',
      '--json',
      ...W,
    ]);
    expect(p.status, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ cell: 'gru', hiddenSize: 4, inputSize: 2, T: 5 });

    const again = await seqlab([
      'train',
      '--task',
      'adding',
      '--cell',
      'gru',
      '--hidden',
      '4',
      '--seq-len',
      '6',
      '--steps',
      '2',
      '--eval-size',
      '16',
      '--gradflow-every',
      '0',
      '--out',
      out,
      '--overwrite',
      '--json',
      ...W,
    ]);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).steps).toBe(2);
  });
});
