import type { Rng } from '../util/rng.js';

/**
 * What the trainer needs from a sequence task. Batches are plain typed arrays,
 * time-major, so tasks need no tfjs.
 */
export interface Batch {
  seqLen: number; // T
  batchSize: number; // B
  /** [T, B, inputSize], time-major (dense-input tasks). */
  inputs: Float32Array;
  /** [T, B] token ids, time-major (token-input tasks: vocabSize is set; inputs is then empty). */
  tokens?: Int32Array;
  /**
   * readout "last": [B, outputSize] (mse) or [B] class ids (xent);
   * readout "every": [T, B, outputSize] (mse) or [T, B] class ids (xent).
   */
  targets: Float32Array | Int32Array;
  /**
   * [T, B] weights. Readout "last": a one-hot row per example marking its readout
   * step (default: the final step). Readout "every": 1 where a target counts, 0 for padding.
   */
  mask?: Float32Array;
}

export type Readout = 'last' | 'every';
export type LossName = 'mse' | 'xent';

export interface SequenceTask {
  readonly name: string;
  /** Features per step of dense inputs; 0 for token inputs (the model embeds them: ModelOptions.embedSize). */
  readonly inputSize: number;
  readonly outputSize: number;
  /** Token inputs: the vocabulary size (batches carry `tokens`). */
  readonly vocabSize?: number;
  readonly readout: Readout;
  readonly loss: LossName;
  /** The eval metric and level that count as "reached" (steps-to-target in comparisons). */
  readonly target?: { metric: string; goal: 'max' | 'min'; value: number };
  /** Tasks that pass over a fixed text (lm): optimizer steps in one pass. */
  readonly stepsPerEpoch?: number;
  /** Tasks whose batch size is fixed by their data layout (lm: the number of streams). */
  readonly fixedBatchSize?: number;
  /** Token tasks with a saved vocabulary: its fingerprint, to refuse a checkpoint built on another. */
  readonly vocabFingerprint?: string;
  /** Carry the hidden state from one batch to the next (language modeling). Default false. */
  readonly stateful?: boolean;
  /** Stateful tasks: true when the next training batch starts the stream afresh (the carried state is dropped). */
  startsStream?(): boolean;
  /** evaluate() needs the read-out values (default true; a language model needs only the loss). */
  readonly usesOutputs?: boolean;
  trainBatch(rng: Rng, batchSize: number): Batch;
  /** Where a stateful data stream stands (for resuming), and how to go back there. */
  position?(): unknown;
  seek?(position: unknown): void;
  /** Fields the task adds to checkpoint.json (a language model: its vocabulary and tokenizer). */
  checkpointExtra?(): Record<string, unknown>;
  /** A held-out test set, evaluated once at the end of training. */
  testBatches?(): Batch[];
  /** The fixed validation set. */
  evalBatches(): Batch[];
  /** A fixed small batch for the gradient-flow probes. */
  probeBatch(): Batch;
  /**
   * Task metrics from read-out values on the eval set: outputs[i] is
   * [N_i, outputSize] at the counted positions of evalBatches()[i], in order.
   */
  evaluate(outputs: Float32Array[], loss: number): Record<string, number | null>;
  /** The task's resolved settings, for config.json. */
  describe(): Record<string, unknown>;
}
