/**
 * A word vocabulary: token ↔ id, with <unk> (id 0) and <eos> (id 1) reserved and the other
 * words ordered by training count, most frequent first, ties broken by the token string
 * (UTF-16 code-unit order, the same on every machine and locale).
 *
 * A vocabulary travels with what was trained on it: toJSON() goes into a checkpoint, and
 * its fingerprint (a hash of the token list) tells a model that its ids mean other words.
 *
 * A vocabulary made elsewhere (word_language_model's Dictionary: words in order of first
 * appearance, <eos> wherever it first came, <unk> only if the text had one) keeps its own order
 * (fromWordList): its ids are the ones its model was trained with. Then unkId and eosId say
 * where those two are, and a word outside a vocabulary with no <unk> cannot be encoded.
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
  /** "given": the tokens keep an order of their own (fromWordList); absent: <unk>, <eos> first. */
  order?: 'given';
}

/** Characters Python's str.split() splits on (a vocabulary file's words can hold none of them). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+001C–U+001F are whitespace to Python's str.split()
export const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

export class Vocabulary {
  private readonly ids: Map<string, number>;
  /** sha256 of the token list (first 16 hex digits): equal fingerprints, equal id ↔ token maps. */
  readonly fingerprint: string;
  /** Where <unk> is (UNK_ID unless made by fromWordList), or null: the vocabulary has none. */
  readonly unkId: number | null;
  /** Where <eos> is (EOS_ID unless made by fromWordList), or null. */
  readonly eosId: number | null;

  private constructor(readonly tokens: readonly string[]) {
    this.ids = new Map(tokens.map((t, i) => [t, i]));
    // sha256 in JS (not node:crypto): the browser lab builds vocabularies too
    this.fingerprint = bytesToHex(sha256(utf8ToBytes(JSON.stringify(tokens)))).slice(0, 16);
    this.unkId = this.ids.get(UNK) ?? null;
    this.eosId = this.ids.get(EOS) ?? null;
  }

  /** True when <unk> and <eos> have seqlab's ids 0 and 1 (what the n-gram model assumes). */
  get hasReservedIds(): boolean {
    return this.unkId === UNK_ID && this.eosId === EOS_ID;
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

  /**
   * A vocabulary in someone else's order (word_language_model's Dictionary, a vocabulary file):
   * ids as listed, <unk> and <eos> wherever they are or absent. Words are non-empty, without
   * whitespace (one per line of a file that Python's split() reads back), and listed once.
   */
  static fromWordList(tokens: readonly string[], what = 'vocabulary'): Vocabulary {
    if (tokens.length === 0) throw inputError(`${what} is empty`);
    const seen = new Map<string, number>();
    tokens.forEach((t, i) => {
      if (typeof t !== 'string' || t === '') throw inputError(`${what} token ${i} is not a non-empty string`);
      if (PY_WHITESPACE.test(t)) throw inputError(`${what} token ${i} (${JSON.stringify(t)}) contains whitespace`);
      const first = seen.get(t);
      if (first !== undefined) throw inputError(`${what} lists ${JSON.stringify(t)} twice (ids ${first} and ${i})`);
      seen.set(t, i);
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
    if (o.order !== undefined && o.order !== 'given')
      throw inputError(`${what} has order ${JSON.stringify(o.order)}, expected "given" or none`);
    const vocab = o.order === 'given' ? Vocabulary.fromWordList(o.tokens, what) : Vocabulary.fromTokens(o.tokens, what);
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
    const json: VocabularyJSON = {
      format: 'seqlab-vocabulary',
      version: 1,
      size: this.size,
      fingerprint: this.fingerprint,
      tokens: [...this.tokens],
    };
    return this.hasReservedIds ? json : { ...json, order: 'given' };
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The id of `token`, or unkId for a word outside the vocabulary (one clear line when there is no <unk>). */
  id(token: string): number {
    const id = this.ids.get(token) ?? this.unkId;
    if (id === null) throw this.unknownWord(token);
    return id;
  }

  private unknownWord(token: string): Error {
    return inputError(
      `the word ${JSON.stringify(token)} is not in the vocabulary (${this.size} words), ` +
        `which has no ${UNK} to stand for it`,
    );
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new RangeError(`token id ${id} outside the vocabulary (size ${this.size})`);
    return t;
  }

  /** Ids of a token stream; words outside the vocabulary become unkId (an error when there is none). */
  encode(tokens: readonly string[]): Int32Array {
    const out = new Int32Array(tokens.length);
    const unk = this.unkId ?? -1;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.ids.get(tokens[i]) ?? unk;
      if (id < 0) throw this.unknownWord(tokens[i]);
      out[i] = id;
    }
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
