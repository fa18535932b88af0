import type { Argv } from 'yargs';
import { OPTIMIZERS } from '../training/optim.js';
import { activationsDemo, type ActivationsResult } from '../commands/demos/activations.js';
import { APPROX_DEFAULTS, approxDemo, type ApproxResult } from '../commands/demos/approx.js';
import { CHAIN_DEFAULTS, chainDemo, type ChainResult } from '../commands/demos/chain.js';
import { XOR_DEFAULTS, renderSurface, xorDemo, type XorResult } from '../commands/demos/xor.js';
import { finiteNumber, nonNegativeInt, oneOf, positiveInt, usageError } from '../util/errors.js';
import { noteBackend, printJson, startBackend, withCommon } from './common.js';
import { fmt, table } from '../util/format.js';

export const DEMOS = ['chain', 'xor', 'activations', 'approx'] as const;

export function demoOptions<T>(y: Argv<T>) {
  return withCommon(y)
    .positional('name', { type: 'string', describe: DEMOS.join(', ') })
    .option('weights', { type: 'string', describe: 'chain: w₁,…,w_D (default N(0,1) from the seed)' })
    .option('biases', { type: 'string', describe: 'chain: b₁,…,b_D (default N(0,1) from the seed)' })
    .option('x', { type: 'number', default: CHAIN_DEFAULTS.x, describe: 'chain: input a₀' })
    .option('y', { type: 'number', default: CHAIN_DEFAULTS.y, describe: 'chain: target (C = ½(a_D − y)²)' })
    .option('depth', {
      type: 'number',
      default: CHAIN_DEFAULTS.depth,
      describe: 'chain: neurons when --weights is not given',
    })
    .option('epochs', { type: 'number', default: XOR_DEFAULTS.epochs, describe: 'xor: full-batch updates' })
    .option('lr', {
      type: 'number',
      describe:
        `learning rate (xor: ${XOR_DEFAULTS.lr} with ${XOR_DEFAULTS.optimizer}; ` +
        `approx: ${APPROX_DEFAULTS.lr} with adam)`,
    })
    .option('optimizer', { type: 'string', default: XOR_DEFAULTS.optimizer, describe: `xor: ${OPTIMIZERS.join(', ')}` })
    .option('survey', {
      type: 'number',
      default: XOR_DEFAULTS.survey,
      describe: 'xor: also train seeds 1..N and count how many solve XOR (0 = skip)',
    })
    .option('widths', { type: 'string', default: APPROX_DEFAULTS.widths.join(','), describe: 'approx: hidden widths' })
    .option('updates', { type: 'number', default: APPROX_DEFAULTS.updates, describe: 'approx: Adam updates per fit' })
    .option('targets', {
      type: 'string',
      default: APPROX_DEFAULTS.targets.join(','),
      describe: 'approx: square, inverse, sin, circles',
    });
}

type DemoArgs = Awaited<ReturnType<typeof demoOptions>['argv']>;

function numberList(name: string, value: unknown): number[] {
  const parts = String(value)
    .split(',')
    .map((s) => s.trim());
  if (parts.some((p) => p === '')) throw usageError(`${name} must be comma-separated numbers, got "${value}"`);
  return parts.map((p) => finiteNumber(name, p));
}

export async function demoCommand(argv: DemoArgs): Promise<void> {
  const a = argv as Record<string, unknown>;
  const name = oneOf('demo', a.name, DEMOS);
  const seed = finiteNumber('--seed', a.seed);
  let doc: unknown;
  let text: string;
  switch (name) {
    case 'chain': {
      const opts = {
        weights: a.weights === undefined ? undefined : numberList('--weights', a.weights),
        biases: a.biases === undefined ? undefined : numberList('--biases', a.biases),
        x: finiteNumber('--x', a.x),
        y: finiteNumber('--y', a.y),
        depth: positiveInt('--depth', a.depth),
        seed,
      };
      const backend = await startBackend(String(a.backend)); // autograd runs on tfjs
      noteBackend(backend, Boolean(a.quiet) || Boolean(a.json));
      const r = chainDemo(opts, backend);
      doc = r;
      text = renderChain(r);
      break;
    }
    case 'xor': {
      const r = xorDemo({
        epochs: positiveInt('--epochs', a.epochs),
        lr: a.lr === undefined ? XOR_DEFAULTS.lr : finiteNumber('--lr', a.lr, 0, true),
        optimizer: oneOf('optimizer', a.optimizer, OPTIMIZERS),
        survey: nonNegativeInt('--survey', a.survey),
        seed,
      });
      doc = r;
      text = renderXor(r);
      break;
    }
    case 'activations': {
      const r = activationsDemo();
      doc = r;
      text = renderActivations(r);
      break;
    }
    case 'approx': {
      const widths = numberList('--widths', a.widths).map((w) => positiveInt('--widths', w));
      const r = approxDemo({
        widths,
        updates: positiveInt('--updates', a.updates),
        lr: a.lr === undefined ? APPROX_DEFAULTS.lr : finiteNumber('--lr', a.lr, 0, true),
        targets: String(a.targets)
          .split(',')
          .map((s) => s.trim()),
        seed,
      });
      doc = r;
      text = renderApprox(r);
      break;
    }
  }
  if (a.json) printJson({ demo: name, seed, ...(doc as object) });
  else process.stdout.write(`${text}\n`);
}

