// Sequence forward and full backpropagation through time for the Elman RNN
//   h_t = phi(x_t W_xh + h_{t-1} W_hh + b_h),  o_t = h_t W_hq + b_q,
// over T steps and B rows, time-major (row t*B + b). What is not recurrent is hoisted out of the
// time loop: the output layer and its gradients are single GEMMs over all T*B rows, the one-hot
// inputs are row gathers/scatter-adds into W_xh, and dW_hh is one GEMM after the loop. Only the
// W_hh recurrence itself runs step by step.
//
// Functions take a Blas (WASM float32 or the float64 reference), offsets and sizes; they allocate
// nothing. Gradients ACCUMULATE (+=) into the gradient block, so callers zero it per minibatch.

import { GEMM_SCRATCH_ELEMS } from '../blas/loader.js';
import type { Activation, Blas } from '../blas/types.js';
import type { Arena } from '../util/arena.js';
import type { TensorOffsets } from './params.js';

export interface SeqShape {
  V: number;
  H: number;
  /** time steps */
  T: number;
  /** batch rows handled by this call */
  B: number;
}

/** Per-sequence activation caches, element offsets into the heap. */
export interface Workspace {
  shape: SeqShape;
  /** int32 (T, B): input token ids, time-major */
  x: number;
  /** int32 (T, B): target token ids, time-major */
  y: number;
  /** (T+1, B, H): hs[0] is the initial state, hs[t+1] = h_t; rows 1..T form the (T*B, H) matrix H */
  hs: number;
  /** (T*B, V): logits, overwritten in place by dL/do */
  logits: number;
  /** (T, B, H): dL/dh_t, then (in place) dL/da_t, the gradient at the pre-activation */
  dhs: number;
  /** (B, H): dL/dh_0, the gradient that would flow into the initial state */
  dh0: number;
  /** GEMM packing scratch for this workspace's thread (GEMM_SCRATCH_ELEMS), or null */
  pack: number | null;
  /** LSTM only (model/lstm.ts): (T+1, B, H) cell states, cs[0] the initial one */
  cs?: number;
  /** LSTM/GRU: (T, B, 4H or 3H) gate pre-activations, then activations, then dL/da in backward */
  gates?: number;
  /** LSTM only: (T, B, H) tanh(c_t) */
  tc?: number;
  /** LSTM only: (B, H) running dL/dc_t in backward, and dL/dc_0 after it */
  dc?: number;
  /** GRU only: (T, B, H) per step: h W_hh + b_hn (after) or R ⊙ h (before) */
  aux?: number;
  /** GRU after only: (T, B, 3H) h W_h per step, then dL/d(h W_h) in backward */
  hg?: number;
  /** GRU before only: (B, H) scratch for dL/d(R ⊙ h) */
  tmp?: number;
}

export function allocWorkspace(arena: Arena, shape: SeqShape, withPack = false): Workspace {
  const { V, H, T, B } = shape;
  return {
    shape,
    x: arena.alloc(T * B),
    y: arena.alloc(T * B),
    hs: arena.alloc((T + 1) * B * H),
    logits: arena.alloc(T * B * V),
    dhs: arena.alloc(T * B * H),
    dh0: arena.alloc(B * H),
    pack: withPack ? arena.alloc(GEMM_SCRATCH_ELEMS) : null,
  };
}

/** The output layer over all T*B rows at once: logits = H W_hq + b_q (every cell ends with it). */
export function outputForward(blas: Blas, P: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  const { V, H, T } = ws.shape;
  const rows = T * B;
  blas.setRows(rows, V, P.b_q, ws.logits, V);
  blas.sgemm(false, false, rows, V, H, 1, ws.hs + B * H, H, P.W_hq, V, 1, ws.logits, V);
}

