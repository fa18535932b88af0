import { ACTIVATIONS64, DEFAULT_SLOPE, MLP_ACTIVATIONS, type MlpActivation } from '../../models/activations64.js';

/**
 * Each activation φ and its derivative φ′ at a few points, the supremum of |φ′| found on
 * a fine grid beside the bound the theory gives (σ′ ≤ 1/4 is why a product of wσ′(z)
 * factors shrinks), and φ′ checked against a central difference of φ.
 */
export interface ActivationRow {
  name: MlpActivation;
  slope: number;
  /** φ(z) and φ′(z) at `points`. */
  values: number[];
  derivatives: number[];
  /** max |φ′| on [−8, 8] (step 1e-3) and where. */
  maxDerivative: number;
  argmax: number;
  bound: { value: number; at: string; text: string };
  /** max |φ′ − (φ(z + h) − φ(z − h))/2h| on the grid, away from the kink at 0. */
  derivativeCheck: number;
}

export interface ActivationsResult {
  points: number[];
  rows: ActivationRow[];
}

export const ACTIVATION_POINTS = [-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4];

export function activationsDemo(points: number[] = ACTIVATION_POINTS): ActivationsResult {
  const rows = MLP_ACTIVATIONS.map((name): ActivationRow => {
    const act = ACTIVATIONS64[name];
    const slope = DEFAULT_SLOPE[name];
    let maxDerivative = -Infinity;
    let argmax = 0;
    let derivativeCheck = 0;
    const h = 1e-6;
    for (let i = -8000; i <= 8000; i++) {
      const z = i / 1000;
      const d = act.prime(z, slope);
      if (Math.abs(d) > maxDerivative + 1e-15) {
        maxDerivative = Math.abs(d);
        argmax = z;
      }
      if (Math.abs(z) > 2 * h)
        derivativeCheck = Math.max(
          derivativeCheck,
          Math.abs(d - (act.fn(z + h, slope) - act.fn(z - h, slope)) / (2 * h)),
        );
    }
    return {
      name,
      slope,
      values: points.map((z) => act.fn(z, slope)),
      derivatives: points.map((z) => act.prime(z, slope)),
      maxDerivative,
      argmax,
      bound: act.bound,
      derivativeCheck,
    };
  });
  return { points, rows };
}
