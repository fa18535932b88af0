import * as tf from '@tensorflow/tfjs';
import type { TensorInfo, WasmBackendLike } from './wasm-kernels.js';
import { simdKernels } from './simd/simd.js';

/**
 * Fused kernels for the wasm backend: one JS loop over the wasm heap in place of
 * the ~10 element-wise tfjs ops (each a 20–60 µs dispatch) that a recurrent step or
 * the softmax cross-entropy would otherwise take. The math is the cells' own
 * (src/models/{lstm,gru,rnn}.ts state the forward rules and the local factors of the
 * backward); the tests check the fused path against the composite one op for op.
 *
 * Values are computed in float64 and stored as float32. Where the row widths are
 * multiples of 4 the forward, backward and softmax kernels run the f32x4 versions of
 * src/compute/simd/kernels.wat instead (float32 throughout; the tests hold both to the
 * composite ops).
 *
 *   SeqlabCellForward  (kind, t): step t of a layer from its projected inputs xw [T·B, G·H]
 *                      and hw = h_{t−1} W_hhᵀ [B, G·H] → next state and local factors
 *   SeqlabCellBackward (kind, t): cotangents on step t's state → pre-activation cotangents
 *   SeqlabSoftmaxXent: logits z [N, O] + b, targets [N], row weights w [N] →
 *                      ∂L/∂z = (softmax − onehot)·w, L = Σ_n w_n (−log p_n[y_n])
 */

let enabled = true;

/** Turn the fused path off (or on again), e.g. to compare it with the composite ops. */
export function setFusedKernels(on: boolean): void {
  enabled = on;
}

/** The cell kinds that have fused step kernels; other kinds always run the composite ops. */
export const FUSED_CELL_KINDS = ['rnn', 'lstm', 'gru'] as const;
export type FusedCellKind = (typeof FUSED_CELL_KINDS)[number];

export function isFusedCellKind(kind: string): kind is FusedCellKind {
  return (FUSED_CELL_KINDS as readonly string[]).includes(kind);
}

