import { describe, expect, it } from 'vitest';
import {
  SeqlabError,
  finiteNumber,
  nonNegativeInt,
  oneLine,
  positiveInt,
  usageError,
  type FieldNamer,
} from '../../src/util/errors.js';

// A SeqlabError's message names option fields by the library's names; messageWith spells them
// another way (the CLI: as flags) without touching the rest of the message.

const dashed: FieldNamer = (field) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function errorOf(fn: () => unknown): SeqlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    return e as SeqlabError;
  }
  throw new Error('expected a SeqlabError');
}

describe('SeqlabError', () => {
  it('a plain message names no fields and reads the same whatever the namer', () => {
    const e = new SeqlabError('input', 'weights file not found: w.json');
    expect(e.message).toBe('weights file not found: w.json');
    expect(e.fields).toEqual([]);
    expect(e.messageWith(dashed)).toBe(e.message);
  });

  it('a composed message names its fields by their own names, in order, and messageWith respells only them', () => {
    const e = usageError((field) => `${field('seqLen')} does not apply to the lm task; use ${field('bptt')} (seqLen)`);
    expect(e.code).toBe('usage');
    expect(e.message).toBe('seqLen does not apply to the lm task; use bptt (seqLen)');
    expect(e.fields).toEqual(['seqLen', 'bptt']);
    // the literal "(seqLen)" is text, not a field: it stays
    expect(e.messageWith(dashed)).toBe('--seq-len does not apply to the lm task; use --bptt (seqLen)');
  });

  it('a wrapping error keeps the fields of the one it wraps', () => {
    const inner = usageError((field) => `${field('evalSize')} must be a positive integer, got 0`);
    const outer = new SeqlabError('input', (field) => `sweep configuration "a": ${inner.messageWith(field)}`);
    expect(outer.message).toBe('sweep configuration "a": evalSize must be a positive integer, got 0');
    expect(outer.fields).toEqual(['evalSize']);
    expect(outer.messageWith(dashed)).toBe('sweep configuration "a": --eval-size must be a positive integer, got 0');
  });
});

describe('option checks name the option they were given', () => {
  it.each([
    [() => positiveInt('seqLen', 0), 'seqLen must be a positive integer, got 0', '--seq-len'],
    [() => positiveInt('batchSize', '2.5'), 'batchSize must be a positive integer, got "2.5"', '--batch-size'],
    [() => nonNegativeInt('maxDepth', -1), 'maxDepth must be a non-negative integer, got -1', '--max-depth'],
    [() => finiteNumber('lr', Number.NaN), 'lr must be a finite number, got NaN', '--lr'],
    [() => finiteNumber('lr', 0, 0, true), 'lr must be > 0, got 0', '--lr'],
  ])('%#: %s', (fn, message, flag) => {
    const e = errorOf(fn);
    expect(e.code).toBe('usage');
    expect(e.message).toBe(message);
    expect(e.fields).toHaveLength(1);
    expect(e.messageWith(dashed)).toBe(message.replace(e.fields[0], flag));
  });

  it('values that pass come back as numbers', () => {
    expect(positiveInt('seqLen', '12')).toBe(12);
    expect(nonNegativeInt('maxDepth', 0)).toBe(0);
    expect(finiteNumber('lr', '0.5', 0, true)).toBe(0.5);
  });
});

describe("oneLine: what a message may quote of an engine's message", () => {
  it('keeps the first line and escapes every other control character but tab', () => {
    expect(oneLine('Unexpected token\nat line 2')).toBe('Unexpected token');
    expect(oneLine('a\rb\u001b[31mc\td\u2028e\u0085f\fg\u007f')).toBe(
      'a\\rb\\u001b[31mc\td\\u2028e\\u0085f\\u000cg\\u007f',
    );
    expect(oneLine('plain text, é, 𥋂')).toBe('plain text, é, 𥋂');
  });
});
