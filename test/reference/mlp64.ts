/**
 * A float64 reference of the MLP's cost in plain TypeScript, for the tests: one example
 * at a time, straight from the definitions (no backpropagation, nothing shared with
 * src/models/mlp.ts), so gradients can be taken by central finite differences.
 *
 *   zˡ = wˡ aˡ⁻¹ + bˡ (w row-major [n_l, n_{l−1}]),   aˡ = φ(zˡ),   C = mean over the batch of C_x
 *   batch norm on hidden layers: uˡ = γ (zˡ − μ_B)/√(σ²_B + 1e-5) + β over the whole batch, aˡ = φ(uˡ)
 */
export type Act64 = 'sigmoid' | 'tanh' | 'relu' | 'leaky-relu' | 'prelu' | 'gelu';

export interface Net64 {
  layers: number[];
  activation: Act64;
  output: 'sigmoid' | 'softmax' | 'linear';
  cost: 'xent' | 'quadratic';
  batchNorm: boolean;
  /** leaky-relu slope */
  slope: number;
}

/** erf by Simpson's rule on 2/√π e^{−t²} with 2000 panels (independent of the series in src). */
function erfSimpson(x: number): number {
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * (s * h)) / 3;
}

export function act64(name: Act64, z: number, slope: number): number {
  switch (name) {
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'tanh':
      return Math.tanh(z);
    case 'relu':
      return Math.max(0, z);
    case 'leaky-relu':
    case 'prelu':
      return z >= 0 ? z : slope * z;
    case 'gelu':
      return 0.5 * z * (1 + erfSimpson(z / Math.SQRT2));
  }
}

/**
 * Mean cost of the batch xs (each [n₀]) with targets ys (each [n_L]); params by name as in src (w1, b1, gamma1,
 * beta1, slope1, …).
 */
export function cost64(net: Net64, params: Record<string, number[]>, xs: number[][], ys: number[][]): number {
  const L = net.layers.length - 1;
  let acts = xs.map((x) => x.slice());
  for (let l = 1; l <= L; l++) {
    const nIn = net.layers[l - 1];
    const nOut = net.layers[l];
    const w = params[`w${l}`];
    const zs = acts.map((a) =>
      Array.from({ length: nOut }, (_, j) => {
        let s = params[`b${l}`]?.[j] ?? 0;
        for (let k = 0; k < nIn; k++) s += w[j * nIn + k] * a[k];
        return s;
      }),
    );
    let us = zs;
    if (net.batchNorm && l < L) {
      const m = zs.length;
      us = zs.map((z) => z.slice());
      for (let j = 0; j < nOut; j++) {
        const mean = zs.reduce((s, z) => s + z[j], 0) / m;
        const variance = zs.reduce((s, z) => s + (z[j] - mean) ** 2, 0) / m;
        for (let b = 0; b < m; b++)
          us[b][j] = (params[`gamma${l}`][j] * (zs[b][j] - mean)) / Math.sqrt(variance + 1e-5) + params[`beta${l}`][j];
      }
    }
    if (l < L) {
      acts = us.map((u) =>
        u.map((v, j) => act64(net.activation, v, net.activation === 'prelu' ? params[`slope${l}`][j] : net.slope)),
      );
    } else {
      acts = us.map((u) => {
        if (net.output === 'linear') return u.slice();
        if (net.output === 'sigmoid') return u.map((v) => 1 / (1 + Math.exp(-v)));
        const e = u.map((v) => Math.exp(v));
        const sum = e.reduce((s, v) => s + v, 0);
        return e.map((v) => v / sum);
      });
    }
  }
  let total = 0;
  acts.forEach((a, b) => {
    const y = ys[b];
    for (let j = 0; j < a.length; j++) {
      if (net.cost === 'quadratic') total += 0.5 * (a[j] - y[j]) ** 2;
      else if (net.output === 'sigmoid') total -= y[j] * Math.log(a[j]) + (1 - y[j]) * Math.log(1 - a[j]);
      else total -= y[j] * Math.log(a[j]);
    }
  });
  return total / xs.length;
}

/** ∂C/∂p for every entry of every parameter by central differences, step h. */
export function gradFD64(
  net: Net64,
  params: Record<string, number[]>,
  xs: number[][],
  ys: number[][],
  h = 1e-5,
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, p] of Object.entries(params)) {
    out[name] = p.map((v, i) => {
      const plus = { ...params, [name]: p.map((q, k) => (k === i ? v + h : q)) };
      const minus = { ...params, [name]: p.map((q, k) => (k === i ? v - h : q)) };
      return (cost64(net, plus, xs, ys) - cost64(net, minus, xs, ys)) / (2 * h);
    });
  }
  return out;
}