export function renderChain(r: ChainResult): string {
  const parts = [
    `chain: one sigmoid neuron per layer, a₀ = ${r.x}, C = ½(a_D − ${r.y})²;  ` +
      '∂C/∂b₁ = σ′(z₁) w₂σ′(z₂) … w_Dσ′(z_D) ∂C/∂a_D',
  ];
  for (const c of r.cases) {
    parts.push('', `${c.name}: ${c.description}`);
    const w = c.weights.map((v) => fmt(v, 3)).join(', ');
    const b = c.biases.map((v) => fmt(v, 3)).join(', ');
    const z = c.z.map((v) => fmt(v, 3)).join(', ');
    parts.push(`  w = [${w}]  b = [${b}]  z = [${z}]`);
    parts.push(
      table(
        ['factor', 'value', 'running product'],
        c.factors.map((f) => [f.name, fmt(f.value), fmt(f.product)]),
      ).replace(/^/gm, '  '),
    );
    parts.push(`  |wⱼσ′(zⱼ)|, j = 2..${c.weights.length}: ${c.wSigmaPrime.map((v) => fmt(v, 3)).join(', ')}`);
    parts.push(
      `  ∂C/∂b₁: formula ${fmt(c.formula, 7)} · autograd (tfjs ${r.backend}, float32) ${fmt(c.autograd, 7)} · ` +
        `central difference (float64) ${fmt(c.centralDifference, 7)}`,
    );
    parts.push(`  |∂C/∂bⱼ|, j = 1..${c.weights.length}: ${c.biasGradients.map((v) => fmt(Math.abs(v), 3)).join(', ')}`);
  }
  parts.push(
    '',
    'σ′ ≤ 1/4, so |wⱼσ′(zⱼ)| < 1/4 whenever |wⱼ| < 1 and the early neurons learn slowest; ' +
      'large w with z ≈ 0 makes every factor 25 and the gradient explodes.',
  );
  return parts.join('\n');
}

export function renderXor(r: XorResult): string {
  const parts = [
    `xor: [${r.layers.join(', ')}] sigmoid MLP, cross-entropy, ${r.epochs} full-batch updates · ` +
      `accuracy ${(100 * r.accuracy).toFixed(0)} % · cost ${fmt(r.cost)}`,
    table(
      ['x₁', 'x₂', 'target', 'output'],
      r.outputs.map((o) => [o.x[0], o.x[1], o.target, fmt(o.output)]),
    ),
    `decision surface on [${r.surface.from}, ${r.surface.to}]² ` +
      '(x₁ → right, x₂ ↑; # output > 0.5, . below; the four inputs as their targets):',
    ...renderSurface(r).map((l) => `  ${l}`),
  ];
  if (r.survey) {
    const { unsolvedSeeds } = r.survey;
    const others = unsolvedSeeds.length ? `; the others (${unsolvedSeeds.join(', ')}) stop in a local minimum` : '';
    parts.push(`seeds 1..${r.survey.tried}: ${r.survey.solved} reach 100 %${others}`);
  }
  return parts.join('\n');
}

export function renderActivations(r: ActivationsResult): string {
  const rows: string[][] = [];
  for (const row of r.rows) {
    rows.push([row.name, 'φ', ...row.values.map((v) => fmt(v, 3))]);
    rows.push(['', 'φ′', ...row.derivatives.map((v) => fmt(v, 3))]);
  }
  const bounds = r.rows.map((row) => [
    row.name,
    row.bound.text,
    fmt(row.maxDerivative, 4),
    fmt(row.argmax, 3),
    fmt(row.derivativeCheck, 2),
  ]);
  return [
    'activations φ(z) and derivatives φ′(z)' + ' (leaky ReLU slope 0.01; PReLU a = 0.25, its initial value)',
    table(['activation', '', ...r.points.map((z) => `z=${z}`)], rows),
    '',
    table(['activation', 'bound', 'max |φ′| on [−8, 8]', 'at z', 'max |φ′ − central diff.|'], bounds),
  ].join('\n');
}

export function renderApprox(r: ApproxResult): string {
  const head = ['target', 'error', ...r.widths.map((w) => `h=${w}`)];
  const rows: string[][] = [];
  for (const row of r.rows) {
    rows.push([
      row.target,
      row.kind === 'regression' ? 'max |f − net|' : 'error rate',
      ...row.errors.map((e) => fmt(e, 3)),
    ]);
    if (row.kind === 'regression') rows.push(['', 'rmse', ...row.rmse.map((e) => fmt(e, 3))]);
  }
  return [
    `universal approximation: one hidden layer of h sigmoid neurons, ${r.updates} Adam updates per fit · ` +
      `${(r.elapsedMs / 1000).toFixed(1)} s`,
    table(head, rows),
    r.rows.map((row) => `${row.target}: ${row.description}`).join(' · '),
    'regression: linear output, quadratic cost, error on 1 000 grid points; ' +
      'circles: sigmoid output, cross-entropy, error rate on 2 000 fresh points.',
  ].join('\n');
}
