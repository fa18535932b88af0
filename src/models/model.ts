import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';
import { SeqlabError, usageError } from '../util/errors.js';
import { stripUndefined } from '../util/objects.js';
import { CELL_DEFAULTS, type Cell, type CellOptions, type LayerWeights, type State, float32Of } from './cell.js';
import { CELL_SPECS, type CellKind, gateCount, initialWeights } from './registry.js';

export interface ModelConfig extends CellOptions {
  cell: CellKind;
  inputSize: number;
  hiddenSize: number;
  /** Stacked recurrent layers. Default 1. */
  numLayers: number;
  /** Width of the linear read-out (classes, or regression targets). */
  outputSize: number;
  /**
   * Token inputs: the vocabulary size V of an embedding [V, inputSize] in front of the
   * first layer (nn.Embedding, N(0, 1) init); null = dense inputs. Default null.
   */
  vocabSize: number | null;
  /**
   * Dropout probability on the non-recurrent connections while training (the input of
   * every layer and the top layer's output; Zaremba et al. 2014). Default 0.
   */
  dropout: number;
  /**
   * Tie the read-out to the embedding, W_out = E (Press & Wolf 2017; Inan et al. 2017): needs
   * token inputs with embedding size = hidden size and outputs = vocabulary. Default false.
   */
  tieWeights: boolean;
  /**
   * word_language_model's init_weights: the embedding and the read-out weights U(±initRange), the
   * read-out bias 0; the recurrent layers keep `init`. null: nn.Embedding's N(0, 1) and nn.Linear's
   * U(±1/√H) (every parameter U(±initScale) under init "uniform"). Default null.
   */
  initRange?: number | null;
}

export const MODEL_DEFAULTS: Readonly<Omit<ModelConfig, 'inputSize' | 'outputSize'>> = {
  ...CELL_DEFAULTS,
  vocabSize: null,
  dropout: 0,
  tieWeights: false,
  initRange: null,
  cell: 'lstm',
  hiddenSize: 64,
  numLayers: 1,
};

/** A single recurrent layer of `kind` with the given PyTorch-layout weights. */
export function createCell(
  kind: CellKind,
  inputSize: number,
  hiddenSize: number,
  weights: LayerWeights,
  opts: Pick<CellOptions, 'nonlinearity'> = CELL_DEFAULTS,
  name: string = kind,
): Cell {
  return CELL_SPECS[kind].create(inputSize, hiddenSize, weights, opts, name);
}

/** A cell of `kind` with weights drawn from the seeded initializer. */
export function randomCell(
  kind: CellKind,
  inputSize: number,
  hiddenSize: number,
  opts: CellOptions,
  rng: Rng,
  name?: string,
): Cell {
  return createCell(kind, inputSize, hiddenSize, initialWeights(kind, inputSize, hiddenSize, opts, rng), opts, name);
}

/** Parameters of the whole model under PyTorch names (weight_ih_l0, …, head.weight, head.bias), row-major. */
export type StateDict = Record<string, number[] | number[][]>;

/**
 * Stacked recurrent layers and a linear read-out y = h W_out + b_out.
 * The read-out is applied by the trainer's loss to the top layer's states.
 */
export class SequenceModel {
  readonly layers: Cell[];
  readonly headW: tf.Variable | null; // [H, outputSize]; null when tied to the embedding
  readonly headB: tf.Variable; // [outputSize]
  readonly embedding: tf.Variable | null; // [V, inputSize] for token inputs

