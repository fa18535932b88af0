import { MLP_DEFAULTS, Mlp, type MlpConfig } from '../../models/mlp.js';
import {
  MLP_TRAIN_DEFAULTS,
  arrayExamples,
  evaluateMlp,
  trainMlp,
  type MlpTrainConfig,
} from '../../training/mlp-trainer.js';
import { Rng } from '../../util/rng.js';

/**
 * XOR with a [2, 2, 1] sigmoid MLP (cross-entropy, full batch) on the MLP trainer: no
 * single line separates the classes, two hidden units do. The decision surface is the
 * network's output on a grid over [−0.5, 1.5]².
 */
export interface XorOptions {
  /** Full-batch updates. Default 3000. */
  epochs: number;
  /** Learning rate η. Default 2. */
  lr: number;
  optimizer: MlpTrainConfig['optimizer'];
  /** Initializer. Default normal: N(0, 1) weights and biases. */
  init: MlpConfig['init'];
  /** Grid points per side of the decision surface. Default 21. */
  grid: number;
  /** Also train with seeds 1..N and count how many solve XOR (some stop in a local minimum). Default 20; 0 = skip. */
  survey: number;
  seed: number;
}

export const XOR_DEFAULTS: Readonly<XorOptions> = {
  epochs: 3000,
  lr: 2,
  optimizer: 'sgd',
  init: 'normal',
  grid: 21,
  survey: 20,
  seed: 1,
};

export const XOR_INPUTS = [0, 0, 0, 1, 1, 0, 1, 1];
export const XOR_TARGETS = [0, 1, 1, 0];

export interface XorResult {
  layers: number[];
  epochs: number;
  accuracy: number;
  cost: number;
  /** Output for each of the four inputs. */
  outputs: { x: [number, number]; target: number; output: number }[];
  /** Output on a grid: rows from x₂ = 1.5 down to −0.5, columns x₁ = −0.5 … 1.5. */
  surface: { from: number; to: number; values: number[][] };
  params: Record<string, number[]>;
  /** Cost after each epoch (every 100th). */
  costs: { epoch: number; cost: number }[];
  /** Seeds 1..tried trained the same way; how many reach 100 %. */
  survey: { tried: number; solved: number; unsolvedSeeds: number[] } | null;
}

export function xorDemo(options: Partial<XorOptions> = {}): XorResult {
  const o = { ...XOR_DEFAULTS, ...options };
  const { net, costs } = trainXor(o, o.seed);
  const final = evaluateMlp(net, xorExamples());
  const outs = net.forward(Float64Array.from(XOR_INPUTS), 4).slice();
  const [from, to] = [-0.5, 1.5];
  const n = o.grid;
  const coord = (i: number) => from + ((to - from) * i) / (n - 1);
  const grid = new Float64Array(n * n * 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      grid[(r * n + c) * 2] = coord(c);
      grid[(r * n + c) * 2 + 1] = coord(n - 1 - r);
    }
  }
  const surface = Array.from(net.forward(grid, n * n));
  const unsolved: number[] = [];
  for (let s = 1; s <= o.survey; s++)
    if (evaluateMlp(trainXor(o, s).net, xorExamples()).accuracy !== 1) unsolved.push(s);
  return {
    layers: net.config.layers,
    epochs: o.epochs,
    accuracy: final.accuracy ?? 0,
    cost: final.loss,
    outputs: XOR_TARGETS.map((target, i) => ({
      x: [XOR_INPUTS[2 * i], XOR_INPUTS[2 * i + 1]],
      target,
      output: outs[i],
    })),
    surface: { from, to, values: Array.from({ length: n }, (_, r) => surface.slice(r * n, (r + 1) * n)) },
    params: net.stateDict(),
    costs,
    survey: o.survey > 0 ? { tried: o.survey, solved: o.survey - unsolved.length, unsolvedSeeds: unsolved } : null,
  };
}

const xorExamples = () => arrayExamples(XOR_INPUTS, XOR_TARGETS, 2, 1, 'threshold');

/** Train a fresh [2, 2, 1] network from `seed`, full batch. */
function trainXor(o: XorOptions, seed: number): { net: Mlp; costs: XorResult['costs'] } {
  const config: MlpConfig = {
    ...MLP_DEFAULTS,
    layers: [2, 2, 1],
    activation: 'sigmoid',
    output: 'sigmoid',
    cost: 'xent',
    init: o.init,
  };
  const net = Mlp.random(config, new Rng(`${seed}/xor`));
  const costs: XorResult['costs'] = [];
  const train: MlpTrainConfig = {
    ...MLP_TRAIN_DEFAULTS,
    optimizer: o.optimizer,
    lr: o.lr,
    epochs: o.epochs,
    batchSize: 4,
    gradflowEvery: 0,
    probeSize: 0,
    logEvery: 100,
    seed,
  };
  trainMlp(net, xorExamples(), train, {
    onProgress: (p) => Number.isFinite(p.loss) && costs.push({ epoch: p.step, cost: p.loss }),
  });
  return { net, costs };
}

/**
 * The surface as characters: '#' where the network says 1 (output > 0.5), '.' where 0, and the four inputs as
 * their targets.
 */
export function renderSurface(r: XorResult): string[] {
  const n = r.surface.values.length;
  const step = (r.surface.to - r.surface.from) / (n - 1);
  const at = (v: number) => Math.round((v - r.surface.from) / step);
  const marks = new Map(r.outputs.map((o) => [`${n - 1 - at(o.x[1])},${at(o.x[0])}`, String(o.target)]));
  return r.surface.values.map((row, i) => row.map((v, c) => marks.get(`${i},${c}`) ?? (v > 0.5 ? '#' : '.')).join(' '));
}
