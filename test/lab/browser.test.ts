import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setBackend } from '../../src/compute/backend.js';
import { LAB_DEFAULTS, labRunSpec, type LabSettings } from '../../src/lab/session.js';
import { readRun } from '../../src/report/rundata.js';
import type { RunData } from '../../src/report/runlog.js';
import { trainRun } from '../../src/commands/train.js';
import { BIN, ROOT } from '../cli/run.js';

/**
 * `seqlab lab` end to end: the CLI serves the page, headless Chromium (Debian's
 * chromium package, driven by puppeteer-core) trains rnn/lstm/gru on the default
 * task, and the numbers on the page must be the library's for the same seed.
 * The page runs on tfjs's cpu backend here and so does the library below: the
 * same float32 arithmetic in both, so the tolerance is float32 rounding, not an
 * allowance for WebGL's different kernels.
 */

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM)
  console.warn('lab browser test skipped: no chromium found (apt-get install chromium, or set CHROMIUM_PATH)');

const ARTIFACTS = join(ROOT, 'test-artifacts');
// small and quick: the page trains 3 cells × 40 steps of hidden size 8
const SETTINGS: LabSettings = {
  ...LAB_DEFAULTS,
  hiddenSize: 8,
  length: 4,
  steps: 40,
  batchSize: 16,
  evalEvery: 10,
  gradflowEvery: 10,
};
const QUERY =
  `?backend=cpu&hidden=${SETTINGS.hiddenSize}&length=${SETTINGS.length}&steps=${SETTINGS.steps}` +
  `&batch=${SETTINGS.batchSize}&every=${SETTINGS.evalEvery}`;

/**
 * Equal up to float32 rounding. Chromium's V8 and Node's run the same JS kernels, so in
 * practice the two agree to ~1e-16 (the float64 norm code); 1e-6 leaves room for a
 * Math.exp that rounds differently in another engine version, and no more.
 */
function expectClose(page: number, lib: number, what: string): void {
  expect(Math.abs(page - lib), `${what}: page ${page}, library ${lib}`).toBeLessThanOrEqual(
    1e-6 * Math.abs(lib) + 1e-9,
  );
}

