import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_DEFAULTS } from '../../src/lab/settings.js';
import { BIN, ROOT } from '../cli/run.js';

// Bad values in the lab's URL, in headless Chromium: the page still starts, the form holds the
// defaults for them, and a notice on the page says what was ignored (lab/link.ts, parseLabQuery).

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
);
if (!CHROMIUM) console.warn('lab notice test skipped: no chromium found (apt-get install chromium)');

describe.skipIf(!CHROMIUM)('the lab page with bad query values', () => {
  let server: ChildProcess;
  let url: string;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    server = spawn(process.execPath, [BIN, 'lab', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /lab: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`seqlab lab exited with ${code}`)));
    });
    const puppeteer = (await import('puppeteer-core')).default;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  async function open(query: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`exception: ${(e as Error).message}`));
    await page.goto(url + query);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return page;
  }
  const text = (page: Page, id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? '');
  const value = (page: Page, id: string) => page.$eval(`#${id}`, (e) => (e as HTMLInputElement).value);

  it('keeps the defaults for bad values, takes the good ones, and says what it ignored', async () => {
    const page = await open('?backend=cpu&hidden=abc&steps=-5&lr=0.02&cells=lsmt&frobnicate=1');
    const notice = await text(page, 'message');
    expect(notice).toMatch(/^URL: \?cells="lsmt" ignored \(unknown cell "lsmt"/);
    expect(notice).toMatch(/\?hidden="abc" ignored/);
    expect(notice).toMatch(/\?steps="-5" ignored/);
    expect(notice).toMatch(/\?frobnicate ignored/);
    expect(await page.$eval('#message', (e) => e.className)).toBe('info');
    expect(await value(page, 'hidden')).toBe(String(LAB_DEFAULTS.hiddenSize));
    expect(await value(page, 'steps')).toBe(String(LAB_DEFAULTS.steps));
    expect(await value(page, 'lr')).toBe('0.02');
    expect(await text(page, 'backend-name')).toBe('cpu');
    // the link the page now shows holds what it uses: the defaults in place of the dropped values
    const link = new URL(await value(page, 'link')).searchParams;
    expect(link.get('hidden')).toBe(String(LAB_DEFAULTS.hiddenSize));
    expect(link.get('lr')).toBe('0.02');
    expect(link.has('frobnicate')).toBe(false);
    await page.close();
  });

  // (an unknown backend falls back to auto, which in headless Chromium tries WebGL first: query.test.ts
  // checks that fallback; the page here stays on cpu)
  it('a malformed query still gives a working page', async () => {
    const page = await open('?backend=cpu&hidden=%E0%A4%A&%%%&gradflow-mode=sideways');
    expect(await text(page, 'message')).toMatch(/\?hidden=.* ignored.*\?gradflow-mode="sideways" ignored/);
    expect(await value(page, 'hidden')).toBe(String(LAB_DEFAULTS.hiddenSize));
    expect(await text(page, 'backend-name')).toBe('cpu');
    expect(problems).toEqual([]);
    await page.close();
  });
});
