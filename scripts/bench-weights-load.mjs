#!/usr/bin/env node
// Load time of a large word_language_model checkpoint: safetensors against seqlab's JSON weights.
//
//   npm run build && node scripts/bench-weights-load.mjs [--vocab 33278] [--hidden 650] [--layers 2]
//     [--untied] [--json-params 8000000,16000000] [--no-json] [--repeat 5] [--dir /tmp/seqlab-bench]
//
// Writes an RNNModel state dict (LSTM, embedding = hidden size, tied read-out written once as
// safetensors' save_model does, or untied) filled with pseudo-random floats, then times
//   safetensors: read the file (one read) + parse + check + typed-array views, then the mapping to a
//                SequenceModel config (wordLMFromTensors), then building the model (tfjs variables);
//   JSON:        read + JSON.parse + parseRecurrentWeights of {"cell", "state_dict": nested lists}, the
//                form `json.dump({k: v.tolist()})` writes; at the full size, and at smaller sizes
//                (--json-params) because a JSON text past V8's longest string (2^29 − 24 characters)
//                cannot be read at all.
// Times are medians over --repeat runs, in ms; the page cache is warm (the files were just written).
import { createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import os from 'node:os';

const seqlab = await import(new URL('../dist/src/index.js', import.meta.url).href);
const {
  setBackend,
  readSafetensorsFile,
  writeSafetensorsFile,
  wordLMFromTensors,
  wordLMModel,
  parseRecurrentWeights,
  SeqlabError,
} = seqlab;
const { readJsonFile } = await import(new URL('../dist/src/util/files.js', import.meta.url).href);

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const V = Number(opt('vocab', 33278));
const H = Number(opt('hidden', 650));
const L = Number(opt('layers', 2));
const untied = args.includes('--untied');
const repeat = Number(opt('repeat', 5));
const jsonSizes = String(opt('json-params', '8000000,16000000')).split(',').map(Number);
const noJson = args.includes('--no-json');
const dir = opt('dir', join(os.tmpdir(), 'seqlab-bench-load'));

// xorshift32: a fast deterministic filler (the values do not matter, their number does)
let seed = 2463534242;
function fill(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    a[i] = ((seed >>> 0) / 4294967296 - 0.5) * 0.2;
  }
  return a;
}

function stateDict(vocab, hidden, layers, tied) {
  const t = new Map();
  if (!tied) t.set('encoder.weight', { shape: [vocab, hidden], data: fill(vocab * hidden) });
  for (let l = 0; l < layers; l++) {
    t.set(`rnn.weight_ih_l${l}`, { shape: [4 * hidden, hidden], data: fill(4 * hidden * hidden) });
    t.set(`rnn.weight_hh_l${l}`, { shape: [4 * hidden, hidden], data: fill(4 * hidden * hidden) });
    t.set(`rnn.bias_ih_l${l}`, { shape: [4 * hidden], data: fill(4 * hidden) });
    t.set(`rnn.bias_hh_l${l}`, { shape: [4 * hidden], data: fill(4 * hidden) });
  }
  t.set('decoder.weight', { shape: [vocab, hidden], data: fill(vocab * hidden) });
  t.set('decoder.bias', { shape: [vocab], data: fill(vocab) });
  return t;
}

const params = (t) => [...t.values()].reduce((n, x) => n + x.data.length, 0);

/** {"cell": "lstm", "state_dict": {name: nested lists}}, numbers as Python prints float32 values widened to float. */
async function writeJson(path, tensors) {
  const out = createWriteStream(path);
  const write = async (s) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('{"cell": "lstm", "state_dict": {');
  let first = true;
  for (const [name, t] of tensors) {
    // the probe's JSON form names the recurrent module's weights without a prefix
    await write(`${first ? '' : ', '}"${name.replace(/^rnn\./, '')}": `);
    first = false;
    const d = t.data;
    if (t.shape.length === 1) {
      await write(`[${Array.from(d, String).join(', ')}]`);
      continue;
    }
    const cols = t.shape[1];
    await write('[');
    for (let r = 0; r < t.shape[0]; r++)
      await write(`${r ? ', ' : ''}[${Array.from(d.subarray(r * cols, (r + 1) * cols), String).join(', ')}]`);
    await write(']');
  }
  await write('}}\n');
  out.end();
  await once(out, 'finish');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    fn();
    runs.push(performance.now() - t0);
  }
  return { medianMs: Math.round(median(runs)), runsMs: runs.map(Math.round) };
}

await setBackend('wasm');
mkdirSync(dir, { recursive: true });
const tied = !untied;
const tensors = stateDict(V, H, L, tied);
const metadata = tied ? { format: 'pt', 'encoder.weight': 'decoder.weight' } : { format: 'pt' };
const stPath = join(dir, 'model.safetensors');
writeSafetensorsFile(stPath, tensors, { metadata });
const report = {
  machine: {
    cpus: os.cpus().length,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
  },
  model: { vocab: V, hidden: H, layers: L, tied, params: params(tensors), safetensorsBytes: statSync(stPath).size },
};
report.safetensors = {
  parse: time(() => readSafetensorsFile(stPath)),
  parseAndMap: time(() => {
    const { tensors: t, metadata: m } = readSafetensorsFile(stPath);
    wordLMFromTensors(t, m, {}, stPath);
  }),
  build: (() => {
    const { tensors: t, metadata: m } = readSafetensorsFile(stPath);
    const imported = wordLMFromTensors(t, m, {}, stPath);
    return time(() => wordLMModel(imported).dispose());
  })(),
  parseMapAndBuild: time(() => {
    const { tensors: t, metadata: m } = readSafetensorsFile(stPath);
    wordLMModel(wordLMFromTensors(t, m, {}, stPath)).dispose();
  }),
};

report.json = [];
const sizes = noJson ? [] : [...jsonSizes.filter((n) => n < params(tensors)), params(tensors)];
for (const target of sizes) {
  // the same architecture with a smaller vocabulary, so the state dict holds about `target` numbers
  const rnn = L * (8 * H * H + 8 * H);
  const v = target >= params(tensors) ? V : Math.max(1, Math.round((target - rnn) / (2 * H + 1)));
  const t = target >= params(tensors) ? tensors : stateDict(v, H, L, false);
  const path = join(dir, `model-${params(t)}.json`);
  await writeJson(path, t);
  const row = { params: params(t), bytes: statSync(path).size };
  try {
    row.load = time(() => parseRecurrentWeights(readJsonFile(path, 'weights'), path));
  } catch (e) {
    row.error = e instanceof SeqlabError ? `${e.code}: ${e.message}` : String(e);
  }
  report.json.push(row);
  rmSync(path);
}
rmSync(stPath);
report.machine.loadavgAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);
console.log(JSON.stringify(report, null, 2));
