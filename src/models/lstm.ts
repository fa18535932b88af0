import * as tf from '@tensorflow/tfjs';
import { RecurrentCellBase, rowsMatMul, rowsOf, type Cell, type LayerWeights, type State, type StepTrace } from './cell.js';

/**
 * LSTM (PyTorch nn.LSTM, gate order i, f, g, o):
 *   [a_i a_f a_g a_o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
 *   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
 *
 * Pullback of row cotangents (G_h, G_c) on (h_t, c_t) to (h_{t−1}, c_{t−1}):
 *   dc    = G_c + G_h ⊙ o ⊙ (1 − tanh² c_t)
 *   da    = [dc ⊙ g·i(1−i),  dc ⊙ c_{t−1}·f(1−f),  dc ⊙ i·(1−g²),  G_h ⊙ tanh(c_t)·o(1−o)]
 *   G_h′  = da · W_hh,   G_c′ = dc ⊙ f
 */
export class LSTMCell extends RecurrentCellBase implements Cell {
  readonly kind = 'lstm' as const;
  readonly numStates = 2 as const;

  constructor(inputSize: number, hiddenSize: number, weights: LayerWeights, name = 'lstm') {
    super(4, inputSize, hiddenSize, weights, name);
  }

  private forwardGates(x: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D) {
    const a = tf.add(tf.add(tf.matMul(x, this.wihT), tf.matMul(h, this.whhT)), tf.add(this.bih, this.bhh)); // [batch, 4H]
    const [ai, af, ag, ao] = tf.split(a, 4, 1) as tf.Tensor2D[];
    const i = tf.sigmoid(ai);
    const f = tf.sigmoid(af);
    const g = tf.tanh(ag);
    const o = tf.sigmoid(ao);
    const cNext = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    const tanhC = tf.tanh(cNext);
    const hNext = tf.mul(o, tanhC) as tf.Tensor2D;
    return { i, f, g, o, cNext, tanhC, hNext };
  }

  step(x: tf.Tensor2D, [h, c]: State): State {
    return tf.tidy(() => {
      const { hNext, cNext } = this.forwardGates(x, h, c);
      return [hNext, cNext];
    });
  }

  traceStep(x: tf.Tensor2D, [h, c]: State): StepTrace {
    const out = tf.tidy(() => {
      const { i, f, g, o, cNext, tanhC, hNext } = this.forwardGates(x, h, c);
      const dsig = (s: tf.Tensor) => tf.mul(s, tf.sub(1, s));
      const p = tf.concat(
        [tf.mul(g, dsig(i)), tf.mul(c, dsig(f)), tf.mul(i, tf.sub(1, tf.square(g))), tf.mul(tanhC, dsig(o))],
        1,
      ); // [batch, 4H]
      const dcFromH = tf.mul(o, tf.sub(1, tf.square(tanhC))); // [batch, H]
      return [hNext, cNext, p, dcFromH, f] as tf.Tensor2D[];
    });
    return { next: [out[0], out[1]], local: [out[2], out[3], out[4]] };
  }

  pullback([p, dcFromH, f]: tf.Tensor2D[], [gh, gc]: tf.Tensor3D[], weightHH: tf.Tensor2D): tf.Tensor3D[] {
    return tf.tidy(() => {
      const dc = tf.add(gc, tf.mul(gh, rowsOf(dcFromH))) as tf.Tensor3D;
      const da = tf.mul(tf.concat([dc, dc, dc, gh], 2), rowsOf(p)) as tf.Tensor3D;
      return [rowsMatMul(da, weightHH), tf.mul(dc, rowsOf(f)) as tf.Tensor3D];
    });
  }
}
