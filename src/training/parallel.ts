import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { type KernelChoice, kernelChoice } from '../compute/kernel-choice.js';
import type { State } from '../models/cell.js';
import { gateCount } from '../models/registry.js';
import type { ModelConfig, SequenceModel } from '../models/model.js';
import { modelLossAndGrads, type ModelGrads } from './bptt.js';
import { disposeChunk, type ChunkTensors } from './loss.js';
import type { LossName, Readout } from '../tasks/task.js';

/**
 * Data-parallel gradients on both cores. tfjs's wasm backend runs on one thread in
 * Node, so a second thread holds a replica of the model and computes the loss and
 * gradients of the other part of every batch: the batch's examples are split in two,
 * each part is normalized by the whole chunk's target count, and the two results are
 * summed — the same loss and gradients as one pass over the whole batch, up to float32
 * summation order (deterministic for a given number of threads).
 *
 * The calling thread blocks (Atomics.wait) while the worker finishes, so the API stays
 * synchronous: `lossAndGrads` is a drop-in replacement for modelLossAndGrads.
 * Weights go to the worker through shared memory before every call (the optimizer
 * runs on the calling thread); gradients come back the same way.
 */

/** Host copies of one part of a chunk (examples [b0, b1)), as the worker receives them. */
interface ChunkPart {
  T: number;
  B: number;
  inputs: Float32Array | null; // [T, B, I]
  tokens: Int32Array | null; // [T, B]
  targets: Float32Array | Int32Array;
  targetShape: number[];
  targetDtype: 'int32' | 'float32';
  every: boolean;
  mask: Float32Array; // [T, B]
  count: number;
}

export interface StepRequest {
  type: 'step';
  chunk: ChunkPart;
  state0: { values: Float32Array; shape: [number, number] }[][];
  masks: { values: Float32Array; shape: [number, number, number] }[];
  readout: Readout;
  loss: LossName;
  withDHNorms: boolean;
}

export interface StepReply {
  type: 'result';
  loss: number;
  final: { values: Float32Array; shape: [number, number] }[][];
  dHNormsSq: Float32Array | null;
  error?: string;
}

export interface WorkerInit {
  config: ModelConfig;
  backend: string;
  kernels: KernelChoice;
  /** Shared: [0] = reply ready flag; then the parameters, then the gradients (both in model.variables() order). */
  shared: SharedArrayBuffer;
  numParams: number;
  port: MessagePort;
}

/**
 * Multiply-adds per example and time step of the forward pass (recurrent layers and
 * read-out): the work a second thread can take over.
 */
export function macsPerToken(
  config: Pick<ModelConfig, 'cell' | 'inputSize' | 'hiddenSize' | 'numLayers' | 'outputSize'>,
): number {
  const G = gateCount(config.cell) * config.hiddenSize;
  let n = config.hiddenSize * config.outputSize;
  for (let l = 0; l < config.numLayers; l++)
    n += G * ((l === 0 ? config.inputSize : config.hiddenSize) + config.hiddenSize);
  return n;
}

/**
 * Below this many multiply-adds per token, per-op overhead dominates and a second thread only adds its hand-off
 * (measured: agreement, H 32).
 */
const MIN_MACS_PER_TOKEN = 40_000;

/**
 * Threads to use: "auto" = 2 on the wasm backend (single-threaded in Node) when the
 * machine has two cores or more, the batch can be split, and the model is big enough
 * for the split to pay; otherwise 1. tfjs-node is multi-threaded itself.
 */
export function resolveThreads(
  threads: number | 'auto',
  config: Parameters<typeof macsPerToken>[0],
  batchSize: number,
  backend: string = tf.getBackend(),
): number {
  if (threads !== 'auto') return threads;
  return backend === 'wasm' &&
    availableParallelism() >= 2 &&
    batchSize >= 2 &&
    macsPerToken(config) >= MIN_MACS_PER_TOKEN
    ? 2
    : 1;
}

/**
 * The compiled worker script `name`.js of src/training: next to this file in dist/, or,
 * when running from the sources (tests), the compiled copy in dist/.
 */
export function workerFile(name: string): string {
  const file = workerPath(fileURLToPath(import.meta.url), name);
  if (!existsSync(file)) throw new Error(`worker script not built: ${file} (run npm run build)`);
  return file;
}

/**
 * Where worker `name` lies, given the path of this module (`here`). A path that is not
 * parallel.js or src/training/parallel.ts (seqlab bundled into one file) is refused: the
 * name would not change, and a worker started on `here` itself would run the bundle again,
 * start its own worker, and so on.
 */
export function workerPath(here: string, name: string): string {
  const source = /src[/\\]training[/\\]parallel\.ts$/;
  const compiled = /parallel\.js$/;
  if (source.test(here)) return here.replace(source, `dist/src/training/${name}.js`);
  if (compiled.test(here)) return here.replace(compiled, `${name}.js`);
  throw new Error(`cannot find worker script ${name}.js beside ${here}: not seqlab's parallel.js (bundled?)`);
}