/** True when the fused kernels will run: wasm backend, and not turned off. */
export function fusedKernels(): boolean {
  return enabled && tf.getBackend() === 'wasm';
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
// through exp (half the cost of Math.tanh here); the odd series where 2/(1+e^{−2x}) − 1 would cancel
const tanh = (x: number) => (x > -1e-3 && x < 1e-3 ? x - (x * x * x) / 3 : 2 / (1 + Math.exp(-2 * x)) - 1);

type Views = Float32Array[];

function outputs(backend: WasmBackendLike, shapes: number[][]): [TensorInfo[], () => Views] {
  const infos = shapes.map((s) => backend.makeOutput(s, 'float32'));
  return [infos, () => infos.map((o) => backend.typedArrayFromHeap(o) as Float32Array)];
}

type ForwardAttrs = { kind: FusedCellKind; nonlinearity: 'tanh' | 'relu' | 'sigmoid'; t: number };

/**
 * inputs: xw [T·B, G·H], hw [B, G·H], h [B, H], then c [B, H] (lstm) or b_hh [3H] (gru).
 * outputs: rnn [y, φ′]; lstm [h, c, P, o(1 − tanh² c), f]; gru [h, P_h, P_x, z].
 */
function cellForward({
  inputs,
  attrs,
  backend,
}: {
  inputs: Record<string, TensorInfo>;
  attrs: ForwardAttrs;
  backend: WasmBackendLike;
}): TensorInfo[] {
  const { kind, t } = attrs;
  const [B, GH] = inputs.hw.shape;
  const H = inputs.h.shape[1];
  const shapes: Record<string, number[][]> = {
    rnn: [
      [B, H],
      [B, H],
    ],
    lstm: [
      [B, H],
      [B, H],
      [B, 4 * H],
      [B, H],
      [B, H],
    ],
    gru: [
      [B, H],
      [B, 3 * H],
      [B, 3 * H],
      [B, H],
    ],
  };
  const [infos, views] = outputs(backend, shapes[kind]);
  const xw = backend.typedArrayFromHeap(inputs.xw) as Float32Array;
  const hw = backend.typedArrayFromHeap(inputs.hw) as Float32Array;
  const h = backend.typedArrayFromHeap(inputs.h) as Float32Array;
  const x0 = t * B * GH;
  const out = views();
  const simd = H % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const p = (v: Float32Array) => v.byteOffset;
    const xwt = xw.byteOffset + 4 * x0;
    if (kind === 'rnn')
      simd.rnn_forward(
        xwt,
        p(hw),
        p(out[0]),
        p(out[1]),
        B * H,
        ['tanh', 'sigmoid', 'relu'].indexOf(attrs.nonlinearity),
      );
    else if (kind === 'lstm') {
      const c = backend.typedArrayFromHeap(inputs.c) as Float32Array;
      simd.lstm_forward(xwt, p(hw), p(c), p(out[0]), p(out[1]), p(out[2]), p(out[3]), p(out[4]), B, H);
    } else {
      const bhh = backend.typedArrayFromHeap(inputs.bhh) as Float32Array;
      simd.gru_forward(xwt, p(hw), p(h), p(bhh), p(out[0]), p(out[1]), p(out[2]), p(out[3]), B, H);
    }
  } else if (kind === 'rnn') {
    const [y, dphi] = out;
    const nl = attrs.nonlinearity;
    for (let k = 0; k < B * H; k++) {
      const a = xw[x0 + k] + hw[k];
      const v = nl === 'tanh' ? tanh(a) : nl === 'sigmoid' ? sigmoid(a) : Math.max(a, 0);
      const vf = Math.fround(v);
      y[k] = vf;
      dphi[k] = nl === 'tanh' ? 1 - vf * vf : nl === 'sigmoid' ? vf * (1 - vf) : vf > 0 ? 1 : 0;
    }
  } else if (kind === 'lstm') {
    const c = backend.typedArrayFromHeap(inputs.c) as Float32Array;
    const [hN, cN, P, dcFromH, fOut] = out;
    for (let b = 0; b < B; b++) {
      const row = b * GH;
      for (let j = 0; j < H; j++) {
        const k = row + j;
        const i = sigmoid(xw[x0 + k] + hw[k]);
        const f = sigmoid(xw[x0 + k + H] + hw[k + H]);
        const g = tanh(xw[x0 + k + 2 * H] + hw[k + 2 * H]);
        const o = sigmoid(xw[x0 + k + 3 * H] + hw[k + 3 * H]);
        const cp = c[b * H + j];
        const cn = f * cp + i * g;
        const tc = tanh(cn);
        hN[b * H + j] = o * tc;
        cN[b * H + j] = cn;
        P[k] = g * i * (1 - i);
        P[k + H] = cp * f * (1 - f);
        P[k + 2 * H] = i * (1 - g * g);
        P[k + 3 * H] = tc * o * (1 - o);
        dcFromH[b * H + j] = o * (1 - tc * tc);
        fOut[b * H + j] = f;
      }
    }
  } else {
    const bhh = backend.typedArrayFromHeap(inputs.bhh) as Float32Array;
    const [hN, ph, px, zOut] = out;
    for (let b = 0; b < B; b++) {
      const row = b * GH;
      for (let j = 0; j < H; j++) {
        const k = row + j;
        const r = sigmoid(xw[x0 + k] + hw[k] + bhh[j]);
        const z = sigmoid(xw[x0 + k + H] + hw[k + H] + bhh[j + H]);
        const m = hw[k + 2 * H] + bhh[j + 2 * H];
        const n = tanh(xw[x0 + k + 2 * H] + r * m);
        const hp = h[b * H + j];
        hN[b * H + j] = n + z * (hp - n);
        const dn = (1 - z) * (1 - n * n);
        const pr = dn * m * r * (1 - r);
        const pz = (hp - n) * z * (1 - z);
        ph[k] = pr;
        ph[k + H] = pz;
        ph[k + 2 * H] = dn * r;
        px[k] = pr;
        px[k + H] = pz;
        px[k + 2 * H] = dn;
        zOut[b * H + j] = z;
      }
    }
  }
  return infos;
}

type BackwardAttrs = { kind: FusedCellKind; t: number; first: boolean };

