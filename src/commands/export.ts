import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type WriteDtype, writeSafetensorsFile } from '../data/safetensors.js';
import { RNN_TYPE_KEY, recurrentTensors, rnnTypeOf } from '../models/torch-statedict.js';
import { loadCheckpoint } from '../training/checkpoint.js';
import { exportWordLM } from '../training/torch-checkpoint.js';
import { usageError } from '../util/errors.js';

/**
 * `seqlab export`: a seqlab checkpoint as safetensors under PyTorch's names.
 *
 *   a word LM (an lm run)   word_language_model's RNNModel: encoder.weight, rnn.weight_ih_l0 …,
 *                           decoder.weight, decoder.bias, and the vocabulary file beside
 *                           (RNNModel(...).load_state_dict(load_file(out)) takes it unchanged)
 *   any other model         nn.RNN/LSTM/GRU's own names (weight_ih_l0 …; nn.LSTM.load_state_dict
 *                           takes it unchanged), the read-out as head.weight/head.bias on request
 *
 * The metadata names the rnn_type (so a ReLU RNN is read back as one) and whether the read-out is tied.
 */

export interface ExportOptions {
  /** A run directory or its checkpoint.json. */
  checkpoint: string;
  /** The safetensors file to write. */
  out: string;
  /** A word LM's vocabulary file. Default: vocab.txt beside `out`. */
  vocabOut?: string;
  /** A tied read-out written once (safetensors' save_model form) instead of under both names. Default false. */
  dedupeTied?: boolean;
  /** Element type. Default 'F32'. */
  dtype?: WriteDtype;
  /** Models without a vocabulary: also write the read-out as head.weight [O, H], head.bias [O]. Default false. */
  withHead?: boolean;
  /** Replace files that exist. Default false. */
  overwrite?: boolean;
}

export interface ExportResult {
  checkpoint: string;
  step: number;
  weights: string;
  /** The vocabulary file written, or null (a model without one). */
  vocab: string | null;
  layout: 'RNNModel' | 'recurrent';
  rnnType: string;
  tied: boolean;
  dtype: WriteDtype;
  bytes: number;
}

function refuseExisting(path: string, overwrite: boolean): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) throw usageError(`${path} is a directory; name the file to write`);
  if (!overwrite) throw usageError((field) => `${path} exists; set ${field('overwrite')} to replace it`);
}

export async function exportRun(opts: ExportOptions): Promise<ExportResult> {
  const dtype = opts.dtype ?? 'F32';
  const ck = loadCheckpoint(opts.checkpoint);
  const { model, vocabulary } = ck;
  try {
    const config = model.config;
    const rnnType = rnnTypeOf(config.cell, config.nonlinearity);
    const vocab = vocabulary ? (opts.vocabOut ?? join(dirname(opts.out), 'vocab.txt')) : null;
    if (vocab === null && opts.vocabOut !== undefined)
      throw usageError((field) => `${ck.path} has no vocabulary for ${field('vocabOut')} (not a language model)`);
    if (vocabulary && opts.withHead)
      throw usageError((field) => `a word LM is written whole (decoder.*): no ${field('withHead')}`);
    if (vocab === opts.out) throw usageError(`the weights and the vocabulary would both be ${vocab}`);
    for (const path of [opts.out, vocab]) if (path !== null) refuseExisting(path, opts.overwrite ?? false);
    if (vocabulary && vocab !== null) {
      await exportWordLM(
        model,
        vocabulary,
        { weights: opts.out, vocab },
        { dedupeTied: opts.dedupeTied ?? false, dtype },
      );
    } else {
      const tensors = await recurrentTensors(model.layers);
      if (opts.withHead) {
        const [H, O] = [config.hiddenSize, config.outputSize];
        const wT = (await model.headW?.data()) as Float32Array; // [H, O]; a dense model is never tied
        const weight = new Float32Array(O * H);
        for (let h = 0; h < H; h++) for (let o = 0; o < O; o++) weight[o * H + h] = wT[h * O + o];
        tensors.set('head.weight', { shape: [O, H], data: weight });
        tensors.set('head.bias', { shape: [O], data: (await model.headB.data()) as Float32Array });
      }
      writeSafetensorsFile(opts.out, tensors, { dtype, metadata: { format: 'pt', [RNN_TYPE_KEY]: rnnType } });
    }
    return {
      checkpoint: ck.path,
      step: ck.step,
      weights: opts.out,
      vocab,
      layout: vocabulary ? 'RNNModel' : 'recurrent',
      rnnType,
      tied: config.tieWeights,
      dtype,
      bytes: statSync(opts.out).size,
    };
  } finally {
    model.dispose();
  }
}
