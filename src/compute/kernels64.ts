import { kernels64WasmBase64 } from './kernels64-wasm.js';

/**
 * The float64 SIMD kernels of kernels64.wat (the bidiagonalization in svd.ts, modified
 * Gram–Schmidt in lyapunov.ts), instantiated once per thread on their own memory. Null
 * where they cannot run (no WebAssembly SIMD) or when turned off: the callers then run
 * their JS loops, the same arithmetic. Pointers are byte offsets into `memory`.
 */
export interface Kernels64 {
  memory: WebAssembly.Memory;
  accumulate(a: number, v: number, w: number, j: number, m: number, n: number): void;
  reflect(a: number, v: number, w: number, u: number, beta: number, tau: number, j: number, m: number, n: number): void;
  project(q: number, i: number, k: number, S: number): void;
}

let enabled = true;
let compiled: Kernels64 | null | undefined;

/** Use the wasm kernels (the default, where they run) or the plain JS loops, e.g. to compare them. */
export function setKernels64(on: boolean): void {
  enabled = on;
}

/** The kernels, or null (see above). */
export function kernels64(): Kernels64 | null {
  if (!enabled) return null;
  if (compiled === undefined) {
    try {
      const bytes = Uint8Array.from(atob(kernels64WasmBase64), (ch) => ch.charCodeAt(0));
      // ~1.5 KB: small enough for a synchronous compile on a browser's main thread
      compiled = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Kernels64;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The kernels' memory, grown to at least `bytes`; take views after this call (growing detaches older ones). */
export function reserve(k: Kernels64, bytes: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (have < bytes) k.memory.grow(Math.ceil((bytes - have) / 65536));
  return k.memory.buffer;
}