/**
 * Step t of the backward sweep. inputs: above [T·B, H] (∂L/∂h_t from the layer above or
 * the read-out), viaW [B, H] (dah_{t+1} W_hh; ignored when `first`), carry [B, H] (lstm: the
 * cotangent on c_t; gru: G_{t+1} ⊙ z_{t+1}; ignored when `first`), then the step's local factors.
 * outputs: rnn [G, da]; lstm [G, da, dc ⊙ f]; gru [G, dah, dax, G ⊙ z]; G = ∂L/∂h_t in full.
 */
function cellBackward({
  inputs,
  attrs,
  backend,
}: {
  inputs: Record<string, TensorInfo>;
  attrs: BackwardAttrs;
  backend: WasmBackendLike;
}): TensorInfo[] {
  const { kind, t, first } = attrs;
  const [B, H] = inputs.viaW.shape;
  const shapes: Record<string, number[][]> = {
    rnn: [
      [B, H],
      [B, H],
    ],
    lstm: [
      [B, H],
      [B, 4 * H],
      [B, H],
    ],
    gru: [
      [B, H],
      [B, 3 * H],
      [B, 3 * H],
      [B, H],
    ],
  };
  const [infos, views] = outputs(backend, shapes[kind]);
  const above = backend.typedArrayFromHeap(inputs.above) as Float32Array;
  const viaW = backend.typedArrayFromHeap(inputs.viaW) as Float32Array;
  const carry = backend.typedArrayFromHeap(inputs.carry) as Float32Array;
  const a0 = t * B * H;
  const out = views();
  const G = out[0];
  const simd = H % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const p = (v: Float32Array) => v.byteOffset;
    const local = (name: string) => (backend.typedArrayFromHeap(inputs[name]) as Float32Array).byteOffset;
    const at = above.byteOffset + 4 * a0;
    const f = first ? 1 : 0;
    if (kind === 'rnn') simd.rnn_backward(at, p(viaW), local('l0'), p(G), p(out[1]), B * H, f);
    else if (kind === 'lstm')
      simd.lstm_backward(
        at,
        p(viaW),
        p(carry),
        local('l0'),
        local('l1'),
        local('l2'),
        p(G),
        p(out[1]),
        p(out[2]),
        B,
        H,
        f,
      );
    else
      simd.gru_backward(
        at,
        p(viaW),
        p(carry),
        local('l0'),
        local('l1'),
        local('l2'),
        p(G),
        p(out[1]),
        p(out[2]),
        p(out[3]),
        B,
        H,
        f,
      );
  } else if (kind === 'rnn') {
    const dphi = backend.typedArrayFromHeap(inputs.l0) as Float32Array;
    const da = out[1];
    for (let k = 0; k < B * H; k++) {
      const g = first ? above[a0 + k] : above[a0 + k] + viaW[k];
      G[k] = g;
      da[k] = g * dphi[k];
    }
  } else if (kind === 'lstm') {
    const P = backend.typedArrayFromHeap(inputs.l0) as Float32Array;
    const dcFromH = backend.typedArrayFromHeap(inputs.l1) as Float32Array;
    const f = backend.typedArrayFromHeap(inputs.l2) as Float32Array;
    const [, da, dcPrev] = out;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const k = b * H + j;
        const g = first ? above[a0 + k] : above[a0 + k] + viaW[k];
        const dc = (first ? 0 : carry[k]) + g * dcFromH[k];
        const q = b * 4 * H + j;
        G[k] = g;
        da[q] = dc * P[q];
        da[q + H] = dc * P[q + H];
        da[q + 2 * H] = dc * P[q + 2 * H];
        da[q + 3 * H] = g * P[q + 3 * H];
        dcPrev[k] = dc * f[k];
      }
    }
  } else {
    const ph = backend.typedArrayFromHeap(inputs.l0) as Float32Array;
    const px = backend.typedArrayFromHeap(inputs.l1) as Float32Array;
    const z = backend.typedArrayFromHeap(inputs.l2) as Float32Array;
    const [, dah, dax, direct] = out;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const k = b * H + j;
        const g = first ? above[a0 + k] : above[a0 + k] + viaW[k] + carry[k];
        const q = b * 3 * H + j;
        G[k] = g;
        dah[q] = g * ph[q];
        dah[q + H] = g * ph[q + H];
        dah[q + 2 * H] = g * ph[q + 2 * H];
        dax[q] = g * px[q];
        dax[q + H] = g * px[q + H];
        dax[q + 2 * H] = g * px[q + 2 * H];
        direct[k] = g * z[k];
      }
    }
  }
  return infos;
}

