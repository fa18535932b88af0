import { readTextFile } from '../data/corpus.js';
import { readWordLMCorpus, wordLMTokens } from '../data/word-lm-corpus.js';
import type { Nonlinearity } from '../models/activations.js';
import type { CellKind } from '../models/registry.js';
import { type LanguageModelSource, loadLanguageModel } from '../training/torch-checkpoint.js';
import { WORD_LM_EVAL_DEFAULTS, type WordLMEvalOptions, evaluateWordLM } from '../training/word-lm-eval.js';
import { usageError } from '../util/errors.js';

/**
 * `seqlab eval-lm`: the perplexity of a word language model (a seqlab checkpoint, or PyTorch's
 * word_language_model as safetensors + vocabulary file) on text read as word_language_model reads
 * it (words, <eos> at the end of every line, blank ones included), batched as its evaluate() does:
 * so a model trained in PyTorch gets here the perplexity PyTorch printed for it.
 */

export const EVAL_SPLITS = ['train', 'valid', 'test'] as const;
export type EvalSplit = (typeof EVAL_SPLITS)[number];

export interface EvalLMOptions extends WordLMEvalOptions {
  model: LanguageModelSource;
  /** A word_language_model data directory (train.txt, valid.txt, test.txt); or `text`. */
  corpus?: string;
  /** Which splits of `corpus`. Default ['valid', 'test']. */
  splits?: readonly EvalSplit[];
  /** One text file, instead of a corpus directory. */
  text?: string;
  /** PyTorch files: the cell the shapes must show, and a plain RNN's φ (else its metadata's, else tanh). */
  cell?: CellKind;
  nonlinearity?: Nonlinearity;
}

export interface EvalLMRow {
  /** The split name, or the text file. */
  name: string;
  /** Tokens read (words and <eos>). */
  tokens: number;
  /** Predictions scored: batchSize × (⌊tokens / batchSize⌋ − 1). */
  predicted: number;
  /** Fraction of the tokens that became <unk> (words outside the vocabulary). */
  unkRate: number;
  loss: number;
  perplexity: number;
}

export interface EvalLMResult {
  model: string;
  vocabSize: number;
  params: number;
  batchSize: number;
  bptt: number;
  rows: EvalLMRow[];
  elapsedMs: number;
}

export async function evalLMRun(opts: EvalLMOptions): Promise<EvalLMResult> {
  if ((opts.corpus === undefined) === (opts.text === undefined))
    throw usageError((field) => `give ${field('corpus')} (a directory) or ${field('text')} (a file), one of them`);
  const batchSize = opts.batchSize ?? WORD_LM_EVAL_DEFAULTS.batchSize;
  const bptt = opts.bptt ?? WORD_LM_EVAL_DEFAULTS.bptt;
  // read the text first: a wrong path fails before the model is built
  const texts: [string, string[]][] = [];
  if (opts.corpus !== undefined) {
    const splits = readWordLMCorpus(opts.corpus);
    for (const s of opts.splits ?? ['valid', 'test']) texts.push([s, splits[s]]);
  } else {
    texts.push([opts.text as string, wordLMTokens(readTextFile(opts.text as string, 'text file'))]);
  }
  const started = performance.now();
  const lm = loadLanguageModel(opts.model, { cell: opts.cell ?? null, nonlinearity: opts.nonlinearity ?? null });
  try {
    const rows: EvalLMRow[] = [];
    for (const [name, tokens] of texts) {
      const ids = lm.vocabulary.encode(tokens);
      const r = await evaluateWordLM(lm.model, ids, { batchSize, bptt, signal: opts.signal });
      const unkRate = lm.vocabulary.unkId === null ? 0 : lm.vocabulary.unkRate(tokens);
      rows.push({ name, tokens: tokens.length, predicted: r.tokens, unkRate, loss: r.loss, perplexity: r.perplexity });
    }
    return {
      model: lm.source,
      vocabSize: lm.vocabulary.size,
      params: lm.model.numParams(),
      batchSize,
      bptt,
      rows,
      elapsedMs: performance.now() - started,
    };
  } finally {
    lm.model.dispose();
  }
}