/** Rows [b0, b1) of axis `axis` of a row-major array of `shape`. */
function sliceAxis<A extends Float32Array | Int32Array>(
  data: A,
  shape: number[],
  axis: number,
  b0: number,
  b1: number,
): A {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const out = new (data.constructor as { new (n: number): A })(outer * (b1 - b0) * inner);
  for (let o = 0; o < outer; o++)
    out.set(data.subarray((o * n + b0) * inner, (o * n + b1) * inner), o * (b1 - b0) * inner);
  return out;
}

export class GradWorkers {
  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly flag: Int32Array,
    private readonly params: Float32Array,
    private readonly grads: Float32Array,
    readonly threads: number,
  ) {}

  /** Start the second thread with a replica of `model` (its weights are sent on every call). */
  static async create(model: SequenceModel): Promise<GradWorkers> {
    const numParams = model.numParams();
    const shared = new SharedArrayBuffer(16 + 8 * numParams);
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = {
      config: { ...model.config },
      backend: tf.getBackend(),
      kernels: kernelChoice(),
      shared,
      numParams,
      port: port2,
    };
    const worker = new Worker(workerFile('grad-worker'), { workerData: init, transferList: [port2] });
    worker.unref();
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => reject(e instanceof Error ? e : new Error(String(e)));
      worker.once('error', fail);
      port1.once('message', (m: { type: string; error?: string }) => {
        worker.off('error', fail);
        if (m.type === 'ready') resolve();
        else fail(new Error(`gradient worker failed to start: ${m.error}`));
      });
    });
    return new GradWorkers(
      worker,
      port1,
      new Int32Array(shared, 0, 4),
      new Float32Array(shared, 16, numParams),
      new Float32Array(shared, 16 + 4 * numParams, numParams),
      2,
    );
  }

  /**
   * modelLossAndGrads over the whole chunk, computed as two parts on two threads.
   * Chunks with fewer than two examples run on the calling thread alone.
   */
  lossAndGrads(
    model: SequenceModel,
    chunk: ChunkTensors,
    state0: State[],
    readout: Readout,
    loss: LossName,
    withDHNorms = false,
    dropoutMasks: (tf.Tensor3D | null)[] = [],
  ): ModelGrads {
    const [T, B] = chunk.mask.shape;
    if (B < 2) return modelLossAndGrads(model, chunk, state0, readout, loss, withDHNorms, dropoutMasks);
    const split = Math.ceil(B / 2); // this thread: examples [0, split); the worker: [split, B)
    const vars = Object.values(model.variables());
    let off = 0;
    for (const v of vars) {
      this.params.set(v.dataSync() as Float32Array, off);
      off += v.size;
    }
    const host = hostChunk(chunk, readout);
    const part = (b0: number, b1: number): ChunkPart => ({
      T,
      B: b1 - b0,
      inputs: host.inputs ? sliceAxis(host.inputs, host.inputShape, 1, b0, b1) : null,
      tokens: host.tokens ? sliceAxis(host.tokens, [T, B], 1, b0, b1) : null,
      targets: sliceAxis(host.targets, host.targetShape, host.targetBatchAxis, b0, b1),
      targetShape: host.targetShape.map((d, i) => (i === host.targetBatchAxis ? b1 - b0 : d)),
      targetDtype: host.targetDtype,
      every: readout === 'every',
      mask: sliceAxis(host.mask, [T, B], 1, b0, b1),
      count: chunk.count,
    });
    const states = state0.map((layer) =>
      layer.map((s) => ({ values: s.dataSync() as Float32Array, shape: s.shape as [number, number] })),
    );
    const masks = dropoutMasks.map((m) =>
      m ? { values: m.dataSync() as Float32Array, shape: m.shape as [number, number, number] } : null,
    );
    const request: StepRequest = {
      type: 'step',
      chunk: part(split, B),
      state0: states.map((layer) =>
        layer.map((s) => ({ values: sliceAxis(s.values, s.shape, 0, split, B), shape: [B - split, s.shape[1]] })),
      ),
      masks: masks.map((m) =>
        m
          ? { values: sliceAxis(m.values, m.shape, 1, split, B), shape: [m.shape[0], B - split, m.shape[2]] }
          : { values: new Float32Array(0), shape: [0, 0, 0] },
      ),
      readout,
      loss,
      withDHNorms,
    };
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(request);
    // this thread's part, meanwhile
    const mine = part(0, split);
    const myChunk = chunkFromPart(mine, host.inputShape[2]);
    const myState = states.map((layer) =>
      layer.map((s) => tf.tensor2d(sliceAxis(s.values, s.shape, 0, 0, split), [split, s.shape[1]])),
    );
    const myMasks = masks.map((m) =>
      m ? tf.tensor3d(sliceAxis(m.values, m.shape, 1, 0, split), [m.shape[0], split, m.shape[2]]) : null,
    );
    let local: ModelGrads;
    try {
      local = modelLossAndGrads(model, myChunk, myState, readout, loss, withDHNorms, myMasks);
    } finally {
      disposeChunk(myChunk);
      tf.dispose([...myState.flat(), ...(myMasks.filter((m) => m) as tf.Tensor[])]);
    }
    const reply = this.wait();
    if (reply.error) {
      tf.dispose([
        local.loss,
        ...Object.values(local.grads),
        ...local.final.flat(),
        ...(local.dHNorms ? [local.dHNorms] : []),
      ]);
      throw new Error(`gradient worker: ${reply.error}`);
    }
    // combine: sums of the two parts (each normalized by the whole chunk's count), states side by side
    const names = Object.keys(model.variables());
    const out = tf.tidy(() => {
      const grads: Record<string, tf.Tensor> = {};
      let o = 0;
      for (const [i, name] of names.entries()) {
        const v = vars[i];
        grads[name] = tf.add(local.grads[name], tf.tensor(this.grads.subarray(o, o + v.size), v.shape));
        o += v.size;
      }
      const lossT = tf.add(local.loss, reply.loss) as tf.Scalar;
      const final = local.final.map((layer, l) =>
        layer.map(
          (s, j) => tf.concat([s, tf.tensor2d(reply.final[l][j].values, reply.final[l][j].shape)], 0) as tf.Tensor2D,
        ),
      );
      const dHNorms =
        local.dHNorms && reply.dHNormsSq
          ? (tf.sqrt(tf.add(tf.square(local.dHNorms), tf.tensor1d(reply.dHNormsSq))) as tf.Tensor1D)
          : null;
      return { loss: lossT, grads, final, ...(dHNorms ? { dHNorms } : {}) } as tf.TensorContainer;
    }) as unknown as Omit<ModelGrads, 'dHNorms'> & { dHNorms?: tf.Tensor1D };
    tf.dispose([
      local.loss,
      ...Object.values(local.grads),
      ...local.final.flat(),
      ...(local.dHNorms ? [local.dHNorms] : []),
    ]);
    return { ...out, dHNorms: out.dHNorms ?? null };
  }

  private wait(): StepReply {
    for (;;) {
      Atomics.wait(this.flag, 0, 0, 60_000);
      const m = receiveMessageOnPort(this.port);
      if (m) return m.message as StepReply;
      if (Atomics.load(this.flag, 0) === 0) continue; // woke by timeout: keep waiting
    }
  }

  async dispose(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }
}

