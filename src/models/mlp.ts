import type { Rng } from '../util/rng.js';
import { usageError } from '../util/errors.js';
import { ACTIVATIONS64, DEFAULT_SLOPE, MLP_ACTIVATIONS, sigmoid, type MlpActivation } from './activations64.js';
import { MLP_INITS, initDenseLayer, type MlpInitName } from './init.js';

/**
 * A feed-forward network (Nielsen, "Neural Networks and Deep Learning", ch. 1–6) with
 * its backpropagation written out, in float64 plain TypeScript: small MLPs train with
 * mini-batches of 10, where tfjs's per-op dispatch (20–60 µs on wasm) would cost more
 * than the arithmetic. The four equations of backpropagation (ch. 2):
 *
 *   zˡ = wˡ aˡ⁻¹ + bˡ,   aˡ = φ(zˡ)
 *   (BP1) δᴸ = ∇_a C ⊙ φ′(zᴸ)          (a − y for cross-entropy with sigmoid or softmax outputs)
 *   (BP2) δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ φ′(zˡ)
 *   (BP3) ∂C/∂bˡ_j = δˡ_j
 *   (BP4) ∂C/∂wˡ_jk = aˡ⁻¹_k δˡ_j
 *
 * so ‖δˡ‖ = ‖∂C/∂bˡ‖ (ch. 5's "speed of learning" of layer l) falls out exactly.
 * Unlike the book, whose input is layer 1, the input here is layer 0: wˡ, bˡ, δˡ for
 * l = 1..L, and δ¹ belongs to the first hidden layer (as b₁ in ch. 5's chain).
 * C is the mean cost over the mini-batch, so every gradient is the mean of the
 * per-example ones (the δˡ of one example are averaged element-wise).
 *
 * Batch normalization (Ioffe & Szegedy 2015) on a hidden layer replaces bˡ by a shift:
 * uˡ = γ ⊙ (zˡ − μ_B)/√(σ²_B + ε) + β, aˡ = φ(uˡ). The bias would cancel in zˡ − μ_B,
 * so β takes its place, and δˡ = ∂C/∂uˡ = ∂C/∂βˡ is the quantity logged.
 * PReLU (He et al. 2015) learns one negative-side slope per hidden unit.
 */
export const MLP_COSTS = ['xent', 'quadratic'] as const;
export type MlpCost = (typeof MLP_COSTS)[number];
export const MLP_OUTPUTS = ['sigmoid', 'softmax', 'linear'] as const;
export type MlpOutput = (typeof MLP_OUTPUTS)[number];

export interface MlpConfig {
  /** Layer sizes [n₀ (inputs), n₁, …, n_L (outputs)]. Default [784, 30, 10]. */
  layers: number[];
  /** Hidden-layer activation. Default sigmoid. */
  activation: MlpActivation;
  /** Output layer: sigmoid (Nielsen's network2), softmax, or linear (regression). Default sigmoid. */
  output: MlpOutput;
  /** Cost: xent (cross-entropy; with softmax outputs, the log-likelihood) or quadratic ½‖a − y‖². Default xent. */
  cost: MlpCost;
  /** Initializer (see initDenseLayer). Default nielsen: N(0, 1/n_in) weights, N(0, 1) biases. */
  init: MlpInitName;
  /** Batch normalization on every hidden layer. Default false. */
  batchNorm: boolean;
  /** Negative-side slope of leaky ReLU, initial slope of PReLU; null = the activation's default (0.01, 0.25). */
  slope: number | null;
}

export const MLP_DEFAULTS: Readonly<MlpConfig> = {
  layers: [784, 30, 10],
  activation: 'sigmoid',
  output: 'sigmoid',
  cost: 'xent',
  init: 'nielsen',
  batchNorm: false,
  slope: null,
};

const BN_EPS = 1e-5; // as torch.nn.BatchNorm1d
const BN_MOMENTUM = 0.1; // running = (1 − 0.1) running + 0.1 batch, as PyTorch

