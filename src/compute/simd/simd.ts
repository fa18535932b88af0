import { kernelChoice } from '../kernel-choice.js';
import { kernelsWasmBase64 } from './kernels-wasm.js';

/**
 * The SIMD kernels of kernels.wat, linked to the tfjs wasm backend's own memory so
 * they read and write tensors in place (arguments are byte offsets on the heap).
 * Null when they cannot run here: not the wasm backend, a shared (threaded) heap,
 * no wasm SIMD, or the kernel choice 'composite' (../kernel-choice.ts); the callers
 * then take the composite tfjs ops. Row widths: see kernels.wat.
 */
export interface SimdKernels {
  /** dst[i] = f(src[i]) for n ≥ 4 floats; kind 0 exp, 1 sigmoid, 2 tanh. */
  map(src: number, dst: number, n: number, kind: number): void;
  softmax_xent(z: number, bias: number, w: number, out: number, stats: number, N: number, O: number): void;
  lstm_forward(
    xw: number,
    hw: number,
    c: number,
    hN: number,
    cN: number,
    P: number,
    dcH: number,
    f: number,
    B: number,
    H: number,
  ): void;
  gru_forward(
    xw: number,
    hw: number,
    h: number,
    bhh: number,
    hN: number,
    ph: number,
    px: number,
    z: number,
    B: number,
    H: number,
  ): void;
  rnn_forward(xw: number, hw: number, y: number, dphi: number, n: number, nl: number): void;
  lstm_backward(
    above: number,
    viaW: number,
    carry: number,
    P: number,
    dcH: number,
    f: number,
    G: number,
    da: number,
    dcPrev: number,
    B: number,
    H: number,
    first: number,
  ): void;
  gru_backward(
    above: number,
    viaW: number,
    carry: number,
    ph: number,
    px: number,
    z: number,
    G: number,
    dah: number,
    dax: number,
    direct: number,
    B: number,
    H: number,
    first: number,
  ): void;
  rnn_backward(above: number, viaW: number, dphi: number, G: number, da: number, n: number, first: number): void;
  /** dst [cols, rows] = src [rows, cols]ᵀ (float32; rows, cols multiples of 4). */
  transpose(src: number, dst: number, rows: number, cols: number): void;
  pullback(
    kind: number,
    gh: number,
    gx: number,
    jac: number,
    scaleOut: number,
    dah: number,
    direct: number,
    l0: number,
    l1: number,
    l2: number,
    B: number,
    R: number,
    H: number,
    normalize: number,
    state: number,
    pull: number,
  ): void;
}

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

function bytes(): Uint8Array {
  const bin = atob(kernelsWasmBase64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Compile the module ahead, asynchronously: browsers refuse a synchronous compile of
 * more than 4 KB on the main thread (this module is a little over). Node needs no call.
 */
export async function prepareSimdKernels(): Promise<void> {
  if (compiled !== undefined) return;
  try {
    compiled = await WebAssembly.compile(bytes() as BufferSource);
  } catch {
    compiled = null;
  }
}

/** The kernels bound to this backend's heap, or null (see above). */
export function simdKernels(backend: unknown): SimdKernels | null {
  if (kernelChoice() === 'composite') return null;
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  const known = instances.get(memory);
  if (known !== undefined) return known;
  let kernels: SimdKernels | null = null;
  try {
    if (compiled === undefined) compiled = new WebAssembly.Module(bytes() as BufferSource);
    if (compiled) kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    compiled ??= null; // no SIMD here; a link error (shared heap) leaves the module for other heaps
    kernels = null;
  }
  instances.set(memory, kernels);
  return kernels;
}
