import { CELL_KINDS } from '../models/registry.js';
import { TRAIN_DEFAULTS } from '../training/config.js';
import { TASK_NAMES } from '../tasks/registry.js';
import type { Argv } from 'yargs';
import { type CompareOptions, type CompareResult, compareResume, compareRun, parseCells } from '../commands/compare.js';
import { StopRequests } from './signals.js';
import { positiveInt, usageError } from '../util/errors.js';
import { noteBackend, printJson, startBackend } from './common.js';
import { fmt, table } from '../util/format.js';
import { ProgressReporter } from './progress.js';
import { reportAfterRun } from './report.js';
import { exclusionNotes, meanSd, seedsTable, type SeedsColumn } from '../report/seeds-table.js';
import { agreementStudyCommand } from './agreement-study.js';
import { AGREEMENT_UD_TASK } from '../commands/agreement-study.js';
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
  return (
    declareTrainOptions(y, false)
      .option('task', {
        type: 'string',
        describe:
          `task: ${[...TASK_NAMES, AGREEMENT_UD_TASK].join(', ')} (agreement-ud: word LMs on Portuguese, scored on ` +
          'agreement items from UD treebanks; --corpus DIR: where its corpus is built, default <out>/corpus) ' +
          `(default ${COMPARE_DEFAULT_TASK})`,
      })
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
      .option('seeds', {
        type: 'string',
        describe: 'train each cell once per seed, one after another, and aggregate: a list and ranges (1-5, 1,2,7-9)',
      })
      // no default here, so --seed given beside --seeds can be told from the default
      .option('seed', {
        type: 'number',
        default: undefined,
        describe: 'seed for weights, data order and inputs (default 1)',
      })
      .option('out', { type: 'string', describe: 'output directory (default runs/compare-<task>-<time>)' })
      .option('resume', {
        type: 'string',
        describe: 'finish the comparison in this directory (stopped or killed): its own options; other options ignored',
      })
  );
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

/** "1-5", "1,2,7-9": non-negative integers, ranges inclusive, each seed once, in the order given. */
export function parseSeeds(value: unknown): number[] {
  const text = String(value);
  const bad = () =>
    usageError(`--seeds must be a list of seeds and ranges such as 1-5 or 1,2,7-9, got ${JSON.stringify(text)}`);
  const seeds: number[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw bad();
    const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (hi < lo) throw usageError(`--seeds range ${part} runs backwards; write it as ${hi}-${lo}`);
    for (let s = lo; s <= hi; s++) seeds.push(s);
  }
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw usageError(`--seeds lists seed ${twice} twice`);
  return seeds;
}

export async function compareCommand(argv: CompareArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const task = String(a.task ?? COMPARE_DEFAULT_TASK);
  if (task === AGREEMENT_UD_TASK) return agreementStudyCommand(argv);
  if (a.seeds !== undefined && a.seed !== undefined)
    throw usageError('--seed and --seeds exclude each other: --seeds 1-5 trains seeds 1 to 5, --seed 3 one seed');
  const seeds = a.seeds === undefined ? undefined : parseSeeds(a.seeds);
  const merged = { ...resolveOptions(a, { seed: TRAIN_DEFAULTS.seed, ...COMPARE_PRESETS[task] }), task };
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
      const lengthNote = run.seqLen !== undefined && run.lengthCount > 1 ? ` T=${run.seqLen}` : '';
      const seedNote = run.seedCount > 1 ? ` seed ${run.seed}` : '';
      const label = `[${run.index + 1}/${run.total}] ${run.cell}${lengthNote}${seedNote}`;
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
        seeds,
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

const targetName = (t: NonNullable<CompareResult['target']>) => `${t.metric}${t.goal === 'max' ? '≥' : '≤'}${t.value}`;

/** "1-5", "1-3, 7": consecutive seeds as ranges. */
export function seedList(seeds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length; ) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j] + 1) j++;
    parts.push(j > i ? `${seeds[i]}-${seeds[j]}` : String(seeds[i]));
    i = j + 1;
  }
  return parts.join(', ');
}

/**
 * The aggregates over seeds: per (cell, length) the task's main metric as mean ± sd with its
 * 95 % interval, the other metrics as mean ± sd, the steps to the target and the horizons as
 * "k of n · median", the decay per step at the end; then the breakdowns' means.
 */