/** Check a configuration; every mistake is a one-line usage error. */
export function validateMlpConfig(c: MlpConfig): void {
  if (!Array.isArray(c.layers) || c.layers.length < 2) {
    const got = JSON.stringify(c.layers?.join(',') ?? c.layers);
    throw usageError(
      (field) => `${field('layers')} needs at least an input and an output size, e.g. 784,30,10; got ${got}`,
    );
  }
  for (const n of c.layers) {
    if (!Number.isInteger(n) || n <= 0)
      throw usageError((field) => `${field('layers')} sizes must be positive integers, got ${c.layers.join(',')}`);
  }
  if (!MLP_ACTIVATIONS.includes(c.activation))
    throw usageError(`unknown activation ${JSON.stringify(c.activation)}; use ${MLP_ACTIVATIONS.join(', ')}`);
  if (!MLP_OUTPUTS.includes(c.output))
    throw usageError(`unknown output ${JSON.stringify(c.output)}; use ${MLP_OUTPUTS.join(', ')}`);
  if (!MLP_COSTS.includes(c.cost))
    throw usageError(`unknown cost ${JSON.stringify(c.cost)}; use ${MLP_COSTS.join(', ')}`);
  if (!MLP_INITS.includes(c.init))
    throw usageError(`unknown init ${JSON.stringify(c.init)}; use ${MLP_INITS.join(', ')}`);
  if (c.cost === 'xent' && c.output === 'linear')
    throw usageError(
      (field) =>
        `cost xent needs sigmoid or softmax outputs; use ${field('cost')} quadratic with ${field('output')} linear`,
    );
  if (c.cost === 'quadratic' && c.output === 'softmax')
    throw usageError(
      (field) => `cost quadratic is not supported with softmax outputs; use ${field('cost')} xent (log-likelihood)`,
    );
  if (c.slope !== null && !Number.isFinite(c.slope))
    throw usageError((field) => `${field('slope')} must be a finite number, got ${c.slope}`);
}

/** Parameter names: w1, b1 (b absent on batch-normalized layers), gamma1, beta1, slope1 (PReLU), …, wL, bL. */
export type MlpParams = Record<string, Float64Array>;

/** Per-layer buffers of one forward pass over m examples, reused between calls. */
interface Workspace {
  m: number;
  z: Float64Array[]; // [m, n_l] weighted inputs wˡaˡ⁻¹ + bˡ
  xhat: Float64Array[]; // [m, n_l] normalized z (batch-norm layers)
  u: Float64Array[]; // [m, n_l] what φ sees: z, or γ x̂ + β
  a: Float64Array[]; // [m, n_l] activations (a[0] unused: layer 1 reads the input's non-zeros)
  delta: Float64Array[]; // [m, n_l] per-example ∂S/∂uˡ (S = sum of the costs over the batch)
  invStd: Float64Array[]; // [n_l] 1/√(σ²_B + ε)
  // the input's non-zero entries per example (CSR): MNIST pixels are ~80 % zeros
  nzStart: Int32Array;
  nzIndex: Int32Array;
  nzValue: Float64Array;
}

export interface ForwardOptions {
  /**
   * Batch-norm statistics: "train" (batch, and update the running averages), "batch" (batch, no update), "eval"
   * (running).
   */
  mode: 'train' | 'batch' | 'eval';
}

export class Mlp {
  readonly config: Readonly<MlpConfig>;
  readonly params: MlpParams;
  /** Batch-norm running averages (not trained): runningMean{l}, runningVar{l}. */
  readonly buffers: MlpParams;
  private readonly grads: MlpParams;
  private ws: Workspace | null = null; // the last forward pass's
  private readonly workspaces = new Map<number, Workspace>(); // by batch size: training, probe and eval batches differ

