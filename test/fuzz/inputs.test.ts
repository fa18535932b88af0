import * as fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseTrainArgs, resolveOptions } from '../../src/cli/options.js';
import { parseProbeArgs } from '../../src/cli/probe.js';
import { checkRun } from '../../src/cli/sweep.js';
import { loadProbeSetup, parseProbeInputs } from '../../src/commands/probe.js';
import { expandGrid, parseShard, readSweepFile } from '../../src/commands/sweep.js';
import { prepareResume, prepareTrainRun, trainRun } from '../../src/commands/train.js';
import { LAB_FIELD_KEYS, parseLabQuery } from '../../src/lab/link.js';
import { checkSettings } from '../../src/lab/settings.js';
import { CELL_KINDS } from '../../src/models/registry.js';
import { parseRecurrentWeights } from '../../src/models/statedict.js';
import { buildPlots } from '../../src/report/report.js';
import { readSource } from '../../src/report/rundata.js';
import { parseLog } from '../../src/runlog/schema.js';
import { createTask } from '../../src/tasks/registry.js';
import { checkpointModel } from '../../src/training/checkpoint.js';
import { oneOf, positiveInt } from '../../src/util/errors.js';
import { CASES, anyJson, fuzzInput, matrixLike, optionValue } from './harness.js';

// Every input a user hands seqlab, fuzzed in-process (fast): CASES cases per kind, each through the
// same parser or preparation the command runs before it does any work. test/fuzz/cli.test.ts
// sends a smaller sample through the `seqlab` binary itself.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Files in `dir`, recursively: what a parser left behind. */
const filesIn = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();

