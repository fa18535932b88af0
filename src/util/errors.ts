/**
 * User mistakes are SeqlabErrors: a code and a one-line, fix-it message. The CLI
 * prints only the message and exits with the code's exit status. Bugs stay plain Errors.
 */
export type ErrorCode = 'usage' | 'input' | 'diverged' | 'io';

export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  usage: 2, // bad option or value on the command line
  input: 3, // a file or its contents are wrong
  diverged: 4, // training produced NaN/Inf
  io: 5, // could not read or write
};

export class SeqlabError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SeqlabError';
  }
}

export function usageError(message: string): SeqlabError {
  return new SeqlabError('usage', message);
}

export function inputError(message: string): SeqlabError {
  return new SeqlabError('input', message);
}

/** An option value as typed: NaN and Infinity as such (JSON.stringify would say null). */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** A positive integer option, or a usage error naming the option. */
export function positiveInt(name: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw usageError(`${name} must be a positive integer, got ${shown(value)}`);
  }
  return n;
}

/** A non-negative integer option. */
export function nonNegativeInt(name: string, value: unknown): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw usageError(`${name} must be a non-negative integer, got ${shown(value)}`);
  }
  return n;
}

/** A finite number option, optionally bounded below (exclusive when `strict`). */
export function finiteNumber(name: string, value: unknown, min?: number, strict = false): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw usageError(`${name} must be a finite number, got ${shown(value)}`);
  }
  if (min !== undefined && (strict ? n <= min : n < min)) {
    throw usageError(`${name} must be ${strict ? '>' : '>='} ${min}, got ${n}`);
  }
  return n;
}

/** One of a fixed set of names, or a usage error listing them. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`unknown ${name} ${JSON.stringify(value)}; use ${allowed.join(', ')}`);
}
