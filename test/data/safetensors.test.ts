import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
} from '../../src/data/safetensors.js';
import { SeqlabError } from '../../src/util/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');

/** A file by hand, as the format describes it: u64 LE header length, the header text, the data. */
function fileOf(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const text = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  for (const [i, v] of values.entries()) view.setUint16(2 * i, v, true);
  return out;
}

/** The error parseSafetensors throws, checked to be one input-error line. */
function refusal(bytes: Uint8Array): string {
  try {
    parseSafetensors(bytes, 'w.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as SeqlabError).code).toBe('input');
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith('w.safetensors is not a valid safetensors file: ')).toBe(true);
    return msg;
  }
  throw new Error('expected the file to be refused');
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});

describe('safetensors: reading files made by hand', () => {
  it('reads F32 tensors at their offsets, in any header order, with metadata and space padding', () => {
    const header = JSON.stringify({
      b: entry('F32', [3], 8, 20),
      __metadata__: { format: 'pt', note: 'é' },
      a: entry('F32', [2, 1], 0, 8),
    });
    const padded = header + ' '.repeat((8 - ((header.length + 2) % 8)) % 8); // 'é' is 2 bytes in UTF-8
    const { tensors, metadata } = parseSafetensors(fileOf(padded, f32Bytes([1, 2, 3, 4, 5])));
    expect(metadata).toEqual({ format: 'pt', note: 'é' });
    expect([...tensors.keys()]).toEqual(['b', 'a']);
    expect(tensors.get('a')).toMatchObject({ dtype: 'F32', shape: [2, 1] });
    expect(Array.from(tensors.get('a')!.data)).toEqual([1, 2]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([3, 4, 5]);
  });

  it('gives aligned F32/F64 data as views on the file bytes, and copies only unaligned data', () => {
    const text = JSON.stringify({ x: entry('F32', [2], 0, 8) });
    const aligned = fileOf(text.padEnd(Math.ceil(text.length / 8) * 8, ' '), f32Bytes([0.5, -1.5]));
    const a = parseSafetensors(aligned).tensors.get('x')!.data;
    expect(a.buffer).toBe(aligned.buffer);
    const odd = JSON.stringify({ x: entry('F32', [2], 0, 8) }); // unpadded: the data starts at 8 + length
    expect((8 + odd.length) % 4).not.toBe(0);
    const unaligned = fileOf(odd, f32Bytes([0.5, -1.5]));
    const u = parseSafetensors(unaligned).tensors.get('x')!.data;
    expect(u.buffer).not.toBe(unaligned.buffer);
    expect(Array.from(u)).toEqual([0.5, -1.5]);
    const f64 = new Uint8Array(Float64Array.from([Math.PI, -1e-300]).buffer);
    const d = parseSafetensors(fileOf(JSON.stringify({ y: entry('F64', [2], 0, 16) }), f64)).tensors.get('y')!;
    expect(d.data).toBeInstanceOf(Float64Array);
    expect(Array.from(d.data)).toEqual([Math.PI, -1e-300]);
  });

  it('accepts scalars (shape []) and empty tensors (a zero dimension, no bytes)', () => {
    const header = JSON.stringify({
      s: entry('F32', [], 0, 4),
      e: entry('F32', [0, 3], 4, 4),
      z: entry('F64', [2, 0], 4, 4),
    });
    const { tensors } = parseSafetensors(fileOf(header, f32Bytes([7])));
    expect(Array.from(tensors.get('s')!.data)).toEqual([7]);
    expect(tensors.get('e')!.data.length).toBe(0);
    expect(tensors.get('z')!.shape).toEqual([2, 0]);
    expect(parseSafetensors(fileOf('{}')).tensors.size).toBe(0);
  });

  it('an empty tensor with a huge dimension beside its 0 is empty too (found by test/fuzz)', () => {
    // the size check stopped multiplying once the product passed the file's size, before it met the 0,
    // and refused "[1099511627776, 0] (F32: 0 bytes) but data_offsets [0, 0] hold 0 bytes"
    const header = JSON.stringify({ e: entry('F32', [2 ** 40, 0], 0, 0), x: entry('F32', [1], 0, 4) });
    const { tensors } = parseSafetensors(fileOf(header, f32Bytes([1])));
    expect(tensors.get('e')!.shape).toEqual([2 ** 40, 0]);
    expect(tensors.get('e')!.data.length).toBe(0);
  });
});

describe('safetensors: F16 and BF16 are widened to float32 exactly', () => {
  it('F16 bit patterns by hand: normals, subnormals, ±0, ±Inf, NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125], // (1 + 341/1024) · 2^-2
      [0x7bff, 65504], // the largest half
      [0x0400, 2 ** -14], // the smallest normal
      [0x03ff, 1023 * 2 ** -24], // the largest subnormal
      [0x0001, 2 ** -24], // the smallest subnormal
      [0x8001, -(2 ** -24)],
      [0x0000, 0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const bits = [...cases.map(([b]) => b), 0x8000, 0x7e00];
    const header = JSON.stringify({ h: entry('F16', [bits.length], 0, 2 * bits.length) });
    const data = parseSafetensors(fileOf(header, u16Bytes(bits))).tensors.get('h')!.data;
    expect(data).toBeInstanceOf(Float32Array);
    for (const [i, [, v]] of cases.entries()) expect(data[i]).toBe(v);
    expect(Object.is(data[cases.length], -0)).toBe(true);
    expect(Number.isNaN(data[cases.length + 1])).toBe(true);
  });

  it('every one of the 65 536 half values equals (−1)^s · 2^(e−15) · (1 + m/1024) (subnormals m · 2^-24)', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const header = JSON.stringify({ h: entry('F16', [65536], 0, 131072) });
    const data = parseSafetensors(fileOf(header, u16Bytes(all))).tensors.get('h')!.data;
    let mismatches = 0;
    for (const h of all) {
      const s = h >> 15 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      const want =
        e === 31 ? (m === 0 ? s * Infinity : NaN) : e === 0 ? s * m * 2 ** -24 : s * 2 ** (e - 15) * (1 + m / 1024);
      if (!Object.is(data[h], want) && !(Number.isNaN(want) && Number.isNaN(data[h]))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('BF16 bit patterns by hand, and every pattern is the top half of a float32', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc0a0, -5],
      [0x4049, 3.140625],
      [0x0001, 2 ** -133], // the smallest subnormal bfloat16
      [0x7f80, Infinity],
      [0xff7f, -(2 - 2 ** -7) * 2 ** 127], // the most negative finite
    ];
    const header = JSON.stringify({ b: entry('BF16', [cases.length], 0, 2 * cases.length) });
    const data = parseSafetensors(fileOf(header, u16Bytes(cases.map(([b]) => b)))).tensors.get('b')!.data;
    for (const [i, [, v]] of cases.entries()) expect(data[i]).toBe(v);
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const every = parseSafetensors(
      fileOf(JSON.stringify({ b: entry('BF16', [65536], 0, 131072) }), u16Bytes(all)),
    ).tensors.get('b')!.data;
    const view = new DataView(new ArrayBuffer(4));
    let mismatches = 0;
    for (const b of all) {
      view.setUint32(0, b << 16);
      const want = view.getFloat32(0);
      if (!Object.is(every[b], want) && !(Number.isNaN(want) && Number.isNaN(every[b]))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("agrees bit for bit with PyTorch's own widening (fixture: an LSTM rounded to half and bfloat16)", () => {
    for (const tag of ['f16', 'bf16']) {
      const narrow = readSafetensorsFile(join(FIXTURES, `cell-lstm.${tag}.safetensors`));
      const wide = readSafetensorsFile(join(FIXTURES, `cell-lstm.${tag}-as-f32.safetensors`));
      expect([...narrow.tensors.keys()]).toEqual([...wide.tensors.keys()]);
      for (const [name, t] of narrow.tensors) {
        expect(t.dtype).toBe(tag === 'f16' ? 'F16' : 'BF16');
        const w = wide.tensors.get(name)!;
        expect(t.shape).toEqual(w.shape);
        expect(Array.from(t.data).every((v, i) => Object.is(v, w.data[i]))).toBe(true);
      }
    }
  });
});

describe('safetensors: writing', () => {
  const tensors = new Map([
    ['encoder.weight', { shape: [3, 2], data: [0.1, -0.2, 0.3, 1e-8, 5, -6] }],
    ['rnn.bias_ih_l0', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }],
    ['step', { shape: [], data: [12] }],
    ['empty', { shape: [0, 2], data: [] }],
  ]);

  it('round-trips F32 (values rounded to float32) and F64 (exact), names in order, metadata kept', () => {
    const bytes = serializeSafetensors(tensors, { metadata: { format: 'pt', rnn_type: 'LSTM' } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0); // padded with spaces: the data starts 8-aligned
    expect(bytes[8 + headerLength - 1]).toBe(0x20);
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', rnn_type: 'LSTM' });
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const r = back.tensors.get(name)!;
      expect(r.dtype).toBe('F32');
      expect(r.shape).toEqual(t.shape);
      expect(Array.from(r.data)).toEqual(Array.from(t.data, Math.fround));
    }
    const exact = parseSafetensors(serializeSafetensors(tensors, { dtype: 'F64' }));
    expect(exact.metadata).toEqual({});
    for (const [name, t] of tensors) expect(Array.from(exact.tensors.get(name)!.data)).toEqual(Array.from(t.data));
  });

  it('writes what the format describes (header text and data offsets), readable without seqlab', () => {
    const bytes = serializeSafetensors({ w: { shape: [2], data: [1, 2] } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    expect(Array.from(new Float32Array(bytes.slice(8 + n).buffer))).toEqual([1, 2]);
  });

  it('writes files atomically and reads them back with one read; missing paths are one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-st-'));
    const path = join(dir, 'w.safetensors');
    writeSafetensorsFile(path, tensors, { dtype: 'F64' });
    expect(readFileSync(path)).toEqual(Buffer.from(serializeSafetensors(tensors, { dtype: 'F64' })));
    expect(Array.from(readSafetensorsFile(path).tensors.get('encoder.weight')!.data)).toEqual(
      tensors.get('encoder.weight')!.data,
    );
    expect(() => readSafetensorsFile(join(dir, 'nope.safetensors'))).toThrow(/safetensors file not found/);
    expect(() => readSafetensorsFile(dir)).toThrow(/is a directory/);
  });

  it('refuses a dtype it cannot write', () => {
    expect(() => serializeSafetensors(tensors, { dtype: 'F16' as 'F32' })).toThrow(
      /cannot write dtype "F16"; use F32 or F64/,
    );
  });
});

describe('safetensors: a file that lies is refused with one line', () => {
  const good = serializeSafetensors({ a: { shape: [2, 2], data: [1, 2, 3, 4] }, b: { shape: [3], data: [5, 6, 7] } });

  it('every bad file of the brief', () => {
    const data = f32Bytes([1, 2, 3, 4]);
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(5), /5 bytes, fewer than the 8 of the header length/],
      [fileOf('{}', new Uint8Array(0), 1000n), /header length 1000 runs past the end of the file \(10 bytes\)/],
      [fileOf('{}', new Uint8Array(0), 2n ** 63n), /exceeds the format's limit of 100000000 bytes/],
      [fileOf(new Uint8Array([0x7b, 0xff, 0x7d])), /the header is not valid UTF-8/],
      [fileOf('{"a": '), /the header is not valid JSON/],
      [fileOf('[1, 2]'), /does not start with "\{"/],
      [fileOf('  {}'), /does not start with "\{"/],
      [fileOf('{"a": 1}  x'), /not valid JSON/],
      [
        fileOf(
          `{"a":${JSON.stringify(entry('F32', [1], 0, 4))},"a":${JSON.stringify(entry('F32', [1], 4, 8))}}`,
          data.slice(0, 8),
        ),
        /lists "a" twice/,
      ],
      [
        fileOf(`{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, data.slice(0, 4)),
        /lists "dtype" twice/,
      ],
      [fileOf(JSON.stringify({ a: entry('F17', [4], 0, 16) }), data), /tensor "a" has unknown dtype "F17"/],
      [
        fileOf(JSON.stringify({ a: entry('I64', [2], 0, 16) }), data),
        /tensor "a" has dtype I64; seqlab reads F32, F64, F16, BF16/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [3], 0, 16) }), data),
        /shape \[3\] \(F32: 12 bytes\) but data_offsets \[0, 16\] hold 16 bytes/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [2, 4], 0, 32) }), data),
        /data_offsets \[0, 32\] outside the data \(16 bytes\)/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [3], 0, 12), b: entry('F32', [2], 8, 16) }), data),
        /tensors "a" and "b" overlap \(bytes 8–12\)/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [1], 0, 4), b: entry('F32', [2], 8, 16) }), data),
        /bytes 4–8 of the data belong to no tensor/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [1], 4, 8), b: entry('F32', [1], 8, 12) }), data),
        /bytes 0–4 of the data belong to no tensor/,
      ],
      [
        fileOf(JSON.stringify({ a: entry('F32', [3], 0, 12) }), data),
        /end at byte 12 of the data but the file holds 16 \(4 bytes belong to no tensor\)/,
      ],
      [fileOf(JSON.stringify({ a: entry('F32', [1], 8, 4) }), data), /end before they begin/],
      [
        fileOf(JSON.stringify({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }), data),
        /shape that is not a list of sizes/,
      ],
      [
        fileOf(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }), data),
        /"data_offsets" that are not \[begin, end\]/,
      ],
      [
        fileOf(JSON.stringify({ a: { dtype: 'F32', shape: [4], offsets: [0, 16] } }), data),
        /"data_offsets" that are not/,
      ],
      [fileOf(JSON.stringify({ a: entry('F32', [2 ** 40, 2 ** 40], 0, 16) }), data), /hold 16 bytes/],
      [fileOf(JSON.stringify({ __metadata__: { n: 3 } })), /"__metadata__" value of "n" is not a string/],
      [fileOf(JSON.stringify({ a: [1, 2] })), /tensor "a" is not an object/],
    ];
    for (const [bytes, re] of cases) expect(refusal(bytes)).toMatch(re);
  });

  it('a truncated file, at every length, is refused: nothing is read past the end', () => {
    for (let n = 0; n < good.length; n++) refusal(good.slice(0, n));
    expect(parseSafetensors(good).tensors.size).toBe(2);
  });

  it('one byte too many is refused too (the tensors must end where the file ends)', () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(refusal(longer)).toMatch(/1 bytes belong to no tensor/);
  });

  it('a header that is not JSON is refused in one line, its control characters escaped (found by test/fuzz)', () => {
    // JSON.parse quotes the text it failed on: a form feed, a carriage return or an ESC went to the terminal raw
    const msg = refusal(fileOf('{"a": {"shape":\f4,\r1]}, "\u001b[31m": 1}', f32Bytes([1])));
    expect(msg).toMatch(/the header is not valid JSON \(.*\\u000c/);
    for (const c of ['\f', '\r', '\u001b']) expect(msg).not.toContain(c);
  });

  it("the header limit is the format reference implementation's", () => {
    expect(MAX_HEADER_BYTES).toBe(100_000_000);
  });
});
