// The model as the rest of bptt sees it: L stacked layers of one cell (cells/*.ts), the output
// layer, the loss. One entry point per operation, so the step, evaluation, generation and inspect
// never branch on the cell or the depth: workspace, carried state, forward, backward, loss.
//
//   layer 0 reads the one-hot characters: its input contributions are one row gather (+ bias)
//   layer l > 0 reads h^(l-1) of every step (after dropout, in training): one GEMM over T*B rows
//   the output layer reads h^(L-1): o_t = h_t W_hq + b_q, one GEMM over T*B rows
// Backward runs the same in reverse: the output layer's dL/dh into the top layer, then per layer
// (top first) the cell's recurrence, then its input side: dW_x (scatter-add or one GEMM), db (a
// column sum) and dL/dX = dA W_x^T, which is the layer below's dL/dh from above (times its
// dropout mask). Only the recurrences run step by step.
//
// Everything is time-major over T steps and B rows (row t*B + b). Functions take a Blas (WASM
// float32 or the float64 reference), heap offsets and sizes; they allocate nothing. Gradients
// ACCUMULATE (+=) into the gradient block, so callers zero it per minibatch.

import { GEMM_SCRATCH_ELEMS, type Blas } from '../blas/types.js';
import type { Arena } from '../util/arena.js';
import { panelBufferElems, type Cell, type CellOptions, type GruReset, type LayerBase, type LayerOffsets, type LayerTrace, type LayerWorkspace } from './cells/types.js';
import { cellAndOptions, type ModelDesc } from './desc.js';
import { applyDropout, type DropoutKey } from './dropout.js';
import { layerPrefix, type TensorOffsets } from './params.js';
import type { StateRows } from './state.js';

export type { StateRows } from './state.js';

export type { DropoutKey, GruReset, LayerWorkspace, ModelDesc };

export interface SeqShape {
  V: number;
  H: number;
  /** time steps */
  T: number;
  /** batch rows handled by this call (at most) */
  B: number;
}

export interface Workspace {
  shape: SeqShape;
  /** int32 (T, B): input token ids, time-major */
  x: number;
  /** int32 (T, B): target token ids, time-major */
  y: number;
  /** (T*B, V): logits, overwritten in place by dL/do */
  logits: number;
  /** GEMM packing scratch for this workspace's thread (GEMM_SCRATCH_ELEMS), or null */
  pack: number | null;
  /** one per layer, layers[0] reads the characters, the last one feeds the output layer */
  layers: LayerWorkspace[];
}

export function allocModelWorkspace(arena: Arena, m: ModelDesc, shape: SeqShape, withPack = false): Workspace {
  const { V, H, T, B } = shape;
  const { cell, o } = cellAndOptions(m);
  const ws: Workspace = {
    shape, x: arena.alloc(T * B), y: arena.alloc(T * B), logits: arena.alloc(T * B * V),
    pack: withPack ? arena.alloc(GEMM_SCRATCH_ELEMS) : null, layers: [],
  };
  for (let l = 0; l < m.layers; l++) {
    const base: LayerBase = { hs: arena.alloc((T + 1) * B * H), dhs: arena.alloc(T * B * H), dh0: arena.alloc(B * H) };
    // a workspace that packs its GEMMs (training, evaluation) also packs W_h once per pass
    if (withPack) base.panels = arena.alloc(panelBufferElems(cell.gates.length, H));
    const lw = cell.alloc(arena, base, H, T, B, o);
    if (l > 0 && m.dropout > 0) lw.xDrop = arena.alloc(T * B * H);
    ws.layers.push(lw);
  }
  return ws;
}

/** Zero initial state for B rows. */
export function zeroState(m: ModelDesc, blas: Blas, ws: Workspace, B = ws.shape.B): void {
  const { cell } = cellAndOptions(m);
  for (const lw of ws.layers) for (const s of cell.stateBuffers(lw)) blas.fill(B * ws.shape.H, 0, s);
}

/** The final state (after T steps) becomes the initial one: reading on from where a chunk ended. */
export function carryOver(m: ModelDesc, blas: Blas, ws: Workspace, B = ws.shape.B): void {
  const { H, T } = ws.shape;
  const { cell } = cellAndOptions(m);
  for (const lw of ws.layers) for (const s of cell.stateBuffers(lw)) blas.copy(B * H, s + T * B * H, s);
}

/** Copies rows [lo, lo+B) of a state table in as the initial state of every layer (h, and c for the LSTM). */
export function loadState(m: ModelDesc, blas: Blas, ws: Workspace, table: StateRows, lo: number, B: number): void {
  const H = ws.shape.H;
  const { cell } = cellAndOptions(m);
  ws.layers.forEach((lw, l) => cell.stateBuffers(lw).forEach((buf, s) => blas.copy(B * H, table.at(s, l, lo), buf)));
}

/** Copies the final state (after T steps) of every layer out to rows [lo, lo+B) of a state table. */
export function storeState(m: ModelDesc, blas: Blas, ws: Workspace, table: StateRows, lo: number, B: number): void {
  const { H, T } = ws.shape;
  const { cell } = cellAndOptions(m);
  ws.layers.forEach((lw, l) => cell.stateBuffers(lw).forEach((buf, s) => blas.copy(B * H, buf + T * B * H, table.at(s, l, lo))));
}

/** Layer l's block offsets under their unprefixed names (W_x, W_h, b, extras). */
function layerOffsets(cell: Cell, o: CellOptions, P: TensorOffsets, l: number, L: number): LayerOffsets {
  const pre = layerPrefix(l, L);
  const out: LayerOffsets = { W_x: P[`${pre}W_x`], W_h: P[`${pre}W_h`], b: P[`${pre}b`] };
  for (const e of cell.extras(o)) out[e] = P[`${pre}${e}`];
  return out;
}