describe.skipIf(!CHROMIUM)('seqlab lab in headless Chromium', () => {
  let server: ChildProcess;
  let url: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = []; // console errors and uncaught exceptions on the page
  const tmp = mkdtempSync(join(tmpdir(), 'seqlab-lab-test-'));

  beforeAll(async () => {
    server = spawn(process.execPath, [BIN, 'lab', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      server.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /lab: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      server.on('exit', (code) => reject(new Error(`seqlab lab exited with ${code}: ${err}`)));
    });
    const puppeteer = (await import('puppeteer-core')).default;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    page.on('pageerror', (e) => problems.push(`exception: ${(e as Error).message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(url + QUERY);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  });

  const stepsDone = () => page.$eval('#step-counter', (e) => Number((e as HTMLElement).dataset.steps));
  const message = (id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? '');
  const setValue = (id: string, v: string) =>
    page.$eval(`#${id}`, (e, value) => ((e as HTMLInputElement).value = value), v);

  it('says which backend runs', async () => {
    expect(await message('backend-name')).toBe('cpu');
  });

  it('shows bad settings inline and does not start', async () => {
    await setValue('hidden', '0');
    await page.click('#start');
    expect(await message('message')).toMatch(/hidden size must be a positive integer, got 0/);
    expect(await stepsDone()).toBe(0);
    await setValue('hidden', String(SETTINGS.hiddenSize));
  });

  it('trains, pauses (the step counter stops) and resumes', async () => {
    await page.click('#start');
    await page.waitForFunction(() => Number(document.getElementById('step-counter')!.dataset.steps) >= 6, {
      timeout: 30_000,
    });
    await page.click('#pause');
    await new Promise((r) => setTimeout(r, 500)); // a step already under way finishes
    const paused = await stepsDone();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stepsDone()).toBe(paused);
    expect(paused).toBeLessThan(3 * SETTINGS.steps);
    expect(await message('pause')).toBe('Resume');
    await page.click('#pause');
    // the gradient-flow chart gets points for all three cells, and training ends
    await page.waitForFunction(
      () => {
        const pts = JSON.parse(document.getElementById('chart-gradflow')!.dataset.points ?? '{}') as Record<
          string,
          number
        >;
        return ['rnn', 'lstm', 'gru'].every((c) => (pts[c] ?? 0) > 0);
      },
      { timeout: 60_000 },
    );
    await page.waitForSelector('body[data-state="finished"]', { timeout: 60_000 });
    expect(await stepsDone()).toBe(3 * SETTINGS.steps);
  });

  it('shows the numbers the library computes for the same seed', async () => {
    const shown = await page.$$eval('#numbers-body tr', (rows) =>
      rows.map((tr) => {
        const field = (f: string) => tr.querySelector(`[data-field="${f}"]`) as HTMLElement;
        return {
          cell: (tr as HTMLElement).dataset.cell!,
          step: Number(field('step').dataset.value),
          loss: Number(field('loss').dataset.value),
          lossText: field('loss').textContent!,
          evalLoss: Number(field('evalLoss').dataset.value),
          gradflowStep: Number((tr as HTMLElement).dataset.gradflowStep),
          curve: JSON.parse((tr as HTMLElement).dataset.curve!) as number[],
        };
      }),
    );
    expect(shown.map((r) => r.cell)).toEqual(['rnn', 'lstm', 'gru']);
    await setBackend('cpu');
    for (const row of shown) {
      const spec = labRunSpec(SETTINGS, row.cell as 'rnn');
      const out = join(tmp, row.cell);
      await trainRun({
        task: spec.task,
        taskOptions: spec.taskOptions,
        model: spec.model,
        train: spec.train,
        backend: 'cpu',
        out,
      });
      const lib: RunData = readRun(out);
      const last = lib.steps.at(-1)!;
      expect(row.step).toBe(last.step);
      expectClose(row.loss, last.loss, `${row.cell} training loss at step ${last.step}`);
      expect(Number(row.lossText)).toBe(Number(last.loss.toPrecision(6)));
      expectClose(row.evalLoss, lib.evals.at(-1)!.loss, `${row.cell} eval loss`);
      const g = lib.gradflow.at(-1)!;
      expect(row.gradflowStep).toBe(g.step);
      expect(row.curve).toHaveLength(g.spectral.length);
      for (const [i, v] of row.curve.entries())
        expectClose(v, g.spectral[i] as number, `${row.cell} ‖∂h_T/∂h_k‖ at gap ${i + 1}`);
    }
  });

  it('explains bad sentences inline, and reads a sentence word by word', async () => {
    await page.select('#inspect-model', 'run:lstm');
    for (const [sentence, expected] of [
      ['', /type a sentence first/],
      ['os homens xyzzy', /unknown word "xyzzy"/],
    ] as const) {
      await setValue('sentence', sentence);
      await page.click('#inspect');
      await page.waitForFunction(() => document.getElementById('inspect-message')!.textContent !== '');
      expect(await message('inspect-message')).toMatch(expected);
    }
    await setValue('sentence', 'os homens que usavam uma peruca');
    await page.click('#inspect');
    await page.waitForSelector('#inspect-out tbody tr');
    expect(await message('inspect-message')).toBe('');
    const rows = await page.$$eval('#inspect-out tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(rows).toHaveLength(6);
    expect(rows[1]).toMatch(/subject, plural/);
  });

  it('loads a CLI run directory and saves a screenshot', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'lab.png'), fullPage: true });
    const input = await page.$('#load-files');
    const dir = join(tmp, 'lstm');
    await (input as unknown as { uploadFile: (...p: string[]) => Promise<void> }).uploadFile(
      join(dir, 'log.jsonl'),
      join(dir, 'config.json'),
      join(dir, 'checkpoint.json'),
    );
    await page.waitForFunction(() => document.getElementById('load-message')!.textContent !== '');
    expect(await message('load-message')).toBe('loaded 1 run and 1 checkpoint');
    expect(await page.$$eval('#numbers-body tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.cell))).toEqual([
      'lstm',
    ]);
    expect(problems).toEqual([]);
  });
});
