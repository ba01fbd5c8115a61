// The cells by kind: the one place that knows which cells exist.
import { gruCell } from './gru.js';
import { lstmCell } from './lstm.js';
import { rnnCell } from './rnn.js';
import type { Cell } from './types.js';

export type CellKind = Cell['kind'];

const CELLS: Record<CellKind, Cell> = { rnn: rnnCell, gru: gruCell, lstm: lstmCell };

export function cellOf(kind: CellKind): Cell {
  return CELLS[kind];
}
