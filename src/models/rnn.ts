import * as tf from '@tensorflow/tfjs';
import { ACTIVATIONS, type Nonlinearity } from './activations.js';
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
 * Vanilla RNN (PyTorch nn.RNN):  a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh,  h_t = φ(a_t).
 * Step Jacobian:  J_t = ∂h_t/∂h_{t−1} = diag(φ′(a_t)) W_hh   (docs/ARCHITECTURE.md, gradient flow),
 * so ∂h_T/∂h_k = ∏_{j=T..k+1} diag(φ′(a_j)) W_hh, the closed form the tests check.
 * Backward of a cotangent G on h_t:  da = G ⊙ φ′(a_t),  G_{t−1} = da · W_hh.
 */
export class RNNCell extends RecurrentCellBase implements Cell {
  readonly kind = 'rnn' as const;
  readonly numStates = 1 as const;

  constructor(
    inputSize: number,
    hiddenSize: number,
    weights: LayerWeights,
    readonly nonlinearity: Nonlinearity = 'tanh',
    name = 'rnn',
  ) {
    super(RNN_SPEC.gates.length, inputSize, hiddenSize, weights, name);
  }

  // both biases act like one outside the recurrence: fold them into the projection
  override project(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.wihT), tf.add(this.bih, this.bhh)) as tf.Tensor2D);
  }

  stepProjected(xw: tf.Tensor2D, [h]: State) {
    const y = ACTIVATIONS[this.nonlinearity].fn(tf.add(xw, tf.matMul(h, this.whhT))) as tf.Tensor2D; // [batch, H]
    return { next: [y], saved: [y] };
  }

  // φ′(a) from y = φ(a): all three nonlinearities allow it
  localFactors([y]: tf.Tensor[]): tf.Tensor[] {
    return [ACTIVATIONS[this.nonlinearity].gradFromOutput(y)];
  }

  backStep<T extends tf.Tensor>([dphi]: tf.Tensor2D[], [g]: T[]): StepGrad<T> {
    const da = tf.mul(g, rowsOf(dphi, g)) as T;
    return { dah: da, dax: da, direct: [null] };
  }
}

export const RNN_SPEC = {
  kind: 'rnn',
  gates: ['h'],
  states: ['h'],
  describe: 'vanilla RNN h_t = φ(W_ih x_t + W_hh h_{t−1} + b) (nn.RNN)',
  create: (inputSize, hiddenSize, weights, options, name) =>
    new RNNCell(inputSize, hiddenSize, weights, options.nonlinearity, name),
} as const satisfies CellSpec;
