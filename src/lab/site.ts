import { build, type Plugin } from 'esbuild';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLexiconPath } from '../tasks/agreement/lexicon.js';
import { SeqlabError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { LAB_PAGE_HTML } from './html.js';
import { repairQuery } from './query.js';

/**
 * `seqlab lab`: bundle src/lab/page.ts and its worker, src/lab/worker.ts (and the library
 * code they import) for the browser with esbuild, and put them beside index.html, the
 * shipped agreement lexicon and tfjs's wasm binaries. The site is a set of static files: served from memory
 * here, or written to a directory for any web host.
 *
 * The page imports models, tasks and the trainer directly. A few modules on that path
 * also import Node built-ins for work the page never asks for (the trainer's worker
 * threads, run-directory files, the lexicon's file lookup); those built-ins are
 * replaced by stubs that throw if called. Any other Node built-in fails the build.
 */

/** Node-only modules the page's imports reach, with the names they import; each export is a function that throws. */
const NODE_STUBS: Readonly<Record<string, readonly string[]>> = {
  'node:fs': [
    'existsSync',
    'readFileSync',
    'writeFileSync',
    'renameSync',
    'statSync',
    'mkdirSync',
    'appendFileSync',
    'readdirSync',
    'rmSync',
    'openSync',
    'closeSync',
    'writeSync',
    'fstatSync',
    'ftruncateSync',
    'promises',
  ],
  'node:os': ['availableParallelism', 'tmpdir'],
  'node:url': ['fileURLToPath', 'pathToFileURL'],
  'node:path': ['join', 'dirname', 'basename', 'resolve'],
  'node:worker_threads': ['Worker', 'MessageChannel', 'receiveMessageOnPort', 'workerData', 'parentPort'],
  'node:crypto': ['createHash'],
  // svgToPng's lazy import in report/render.ts (the lab's chart worker draws on canvases instead)
  '@resvg/resvg-js': ['Resvg'],
};

function stubSource(module: string): string {
  const lines = [
    'const fail = (name) => function () { ' +
      `throw new Error(\`${module} \${name} is not available in the browser lab\`); };`,
  ];
  for (const name of NODE_STUBS[module]) lines.push(`export const ${name} = fail(${JSON.stringify(name)});`);
  return lines.join('\n');
}

const nodeStubs: Plugin = {
  name: 'seqlab-node-stubs',
  setup(b) {
    b.onResolve({ filter: /^(node:|@resvg\/resvg-js$)/ }, (args) => {
      if (args.path in NODE_STUBS) return { path: args.path, namespace: 'node-stub' };
      return {
        errors: [
          {
            text:
              `${args.path} (imported by ${args.importer}) is Node-only and has no browser stub; ` +
              "keep it off the lab page's imports",
          },
        ],
      };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({ contents: stubSource(args.path), loader: 'js' }));
  },
};

/** The site's files by URL path ("index.html", "lab.js", "wasm/…"). */
export type LabSite = Map<string, Uint8Array>;

const here = dirname(fileURLToPath(import.meta.url));

/** `stem`.ts from the sources (tests, tsx), `stem`.js from dist/ (the installed CLI). */
function entry(stem: string): string {
  for (const name of [`${stem}.ts`, `${stem}.js`]) {
    const p = join(here, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`lab entry ${stem} not found in ${here}`);
}

function wasmDir(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  let dir = dirname(main);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'dist');
}

/**
 * Bundle the page (lab.js), its training worker (lab-worker.js) and its chart worker
 * (lab-render.js), both module workers, their shared code (tfjs, vega, the library) split
 * into chunk-*.js files they import, and gather the static files. `minify` off keeps stack
 * traces readable.
 */
export async function buildLabSite(options: { minify?: boolean } = {}): Promise<LabSite> {
  const result = await build({
    entryPoints: { lab: entry('page'), 'lab-worker': entry('worker'), 'lab-render': entry('render-worker') },
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: false,
    write: false,
    outdir: 'site',
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [nodeStubs],
    define: { 'process.env.NODE_ENV': '"production"' },
  }).catch((e: Error) => {
    throw new Error(`bundling the lab page failed: ${e.message}`);
  });
  const site: LabSite = new Map();
  for (const f of result.outputFiles) site.set(basename(f.path), f.contents);
  site.set('index.html', Buffer.from(LAB_PAGE_HTML));
  site.set('agreement-pt.json', readFileSync(defaultLexiconPath()));
  const wasm = wasmDir();
  for (const name of readdirSync(wasm).filter((n) => n.endsWith('.wasm')))
    site.set(`wasm/${name}`, readFileSync(join(wasm, name)));
  return site;
}

/** Write the site into `dir` (any static web host serves it as it is). Returns the files written. */
export function writeLabSite(site: LabSite, dir: string): string[] {
  const written: string[] = [];
  for (const [name, data] of site) {
    writeFileAtomic(join(dir, name), data);
    written.push(join(dir, name));
  }
  return written;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/**
 * The site file a request path names, or null. Files are looked up by name in the site's map, never
 * on disk, so no path (`../`, `%2e%2e/`, an absolute path, a malformed escape) reaches outside it.
 */
export function sitePath(url: string | undefined): string | null {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url ?? '/', 'http://x').pathname);
  } catch {
    return null; // a malformed %-escape names no file
  }
  return path.replace(/^\/+/, '') || 'index.html';
}

/** The query part of a request URL ("" when there is none, or the URL does not parse). */
function queryOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://x').search;
  } catch {
    return '';
  }
}

/** Serve the site on host:port (port 0 = any free port); resolves once listening, with the URL. */
export function serveLabSite(site: LabSite, port: number, host: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const path = sitePath(req.url);
    const repaired = path === 'index.html' ? repairQuery(queryOf(req.url)) : null;
    if (repaired !== null) {
      // a query part that does not decode would break tfjs on the page: send its literal text instead
      res.writeHead(302, { location: `/${repaired}` }).end();
      return;
    }
    const body = path === null ? undefined : site.get(path);
    if (path === null || !body) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': body.byteLength,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new SeqlabError(
              'usage',
              (field) => `port ${port} on ${host} is in use; pass another ${field('port')} (0 picks a free one)`,
            )
          : new SeqlabError('io', `cannot listen on ${host}:${port}: ${e.message}`),
      );
    });
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({ url: `http://${shownHost}:${actual}/`, server });
    });
  });
}
