import * as tf from '@tensorflow/tfjs';
import { ACTIVATIONS, type Nonlinearity } from './activations.js';
import { RecurrentCellBase, rowsMatMul, rowsOf, type Cell, type LayerWeights, type State, type StepTrace } from './cell.js';

/**
 * Vanilla RNN (PyTorch nn.RNN):  a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh,  h_t = φ(a_t).
 * Step Jacobian:  J_t = ∂h_t/∂h_{t−1} = diag(φ′(a_t)) W_hh   (DESIGN.md, gradient flow),
 * so ∂h_T/∂h_k = ∏_{j=T..k+1} diag(φ′(a_j)) W_hh, the closed form the tests check.
 */
export class RNNCell extends RecurrentCellBase implements Cell {
  readonly kind = 'rnn' as const;
  readonly numStates = 1 as const;

  constructor(inputSize: number, hiddenSize: number, weights: LayerWeights, readonly nonlinearity: Nonlinearity = 'tanh', name = 'rnn') {
    super(1, inputSize, hiddenSize, weights, name);
  }

  private preActivation(x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
    // [batch, H]
    return tf.add(tf.add(tf.matMul(x, this.wihT), tf.matMul(h, this.whhT)), tf.add(this.bih, this.bhh)) as tf.Tensor2D;
  }

  step(x: tf.Tensor2D, [h]: State): State {
    return tf.tidy(() => [ACTIVATIONS[this.nonlinearity].fn(this.preActivation(x, h)) as tf.Tensor2D]);
  }

  traceStep(x: tf.Tensor2D, [h]: State): StepTrace {
    const act = ACTIVATIONS[this.nonlinearity];
    const [next, dphi] = tf.tidy(() => {
      const a = this.preActivation(x, h);
      const y = act.fn(a);
      return [y, act.grad(a, y)] as tf.Tensor2D[];
    });
    return { next: [next], local: [dphi] };
  }

  // G_{t−1} = (G_t ⊙ φ′(a_t)) W_hh
  pullback([dphi]: tf.Tensor2D[], [gh]: tf.Tensor3D[], weightHH: tf.Tensor2D): tf.Tensor3D[] {
    return tf.tidy(() => [rowsMatMul(tf.mul(gh, rowsOf(dphi)) as tf.Tensor3D, weightHH)]);
  }
}
