import * as tf from '@tensorflow/tfjs';
import type { TensorInfo, WasmBackendLike } from './wasm-kernels.js';
import { type SimdKernels, simdKernels } from './simd/simd.js';

/**
 * Fused kernels for the wasm backend: one call into the SIMD module
 * (src/compute/simd/kernels.wat, f32x4, in place on the tfjs heap) in place of the ~10
 * element-wise tfjs ops (each a 20–60 µs dispatch) that a recurrent step or the softmax
 * cross-entropy would otherwise take. The math is the cells' own (src/models/{lstm,gru,rnn}.ts
 * state the forward rules and the local factors of the backward); the tests check the fused
 * path against the composite one op for op. Where the SIMD module cannot run, or the kernel
 * choice is 'composite' (src/compute/kernel-choice.ts), the callers take the composite ops.
 *
 *   SeqlabCellForward  (kind, t): step t of a layer from its projected inputs xw [T·B, G·H]
 *                      and hw = h_{t−1} W_hhᵀ [B, G·H] → next state and local factors
 *   SeqlabCellBackward (kind, t): cotangents on step t's state → pre-activation cotangents
 *   SeqlabCellPullback (kind): one step of the probes' backward sweep
 *   SeqlabSoftmaxXent: logits z [N, O] + b, targets [N], row weights w [N] →
 *                      ∂L/∂z = (softmax − onehot)·w, L = Σ_n w_n (−log p_n[y_n])
 */

/** Cells narrower than one f32x4 vector stay on the composite ops (kernels.wat steps whole vectors). */
export const MIN_FUSED_HIDDEN = 4;

/**
 * True when the fused kernels run: the wasm backend with the SIMD module usable on its heap,
 * and the kernel choice 'fused'; for a cell of `hiddenSize` units also hiddenSize ≥ 4.
 */
export function fusedKernels(hiddenSize = MIN_FUSED_HIDDEN): boolean {
  return tf.getBackend() === 'wasm' && hiddenSize >= MIN_FUSED_HIDDEN && simdKernels(tf.backend()) !== null;
}

/** The cell kinds that have fused step kernels; other kinds always run the composite ops. */
export const FUSED_CELL_KINDS = ['rnn', 'lstm', 'gru'] as const;
export type FusedCellKind = (typeof FUSED_CELL_KINDS)[number];

export function isFusedCellKind(kind: string): kind is FusedCellKind {
  return (FUSED_CELL_KINDS as readonly string[]).includes(kind);
}

/** The SIMD kernels, for a cell of `hiddenSize` units (the softmax takes rows of any width). */
function simd(backend: WasmBackendLike, hiddenSize = MIN_FUSED_HIDDEN): SimdKernels {
  const kernels = simdKernels(backend);
  if (!kernels) throw new Error('seqlab fused kernels: the SIMD module cannot run here; check fusedKernels() first');
  if (hiddenSize < MIN_FUSED_HIDDEN)
    throw new Error(`seqlab fused kernels: hidden size ${hiddenSize} is below ${MIN_FUSED_HIDDEN}`);
  return kernels;
}

const outputs = (backend: WasmBackendLike, shapes: number[][]) => shapes.map((s) => backend.makeOutput(s, 'float32'));

/** Byte offset of a tensor on the wasm heap: what the SIMD kernels take (it stays put when the heap grows). */
const at = (backend: WasmBackendLike, t: TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;

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
  const kernels = simd(backend, H);
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
  const infos = outputs(backend, shapes[kind]);
  const [out, xw, hw] = [infos.map((o) => at(backend, o)), at(backend, inputs.xw), at(backend, inputs.hw)];
  const xwt = xw + 4 * t * B * GH; // step t of xw
  if (kind === 'rnn')
    kernels.rnn_forward(xwt, hw, out[0], out[1], B * H, ['tanh', 'sigmoid', 'relu'].indexOf(attrs.nonlinearity));
  else if (kind === 'lstm')
    kernels.lstm_forward(xwt, hw, at(backend, inputs.c), out[0], out[1], out[2], out[3], out[4], B, H);
  else
    kernels.gru_forward(xwt, hw, at(backend, inputs.h), at(backend, inputs.bhh), out[0], out[1], out[2], out[3], B, H);
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
  const kernels = simd(backend, H);
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
  const infos = outputs(backend, shapes[kind]);
  const out = infos.map((o) => at(backend, o));
  const above = at(backend, inputs.above) + 4 * t * B * H; // step t of above
  const [viaW, carry, f] = [at(backend, inputs.viaW), at(backend, inputs.carry), first ? 1 : 0];
  const local = (i: number) => at(backend, inputs[`l${i}`]);
  if (kind === 'rnn') kernels.rnn_backward(above, viaW, local(0), out[0], out[1], B * H, f);
  else if (kind === 'lstm')
    kernels.lstm_backward(above, viaW, carry, local(0), local(1), local(2), out[0], out[1], out[2], B, H, f);
  else kernels.gru_backward(above, viaW, carry, local(0), local(1), local(2), out[0], out[1], out[2], out[3], B, H, f);
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
  const kernels = simd(backend);
  const infos = outputs(backend, [[N, O], []]);
  const statsInfo = backend.makeOutput([N, 2], 'float32');
  // views after the allocations: they may have grown (and detached) the heap
  const [z, bias, y, w, dz, stats] = [inputs.z, inputs.bias, inputs.targets, inputs.w, infos[0], statsInfo].map((i) =>
    backend.typedArrayFromHeap(i),
  );
  kernels.softmax_xent(z.byteOffset, bias.byteOffset, w.byteOffset, dz.byteOffset, stats.byteOffset, N, O);
  let total = 0;
  for (let n = 0; n < N; n++) {
    const target = y[n];
    if (!(target >= 0 && target < O)) {
      backend.disposeData(statsInfo.dataId);
      throw new Error(`softmax cross-entropy: target ${target} is not a class in [0, ${O - 1}]`);
    }
    const wn = w[n];
    total += wn * (Math.log(stats[2 * n + 1]) + stats[2 * n] - (z[n * O + target] + bias[target]));
    dz[n * O + target] -= wn;
  }
  backend.disposeData(statsInfo.dataId);
  (backend.typedArrayFromHeap(infos[1]) as Float32Array)[0] = total;
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
  const kernels = simd(backend, H);
  const B = inputs.l0 ? inputs.l0.shape[0] : (inputs.batch as TensorInfo).shape[0];
  const R = BR / B;
  const GH = (kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1) * H;
  const W = state ? 2 * H : H; // width of a Jacobian row
  const shapes: number[][] = [
    [B, R, W],
    [B, 1, 1],
  ];
  if (pull) shapes.push([BR, GH], [BR, H]);
  const infos = outputs(backend, shapes);
  const [jac, scale, dah, direct] = infos.map((o) => at(backend, o));
  const local = (name: string) => (pull && inputs[name] ? at(backend, inputs[name]) : 0);
  kernels.pullback(
    ['rnn', 'lstm', 'gru'].indexOf(kind),
    at(backend, inputs.gh),
    at(backend, inputs.gx),
    jac,
    scale,
    dah ?? 0,
    direct ?? 0,
    local('l0'),
    local('l1'),
    local('l2'),
    B,
    R,
    H,
    normalize ? 1 : 0,
    state ? 1 : 0,
    pull ? 1 : 0,
  );
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
