import type { Argv } from 'yargs';
import { writeReport, type ReportResult } from '../report/report.js';
import { SeqlabError, oneLine, usageError } from '../util/errors.js';
import { table } from '../util/format.js';
import { printJson } from './common.js';
import { cliMessage } from './options.js';

export function reportOptions<T>(y: Argv<T>) {
  return y
    .positional('dir', { type: 'string', describe: 'a run directory (train, compare, sweep, or a directory of runs)' })
    .option('png', {
      type: 'boolean',
      default: true,
      describe: 'also write PNG files beside the SVGs (--no-png: SVG only)',
    })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'print one JSON document on stdout: the files written',
    })
    .option('quiet', { type: 'boolean', default: false, describe: 'print only the path of report.html' });
}

type ReportArgs = Awaited<ReturnType<typeof reportOptions>['argv']>;

export async function reportCommand(argv: ReportArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  if (a.dir === undefined)
    throw usageError('name a run directory: seqlab report RUN_DIR (a train, compare or sweep output directory)');
  const r = await writeReport(String(a.dir), { png: Boolean(a.png) });
  if (a.json) {
    printJson({ dir: r.dir, kind: r.kind, html: r.html, plots: r.plots });
    return;
  }
  if (!a.quiet) process.stdout.write(`${r.summary}\n`);
  if (!a.quiet && r.seedsTable) process.stdout.write(`over seeds:\n${table(r.seedsTable.header, r.seedsTable.rows)}\n`);
  process.stdout.write(
    `report: ${r.html} (${r.plots.length} plots, SVG${a.png ? ' and PNG' : ''} in ${r.dir}/plots)\n`,
  );
}

/**
 * The report at the end of `train` and `compare`: a failure here must not hide the
 * finished run, so it is one line on stderr and the command still succeeds.
 */
export async function reportAfterRun(dir: string | null): Promise<ReportResult | null> {
  if (!dir) return null;
  try {
    return await writeReport(dir);
  } catch (e) {
    const message = e instanceof SeqlabError ? cliMessage(e) : (e as Error).message;
    process.stderr.write(
      `seqlab: the run finished, but its report failed: ${oneLine(message)} ` + `(seqlab report ${dir} retries)\n`,
    );
    return null;
  }
}
