import * as tf from '@tensorflow/tfjs';
import { INIT_DEFAULTS, type InitOptions, type InitialWeights } from './init.js';
import type { Nonlinearity } from './activations.js';

/** [h] or [h, c], each [batch, hiddenSize]. */
export type State = tf.Tensor2D[];

/**
 * Cotangents on one step's pre-activations, from cotangents on its output state.
 * `dah` multiplies weight_hh (→ ∂/∂h_{t−1}, ∂W_hh, ∂b_hh); `dax` multiplies weight_ih
 * (→ ∂/∂x_t, ∂W_ih, ∂b_ih) and is the same tensor except for the GRU's n-gate.
 * `direct[i]` is the part of the cotangent on state i of s_{t−1} that bypasses the
 * matMul (GRU: G ⊙ z on h; LSTM: dc ⊙ f on c), or null.
 */
export interface StepGrad<T extends tf.Tensor> {
  dah: T;
  dax: T;
  direct: (T | null)[];
}

/**
 * One recurrent layer. Parameters follow PyTorch's nn.RNN/LSTM/GRU (names, shapes,
 * gate order), so a state_dict moves between the two unchanged.
 */
export interface Cell {
  /** Its CellSpec's kind (models/registry.ts). */
  readonly kind: string;
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Number of state tensors: 1 (h) or 2 (h, c). */
  readonly numStates: 1 | 2;
  initState(batchSize: number): State;
  /** s_t = f(s_{t−1}, x_t). x: [batch, inputSize]. No mutation, no I/O. */
  step(x: tf.Tensor2D, prev: State): State;
  /**
   * Input projection for many steps at once: [N, inputSize] → [N, gates·H] (x W_ihᵀ + biases that do not
   * interact with h).
   */
  project(x: tf.Tensor2D): tf.Tensor2D;
  /** One step from a projected input (xw = project(x_t)); `saved` are the activations localFactors needs. */
  stepProjected(xw: tf.Tensor2D, prev: State): { next: State; saved: tf.Tensor2D[] };
  /**
   * The per-example factors of backStep from saved activations and the previous
   * state, element-wise, so one call serves one step ([B, ·]) or all T steps at once ([T, B, ·]).
   */
  localFactors(saved: tf.Tensor[], prev: tf.Tensor[]): tf.Tensor[];
  /** Pre-activation cotangents from state cotangents `cot` ([batch, H] or [batch, rows, H] each). */
  backStep<T extends tf.Tensor>(local: tf.Tensor2D[], cot: T[]): StepGrad<T>;
  /**
   * Row cotangents on s_t (each [batch, rows, H]) pulled back to s_{t−1}:
   * G_{t−1} = G_t ∂s_t/∂s_{t−1}. `weightHH` is weight_hh in PyTorch layout [gates·H, H].
   */
  pullback(local: tf.Tensor2D[], cot: tf.Tensor3D[], weightHH: tf.Tensor2D): tf.Tensor3D[];
  /** weight_hh [gates·H, H] (a new tensor the caller disposes). */
  recurrentWeight(): tf.Tensor2D;
  /** weight_ih [gates·H, I] (a new tensor the caller disposes). */
  inputWeight(): tf.Tensor2D;
  variables(): Record<string, tf.Variable>;
  /** PyTorch-named parameters (weight_ih, weight_hh, bias_ih, bias_hh) as nested arrays. */
  stateDict(): Promise<Record<string, number[] | number[][]>>;
  dispose(): void;
}

export interface CellOptions extends InitOptions {
  /** Vanilla RNN nonlinearity. Default tanh. */
  nonlinearity: Nonlinearity;
  /** LSTM forget-gate bias (bias_ih f-block set to it, bias_hh f-block to 0); null keeps the init's. Default null. */
  forgetBias: number | null;
}

export const CELL_DEFAULTS: Readonly<CellOptions> = { ...INIT_DEFAULTS, nonlinearity: 'tanh', forgetBias: null };

/**
 * What registers a cell kind (models/registry.ts): its name, gate and state layout, and how to
 * build a layer. The cell's own file states it beside the cell's math.
 */
export interface CellSpec {
  /** The name on the command line, in config.json and in checkpoints. */
  readonly kind: string;
  /** Gate blocks of weight_ih / weight_hh, in PyTorch's row order (their count is the G of [G·H, ·]). */
  readonly gates: readonly string[];
  /** The state tensors, in State order: ['h'] or ['h', 'c']. */
  readonly states: readonly string[];
  /** One line for help texts. */
  readonly describe: string;
  /**
   * The gate that decides how much of the state passes a step unchanged, if the cell has one:
   * its name, its index among localFactors(), and what it does to the gradient (the lab explains
   * a cell's gradient flow with its mean over the probe).
   */
  readonly memoryGate?: { readonly name: string; readonly local: number; readonly role: string };
  /** A layer with the given PyTorch-layout weights. */
  create(
    inputSize: number,
    hiddenSize: number,
    weights: LayerWeights,
    options: Pick<CellOptions, 'nonlinearity'>,
    name: string,
  ): Cell;
  /** Kind-specific changes to freshly initialized weights (the LSTM's forget-gate bias). */
  adjustInit?(weights: InitialWeights, hiddenSize: number, options: CellOptions): void;
}

