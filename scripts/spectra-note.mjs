#!/usr/bin/env node
// The spectra of rnn, lstm and gru on the adding problem, before and after training (issue 15's
// note): λ_1…λ_5 and the Kaplan–Yorke dimension of the state dynamics, and the number of
// directions of ∂h_T/∂h_k with σ ≥ 1e-3 at gaps 10, 50 and 100, on the task's probe batch.
// Each model is the one `seqlab compare --task adding --seq-len 100` trains (same seed, same
// initial weights, compare's adding settings: H 32, 1000 steps, evaluation on 500 sequences);
// the spectra are taken on the untrained model and on the trained one. Needs the build.
//   node scripts/spectra-note.mjs [--seq-len 100] [--steps 1000] [--hidden 32] [--cells rnn,lstm,gru] [--out F.json]
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const dist = new URL('../dist/src/', import.meta.url);
if (!existsSync(new URL('index.js', dist))) {
  console.error('spectra-note: run `npm run build` first');
  process.exit(1);
}
const lib = await import(new URL('index.js', dist).href);
const { setBackend, createTask, modelConfigFor, SequenceModel, Rng, TRAIN_DEFAULTS, train, evaluate } = lib;
const { probeGradientFlow, fmt, table } = lib;

const { values } = parseArgs({
  options: {
    'seq-len': { type: 'string', default: '100' },
    steps: { type: 'string', default: '1000' },
    hidden: { type: 'string', default: '32' },
    cells: { type: 'string', default: 'rnn,lstm,gru' },
    out: { type: 'string' },
  },
});
const seqLen = Number(values['seq-len']);
const steps = Number(values.steps);
const hiddenSize = Number(values.hidden);
const gaps = [10, 50, 100].filter((g) => g <= seqLen);
const seed = TRAIN_DEFAULTS.seed;
const backend = await setBackend('wasm');
const say = (s) => process.stderr.write(`${s}\n`);

/** λ_1…λ_5, Kaplan–Yorke, and the counts and participation ratios at `gaps`, from the probe batch. */
async function spectra(model, task) {
  const [rec] = await probeGradientFlow(model, task, task.probeBatch(), 'h', false, false, { gaps });
  const s = rec.spectrum;
  return {
    lambdas: s.lyapunov.slice(0, 5),
    kaplanYorke: s.kaplanYorke,
    kaplanYorkeIsLowerBound: s.kaplanYorkeIsLowerBound,
    exponents: `${s.lyapunov.length} of ${s.lyapunovSize}`,
    counts: Object.fromEntries(s.gap.map((g, i) => [g, s.count[i]])),
    participationRatios: Object.fromEntries(s.gap.map((g, i) => [g, s.participationRatio[i]])),
    decayPerStep: s.decayPerStep,
    batch: s.batch,
  };
}

const results = [];
const started = performance.now();
const cpu0 = process.cpuUsage();
say(`spectra-note: adding T ${seqLen}, H ${hiddenSize}, ${steps} steps · backend ${backend} · load ${loadavg()[0]}`);
for (const cell of values.cells.split(',')) {
  const task = createTask('adding', { seqLen, evalSize: 500, seed });
  // as trainRun builds it (commands/train.ts), so the model is compare's
  const model = SequenceModel.random(modelConfigFor(task, { cell, hiddenSize }), new Rng(`${seed}/init`));
  const before = { ...(await spectra(model, task)), mse: (await evaluate(model, task)).loss };
  const t0 = performance.now();
  const config = { ...TRAIN_DEFAULTS, steps, evalEvery: 100, gradflowEvery: 0 };
  await train(model, task, config, {
    onProgress: (p) =>
      p.step % 250 === 0 && Number.isFinite(p.loss) && say(`  ${cell} step ${p.step}: loss ${fmt(p.loss, 3)}`),
  });
  const after = { ...(await spectra(model, task)), mse: (await evaluate(model, task)).loss };
  say(`  ${cell}: trained in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  results.push({ cell, before, after });
  model.dispose();
}
const cpu = process.cpuUsage(cpu0);
const timing = {
  wallSec: (performance.now() - started) / 1000,
  cpuSec: (cpu.user + cpu.system) / 1e6,
  loadAfter: loadavg(),
};

if (values.out) {
  const doc = { seqLen, steps, hiddenSize, gaps, backend, results, timing };
  writeFileSync(values.out, `${JSON.stringify(doc, null, 2)}\n`);
}
{
  const ky = (s) => `${fmt(s.kaplanYorke, 3)}${s.kaplanYorkeIsLowerBound ? '+' : ''}`;
  const rows = results.flatMap(({ cell, before, after }) =>
    [
      ['before', before],
      ['after', after],
    ].map(([when, s]) => [
      cell,
      when,
      fmt(s.mse, 3),
      ...s.lambdas.map((l) => fmt(l, 3)),
      ky(s),
      ...gaps.map((g) => fmt(s.counts[g], 3, true)),
    ]),
  );
  const header = ['cell', '', 'MSE', 'λ1', 'λ2', 'λ3', 'λ4', 'λ5', 'Kaplan–Yorke', ...gaps.map((g) => `σ≥1e-3 @${g}`)];
  console.log(table(header, rows));
  console.log(
    `adding T ${seqLen}, H ${hiddenSize}, ${steps} steps; exponents in nats per step (LSTM on s = [h; c]); ` +
      `counts: batch mean over the ${results[0].before.batch} probe sequences of #{σ_i(∂h_T/∂h_k) ≥ 1e-3}`,
  );
  console.log(
    `wall ${timing.wallSec.toFixed(0)} s, CPU ${timing.cpuSec.toFixed(0)} s (all threads), ` +
      `load after ${timing.loadAfter.map((x) => x.toFixed(1)).join(' ')}`,
  );
}
process.exit(0);
