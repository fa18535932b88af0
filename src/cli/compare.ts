import { CELL_KINDS } from '../models/registry.js';
import type { Argv } from 'yargs';
import { type CompareOptions, type CompareResult, compareResume, compareRun, parseCells } from '../commands/compare.js';
import { StopRequests } from './signals.js';
import { positiveInt, usageError } from '../util/errors.js';
import { noteBackend, printJson, startBackend } from './common.js';
import { fmt, table } from '../util/format.js';
import { ProgressReporter } from './progress.js';
import { reportAfterRun } from './report.js';
import {
  COMPARE_DEFAULT_TASK,
  COMPARE_PRESETS,
  declareTrainOptions,
  parseTrainArgs,
  resolveOptions,
  timestamp,
} from './options.js';

export function compareOptions<T>(y: Argv<T>) {
  // no yargs defaults for the training options: the task's compare preset fills what the user left out
  return declareTrainOptions(y, false)
    .option('cells', { type: 'string', default: CELL_KINDS.join(','), describe: 'cells to compare, comma-separated' })
    .option('match-params', {
      type: 'boolean',
      default: false,
      describe: 'give every cell the hidden size closest to the LSTM’s parameter count',
    })
    .option('seq-len', {
      type: 'string',
      describe: 'sequence length, or a comma-separated sweep (adding/copy), e.g. 10,50,100,200',
    })
    .option('out', { type: 'string', describe: 'output directory (default runs/compare-<task>-<time>)' })
    .option('resume', {
      type: 'string',
      describe: 'finish the comparison in this directory (stopped or killed): its own options; other options ignored',
    });
}

type CompareArgs = Awaited<ReturnType<typeof compareOptions>['argv']>;

function parseSeqLens(value: unknown): (number | undefined)[] {
  if (value === undefined) return [undefined];
  const parts = String(value)
    .split(',')
    .map((s) => s.trim());
  if (parts.some((p) => p === ''))
    throw usageError(`--seq-len must be a number or a comma-separated list of numbers, got "${value}"`);
  return parts.map((p) => positiveInt('--seq-len', p));
}

export async function compareCommand(argv: CompareArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const task = String(a.task ?? COMPARE_DEFAULT_TASK);
  const merged = { ...resolveOptions(a, COMPARE_PRESETS[task]), task };
  const base = parseTrainArgs(merged);
  const cells = parseCells(String(a.cells));
  const seqLens = parseSeqLens(a['seq-len']);
  const out = (a.out as string | undefined) ?? `runs/compare-${task}-${timestamp()}`;
  const quiet = Boolean(a.quiet);
  const backend = await startBackend(String(a.backend));
  let progress: ProgressReporter | null = null;
  let current = -1;
  const stops = new StopRequests(
    (signal) => `${signal}: finishing this step and writing a checkpoint (${signal} again: stop at once)`,
    (signal) => `second ${signal}: stopped at once; the last checkpoint on disk is whole`,
  );
  const onProgress: CompareOptions['onProgress'] = (run, p) => {
    noteBackend(backend, quiet);
    if (run.index !== current) {
      progress?.done();
      current = run.index;
      const lengthNote = run.seqLen !== undefined && seqLens.length > 1 ? ` T=${run.seqLen}` : '';
      const label = `[${run.index + 1}/${run.total}] ${run.cell}${lengthNote}`;
      progress = new ProgressReporter(label, p.steps, process.stderr, !quiet);
    }
    if (Number.isFinite(p.loss)) progress?.update(p.step, `loss ${fmt(p.loss)}`);
  };
  const result = await (a.resume !== undefined
    ? compareResume(String(a.resume), backend, onProgress, stops.signal)
    : compareRun({
        ...base,
        cells,
        seqLens,
        matchParams: Boolean(a['match-params']),
        out,
        backend,
        pairs: Boolean((merged as Record<string, unknown>).report),
        onProgress,
        signal: stops.signal,
      })
  ).finally(() => {
    (progress as ProgressReporter | null)?.done();
    stops.dispose();
  });
  const report = (merged as Record<string, unknown>).report ? await reportAfterRun(result.outDir) : null;
  if (a.json) {
    printJson({ ...result, report: report?.html ?? null });
    return;
  }
  process.stdout.write(
    `${renderCompare(result)}\n${report ? `${[...report.sparklines, `report: ${report.html}`].join('\n')}\n` : ''}`,
  );
}

const horizon = (g: { horizon: number | null; T: number }) => (g.horizon === null ? `>${g.T}` : String(g.horizon));

/** The comparison as plain-text tables: one summary table, then one per metric breakdown (name@key=value). */
export function renderCompare(r: CompareResult): string {
  const sweep = r.rows.some((row) => row.seqLen !== null) && new Set(r.rows.map((row) => row.seqLen)).size > 1;
  const first = r.rows[0];
  const metricNames = Object.keys(first.metrics).filter((k) => !k.includes('@'));
  const header = [
    'cell',
    ...(sweep ? ['T'] : []),
    'H',
    'params',
    ...metricNames,
    r.target ? `steps→${r.target.metric}${r.target.goal === 'max' ? '≥' : '≤'}${r.target.value}` : 'steps',
    'horizon start→end',
    'decay/step start→end',
  ];
  const rows = r.rows.map((row) => [
    row.cell,
    ...(sweep ? [String(row.seqLen)] : []),
    String(row.hiddenSize),
    String(row.params),
    ...metricNames.map((m) => fmt(row.metrics[m])),
    row.stepsToTarget === null ? `not in ${row.steps}` : String(row.stepsToTarget),
    row.gradflow && row.gradflowStart ? `${horizon(row.gradflowStart)} → ${horizon(row.gradflow)}` : '-',
    row.gradflow && row.gradflowStart
      ? `${fmt(row.gradflowStart.decayPerStep, 2)} → ${fmt(row.gradflow.decayPerStep, 2)}`
      : '-',
  ]);
  const parts = [
    `${r.task}: ${r.rows
      .map((x) => x.cell)
      .filter((c, i, all) => all.indexOf(c) === i)
      .join(' vs ')} · backend ${r.backend}${r.matchParams ? ' · matched parameters' : ''}`,
    table(header, rows),
  ];
  // breakdowns such as accuracy@d=12: one table per (metric, key), columns = values
  const groups = new Map<string, string[]>();
  for (const k of Object.keys(first.metrics)) {
    const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
    if (!m || m[1].startsWith('n')) continue;
    const g = `${m[1]} by ${m[2]}`;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  for (const [g, keys] of groups) {
    const cols = keys.map((k) => k.split('=')[1]);
    parts.push(`${g}:`);
    parts.push(
      table(
        [sweep ? 'cell/T' : 'cell', ...cols],
        r.rows.map((row) => [
          sweep ? `${row.cell}/${row.seqLen}` : row.cell,
          ...keys.map((k) => fmt(row.metrics[k], 3)),
        ]),
      ),
    );
  }
  const modeNote =
    r.gradflowMode === 'state' ? '; LSTM in "state" mode: s = [h; c]' : '; LSTM in "h" mode: c_k held fixed';
  parts.push(
    'horizon: first gap k at which the Jacobian norm ‖∂h_T/∂h_k‖ ' +
      `(spectral, batch mean on the probe batch${modeNote}) falls below 1e-3, before training and after it; ` +
      'decay/step: −slope of ln‖·‖ per step of gap (nats). ' +
      "The same probes are logged every --gradflow-every steps in each run's log.jsonl.",
  );
  if (r.outDir) parts.push(`runs and compare.json in ${r.outDir}`);
  return parts.join('\n');
}
