import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLabQuery } from '../../src/lab/link.js';
import { repairQuery } from '../../src/lab/query.js';
import { LAB_DEFAULTS } from '../../src/lab/settings.js';
import { type LabSite, serveLabSite, sitePath } from '../../src/lab/site.js';

// The lab's link read as the page starts (link.ts, parseLabQuery: each value through its form field
// and checkSettings), and the server the page comes from (site.ts).

describe("the lab page's query", () => {
  it('presets the form from good values', () => {
    const q = parseLabQuery(
      '?hidden=8&steps=40&cells=rnn,gru&task=adding&seq-len=12&clip-norm=off&gradflow-mode=h&backend=cpu&worker=0',
    );
    expect(q.notices).toEqual([]);
    expect(q.page).toEqual({ backend: 'cpu', worker: false });
    expect(q.settings).toEqual({
      ...LAB_DEFAULTS,
      hiddenSize: 8,
      steps: 40,
      cells: ['rnn', 'gru'],
      task: 'adding',
      seqLen: 12,
      clipNorm: null,
      gradflowMode: 'h',
    });
    expect(parseLabQuery('').settings).toEqual(LAB_DEFAULTS);
    expect(parseLabQuery('').page).toEqual({ backend: 'auto', worker: true });
  });

  const d = LAB_DEFAULTS;
  // [query, the setting that keeps its default, what the notice names]
  const bad: [string, keyof typeof LAB_DEFAULTS | 'backend', RegExp][] = [
    [
      '?hidden=abc',
      'hiddenSize',
      new RegExp(`\\?hidden="abc" ignored \\(hidden size must be a number.*using ${d.hiddenSize}`),
    ],
    ['?hidden=-3', 'hiddenSize', /\?hidden="-3" ignored \(hidden size must be a positive integer/],
    ['?hidden=100000', 'hiddenSize', /too large for the page/],
    ['?steps=1e400', 'steps', /\?steps="1e400" ignored \(steps must be a number/],
    ['?lr=NaN', 'lr', /learning rate must be a number/],
    ['?lr=0', 'lr', /learning rate must be > 0/],
    ['?lr=', 'lr', /\?lr="" ignored/],
    ['?task=mnist', 'task', /unknown task "mnist"/],
    ['?cells=lsmt', 'cells', /unknown cell "lsmt"/],
    ['?cells=', 'cells', /choose at least one cell/],
    ['?cells=rnn,rnn', 'cells', /a cell is listed twice/],
    ['?gradflow-mode=sideways', 'gradflowMode', /unknown LSTM Jacobian mode "sideways"/],
    ['?init=zeros', 'init', /unknown initializer "zeros"/],
    ['?train-distances=30-50', 'trainDistances', /distance 50 is too long for the page/],
    ['?train-distances=16-8', 'trainDistances', /training distances 16-8 are reversed/],
    ['?train-distances=8 to 16', 'trainDistances', /training distances must be MIN-MAX/],
    ['?test-distances=8,x', 'testDistances', /test distances must be a number, got "x"/],
    ['?seed=1.5', 'seed', /seed must be an integer/],
    ['?gradflow-every=0', 'gradflowEvery', /\?gradflow-every="0" ignored/],
    ['?eval-every=-1', 'evalEvery', /\?eval-every="-1" ignored/],
    ['?clip-norm=-2', 'clipNorm', /clipping norm must be > 0/],
    ['?backend=gpu', 'backend', /\?backend="gpu" ignored: use auto, webgl, wasm, cpu/],
    ['?frobnicate=1', 'hiddenSize', /\?frobnicate ignored: not a setting of the lab/],
  ];
  for (const [search, kept, notice] of bad) {
    it(`${search}: the default stays and a notice says why`, () => {
      const q = parseLabQuery(search);
      expect(q.notices).toHaveLength(1);
      expect(q.notices[0]).toMatch(notice);
      if (kept === 'backend') expect(q.page.backend).toBe('auto');
      else expect(q.settings[kept]).toEqual(LAB_DEFAULTS[kept]);
    });
  }

  const clashTitle =
    "one bad value costs only itself; values are read in the form's order (the task first), so a value that " +
    'clashes with the task is dropped, not the task';
  it(clashTitle, () => {
    const q = parseLabQuery('?hidden=8&steps=zzz&seq-len=1&task=copy&lr=0.5');
    expect(q.settings).toMatchObject({ hiddenSize: 8, steps: LAB_DEFAULTS.steps, task: 'copy', lr: 0.5 });
    expect(q.settings.seqLen).toBe(LAB_DEFAULTS.seqLen);
    expect(q.notices).toHaveLength(2);
    expect(q.notices[0]).toMatch(/\?seq-len="1" ignored \(the copy task needs a sequence length of at least 2\)/);
    expect(q.notices[1]).toMatch(/\?steps="zzz" ignored/);
  });

  it('repeated keys, malformed escapes and a flood of junk never throw; notices stay few', () => {
    const twice = parseLabQuery('?hidden=8&hidden=9&backend=cpu&backend=wasm');
    expect(twice.settings.hiddenSize).toBe(8);
    expect(twice.page.backend).toBe('cpu');
    expect(twice.notices).toEqual([
      '?hidden is given twice; the first value counts',
      '?backend is given twice; the first value counts',
    ]);
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
