/**
 * A word vocabulary: token ↔ id, with <unk> (id 0) and <eos> (id 1) reserved and the other
 * words ordered by training count, most frequent first, ties broken by the token string
 * (UTF-16 code-unit order, the same on every machine and locale).
 *
 * A vocabulary travels with what was trained on it: toJSON() goes into a checkpoint, and
 * its fingerprint (a hash of the token list) tells a model that its ids mean other words.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { inputError, usageError } from '../util/errors.js';

export const UNK = '<unk>';
export const EOS = '<eos>';
export const UNK_ID = 0;
export const EOS_ID = 1;
const RESERVED = [UNK, EOS] as const;

export interface VocabOptions {
  /** Keep words seen at least this often in the training stream. Default 1. */
  minCount: number;
  /** Cap on the vocabulary size, <unk> and <eos> included; null = no cap. Default null. */
  maxSize: number | null;
}

export const VOCAB_DEFAULTS: Readonly<VocabOptions> = { minCount: 1, maxSize: null };

/** The saved form: `tokens[id]` is the token with that id. */
export interface VocabularyJSON {
  format: 'seqlab-vocabulary';
  version: 1;
  size: number;
  fingerprint: string;
  tokens: string[];
}

export class Vocabulary {
  private readonly ids: Map<string, number>;
  /** sha256 of the token list (first 16 hex digits): equal fingerprints, equal id ↔ token maps. */
  readonly fingerprint: string;

  private constructor(readonly tokens: readonly string[]) {
    this.ids = new Map(tokens.map((t, i) => [t, i]));
    // sha256 in JS (not node:crypto): the browser lab builds vocabularies too
    this.fingerprint = bytesToHex(sha256(utf8ToBytes(JSON.stringify(tokens)))).slice(0, 16);
  }

  /**
   * Count the words of a training stream and keep those seen ≥ minCount times, the most
   * frequent first, up to maxSize ids in all. <unk> and <eos> in the stream are not
   * counted as words: they have their ids already.
   */
  static build(stream: Iterable<string>, options: Partial<VocabOptions> = {}): Vocabulary {
    const opts: Readonly<VocabOptions> = { ...VOCAB_DEFAULTS, ...options };
    if (!Number.isInteger(opts.minCount) || opts.minCount < 1)
      throw usageError((field) => `${field('minCount')} must be a positive integer, got ${opts.minCount}`);
    if (opts.maxSize !== null && (!Number.isInteger(opts.maxSize) || opts.maxSize < RESERVED.length + 1)) {
      throw usageError(
        `vocabulary size must be an integer ≥ ${RESERVED.length + 1} (<unk>, <eos> and one word), got ${opts.maxSize}`,
      );
    }
    const counts = new Map<string, number>();
    for (const t of stream) if (t !== UNK && t !== EOS) counts.set(t, (counts.get(t) ?? 0) + 1);
    const words = [...counts].filter(([, c]) => c >= opts.minCount);
    words.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const cap = opts.maxSize === null ? words.length : opts.maxSize - RESERVED.length;
    return new Vocabulary([...RESERVED, ...words.slice(0, cap).map(([w]) => w)]);
  }

  /** A vocabulary from its token list (ids in order); the list must start with <unk>, <eos>. */
  static fromTokens(tokens: readonly string[], what = 'vocabulary'): Vocabulary {
    if (tokens[UNK_ID] !== UNK || tokens[EOS_ID] !== EOS) {
      throw inputError(
        `${what} must start with "${UNK}", "${EOS}" (ids ${UNK_ID}, ${EOS_ID}), ` +
          `got ${JSON.stringify(tokens.slice(0, 2))}`,
      );
    }
    const seen = new Set<string>();
    tokens.forEach((t, i) => {
      if (typeof t !== 'string' || t === '') throw inputError(`${what} token ${i} is not a non-empty string`);
      if (seen.has(t)) throw inputError(`${what} lists ${JSON.stringify(t)} twice (ids ${tokens.indexOf(t)} and ${i})`);
      seen.add(t);
    });
    return new Vocabulary([...tokens]);
  }

  /** Check a saved vocabulary (e.g. the one in a checkpoint) and rebuild it; its fingerprint must match its tokens. */
  static fromJSON(json: unknown, what = 'vocabulary'): Vocabulary {
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw inputError(`${what} must be a JSON object with "tokens"`);
    const o = json as Partial<VocabularyJSON>;
    if (o.format !== undefined && o.format !== 'seqlab-vocabulary')
      throw inputError(`${what} has format ${JSON.stringify(o.format)}, expected "seqlab-vocabulary"`);
    if (o.version !== undefined && o.version !== 1)
      throw inputError(`${what} has version ${JSON.stringify(o.version)}; this seqlab reads version 1`);
    if (!Array.isArray(o.tokens)) throw inputError(`${what} has no "tokens" array`);
    const vocab = Vocabulary.fromTokens(o.tokens, what);
    if (o.size !== undefined && o.size !== vocab.size)
      throw inputError(`${what} says size ${o.size} but lists ${vocab.size} tokens`);
    if (o.fingerprint !== undefined && o.fingerprint !== vocab.fingerprint) {
      throw inputError(
        `${what} fingerprint ${o.fingerprint} does not match its tokens (${vocab.fingerprint}): ` +
          'the file was edited or damaged',
      );
    }
    return vocab;
  }

  toJSON(): VocabularyJSON {
    return {
      format: 'seqlab-vocabulary',
      version: 1,
      size: this.size,
      fingerprint: this.fingerprint,
      tokens: [...this.tokens],
    };
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The id of `token`, or UNK_ID for a word outside the vocabulary. */
  id(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new RangeError(`token id ${id} outside the vocabulary (size ${this.size})`);
    return t;
  }

  /** Ids of a token stream; words outside the vocabulary become UNK_ID. */
  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) out[i] = this.ids.get(tokens[i]) ?? UNK_ID;
    return out;
  }

  decode(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.token(id));
  }

  /** Fraction of a token stream that encode() maps to <unk> (words outside the vocabulary and literal <unk>s). */
  unkRate(tokens: readonly string[]): number {
    if (tokens.length === 0) return 0;
    let n = 0;
    for (const t of tokens) if (!this.ids.has(t) || t === UNK) n++;
    return n / tokens.length;
  }

  /**
   * Throw one clear line unless `fingerprint` (stored beside a model) is this vocabulary's:
   * the model's ids would otherwise silently mean other words.
   */
  assertFingerprint(fingerprint: string, what = 'model'): void {
    if (fingerprint !== this.fingerprint) {
      throw inputError(
        `${what} was trained on vocabulary ${fingerprint}, not this one (${this.fingerprint}, ${this.size} tokens); ` +
          'use the vocabulary saved with it',
      );
    }
  }
}
