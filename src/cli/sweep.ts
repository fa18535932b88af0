import { TRAIN_DEFAULTS } from '../training/config.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { writeReport } from '../report/report.js';
import { toCsv, type SweepResults } from '../report/sweep-table.js';
import { seedsRows } from '../report/seeds-table.js';
import { TASK_NAMES } from '../tasks/registry.js';
import {
  expandGrid,
  isFinished,
  parseShard,
  readSweepFile,
  runConfigs,
  shardRuns,
  writeSweepJson,
  type SweepRun,
  type SweepSpec,
} from '../commands/sweep.js';
import { isResumableRun } from '../commands/train.js';
import { CELL_KINDS } from '../models/registry.js';
import { SeqlabError, inputError, oneOf, positiveInt, usageError } from '../util/errors.js';
import { ensureDir, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import { printJson } from './common.js';
import { fmt, table } from '../util/format.js';
import { TRAIN_OPTIONS, parseTrainArgs, resolveOptions } from './options.js';
import { formatSeconds } from './progress.js';

export function sweepOptions<T>(y: Argv<T>) {
  return y
    .positional('config', {
      type: 'string',
      describe: 'sweep file (JSON, or YAML: .yaml/.yml) with base options and a grid',
    })
    .option('out', { type: 'string', describe: 'sweep directory (default: the file’s "out", else runs/sweep-<name>)' })
    .option('workers', {
      type: 'number',
      default: 1,
      describe: 'configurations trained at once, each in its own process',
    })
    .option('shard', {
      type: 'string',
      describe: 'run only shard i of n (i/n, 0-based): configurations i, i+n, i+2n, … (job arrays)',
    })
    .option('collect', {
      type: 'string',
      describe: 'merge the finished runs of this sweep directory into results.csv/.json and report.html',
    })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: 'list this shard’s configurations and whether each is finished; run nothing',
    })
    .option('backend', {
      type: 'string',
      default: process.env.SEQLAB_BACKEND ?? 'auto',
      describe: 'tfjs backend of every run (auto, tensorflow, wasm, cpu); env SEQLAB_BACKEND',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' });
}

type SweepArgs = Awaited<ReturnType<typeof sweepOptions>['argv']>;

/** Options a sweep sets itself for each run; a sweep file may not. */
const RESERVED = ['out', 'resume', 'json', 'quiet', 'report', 'overwrite', 'backend', 'preset'];
/** `seqlab train` options a sweep file may set. */
const SWEEP_KEYS = [...Object.keys(TRAIN_OPTIONS).filter((k) => !RESERVED.includes(k)), 'cell', 'seq-len', 'seed'];

/** Check one configuration the way `seqlab train` would, so a bad value fails before anything runs. */
export function checkRun(run: SweepRun): void {
  try {
    for (const k of Object.keys(run.options)) {
      if (!SWEEP_KEYS.includes(k))
        throw usageError(`unknown option "${k}"${RESERVED.includes(k) ? ' (the sweep sets it)' : ''}`);
    }
    const a = resolveOptions(run.options, { seed: TRAIN_DEFAULTS.seed });
    oneOf('cell', a.cell, CELL_KINDS);
    oneOf('task', a.task, TASK_NAMES);
    if (a['seq-len'] !== undefined) positiveInt('--seq-len', a['seq-len']);
    parseTrainArgs(a);
  } catch (e) {
    if (e instanceof SeqlabError)
      throw new SeqlabError('input', (field) => `sweep configuration "${run.name}": ${e.messageWith(field)}`);
    throw e;
  }
}

/** A configuration's options as `seqlab train` arguments. */
export function trainArgs(options: Record<string, string | number | boolean>): string[] {
  return Object.entries(options).flatMap(([k, v]) =>
    typeof v === 'boolean' ? [v ? `--${k}` : `--no-${k}`] : [`--${k}`, String(v)],
  );
}

const BIN = fileURLToPath(new URL('../../../bin/seqlab.js', import.meta.url));

export async function sweepCommand(argv: SweepArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const quiet = Boolean(a.quiet);
  if (a.collect !== undefined) {
    if (a.config !== undefined || a.shard !== undefined)
      throw usageError('--collect DIR takes no sweep file and no --shard; it merges what the shards wrote');
    await collect(String(a.collect), Boolean(a.json), quiet);
    return;
  }
  if (a.config === undefined)
    throw usageError(
      'name a sweep file (seqlab sweep CONFIG) or a sweep directory to collect (seqlab sweep --collect DIR)',
    );
  const shard = a.shard === undefined ? null : parseShard(String(a.shard));
  const workers = positiveInt('--workers', a.workers);
  const backend = oneOf('backend', a.backend, ['auto', 'tensorflow', 'wasm', 'cpu'] as const);
  const config = String(a.config);
  if (existsSync(config) && statSync(config).isDirectory())
    throw inputError(`sweep file is a directory: ${config} (to collect a sweep's results use --collect ${config})`);
  const spec = readSweepFile(config, basename(config, extname(config)));
  const runs = expandGrid(spec);
  runs.forEach(checkRun);
  const out = (a.out as string | undefined) ?? spec.out ?? join('runs', `sweep-${spec.name}`);
  // a stopped run continues from its checkpoint only if the sweep is the one that started it
  const resumable = claimDir(out, runs, spec);
  writeSweepJson(out, spec, runs);
  const mine = shardRuns(runs, shard);
  const pending = mine.filter((r) => !isFinished(out, r));
  const where = shard ? `shard ${shard.index}/${shard.count}: ` : '';
  if (a['dry-run']) {
    if (a.json)
      printJson({ out, total: runs.length, shard, runs: mine.map((r) => ({ ...r, finished: isFinished(out, r) })) });
    else
      process.stdout.write(
        `${where}${mine.length} of ${runs.length} configurations, ${mine.length - pending.length} finished\n` +
          mine.map((r) => `${isFinished(out, r) ? 'done' : 'todo'}  ${r.name}`).join('\n') +
          '\n',
      );
    return;
  }
  if (!quiet)
    process.stderr.write(
      `seqlab: sweep ${spec.name}: ${where}${mine.length} of ${runs.length} configurations, ` +
        `${mine.length - pending.length} already finished, ` +
        `${pending.length} to run on ${workers} worker${workers > 1 ? 's' : ''} → ${out}\n`,
    );
  // one thread per run: the sweep's parallelism is its workers, and every run computes the same way however many
  // there are
  const threads: Record<string, number> = 'threads' in TRAIN_OPTIONS ? { threads: 1 } : {};
  const result = await runConfigs({
    out,
    runs: pending,
    workers,
    command: (run) => {
      const dir = join(out, run.dir);
      const how =
        resumable && isResumableRun(dir)
          ? ['--resume', dir]
          : [...trainArgs({ ...threads, ...run.options }), '--out', dir, '--overwrite'];
      return [process.execPath, BIN, 'train', ...how, '--no-report', '--quiet', '--json', '--backend', backend];
    },
    onEvent: (e) => {
      if (quiet || e.kind === 'start') return;
      const took = e.elapsedMs === undefined ? '' : ` in ${(e.elapsedMs / 1000).toFixed(1)} s`;
      const what = { done: 'finished', stopped: 'stopped with a checkpoint', failed: `FAILED (${e.message})` }[e.kind];
      process.stderr.write(`[${e.done}/${e.total}] ${e.run.name}: ${what}${took}\n`);
    },
    onSignal: (signal, running, first) =>
      process.stderr.write(
        first
          ? `seqlab: ${signal}: asking the ${running} running configuration(s) to stop after their current step ` +
              `(${signal} again: at once)\n`
          : `seqlab: second ${signal}: stopped at once; every run's last checkpoint on disk is whole\n`,
      ),
  });
  if (!quiet)
    process.stderr.write(
      `seqlab: ran ${result.ran.length} configuration${result.ran.length === 1 ? '' : 's'} ` +
        `in ${formatSeconds(result.elapsedMs / 1000)} (${(result.elapsedMs / 1000).toFixed(1)} s)\n`,
    );
  if (result.failed.length > 0) {
    const f = result.failed[0];
    throw new SeqlabError(
      'input',
      `${result.failed.length} of ${pending.length} configurations failed ` +
        `(first: ${f.name}: ${f.message.replace(/^seqlab: /, '')}); logs in ${join(out, 'logs')}`,
    );
  }
  if (shard) {
    if (a.json)
      printJson({ out, shard, ran: result.ran, skipped: mine.length - pending.length, elapsedMs: result.elapsedMs });
    else
      process.stdout.write(
        `${where}done (${result.ran.length} ran, ${mine.length - pending.length} skipped); ` +
          `when every shard has finished: seqlab sweep --collect ${out}\n`,
      );
    return;
  }
  await collect(out, Boolean(a.json), quiet, result.elapsedMs);
}

/**
 * Refuse a directory that holds a different sweep (its sweep.json lists other runs). Returns true
 * when it holds this very sweep (the same base and grid): its stopped runs may then be resumed.
 */
function claimDir(out: string, runs: SweepRun[], spec: SweepSpec): boolean {
  const path = join(out, 'sweep.json');
  let same = false;
  if (existsSync(path)) {
    let doc: { runs: { dir: string }[]; base?: unknown; grid?: unknown };
    let listed: string[] = [];
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'));
      listed = doc.runs.map((r) => r.dir);
    } catch {
      throw new SeqlabError('input', `${path} is not a readable sweep file; remove it or choose another --out`);
    }
    if (JSON.stringify(listed) !== JSON.stringify(runs.map((r) => r.dir))) {
      throw usageError(`${out} holds another sweep (its sweep.json lists other configurations); choose another --out`);
    }
    same = JSON.stringify([doc.base, doc.grid]) === JSON.stringify([spec.base, spec.grid]);
  }
  ensureDir(out);
  return same;
}

