import * as tf from '@tensorflow/tfjs';

/**
 * Optimizers with PyTorch's update rules (so a run can be checked against torch.optim),
 * L2 weight decay added to the gradient as torch's `weight_decay`, gradient clipping,
 * and learning-rate schedules. Each update runs in one tf.tidy.
 */
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'rmsprop'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  optimizer: OptimizerName;
  lr: number;
  /** momentum (μ) for `momentum`. Default 0.9. */
  momentum: number;
  /** Adam β1, β2. Defaults 0.9, 0.999. */
  beta1: number;
  beta2: number;
  /** RMSprop smoothing α. Default 0.99. */
  alpha: number;
  /** ε for Adam (1e-8) and RMSprop (1e-8). */
  eps: number;
  /** L2 penalty: g ← g + λ p. Default 0. */
  weightDecay: number;
}

export const OPTIMIZER_DEFAULTS: Readonly<OptimizerConfig> = {
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  alpha: 0.99,
  eps: 1e-8,
  weightDecay: 0,
};

export type Grads = Record<string, tf.Tensor>;

export class Optimizer {
  private readonly slots = new Map<string, tf.Variable[]>();
  private t = 0; // updates applied (Adam's bias correction)
  lr: number;

  constructor(readonly config: Readonly<OptimizerConfig>) {
    this.lr = config.lr;
  }

  private slot(name: string, like: tf.Tensor, count: number): tf.Variable[] {
    let s = this.slots.get(name);
    if (!s) {
      s = Array.from({ length: count }, () => tf.variable(tf.zerosLike(like), false));
      this.slots.set(name, s);
    }
    return s;
  }

  /** p ← update(p, g) for every variable with a gradient. */
  apply(vars: Record<string, tf.Variable>, grads: Grads): void {
    this.t++;
    const { optimizer, momentum, beta1, beta2, alpha, eps, weightDecay } = this.config;
    const lr = this.lr;
    const t = this.t;
    tf.tidy(() => {
      for (const [name, p] of Object.entries(vars)) {
        let g = grads[name];
        if (!g) continue;
        if (weightDecay !== 0) g = tf.add(g, tf.mul(p, weightDecay));
        switch (optimizer) {
          case 'sgd':
            p.assign(tf.sub(p, tf.mul(g, lr)));
            break;
          case 'momentum': {
            // buf ← μ buf + g;  p ← p − lr buf
            const [buf] = this.slot(name, p, 1);
            buf.assign(tf.add(tf.mul(buf, momentum), g));
            p.assign(tf.sub(p, tf.mul(buf, lr)));
            break;
          }
          case 'adam': {
            const [m, v] = this.slot(name, p, 2);
            m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
            v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
            const mHat = tf.div(m, 1 - beta1 ** t);
            const vHat = tf.div(v, 1 - beta2 ** t);
            p.assign(tf.sub(p, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), lr)));
            break;
          }
          case 'rmsprop': {
            const [v] = this.slot(name, p, 1);
            v.assign(tf.add(tf.mul(v, alpha), tf.mul(tf.square(g), 1 - alpha)));
            p.assign(tf.sub(p, tf.mul(tf.div(g, tf.add(tf.sqrt(v), eps)), lr)));
            break;
          }
        }
      }
    });
  }

  /** Step count, learning rate and every slot's values, for checkpoints. */
  async snapshot(): Promise<OptimizerState> {
    const slots: Record<string, number[][]> = {};
    for (const [name, vs] of this.slots)
      slots[name] = await Promise.all(vs.map(async (v) => Array.from(await v.data())));
    return { t: this.t, lr: this.lr, slots };
  }

  /** Continue from a snapshot; `like` gives each slot's shape (the variable it belongs to). */
  restore(saved: OptimizerState, like: Record<string, tf.Variable>): void {
    this.t = saved.t;
    this.lr = saved.lr;
    for (const [name, values] of Object.entries(saved.slots)) {
      const v = like[name];
      if (!v) throw new Error(`optimizer state names an unknown variable ${name}`);
      this.slots.set(
        name,
        values.map((vals) => tf.variable(tf.tensor(vals, v.shape), false)),
      );
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) tf.dispose(s);
    this.slots.clear();
  }
}

export interface OptimizerState {
  t: number;
  lr: number;
  slots: Record<string, number[][]>;
}

/** Global L2 norm of all gradients, as a scalar tensor. */
export function globalNorm(grads: Grads): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** torch.nn.utils.clip_grad_norm_: scale all by maxNorm/(norm + 1e-6) when norm > maxNorm. */
export function clipByGlobalNorm(grads: Grads, norm: number, maxNorm: number): Grads {
  if (!(norm > maxNorm)) return grads;
  const scale = maxNorm / (norm + 1e-6);
  return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
}

/** Clamp every gradient entry to [−c, c]. */
export function clipByValue(grads: Grads, c: number): Grads {
  return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.clipByValue(g, -c, c)]));
}

export const SCHEDULES = ['constant', 'step', 'plateau'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export interface ScheduleConfig {
  /**
   * constant; step: lr × decayFactor every decayEvery steps after the first decayStart
   * steps; plateau: lr × decayFactor after `patience` evals without improvement.
   */
  schedule: ScheduleName;
  decayEvery: number;
  /** Steps at the full rate before the step schedule starts counting. Default 0. */
  decayStart: number;
  decayFactor: number;
  patience: number;
}

export const SCHEDULE_DEFAULTS: Readonly<ScheduleConfig> = {
  schedule: 'constant',
  decayEvery: 1000,
  decayStart: 0,
  decayFactor: 0.5,
  patience: 3,
};

/** Learning rate after `step` updates under a step schedule. Pure. */
export function stepDecayLr(
  baseLr: number,
  step: number,
  cfg: Pick<ScheduleConfig, 'decayEvery' | 'decayFactor'> & { decayStart?: number },
): number {
  return baseLr * cfg.decayFactor ** Math.floor(Math.max(0, step - (cfg.decayStart ?? 0)) / cfg.decayEvery);
}

/** Tracks the best validation loss; says when to decay (plateau) or stop (early stopping). */
export class PlateauTracker {
  best = Infinity;
  bestStep = 0;
  sinceBest = 0;

  /** Record a validation loss; returns true if it improved. */
  observe(loss: number, step: number): boolean {
    if (loss < this.best) {
      this.best = loss;
      this.bestStep = step;
      this.sinceBest = 0;
      return true;
    }
    this.sinceBest++;
    return false;
  }
}
