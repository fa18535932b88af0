import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { fusedKernels } from '../../src/compute/fused-kernels.js';
import { kernelChoice, setKernels } from '../../src/compute/kernel-choice.js';
import { simdKernels } from '../../src/compute/simd/simd.js';
import { SeqlabError } from '../../src/util/errors.js';

afterEach(() => setKernels('fused'));

describe('the kernel switch', () => {
  it('rejects an unknown choice with a usage error naming the field', () => {
    expect(() => setKernels('simd' as never)).toThrow(SeqlabError);
    expect(() => setKernels('simd' as never)).toThrow(/unknown kernels "simd"; use fused, composite/);
    expect(kernelChoice()).toBe('fused');
  });

  describe.runIf(process.env.SEQLAB_BACKEND === undefined || process.env.SEQLAB_BACKEND === 'wasm')('on wasm', () => {
    it("'composite' turns off the SIMD module and with it every fused kernel; 'fused' turns them on", () => {
      expect(tf.getBackend()).toBe('wasm');
      setKernels('composite');
      expect(kernelChoice()).toBe('composite');
      expect(simdKernels(tf.backend())).toBeNull();
      expect(fusedKernels()).toBe(false);
      expect(fusedKernels(64)).toBe(false);
      setKernels('fused');
      expect(simdKernels(tf.backend())).not.toBeNull();
      expect(fusedKernels(64)).toBe(true);
    });
  });
});
