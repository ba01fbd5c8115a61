// One entry point per operation for every cell, so the step, evaluation, generation and inspect
// never branch on the cell themselves: workspace, carried state, forward, backward, loss.
// RNN: model/bptt.ts; GRU: model/gru.ts; LSTM: model/lstm.ts.

import type { Activation, Blas } from '../blas/types.js';
import type { Arena } from '../util/arena.js';
import { allocWorkspace, rnnBackward, rnnForward, xentForwardBackward, type SeqShape, type Workspace } from './bptt.js';
import { gruBackward, gruForward, type GruReset } from './gru.js';
import { lstmBackward, lstmForward } from './lstm.js';
import type { CellKind, TensorOffsets } from './params.js';

export interface ModelSpec {
  cell: CellKind;
  /** the RNN's activation (the gated cells use sigmoid/tanh) */
  act: Activation;
  /** GRU: where the reset gate applies (default before) */
  gruReset?: GruReset;
}

/** The spec of a config's model. */
export function modelSpecOf(model: { cell: CellKind; activation: Activation; gru_reset: GruReset }): ModelSpec {
  return { cell: model.cell, act: model.activation, gruReset: model.gru_reset };
}

/** Rows of the carried state per sequence: h (RNN), or h then c (LSTM). */
export function stateParts(cell: CellKind): number {
  return cell === 'lstm' ? 2 : 1;
}

export function allocModelWorkspace(arena: Arena, cell: CellKind, shape: SeqShape, withPack = false, gruReset: GruReset = 'before'): Workspace {
  const ws = allocWorkspace(arena, shape, withPack);
  if (cell === 'gru') {
    const { H, T, B } = shape;
    ws.gates = arena.alloc(T * B * 3 * H);
    ws.aux = arena.alloc(T * B * H);
    if (gruReset === 'after') ws.hg = arena.alloc(T * B * 3 * H);
    else ws.tmp = arena.alloc(B * H);
  }
  if (cell === 'lstm') {
    const { H, T, B } = shape;
    ws.cs = arena.alloc((T + 1) * B * H);
    ws.gates = arena.alloc(T * B * 4 * H);
    ws.tc = arena.alloc(T * B * H);
    ws.dc = arena.alloc(B * H);
  }
  return ws;
}

/** Zero initial state for B rows. */
export function zeroState(cell: CellKind, blas: Blas, ws: Workspace, B = ws.shape.B): void {
  const H = ws.shape.H;
  blas.fill(B * H, 0, ws.hs);
  if (cell === 'lstm') blas.fill(B * H, 0, ws.cs!);
}

/** The final state (after T steps) becomes the initial one: reading on from where a chunk ended. */
export function carryOver(cell: CellKind, blas: Blas, ws: Workspace, B = ws.shape.B): void {
  const { H, T } = ws.shape;
  blas.copy(B * H, ws.hs + T * B * H, ws.hs);
  if (cell === 'lstm') blas.copy(B * H, ws.cs! + T * B * H, ws.cs!);
}

/**
 * Carried state between minibatches, in a table of `rowsTotal` rows per part: part p of row b at
 * table + (p * rowsTotal + b) * H. `load` copies rows [lo, lo+B) in as the initial state, `store`
 * copies the final state out.
 */
export function loadState(cell: CellKind, blas: Blas, ws: Workspace, table: number, rowsTotal: number, lo: number, B: number): void {
  const H = ws.shape.H;
  blas.copy(B * H, table + lo * H, ws.hs);
  if (cell === 'lstm') blas.copy(B * H, table + (rowsTotal + lo) * H, ws.cs!);
}

export function storeState(cell: CellKind, blas: Blas, ws: Workspace, table: number, rowsTotal: number, lo: number, B: number): void {
  const { H, T } = ws.shape;
  blas.copy(B * H, ws.hs + T * B * H, table + lo * H);
  if (cell === 'lstm') blas.copy(B * H, ws.cs! + T * B * H, table + (rowsTotal + lo) * H);
}

export function modelForward(m: ModelSpec, blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  if (m.cell === 'lstm') lstmForward(blas, P, ws, B);
  else if (m.cell === 'gru') gruForward(blas, m.gruReset ?? 'before', P, ws, B);
  else rnnForward(blas, m.act, P, ws, B);
}

export interface TraceOptions {
  /** (T, B, H): dL/dh_t per step */
  dhTrace?: number;
  /** (T, B, H): dL/dc_t per step (LSTM) */
  dcTrace?: number;
}

export function modelBackward(m: ModelSpec, blas: Blas, P: TensorOffsets, G: TensorOffsets, ws: Workspace, B = ws.shape.B, opts: TraceOptions = {}): void {
  if (m.cell === 'lstm') lstmBackward(blas, P, G, ws, B, opts);
  else if (m.cell === 'gru') gruBackward(blas, m.gruReset ?? 'before', P, G, ws, B, opts);
  else rnnBackward(blas, m.act, P, G, ws, B, opts);
}

/** Loss only (validation, gradient checks): forward, then the summed cross-entropy; logits kept. */
export function modelLoss(m: ModelSpec, blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B): number {
  modelForward(m, blas, P, ws, B);
  const { V, T } = ws.shape;
  return blas.xentLoss(T * B, V, ws.logits, V, ws.y);
}

export { xentForwardBackward };
