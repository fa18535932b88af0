#!/usr/bin/env node
// Time the gradient-flow spectra (src/training/spectra.ts) against the probe alone, on one
// random sequence of a fresh cell (as `seqlab bench` times the probe): wall time of a warm
// call, and the CPU time of each thread (Linux: /proc/self/task), which a busy machine
// disturbs much less than the wall time. Needs the build (npm run build).
//   node scripts/bench-spectra.mjs [cell lstm] [hidden 128] [seqLen 1000] [mode h] [repeats 3]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const dist = new URL('../dist/src/', import.meta.url);
if (!existsSync(new URL('index.js', dist))) {
  console.error('bench-spectra: run `npm run build` first');
  process.exit(1);
}
const tf = await import('@tensorflow/tfjs');
const { setBackend, randomCell, CELL_DEFAULTS, Rng, jacobianNorms, gradientSpectra } = await import(
  new URL('index.js', dist).href
);

const [cell = 'lstm', hidden = '128', seqLen = '1000', mode = 'h', repeats = '3'] = process.argv.slice(2);
const [H, T] = [Number(hidden), Number(seqLen)];
const backend = await setBackend('wasm');
const rng = new Rng(1);
const c = randomCell(cell, 16, H, CELL_DEFAULTS, rng);
const xs = tf.tensor3d(
  Float32Array.from({ length: T * 16 }, () => rng.normal()),
  [T, 1, 16],
);

/** CPU ms of every thread of this process so far. */
function threadCpuMs() {
  const out = new Map();
  if (!existsSync('/proc/self/task')) return out;
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100); // utime + stime, 100 ticks/s
  }
  return out;
}

async function measure(run) {
  const before = threadCpuMs();
  const t0 = performance.now();
  const result = await run();
  const wallMs = performance.now() - t0;
  const after = threadCpuMs();
  const main = String(process.pid);
  let others = 0;
  for (const [tid, ms] of after) if (tid !== main) others += ms - (before.get(tid) ?? 0);
  return { wallMs, mainCpuMs: after.get(main) - before.get(main), otherCpuMs: others, result };
}

const runs = {
  probe: () => jacobianNorms(c, xs, undefined, { mode }),
  'probe + spectra + lyapunov': () => gradientSpectra(c, xs, undefined, { mode }),
  'probe + spectra': () => gradientSpectra(c, xs, undefined, { mode, lyapunov: false }),
};
console.log(
  `${cell} H ${H} T ${T} mode ${mode} · backend ${backend} · load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
for (const [name, run] of Object.entries(runs)) {
  const first = await measure(run);
  const warm = [];
  for (let r = 0; r < Number(repeats); r++) warm.push(await measure(run));
  const best = warm.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  const r = best.result;
  const extra = r.lyapunov
    ? ` · λ1 ${r.lambda1.toFixed(4)}, decay ${r.decayPerStep.toFixed(4)}, ${r.lyapunov.qrCount} QRs`
    : '';
  console.log(
    `${name}: first ${first.wallMs.toFixed(0)} ms; warm best ${best.wallMs.toFixed(0)} ms wall ` +
      `(main thread ${best.mainCpuMs.toFixed(0)} ms CPU, other threads ${best.otherCpuMs.toFixed(0)} ms)${extra}`,
  );
}
console.log(
  `load after: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
process.exit(0);