function renderSeeds(r: CompareResult, sweep: boolean, breakdowns: string[][]): string {
  const groups = r.aggregates!;
  const main = r.target?.metric ?? Object.keys(r.rows[0].metrics).find((k) => !k.includes('@')) ?? 'loss';
  const others = Object.keys(r.rows[0].metrics).filter(
    (k) => !k.includes('@') && k !== main && !k.startsWith('baseline'),
  );
  const level = `${Math.round((groups[0].metrics[main]?.level ?? 0.95) * 100)} % CI`;
  const columns: SeedsColumn[] = [
    { kind: 'setting', key: 'cell', title: 'cell' },
    ...(sweep ? [{ kind: 'setting', key: 'seqLen', title: 'T' } as const] : []),
    { kind: 'n', key: main, title: 'n' },
    { kind: 'mean', key: main, title: `${main} mean ± sd` },
    { kind: 'interval', key: main, title: level },
    ...others.map((m) => ({ kind: 'mean', key: m, title: m, digits: 3 }) as const),
    ...(r.target ? [{ kind: 'censored', key: 'stepsToTarget', title: `steps→${targetName(r.target)}` } as const] : []),
    { kind: 'censored', key: 'horizonStart', title: 'horizon start' },
    { kind: 'censored', key: 'horizon', title: 'horizon end' },
    { kind: 'mean', key: 'decayPerStep', title: 'decay/step end', digits: 2 },
  ];
  const t = seedsTable(groups, columns);
  const name = (g: (typeof groups)[number]) => `${g.settings.cell}${sweep ? ` T=${g.settings.seqLen}` : ''}`;
  const parts = [
    `over seeds ${seedList(r.seeds)}: mean ± sd (sample), the ${level.replace(' CI', '')} t-interval ` +
      'of the mean, n seeds; ' +
      'steps and horizons: seeds that reached it of n · median (">N": beyond the bound for most seeds)',
    table(t.header, t.rows),
  ];
  const lost = exclusionNotes(groups, main, name);
  if (lost) parts.push(`left out of ${main}:\n${lost}`);
  for (const keys of breakdowns) {
    const [metric, key] = keys[0].split('@');
    parts.push(`${metric} by ${key.split('=')[0]}, mean ± sd over seeds:`);
    parts.push(
      table(
        [sweep ? 'cell/T' : 'cell', ...keys.map((k) => k.split('=')[1])],
        groups.map((g) => [
          sweep ? `${g.settings.cell}/${g.settings.seqLen}` : String(g.settings.cell),
          ...keys.map((k) => (g.metrics[k] ? meanSd(g.metrics[k], 3) : '-')),
        ]),
      ),
    );
  }
  return parts.join('\n');
}

const horizon = (g: { horizon: number | null; T: number }) => (g.horizon === null ? `>${g.T}` : String(g.horizon));

/** The comparison as plain-text tables: one summary table, then one per metric breakdown (name@key=value). */
export function renderCompare(r: CompareResult): string {
  const sweep = r.rows.some((row) => row.seqLen !== null) && new Set(r.rows.map((row) => row.seqLen)).size > 1;
  const seeds = r.seeds.length > 1;
  const first = r.rows[0];
  const metricNames = Object.keys(first.metrics).filter((k) => !k.includes('@'));
  const header = [
    'cell',
    ...(sweep ? ['T'] : []),
    ...(seeds ? ['seed'] : []),
    'H',
    'params',
    ...metricNames,
    r.target ? `steps→${targetName(r.target)}` : 'steps',
    'horizon start→end',
    'decay/step start→end',
  ];
  const rows = r.rows.map((row) => [
    row.cell,
    ...(sweep ? [String(row.seqLen)] : []),
    ...(seeds ? [String(row.seed)] : []),
    String(row.hiddenSize),
    String(row.params),
    ...metricNames.map((m) => fmt(row.metrics[m])),
    row.stepsToTarget === null ? `not in ${row.steps}` : String(row.stepsToTarget),
    row.gradflow && row.gradflowStart ? `${horizon(row.gradflowStart)} → ${horizon(row.gradflow)}` : '-',
    row.gradflow && row.gradflowStart
      ? `${fmt(row.gradflowStart.decayPerStep, 2)} → ${fmt(row.gradflow.decayPerStep, 2)}`
      : '-',
  ]);
  const cells = r.rows.map((x) => x.cell).filter((c, i, all) => all.indexOf(c) === i);
  const notes = `${r.matchParams ? ' · matched parameters' : ''}${seeds ? ` · seeds ${seedList(r.seeds)}` : ''}`;
  const parts = [`${r.task}: ${cells.join(' vs ')} · backend ${r.backend}${notes}`, table(header, rows)];
  // breakdowns such as accuracy@d=12: one table per (metric, key), columns = values
  const groups = new Map<string, string[]>();
  for (const k of Object.keys(first.metrics)) {
    const m = /^([^@]+)@([^=]+)=(.+)$/.exec(k);
    if (!m || m[1].startsWith('n')) continue;
    const g = `${m[1]} by ${m[2]}`;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  const rowName = (row: CompareResult['rows'][number]) =>
    [row.cell, ...(sweep ? [row.seqLen] : []), ...(seeds ? [`s${row.seed}`] : [])].join('/');
  for (const [g, keys] of groups) {
    const cols = keys.map((k) => k.split('=')[1]);
    parts.push(`${g}:`);
    parts.push(
      table(
        [['cell', ...(sweep ? ['T'] : []), ...(seeds ? ['seed'] : [])].join('/'), ...cols],
        r.rows.map((row) => [rowName(row), ...keys.map((k) => fmt(row.metrics[k], 3))]),
      ),
    );
  }
  if (r.aggregates) parts.push(renderSeeds(r, sweep, [...groups.values()]));
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
