import type { Argv } from 'yargs';
import { prepareOutDir } from '../runlog/rundir.js';
import { nonNegativeInt } from '../util/errors.js';
import { printJson } from './common.js';

export function labOptions<T>(y: Argv<T>) {
  return y
    .option('port', { type: 'number', default: 8765, describe: 'port to serve the page on (0: any free port)' })
    .option('host', {
      type: 'string',
      default: '127.0.0.1',
      describe: 'address to listen on (default: this machine only)',
    })
    .option('out', {
      type: 'string',
      describe: 'write the static site into this directory (for any web host) instead of serving it',
    })
    .option('overwrite', { type: 'boolean', default: false, describe: 'with --out: write into a non-empty directory' })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print one JSON document on stdout: the URL, or the files written',
    });
}

type LabArgs = Awaited<ReturnType<typeof labOptions>['argv']>;

/** `seqlab lab`: build the page, then serve it until interrupted, or write it with --out. */
export async function labCommand(argv: LabArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const port = nonNegativeInt('--port', a.port);
  if (a.out !== undefined) prepareOutDir(String(a.out), Boolean(a.overwrite));
  // loaded here, so other commands never pay for loading esbuild
  const { buildLabSite, serveLabSite, writeLabSite } = await import('../lab/site.js');
  const site = await buildLabSite();
  if (a.out !== undefined) {
    const files = writeLabSite(site, String(a.out));
    if (a.json) printJson({ out: String(a.out), files });
    else
      process.stdout.write(
        `lab: ${files.length} files in ${String(a.out)} (open index.html through any static web server)\n`,
      );
    return;
  }
  const { url, server } = await serveLabSite(site, port, String(a.host));
  if (a.json) printJson({ url });
  else process.stdout.write(`lab: ${url} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.closeAllConnections(); // a browser's keep-alive connection would hold close() open
      server.close(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