/** inputs: z [N, O] (h W), bias [O], targets int32 [N], w [N]. outputs: ∂L/∂z [N, O], L []. */
function softmaxXent({
  inputs,
  backend,
}: {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackendLike;
}): TensorInfo[] {
  const [N, O] = inputs.z.shape;
  const [infos, views] = outputs(backend, [[N, O], []]);
  const z = backend.typedArrayFromHeap(inputs.z) as Float32Array;
  const bias = backend.typedArrayFromHeap(inputs.bias) as Float32Array;
  const y = backend.typedArrayFromHeap(inputs.targets) as Int32Array;
  const w = backend.typedArrayFromHeap(inputs.w) as Float32Array;
  const [dz, loss] = views();
  let total = 0;
  const simd = O % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const statsInfo = backend.makeOutput([N, 2], 'float32');
    const stats = backend.typedArrayFromHeap(statsInfo) as Float32Array;
    // views again: the allocation may have grown (and detached) the heap
    const [zv, bv, yv, wv, dzv] = [inputs.z, inputs.bias, inputs.targets, inputs.w, infos[0]].map((i) =>
      backend.typedArrayFromHeap(i),
    );
    simd.softmax_xent(zv.byteOffset, bv.byteOffset, wv.byteOffset, dzv.byteOffset, stats.byteOffset, N, O);
    for (let n = 0; n < N; n++) {
      const target = yv[n];
      if (!(target >= 0 && target < O)) {
        backend.disposeData(statsInfo.dataId);
        throw new Error(`softmax cross-entropy: target ${target} is not a class in [0, ${O - 1}]`);
      }
      const wn = wv[n];
      total += wn * (Math.log(stats[2 * n + 1]) + stats[2 * n] - (zv[n * O + target] + bv[target]));
      dzv[n * O + target] -= wn;
    }
    backend.disposeData(statsInfo.dataId);
    (backend.typedArrayFromHeap(infos[1]) as Float32Array)[0] = total;
    return infos;
  }
  for (let n = 0; n < N; n++) {
    const row = n * O;
    const target = y[n];
    if (!(target >= 0 && target < O))
      throw new Error(`softmax cross-entropy: target ${target} is not a class in [0, ${O - 1}]`);
    let max = -Infinity;
    for (let o = 0; o < O; o++) {
      const v = z[row + o] + bias[o];
      dz[row + o] = v; // the biased logit, overwritten below
      if (v > max) max = v;
    }
    let sum = 0;
    for (let o = 0; o < O; o++) {
      const e = Math.exp(dz[row + o] - max);
      dz[row + o] = e;
      sum += e;
    }
    const logit = z[row + target] + bias[target];
    const wn = w[n];
    total += wn * (Math.log(sum) + max - logit);
    const scale = wn / sum;
    for (let o = 0; o < O; o++) dz[row + o] *= scale;
    dz[row + target] -= wn;
  }
  loss[0] = total;
  return infos;
}

type PullbackAttrs = { kind: FusedCellKind; normalize: boolean; state: boolean; pull: boolean };

/**
 * One step of the probes' backward sweep (gradflow.ts) on row cotangents [B·R, H]:
 * finish the cotangent on s_{k+1} — G_h = gh (+ gx for the gru's direct part), G_c = gx
 * (lstm) — rescale it per sequence to max |·| = 1 (when `normalize`), write it out as the
 * Jacobian rows (h part, or [h | c] in LSTM state mode) with the scale [B, 1, 1]; then,
 * when `pull`, start the pullback through step k with the step's local factors:
 * dah [B·R, G·H] (to multiply by W_hh) and the direct part (lstm dc ⊙ f, gru G ⊙ z).
 * outputs: [jac, scale, dah?, direct?].
 */
