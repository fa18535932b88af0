import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerFusedKernels } from './fused-kernels.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { prepareSimdKernels } from './simd/simd.js';

export const LAB_BACKENDS = ['auto', 'webgl', 'wasm', 'cpu'] as const;
export type LabBackend = (typeof LAB_BACKENDS)[number];

/**
 * The browser's counterpart of setBackend(): `auto` tries WebGL, then wasm (the
 * .wasm binaries served from `wasmDir`, with the same extra kernels as in Node),
 * then the pure-JS cpu backend. Returns the backend in use and why others failed.
 */
export async function setLabBackend(
  requested: LabBackend,
  wasmDir: string,
): Promise<{ backend: string; failed: string[] }> {
  const order = requested === 'auto' ? ['webgl', 'wasm', 'cpu'] : [requested];
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
