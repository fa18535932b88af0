import * as tf from '@tensorflow/tfjs';
import { inputError } from '../util/errors.js';

/**
 * The weights of the best validation loss so far, kept beside the model (TrainConfig.restoreBest):
 * word_language_model saves its model whenever the validation loss improves and evaluates the
 * test set with the saved one. Copies live on the device; a checkpoint carries them as numbers
 * (BestWeightsState), so a resumed run ends with the same weights as one never interrupted.
 */

/** What a resume record holds of the kept weights: the step they are from and each variable's values. */
export interface BestWeightsState {
  step: number;
  values: Record<string, number[]>;
}

export class BestWeights {
  private kept = new Map<string, tf.Tensor>();
  /** The step the kept weights are from; null before the first keep. */
  step: number | null = null;

  /** Copy the current values of `vars` (replacing what was kept). */
  keep(vars: Readonly<Record<string, tf.Variable>>, step: number): void {
    this.dispose();
    for (const [name, v] of Object.entries(vars)) this.kept.set(name, tf.keep(tf.clone(v)));
    this.step = step;
  }

  /** Write the kept values into `vars`; false (nothing changed) when nothing was kept. */
  restoreInto(vars: Readonly<Record<string, tf.Variable>>): boolean {
    if (this.step === null) return false;
    for (const [name, v] of Object.entries(vars)) {
      const saved = this.kept.get(name);
      if (!saved) throw new Error(`no kept weights for variable ${name}`);
      v.assign(saved);
    }
    return true;
  }

  async snapshot(): Promise<BestWeightsState | null> {
    if (this.step === null) return null;
    const values: Record<string, number[]> = {};
    for (const [name, t] of this.kept) values[name] = Array.from(await t.data());
    return { step: this.step, values };
  }

  /** Kept weights from a resume record; `like` gives each variable's shape. */
  static restore(state: BestWeightsState | null | undefined, like: Readonly<Record<string, tf.Variable>>): BestWeights {
    const best = new BestWeights();
    if (!state) return best;
    for (const [name, v] of Object.entries(like)) {
      const values = state.values[name];
      if (!values || values.length !== v.size)
        throw inputError(`the checkpoint's resume record lacks the kept best weights of ${name}; start a new run`);
      best.kept.set(name, tf.tensor(values, v.shape));
    }
    best.step = state.step;
    return best;
  }

  dispose(): void {
    tf.dispose([...this.kept.values()]);
    this.kept.clear();
    this.step = null;
  }
}