  /**
   * Weights in PyTorch's layouts. Float32Arrays are taken without a copy (see float32Of): do not
   * modify them afterwards.
   */
  constructor(
    readonly config: Readonly<ModelConfig>,
    layerWeights: LayerWeights[],
    head: { weight: ArrayLike<number>; bias: ArrayLike<number> },
    embedding: ArrayLike<number> | null = null,
  ) {
    const { cell, inputSize, hiddenSize, outputSize } = config;
    this.layers = layerWeights.map((w, l) =>
      createCell(cell, l === 0 ? inputSize : hiddenSize, hiddenSize, w, config, `l${l}`),
    );
    // head.weight is [outputSize, H] as nn.Linear; held transposed for h·W (transposed on the device:
    // a word LM's read-out has millions of entries)
    this.headW = config.tieWeights
      ? null
      : tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(float32Of(head.weight), [outputSize, hiddenSize]))));
    if (
      config.tieWeights &&
      (config.vocabSize == null || config.vocabSize !== outputSize || inputSize !== hiddenSize)
    ) {
      throw new SeqlabError(
        'usage',
        `tied weights need token inputs with embedding size = hidden size (${inputSize} vs ${hiddenSize}) ` +
          'and outputs = vocabulary',
      );
    }
    this.headB = tf.tidy(() => tf.variable(tf.tensor1d(Float32Array.from(head.bias))));
    if ((config.vocabSize == null) !== (embedding === null))
      throw new Error('embedding weights must be given exactly when vocabSize is set');
    this.embedding =
      config.vocabSize == null || embedding === null
        ? null
        : tf.tidy(() => tf.variable(tf.tensor2d(float32Of(embedding), [config.vocabSize as number, inputSize])));
  }

  static random(config: Readonly<ModelConfig>, rng: Rng): SequenceModel {
    const layers = Array.from({ length: config.numLayers }, (_, l) =>
      initialWeights(config.cell, l === 0 ? config.inputSize : config.hiddenSize, config.hiddenSize, config, rng),
    );
    // nn.Linear default U(±1/√fanIn) and nn.Embedding N(0, 1); `uniform` makes every parameter U(±initScale);
    // initRange: word_language_model's encoder and decoder U(±initRange), decoder bias 0
    const range = config.initRange ?? null;
    const uniform = config.init === 'uniform';
    const k = range ?? (uniform ? config.initScale : 1 / Math.sqrt(config.hiddenSize));
    const weight = Float64Array.from({ length: config.outputSize * config.hiddenSize }, () => rng.range(-k, k));
    const bias = Float64Array.from({ length: config.outputSize }, () => (range === null ? rng.range(-k, k) : 0));
    const embedding =
      config.vocabSize == null
        ? null
        : Float64Array.from({ length: config.vocabSize * config.inputSize }, () =>
            range !== null || uniform ? rng.range(-k, k) : rng.normal(),
          );
    return new SequenceModel(config, layers, { weight, bias }, embedding);
  }

  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  initState(batchSize: number): State[] {
    return this.layers.map((cell) => cell.initState(batchSize));
  }

  /**
   * Run the stack over xs ([T, batch, inputSize], time-major) from `state0`.
   * Returns the top layer's h_1..h_T and the final state of every layer.
   */
  run(xs: tf.Tensor3D, state0: State[]): { tops: tf.Tensor2D[]; final: State[] } {
    const top = this.layers.length - 1;
    const states = state0.map((s) => [...s]);
    const inputs = tf.unstack(xs) as tf.Tensor2D[];
    const tops: tf.Tensor2D[] = [];
    for (const input of inputs) {
      let x = input;
      for (let l = 0; l <= top; l++) {
        states[l] = this.layers[l].step(x, states[l]);
        x = states[l][0];
      }
      tops.push(states[top][0]);
    }
    return { tops, final: states };
  }

  /** Token ids [T, B] (int32) → embeddings [T, B, inputSize]. */
  embed(tokens: tf.Tensor2D): tf.Tensor3D {
    if (!this.embedding) throw new Error('embed() needs a model with vocabSize');
    const [T, B] = tokens.shape;
    return tf.tidy(
      () =>
        tf.reshape(tf.gather(this.embedding as tf.Variable, tf.reshape(tokens, [T * B])), [
          T,
          B,
          this.config.inputSize,
        ]) as tf.Tensor3D,
    );
  }

  /** Read-out: [N, H] → [N, outputSize]. */
  /** The read-out weights [H, outputSize]: the variable, or Eᵀ when tied (a new tensor: call inside a tidy). */
  headWeight(): tf.Tensor2D {
    return (this.headW ?? tf.transpose(this.embedding as tf.Variable)) as tf.Tensor2D;
  }

  head(h: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(h, this.headWeight()), this.headB) as tf.Tensor2D;
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    this.layers.forEach((cell, l) => {
      for (const [k, v] of Object.entries(cell.variables())) out[`${k}_l${l}`] = v;
    });
    if (this.headW) out['head.weight_T'] = this.headW;
    out['head.bias'] = this.headB;
    if (this.embedding) out['embedding.weight'] = this.embedding;
    return out;
  }

  numParams(): number {
    return Object.values(this.variables()).reduce((n, v) => n + v.size, 0);
  }

  async stateDict(): Promise<StateDict> {
    const out: StateDict = {};
    for (let l = 0; l < this.layers.length; l++) {
      for (const [k, v] of Object.entries(await this.layers[l].stateDict())) out[`${k}_l${l}`] = v;
    }
    const [H, O] = [this.hiddenSize, this.config.outputSize];
    const wTensor = tf.tidy(() => tf.clone(this.headWeight()));
    const wT = await wTensor.data();
    wTensor.dispose();
    out['head.weight'] = Array.from({ length: O }, (_, o) => Array.from({ length: H }, (_, h) => wT[h * O + o]));
    out['head.bias'] = Array.from(await this.headB.data());
    if (this.embedding) {
      const e = await this.embedding.data();
      const E = this.config.inputSize;
      out['embedding.weight'] = Array.from({ length: this.config.vocabSize as number }, (_, v) =>
        Array.from(e.subarray(v * E, (v + 1) * E)),
      );
    }
    return out;
  }

  dispose(): void {
    for (const cell of this.layers) cell.dispose();
    this.headW?.dispose();
    this.headB.dispose();
    this.embedding?.dispose();
  }
}

