/**
 * The MLP's activation functions as float64 scalar functions, each beside its
 * derivative φ′(z) (Nielsen's σ′(z)), taken at the weighted input z as the backward
 * pass needs it. `slope` is the negative-side slope of leaky ReLU and PReLU (a learned
 * parameter for PReLU, He et al. 2015); the others ignore it.
 *
 * Bounds on |φ′| (why sigmoid networks vanish): σ′(z) = σ(z)(1 − σ(z)) ≤ 1/4, at z = 0;
 * tanh′ = 1 − tanh² ≤ 1, at z = 0; ReLU′ ∈ {0, 1}; leaky/PReLU′ ∈ {slope, 1};
 * GELU′(z) = Φ(z) + zφ(z) ≤ 1.1289, at z = √2.
 */
export const MLP_ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'leaky-relu', 'prelu', 'gelu'] as const;
export type MlpActivation = (typeof MLP_ACTIVATIONS)[number];

export interface ScalarActivation {
  fn(z: number, slope: number): number;
  prime(z: number, slope: number): number;
  /** φ′ from the output a = φ(z) where that is cheaper (no exp): σ′ = a(1 − a), tanh′ = 1 − a². */
  primeFromOutput?(a: number): number;
  /** sup over z of |φ′(z)|, where it is reached, and in words. */
  bound: { value: number; at: string; text: string };
}

/** σ(z), without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * erf(x) to about 1e-15: the Maclaurin series for |x| < 2.5, the continued fraction of
 * erfc beyond (tfjs's erf is float32 and has no float64 counterpart to borrow).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2.5) {
    // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
    let term = a; // (−1)ⁿ x^(2n+1)/n!
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / SQRT_PI) * sum;
  }
  return Math.sign(x) * (1 - erfcLarge(a));
}

/** erfc(x) for x ≥ 2.5: e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail. */
function erfcLarge(x: number): number {
  let f = x;
  for (let k = 80; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / SQRT_PI / f;
}

/** Φ(z), the standard normal CDF. */
export function normalCdf(z: number): number {
  return z < -2.5 * Math.SQRT2 ? erfcLarge(-z / Math.SQRT2) / 2 : (1 + erf(z / Math.SQRT2)) / 2;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export const ACTIVATIONS64: Readonly<Record<MlpActivation, ScalarActivation>> = {
  sigmoid: {
    fn: sigmoid,
    prime: (z) => sigmoid(z) * sigmoid(-z), // σ(1 − σ) without the 1 − σ cancellation
    primeFromOutput: (a) => a * (1 - a),
    bound: { value: 0.25, at: '0', text: 'σ′ = σ(1 − σ) ≤ 1/4' },
  },
  tanh: {
    fn: Math.tanh,
    prime: (z) => 1 / Math.cosh(z) ** 2,
    primeFromOutput: (a) => 1 - a * a,
    bound: { value: 1, at: '0', text: 'tanh′ = 1 − tanh² ≤ 1' },
  },
  relu: {
    fn: (z) => Math.max(z, 0),
    prime: (z) => (z > 0 ? 1 : 0), // 0 at z = 0, as PyTorch
    bound: { value: 1, at: 'z > 0', text: 'ReLU′ ∈ {0, 1}' },
  },
  'leaky-relu': {
    fn: (z, slope) => (z > 0 ? z : slope * z),
    prime: (z, slope) => (z > 0 ? 1 : slope),
    bound: { value: 1, at: 'z > 0', text: 'leaky ReLU′ ∈ {slope, 1}' },
  },
  prelu: {
    fn: (z, slope) => (z > 0 ? z : slope * z),
    prime: (z, slope) => (z > 0 ? 1 : slope),
    bound: { value: 1, at: 'z > 0', text: 'PReLU′ ∈ {a, 1} (a learned, |a| ≤ 1)' },
  },
  gelu: {
    fn: (z) => z * normalCdf(z),
    prime: (z) => normalCdf(z) + z * INV_SQRT_2PI * Math.exp((-z * z) / 2),
    // max of Φ(z) + zφ(z): its derivative φ(z)(2 − z²) vanishes at z = √2
    bound: {
      value: normalCdf(Math.SQRT2) + Math.SQRT2 * INV_SQRT_2PI * Math.exp(-1),
      at: '√2',
      text: 'GELU′ = Φ + zφ ≤ 1.129',
    },
  },
};

/** Default negative-side slope: leaky ReLU 0.01 (Maas et al. 2013); PReLU starts at 0.25 (He et al. 2015). */
export const DEFAULT_SLOPE: Readonly<Record<MlpActivation, number>> = {
  sigmoid: 0,
  tanh: 0,
  relu: 0,
  'leaky-relu': 0.01,
  prelu: 0.25,
  gelu: 0,
};
