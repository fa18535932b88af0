import * as tf from '@tensorflow/tfjs';
import { simdKernels } from './simd/simd.js';

/**
 * Faster Slice, Unpack, SplitV, GatherV2 and (2-D) Transpose kernels for tfjs-backend-wasm 4.22.
 *
 * The stock kernels read their input with backend.readSync, which copies the
 * whole input tensor out of the wasm heap before taking the slice, so one slice
 * costs O(size of the input) and unstacking T steps costs O(T × input): measured
 * here, 1.5 ms to take one [32, 256] step out of a [50, 32, 256] tensor and 65 ms
 * to unstack it. These versions copy only the slice, through views on the heap.
 */

export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Copy x[begin : begin + size] into a new tensor, reading only what the slice covers. */
function sliceInto(backend: WasmBackendLike, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // views are taken after makeOutput: an allocation may grow (and detach) the heap
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const xs = strides(x.shape);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  // collapse: copy runs of the innermost dims that are taken whole
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === x.shape[inner]) inner--;
  const run = size.slice(inner).reduce((a, b) => a * b, 1);
  const idx = new Array<number>(inner).fill(0); // position in the outer dims of the slice
  for (let o = 0; o < total; o += run) {
    let off = begin[inner] * xs[inner];
    for (let d = 0; d < inner; d++) off += (begin[d] + idx[d]) * xs[d];
    ov.set(xv.subarray(off, off + run), o);
    for (let d = inner - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function parseBeginSize(shape: number[], begin: number | number[], size?: number | number[]): [number[], number[]] {
  const b =
    typeof begin === 'number'
      ? [begin, ...new Array(shape.length - 1).fill(0)]
      : [...begin, ...new Array(shape.length - begin.length).fill(0)];
  const s0 =
    size === undefined
      ? new Array(shape.length).fill(-1)
      : typeof size === 'number'
        ? [size, ...new Array(shape.length - 1).fill(-1)]
        : [...size, ...new Array(shape.length - size.length).fill(-1)];
  const s = s0.map((v, i) => (v === -1 ? shape[i] - b[i] : v));
  return [b, s];
}

/** x gathered along `axis` at `indices` (batchDims 0): whole inner rows copied through heap views. */
function gatherInto(backend: WasmBackendLike, x: TensorInfo, indices: TensorInfo, axis: number): TensorInfo {
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = x.shape[axis];
  const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  const xv = backend.typedArrayFromHeap(x);
  const iv = backend.typedArrayFromHeap(indices);
  const ov = backend.typedArrayFromHeap(out);
  const m = iv.length;
  for (let i = 0; i < m; i++) {
    if (iv[i] < 0 || iv[i] >= n || !Number.isInteger(iv[i]))
      throw new Error(`GatherV2: index ${iv[i]} is not in [0, ${n - 1}]`);
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < m; i++) {
      const src = (o * n + iv[i]) * inner;
      ov.set(xv.subarray(src, src + inner), (o * m + i) * inner);
    }
  }
  return out;
}

let registered = false;

/** Replace these kernels on the wasm backend (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  // keeping the stock kernel's setup (it binds the wasm functions the stock kernelFunc calls) for the
  // kernels below that hand some cases back to it; this runs before the backend initializes
  const replace = (kernelName: string, kernelFunc: tf.KernelFunc) => {
    const stock = tf.getKernel(kernelName, 'wasm');
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc,
      ...(stock?.setupFunc ? { setupFunc: stock.setupFunc } : {}),
    });
  };
  replace('Slice', (({
    inputs,
    attrs,
    backend,
  }: {
    inputs: { x: TensorInfo };
    attrs: { begin: number[]; size: number[] };
    backend: WasmBackendLike;
  }) => {
    if (inputs.x.dtype === 'string') throw new Error('seqlab wasm Slice: string tensors are not supported');
    const [b, s] = parseBeginSize(inputs.x.shape, attrs.begin, attrs.size);
    return sliceInto(backend, inputs.x, b, s);
  }) as unknown as tf.KernelFunc);
  // the stock GatherV2 costs 8 ms for a [1000, 128] embedding lookup of 700 ids (measured), this one ~0.1 ms
  const stockGather = tf.getKernel('GatherV2', 'wasm');
  replace('GatherV2', ((args: {
    inputs: { x: TensorInfo; indices: TensorInfo };
    attrs: { axis: number; batchDims: number };
    backend: WasmBackendLike;
  }) => {
    const { x, indices } = args.inputs;
    const axis = args.attrs.axis < 0 ? args.attrs.axis + x.shape.length : args.attrs.axis;
    if (args.attrs.batchDims !== 0 || x.dtype === 'string' || indices.dtype !== 'int32')
      return (stockGather as tf.KernelConfig).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
    return gatherInto(args.backend, x, indices, axis);
  }) as unknown as tf.KernelFunc);
  // 2-D transposes with both sides multiples of 4 go to the SIMD kernel (src/compute/simd/kernels.wat):
  // the read-out's backward transposes ∂L/∂outputs [N, V] every step, 2 ns a float with the stock kernel
  const stockTranspose = tf.getKernel('Transpose', 'wasm');
  replace('Transpose', ((args: { inputs: { x: TensorInfo }; attrs: { perm: number[] }; backend: WasmBackendLike }) => {
    const { x } = args.inputs;
    const [rows, cols] = x.shape;
    const simd =
      x.shape.length === 2 &&
      args.attrs.perm[0] === 1 &&
      (x.dtype === 'float32' || x.dtype === 'int32') &&
      rows % 4 === 0 &&
      cols % 4 === 0
        ? simdKernels(args.backend)
        : null;
    if (!simd) return (stockTranspose as tf.KernelConfig).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
    const out = args.backend.makeOutput([cols, rows], x.dtype);
    if (rows * cols > 0)
      simd.transpose(
        args.backend.typedArrayFromHeap(x).byteOffset,
        args.backend.typedArrayFromHeap(out).byteOffset,
        rows,
        cols,
      );
    return out;
  }) as unknown as tf.KernelFunc);
  replace('Unpack', (({
    inputs,
    attrs,
    backend,
  }: {
    inputs: { value: TensorInfo };
    attrs: { axis: number };
    backend: WasmBackendLike;
  }) => {
    const x = inputs.value;
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    const size = [...x.shape];
    size[axis] = 1;
    const outShape = x.shape.filter((_, i) => i !== axis);
    return Array.from({ length: x.shape[axis] }, (_, i) => {
      const begin = new Array(x.shape.length).fill(0);
      begin[axis] = i;
      const o = sliceInto(backend, x, begin, size);
      return { dataId: o.dataId, dtype: o.dtype, shape: outShape };
    });
  }) as unknown as tf.KernelFunc);
  replace('SplitV', (({
    inputs,
    attrs,
    backend,
  }: {
    inputs: { x: TensorInfo };
    attrs: { numOrSizeSplits: number | number[]; axis: number };
    backend: WasmBackendLike;
  }) => {
    const x = inputs.x;
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    const n = x.shape[axis];
    let sizes: number[];
    if (typeof attrs.numOrSizeSplits === 'number') {
      sizes = new Array(attrs.numOrSizeSplits).fill(n / attrs.numOrSizeSplits);
    } else {
      const known = attrs.numOrSizeSplits.reduce((a, v) => (v === -1 ? a : a + v), 0);
      sizes = attrs.numOrSizeSplits.map((v) => (v === -1 ? n - known : v));
    }
    const begin = new Array(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const o = sliceInto(backend, x, [...begin], size);
      begin[axis] += s;
      return o;
    });
  }) as unknown as tf.KernelFunc);
}