function cellPullback({
  inputs,
  attrs,
  backend,
}: {
  inputs: Record<string, TensorInfo>;
  attrs: PullbackAttrs;
  backend: WasmBackendLike;
}): TensorInfo[] {
  const { kind, normalize, state, pull } = attrs;
  const [BR, H] = inputs.gh.shape;
  const B = inputs.l0 ? inputs.l0.shape[0] : (inputs.batch as TensorInfo).shape[0];
  const R = BR / B;
  const GH = (kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1) * H;
  const W = state ? 2 * H : H; // width of a Jacobian row
  const shapes: number[][] = [
    [B, R, W],
    [B, 1, 1],
  ];
  if (pull) shapes.push([BR, GH], [BR, H]);
  const [infos, views] = outputs(backend, shapes);
  const gh = backend.typedArrayFromHeap(inputs.gh) as Float32Array;
  const gx = backend.typedArrayFromHeap(inputs.gx) as Float32Array;
  const [jac, scaleOut, dah, direct] = views();
  const simd = H % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const at = (name: string) => (inputs[name] ? backend.typedArrayFromHeap(inputs[name]).byteOffset : 0);
    simd.pullback(
      ['rnn', 'lstm', 'gru'].indexOf(kind),
      gh.byteOffset,
      gx.byteOffset,
      jac.byteOffset,
      scaleOut.byteOffset,
      dah?.byteOffset ?? 0,
      direct?.byteOffset ?? 0,
      pull ? at('l0') : 0,
      pull ? at('l1') : 0,
      pull ? at('l2') : 0,
      B,
      R,
      H,
      normalize ? 1 : 0,
      state ? 1 : 0,
      pull ? 1 : 0,
    );
    return infos;
  }
  const n = R * H;
  for (let b = 0; b < B; b++) {
    const off = b * n;
    let m = 0;
    for (let i = off; i < off + n; i++) {
      const v = kind === 'gru' ? gh[i] + gx[i] : gh[i];
      const a = v < 0 ? -v : v;
      if (a > m) m = a;
      if (kind === 'lstm') {
        const c = gx[i] < 0 ? -gx[i] : gx[i];
        if (c > m) m = c;
      }
    }
    // floored so an all-zero Jacobian stays exactly 0
    const scale = normalize ? Math.fround(Math.max(m, 1e-30)) : 1;
    scaleOut[b] = scale;
    for (let r = 0; r < R; r++) {
      const src = off + r * H;
      const dst = (b * R + r) * W;
      for (let j = 0; j < H; j++) {
        jac[dst + j] = (kind === 'gru' ? gh[src + j] + gx[src + j] : gh[src + j]) / scale;
        if (state) jac[dst + H + j] = gx[src + j] / scale;
      }
    }
  }
  if (!pull) return infos;
  const l0 = backend.typedArrayFromHeap(inputs.l0) as Float32Array;
  const l1 = kind === 'rnn' ? l0 : (backend.typedArrayFromHeap(inputs.l1) as Float32Array);
  const l2 = kind === 'rnn' ? l0 : (backend.typedArrayFromHeap(inputs.l2) as Float32Array);
  for (let b = 0; b < B; b++) {
    const scale = scaleOut[b];
    for (let r = 0; r < R; r++) {
      const row = (b * R + r) * H;
      const jrow = (b * R + r) * W;
      for (let j = 0; j < H; j++) {
        const g = jac[jrow + j];
        const q = (b * R + r) * GH + j;
        if (kind === 'rnn') {
          dah[q] = g * l0[b * H + j];
        } else if (kind === 'lstm') {
          // P = l0 [B, 4H], dcFromH = l1, f = l2
          const gc = state ? jac[jrow + H + j] : gx[row + j] / scale;
          const dc = gc + g * l1[b * H + j];
          const p = b * 4 * H + j;
          dah[q] = dc * l0[p];
          dah[q + H] = dc * l0[p + H];
          dah[q + 2 * H] = dc * l0[p + 2 * H];
          dah[q + 3 * H] = g * l0[p + 3 * H];
          direct[row + j] = dc * l2[b * H + j];
        } else {
          // P_h = l0 [B, 3H], z = l2
          const p = b * 3 * H + j;
          dah[q] = g * l0[p];
          dah[q + H] = g * l0[p + H];
          dah[q + 2 * H] = g * l0[p + 2 * H];
          direct[row + j] = g * l2[b * H + j];
        }
      }
    }
  }
  return infos;
}

