/**
 * User mistakes are SeqlabErrors: a code and a one-line, fix-it message. A message names
 * options by the library's fields (seqLen); the CLI prints it with each field spelled as its
 * flag (--seq-len: cli/options.ts, FIELD_FLAGS) and exits with the code's exit status.
 * Bugs stay plain Errors.
 */
export type ErrorCode = 'usage' | 'input' | 'diverged' | 'io' | 'interrupted';

export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  usage: 2, // bad option or value on the command line
  input: 3, // a file or its contents are wrong
  diverged: 4, // training produced NaN/Inf
  io: 5, // could not read or write
  interrupted: 130, // stopped by SIGINT (Ctrl-C); SIGTERM: 143 (128 + the signal's number, as shells report it)
};

/**
 * Spells an option field in a message. The library spells each field by its own name (seqLen);
 * the CLI passes its table of flags (--seq-len), so one message serves both.
 */
export type FieldNamer = (field: string) => string;

/** A message, or a message that names option fields through `field` (a pure function of it). */
export type ErrorMessage = string | ((field: FieldNamer) => string);

export class SeqlabError extends Error {
  /** The options the message names through its namer, in order: the library's fields (a CLI check's flags). */
  readonly fields: readonly string[];
  private readonly compose: (field: FieldNamer) => string;

  constructor(
    readonly code: ErrorCode,
    message: ErrorMessage,
  ) {
    const compose = typeof message === 'string' ? () => message : message;
    const fields: string[] = [];
    super(
      compose((f) => {
        fields.push(f);
        return f;
      }),
    );
    this.name = 'SeqlabError';
    this.fields = fields;
    this.compose = compose;
  }

  /** The message with every field it names spelled by `field` (the CLI: each field's flag). */
  messageWith(field: FieldNamer): string {
    return this.compose(field);
  }
}

/** The signals that ask seqlab to stop cleanly. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Exit status after a stop by `signal`: 128 + its number, as a shell reports a process it ended. */
export const SIGNAL_EXIT_CODES: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Work stopped on request (Ctrl-C, SIGTERM) after it saved what it could; the message says how to go on. */
export class Interrupted extends SeqlabError {
  constructor(
    readonly signal: StopSignal,
    message: ErrorMessage,
    /** The checkpoint written on the way out, if any. */
    readonly saved: string | null = null,
  ) {
    super('interrupted', message);
    this.name = 'Interrupted';
  }
}

/** The signal behind an AbortSignal's reason (the CLI aborts with the signal's name; anything else reads as Ctrl-C). */
export function stopSignalOf(reason: unknown): StopSignal {
  return reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
}

/** The exit status of a SeqlabError: its code's, or the stopping signal's. */
export function exitCodeOf(e: SeqlabError): number {
  return e instanceof Interrupted ? SIGNAL_EXIT_CODES[e.signal] : EXIT_CODES[e.code];
}

export function usageError(message: ErrorMessage): SeqlabError {
  return new SeqlabError('usage', message);
}

export function inputError(message: ErrorMessage): SeqlabError {
  return new SeqlabError('input', message);
}

/** An option value as typed: NaN and Infinity as such (JSON.stringify would say null). */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * A positive integer option, or a usage error naming it. `name` is the option's field (seqLen),
 * or, where the caller is the CLI, its flag (--seq-len).
 */
export function positiveInt(name: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw usageError((field) => `${field(name)} must be a positive integer, got ${shown(value)}`);
  }
  return n;
}

/** A non-negative integer option (`name` as for positiveInt). */
export function nonNegativeInt(name: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw usageError((field) => `${field(name)} must be a non-negative integer, got ${shown(value)}`);
  }
  return n;
}

/** A finite number option, optionally bounded below (exclusive when `strict`; `name` as for positiveInt). */
export function finiteNumber(name: string, value: unknown, min?: number, strict = false): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw usageError((field) => `${field(name)} must be a finite number, got ${shown(value)}`);
  }
  if (min !== undefined && (strict ? n <= min : n < min)) {
    throw usageError((field) => `${field(name)} must be ${strict ? '>' : '>='} ${min}, got ${n}`);
  }
  return n;
}

/** One of a fixed set of names, or a usage error listing them. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`unknown ${name} ${JSON.stringify(value)}; use ${allowed.join(', ')}`);
}

/** A line break of any kind but \n (\r, \v, \f, U+0085, U+2028, U+2029), or another control character but tab. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * The first line of `text`, with every control character left in it written as an escape (\r,
 * \u001b): what a message may quote of an engine's or a library's own message. JSON.parse's
 * quotes the text it failed on ("Unexpected token '\f', …"), which may hold a carriage return
 * or an escape sequence that a terminal would act on.
 */
export function oneLine(text: string): string {
  return text
    .split('\n')[0]
    .replace(CONTROL, (c) => (c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