/** The sweep directory must be one, to collect it. */
function checkSweepDir(dir: string): void {
  if (!existsSync(join(dir, 'sweep.json')))
    throw inputError(`${dir} is not a sweep directory (no sweep.json); run seqlab sweep CONFIG --out ${dir} first`);
}

/** results.json, results.csv and report.html of a sweep directory; with a seed axis also seeds.json and seeds.csv. */
async function collect(dir: string, json: boolean, quiet: boolean, elapsedMs?: number): Promise<void> {
  checkSweepDir(dir);
  const report = await writeReport(dir);
  const results = report.sweep as SweepResults;
  writeJsonAtomic(join(dir, 'results.json'), results);
  writeFileAtomic(join(dir, 'results.csv'), toCsv(results));
  const seeds = report.seeds;
  if (seeds) {
    writeJsonAtomic(join(dir, 'seeds.json'), seeds);
    writeFileAtomic(join(dir, 'seeds.csv'), toCsv({ ...seedsRows(seeds), varying: [] }));
  }
  const missing = results.rows.filter((r) => r.status === 'missing' || r.status === 'unfinished').length;
  if (missing > 0 && !quiet)
    process.stderr.write(
      `seqlab: ${missing} of ${results.rows.length} configurations have no results yet ` +
        '(status "missing" or "unfinished" in the table)\n',
    );
  if (json) {
    printJson({
      dir,
      results: results.rows,
      seeds,
      csv: join(dir, 'results.csv'),
      json: join(dir, 'results.json'),
      report: report.html,
      ...(elapsedMs !== undefined ? { elapsedMs } : {}),
    });
    return;
  }
  const cols = results.columns.filter((c) => !c.includes('@') && c !== 'name' && c !== 'params');
  const show = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : fmt(v)) : String(v ?? '-'));
  const rows = results.rows.map((r) => cols.map((c) => show(r[c])));
  const lines = [table(cols, rows)];
  if (seeds && report.seedsTable) {
    const t = report.seedsTable;
    lines.push(
      `over seeds: mean ± sd, the 95 % t-interval of the mean, n seeds; horizon: seeds whose norm fell below 1e-3 ` +
        'of n · median (">T": beyond the probe for most seeds)',
      table(t.header, t.rows),
    );
  }
  lines.push(
    `results: ${join(dir, 'results.csv')} and results.json${seeds ? ', seeds.csv and seeds.json' : ''} · ` +
      `report: ${report.html}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
