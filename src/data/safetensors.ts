/**
 * The safetensors file format (the PyTorch ecosystem's way to exchange weights without pickle):
 *
 *   8 bytes    N, a little-endian u64: the header's length
 *   N bytes    UTF-8 JSON: {"name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, …,
 *              "__metadata__": {"key": "value", …}}, starting with "{" and possibly padded with spaces
 *   the rest   the byte buffer; [begin, end) is relative to its start, little-endian, row-major
 *
 * Rules this reader enforces (those of the format's reference implementation): N ≤ 100 000 000 and
 * 8 + N within the file; the header valid UTF-8 and a JSON object with no key given twice; every
 * tensor's byte count = product(shape) × the dtype's size; the tensors, ordered by offset, tile the
 * buffer exactly: the first begins at 0, each begins where the previous ends (no overlap, no hole),
 * the last ends at the end of the file. A file that breaks one is refused with one line, before any
 * tensor byte is touched, so nothing is ever read past the file's end.
 *
 * F32 and F64 tensors come back as Float32Array / Float64Array views on the file's bytes when they
 * are aligned (a copy only when not); F16 and BF16 are widened to float32, exactly (every half and
 * bfloat16 value is a float32 value). Integer and 8-bit float dtypes are recognised but refused.
 *
 * Lives in src/data beside the other file formats (IDX for MNIST, text corpora): models do no I/O.
 */
import { readFileSync, statSync } from 'node:fs';
import { SeqlabError, inputError, oneLine } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';

/** The format's limit on the header's size (a defence against huge JSON). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export const READ_DTYPES = ['F32', 'F64', 'F16', 'BF16'] as const;
export type ReadDtype = (typeof READ_DTYPES)[number];
export const WRITE_DTYPES = ['F32', 'F64'] as const;
export type WriteDtype = (typeof WRITE_DTYPES)[number];

/** A tensor as read: its dtype in the file, its shape, and its values (F16/BF16 widened to float32). */
export interface SafeTensor {
  dtype: ReadDtype;
  shape: number[];
  data: Float32Array | Float64Array; // row-major
}

export interface SafetensorsContents {
  /** In header order. */
  tensors: Map<string, SafeTensor>;
  /** The header's "__metadata__" (string → string); {} when absent. */
  metadata: Record<string, string>;
}