/** Parameter count of a model, without building it (e.g. to match sizes across cells). */
export function countParams(config: Readonly<ModelConfig>): number {
  const { cell, inputSize, hiddenSize: H, numLayers, outputSize, vocabSize, tieWeights } = config;
  const G = gateCount(cell) * H;
  let n = vocabSize === null ? 0 : vocabSize * inputSize;
  for (let l = 0; l < numLayers; l++) n += G * ((l === 0 ? inputSize : H) + H + 2);
  return n + outputSize * ((tieWeights ? 0 : H) + 1);
}

/** The data side of a model's shape, as a task states it. */
export interface DataShape {
  /** Features per step of dense inputs (unused for token inputs). */
  inputSize: number;
  outputSize: number;
  /** Token inputs: the vocabulary size. */
  vocabSize?: number;
}

/** What a user chooses of a model: ModelConfig without the data's widths, and the embedding size of token inputs. */
export type ModelOptions = Omit<ModelConfig, 'inputSize' | 'outputSize' | 'vocabSize'> & {
  /** Token inputs: the embedding width (nn.Embedding's embedding_dim). Default: hiddenSize. */
  embedSize: number | null;
};

/**
 * The one way a ModelConfig is made: the defaults, then `options`, then the widths of the data
 * (token inputs get an embedding of embedSize). Frozen: it is what config.json records.
 */
export function modelConfigFor(data: DataShape, options: Partial<ModelOptions> = {}): Readonly<ModelConfig> {
  const { embedSize, ...rest } = stripUndefined(options);
  const base = { ...MODEL_DEFAULTS, ...rest };
  const isTokens = data.vocabSize !== undefined;
  if (embedSize !== undefined && embedSize !== null && !isTokens)
    throw usageError((field) => `${field('embedSize')} applies to token inputs only (a task with a vocabulary)`);
  const inputSize = isTokens ? (embedSize ?? base.hiddenSize) : data.inputSize;
  if (base.tieWeights && isTokens && inputSize !== base.hiddenSize)
    throw usageError(
      (field) =>
        `${field('tieWeights')} needs ${field('embedSize')} = ${field('hiddenSize')}, ` +
        `got ${inputSize} and ${base.hiddenSize}`,
    );
  return Object.freeze({ ...base, inputSize, outputSize: data.outputSize, vocabSize: data.vocabSize ?? null });
}