/** Options of a forward pass: dropout masks (training only; none = evaluation and sampling). */
export interface ForwardOptions {
  dropout?: DropoutKey;
}

/** Whether layer l > 0 drops out its input in this pass: training (a key), a rate, a buffer. */
function dropsOut(m: ModelDesc, lw: LayerWorkspace, opts: ForwardOptions): opts is ForwardOptions & { dropout: DropoutKey } {
  return m.dropout > 0 && opts.dropout !== undefined && lw.xDrop !== undefined;
}

/** Layer l's input matrix (T*B, H) for l > 0: h^(l-1) of steps 1..T, or its dropped-out copy. */
function layerInput(m: ModelDesc, ws: Workspace, l: number, B: number, opts: ForwardOptions): number {
  const lw = ws.layers[l];
  return dropsOut(m, lw, opts) ? lw.xDrop! : ws.layers[l - 1].hs + B * ws.shape.H;
}

/** Forward over T steps from the state in every layer's hs[0] (and cs[0]); fills the logits. */
export function modelForward(m: ModelDesc, blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B, opts: ForwardOptions = {}): void {
  const { V, H, T } = ws.shape;
  const { cell, o } = cellAndOptions(m), L = ws.layers.length;
  const width = cell.gates.length * H;
  const rows = T * B;
  blas.setScratch(ws.pack);
  for (let l = 0; l < L; l++) {
    const lw = ws.layers[l];
    const Pl = layerOffsets(cell, o, P, l, L);
    const { aIn } = cell.inputs(lw, H, B);
    blas.setRows(rows, width, Pl.b, aIn, width);
    if (l === 0) {
      blas.gatherAddRows(rows, width, ws.x, Pl.W_x, width, aIn, width);
    } else {
      if (dropsOut(m, lw, opts)) applyDropout(blas, ws.layers[l - 1].hs + B * H, lw.xDrop!, m.dropout!, opts.dropout, l, T, B, H);
      blas.sgemm(false, false, rows, width, H, 1, layerInput(m, ws, l, B, opts), H, Pl.W_x, width, 1, aIn, width);
    }
    cell.forward(blas, o, Pl, lw, H, T, B);
  }
  const top = ws.layers[L - 1];
  blas.setRows(rows, V, P.b_q, ws.logits, V);
  blas.sgemm(false, false, rows, V, H, 1, top.hs + B * H, H, P.W_hq, V, 1, ws.logits, V);
}

/** Softmax cross-entropy over all T*B rows; logits become gradScale * dL_sum/do. Returns the summed loss. */
export function xentForwardBackward(blas: Blas, ws: Workspace, gradScale: number, B = ws.shape.B): number {
  const { V, T } = ws.shape;
  return blas.softmaxXent(T * B, V, ws.logits, V, ws.y, gradScale);
}

export interface BackwardOptions extends ForwardOptions {
  /** per layer, where to copy dL/dh_t (and the LSTM's dL/dc_t) of every step: (T, B, H) each */
  trace?: LayerTrace[];
}

/** Full BPTT from dL/do in ws.logits (after modelForward with the same options); accumulates into G. */
export function modelBackward(m: ModelDesc, blas: Blas, P: TensorOffsets, G: TensorOffsets, ws: Workspace, B = ws.shape.B,
  opts: BackwardOptions = {}): void {
  const { V, H, T } = ws.shape;
  const { cell, o } = cellAndOptions(m), L = ws.layers.length;
  const width = cell.gates.length * H;
  const rows = T * B;
  blas.setScratch(ws.pack);
  // the output layer over all steps at once: dW_hq, db_q, and the top layer's dL/dh_t
  const top = ws.layers[L - 1];
  blas.sgemm(true, false, H, V, rows, 1, top.hs + B * H, H, ws.logits, V, 1, G.W_hq, V);
  blas.colsumAdd(rows, V, ws.logits, V, G.b_q);
  blas.sgemm(false, true, rows, H, V, 1, ws.logits, V, P.W_hq, V, 0, top.dhs, H);
  for (let l = L - 1; l >= 0; l--) {
    const lw = ws.layers[l];
    const Pl = layerOffsets(cell, o, P, l, L), Gl = layerOffsets(cell, o, G, l, L);
    cell.backward(blas, o, Pl, Gl, lw, H, T, B, opts.trace?.[l] ?? {});
    const { dA } = cell.inputs(lw, H, B);
    if (l === 0) {
      blas.scatterAddRows(rows, width, ws.x, dA, width, Gl.W_x, width);
    } else {
      const below = ws.layers[l - 1];
      blas.sgemm(true, false, H, width, rows, 1, layerInput(m, ws, l, B, opts), H, dA, width, 1, Gl.W_x, width);
      // dL/dX: the only gradient the layer below gets from above (the output layer reads the top only)
      blas.sgemm(false, true, rows, H, width, 1, dA, width, Pl.W_x, width, 0, below.dhs, H);
      if (dropsOut(m, lw, opts)) applyDropout(blas, below.dhs, below.dhs, m.dropout!, opts.dropout, l, T, B, H);
    }
    blas.colsumAdd(rows, width, dA, width, Gl.b);
  }
}

/** Loss only (validation, gradient checks): forward, then the summed cross-entropy; logits kept. */
export function modelLoss(m: ModelDesc, blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B, opts: ForwardOptions = {}): number {
  modelForward(m, blas, P, ws, B, opts);
  const { V, T } = ws.shape;
  return blas.xentLoss(T * B, V, ws.logits, V, ws.y);
}
