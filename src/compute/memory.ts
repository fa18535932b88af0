import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { freemem } from 'node:os';

/**
 * How much memory a command may use, per place it lives: the backend's tensor memory and the
 * process's own (typed arrays, JSON text). training/budget.ts compares its estimates with these.
 *
 * The wasm backend keeps every tensor in one WebAssembly.Memory. tfjs-backend-wasm 4.x is
 * built for wasm32 with a maximum of 4 GiB (65 536 pages); measured on this project's
 * machine, allocating 256 MiB tensors one after another, 3.75 GiB were held and the next one
 * failed with "memory access out of bounds" at a heap of 3.84 GiB. That heap, not the
 * machine's RAM, is the real limit of the default backend. Each gradient thread (parallel.ts)
 * has a heap of its own.
 */

/** The wasm32 address space of tfjs-backend-wasm's heap. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** Held back from the heap for the runtime's own data, the stack and allocator fragmentation (measured: above). */
export const WASM_HEAP_RESERVE_BYTES = 256 * 2 ** 20;

export interface MemoryLimits {
  /** The backend that will hold the tensors ("wasm", "tensorflow", "cpu"). */
  backend: string;
  /** Bytes the backend's tensors may still take; null = only the machine's memory bounds them. */
  deviceBytes: number | null;
  /** Bytes of the machine's memory this process may still take (available memory, within a cgroup's limit). */
  hostBytes: number;
}

/** The backend `requested` will resolve to, without starting it: auto = tensorflow when tfjs-node is installed. */
export function resolvedBackend(requested: string): string {
  if (requested !== 'auto' && requested !== '') return requested;
  // getBackend() reads the engine's field: it never starts a backend
  if (requested === '' && tf.getBackend()) return tf.getBackend();
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return 'tensorflow';
  } catch {
    return 'wasm';
  }
}

/**
 * The limits for tensors on `backend` (a name as --backend takes it; "" = the running one), minus
 * what live tensors already hold.
 */
export function memoryLimits(backend = ''): MemoryLimits {
  const name = resolvedBackend(backend);
  const held = tf.getBackend() === name ? tf.memory().numBytes : 0;
  const available = typeof process.availableMemory === 'function' ? process.availableMemory() : freemem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const hostBytes = constrained > 0 ? Math.min(available, constrained) : available;
  return {
    backend: name,
    deviceBytes: name === 'wasm' ? Math.max(0, WASM_HEAP_BYTES - WASM_HEAP_RESERVE_BYTES - held) : null,
    hostBytes,
  };
}
