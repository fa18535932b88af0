import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLabSite } from '../../src/lab/site.js';
import { EXIT_CODES } from '../../src/util/errors.js';
import { expectOneLineError, runSeqlab } from '../cli/run.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-lab-site-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the lab site', () => {
  it('bundles the page, its two workers and their shared chunks, the Node built-ins stubbed out', async () => {
    const site = await buildLabSite({ minify: false });
    const names = [...site.keys()].sort();
    const chunks = names.filter((n) => /^chunk-[\w-]+\.js$/.test(n));
    expect(chunks.length).toBeGreaterThan(0);
    expect(names.filter((n) => !chunks.includes(n))).toEqual(
      [
        'agreement-pt.json',
        'index.html',
        'lab.js',
        'lab-render.js',
        'lab-worker.js',
        'wasm/tfjs-backend-wasm-simd.wasm',
        'wasm/tfjs-backend-wasm-threaded-simd.wasm',
        'wasm/tfjs-backend-wasm.wasm',
      ].sort(),
    );
    const js = names
      .filter((n) => n.endsWith('.js'))
      .map((n) => Buffer.from(site.get(n)!).toString('utf8'))
      .join('\n');
    // no import of a Node module is left for the browser to resolve
    expect(js).not.toMatch(/\bfrom\s*["']node:/);
    expect(js).not.toMatch(/\brequire\(["']node:/);
    expect(js).toContain('is not available in the browser lab');
    // the page starts its workers by the names the site gives them
    const page = Buffer.from(site.get('lab.js')!).toString('utf8');
    expect(page).toContain('"lab-worker.js"');
    expect(page).toContain('"lab-render.js"');
  });

  it('seqlab lab --out writes the static files', async () => {
    const out = join(tmp, 'site');
    const r = await runSeqlab(['lab', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const files = JSON.parse(r.stdout).files as string[];
    expect(files.length).toBeGreaterThan(8); // the eight named files and the shared chunks
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(readdirSync(join(out, 'wasm'))).toHaveLength(3);
  });

  it('seqlab lab refuses a bad port with one line', async () => {
    expectOneLineError(
      await runSeqlab(['lab', '--port', '-1']),
      EXIT_CODES.usage,
      /--port must be a non-negative integer/,
    );
  });
});
