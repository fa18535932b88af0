import * as tf from '@tensorflow/tfjs';
import { workerData } from 'node:worker_threads';
import { setBackend } from '../compute/backend.js';
import { setKernels } from '../compute/kernel-choice.js';
import { SequenceModel } from '../models/model.js';
import { Rng } from '../util/rng.js';
import { modelLossAndGrads } from './bptt.js';
import { disposeChunk } from './loss.js';
import { chunkFromPart, type StepReply, type StepRequest, type WorkerInit } from './parallel.js';

/**
 * The second thread of GradWorkers: a replica of the model that computes the loss
 * and gradients of its part of each chunk. Weights arrive in shared memory before
 * every request; gradients go back the same way, the rest as a message.
 */
const init = workerData as WorkerInit;
const flag = new Int32Array(init.shared, 0, 4);
const params = new Float32Array(init.shared, 16, init.numParams);
const grads = new Float32Array(init.shared, 16 + 4 * init.numParams, init.numParams);

function reply(msg: StepReply): void {
  init.port.postMessage(msg);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

async function start(): Promise<void> {
  await setBackend(init.backend);
  setKernels(init.kernels);
  const model = SequenceModel.random(init.config, new Rng(0)); // weights are overwritten before each request
  const vars = Object.entries(model.variables());
  init.port.on('message', (req: StepRequest) => {
    try {
      let off = 0;
      for (const [, v] of vars) {
        tf.tidy(() => v.assign(tf.tensor(params.subarray(off, off + v.size), v.shape)));
        off += v.size;
      }
      const chunk = chunkFromPart(req.chunk, init.config.inputSize);
      const state0 = req.state0.map((layer) => layer.map((s) => tf.tensor2d(s.values, s.shape)));
      const masks = req.masks.map((m) => (m.values.length ? tf.tensor3d(m.values, m.shape) : null));
      const r = modelLossAndGrads(model, chunk, state0, req.readout, req.loss, req.withDHNorms, masks);
      off = 0;
      for (const [name, v] of vars) {
        grads.set(r.grads[name].dataSync() as Float32Array, off);
        off += v.size;
      }
      const msg: StepReply = {
        type: 'result',
        loss: r.loss.dataSync()[0],
        final: r.final.map((layer) =>
          layer.map((s) => ({ values: s.dataSync() as Float32Array, shape: s.shape as [number, number] })),
        ),
        dHNormsSq: r.dHNorms ? (r.dHNorms.dataSync() as Float32Array).map((x) => x * x) : null,
      };
      tf.dispose([
        r.loss,
        ...Object.values(r.grads),
        ...r.final.flat(),
        ...(r.dHNorms ? [r.dHNorms] : []),
        ...state0.flat(),
        ...(masks.filter((m) => m) as tf.Tensor[]),
      ]);
      disposeChunk(chunk);
      reply(msg);
    } catch (e) {
      reply({ type: 'result', loss: NaN, final: [], dHNormsSq: null, error: (e as Error)?.message ?? String(e) });
    }
  });
  init.port.postMessage({ type: 'ready' });
}

start().catch((e: unknown) => init.port.postMessage({ type: 'failed', error: (e as Error)?.message ?? String(e) }));
