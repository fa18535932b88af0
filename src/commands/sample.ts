import * as tf from '@tensorflow/tfjs';
import { createTokenizer, TOKENIZER_NAMES, type TokenizerName } from '../data/tokenize.js';
import { EOS, UNK } from '../data/vocab.js';
import { pythonSplit } from '../data/word-lm-corpus.js';
import { usageError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { type LanguageModelSource, loadLanguageModel } from '../training/torch-checkpoint.js';

/**
 * `seqlab sample`: generate text from a language-model checkpoint. The prompt is
 * tokenized as the training corpus was, fed through the model, then each next word is
 * drawn from softmax(logits / temperature) (optionally only among the top k), by the
 * seeded Rng, so the same seed gives the same text.
 */
export interface SampleOptions {
  /** A seqlab run directory or checkpoint.json of an lm run; or `weights` and `vocab`. */
  checkpoint?: string;
  /** PyTorch's word_language_model RNNModel as safetensors (the prompt is split on whitespace, as its data.py). */
  weights?: string;
  /** The vocabulary file of `weights`: one word a line, in id order. */
  vocab?: string;
  prompt: string;
  length: number;
  temperature: number;
  topK: number | null;
  seed: number;
}

export interface SampleResult {
  prompt: string[];
  tokens: string[];
  text: string;
  /** The checkpoint or weights file sampled from. */
  checkpoint: string;
  /** The checkpoint's step; null for PyTorch weights. */
  step: number | null;
}

/** Draw an index from logits/temperature (top-k if given) with the Rng. Pure. */
export function drawToken(logits: Float32Array, temperature: number, topK: number | null, rng: Rng): number {
  let idx = Array.from(logits.keys());
  if (topK !== null && topK < idx.length) idx = idx.sort((a, b) => logits[b] - logits[a]).slice(0, topK);
  let max = -Infinity;
  for (const i of idx) max = Math.max(max, logits[i]);
  const w = idx.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let u = rng.uniform() * total;
  for (let j = 0; j < idx.length; j++) {
    u -= w[j];
    if (u <= 0) return idx[j];
  }
  return idx[idx.length - 1];
}

/**
 * The prompt as the model's training text was read: a seqlab model's corpus tokenizer, or
 * word_language_model's split on whitespace (its data.py) for PyTorch's files.
 */
function promptTokens(prompt: string, taskConfig: Record<string, unknown> | null): string[] {
  if (taskConfig === null) return pythonSplit(prompt);
  const cfg = taskConfig as { tokenizer?: string; lowercase?: boolean };
  const name = (TOKENIZER_NAMES as readonly string[]).includes(String(cfg.tokenizer))
    ? (cfg.tokenizer as TokenizerName)
    : 'whitespace';
  return createTokenizer({ name, lowercase: Boolean(cfg.lowercase) }).tokenize(prompt);
}

/** The model a sample run reads: a checkpoint, or PyTorch weights with their vocabulary. */
function modelSource(opts: SampleOptions): LanguageModelSource {
  if (opts.checkpoint !== undefined && opts.weights === undefined && opts.vocab === undefined)
    return { checkpoint: opts.checkpoint };
  if (opts.checkpoint === undefined && opts.weights !== undefined && opts.vocab !== undefined)
    return { weights: opts.weights, vocab: opts.vocab };
  throw usageError(
    (field) =>
      `sample needs a ${field('checkpoint')}, or ${field('weights')} with their ${field('vocab')} file ` +
      '(one of the two)',
  );
}

export async function sampleRun(opts: SampleOptions): Promise<SampleResult> {
  if (!(opts.temperature > 0) || !Number.isFinite(opts.temperature))
    throw usageError((field) => `${field('temperature')} must be > 0, got ${opts.temperature}`);
  const source = modelSource(opts);
  const lm = loadLanguageModel(source);
  try {
    const vocab = lm.vocabulary;
    if (opts.prompt.trim() === '' && vocab.eosId === null)
      throw usageError((field) => `the vocabulary has no ${EOS} to start from: give a ${field('prompt')}`);
    const prompt = opts.prompt.trim() === '' ? [EOS] : promptTokens(opts.prompt, lm.taskConfig);
    const ids = Array.from(vocab.encode(prompt));
    const rng = new Rng(opts.seed);
    const model = lm.model;
    let state = model.initState(1);
    const out: string[] = [];
    let logits: Float32Array | null = null;
    const feed = (id: number) => {
      const next = tf.tidy(() => {
        const xs = model.embed(tf.tensor2d([id], [1, 1], 'int32'));
        const { final, tops } = model.run(xs, state);
        return { final, logits: model.head(tops[0]) };
      });
      tf.dispose(state.flat());
      state = next.final;
      logits = next.logits.dataSync() as Float32Array;
      next.logits.dispose();
    };
    for (const id of ids) feed(id);
    for (let i = 0; i < opts.length; i++) {
      const id = drawToken(logits as unknown as Float32Array, opts.temperature, opts.topK, rng);
      out.push(vocab.tokens[id]);
      feed(id);
    }
    tf.dispose(state.flat());
    const text = [...prompt, ...out]
      .map((t) => (t === EOS ? '\n' : t === UNK ? '<unk>' : t))
      .join(' ')
      .replace(/ \n /g, '\n');
    return { prompt, tokens: out, text, checkpoint: lm.source, step: lm.step };
  } finally {
    lm.model.dispose();
  }
}