let registered = false;

/** Register the fused kernels on the wasm backend (idempotent). */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  const reg = (kernelName: string, kernelFunc: unknown) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  reg('SeqlabCellForward', cellForward);
  reg('SeqlabCellBackward', cellBackward);
  reg('SeqlabSoftmaxXent', softmaxXent);
  reg('SeqlabCellPullback', cellPullback);
}

/** See SeqlabSoftmaxXent. Returns [∂L/∂z, L]. */
export function fusedSoftmaxXent(
  z: tf.Tensor2D,
  bias: tf.Tensor1D,
  targets: tf.Tensor1D,
  w: tf.Tensor1D,
): [tf.Tensor2D, tf.Scalar] {
  return tf
    .engine()
    .runKernel('SeqlabSoftmaxXent', { z, bias, targets, w } as unknown as tf.NamedTensorMap) as unknown as [
    tf.Tensor2D,
    tf.Scalar,
  ];
}

/** See cellForward. */
export function fusedCellForward(
  kind: ForwardAttrs['kind'],
  nonlinearity: ForwardAttrs['nonlinearity'],
  t: number,
  inputs: { xw: tf.Tensor2D; hw: tf.Tensor2D; h: tf.Tensor2D; c?: tf.Tensor2D; bhh?: tf.Tensor1D },
): tf.Tensor2D[] {
  return tf
    .engine()
    .runKernel(
      'SeqlabCellForward',
      inputs as unknown as tf.NamedTensorMap,
      { kind, nonlinearity, t } as unknown as tf.NamedAttrMap,
    ) as unknown as tf.Tensor2D[];
}

/** See cellBackward. `viaW`/`carry` null at the first backward step (t = T − 1 with nothing carried in). */
export function fusedCellBackward(
  kind: BackwardAttrs['kind'],
  t: number,
  above: tf.Tensor2D,
  viaW: tf.Tensor2D | null,
  carry: tf.Tensor2D | null,
  local: tf.Tensor2D[],
): tf.Tensor2D[] {
  const first = viaW === null;
  const placeholder = first ? tf.zeros([local[0].shape[0], above.shape[1]]) : null;
  const inputs: Record<string, tf.Tensor> = {
    above,
    viaW: viaW ?? (placeholder as tf.Tensor),
    carry: carry ?? viaW ?? (placeholder as tf.Tensor),
  };
  for (const [i, l] of local.entries()) inputs[`l${i}`] = l;
  const out = tf
    .engine()
    .runKernel(
      'SeqlabCellBackward',
      inputs as unknown as tf.NamedTensorMap,
      { kind, t, first } as unknown as tf.NamedAttrMap,
    ) as unknown as tf.Tensor2D[];
  placeholder?.dispose();
  return out;
}

/** See cellPullback. `local` null: no pullback after this step (k = 0); `batch` then gives B. */
export function fusedCellPullback(
  kind: PullbackAttrs['kind'],
  gh: tf.Tensor2D,
  gx: tf.Tensor2D,
  local: tf.Tensor2D[] | null,
  batch: number,
  opts: { normalize: boolean; state: boolean },
): tf.Tensor[] {
  const inputs: Record<string, tf.Tensor> = { gh, gx };
  const placeholder = local ? null : tf.zeros([batch]);
  if (local) for (const [i, l] of local.entries()) inputs[`l${i}`] = l;
  else inputs.batch = placeholder as tf.Tensor;
  const out = tf
    .engine()
    .runKernel(
      'SeqlabCellPullback',
      inputs as unknown as tf.NamedTensorMap,
      { kind, ...opts, pull: local !== null } as unknown as tf.NamedAttrMap,
    ) as unknown as tf.Tensor[];
  placeholder?.dispose();
  return out;
}
