import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { oneOf, usageError } from '../util/errors.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { registerFusedKernels } from './fused-kernels.js';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Choose the tfjs backend once per process. `auto` tries native TensorFlow
 * (@tensorflow/tfjs-node, an optional dependency), then wasm (SIMD, ships its
 * binary in the npm package), then the pure-JS cpu backend. Returns the one in use.
 */
export async function setBackend(requested: string = process.env.SEQLAB_BACKEND ?? 'auto'): Promise<string> {
  const name = oneOf('backend', requested, BACKENDS);
  const order: string[] = name === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [name];
  for (const candidate of order) {
    if (candidate === 'tensorflow' && !loadNative()) {
      if (name === 'tensorflow') {
        const missing = 'backend "tensorflow" needs @tensorflow/tfjs-node, which is not installed here';
        throw usageError((field) => `${missing}; use ${field('backend')} wasm`);
      }
      continue;
    }
    try {
      if (candidate === 'wasm') {
        registerWasmKernels();
        registerFusedKernels();
      }
      if (await tf.setBackend(candidate)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // fall through to the next candidate
    }
    if (name !== 'auto') throw usageError(`backend "${candidate}" failed to initialize`);
  }
  throw usageError('no tfjs backend could be initialized');
}

let nativeLoaded: boolean | null = null;

/** Load @tensorflow/tfjs-node if it is installed; it registers the "tensorflow" backend. */
function loadNative(): boolean {
  if (nativeLoaded !== null) return nativeLoaded;
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    nativeLoaded = true;
  } catch {
    nativeLoaded = false;
  }
  return nativeLoaded;
}
