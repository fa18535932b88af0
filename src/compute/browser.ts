import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerFusedKernels } from './fused-kernels.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { prepareSimdKernels } from './simd/simd.js';

export const LAB_BACKENDS = ['auto', 'webgl', 'wasm', 'cpu'] as const;
export type LabBackend = (typeof LAB_BACKENDS)[number];

/**
 * The browser's counterpart of setBackend(): `auto` tries wasm (the .wasm binaries
 * served from `wasmDir`, with the same fused SIMD kernels as in Node), then WebGL, then
 * the pure-JS cpu backend. wasm first: the lab's models are small (hidden sizes of tens),
 * where WebGL's cost per op (a shader dispatch, a read-back for every number the trainer
 * logs) outweighs its arithmetic, and the fused kernels exist for wasm only. Returns the
 * backend in use and why others failed.
 */
export async function setLabBackend(
  requested: LabBackend,
  wasmDir: string,
): Promise<{ backend: string; failed: string[] }> {
  const order = requested === 'auto' ? ['wasm', 'webgl', 'cpu'] : [requested];
  const failed: string[] = [];
  for (const candidate of order) {
    try {
      if (candidate === 'wasm') {
        setWasmPaths(wasmDir);
        registerWasmKernels();
        registerFusedKernels();
        await prepareSimdKernels();
      }
      if (await tf.setBackend(candidate)) {
        await tf.ready();
        return { backend: tf.getBackend(), failed };
      }
      failed.push(`${candidate}: not available`);
    } catch (e) {
      failed.push(`${candidate}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no tfjs backend could be initialized (${failed.join('; ')})`);
}