interface HostChunk {
  inputs: Float32Array | null;
  inputShape: number[];
  tokens: Int32Array | null;
  targets: Float32Array | Int32Array;
  /** Targets with the examples on their own axis: [T, B, ·] (readout every) or [B, ·] (last). */
  targetShape: number[];
  targetBatchAxis: number;
  targetDtype: 'int32' | 'float32';
  mask: Float32Array;
}

/** A chunk's tensors as host arrays, with the axis of each that indexes examples. */
function hostChunk(chunk: ChunkTensors, readout: Readout): HostChunk {
  const [T, B] = chunk.mask.shape;
  const rest = chunk.targets.shape.slice(1); // [] (class ids) or [O]
  const every = readout === 'every';
  return {
    inputs: chunk.inputs ? (chunk.inputs.dataSync() as Float32Array) : null,
    inputShape: chunk.inputs ? chunk.inputs.shape : [T, B, 0],
    tokens: chunk.tokenIds ? Int32Array.from(chunk.tokenIds) : null,
    targets: chunk.targets.dataSync() as Float32Array | Int32Array,
    targetShape: every ? [T, B, ...rest] : [B, ...rest],
    targetBatchAxis: every ? 1 : 0,
    targetDtype: chunk.targets.dtype === 'int32' ? 'int32' : 'float32',
    mask: chunk.mask.dataSync() as Float32Array,
  };
}

/** Tensors of one chunk part (the inverse of hostChunk, for its B examples). */
export function chunkFromPart(p: ChunkPart, inputSize: number): ChunkTensors {
  // back to the trainer's layout: [T·B, ·] for readout every, [B, ·] for last
  const shape = p.every ? [p.T * p.B, ...p.targetShape.slice(2)] : p.targetShape;
  return {
    inputs: p.inputs ? tf.tensor3d(p.inputs, [p.T, p.B, inputSize]) : null,
    tokens: p.tokens ? tf.tensor2d(p.tokens, [p.T, p.B], 'int32') : null,
    tokenIds: p.tokens,
    targets: tf.tensor(p.targets, shape, p.targetDtype),
    mask: tf.tensor2d(p.mask, [p.T, p.B]),
    count: p.count,
  };
}
