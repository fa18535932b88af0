import { MLP_DEFAULTS, Mlp, type MlpConfig } from '../../models/mlp.js';
import {
  MLP_TRAIN_DEFAULTS,
  arrayExamples,
  evaluateMlp,
  trainMlp,
  type MlpTrainConfig,
} from '../../training/mlp-trainer.js';
import { usageError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';

/**
 * Universal approximation (Nielsen ch. 4): one hidden layer of sigmoid neurons fits any
 * continuous function on a compact set, and the error falls as the layer widens.
 * Regression targets use a linear output and the quadratic cost; the two-circles
 * classification a sigmoid output and cross-entropy. All trained with Adam on mini-batches
 * of 10 (the MLP trainer), the rate halved each quarter of the run; inputs are rescaled to
 * [−1, 1]. Errors are measured on a fine grid (functions) or on fresh points (circles).
 */
export interface ApproxTarget {
  name: string;
  description: string;
  inputSize: 1 | 2;
  /** Regression: y = f(x) on [from, to]. Classification: 1 inside a circle, points in [−1.5, 1.5]². */
  kind: 'regression' | 'classification';
  from?: number;
  to?: number;
  f(x: number[]): number;
}

const CIRCLES = [
  { cx: -0.6, cy: -0.2, r: 0.6 },
  { cx: 0.7, cy: 0.5, r: 0.5 },
];

export const APPROX_TARGETS: readonly ApproxTarget[] = [
  { name: 'square', description: 'x² on [0, 1]', inputSize: 1, kind: 'regression', from: 0, to: 1, f: ([x]) => x * x },
  {
    name: 'inverse',
    description: '1/x on [0.1, 1]',
    inputSize: 1,
    kind: 'regression',
    from: 0.1,
    to: 1,
    f: ([x]) => 1 / x,
  },
  {
    name: 'sin',
    description: 'sin x on [−π, π]',
    inputSize: 1,
    kind: 'regression',
    from: -Math.PI,
    to: Math.PI,
    f: ([x]) => Math.sin(x),
  },
  {
    name: 'circles',
    description: 'inside either of two circles, points in [−1.5, 1.5]²',
    inputSize: 2,
    kind: 'classification',
    f: ([x, y]) => (CIRCLES.some((c) => (x - c.cx) ** 2 + (y - c.cy) ** 2 < c.r * c.r) ? 1 : 0),
  },
];

export interface ApproxOptions {
  /** Hidden widths. Default 1, 2, 4, 8, 16, 32. */
  widths: number[];
  /** Adam updates (mini-batches of 10) per fit. Default 30 000. */
  updates: number;
  /** Adam's initial learning rate. Default 0.03. */
  lr: number;
  /** Which targets (names). Default all. */
  targets: string[];
  seed: number;
}

export const APPROX_DEFAULTS: Readonly<ApproxOptions> = {
  widths: [1, 2, 4, 8, 16, 32],
  updates: 30_000,
  lr: 0.03,
  targets: APPROX_TARGETS.map((t) => t.name),
  seed: 1,
};

export interface ApproxRow {
  target: string;
  description: string;
  kind: ApproxTarget['kind'];
  /**
   * Per width: max |f − net| on 1 000 grid points (regression) or the error rate on 2 000 fresh points
   * (classification).
   */
  errors: number[];
  /** Regression: root-mean-square error per width. */
  rmse: (number | null)[];
}

export interface ApproxResult {
  widths: number[];
  updates: number;
  rows: ApproxRow[];
  elapsedMs: number;
}

/**
 * n points of a target: inputs (regression: rescaled from [from, to] to [−1, 1]) and targets; a grid when rng
 * is null.
 */
function samples(t: ApproxTarget, n: number, rng: Rng | null): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    if (t.kind === 'regression') {
      const s = rng ? rng.range(-1, 1) : -1 + (2 * i) / (n - 1);
      x.push(s);
      y.push(t.f([t.from! + ((s + 1) / 2) * (t.to! - t.from!)]));
    } else {
      const p = [rng!.range(-1.5, 1.5), rng!.range(-1.5, 1.5)];
      x.push(p[0] / 1.5, p[1] / 1.5);
      y.push(t.f(p));
    }
  }
  return { x, y };
}

export function approxDemo(options: Partial<ApproxOptions> = {}): ApproxResult {
  const o = { ...APPROX_DEFAULTS, ...options };
  const started = performance.now();
  const targets = o.targets.map((name) => {
    const t = APPROX_TARGETS.find((x) => x.name === name);
    if (!t)
      throw usageError(`unknown approximation target "${name}"; use ${APPROX_TARGETS.map((x) => x.name).join(', ')}`);
    return t;
  });
  const rows = targets.map((t): ApproxRow => {
    const rng = new Rng(`${o.seed}/approx/${t.name}`);
    const isReg = t.kind === 'regression';
    const train = samples(t, isReg ? 100 : 400, rng);
    const test = samples(t, isReg ? 1000 : 2000, isReg ? null : rng);
    const errors: number[] = [];
    const rmse: (number | null)[] = [];
    for (const width of o.widths) {
      const config: MlpConfig = {
        ...MLP_DEFAULTS,
        layers: [t.inputSize, width, 1],
        activation: 'sigmoid',
        output: isReg ? 'linear' : 'sigmoid',
        cost: isReg ? 'quadratic' : 'xent',
        init: 'xavier',
      };
      const net = Mlp.random(config, new Rng(`${o.seed}/approx/${t.name}/${width}`));
      const epochs = Math.max(1, Math.round((o.updates * 10) / train.y.length));
      const trainConfig: MlpTrainConfig = {
        ...MLP_TRAIN_DEFAULTS,
        optimizer: 'adam',
        lr: o.lr,
        epochs,
        batchSize: 10,
        schedule: 'step',
        decayEvery: Math.ceil(o.updates / 4),
        decayFactor: 0.5,
        gradflowEvery: 0,
        probeSize: 0,
        logEvery: o.updates,
        seed: o.seed,
      };
      trainMlp(net, arrayExamples(train.x, train.y, t.inputSize, 1, isReg ? 'none' : 'threshold'), trainConfig);
      if (isReg) {
        const out = net.forward(Float64Array.from(test.x), test.y.length);
        let maxErr = 0;
        let sq = 0;
        test.y.forEach((v, i) => {
          maxErr = Math.max(maxErr, Math.abs(out[i] - v));
          sq += (out[i] - v) ** 2;
        });
        errors.push(maxErr);
        rmse.push(Math.sqrt(sq / test.y.length));
      } else {
        errors.push(1 - (evaluateMlp(net, arrayExamples(test.x, test.y, 2, 1, 'threshold')).accuracy ?? 0));
        rmse.push(null);
      }
    }
    return { target: t.name, description: t.description, kind: t.kind, errors, rmse };
  });
  return { widths: o.widths, updates: o.updates, rows, elapsedMs: performance.now() - started };
}
