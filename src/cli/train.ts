import type { Argv } from 'yargs';
import { CELL_KINDS, cellKindList } from '../models/registry.js';
import type { Progress } from '../training/trainer.js';
import { MODEL_DEFAULTS } from '../models/model.js';
import { resumeRun, trainRun } from '../commands/train.js';
import { oneOf, positiveInt, usageError } from '../util/errors.js';
import { metricLines, noteBackend, printJson, startBackend } from './common.js';
import { fmt } from '../util/format.js';
import { ProgressReporter } from './progress.js';
import { StopRequests } from './signals.js';
import { reportAfterRun } from './report.js';
import { mnistCommand } from './mnist.js';
import { declareTrainOptions, parseTrainArgs, resolveOptions, timestamp } from './options.js';

export function trainOptions<T>(y: Argv<T>) {
  // defaults are merged in trainCommand, under --preset, so a preset can change them
  return declareTrainOptions(y, false)
    .option('cell', { type: 'string', describe: `${cellKindList()} (default ${MODEL_DEFAULTS.cell})` })
    .option('seq-len', { type: 'number', describe: 'sequence length of synthetic tasks (adding: 50, copy: 50)' })
    .option('out', { type: 'string', describe: 'run directory (default runs/<task>-<cell>-<time>)' })
    .option('resume', {
      type: 'string',
      describe:
        'continue the run in this directory from its checkpoint (its own config; other training options are ' +
        'ignored, except --steps/--epochs: a new total length)',
    });
}

type TrainArgs = Awaited<ReturnType<typeof trainOptions>['argv']>;

/** Options of `train` that `--task mnist` passes on to the MLP trainer (`seqlab mnist train`). */
const MNIST_TRAIN_OPTIONS = [
  'layers',
  'epochs',
  'batch',
  'lr',
  'optimizer',
  'momentum',
  'clip-norm',
  'early-stop',
  'gradflow-every',
  'seed',
  'out',
  'overwrite',
  'json',
  'quiet',
  'verbose',
  'backend',
];

/**
 * `train --task mnist`: an MLP on MNIST through the MLP trainer (the options it shares with
 * `seqlab mnist train`; that command has the MLP's own: --activation, --cost, --batch-norm, …).
 */
async function trainMnist(given: Record<string, unknown>): Promise<void> {
  const known = new Set([...MNIST_TRAIN_OPTIONS, 'task', 'report', '_', '$0']);
  // yargs also sets camelCase copies of kebab-case options: look at the options as typed
  const stray = Object.keys(given).filter((k) => !/[A-Z]/.test(k) && !known.has(k) && given[k] !== undefined);
  if (stray.length > 0)
    throw usageError(
      `--${stray[0]} does not apply to --task mnist (an MLP); its options: ${MNIST_TRAIN_OPTIONS.slice(0, 10)
        .map((o) => `--${o}`)
        .join(' ')}; more in seqlab mnist --help`,
    );
  const pick = Object.fromEntries(MNIST_TRAIN_OPTIONS.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]));
  await mnistCommand({ ...pick, experiment: 'train' });
}

export async function trainCommand(argv: TrainArgs): Promise<void> {
  if ((argv as Record<string, unknown>).task === 'mnist') return trainMnist(argv as Record<string, unknown>);
  const a = resolveOptions(argv);
  const cell = oneOf('cell', a.cell, CELL_KINDS);
  const base = parseTrainArgs(a);
  const task = base.task;
  // with --epochs, the epochs set the length (--steps, if given on the command line, caps it)
  // and evaluation comes once an epoch unless --eval-every is given
  const typed = argv as Record<string, unknown>;
  if (base.epochs !== undefined && typed.steps === undefined) (base.train as { steps?: number }).steps = undefined;
  if (task === 'lm' && typed['eval-every'] === undefined) (base.train as { evalEvery?: number }).evalEvery = undefined;
  const opts = {
    ...base,
    taskOptions: {
      ...base.taskOptions,
      seqLen: a['seq-len'] === undefined ? undefined : positiveInt('--seq-len', a['seq-len']),
    },
    model: { ...base.model, cell },
    out: (a.out as string | undefined) ?? `runs/${task}-${cell}-${timestamp()}`,
  };
  const quiet = Boolean(a.quiet);
  const backend = await startBackend(String(a.backend));
  let progress: ProgressReporter | null = null;
  let lastLoss = NaN;
  const isLM = task === 'lm';
  const tokensPerStep = isLM ? opts.train.batchSize * opts.taskOptions.lm.bptt : undefined;
  const started = performance.now();
  const onProgress = (p: Progress) => {
    noteBackend(backend, quiet);
    progress ??= new ProgressReporter('train', p.steps, process.stderr, !quiet, tokensPerStep);
    if (Number.isFinite(p.loss)) lastLoss = p.loss;
    const evalText =
      p.evalLoss === undefined ? '' : isLM ? ` valid ppl ${fmt(Math.exp(p.evalLoss))}` : ` eval ${fmt(p.evalLoss)}`;
    progress.update(p.step, `loss ${fmt(lastLoss)}${evalText}`);
  };
  const wantsReport = Boolean(a.report);
  const length = {
    steps: typed.steps === undefined ? undefined : positiveInt('--steps', typed.steps),
    epochs: typed.epochs === undefined ? undefined : positiveInt('--epochs', typed.epochs),
  };
  const stops = new StopRequests(
    (signal) => `${signal}: finishing this step and writing a checkpoint (${signal} again: stop at once)`,
    (signal) => `second ${signal}: stopped at once; the last checkpoint on disk is whole`,
  );
  const run = await (typed.resume !== undefined
    ? resumeRun(String(typed.resume), backend, onProgress, length, stops.signal)
    : trainRun({ ...opts, backend, onProgress, pairs: wantsReport, signal: stops.signal })
  ).finally(() => {
    (progress as ProgressReporter | null)?.done();
    stops.dispose();
  });
  const elapsedMs = performance.now() - started;
  const report = wantsReport ? await reportAfterRun(run.runDir) : null;
  if (a.json) {
    printJson({
      backend,
      runDir: run.runDir,
      metrics: run.metrics,
      config: run.config,
      elapsedMs,
      gradflowMs: run.result.gradflowMs,
      report: report?.html ?? null,
    });
    return;
  }
  const m = run.result.finalEval;
  const lines = [
    `${run.metrics.task} · ${run.metrics.cell} · hidden ${(run.config.model as { hiddenSize: number }).hiddenSize} · ` +
      `${run.metrics.params} params · ${run.result.steps} steps (${run.result.status}) ` +
      `in ${(elapsedMs / 1000).toFixed(1)} s`,
    ...metricLines('eval', m.loss, m.metrics),
  ];
  const test = run.metrics.test as { loss: number; metrics: Record<string, number | null> } | undefined;
  if (test) lines.push(...metricLines('test', test.loss, test.metrics));
  if (run.result.weightsStep !== run.result.steps)
    lines.push(`the model ends with the best validation weights, step ${run.result.weightsStep} (--restore-best)`);
  const g = run.result.gradflow.at(-1);
  if (g) {
    lines.push(
      `gradient flow (step ${g.step}, T ${g.T}): ‖∂h_T/∂h_k‖ decays ${fmt(g.spectralDecayPerStep, 3)} nats/step, ` +
        `horizon ${g.spectralHorizon ?? `none within ${g.T}`}`,
    );
  }
  if (report) lines.push(...report.sparklines, `report: ${report.html}`);
  lines.push(`run directory: ${run.runDir}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
