// The model, described once. A ModelDesc is everything that decides what the network is: the
// vocabulary, the width, the cell and its options, the depth, the dropout. `modelOf` builds it from
// a validated config's model section (so every default is the schema's, and nothing downstream
// restates one); the
// layout, the memory plan, the step, evaluation, sampling, checkpoints, inspect and the torch
// export all take this one description.

import type { Activation } from '../blas/types.js';
import { cellOf, type CellKind } from './cells/index.js';
import type { Cell, CellOptions, GruReset } from './cells/types.js';

export interface ModelDesc {
  /** vocabulary size (the one-hot input and the output layer's width) */
  V: number;
  /** hidden units of every layer */
  H: number;
  cell: CellKind;
  /** the RNN's activation phi (the gated cells use sigmoid and tanh; their act is ignored) */
  act: Activation;
  /** GRU: where the reset gate applies (the other cells ignore it) */
  gruReset: GruReset;
  /** stacked layers, 1.. */
  layers: number;
  /** dropout on the input of every layer above the first, in training only */
  dropout: number;
}

/**
 * The model section of a config as the model room reads it: config/schema.ts validates a config
 * into this shape (the model room never imports the config room).
 */
export interface ModelConfig {
  cell: CellKind;
  hidden: number;
  layers: number;
  dropout: number;
  activation: Activation;
  gru_reset: GruReset;
}

/** The model of a validated config's model section over a vocabulary of V characters. */
export function modelOf(V: number, m: ModelConfig): ModelDesc {
  return { V, H: m.hidden, cell: m.cell, act: m.activation, gruReset: m.gru_reset, layers: m.layers, dropout: m.dropout };
}

/** The cell of a model and the options it reads. */
export function cellAndOptions(m: Pick<ModelDesc, 'cell' | 'act' | 'gruReset'>): { cell: Cell; o: CellOptions } {
  return { cell: cellOf(m.cell), o: { act: m.act, gruReset: m.gruReset } };
}

/** The model in a few words: "rnn tanh H=256", "2-layer lstm H=512, dropout 0.2" (the vocabulary is not part of it). */
export function describeModel(m: Omit<ModelDesc, 'V'>): string {
  const { cell, o } = cellAndOptions(m);
  return `${m.layers > 1 ? `${m.layers}-layer ` : ''}${cell.label(o)} H=${m.H}${m.dropout > 0 ? `, dropout ${m.dropout}` : ''}`;
}
