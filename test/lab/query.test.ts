import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLabQuery, repairQuery } from '../../src/lab/query.js';
import { LAB_DEFAULTS } from '../../src/lab/session.js';
import { type LabSite, serveLabSite, sitePath } from '../../src/lab/site.js';

describe("the lab page's query", () => {
  it('presets the form from good values', () => {
    const q = parseLabQuery('?hidden=8&steps=40&cells=rnn,gru&task=adding&length=12&clip=off&mode=h&backend=cpu');
    expect(q.notices).toEqual([]);
    expect(q.backend).toBe('cpu');
    expect(q.settings).toEqual({
      ...LAB_DEFAULTS,
      hiddenSize: 8,
      steps: 40,
      cells: ['rnn', 'gru'],
      task: 'adding',
      length: 12,
      clipNorm: null,
      gradflowMode: 'h',
    });
    expect(parseLabQuery('').settings).toEqual(LAB_DEFAULTS);
  });

  // [query, the setting that keeps its default, what the notice names]
  const bad: [string, keyof typeof LAB_DEFAULTS | 'backend', RegExp][] = [
    ['?hidden=abc', 'hiddenSize', /\?hidden="abc" ignored \(hidden size must be a positive integer.*using 16/],
    ['?hidden=-3', 'hiddenSize', /\?hidden="-3" ignored/],
    ['?hidden=100000', 'hiddenSize', /too large for the page/],
    ['?steps=1e400', 'steps', /\?steps="1e400" ignored/],
    ['?lr=NaN', 'lr', /learning rate must be a finite number/],
    ['?lr=', 'lr', /\?lr="" ignored/],
    ['?task=mnist', 'task', /unknown task "mnist"/],
    ['?cells=lsmt', 'cells', /unknown cell "lsmt"/],
    ['?cells=', 'cells', /choose at least one cell/],
    ['?mode=sideways', 'gradflowMode', /LSTM Jacobian mode/],
    ['?length=500', 'length', /distance 500 is too long/],
    ['?seed=1.5', 'seed', /seed must be an integer/],
    ['?every=0', 'gradflowEvery', /\?every="0" ignored/],
    ['?backend=gpu', 'backend', /\?backend="gpu" ignored: use auto, webgl, wasm, cpu/],
    ['?frobnicate=1', 'hiddenSize', /\?frobnicate ignored: not a setting of the lab/],
  ];
  for (const [search, kept, notice] of bad) {
    it(`${search}: the default stays and a notice says why`, () => {
      const q = parseLabQuery(search);
      expect(q.notices).toHaveLength(1);
      expect(q.notices[0]).toMatch(notice);
      if (kept === 'backend') expect(q.backend).toBe('auto');
      else expect(q.settings[kept]).toEqual(LAB_DEFAULTS[kept]);
    });
  }

  const clashTitle =
    'one bad value costs only itself; a value that clashes with an earlier one is dropped, not the earlier one';
  it(clashTitle, () => {
    const q = parseLabQuery('?hidden=8&steps=zzz&task=copy&length=1&lr=0.5');
    expect(q.settings).toMatchObject({ hiddenSize: 8, steps: LAB_DEFAULTS.steps, task: 'copy', lr: 0.5 });
    expect(q.settings.length).toBe(LAB_DEFAULTS.length);
    expect(q.notices).toHaveLength(2);
    expect(q.notices[1]).toMatch(/copy task needs a sequence length of at least 2/);
  });

  it('repeated keys, malformed escapes and a flood of junk never throw; notices stay few', () => {
    expect(parseLabQuery('?hidden=8&hidden=9').settings.hiddenSize).toBe(8);
    expect(parseLabQuery('?hidden=%E0%A4%A').notices[0]).toMatch(/hidden/);
    const junk = parseLabQuery(`?${Array.from({ length: 500 }, (_, i) => `k${i}=${i}`).join('&')}`);
    expect(junk.settings).toEqual(LAB_DEFAULTS);
    expect(junk.notices).toHaveLength(6);
    expect(junk.notices[5]).toBe('and 495 more values ignored');
  });
});

describe("the lab's server", () => {
  const site: LabSite = new Map([
    ['index.html', Buffer.from('<!doctype html><title>lab</title>')],
    ['lab.js', Buffer.from('void 0;')],
    ['wasm/x.wasm', Buffer.from([0, 97, 115, 109])],
  ]);
  let close: () => Promise<void>;
  let port = 0;
  beforeAll(async () => {
    const { server } = await serveLabSite(site, 0, '127.0.0.1');
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((done) => server.close(() => done()));
  });
  afterAll(async () => close());

  /** A raw request: the path as typed, not normalized as fetch would. */
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; body: string }>((done, fail) => {
      const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });

  it('serves the site; a query that decodes is left to the page', async () => {
    expect(await get('/')).toEqual({ status: 200, body: '<!doctype html><title>lab</title>' });
    expect((await get('/index.html?hidden=abc&steps=-1')).status).toBe(200);
    expect((await get('/lab.js?x=%ZZ')).status).toBe(200); // only the page is redirected
    expect((await get('/wasm/x.wasm')).status).toBe(200);
  });

  const outside = [
    '/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2fpackage.json',
    '/wasm/../../package.json',
    '//etc/passwd',
    '/etc/passwd',
    '/%E0%A4%A',
    '/index.html%00.js',
    '/lab.js/',
    '/WASM/x.wasm',
  ];
  for (const path of outside) {
    it(`${path} → 404, and the server keeps serving`, async () => {
      const r = await get(path);
      expect(r.status).toBe(404);
      expect(r.body).toBe('not found\n');
      expect((await get('/lab.js')).status).toBe(200);
    });
  }

  it('a query part that does not decode is redirected to its literal text (tfjs on the page would throw)', async () => {
    const r = await new Promise<{ status: number; location?: string }>((done, fail) => {
      request({ host: '127.0.0.1', port, path: '/?backend=cpu&hidden=%E0%A4%A&%%%' }, (res) => {
        res.resume();
        done({ status: res.statusCode ?? 0, location: res.headers.location });
      })
        .on('error', fail)
        .end();
    });
    expect(r).toEqual({ status: 302, location: '/?backend=cpu&hidden=%25E0%25A4%25A&%25%25%25' });
    expect(repairQuery('?hidden=8&cells=rnn%2Clstm')).toBeNull();
    expect(parseLabQuery(r.location?.slice(1) ?? '').notices[0]).toMatch(/\?hidden="%E0%A4%A" ignored/);
  });

  it('methods other than GET and HEAD → 405', async () => {
    expect((await get('/index.html', 'POST')).status).toBe(405);
    expect((await get('/index.html', 'HEAD')).status).toBe(200);
  });

  it('sitePath: names within the site map only, null for what names no file', () => {
    expect(sitePath('/')).toBe('index.html');
    expect(sitePath('/%E0%A4%A')).toBeNull();
    expect(sitePath(undefined)).toBe('index.html');
  });
});