/** Its backward from dL/do in ws.logits: dW_hq, db_q, and dL/dh_t of every step into ws.dhs. */
export function outputBackward(blas: Blas, P: TensorOffsets, G: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  const { V, H, T } = ws.shape;
  const rows = T * B;
  blas.sgemm(true, false, H, V, rows, 1, ws.hs + B * H, H, ws.logits, V, 1, G.W_hq, V);
  blas.colsumAdd(rows, V, ws.logits, V, G.b_q);
  blas.sgemm(false, true, rows, H, V, 1, ws.logits, V, P.W_hq, V, 0, ws.dhs, H);
}

/** Gated cells: the input contributions of all T steps at once, gates = b + W_x[x] (width = G*H). */
export function gateInputs(blas: Blas, P: TensorOffsets, ws: Workspace, width: number, B = ws.shape.B): void {
  const rows = ws.shape.T * B;
  blas.setRows(rows, width, P.b, ws.gates!, width);
  blas.gatherAddRows(rows, width, ws.x, P.W_x, width, ws.gates!, width);
}

/** Forward over T steps from the state in hs[0]; fills hs[1..T] and the logits. */
export function rnnForward(blas: Blas, act: Activation, P: TensorOffsets, ws: Workspace, B = ws.shape.B): void {
  const { H, T } = ws.shape;
  blas.setScratch(ws.pack);
  for (let t = 0; t < T; t++) {
    const hPrev = ws.hs + t * B * H;
    const a = hPrev + B * H;
    blas.setRows(B, H, P.b_h, a, H);
    blas.gatherAddRows(B, H, ws.x + t * B, P.W_xh, H, a, H);
    blas.sgemm(false, false, B, H, H, 1, hPrev, H, P.W_hh, H, 1, a, H);
    blas.actForward(act, B * H, a);
  }
  outputForward(blas, P, ws, B);
}

/** Softmax cross-entropy over all T*B rows; logits become gradScale * dL_sum/do. Returns the summed loss. */
export function xentForwardBackward(blas: Blas, ws: Workspace, gradScale: number, B = ws.shape.B): number {
  const { V, T } = ws.shape;
  return blas.softmaxXent(T * B, V, ws.logits, V, ws.y, gradScale);
}

export interface BackwardOptions {
  /** if set, (T, B, H) offset that receives dL/dh_t for every step, before phi' is applied */
  dhTrace?: number;
}

/** Full BPTT from dL/do in ws.logits; accumulates all five gradients into G, writes ws.dh0. */
export function rnnBackward(blas: Blas, act: Activation, P: TensorOffsets, G: TensorOffsets, ws: Workspace,
  B = ws.shape.B, opts: BackwardOptions = {}): void {
  const { H, T } = ws.shape;
  blas.setScratch(ws.pack);
  const rows = T * B;
  // Output layer over all steps at once.
  outputBackward(blas, P, G, ws, B);
  // The recurrence, newest step first: dhs[t] already holds dL/dh_t in full when we reach it.
  for (let t = T - 1; t >= 0; t--) {
    const dh = ws.dhs + t * B * H;
    if (opts.dhTrace !== undefined) blas.copy(B * H, dh, opts.dhTrace + t * B * H);
    blas.actBackward(act, B * H, ws.hs + (t + 1) * B * H, dh); // dh -> da_t
    const dhPrev = t > 0 ? dh - B * H : ws.dh0;
    blas.sgemm(false, true, B, H, H, 1, dh, H, P.W_hh, H, t > 0 ? 1 : 0, dhPrev, H);
  }
  // Parameter gradients that need all da_t: one GEMM, one scatter, one column sum.
  blas.sgemm(true, false, H, H, rows, 1, ws.hs, H, ws.dhs, H, 1, G.W_hh, H);
  blas.scatterAddRows(rows, H, ws.x, ws.dhs, H, G.W_xh, H);
  blas.colsumAdd(rows, H, ws.dhs, H, G.b_h);
}

/** Loss only (validation, gradient checks): forward, then the summed cross-entropy; logits kept. */
export function rnnLoss(blas: Blas, act: Activation, P: TensorOffsets, ws: Workspace, B = ws.shape.B): number {
  rnnForward(blas, act, P, ws, B);
  const { V, T } = ws.shape;
  return blas.xentLoss(T * B, V, ws.logits, V, ws.y);
}
