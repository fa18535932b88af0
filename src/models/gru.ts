import * as tf from '@tensorflow/tfjs';
import { RecurrentCellBase, rowsMatMul, rowsOf, type Cell, type LayerWeights, type State, type StepTrace } from './cell.js';

/**
 * GRU (PyTorch nn.GRU, gate order r, z, n):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 *
 * Pullback of a row cotangent G on h_t (with m = W_hn h + b_hn):
 *   dn = G(1−z)(1−n²)
 *   da = [dn ⊙ m·r(1−r),  G ⊙ (h−n)·z(1−z),  dn ⊙ r]   (rows of W_hh: r, z, n)
 *   G′ = G ⊙ z + da · W_hh
 */
export class GRUCell extends RecurrentCellBase implements Cell {
  readonly kind = 'gru' as const;
  readonly numStates = 1 as const;

  constructor(inputSize: number, hiddenSize: number, weights: LayerWeights, name = 'gru') {
    super(3, inputSize, hiddenSize, weights, name);
  }

  private forwardGates(x: tf.Tensor2D, h: tf.Tensor2D) {
    const [xr, xz, xn] = tf.split(tf.add(tf.matMul(x, this.wihT), this.bih), 3, 1);
    const [hr, hz, m] = tf.split(tf.add(tf.matMul(h, this.whhT), this.bhh), 3, 1);
    const r = tf.sigmoid(tf.add(xr, hr));
    const z = tf.sigmoid(tf.add(xz, hz));
    const n = tf.tanh(tf.add(xn, tf.mul(r, m)));
    const hNext = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)) as tf.Tensor2D;
    return { r, z, n, m, hNext };
  }

  step(x: tf.Tensor2D, [h]: State): State {
    return tf.tidy(() => [this.forwardGates(x, h).hNext]);
  }

  traceStep(x: tf.Tensor2D, [h]: State): StepTrace {
    const out = tf.tidy(() => {
      const { r, z, n, m, hNext } = this.forwardGates(x, h);
      const dn = tf.mul(tf.sub(1, z), tf.sub(1, tf.square(n))); // ∂h_t/∂a_n
      const p = tf.concat(
        [tf.mul(tf.mul(dn, m), tf.mul(r, tf.sub(1, r))), tf.mul(tf.sub(h, n), tf.mul(z, tf.sub(1, z))), tf.mul(dn, r)],
        1,
      ); // [batch, 3H]
      return [hNext, p, z] as tf.Tensor2D[];
    });
    return { next: [out[0]], local: [out[1], out[2]] };
  }

  pullback([p, z]: tf.Tensor2D[], [g]: tf.Tensor3D[], weightHH: tf.Tensor2D): tf.Tensor3D[] {
    return tf.tidy(() => {
      const da = tf.mul(tf.concat([g, g, g], 2), rowsOf(p)) as tf.Tensor3D;
      return [tf.add(tf.mul(g, rowsOf(z)), rowsMatMul(da, weightHH)) as tf.Tensor3D];
    });
  }
}
