import type { Rng } from '../util/rng.js';

/**
 * Weight initializers, computed in float64 from the explicit Rng so the same seed
 * gives the same weights on every backend. Matrices are row-major [rows, cols] in
 * PyTorch's layout (weight_ih: [gates·H, I], weight_hh: [gates·H, H]).
 */
export const INITS = ['pytorch', 'uniform', 'normal', 'xavier', 'he', 'orthogonal', 'identity'] as const;
export type InitName = (typeof INITS)[number];

export interface InitOptions {
  init: InitName;
  /** σ for `normal`. Default 0.1. */
  initStd: number;
  /** Half-width a of U(±a) for `uniform` (Zaremba et al. 2014 use 0.1 for every parameter). Default 0.1. */
  initScale: number;
  /** Scale of the identity for `identity` (IRNN). Default 1. */
  identityScale: number;
}

export const INIT_DEFAULTS: Readonly<InitOptions> = { init: 'pytorch', initStd: 0.1, initScale: 0.1, identityScale: 1 };

function uniform(rng: Rng, n: number, bound: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(-bound, bound);
  return out;
}

function normal(rng: Rng, n: number, std: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

/** A random n×n orthogonal matrix: Gram–Schmidt (twice, for stability) on a Gaussian matrix. */
export function randomOrthogonal(rng: Rng, n: number): Float64Array {
  const q = normal(rng, n * n, 1);
  for (let i = 0; i < n; i++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += q[i * n + k] * q[j * n + k];
        for (let k = 0; k < n; k++) q[i * n + k] -= dot * q[j * n + k];
      }
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    for (let k = 0; k < n; k++) q[i * n + k] /= norm;
  }
  return q;
}

/**
 * Weights of one recurrent layer with `gates` blocks: weight_ih [gates·H, I],
 * weight_hh [gates·H, H], bias_ih and bias_hh [gates·H].
 * - pytorch: everything U(±1/√H), as nn.RNN/LSTM/GRU.
 * - uniform: everything U(±initScale).
 * - normal: weights N(0, initStd²), biases 0.
 * - xavier: Glorot uniform per gate block, U(±√(6/(fanIn+H))), biases 0.
 * - he: N(0, 2/fanIn) per block, biases 0.
 * - orthogonal: recurrent blocks orthogonal, input blocks xavier, biases 0.
 * - identity: IRNN (Le et al. 2015): recurrent blocks = identityScale·I, input N(0, 0.001²), biases 0.
 */
/** One recurrent layer's weights as drawn, PyTorch layout (see LayerWeights), before any cell-specific change. */
export interface InitialWeights {
  weight_ih: Float64Array;
  weight_hh: Float64Array;
  bias_ih: Float64Array;
  bias_hh: Float64Array;
}

export function initRecurrentLayer(
  rng: Rng,
  gates: number,
  inputSize: number,
  hiddenSize: number,
  opts: InitOptions,
): InitialWeights {
  const G = gates * hiddenSize;
  const H = hiddenSize;
  const zeros = () => new Float64Array(G);
  const blocks = (fanIn: number, make: (fanIn: number) => Float64Array): Float64Array => {
    const out = new Float64Array(G * fanIn);
    for (let g = 0; g < gates; g++) out.set(make(fanIn), g * H * fanIn);
    return out;
  };
  const xavier = (fanIn: number) => uniform(rng, H * fanIn, Math.sqrt(6 / (fanIn + H)));
  switch (opts.init) {
    case 'pytorch': {
      const k = 1 / Math.sqrt(H);
      return {
        weight_ih: uniform(rng, G * inputSize, k),
        weight_hh: uniform(rng, G * H, k),
        bias_ih: uniform(rng, G, k),
        bias_hh: uniform(rng, G, k),
      };
    }
    case 'uniform':
      return {
        weight_ih: uniform(rng, G * inputSize, opts.initScale),
        weight_hh: uniform(rng, G * H, opts.initScale),
        bias_ih: uniform(rng, G, opts.initScale),
        bias_hh: uniform(rng, G, opts.initScale),
      };
    case 'normal':
      return {
        weight_ih: normal(rng, G * inputSize, opts.initStd),
        weight_hh: normal(rng, G * H, opts.initStd),
        bias_ih: zeros(),
        bias_hh: zeros(),
      };
    case 'xavier':
      return { weight_ih: blocks(inputSize, xavier), weight_hh: blocks(H, xavier), bias_ih: zeros(), bias_hh: zeros() };
    case 'he': {
      const he = (fanIn: number) => normal(rng, H * fanIn, Math.sqrt(2 / fanIn));
      return { weight_ih: blocks(inputSize, he), weight_hh: blocks(H, he), bias_ih: zeros(), bias_hh: zeros() };
    }
    case 'orthogonal':
      return {
        weight_ih: blocks(inputSize, xavier),
        weight_hh: blocks(H, () => randomOrthogonal(rng, H)),
        bias_ih: zeros(),
        bias_hh: zeros(),
      };
    case 'identity': {
      const eye = () => {
        const m = new Float64Array(H * H);
        for (let i = 0; i < H; i++) m[i * H + i] = opts.identityScale;
        return m;
      };
      return {
        weight_ih: blocks(inputSize, (fanIn) => normal(rng, H * fanIn, 0.001)),
        weight_hh: blocks(H, eye),
        bias_ih: zeros(),
        bias_hh: zeros(),
      };
    }
  }
}

/**
 * Initializers of a dense (MLP) layer with weights [fanOut, fanIn] (Nielsen's w_jk,
 * PyTorch's nn.Linear layout):
 * - normal: weights and biases N(0, 1), the "old" initialization of Nielsen ch. 1–2.
 * - nielsen: weights N(0, 1/fanIn), biases N(0, 1) (network2.py's default).
 * - xavier: Glorot uniform U(±√(6/(fanIn + fanOut))), biases 0.
 * - he: N(0, 2/fanIn), biases 0 (He et al. 2015, for ReLU).
 */
export const MLP_INITS = ['nielsen', 'normal', 'xavier', 'he'] as const;
export type MlpInitName = (typeof MLP_INITS)[number];

export function initDenseLayer(
  rng: Rng,
  fanIn: number,
  fanOut: number,
  init: MlpInitName,
): { weight: Float64Array; bias: Float64Array } {
  const n = fanIn * fanOut;
  switch (init) {
    case 'normal':
      return { weight: normal(rng, n, 1), bias: normal(rng, fanOut, 1) };
    case 'nielsen':
      return { weight: normal(rng, n, 1 / Math.sqrt(fanIn)), bias: normal(rng, fanOut, 1) };
    case 'xavier':
      return { weight: uniform(rng, n, Math.sqrt(6 / (fanIn + fanOut))), bias: new Float64Array(fanOut) };
    case 'he':
      return { weight: normal(rng, n, Math.sqrt(2 / fanIn)), bias: new Float64Array(fanOut) };
  }
}
