import * as tf from '@tensorflow/tfjs';
import type { State } from '../models/cell.js';
import type { SequenceModel } from '../models/model.js';
import type { GradflowRecord, SpectrumRecord } from '../runlog/schema.js';
import type { Batch, SequenceTask } from '../tasks/task.js';
import { chunkLossFast, modelLossAndGrads } from './bptt.js';
import { type JacobianMode, type JacobianResult, jacobianNorms, layerInputs } from './gradflow.js';
import { chunkInputs, chunkLoss, chunkTensors, disposeChunk } from './loss.js';
import { gradientSpectra, type SpectraOptions, type SpectraResult } from './spectra.js';

/**
 * What the trainer measures without training: the loss and metrics on a task's evaluation
 * batches, and the gradient-flow probes on its probe batch. Both read the model, change nothing.
 */

export interface Evaluation {
  /** Mean over the counted targets. */
  loss: number;
  metrics: Record<string, number | null>;
}

/**
 * Loss (mean over counted targets) and task metrics on `batches` (default: the task's eval
 * set). A stateful task's batches are one stream: the state carries across them.
 */
export async function evaluate(
  model: SequenceModel,
  task: SequenceTask,
  batches: Batch[] = task.evalBatches(),
): Promise<Evaluation> {
  const outputs: Float32Array[] = [];
  let lossSum = 0;
  let count = 0;
  let carried: State[] | null = null;
  try {
    for (const batch of batches) {
      const chunk = chunkTensors(batch, task, 0, batch.seqLen);
      const s0: State[] = carried ?? model.initState(batch.batchSize);
      // a task that needs only the loss (an LM) takes the trainer's forward path
      const { loss, final, out } = tf.tidy(() => {
        if (task.usesOutputs === false) return { ...chunkLossFast(model, chunk, s0, task.readout, task.loss), out: [] };
        const r = chunkLoss(model, chunk, s0, task.readout, task.loss);
        return { loss: r.loss, final: r.final, out: [r.outputs] };
      });
      tf.dispose(s0.flat());
      if (task.stateful) carried = final;
      else tf.dispose(final.flat());
      lossSum += (await loss.data())[0] * chunk.count;
      count += chunk.count;
      for (const o of out) outputs.push((await o.data()) as Float32Array);
      tf.dispose([loss, ...out]);
      disposeChunk(chunk);
    }
  } finally {
    if (carried) tf.dispose(carried.flat());
  }
  const loss = lossSum / Math.max(count, 1);
  return { loss, metrics: task.evaluate(outputs, loss) };
}

/** A spectrum log record before the trainer stamps it with its step. */
export type SpectrumProbe = Omit<SpectrumRecord, 'type' | 'step'>;

/** A gradflow log record before the trainer stamps it with its step; `pairs` and `spectrum` when asked for. */
export type GradflowProbe = Omit<GradflowRecord, 'type' | 'step'> & { pairs?: number[][]; spectrum?: SpectrumProbe };

/** ln σ to 4 decimals (a relative 1e-4 in σ: the log holds 32 gaps × H of them), ln 0 and NaN as null. */
const logDigits = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);

/** The log record of a spectra probe of layer `layer` (gradientSpectra with the Lyapunov spectrum). */
export function spectrumProbe(res: SpectraResult, layer: number): SpectrumProbe {
  const lyap = res.lyapunov;
  if (!lyap) throw new Error('spectrumProbe: the probe ran without the Lyapunov spectrum');
  return {
    layer,
    mode: res.mode,
    T: res.T,
    batch: res.batch,
    size: res.shape[0],
    horizonThreshold: res.horizonThreshold,
    gap: res.singular.map((r) => r.gap),
    logSigma: res.singular.map((r) => r.logSigma.map(logDigits)),
    count: res.singular.map((r) => r.count),
    participationRatio: res.singular.map((r) => r.participationRatio),
    lyapunov: lyap.exponents,
    lyapunovSize: lyap.size,
    burnIn: lyap.burnIn,
    kaplanYorke: lyap.kaplanYorke,
    kaplanYorkeIsLowerBound: lyap.kaplanYorkeIsLowerBound,
    decayPerStep: res.decayPerStep,
  };
}

/**
 * Run the gradient-flow probes on `batch`: one record per probed layer (the top one, or every
 * layer). With `allPairs`, each record also holds `pairs` (‖∂h_t/∂h_k‖ for every k < t, Frobenius:
 * spectral norms of all O(T²) pairs would cost far more than training), for the heat map. The top
 * layer's record carries ‖∂L/∂h_k‖, k = 0..T: the error signal BPTT delivers to each step. With
 * `spectrum` (options of gradientSpectra, not with allPairs), each record also holds `spectrum`:
 * the singular values at the chosen gaps and the Lyapunov spectrum, from the same forward pass and sweep.
 */
export async function probeGradientFlow(
  model: SequenceModel,
  task: SequenceTask,
  batch: Batch,
  mode: JacobianMode,
  allLayers: boolean,
  allPairs = false,
  spectrum: Partial<SpectraOptions> | null = null,
): Promise<GradflowProbe[]> {
  if (allPairs && spectrum) throw new Error('probeGradientFlow: allPairs and spectrum are separate probes');
  const chunk = chunkTensors(batch, task, 0, batch.seqLen);
  const records: GradflowProbe[] = [];
  try {
    const top = model.layers.length - 1;
    const layers = allLayers ? model.layers.map((_, l) => l) : [top];
    for (const l of layers) {
      const xs = chunkInputs(model, chunk);
      const inputs = layerInputs(model.layers, xs, l);
      if (xs !== chunk.inputs) xs.dispose();
      let spec: SpectraResult | null = null;
      let jac: JacobianResult;
      try {
        const options = allPairs ? { mode, allPairs, spectral: false } : { mode };
        if (spectrum) spec = await gradientSpectra(model.layers[l], inputs, undefined, { ...spectrum, mode });
        jac = spec?.norms ?? (await jacobianNorms(model.layers[l], inputs, undefined, options));
      } finally {
        inputs.dispose();
      }
      const rec: GradflowProbe = {
        layer: l,
        mode: jac.mode,
        T: jac.T,
        batch: jac.batch,
        gap: jac.rows.map((r) => r.gap),
        spectral: jac.rows.map((r) => r.spectral),
        frobenius: jac.rows.map((r) => r.frobenius),
        summary: jac.summary,
        ...(jac.pairs ? { pairs: jac.pairs } : {}),
        ...(spec ? { spectrum: spectrumProbe(spec, l) } : {}),
      };
      if (l === top) rec.lossGrad = await lossGradNorms(model, task, chunk, batch.batchSize);
      records.push(rec);
    }
  } finally {
    disposeChunk(chunk);
  }
  return records;
}

/** ‖∂L/∂h_k‖ of the top layer, k = 0..T, from the trainer's own backward pass. */
async function lossGradNorms(
  model: SequenceModel,
  task: SequenceTask,
  chunk: ReturnType<typeof chunkTensors>,
  batchSize: number,
): Promise<number[]> {
  const state0 = model.initState(batchSize);
  const g = modelLossAndGrads(model, chunk, state0, task.readout, task.loss, true);
  try {
    if (!g.dHNorms) throw new Error('modelLossAndGrads returned no ‖∂L/∂h_k‖');
    return Array.from(await g.dHNorms.data());
  } finally {
    tf.dispose([...state0.flat(), g.loss, ...Object.values(g.grads), ...g.final.flat()]);
    if (g.dHNorms) g.dHNorms.dispose();
  }
}
