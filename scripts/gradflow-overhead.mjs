#!/usr/bin/env node
// How much the gradient-flow probes add to training time: the same seeded run with
// probes at the default interval and with probes off, interleaved `--repeats` times.
// Usage: node scripts/gradflow-overhead.mjs [--cell lstm] [--seq-len 50] [--steps 300] [--repeats 2]
import { parseArgs } from 'node:util';
import { setBackend, trainRun, TRAIN_DEFAULTS } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    cell: { type: 'string', default: 'lstm' },
    task: { type: 'string', default: 'adding' },
    'seq-len': { type: 'string', default: '50' },
    hidden: { type: 'string', default: '64' },
    steps: { type: 'string', default: '300' },
    repeats: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'auto' },
  },
});
const backend = await setBackend(values.backend);
const run = async (gradflowEvery) => {
  const t0 = performance.now();
  const r = await trainRun({
    task: values.task,
    taskOptions: { seqLen: Number(values['seq-len']) },
    model: { cell: values.cell, hiddenSize: Number(values.hidden) },
    train: { steps: Number(values.steps), gradflowEvery, evalEvery: TRAIN_DEFAULTS.evalEvery },
    backend,
  });
  return { ms: performance.now() - t0, gradflowMs: r.result.gradflowMs };
};
const on = [];
const off = [];
for (let i = 0; i < Number(values.repeats); i++) {
  off.push(await run(0));
  on.push(await run(TRAIN_DEFAULTS.gradflowEvery));
}
const best = (xs) => Math.min(...xs.map((x) => x.ms));
const overhead = best(on) / best(off) - 1;
console.log(JSON.stringify({
  backend,
  config: { ...values, gradflowEvery: TRAIN_DEFAULTS.gradflowEvery },
  withProbesMs: best(on),
  withoutProbesMs: best(off),
  probeMs: Math.min(...on.map((x) => x.gradflowMs)),
  // wall-clock difference of two runs (noisy on a busy machine) and the probes' own timed share of the run
  overheadPercent: +(100 * overhead).toFixed(1),
  probeSharePercent: +((100 * Math.min(...on.map((x) => x.gradflowMs))) / best(on)).toFixed(1),
}, null, 2));
