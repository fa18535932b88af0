import { oneOf } from '../util/errors.js';

/**
 * Which kernels run on the wasm backend: the one switch of src/compute/, for tests and
 * `seqlab bench --kernels`.
 *
 *   fused (default)  the SIMD module (simd/kernels.wat): one kernel per recurrent step
 *                    forward and backward and per step of the probes' sweep, the softmax
 *                    cross-entropy, the 2-D transpose (fused-kernels.ts, wasm-kernels.ts)
 *   composite        the tfjs ops the cells (src/models/) and the loss are written in, the
 *                    readable reference; the stock transpose
 *
 * Where the SIMD module cannot run (another backend; a browser without wasm SIMD or with a
 * shared heap) the composite ops run whatever the choice; cells narrower than 4 units too.
 * Gradient workers (src/training/parallel.ts) start with their parent's choice.
 */
export const KERNEL_CHOICES = ['fused', 'composite'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];

let choice: KernelChoice = 'fused';

export function setKernels(kernels: KernelChoice): void {
  choice = oneOf('kernels', kernels, KERNEL_CHOICES);
}

export function kernelChoice(): KernelChoice {
  return choice;
}