  constructor(config: Readonly<MlpConfig>, params: MlpParams, buffers: MlpParams = {}) {
    validateMlpConfig(config as MlpConfig);
    this.config = config;
    this.params = params;
    this.buffers = buffers;
    this.grads = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float64Array(v.length)]));
    const L = this.numLayers;
    for (let l = 1; l <= L; l++) {
      const [nOut, nIn] = [config.layers[l], config.layers[l - 1]];
      const expect = (name: string, n: number) => {
        if (params[name]?.length !== n)
          throw new Error(`MLP parameter ${name} should have ${n} entries, has ${params[name]?.length}`);
      };
      expect(`w${l}`, nOut * nIn);
      if (this.isNormalized(l)) {
        expect(`gamma${l}`, nOut);
        expect(`beta${l}`, nOut);
        buffers[`runningMean${l}`] ??= new Float64Array(nOut);
        buffers[`runningVar${l}`] ??= new Float64Array(nOut).fill(1);
      } else expect(`b${l}`, nOut);
      if (l < L && config.activation === 'prelu') expect(`slope${l}`, nOut);
    }
  }

  /** A network with weights drawn by `config.init` from `rng` (layer by layer, weights then biases). */
  static random(config: Readonly<MlpConfig>, rng: Rng): Mlp {
    validateMlpConfig(config as MlpConfig);
    const params: MlpParams = {};
    const L = config.layers.length - 1;
    for (let l = 1; l <= L; l++) {
      const { weight, bias } = initDenseLayer(rng, config.layers[l - 1], config.layers[l], config.init);
      params[`w${l}`] = weight;
      if (config.batchNorm && l < L) {
        params[`gamma${l}`] = new Float64Array(bias.length).fill(1);
        params[`beta${l}`] = new Float64Array(bias.length);
      } else params[`b${l}`] = bias;
      if (l < L && config.activation === 'prelu')
        params[`slope${l}`] = new Float64Array(bias.length).fill(config.slope ?? DEFAULT_SLOPE.prelu);
    }
    return new Mlp(config, params);
  }

  /** L: the number of weight layers (hidden layers + 1). */
  get numLayers(): number {
    return this.config.layers.length - 1;
  }

  get inputSize(): number {
    return this.config.layers[0];
  }

  get outputSize(): number {
    return this.config.layers[this.numLayers];
  }

  numParams(): number {
    return Object.values(this.params).reduce((s, p) => s + p.length, 0);
  }

  /** Names of the parameters an L2 penalty applies to: the weights wˡ (Nielsen regularizes no biases). */
  weightNames(): string[] {
    return Object.keys(this.params).filter((k) => /^w\d+$/.test(k));
  }

  private isNormalized(l: number): boolean {
    return this.config.batchNorm && l < this.numLayers;
  }

  private slopeOf(l: number, j: number): number {
    if (this.config.activation === 'prelu') return this.params[`slope${l}`][j];
    return this.config.slope ?? DEFAULT_SLOPE[this.config.activation];
  }

  private workspace(m: number): Workspace {
    const cached = this.workspaces.get(m);
    if (cached) {
      this.ws = cached;
      return cached;
    }
    if (this.workspaces.size >= 4) this.workspaces.clear();
    const sizes = this.config.layers;
    const per = (from: number) => sizes.map((n, l) => (l < from ? new Float64Array(0) : new Float64Array(m * n)));
    this.ws = {
      m,
      z: per(1),
      xhat: sizes.map((n, l) => (l > 0 && this.isNormalized(l) ? new Float64Array(m * n) : new Float64Array(0))),
      u: per(1),
      a: per(1),
      delta: per(1),
      invStd: sizes.map((n) => new Float64Array(n)),
      nzStart: new Int32Array(m + 1),
      nzIndex: new Int32Array(m * sizes[0]),
      nzValue: new Float64Array(m * sizes[0]),
    };
    this.workspaces.set(m, this.ws);
    return this.ws;
  }

  /**
   * Forward pass over m examples x [m, n₀]; returns the outputs aᴸ [m, n_L] (a view into
   * the workspace: valid until the next call).
   */
  forward(x: ArrayLike<number>, m: number, opts: ForwardOptions = { mode: 'eval' }): Float64Array {
    const ws = this.workspace(m);
    const sizes = this.config.layers;
    const L = this.numLayers;
    const n0 = sizes[0];
    if (x.length !== m * n0) throw new Error(`MLP input has ${x.length} values, expected ${m}×${n0}`);
    // layer 1 reads only the input's non-zero entries (a[0] stays unused)
    const { nzStart, nzIndex, nzValue } = ws;
    let nnz = 0;
    for (let b = 0; b < m; b++) {
      nzStart[b] = nnz;
      const off = b * n0;
      for (let k = 0; k < n0; k++) {
        const v = x[off + k];
        if (v !== 0) {
          nzIndex[nnz] = k;
          nzValue[nnz++] = v;
        }
      }
    }
    nzStart[m] = nnz;
    for (let l = 1; l <= L; l++) {
      const nIn = sizes[l - 1];
      const nOut = sizes[l];
      const w = this.params[`w${l}`];
      const bias = this.params[`b${l}`] ?? null;
      const z = ws.z[l];
      if (l === 1) {
        for (let b = 0; b < m; b++) {
          const s0 = nzStart[b];
          const s1 = nzStart[b + 1];
          for (let j = 0; j < nOut; j++) {
            const off = j * nIn;
            let s = bias ? bias[j] : 0;
            for (let i = s0; i < s1; i++) s += w[off + nzIndex[i]] * nzValue[i];
            z[b * nOut + j] = s;
          }
        }
      } else {
        const aPrev = ws.a[l - 1];
        for (let b = 0; b < m; b++) {
          const aOff = b * nIn;
          for (let j = 0; j < nOut; j++) {
            const off = j * nIn;
            let s = bias ? bias[j] : 0;
            for (let k = 0; k < nIn; k++) s += w[off + k] * aPrev[aOff + k];
            z[b * nOut + j] = s;
          }
        }
      }
      const u = ws.u[l];
      if (this.isNormalized(l)) this.normalize(l, m, opts.mode);
      else u.set(z);
      const a = ws.a[l];
      if (l < L) {
        const act = ACTIVATIONS64[this.config.activation];
        for (let b = 0; b < m; b++)
          for (let j = 0; j < nOut; j++) a[b * nOut + j] = act.fn(u[b * nOut + j], this.slopeOf(l, j));
      } else this.outputActivation(u, a, m, nOut);
    }
    return ws.a[L];
  }

  /** uˡ = γ ⊙ x̂ + β with x̂ = (zˡ − μ)/√(σ² + ε): batch statistics (train, batch) or the running ones (eval). */
  private normalize(l: number, m: number, mode: ForwardOptions['mode']): void {
    const ws = this.ws!;
    const n = this.config.layers[l];
    const [z, xhat, u, invStd] = [ws.z[l], ws.xhat[l], ws.u[l], ws.invStd[l]];
    const gamma = this.params[`gamma${l}`];
    const beta = this.params[`beta${l}`];
    const runMean = this.buffers[`runningMean${l}`];
    const runVar = this.buffers[`runningVar${l}`];
    for (let j = 0; j < n; j++) {
      let mean: number;
      let variance: number;
      if (mode === 'eval') {
        mean = runMean[j];
        variance = runVar[j];
      } else {
        mean = 0;
        for (let b = 0; b < m; b++) mean += z[b * n + j];
        mean /= m;
        variance = 0;
        for (let b = 0; b < m; b++) variance += (z[b * n + j] - mean) ** 2;
        variance /= m; // biased, for normalizing; the running average stores the unbiased one, as PyTorch
        if (mode === 'train') {
          runMean[j] = (1 - BN_MOMENTUM) * runMean[j] + BN_MOMENTUM * mean;
          runVar[j] = (1 - BN_MOMENTUM) * runVar[j] + BN_MOMENTUM * (m > 1 ? (variance * m) / (m - 1) : variance);
        }
      }
      const inv = 1 / Math.sqrt(variance + BN_EPS);
      invStd[j] = inv;
      for (let b = 0; b < m; b++) {
        const xh = (z[b * n + j] - mean) * inv;
        xhat[b * n + j] = xh;
        u[b * n + j] = gamma[j] * xh + beta[j];
      }
    }
  }

  private outputActivation(u: Float64Array, a: Float64Array, m: number, n: number): void {
    switch (this.config.output) {
      case 'sigmoid':
        for (let i = 0; i < m * n; i++) a[i] = sigmoid(u[i]);
        break;
      case 'linear':
        a.set(u);
        break;
      case 'softmax':
        for (let b = 0; b < m; b++) {
          let max = -Infinity;
          for (let j = 0; j < n; j++) max = Math.max(max, u[b * n + j]);
          let sum = 0;
          for (let j = 0; j < n; j++) sum += a[b * n + j] = Math.exp(u[b * n + j] - max);
          for (let j = 0; j < n; j++) a[b * n + j] /= sum;
        }
        break;
    }
  }

  /**
   * Summed cost over the m examples of the last forward pass, against targets y [m, n_L]:
   * xent: −Σ [y ln a + (1 − y) ln(1 − a)] (sigmoid), −Σ y ln a (softmax), both from u so that
   * a saturated unit costs a large finite amount instead of ∞; quadratic: ½ Σ (a − y)².
   */
  costSum(y: ArrayLike<number>, m: number): number {
    const ws = this.ws!;
    const L = this.numLayers;
    const n = this.config.layers[L];
    const [u, a] = [ws.u[L], ws.a[L]];
    let c = 0;
    if (this.config.cost === 'quadratic') {
      for (let i = 0; i < m * n; i++) c += 0.5 * (a[i] - y[i]) ** 2;
    } else if (this.config.output === 'sigmoid') {
      // ln σ(u) = −softplus(−u), ln(1 − σ(u)) = −softplus(u)
      for (let i = 0; i < m * n; i++) c += y[i] * softplus(-u[i]) + (1 - y[i]) * softplus(u[i]);
    } else {
      for (let b = 0; b < m; b++) {
        let max = -Infinity;
        for (let j = 0; j < n; j++) max = Math.max(max, u[b * n + j]);
        let sum = 0;
        for (let j = 0; j < n; j++) sum += Math.exp(u[b * n + j] - max);
        const logZ = max + Math.log(sum);
        for (let j = 0; j < n; j++) c -= y[b * n + j] * (u[b * n + j] - logZ);
      }
    }
    return c;
  }

  /** Mean cost over m examples (eval mode unless given), without gradients. */
  cost(x: ArrayLike<number>, y: ArrayLike<number>, m: number, opts: ForwardOptions = { mode: 'eval' }): number {
    this.forward(x, m, opts);
    return this.costSum(y, m) / m;
  }

  /**
   * Mean cost C over the batch x [m, n₀], targets y [m, n_L], and ∂C/∂p for every parameter,
   * by backpropagation. The gradient arrays are reused by the next call: read or copy them first.
   * Batch-norm layers use the batch's statistics (and update the running ones unless mode "batch").
   */
  lossAndGrads(
    x: ArrayLike<number>,
    y: ArrayLike<number>,
    m: number,
    opts: ForwardOptions = { mode: 'train' },
  ): { cost: number; grads: MlpParams } {
    if (opts.mode === 'eval') throw new Error('lossAndGrads needs batch statistics: mode "train" or "batch"');
    this.forward(x, m, opts);
    const cost = this.costSum(y, m) / m;
    const ws = this.ws!;
    const sizes = this.config.layers;
    const L = this.numLayers;
    const g = this.grads;
    const inv = 1 / m;

    // (BP1) δᴸ per example
    {
      const n = sizes[L];
      const [u, a, d] = [ws.u[L], ws.a[L], ws.delta[L]];
      const isQuadSigmoid = this.config.cost === 'quadratic' && this.config.output === 'sigmoid';
      for (let i = 0; i < m * n; i++)
        d[i] = isQuadSigmoid ? (a[i] - y[i]) * sigmoid(u[i]) * sigmoid(-u[i]) : a[i] - y[i];
    }
    for (let l = L; l >= 1; l--) {
      const nIn = sizes[l - 1];
      const nOut = sizes[l];
      const delta = ws.delta[l];
      const dz = this.isNormalized(l) ? this.normalizeBackward(l, m) : delta;
      // (BP3) ∂C/∂bˡ = mean of δˡ
      const gb = g[`b${l}`];
      if (gb) {
        gb.fill(0);
        for (let b = 0; b < m; b++) for (let j = 0; j < nOut; j++) gb[j] += dz[b * nOut + j];
        for (let j = 0; j < nOut; j++) gb[j] *= inv;
      }
      // (BP4) ∂C/∂wˡ_jk = mean of aˡ⁻¹_k δˡ_j
      const gw = g[`w${l}`];
      gw.fill(0);
      if (l === 1) {
        const { nzStart, nzIndex, nzValue } = ws;
        for (let b = 0; b < m; b++) {
          const s0 = nzStart[b];
          const s1 = nzStart[b + 1];
          for (let j = 0; j < nOut; j++) {
            const d = dz[b * nOut + j] * inv;
            if (d === 0) continue;
            const off = j * nIn;
            for (let i = s0; i < s1; i++) gw[off + nzIndex[i]] += d * nzValue[i];
          }
        }
        continue; // nothing below the input
      }
      const aPrev = ws.a[l - 1];
      for (let b = 0; b < m; b++) {
        const aOff = b * nIn;
        for (let j = 0; j < nOut; j++) {
          const d = dz[b * nOut + j] * inv;
          if (d === 0) continue;
          const off = j * nIn;
          for (let k = 0; k < nIn; k++) gw[off + k] += d * aPrev[aOff + k];
        }
      }
      // (BP2) δˡ⁻¹ = ((wˡ)ᵀ δˡ) ⊙ φ′(uˡ⁻¹); the PReLU slope's gradient on the way
      const w = this.params[`w${l}`];
      const below = ws.delta[l - 1];
      below.fill(0);
      for (let b = 0; b < m; b++) {
        const bOff = b * nIn;
        for (let j = 0; j < nOut; j++) {
          const d = dz[b * nOut + j];
          if (d === 0) continue;
          const off = j * nIn;
          for (let k = 0; k < nIn; k++) below[bOff + k] += d * w[off + k];
        }
      }
      const uPrev = ws.u[l - 1];
      const act = ACTIVATIONS64[this.config.activation];
      const gs = g[`slope${l - 1}`];
      if (gs) {
        gs.fill(0);
        // ∂φ/∂a = u for u ≤ 0, else 0
        for (let b = 0; b < m; b++)
          for (let k = 0; k < nIn; k++)
            if (uPrev[b * nIn + k] <= 0) gs[k] += below[b * nIn + k] * uPrev[b * nIn + k] * inv;
      }
      if (act.primeFromOutput) {
        // from the outputs: saves an exp per unit (the 1 − a cancellation costs nothing that matters in float64)
        for (let i = 0; i < m * nIn; i++) below[i] *= act.primeFromOutput(aPrev[i]);
      } else {
        for (let b = 0; b < m; b++)
          for (let k = 0; k < nIn; k++) below[b * nIn + k] *= act.prime(uPrev[b * nIn + k], this.slopeOf(l - 1, k));
      }
    }
    return { cost, grads: g };
  }

  /**
   * Through the normalization of layer l: from δ = ∂S/∂u to ∂S/∂z, with ∂C/∂γ and ∂C/∂β on the way.
   * With g = γ ⊙ δ:  ∂S/∂z = (1/σ) (g − mean_B g − x̂ · mean_B(g x̂)).
   */
  private normalizeBackward(l: number, m: number): Float64Array {
    const ws = this.ws!;
    const n = this.config.layers[l];
    const [delta, xhat, invStd] = [ws.delta[l], ws.xhat[l], ws.invStd[l]];
    const gamma = this.params[`gamma${l}`];
    const gGamma = this.grads[`gamma${l}`];
    const gBeta = this.grads[`beta${l}`];
    const dz = ws.z[l]; // z is no longer needed: its buffer takes ∂S/∂z
    for (let j = 0; j < n; j++) {
      let sumD = 0;
      let sumDX = 0;
      for (let b = 0; b < m; b++) {
        sumD += delta[b * n + j];
        sumDX += delta[b * n + j] * xhat[b * n + j];
      }
      gBeta[j] = sumD / m;
      gGamma[j] = sumDX / m;
      const meanG = (gamma[j] * sumD) / m;
      const meanGX = (gamma[j] * sumDX) / m;
      for (let b = 0; b < m; b++)
        dz[b * n + j] = invStd[j] * (gamma[j] * delta[b * n + j] - meanG - xhat[b * n + j] * meanGX);
    }
    return dz;
  }

  /**
   * ‖δˡ‖ = ‖∂C/∂bˡ‖ (‖∂C/∂βˡ‖ on batch-norm layers) for the hidden layers l = 1..L−1,
   * from gradients returned by lossAndGrads.
   */
  deltaNorms(grads: MlpParams): number[] {
    const out: number[] = [];
    for (let l = 1; l < this.numLayers; l++) out.push(norm(grads[this.isNormalized(l) ? `beta${l}` : `b${l}`]));
    return out;
  }

  /**
   * √(mean over the examples of ‖δˡ_x‖²) for the hidden layers, from the last lossAndGrads:
   * the per-example size of δ. Unlike ‖mean δˡ‖ it does not cancel below a batch-norm layer,
   * whose backward pass takes out the batch mean of the gradient.
   */
  deltaRms(): number[] {
    const ws = this.ws!;
    const out: number[] = [];
    for (let l = 1; l < this.numLayers; l++) {
      const d = ws.delta[l];
      let s = 0;
      for (let i = 0; i < d.length; i++) s += d[i] * d[i];
      out.push(Math.sqrt(s / ws.m));
    }
    return out;
  }

  /** Parameters and buffers as plain arrays (a checkpoint's state_dict). */
  stateDict(): Record<string, number[]> {
    return Object.fromEntries(
      [...Object.entries(this.params), ...Object.entries(this.buffers)].map(([k, v]) => [k, Array.from(v)]),
    );
  }

  static fromStateDict(config: Readonly<MlpConfig>, sd: Record<string, number[]>): Mlp {
    const params: MlpParams = {};
    const buffers: MlpParams = {};
    for (const [k, v] of Object.entries(sd)) (k.startsWith('running') ? buffers : params)[k] = Float64Array.from(v);
    return new Mlp(config, params, buffers);
  }
}

/** ln(1 + eᵘ) without overflow. */
function softplus(u: number): number {
  return u > 0 ? u + Math.log1p(Math.exp(-u)) : Math.log1p(Math.exp(u));
}

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Parse "784,30,30,10" into layer sizes; a usage error names what is wrong. */
export function parseLayers(text: string): number[] {
  const parts = String(text)
    .split(',')
    .map((s) => s.trim());
  const sizes = parts.map(Number);
  if (parts.length < 2)
    throw usageError(
      (field) => `${field('layers')} needs at least an input and an output size, e.g. 784,30,10; got "${text}"`,
    );
  if (parts.some((p, i) => p === '' || !Number.isInteger(sizes[i]) || sizes[i] <= 0))
    throw usageError((field) => `${field('layers')} sizes must be positive integers, got "${text}"`);
  return sizes;
}
