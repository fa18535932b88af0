import * as tf from '@tensorflow/tfjs';
import type { SequenceModel } from '../models/model.js';
import { loadLexicon } from '../tasks/agreement/lexicon.js';
import type { Vocabulary } from '../data/vocab.js';
import { jacobianNorms, type JacobianMode } from '../training/gradflow.js';
import { usageError } from '../util/errors.js';

/**
 * "Inspect a sentence": a model trained on the agreement probe reads a typed sentence;
 * after each word w_t it says singular or plural (softmax of the read-out of h_t), and
 * ‖∂h_T/∂h_t‖ says how much the state after the last word still depends on the state
 * after word t, in particular on the subject.
 */
export interface WordReading {
  word: string;
  /** p(plural | w_1..w_t). */
  pPlural: number;
  /** ‖∂h_T/∂h_t‖ (spectral; LSTM per the mode), null for the last word (the identity). */
  flow: number | null;
  /** The subject's number when this word is the subject head (the first noun), else null. */
  subject: 'sg' | 'pl' | null;
}

export const EXAMPLE_SENTENCE = 'os homens que usavam uma peruca';

/** Words of `text` (lower-cased, punctuation dropped) as vocabulary ids; a user mistake is a one-line SeqlabError. */
export function sentenceIds(text: string, vocab: Vocabulary): { words: string[]; ids: number[] } {
  const words = text
    .toLowerCase()
    .replace(/[.,;:!?"“”«»()]/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) throw usageError(`type a sentence first, e.g. "${EXAMPLE_SENTENCE}"`);
  const known = new Set(vocab.tokens.slice(2)); // not <unk>, <eos>
  const unknown = words.filter((w) => !known.has(w));
  if (unknown.length > 0) {
    const list = [...new Set(unknown)].map((w) => `"${w}"`).join(', ');
    throw usageError(
      `unknown word${unknown.length > 1 ? 's' : ''} ${list}: the probe knows only its generator's ` +
        `${known.size} words; try "${EXAMPLE_SENTENCE}"`,
    );
  }
  return { words, ids: words.map((w) => vocab.id(w)) };
}

/** Read `text` with `model` (one layer or more; the top layer's Jacobians). */
export async function readSentence(
  model: SequenceModel,
  vocab: Vocabulary,
  text: string,
  mode: JacobianMode,
): Promise<WordReading[]> {
  const { words, ids } = sentenceIds(text, vocab);
  const T = ids.length;
  const V = vocab.size;
  if (model.config.inputSize !== V || model.config.outputSize !== 2)
    throw usageError(
      'this model was not trained on the agreement probe (number prediction); train one with task "agreement"',
    );
  const onehot = new Float32Array(T * V);
  ids.forEach((id, t) => {
    onehot[t * V + id] = 1;
  });
  const xs = tf.tensor3d(onehot, [T, 1, V]); // [T, batch 1, V]
  try {
    const probs = tf.tidy(() => {
      const { tops } = model.run(xs, model.initState(1));
      return tf.softmax(model.head(tf.concat(tops, 0))); // [T, 2]
    });
    const p = await probs.data();
    probs.dispose();
    const top = model.layers.length - 1;
    let flows: (number | null)[] = [];
    if (top === 0) {
      const jac = await jacobianNorms(model.layers[0], xs, undefined, { mode });
      // rows[gap − 1] is ∂h_T/∂h_k with k = T − gap; word t (1-based) left h_t, so gap = T − t
      flows = words.map((_, i) => (i + 1 === T ? null : jac.rows[T - (i + 1) - 1].spectral));
    } else {
      flows = words.map(() => null);
    }
    const lex = loadLexicon();
    const numberOf = new Map<string, 'sg' | 'pl'>();
    for (const n of lex.nouns) {
      numberOf.set(n.sg, 'sg');
      numberOf.set(n.pl, 'pl');
    }
    const subjectIndex = words.findIndex((w) => numberOf.has(w));
    return words.map((word, i) => ({
      word,
      pPlural: p[2 * i + 1],
      flow: flows[i],
      subject: i === subjectIndex ? numberOf.get(word)! : null,
    }));
  } finally {
    xs.dispose();
  }
}
