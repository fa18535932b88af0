import type { OptimizerConfig, OptimizerState } from './optim.js';

/**
 * The Optimizer of optim.ts (PyTorch's update rules, the same config and checkpoint
 * state) on plain Float64Arrays, for models computed in plain TypeScript (the MLP),
 * where a tensor op per parameter per step would cost more than the update itself.
 * test/training/optim-array.test.ts checks both against each other step by step.
 *
 * Weight decay applies only to the parameters named in `decayed` (an MLP's weights,
 * not its biases): g ← g + λ p, so plain SGD gives p ← (1 − ηλ) p − η g, which is
 * Nielsen's L2 step w ← (1 − ηλ/n) w − η∇C with λ here = his λ/n.
 */
export class ArrayOptimizer {
  private readonly slots = new Map<string, Float64Array[]>();
  private t = 0;
  lr: number;

  constructor(
    readonly config: Readonly<OptimizerConfig>,
    private readonly decayed: ReadonlySet<string> | null = null,
  ) {
    this.lr = config.lr;
  }

  private slot(name: string, n: number, count: number): Float64Array[] {
    let s = this.slots.get(name);
    if (!s) {
      s = Array.from({ length: count }, () => new Float64Array(n));
      this.slots.set(name, s);
    }
    return s;
  }

  /** p ← update(p, g) in place, for every parameter with a gradient; `scale` multiplies every g first (clipping). */
  apply(params: Record<string, Float64Array>, grads: Record<string, Float64Array>, scale = 1): void {
    this.t++;
    const { optimizer, momentum, beta1, beta2, alpha, eps } = this.config;
    const lr = this.lr;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g) continue;
      const wd = this.decayed === null || this.decayed.has(name) ? this.config.weightDecay : 0;
      const n = p.length;
      switch (optimizer) {
        case 'sgd':
          for (let i = 0; i < n; i++) p[i] -= lr * (g[i] * scale + wd * p[i]);
          break;
        case 'momentum': {
          // buf ← μ buf + g;  p ← p − lr buf
          const [buf] = this.slot(name, n, 1);
          for (let i = 0; i < n; i++) {
            buf[i] = momentum * buf[i] + g[i] * scale + wd * p[i];
            p[i] -= lr * buf[i];
          }
          break;
        }
        case 'adam': {
          const [m, v] = this.slot(name, n, 2);
          for (let i = 0; i < n; i++) {
            const gi = g[i] * scale + wd * p[i];
            m[i] = beta1 * m[i] + (1 - beta1) * gi;
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
            p[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
          }
          break;
        }
        case 'rmsprop': {
          const [v] = this.slot(name, n, 1);
          for (let i = 0; i < n; i++) {
            const gi = g[i] * scale + wd * p[i];
            v[i] = alpha * v[i] + (1 - alpha) * gi * gi;
            p[i] -= (lr * gi) / (Math.sqrt(v[i]) + eps);
          }
          break;
        }
      }
    }
  }

  /** Step count, learning rate and slots, in the tensor Optimizer's checkpoint format. */
  snapshot(): OptimizerState {
    const slots: Record<string, number[][]> = {};
    for (const [name, vs] of this.slots) slots[name] = vs.map((v) => Array.from(v));
    return { t: this.t, lr: this.lr, slots };
  }

  restore(saved: OptimizerState): void {
    this.t = saved.t;
    this.lr = saved.lr;
    for (const [name, values] of Object.entries(saved.slots))
      this.slots.set(
        name,
        values.map((v) => Float64Array.from(v)),
      );
  }
}

/** Global L2 norm of all gradients. */
export function globalNormArrays(grads: Record<string, ArrayLike<number>>): number {
  let s = 0;
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/**
 * The factor clipByGlobalNorm (torch.nn.utils.clip_grad_norm_) multiplies every gradient by:
 * maxNorm/(norm + 1e-6) when norm > maxNorm, else 1.
 */
export function clipScale(norm: number, maxNorm: number | null): number {
  return maxNorm !== null && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}
