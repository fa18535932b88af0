#!/usr/bin/env node
// Time the lab's default run in headless Chromium: wall time, CPU time of Chromium's processes
// (Linux /proc; per thread, so the page's main thread and the training worker are told apart),
// main-thread long tasks, and the accuracies at the end. Needs the build (npm run build) and
// Debian's chromium (or CHROMIUM_PATH).
//
//   node scripts/lab-timing.mjs [--query "backend=wasm"] [--screenshot docs/lab.png] [--width 1400]
//                               [--screenshot-height 1960] [--trace trace.json] [--runs 1]
//
// The query is added to the page's link (any setting, e.g. "steps=100", "worker=0").
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    query: { type: 'string', default: '' },
    screenshot: { type: 'string' },
    runs: { type: 'string', default: '1' },
    'timeout-min': { type: 'string', default: '15' },
    trace: { type: 'string' },
    width: { type: 'string', default: '1400' },
    'screenshot-height': { type: 'string' },
  },
});
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p) => p && existsSync(p),
);
if (!chromium) throw new Error('no chromium found (apt-get install chromium, or set CHROMIUM_PATH)');

const CLK_TCK = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of every thread of `pid` and its descendants, by thread name. */
function cpuByThread(pid) {
  const out = new Map();
  const children = new Map();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(p)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const visit = (p) => {
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const stat = readFileSync(`/proc/${p}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const seconds = (Number(f[11]) + Number(f[12])) / CLK_TCK;
        const key = `${p}/${tid}`;
        // the page's workers share a thread name: tell them apart by thread id
        out.set(key, { name: name.startsWith('DedicatedWorker') ? `${name} ${tid}` : name, seconds });
      }
    } catch {
      // gone
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}

/** CPU seconds between two snapshots, summed by thread name. */
function cpuDelta(before, after) {
  const byName = {};
  let total = 0;
  for (const [key, { name, seconds }] of after) {
    const d = seconds - (before.get(key)?.seconds ?? 0);
    if (d <= 0) continue;
    byName[name] = (byName[name] ?? 0) + d;
    total += d;
  }
  return { total, byName };
}

/**
 * The page's main-thread tasks in a Chrome trace: how many, the longest by wall time and by
 * thread CPU time (tdur: what the task itself cost, whatever else the machine was running),
 * and how many took over 50 ms of each.
 */
function mainThreadTasks(buffer) {
  const events = JSON.parse(Buffer.from(buffer).toString('utf8')).traceEvents;
  // the page's renderer: the one whose process runs the page's workers
  const names = events.filter((e) => e.name === 'thread_name');
  const pagePid = names.find((e) => e.args?.name?.startsWith('DedicatedWorker'))?.pid;
  const main = names.find((e) => e.args?.name === 'CrRendererMain' && (pagePid === undefined || e.pid === pagePid));
  const tasks = events.filter(
    (e) => e.pid === main.pid && e.tid === main.tid && e.name === 'RunTask' && e.ph === 'X' && e.dur !== undefined,
  );
  const ms = (us) => Math.round(us / 100) / 10;
  return {
    count: tasks.length,
    maxWallMs: ms(Math.max(0, ...tasks.map((t) => t.dur))),
    maxCpuMs: ms(Math.max(0, ...tasks.map((t) => t.tdur ?? 0))),
    over50msWall: tasks.filter((t) => t.dur > 50_000).length,
    over50msCpu: tasks.filter((t) => (t.tdur ?? 0) > 50_000).length,
    cpuMsOfLongest: tasks
      .sort((a, b) => b.dur - a.dur)
      .slice(0, 8)
      .map((t) => `${ms(t.dur)} wall / ${ms(t.tdur ?? 0)} cpu`),
  };
}

const server = spawn(process.execPath, [join(root, 'bin', 'seqlab.js'), 'lab', '--port', '0'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const m = /lab: (http:\/\/\S+\/)/.exec(out);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`seqlab lab exited with ${code}`)));
});
const puppeteer = (await import('puppeteer-core')).default;
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  for (let i = 0; i < Number(args.runs); i++) {
    const page = await browser.newPage();
    await page.setViewport({ width: Number(args.width), height: 1000 });
    await page.evaluateOnNewDocument(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, ms: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${url}?${args.query}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    const where = await page.$eval('body', (b) => `${b.dataset.backend} (${b.dataset.where})`);
    if (args.trace)
      await page.tracing.start({
        path: args.trace,
        categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline'],
      });
    const before = cpuByThread(browser.process().pid);
    const t0 = Date.now();
    const startedAt = await page.evaluate(() => {
      document.getElementById('start').click();
      return performance.now();
    });
    await page.waitForSelector('body[data-state="finished"]', { timeout: Number(args['timeout-min']) * 60_000 });
    const wallSeconds = (Date.now() - t0) / 1000;
    const cpu = cpuDelta(before, cpuByThread(browser.process().pid));
    const mainTasks = args.trace ? mainThreadTasks(await page.tracing.stop()) : null;
    const result = await page.evaluate((from) => {
      const rows = [...document.querySelectorAll('#numbers-body tr')].map((tr) => {
        const m = JSON.parse(tr.dataset.metrics ?? '{}');
        const longest = Math.max(
          ...Object.keys(m)
            .filter((k) => k.startsWith('accuracy@d='))
            .map((k) => Number(k.slice(11))),
        );
        return { cell: tr.dataset.cell, accuracy: m.accuracy, [`accuracy@d=${longest}`]: m[`accuracy@d=${longest}`] };
      });
      return { rows, longTasks: window.__longTasks.filter((t) => t.start >= from), m: window.__m };
    }, startedAt);
    const top = Object.entries(cpu.byName)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([n, s]) => `${n} ${s.toFixed(1)} s`);
    console.log(
      JSON.stringify(
        {
          backend: where,
          query: args.query,
          wallSeconds,
          cpuSeconds: Number(cpu.total.toFixed(1)),
          cpuByThread: top,
          longTasksWhileTraining: result.longTasks.map((t) => Math.round(t.ms)),
          ...(mainTasks ? { mainThreadTasks: mainTasks } : {}),
          final: result.rows,
          m: result.m,
        },
        null,
        1,
      ),
    );
    if (args.screenshot && i === 0) {
      // the chart worker may still be drawing the last records: wait until no chart changes for 3 s
      let last = '';
      let stableSince = Date.now();
      while (Date.now() - stableSince < 3000) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const now = await page.evaluate(() =>
          [...document.querySelectorAll('.chart')]
            .map((c) => `${c.id}:${c.dataset.points}:${c.dataset.series}`)
            .join('|'),
        );
        if (now !== last) {
          last = now;
          stableSince = Date.now();
        }
      }
      // the whole page, or its top `screenshot-height` pixels
      const height = args['screenshot-height'];
      await page.screenshot(
        height
          ? { path: args.screenshot, clip: { x: 0, y: 0, width: Number(args.width), height: Number(height) } }
          : { path: args.screenshot, fullPage: true },
      );
    }
    await page.close();
  }
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