/** A tensor to write: any numbers, row-major, product(shape) of them. */
export interface TensorToWrite {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export interface WriteOptions {
  /** Element type of every tensor. Default 'F32'. */
  dtype: WriteDtype;
  /** Free-form strings stored as "__metadata__". Default {}. */
  metadata: Record<string, string>;
}

export const WRITE_DEFAULTS: Readonly<WriteOptions> = { dtype: 'F32', metadata: {} };

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface Entry {
  name: string;
  dtype: ReadDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Every key of every object of a (valid) JSON text, checked for repeats: JSON.parse keeps the last silently. */
function assertNoDuplicateKeys(text: string, fail: (msg: string) => never): void {
  const open: Set<string>[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '{') open.push(new Set());
    else if (ch === '}') open.pop();
    else if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      let k = j + 1;
      while (k < text.length && (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r')) k++;
      if (text[k] === ':') {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = open[open.length - 1];
        if (keys.has(key)) fail(`the header lists ${JSON.stringify(key)} twice`);
        keys.add(key);
      }
      i = j;
    }
    i++;
  }
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parse and check the header; returns the entries sorted by offset and the data's start in `bytes`. */
function readHeader(
  bytes: Uint8Array,
  source: string,
): { entries: Entry[]; metadata: Record<string, string>; dataStart: number } {
  const fail = (msg: string): never => {
    throw inputError(`${source} is not a valid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`it has ${bytes.length} bytes, fewer than the 8 of the header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the format's limit of ${MAX_HEADER_BYTES} bytes`);
  const headerBytes = Number(n);
  if (8 + headerBytes > bytes.length) {
    fail(`header length ${headerBytes} runs past the end of the file (${bytes.length} bytes)`);
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerBytes));
  } catch {
    fail('the header is not valid UTF-8');
  }
  const trimmed = text.replace(/ +$/, '');
  if (!trimmed.startsWith('{')) fail('the header does not start with "{"');
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch (e) {
    fail(`the header is not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('the header is not a JSON object');
  assertNoDuplicateKeys(trimmed, fail);

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('"__metadata__" is not an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" value of ${JSON.stringify(k)} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const what = `tensor ${JSON.stringify(name)}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not an object`);
    const info = value as Record<string, unknown>;
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      fail(`${what} has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!(READ_DTYPES as readonly string[]).includes(dtype as string)) {
      fail(`${what} has dtype ${dtype}; seqlab reads ${READ_DTYPES.join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      fail(`${what} has a shape that is not a list of sizes ≥ 0`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      fail(`${what} has "data_offsets" that are not [begin, end] byte offsets`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) fail(`${what} has data_offsets [${begin}, ${end}] that end before they begin`);
    const dataBytes = bytes.length - 8 - headerBytes;
    if (end > dataBytes) fail(`${what} has data_offsets [${begin}, ${end}] outside the data (${dataBytes} bytes)`);
    // product(shape) ≤ end − begin ≤ file size, checked as it grows so it cannot overflow; a size 0
    // anywhere makes it 0 however large the others ([2^40, 0] is an empty tensor, as [0] is)
    let count = (shape as number[]).includes(0) ? 0 : 1;
    for (const d of shape as number[]) {
      if (count === 0 || count > dataBytes) break;
      count *= d;
    }
    const size = DTYPE_BYTES[dtype as string];
    if (count * size !== end - begin) {
      const dims = shape as number[];
      const declared = dims.reduce((a, b) => a * b, 1) * size;
      fail(
        `${what} has shape [${dims.join(', ')}] (${dtype}: ${declared} bytes) ` +
          `but data_offsets [${begin}, ${end}] hold ${end - begin} bytes`,
      );
    }
    entries.push({ name, dtype: dtype as ReadDtype, shape: [...(shape as number[])], begin, end });
  }

  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    if (e.begin < at) {
      fail(
        `tensors ${JSON.stringify(sorted[i - 1].name)} and ${JSON.stringify(e.name)} overlap (bytes ${e.begin}–${at})`,
      );
    }
    if (e.begin > at) {
      fail(`bytes ${at}–${e.begin} of the data belong to no tensor (a hole before ${JSON.stringify(e.name)})`);
    }
    at = e.end;
  }
  const dataBytes = bytes.length - 8 - headerBytes;
  if (at !== dataBytes) {
    fail(
      `the tensors end at byte ${at} of the data but the file holds ${dataBytes} ` +
        `(${dataBytes - at} bytes belong to no tensor)`,
    );
  }
  return { entries, metadata, dataStart: 8 + headerBytes };
}

/** Half-precision bits → float32 bits, exactly (subnormal halves become normal float32s). */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (mant << 13); // ±Inf, NaN (payload kept)
  if (exp !== 0) return sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 → 127
  if (mant === 0) return sign; // ±0
  // subnormal: mant·2^-24; shift the leading 1 up to bit 10, lowering the exponent once per shift
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return sign | (e << 23) | ((mant & 0x3ff) << 13);
}

let halfTable: Uint32Array | null = null;

function decode(bytes: Uint8Array, start: number, entry: Entry): Float32Array | Float64Array {
  const offset = bytes.byteOffset + start + entry.begin;
  const nbytes = entry.end - entry.begin;
  const n = nbytes / DTYPE_BYTES[entry.dtype];
  switch (entry.dtype) {
    case 'F32':
    case 'F64': {
      const Ctor = entry.dtype === 'F32' ? Float32Array : Float64Array;
      if (!IS_LITTLE_ENDIAN) {
        const view = new DataView(bytes.buffer, offset, nbytes);
        const out = new Ctor(n);
        for (let i = 0; i < n; i++) {
          out[i] = entry.dtype === 'F32' ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
        }
        return out;
      }
      const buffer = bytes.buffer as ArrayBuffer; // a file's bytes are never a SharedArrayBuffer
      if (offset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(buffer, offset, n);
      return new Ctor(buffer.slice(offset, offset + nbytes));
    }
    case 'F16':
    case 'BF16': {
      const view = new DataView(bytes.buffer, offset, nbytes);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      if (entry.dtype === 'BF16') {
        for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16; // bfloat16 = float32's top half
      } else {
        if (!halfTable) halfTable = Uint32Array.from({ length: 65536 }, (_, h) => halfToFloatBits(h));
        for (let i = 0; i < n; i++) bits[i] = halfTable[view.getUint16(2 * i, true)];
      }
      return out;
    }
  }
}

/** Parse a whole safetensors file held in memory; every way it can lie is one line naming `source`. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  const { entries, metadata, dataStart } = readHeader(bytes, source);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(bytes, dataStart, e) });
  return { tensors, metadata };
}

/** Read a .safetensors file with one read. */
export function readSafetensorsFile(path: string): SafetensorsContents {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw inputError(`safetensors path is a directory, not a file: ${path}`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof SeqlabError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw inputError(`safetensors file not found: ${path}`);
    throw new SeqlabError('io', `cannot read safetensors file ${path}: ${err.message}`);
  }
  return parseSafetensors(bytes, path);
}

/**
 * The bytes of a safetensors file holding `tensors` (in the given order) as F32 or F64. The header is
 * padded with spaces to a multiple of 8 bytes, so every tensor starts aligned for its dtype.
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  options: Partial<WriteOptions> = {},
): Uint8Array {
  const opts: Readonly<WriteOptions> = { ...WRITE_DEFAULTS, ...options };
  if (!(WRITE_DTYPES as readonly string[]).includes(opts.dtype)) {
    throw new SeqlabError(
      'usage',
      `cannot write dtype ${JSON.stringify(opts.dtype)}; use ${WRITE_DTYPES.join(' or ')}`,
    );
  }
  const list: [string, TensorToWrite][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const size = DTYPE_BYTES[opts.dtype];
  const header: Record<string, unknown> = {};
  const metadata = Object.entries(opts.metadata);
  for (const [k, v] of metadata) if (typeof v !== 'string') throw new Error(`metadata value of ${k} must be a string`);
  if (metadata.length > 0) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '' || name === '__metadata__') throw new Error(`cannot name a tensor ${JSON.stringify(name)}`);
    if (!t.shape.every((d) => isNonNegativeInt(d))) {
      throw new Error(`tensor ${name}: shape [${t.shape.join(', ')}] is not a list of sizes`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      throw new Error(`tensor ${name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
    header[name] = { dtype: opts.dtype, shape: [...t.shape], data_offsets: [offset, offset + count * size] };
    offset += count * size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded); // pad with spaces: the data starts 8-aligned
  const body = new DataView(out.buffer, 8 + padded);
  let at = 0;
  for (const [, t] of list) {
    const d = t.data;
    if (IS_LITTLE_ENDIAN) {
      // typed-array set() rounds to the element type (float64 → float32: to nearest, ties to even)
      new (opts.dtype === 'F32' ? Float32Array : Float64Array)(out.buffer, 8 + padded + at, d.length).set(d);
    } else {
      for (let i = 0; i < d.length; i++) {
        if (opts.dtype === 'F32') body.setFloat32(at + 4 * i, d[i], true);
        else body.setFloat64(at + 8 * i, d[i], true);
      }
    }
    at += d.length * size;
  }
  return out;
}

/** Write a .safetensors file atomically (temporary file, then rename). */
export function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  options: Partial<WriteOptions> = {},
): void {
  const bytes = serializeSafetensors(tensors, options);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SeqlabError('io', `cannot write safetensors file ${path}: ${(e as Error).message}`);
  }
}