/** A JSON document with up to three changes at random places: a key deleted, or a value replaced or wrapped. */
function mutated(base: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (path.length >= 4) return;
    if (Array.isArray(v)) {
      for (const i of new Set([0, v.length - 1])) if (i >= 0) walk(v[i], [...path, i]);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(base, []);
  const change = fc.tuple(fc.constantFrom(...paths), fc.constantFrom('delete', 'replace', 'wrap', 'number'), anyJson);
  return fc.array(change, { minLength: 0, maxLength: 3 }).map((changes) => {
    const doc = structuredClone(base) as Record<string | number, unknown>;
    let root: unknown = doc;
    for (const [path, op, value] of changes) {
      if (path.length === 0) {
        root = op === 'wrap' ? [root] : op === 'delete' ? {} : value;
        continue;
      }
      if (typeof root !== 'object' || root === null) continue;
      let parent = root as Record<string | number, unknown>;
      for (const key of path.slice(0, -1)) {
        const next = parent?.[key];
        if (typeof next !== 'object' || next === null) {
          parent = undefined as never;
          break;
        }
        parent = next as Record<string | number, unknown>;
      }
      if (!parent) continue;
      const key = path[path.length - 1];
      if (op === 'delete') delete parent[key];
      else if (op === 'wrap') parent[key] = [parent[key]];
      else if (op === 'number') parent[key] = typeof value === 'number' ? value * 1e6 : -1;
      else parent[key] = value;
    }
    return root;
  });
}

let gruRun: string;
let lmRun: string;
let corpus: string;
beforeAll(async () => {
  corpus = join(tmp, 'tiny.txt');
  const lines = ['the cat sat on the mat .', 'the dog sat on the log .', 'a cat and a dog ran .'];
  writeFileSync(corpus, `${Array.from({ length: 60 }, (_, i) => lines[i % 3]).join('\n')}\n`);
  gruRun = join(tmp, 'gru-run');
  await trainRun({
    task: 'adding',
    taskOptions: { seqLen: 4, evalSize: 8 },
    model: { cell: 'gru', hiddenSize: 2 },
    train: { steps: 4, evalEvery: 2, batchSize: 2, gradflowEvery: 0 },
    out: gruRun,
    backend: 'wasm',
  });
  lmRun = join(tmp, 'lm-run');
  await trainRun({
    task: 'lm',
    taskOptions: { lm: { corpus, bptt: 3 } },
    model: { cell: 'lstm', hiddenSize: 2, embedSize: 2 },
    train: { steps: 2, evalEvery: 1, batchSize: 2, gradflowEvery: 0 },
    out: lmRun,
    backend: 'wasm',
  });
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe(`fuzzing what users hand seqlab (${CASES} cases each, in-process)`, () => {
  it('train/compare/sweep option values: flags → options → task, model and size check', async () => {
    const names = [
      'hidden',
      'emsize',
      'layers',
      'cell',
      'lr',
      'momentum',
      'optimizer',
      'clip-norm',
      'clip-value',
      'dropout',
      'init',
      'init-scale',
      'schedule',
      'decay-factor',
      'decay-every',
      'decay-start',
      'bptt',
      'batch',
      'eval-every',
      'eval-size',
      'early-stop',
      'gradflow-every',
      'gradflow-mode',
      'seq-len',
      'seed',
      'threads',
      'tie-weights',
      'nonlinearity',
      'forget-bias',
    ];
    const small = fc.integer({ min: 1, max: 4 }).map(String);
    const flags = fc.dictionary(fc.constantFrom(...names), fc.oneof(optionValue, small), { minKeys: 1, maxKeys: 3 });
    const base = { task: 'adding', 'seq-len': '3', hidden: '2', 'eval-size': '4', steps: '1' };
    const counts = await fuzzInput(flags, (given) => {
      const a = resolveOptions({ ...base, ...given });
      const cell = oneOf('cell', a.cell, CELL_KINDS);
      const parsed = parseTrainArgs(a);
      const seqLen = a['seq-len'] === undefined ? undefined : positiveInt('--seq-len', a['seq-len']);
      prepareTrainRun({
        ...parsed,
        taskOptions: { ...parsed.taskOptions, seqLen },
        model: { ...parsed.model, cell },
        backend: 'wasm',
      });
    });
    expect(counts.ok).toBeGreaterThan(15);
    expect(counts.usage).toBeGreaterThan(300);
  });

  it('probe option values: flags → options → weights, inputs and size check (no tfjs)', async () => {
    const defaults = {
      ...{ cell: 'rnn', hidden: '2', 'input-size': '2', 'seq-len': '3', batch: '1', init: 'pytorch' },
      ...{ 'init-std': '0.1', nonlinearity: 'tanh', layer: '0', mode: 'h', seed: '1', 'max-hours': '1' },
    };
    const names = [...Object.keys(defaults), 'forget-bias', 'weights', 'inputs'];
    const small = fc.integer({ min: 0, max: 4 }).map(String);
    const flags = fc.dictionary(fc.constantFrom(...names), fc.oneof(optionValue, small), { minKeys: 1, maxKeys: 3 });
    const counts = await fuzzInput(flags, (given) =>
      loadProbeSetup({ ...parseProbeArgs({ ...defaults, ...given }), backend: 'wasm' }),
    );
    expect(counts.ok).toBeGreaterThan(100);
    expect(counts.usage).toBeGreaterThan(300);
  });

  it('probe option values through the CLI in-process (yargs, the run): exit 0, 2, 3 or 5, one line', async () => {
    const names = ['cell', 'hidden', 'input-size', 'seq-len', 'batch', 'init', 'init-std', 'nonlinearity'].concat([
      'forget-bias',
      'layer',
      'mode',
      'max-hours',
      'seed',
      'weights',
      'inputs',
    ]);
    const flags = fc.array(fc.tuple(fc.constantFrom(...names), optionValue), { minLength: 1, maxLength: 2 });
    const base = ['probe', '--cell', 'rnn', '--hidden', '2', '--seq-len', '3', '--input-size', '2'];
    const quick = ['--max-hours', '0.00002', '--json', '--quiet', '--backend', 'wasm'];
    const before = filesIn(tmp);
    const codes = new Map<number, number>();
    // each valid case runs a (tiny) probe: a tenth of the cases here; the other kinds are parse-only
    await fuzzInput(
      flags,
      async (given) => {
        const args = [...base, ...quick, ...given.flatMap(([k, v]) => [`--${k}`, v])];
        const out: string[] = [];
        const err: string[] = [];
        const write = [process.stdout.write, process.stderr.write];
        process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
        process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
        let code: number;
        try {
          code = await main(args);
        } finally {
          [process.stdout.write, process.stderr.write] = write;
        }
        codes.set(code, (codes.get(code) ?? 0) + 1);
        const stderr = err.join('');
        if (![0, 2, 3, 5].includes(code)) throw new Error(`exit ${code} for ${JSON.stringify(args)}: ${stderr}`);
        if (code === 0) {
          if (stderr !== '') throw new Error(`a successful --quiet run wrote to stderr: ${stderr}`);
          JSON.parse(out.join('')); // one JSON document
        } else if (!/^seqlab: [^\n]+\n$/.test(stderr) || stderr.includes('internal error') || out.length > 0) {
          throw new Error(`not one clean line for ${JSON.stringify(args)}: ${JSON.stringify(stderr)}`);
        }
      },
      CASES / 10,
    );
    expect(codes.get(0)).toBeGreaterThan(5);
    expect(codes.get(2)).toBeGreaterThan(30);
    expect(filesIn(tmp)).toEqual(before);
  });

  it('weights files (PyTorch state_dict JSON)', async () => {
    const layer = (l: number, G: number, H: number, I: number) =>
      fc.record({
        [`weight_ih_l${l}`]: matrixLike(G * H, l === 0 ? I : H),
        [`weight_hh_l${l}`]: matrixLike(G * H, H),
        [`bias_ih_l${l}`]: fc.oneof(
          fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: G * H, maxLength: G * H }),
          anyJson,
        ),
        [`bias_hh_l${l}`]: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), {
          minLength: G * H,
          maxLength: G * H,
        }),
      });
    const doc = fc
      .tuple(
        fc.constantFrom('rnn', 'lstm', 'gru', 'lsmt', undefined),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom('tanh', 'relu', 'sigmoid', 'softsign', undefined),
      )
      .chain(([cell, H, I, L, nonlinearity]) => {
        const G = cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
        return fc
          .tuple(...Array.from({ length: L }, (_, l) => layer(l, G, H, I)))
          .map((layers) => ({ cell, nonlinearity, state_dict: Object.assign({}, ...layers) }));
      });
    const counts = await fuzzInput(
      fc.tuple(
        fc.oneof({ weight: 4, arbitrary: doc }, { weight: 1, arbitrary: anyJson }),
        fc.constantFrom(undefined, ...CELL_KINDS),
      ),
      ([d, cell]) => parseRecurrentWeights(d, 'w.json', cell),
    );
    expect(counts.ok).toBeGreaterThan(30);
    expect(counts.input).toBeGreaterThan(300);
  });

  it('inputs files ({"inputs": [T][I] or [B][T][I], "h0"?, "c0"?})', async () => {
    // rectangular arrays of numbers, sometimes ragged, sometimes with anything at all inside
    const rect = (dims: number[]): fc.Arbitrary<unknown> =>
      dims.length === 0
        ? fc.double({ min: -3, max: 3, noNaN: true })
        : fc.array(rect(dims.slice(1)), { minLength: dims[0], maxLength: dims[0] });
    const shapeOf = (depth: number) => fc.array(fc.integer({ min: 1, max: 3 }), { minLength: depth, maxLength: depth });
    const nested = (depth: number): fc.Arbitrary<unknown> =>
      fc.oneof(
        { weight: 8, arbitrary: shapeOf(depth).chain(rect) },
        { weight: 1, arbitrary: depth === 0 ? anyJson : fc.array(nested(depth - 1), { maxLength: 3 }) },
        { weight: 1, arbitrary: anyJson },
      );
    const doc = fc.record(
      {
        inputs: fc.integer({ min: 1, max: 4 }).chain(nested),
        h0: fc.oneof(fc.constantFrom([0.1, 0.2], [[0, 0]]), nested(1)),
        c0: nested(2),
      },
      { requiredKeys: ['inputs'] },
    );
    const counts = await fuzzInput(fc.oneof(doc, anyJson), (d) => parseProbeInputs(d, 'x.json', 2));
    expect(counts.ok).toBeGreaterThan(25);
  });

  it('checkpoints (checkpoint.json of a GRU and of an LSTM language model, changed at random)', async () => {
    const gru = readJson(join(gruRun, 'checkpoint.json'));
    const lm = readJson(join(lmRun, 'checkpoint.json'));
    const counts = await fuzzInput(fc.oneof(mutated(gru), mutated(lm)), (doc) => {
      checkpointModel(doc as Record<string, unknown>, 'checkpoint.json').model.dispose();
    });
    expect(counts.ok).toBeGreaterThan(50);
    expect(counts.input).toBeGreaterThan(100);
  });

  it('run directories given to --resume (config.json and checkpoint.json changed at random)', async () => {
    const dir = join(tmp, 'resume-case');
    mkdirSync(dir);
    writeFileSync(join(dir, 'log.jsonl'), '');
    const config = readJson(join(gruRun, 'config.json'));
    const checkpoint = readJson(join(gruRun, 'checkpoint.json'));
    const counts = await fuzzInput(fc.tuple(mutated(config), mutated(checkpoint)), ([c, k]) => {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
      writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(k));
      prepareResume(dir).model.dispose();
    });
    expect(counts.ok).toBeGreaterThan(30);
    expect(counts.input).toBeGreaterThan(100);
  });

  it('run directories given to report (log.jsonl, config.json, metrics.json, compare.json, sweep.json)', async () => {
    const log = readFileSync(join(gruRun, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const lines = fc.array(fc.oneof(mutated(log[Math.floor(log.length / 2)]), mutated(log[0]), fc.string()), {
      maxLength: 6,
    });
    const kind = fc.constantFrom('run', 'compare', 'sweep');
    let n = 0;
    const counts = await fuzzInput(fc.tuple(kind, lines, anyJson), ([k, records, summary]) => {
      const dir = join(tmp, `report-${n++}`);
      const run = k === 'run' ? dir : join(dir, 'r1');
      mkdirSync(run, { recursive: true });
      writeFileSync(
        join(run, 'log.jsonl'),
        records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n'),
      );
      if (k === 'compare')
        writeFileSync(join(dir, 'compare.json'), JSON.stringify({ rows: [{ cell: 'r1', runDir: run }], x: summary }));
      if (k === 'sweep')
        writeFileSync(join(dir, 'sweep.json'), JSON.stringify({ runs: [{ dir: 'r1', name: summary }] }));
      if (k === 'run') writeFileSync(join(dir, 'config.json'), JSON.stringify(summary));
      buildPlots(readSource(dir));
      parseLog(records.map((r) => JSON.stringify(r)).join('\n'), 'log.jsonl');
      rmSync(dir, { recursive: true });
    });
    expect(counts.ok).toBeGreaterThan(50);
  });

  it('corpora (a text file for --corpus)', async () => {
    const words = fc.constantFrom('the', 'cat', 'sat', '.', 'a', 'dog', 'Ünïcödé', '\t', '<unk>', '', 'x'.repeat(50));
    const text = fc.oneof(
      fc
        .array(
          fc.array(words, { minLength: 3, maxLength: 12 }).map((w) => w.join(' ')),
          { minLength: 20, maxLength: 120 },
        )
        .map((l) => l.join('\n')),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    const path = join(tmp, 'corpus.txt');
    const counts = await fuzzInput(fc.tuple(text, fc.integer({ min: 1, max: 4 })), ([t, bptt]) => {
      writeFileSync(path, t);
      createTask('lm', { seed: 1, lm: { corpus: path, bptt, batchSize: 2 } });
    });
    expect(counts.ok).toBeGreaterThan(20);
    expect(counts.input).toBeGreaterThan(200);
  });

  it('sweep files (JSON and YAML), each configuration checked as seqlab train would', async () => {
    const value = fc.oneof(optionValue, fc.integer({ min: 1, max: 4 }), fc.boolean(), anyJson);
    const key = fc.constantFrom('cell', 'hidden', 'seq-len', 'lr', 'steps', 'task', 'frobnicate', 'out', 'resume');
    const spec = fc.record(
      {
        name: fc.oneof(fc.constantFrom('ok-name', 'bad name'), anyJson),
        base: fc.oneof(fc.dictionary(key, value, { maxKeys: 3 }), anyJson),
        grid: fc.oneof(fc.dictionary(key, fc.array(value, { maxLength: 3 }), { maxKeys: 3 }), anyJson),
      },
      { requiredKeys: [] },
    );
    const plausible = fc.record({
      base: fc.record({
        task: fc.constantFrom('adding', 'copy'),
        steps: fc.integer({ min: 0, max: 3 }),
        hidden: fc.integer({ min: 0, max: 3 }),
      }),
      grid: fc.record({
        cell: fc.subarray(['rnn', 'lstm', 'gru', 'lsmt']),
        'seq-len': fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 2 }),
      }),
    });
    const text = fc.oneof(
      fc
        .tuple(fc.oneof(spec, plausible), fc.constantFrom('.json', '.yaml'))
        .map(([s, ext]) => [JSON.stringify(s), ext]),
      fc.tuple(fc.string({ maxLength: 60 }), fc.constantFrom('.json', '.yaml', '.yml')),
    );
    let n = 0;
    const counts = await fuzzInput(text, ([t, ext]) => {
      const path = join(tmp, `sweep-${n++}${ext}`);
      writeFileSync(path, t);
      try {
        expandGrid(readSweepFile(path, 'fuzz')).forEach(checkRun);
      } finally {
        rmSync(path);
      }
    });
    expect(counts.ok).toBeGreaterThan(20);
    expect(counts.input).toBeGreaterThan(300);
  });

  it('sweep --shard values', async () => {
    const shard = fc.oneof(
      optionValue,
      fc.tuple(fc.integer({ min: -2, max: 6 }), fc.integer({ min: -1, max: 6 })).map(([i, n]) => `${i}/${n}`),
    );
    const counts = await fuzzInput(shard, (s) => parseShard(s));
    expect(counts.ok).toBeGreaterThan(100);
  });

  it("the lab's URL query: never throws, every value the page keeps passes the form's checks", async () => {
    const key = fc
      .constantFrom(...LAB_FIELD_KEYS)
      .chain((k) => fc.oneof(fc.constant(k), fc.constantFrom('backend', 'worker', 'zz', '', '%', '&')));
    const query = fc
      .array(fc.tuple(key, optionValue), { maxLength: 6 })
      .map((kv) => `?${kv.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`);
    const raw = fc.string({ maxLength: 40 });
    const counts = await fuzzInput(fc.oneof(query, raw), (q) => {
      const r = parseLabQuery(q);
      checkSettings(r.settings); // throws if a refused value slipped through
      if (r.notices.some((n) => n.includes('\n'))) throw new Error('a notice over two lines');
    });
    expect(counts.ok).toBe(CASES);
  });
});
