import { oneOf } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { CellOptions, CellSpec, LayerWeights } from './cell.js';
import { initRecurrentLayer } from './init.js';
import { GRU_SPEC } from './gru.js';
import { LSTM_SPEC } from './lstm.js';
import { RNN_SPEC } from './rnn.js';

/**
 * The recurrent cell kinds, registered once. Everything that needs the list of kinds (option
 * checks, help strings, the lab's check boxes, parameter counts, weights files) reads it here;
 * a new kind is its own file (the cell class and its CellSpec) plus one line in CELL_SPECS
 * (docs/ARCHITECTURE.md, "Adding a cell").
 */
export const CELL_SPECS = { rnn: RNN_SPEC, lstm: LSTM_SPEC, gru: GRU_SPEC } as const satisfies Record<string, CellSpec>;

export type CellKind = keyof typeof CELL_SPECS;
export const CELL_KINDS = Object.keys(CELL_SPECS) as readonly CellKind[];

/** The spec of `kind`; an unknown kind is a usage error naming the known ones ("cell" names the field). */
export function cellSpec(kind: string, field = 'cell'): CellSpec {
  return CELL_SPECS[oneOf(field, kind, CELL_KINDS)];
}

/** The spec of a cell built by the registry (its `kind` is registered). */
export function specOf(cell: { readonly kind: string }): CellSpec {
  return cellSpec(cell.kind);
}

/** Gate blocks G of a kind: weight matrices are [G·H, ·]. */
export function gateCount(kind: CellKind): number {
  return CELL_SPECS[kind].gates.length;
}

/** "rnn, lstm or gru", for messages and help texts. */
export function cellKindList(): string {
  return `${CELL_KINDS.slice(0, -1).join(', ')} or ${CELL_KINDS[CELL_KINDS.length - 1]}`;
}

/** Initial weights of one layer of `kind` from the seeded Rng. */
export function initialWeights(
  kind: CellKind,
  inputSize: number,
  hiddenSize: number,
  opts: CellOptions,
  rng: Rng,
): LayerWeights {
  const spec: CellSpec = CELL_SPECS[kind];
  const w = initRecurrentLayer(rng, spec.gates.length, inputSize, hiddenSize, opts);
  spec.adjustInit?.(w, hiddenSize, opts);
  return w;
}
