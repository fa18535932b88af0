import * as tf from '@tensorflow/tfjs';

/**
 * Nonlinearities of the vanilla RNN, each with its derivative written in terms
 * of the pre-activation a (φ′(a)), side by side so one can be checked against the other.
 * `identity` makes the linear RNN h_t = W_ih x_t + W_hh h_{t−1} + b, the analytic baseline of
 * the spectra: its step Jacobian is W_hh at every step.
 */
export const NONLINEARITIES = ['tanh', 'relu', 'sigmoid', 'identity'] as const;
export type Nonlinearity = (typeof NONLINEARITIES)[number];

export interface Activation {
  fn(a: tf.Tensor): tf.Tensor;
  /** φ′(a) written in terms of y = φ(a), so the backward pass needs only the outputs. */
  gradFromOutput(y: tf.Tensor): tf.Tensor;
}

export const ACTIVATIONS: Readonly<Record<Nonlinearity, Activation>> = {
  // tanh′ = 1 − tanh²
  tanh: { fn: (a) => tf.tanh(a), gradFromOutput: (y) => tf.sub(1, tf.square(y)) },
  // relu′ = 1[a > 0] = 1[relu(a) > 0] (0 at a = 0, as PyTorch)
  relu: { fn: (a) => tf.relu(a), gradFromOutput: (y) => tf.cast(tf.greater(y, 0), 'float32') },
  // σ′ = σ(1 − σ)
  sigmoid: { fn: (a) => tf.sigmoid(a), gradFromOutput: (y) => tf.mul(y, tf.sub(1, y)) },
  // φ(a) = a, φ′ = 1
  identity: { fn: (a) => tf.clone(a), gradFromOutput: (y) => tf.onesLike(y) },
};
