import * as tf from '@tensorflow/tfjs';
import { sigmoid } from '../../models/activations64.js';
import { usageError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';

/**
 * Nielsen ch. 5's chain: one sigmoid neuron per layer, a₀ = x, zⱼ = wⱼ aⱼ₋₁ + bⱼ, aⱼ = σ(zⱼ),
 * cost C = ½(a_D − y)². Backpropagation gives, factor by factor,
 *
 *   ∂C/∂b₁ = σ′(z₁) · w₂σ′(z₂) · w₃σ′(z₃) · … · w_Dσ′(z_D) · ∂C/∂a_D
 *
 * Each wⱼσ′(zⱼ) with |wⱼ| < 1 is below 1/4 in size (σ′ ≤ 1/4), so the gradient of an
 * early bias vanishes geometrically; with wⱼ = 100 and bⱼ = −100 aⱼ₋₁ (zⱼ = 0, σ′ = 1/4)
 * every factor is 25 and it explodes. The formula is printed beside tfjs's autograd
 * (float32) and a float64 central difference.
 */
export interface ChainOptions {
  /** w₁ … w_D; default: N(0, 1) from the seed. */
  weights?: number[];
  /** b₁ … b_D; default: N(0, 1) from the seed. */
  biases?: number[];
  /** Input a₀. Default 1. */
  x: number;
  /** Target y. Default 0. */
  y: number;
  /** Neurons D when weights are not given. Default 4. */
  depth: number;
  seed: number;
}

export const CHAIN_DEFAULTS: Readonly<ChainOptions> = { x: 1, y: 0, depth: 4, seed: 1 };

export interface ChainFactor {
  /** "σ′(z₁)", "w₂", …, "∂C/∂a₄". */
  name: string;
  value: number;
  /** The product of this factor and all before it. */
  product: number;
}

export interface ChainCase {
  name: string;
  description: string;
  weights: number[];
  biases: number[];
  z: number[];
  a: number[];
  cost: number;
  factors: ChainFactor[];
  /** |wⱼσ′(zⱼ)| for j = 2..D. */
  wSigmaPrime: number[];
  /** ∂C/∂b₁ by the formula (float64). */
  formula: number;
  /** ∂C/∂b₁ by tfjs autograd (float32). */
  autograd: number;
  /** ∂C/∂b₁ by a float64 central difference. */
  centralDifference: number;
  /** ∂C/∂bⱼ for every j by the formula: how fast each neuron learns. */
  biasGradients: number[];
}

export interface ChainResult {
  x: number;
  y: number;
  backend: string;
  cases: ChainCase[];
}

const sub = (j: number) => String(j).replace(/\d/g, (d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]);
const sigmaPrime = (z: number) => sigmoid(z) * sigmoid(-z);

/** Forward pass in float64: z and a for every neuron, and the cost. */
export function chainForward(
  weights: number[],
  biases: number[],
  x: number,
  y: number,
): { z: number[]; a: number[]; cost: number } {
  const z: number[] = [];
  const a: number[] = [];
  let prev = x;
  for (let j = 0; j < weights.length; j++) {
    z.push(weights[j] * prev + biases[j]);
    prev = sigmoid(z[j]);
    a.push(prev);
  }
  return { z, a, cost: 0.5 * (prev - y) ** 2 };
}

/** The factors of ∂C/∂b₁, in the order the formula writes them, with running products. */
export function chainFactors(weights: number[], z: number[], aLast: number, y: number): ChainFactor[] {
  const raw: [string, number][] = [[`σ′(z${sub(1)})`, sigmaPrime(z[0])]];
  for (let j = 1; j < weights.length; j++)
    raw.push([`w${sub(j + 1)}`, weights[j]], [`σ′(z${sub(j + 1)})`, sigmaPrime(z[j])]);
  raw.push([`∂C/∂a${sub(weights.length)}`, aLast - y]);
  let product = 1;
  return raw.map(([name, value]) => {
    product *= value;
    return { name, value, product };
  });
}

/** ∂C/∂bⱼ for all j by the chain formula: σ′(zⱼ) ∏_{i>j} wᵢσ′(zᵢ) · ∂C/∂a_D. */
export function chainBiasGradients(weights: number[], z: number[], aLast: number, y: number): number[] {
  const D = weights.length;
  const out = new Array<number>(D);
  let downstream = aLast - y; // ∂C/∂aⱼ
  for (let j = D - 1; j >= 0; j--) {
    out[j] = sigmaPrime(z[j]) * downstream;
    downstream = out[j] * weights[j];
  }
  return out;
}

/** ∂C/∂b₁ by tfjs autograd (float32, the active backend). */
export function chainAutograd(weights: number[], biases: number[], x: number, y: number): number {
  const grad = tf.tidy(() => {
    const g = tf.grad((b1: tf.Tensor) => {
      let a: tf.Tensor = tf.sigmoid(tf.add(tf.mul(weights[0], x), b1));
      for (let j = 1; j < weights.length; j++) a = tf.sigmoid(tf.add(tf.mul(a, weights[j]), biases[j]));
      return tf.mul(0.5, tf.square(tf.sub(a, y)));
    });
    return g(tf.scalar(biases[0]));
  });
  const value = grad.dataSync()[0];
  grad.dispose();
  return value;
}

function chainCase(
  name: string,
  description: string,
  weights: number[],
  biases: number[],
  x: number,
  y: number,
): ChainCase {
  const { z, a, cost } = chainForward(weights, biases, x, y);
  const factors = chainFactors(weights, z, a[a.length - 1], y);
  // Richardson-extrapolated central difference (error O(h⁴)): the exploding chain's cost curves steeply in b₁
  const h = 1e-5;
  const at = (d: number) => chainForward(weights, [biases[0] + d, ...biases.slice(1)], x, y).cost;
  const central = (step: number) => (at(step) - at(-step)) / (2 * step);
  return {
    name,
    description,
    weights,
    biases,
    z,
    a,
    cost,
    factors,
    wSigmaPrime: z.slice(1).map((zj, i) => Math.abs(weights[i + 1] * sigmaPrime(zj))),
    formula: factors[factors.length - 1].product,
    autograd: chainAutograd(weights, biases, x, y),
    centralDifference: (4 * central(h / 2) - central(h)) / 3,
    biasGradients: chainBiasGradients(weights, z, a[a.length - 1], y),
  };
}

/**
 * Three chains: the given (or N(0, 1)) weights; a vanishing one (|wⱼ| < 1, so every
 * |wⱼσ′(zⱼ)| < 1/4); an exploding one (wⱼ = 100, bⱼ = −100 aⱼ₋₁, so zⱼ = 0 and wⱼσ′(zⱼ) = 25).
 */
export function chainDemo(options: Partial<ChainOptions> = {}, backend = tf.getBackend()): ChainResult {
  const o = { ...CHAIN_DEFAULTS, ...options };
  const rng = new Rng(`${o.seed}/chain`);
  const D = o.weights?.length ?? o.biases?.length ?? o.depth;
  if (!Number.isInteger(D) || D < 2) throw usageError(`the chain needs at least 2 neurons, got ${D}`);
  if (o.weights && o.biases && o.weights.length !== o.biases.length) {
    const [nw, nb] = [o.weights.length, o.biases.length];
    throw usageError(
      (field) => `${field('weights')} has ${nw} values but ${field('biases')} has ${nb}; give one per neuron`,
    );
  }
  for (const v of [...(o.weights ?? []), ...(o.biases ?? []), o.x, o.y])
    if (!Number.isFinite(v)) throw usageError(`chain weights, biases, x and y must be finite numbers, got ${v}`);
  const weights = o.weights ?? Array.from({ length: D }, () => rng.normal());
  const biases = o.biases ?? Array.from({ length: D }, () => rng.normal());
  const vanishingW = Array.from({ length: D }, (_, j) => [0.9, -0.7, 0.8, -0.6][j % 4]);
  const explodingW = new Array<number>(D).fill(100);
  const explodingB: number[] = [];
  let prev = o.x;
  for (let j = 0; j < D; j++) {
    explodingB.push(-100 * prev); // zⱼ = 100 aⱼ₋₁ − 100 aⱼ₋₁ = 0
    prev = sigmoid(0);
  }
  return {
    x: o.x,
    y: o.y,
    backend,
    cases: [
      chainCase(
        'given',
        o.weights ? 'the weights and biases given' : `weights and biases N(0, 1), seed ${o.seed}`,
        weights,
        biases,
        o.x,
        o.y,
      ),
      chainCase('vanishing', '|wⱼ| < 1, so every |wⱼσ′(zⱼ)| < 1/4', vanishingW, biases, o.x, o.y),
      chainCase(
        'exploding',
        'wⱼ = 100, bⱼ = −100·aⱼ₋₁: zⱼ = 0, σ′ = 1/4, wⱼσ′(zⱼ) = 25',
        explodingW,
        explodingB,
        o.x,
        o.y,
      ),
    ],
  };
}
