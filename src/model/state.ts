// The carried state of consecutive sampling, as a table: a fact of the model (which states its
// cell carries, how many layers, how wide), placed by the memory plan and stored by checkpoints.

import type { ModelDesc } from './desc.js';
import { cellOf } from './cells/index.js';

/**
 * Where a table of carried state keeps state s (cell.state[s]: h, c) of layer l for row b: an
 * element offset. stateTableOf below lays it out; the model reads and writes
 * through it.
 */
export interface StateRows {
  at(s: number, l: number, b: number): number;
}

/**
 * The carried-state table: the one place that decides its size and the order of its parts. For
 * each state the cell carries (cell.state: h, and c for the LSTM), for each layer, `rows` rows of
 * H: state s of layer l for row b at offset + ((s * L + l) * rows + b) * H. So the table reads as
 * state.h (L, rows, H) followed by state.c: each named state is one contiguous part (checkpoints
 * store them as the tensors "state.h" and "state.c").
 */
export interface StateTable extends StateRows {
  offset: number;
  rows: number;
  /** the states by name, in table order: ['h'] or ['h', 'c'] */
  names: readonly string[];
  /** elements of one named state: L * rows * H */
  partSize: number;
  /** elements of the whole table */
  size: number;
}

export function stateTableOf(model: ModelDesc, rows: number, offset: number): StateTable {
  const { H, layers: L } = model;
  const names = cellOf(model.cell).state;
  const partSize = L * rows * H;
  return { offset, rows, names, partSize, size: names.length * partSize, at: (s, l, b) => offset + ((s * L + l) * rows + b) * H };
}
