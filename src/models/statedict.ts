import { inputError } from '../util/errors.js';
import type { LayerWeights } from './cell.js';
import { CELL_KINDS, type CellKind, cellKindList, gateCount } from './registry.js';
import { NONLINEARITIES, type Nonlinearity } from './activations.js';

/**
 * PyTorch interop: the weights file format
 *   {"cell": "rnn|lstm|gru", "nonlinearity": "tanh|relu",
 *    "state_dict": {"weight_ih_l0": [[…]], "weight_hh_l0": [[…]], "bias_ih_l0": […], "bias_hh_l0": […], …_l1 …}}
 * with nn.RNN/LSTM/GRU's own names and shapes. Every way it can be wrong is one clear line.
 */
export interface RecurrentWeights {
  cell: CellKind;
  nonlinearity: Nonlinearity;
  inputSize: number;
  hiddenSize: number;
  layers: LayerWeights[];
}

function matrix(sd: Record<string, unknown>, key: string, rows: number | null, cols: number | null, source: string) {
  const m = sd[key];
  if (!Array.isArray(m) || m.length === 0 || !Array.isArray(m[0])) {
    throw inputError(`${source}: state_dict["${key}"] must be a non-empty 2-D array`);
  }
  const width = (m[0] as unknown[]).length;
  const flat = new Float64Array(m.length * width);
  m.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== width) {
      throw inputError(
        `${source}: state_dict["${key}"] has ragged rows ` +
          `(row ${r} has ${Array.isArray(row) ? row.length : 'no'} entries, row 0 has ${width})`,
      );
    }
    row.forEach((v, c) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw inputError(`${source}: state_dict["${key}"][${r}][${c}] is not a finite number`);
      flat[r * width + c] = v;
    });
  });
  if ((rows !== null && m.length !== rows) || (cols !== null && width !== cols)) {
    throw inputError(
      `${source}: state_dict["${key}"] has shape [${m.length}, ${width}], expected [${rows ?? '*'}, ${cols ?? '*'}]`,
    );
  }
  return { flat, rows: m.length, cols: width };
}

function vector(sd: Record<string, unknown>, key: string, length: number, source: string): Float64Array {
  const v = sd[key];
  if (!Array.isArray(v)) throw inputError(`${source}: state_dict["${key}"] is missing or not an array`);
  if (v.length !== length)
    throw inputError(`${source}: state_dict["${key}"] has length ${v.length}, expected ${length}`);
  return Float64Array.from(v, (x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw inputError(`${source}: state_dict["${key}"][${i}] is not a finite number`);
    return x;
  });
}

/** Validate a parsed weights file; `expectCell` (the probe's `cell` option) must agree with the file's "cell". */
export function parseRecurrentWeights(doc: unknown, source: string, expectCell?: CellKind): RecurrentWeights {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw inputError(`${source}: expected a JSON object with "cell" and "state_dict"`);
  const o = doc as Record<string, unknown>;
  const cell = (o.cell ?? expectCell) as CellKind;
  if (!CELL_KINDS.includes(cell))
    throw inputError(`${source}: unknown cell ${JSON.stringify(o.cell)}; use ${cellKindList()}`);
  if (expectCell && cell !== expectCell)
    throw inputError((field) => `${source}: weights are for cell "${cell}" but ${field('cell')} is "${expectCell}"`);
  const nonlinearity = (o.nonlinearity ?? 'tanh') as Nonlinearity;
  if (!NONLINEARITIES.includes(nonlinearity))
    throw inputError(
      `${source}: unknown nonlinearity ${JSON.stringify(o.nonlinearity)}; use ${NONLINEARITIES.join(', ')}`,
    );
  const sd = o.state_dict;
  if (typeof sd !== 'object' || sd === null || Array.isArray(sd))
    throw inputError(`${source}: missing "state_dict" object`);
  const dict = sd as Record<string, unknown>;
  if (!('weight_hh_l0' in dict)) throw inputError(`${source}: state_dict has no "weight_hh_l0"`);
  const gates = gateCount(cell);
  const whh0 = matrix(dict, 'weight_hh_l0', null, null, source);
  const hiddenSize = whh0.cols;
  if (whh0.rows !== gates * hiddenSize) {
    throw inputError(
      `${source}: state_dict["weight_hh_l0"] has shape [${whh0.rows}, ${whh0.cols}]; ` +
        `a ${cell} cell needs [${gates}·H, H] = [${gates * hiddenSize}, ${hiddenSize}]`,
    );
  }
  const layers: LayerWeights[] = [];
  let inputSize = 0;
  for (let l = 0; `weight_hh_l${l}` in dict; l++) {
    const wih = matrix(dict, `weight_ih_l${l}`, gates * hiddenSize, l === 0 ? null : hiddenSize, source);
    if (l === 0) inputSize = wih.cols;
    layers.push({
      weight_ih: wih.flat,
      weight_hh: matrix(dict, `weight_hh_l${l}`, gates * hiddenSize, hiddenSize, source).flat,
      bias_ih: vector(dict, `bias_ih_l${l}`, gates * hiddenSize, source),
      bias_hh: vector(dict, `bias_hh_l${l}`, gates * hiddenSize, source),
    });
  }
  return { cell, nonlinearity, inputSize, hiddenSize, layers };
}
