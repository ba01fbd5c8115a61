// The cells by kind: the one place that knows which cells exist. Adding a cell is one module in
// this folder (the Cell interface of types.ts: layout, workspace, forward/backward, torch mapping)
// and its line below; the config's model.cell, the CLI's --cell, summaries, checkpoints and the
// torch export all read the list from here.
import { gruCell } from './gru.js';
import { lstmCell } from './lstm.js';
import { rnnCell } from './rnn.js';
import type { Cell } from './types.js';

const CELLS = { rnn: rnnCell, gru: gruCell, lstm: lstmCell } as const satisfies Record<string, Cell>;

export type CellKind = keyof typeof CELLS;

/** Every cell's name, in the order the config reference lists them. */
export const CELL_KINDS = Object.keys(CELLS) as [CellKind, ...CellKind[]];

export function isCellKind(kind: unknown): kind is CellKind {
  return typeof kind === 'string' && Object.hasOwn(CELLS, kind);
}

export function cellOf(kind: CellKind): Cell {
  return CELLS[kind];
}
