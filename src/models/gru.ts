import * as tf from '@tensorflow/tfjs';
import {
  type Cell,
  type CellSpec,
  type LayerWeights,
  RecurrentCellBase,
  rowsOf,
  type State,
  type StepGrad,
} from './cell.js';

/**
 * GRU (PyTorch nn.GRU, gate order r, z, n):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 *
 * Backward of a cotangent G on h_t (with m = W_hn h + b_hn, dn = G(1−z)(1−n²)):
 *   dax = [dn ⊙ m·r(1−r),  G ⊙ (h−n)·z(1−z),  dn]       (multiplies W_ih rows r, z, n)
 *   dah = [dn ⊙ m·r(1−r),  G ⊙ (h−n)·z(1−z),  dn ⊙ r]   (multiplies W_hh: m sits inside r ⊙ ·)
 *   G′  = G ⊙ z + dah · W_hh
 */
export class GRUCell extends RecurrentCellBase implements Cell {
  readonly kind = 'gru' as const;
  readonly numStates = 1 as const;

  constructor(inputSize: number, hiddenSize: number, weights: LayerWeights, name = 'gru') {
    super(GRU_SPEC.gates.length, inputSize, hiddenSize, weights, name);
  }

  stepProjected(xw: tf.Tensor2D, [h]: State) {
    const [xr, xz, xn] = tf.split(xw, 3, 1);
    const [hr, hz, m] = tf.split(tf.add(tf.matMul(h, this.whhT), this.bhh), 3, 1);
    const r = tf.sigmoid(tf.add(xr, hr)) as tf.Tensor2D;
    const z = tf.sigmoid(tf.add(xz, hz)) as tf.Tensor2D;
    const n = tf.tanh(tf.add(xn, tf.mul(r, m))) as tf.Tensor2D;
    const hNext = tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D; // (1 − z) n + z h
    return { next: [hNext], saved: [r, z, n, m as tf.Tensor2D] };
  }

  localFactors([r, z, n, m]: tf.Tensor[], [h]: tf.Tensor[]): tf.Tensor[] {
    const dn = tf.mul(tf.sub(1, z), tf.sub(1, tf.square(n))); // ∂h_t/∂a_n
    const pr = tf.mul(tf.mul(dn, m), tf.mul(r, tf.sub(1, r)));
    const pz = tf.mul(tf.sub(h, n), tf.mul(z, tf.sub(1, z)));
    return [tf.concat([pr, pz, tf.mul(dn, r)], -1), tf.concat([pr, pz, dn], -1), z];
  }

  backStep<T extends tf.Tensor>([ph, px, z]: tf.Tensor2D[], [g]: T[]): StepGrad<T> {
    const g3 = tf.concat([g, g, g], -1);
    return {
      dah: tf.mul(g3, rowsOf(ph, g)) as T,
      dax: tf.mul(g3, rowsOf(px, g)) as T,
      direct: [tf.mul(g, rowsOf(z, g)) as T],
    };
  }
}

export const GRU_SPEC = {
  kind: 'gru',
  gates: ['r', 'z', 'n'],
  states: ['h'],
  describe: 'gated recurrent unit (nn.GRU)',
  memoryGate: {
    name: 'update',
    local: 2,
    role: 'h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}: where z is near 1 the state, and its gradient, pass through unchanged',
  },
  create: (inputSize, hiddenSize, weights, _options, name) => new GRUCell(inputSize, hiddenSize, weights, name),
} as const satisfies CellSpec;