export interface LayerWeights {
  weight_ih: ArrayLike<number>; // [gates·H, I] row-major
  weight_hh: ArrayLike<number>; // [gates·H, H]
  bias_ih: ArrayLike<number>; // [gates·H]
  bias_hh: ArrayLike<number>;
}

/**
 * The values as a Float32Array: the array itself when it is one (no copy: a word LM's matrices have
 * tens of millions of entries, and copying them costs more than building the model), else a
 * converted copy. A tensor made from it may share it (the cpu backend keeps the array it is given):
 * weights handed to a cell or model must not be modified afterwards.
 */
export function float32Of(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

function transposed(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** A [rows, cols] row-major matrix as a variable holding its transpose [cols, rows] (transposed on the device). */
function transposedVariable(data: ArrayLike<number>, rows: number, cols: number): tf.Variable {
  return tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(float32Of(data), [rows, cols]))));
}

function toRows(data: Float32Array, rows: number, cols: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) out.push(Array.from(data.subarray(r * cols, (r + 1) * cols)));
  return out;
}

/**
 * Parameters shared by the three cells. Weights are held transposed
 * (wihT: [I, gates·H], whhT: [H, gates·H]) so the forward pass is x·wihT + h·whhT
 * with untransposed matMuls (the fast path on wasm).
 */
export abstract class RecurrentCellBase {
  abstract readonly kind: string;
  abstract readonly numStates: 1 | 2;
  readonly wihT: tf.Variable; // [I, gates·H]
  readonly whhT: tf.Variable; // [H, gates·H]
  readonly bih: tf.Variable; // [gates·H]
  readonly bhh: tf.Variable; // [gates·H]

  constructor(
    readonly gates: number,
    readonly inputSize: number,
    readonly hiddenSize: number,
    weights: LayerWeights,
    readonly name: string,
  ) {
    const G = gates * hiddenSize;
    // tidy: the untransposed tensors must not outlive the variables made from them
    this.wihT = transposedVariable(weights.weight_ih, G, inputSize);
    this.whhT = transposedVariable(weights.weight_hh, G, hiddenSize);
    this.bih = tf.tidy(() => tf.variable(tf.tensor1d(Float32Array.from(weights.bias_ih))));
    this.bhh = tf.tidy(() => tf.variable(tf.tensor1d(Float32Array.from(weights.bias_hh))));
  }

  initState(batchSize: number): State {
    return Array.from({ length: this.numStates }, () => tf.zeros([batchSize, this.hiddenSize]) as tf.Tensor2D);
  }

  abstract stepProjected(xw: tf.Tensor2D, prev: State): { next: State; saved: tf.Tensor2D[] };
  abstract localFactors(saved: tf.Tensor[], prev: tf.Tensor[]): tf.Tensor[];
  abstract backStep<T extends tf.Tensor>(local: tf.Tensor2D[], cot: T[]): StepGrad<T>;

  project(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.wihT), this.bih) as tf.Tensor2D);
  }

  step(x: tf.Tensor2D, prev: State): State {
    return tf.tidy(() => this.stepProjected(this.project(x), prev).next);
  }

  /** G_{t−1} = [dah · W_hh + direct_h, direct_c]. */
  pullback(local: tf.Tensor2D[], cot: tf.Tensor3D[], weightHH: tf.Tensor2D): tf.Tensor3D[] {
    return tf.tidy(() => {
      const { dah, direct } = this.backStep(local, cot);
      const viaW = rowsMatMul(dah, weightHH);
      return [direct[0] ? (tf.add(viaW, direct[0]) as tf.Tensor3D) : viaW, ...(direct.slice(1) as tf.Tensor3D[])];
    });
  }

  recurrentWeight(): tf.Tensor2D {
    return tf.transpose(this.whhT) as tf.Tensor2D;
  }

  inputWeight(): tf.Tensor2D {
    return tf.transpose(this.wihT) as tf.Tensor2D;
  }

  variables(): Record<string, tf.Variable> {
    return { weight_ih_T: this.wihT, weight_hh_T: this.whhT, bias_ih: this.bih, bias_hh: this.bhh };
  }

  async stateDict(): Promise<Record<string, number[] | number[][]>> {
    const G = this.gates * this.hiddenSize;
    const wih = transposed(await this.wihT.data(), this.inputSize, G);
    const whh = transposed(await this.whhT.data(), this.hiddenSize, G);
    return {
      weight_ih: toRows(wih, G, this.inputSize),
      weight_hh: toRows(whh, G, this.hiddenSize),
      bias_ih: Array.from(await this.bih.data()),
      bias_hh: Array.from(await this.bhh.data()),
    };
  }

  dispose(): void {
    for (const v of [this.wihT, this.whhT, this.bih, this.bhh]) v.dispose();
  }
}

/**
 * Per-example factors [batch, X] shaped to multiply a cotangent: as they are for
 * [batch, X] cotangents, [batch, 1, X] for [batch, rows, X] ones.
 */
export function rowsOf(t: tf.Tensor2D, cot: tf.Tensor): tf.Tensor {
  return cot.rank === 3 ? tf.expandDims(t, 1) : t;
}

/** [batch, rows, K] · W[K, N] as one 2-D matMul (batched matMul is slow on wasm). */
export function rowsMatMul(cot: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  const [b, r, k] = cot.shape;
  return tf.reshape(tf.matMul(tf.reshape(cot, [b * r, k]), w), [b, r, w.shape[1]]) as tf.Tensor3D;
}
