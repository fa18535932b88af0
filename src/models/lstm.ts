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
 * LSTM (PyTorch nn.LSTM, gate order i, f, g, o):
 *   [a_i a_f a_g a_o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
 *   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
 *
 * Backward of cotangents (G_h, G_c) on (h_t, c_t):
 *   dc    = G_c + G_h ⊙ o ⊙ (1 − tanh² c_t)
 *   da    = [dc ⊙ g·i(1−i),  dc ⊙ c_{t−1}·f(1−f),  dc ⊙ i·(1−g²),  G_h ⊙ tanh(c_t)·o(1−o)]
 *   G_h′  = da · W_hh,   G_c′ = dc ⊙ f
 * The local factors are P = [g·i(1−i), c_{t−1}·f(1−f), i(1−g²), tanh(c_t)·o(1−o)],
 * o(1 − tanh² c_t) and f.
 */
export class LSTMCell extends RecurrentCellBase implements Cell {
  readonly kind = 'lstm' as const;
  readonly numStates = 2 as const;

  constructor(inputSize: number, hiddenSize: number, weights: LayerWeights, name = 'lstm') {
    super(LSTM_SPEC.gates.length, inputSize, hiddenSize, weights, name);
  }

  // both biases act like one outside the recurrence: fold them into the projection
  override project(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.wihT), tf.add(this.bih, this.bhh)) as tf.Tensor2D);
  }

  stepProjected(xw: tf.Tensor2D, [h, c]: State) {
    const a = tf.add(xw, tf.matMul(h, this.whhT)); // [batch, 4H]
    const [ai, af, ag, ao] = tf.split(a, 4, 1);
    const i = tf.sigmoid(ai) as tf.Tensor2D;
    const f = tf.sigmoid(af) as tf.Tensor2D;
    const g = tf.tanh(ag) as tf.Tensor2D;
    const o = tf.sigmoid(ao) as tf.Tensor2D;
    const cNext = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    const tanhC = tf.tanh(cNext) as tf.Tensor2D;
    const hNext = tf.mul(o, tanhC) as tf.Tensor2D;
    return { next: [hNext, cNext], saved: [i, f, g, o, tanhC] };
  }

  localFactors([i, f, g, o, tanhC]: tf.Tensor[], [, c]: tf.Tensor[]): tf.Tensor[] {
    const dsig = (s: tf.Tensor) => tf.mul(s, tf.sub(1, s));
    const p = tf.concat(
      [tf.mul(g, dsig(i)), tf.mul(c, dsig(f)), tf.mul(i, tf.sub(1, tf.square(g))), tf.mul(tanhC, dsig(o))],
      -1,
    ); // [·, 4H]
    return [p, tf.mul(o, tf.sub(1, tf.square(tanhC))), f];
  }

  backStep<T extends tf.Tensor>([p, dcFromH, f]: tf.Tensor2D[], [gh, gc]: T[]): StepGrad<T> {
    const dc = tf.add(gc, tf.mul(gh, rowsOf(dcFromH, gh)));
    const da = tf.mul(tf.concat([dc, dc, dc, gh], -1), rowsOf(p, gh)) as T;
    return { dah: da, dax: da, direct: [null, tf.mul(dc, rowsOf(f, gh)) as T] };
  }
}

export const LSTM_SPEC = {
  kind: 'lstm',
  gates: ['i', 'f', 'g', 'o'],
  states: ['h', 'c'],
  describe: 'long short-term memory (nn.LSTM)',
  memoryGate: {
    name: 'forget',
    local: 2,
    role:
      'c_t = f ⊙ c_{t−1} + … multiplies the gradient by f per step, not by a weight matrix: ' +
      'f near 1 keeps it alive',
  },
  create: (inputSize, hiddenSize, weights, _options, name) => new LSTMCell(inputSize, hiddenSize, weights, name),
  adjustInit(weights, hiddenSize, options) {
    if (options.forgetBias === null) return;
    // the f block is rows H..2H of both biases: b_ih gets the bias, b_hh 0
    weights.bias_ih.fill(options.forgetBias, hiddenSize, 2 * hiddenSize);
    weights.bias_hh.fill(0, hiddenSize, 2 * hiddenSize);
  },
} as const satisfies CellSpec;
