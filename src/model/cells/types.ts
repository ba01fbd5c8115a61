// What a recurrent cell is to the rest of bptt: one module per cell (rnn.ts, gru.ts, lstm.ts)
// declares its layout, its workspace, its FLOPs, its torch mapping and its forward/backward pair
// over the recurrence. Everything a layer does that is not recurrent belongs to the stack
// (model/model.ts), the same for every cell:
//   - the input contributions of all T steps: A = b + W_x[x] (gather, layer 0) or b + X W_x
//     (one GEMM, layers above), written where the cell's forward expects them (aIn);
//   - after the cell's backward has left dL/dA in dA: dW_x (scatter-add or one GEMM), db (one
//     column sum) and, for layers above the first, dL/dX = dA W_x^T into the layer below.
// A cell's forward reads aIn and the state in hs[0] (and cs[0]); its backward reads dL/dh_t in
// dhs, accumulates (+=) its recurrent gradients (dW_h and any extra block) and writes dh0.

import { panelsElems, type Activation, type Blas } from '../../blas/types.js';
import type { Arena } from '../../util/arena.js';

export type GruReset = 'before' | 'after';

export interface CellOptions {
  /** the RNN's activation (the gated cells use sigmoid and tanh) */
  act: Activation;
  /** GRU: where the reset gate applies */
  gruReset: GruReset;
}

/** One layer's activation caches: element offsets into the heap. B is the rows of the call. */
export interface LayerWorkspace {
  /** (T+1, B, H): hs[0] is the initial state, hs[t+1] = h_t; rows 1..T form the (T*B, H) output */
  hs: number;
  /** (T, B, H): dL/dh_t from above (the output layer or the next layer), then the recurrence's share */
  dhs: number;
  /** (B, H): dL/dh_0, the gradient that would flow into the initial state */
  dh0: number;
  /** layers above the first, with dropout: (T*B, H) the layer's input, the layer below's h with its mask applied */
  xDrop?: number;
  /** LSTM: (T+1, B, H) cell states, cs[0] the initial one */
  cs?: number;
  /** gated cells: (T, B, G*H) pre-activations, then activations, then dL/dA in backward */
  gates?: number;
  /** LSTM: (T, B, H) tanh(c_t) */
  tc?: number;
  /** LSTM: (B, H) running dL/dc_t in backward, dL/dc_0 after it */
  dc?: number;
  /** GRU: (T, B, H) per step: h W_hh + b_hn (after) or R ⊙ h (before) */
  aux?: number;
  /** GRU after: (T, B, 3H) h W_h per step, then dL/d(h W_h) in backward */
  hg?: number;
  /** GRU before: (B, H) scratch for dL/d(R ⊙ h) */
  tmp?: number;
  /** W_h's blocks as prepacked panels for the pass's per-step products (stepProduct), sized by
   *  panelBufferElems; absent in workspaces that never run long passes (generation) */
  panels?: number;
}

/** The parts every layer has, placed by the stack; a cell adds its own. */
export type LayerBase = Pick<LayerWorkspace, 'hs' | 'dhs' | 'dh0' | 'panels'>;

/** Where backward copies per-step gradients for inspection (T, B, H each), or nothing. */
export interface LayerTrace {
  dh?: number;
  /** LSTM: dL/dc_t */
  dc?: number;
}

/** Block offsets of one layer, by the names of its layout (W_x, W_h, b and the cell's extras). */
export type LayerOffsets = Record<string, number>;

export interface TorchMapping {
  /** the torch.nn module */
  module: 'RNN' | 'GRU' | 'LSTM';
  /** our gate letters in torch's stacking order */
  gateOrder: readonly string[];
  /** torch's bias_hh: zero, except the parts named here (torch gate letter -> our extra block) */
  hhBias: Readonly<Record<string, string>>;
  /** why this configuration has no torch equivalent, or null */
  refuses(o: CellOptions): string | null;
  /** the module's nonlinearity argument */
  nonlinearity(o: CellOptions): 'tanh' | 'relu';
  /** the cell's options of a model read back from torch (torch's GRU resets after the product) */
  fromTorch(nonlinearity: 'tanh' | 'relu'): Partial<CellOptions>;
}

export interface Cell {
  /** the name of model.cell (cells/index.ts lists the cells under these names) */
  kind: string;
  /** what it is, for the config reference: "the Elman RNN of D2L chapter 6" */
  about: string;
  /** the cell with the options that matter for it, for summaries: "rnn tanh", "gru (reset after)", "lstm" */
  label(o: CellOptions): string;
  /** gate letters in storage order; the fused blocks are W_x (in, G*H), W_h (H, G*H), b (G*H) and
   *  the named tensors W_x{g} (in, H), W_h{g} (H, H), b_{g} (H), g in gates: D2L's names */
  gates: readonly string[];
  /** extra blocks after b (and named tensors of the same name), each (H) */
  extras(o: CellOptions): string[];
  /** the state carried per sequence and layer, by name: ['h'], or ['h', 'c'] for the LSTM */
  state: readonly string[];
  /** a layer's buffers of those states, in that order, each (T+1, B, H) with step 0 the initial state */
  stateBuffers(lw: LayerWorkspace): number[];
  /** (T*B, G*H) for a call of B rows: where forward expects b + the input contributions of every
   *  step (aIn), and where backward leaves dL/dA, the gradient at those pre-activations (dA) */
  inputs(lw: LayerWorkspace, H: number, B: number): { aIn: number; dA: number };
  /** the cell's own buffers for up to B rows, T steps */
  alloc(arena: Arena, base: LayerBase, H: number, T: number, B: number, o: CellOptions): LayerWorkspace;
  /** the recurrence forward: aIn holds b + input contributions; fills hs[1..T] (and cs) */
  forward(blas: Blas, o: CellOptions, P: LayerOffsets, lw: LayerWorkspace, H: number, T: number, B: number): void;
  /** the recurrence backward from dL/dh_t in dhs: leaves dL/dA in dA, accumulates dW_h (+ extras), writes dh0 (and dc) */
  backward(blas: Blas, o: CellOptions, P: LayerOffsets, G: LayerOffsets, lw: LayerWorkspace, H: number, T: number, B: number, trace: LayerTrace): void;
  torch: TorchMapping;
}

/**
 * The row stride (elements) of a layer's fused recurrent weight W_h (H, width), width = G*H. A row
 * of 1024 floats is 4 KiB: the rows of W_h then map to the same cache sets, and the unpacked
 * per-step GEMM h W_h runs at half speed (32 x 1024 x 256, the D2L LSTM's step: 28.5 GFLOP/s at a
 * stride of 1024, 59.4 at 1040; 2-core EPYC VM, 2026-11-27). Such rows get 16 floats of padding,
 * which no named tensor covers: it stays zero in the parameters, gradients and optimizer state.
 */
export function recurrentRowStride(width: number): number {
  return width % 1024 === 0 ? width + 16 : width;
}

/** Steps a pass needs before packing W_h pays for itself (it is packed once per pass; generation runs T = 1). */
export const PANEL_MIN_STEPS = 4;

/**
 * Elements a layer's panel buffer needs for G gates of H units: the forward packs blocks of
 * W_h (H x G*H in all), the backward their transposes (G*H x H in all), each block's columns
 * rounded up to 8 (panelsElems).
 */
export function panelBufferElems(G: number, H: number): number {
  return Math.max(H * (G * H + 8 * G), G * H * (Math.ceil(H / 8) * 8));
}

/** One per-step product X op(Wblock) of a pass: run(M, a, lda, beta, c, ldc) is C = A op(W) + beta C. */
export interface StepProduct {
  run(M: number, a: number, lda: number, beta: number, c: number, ldc: number): void;
  /** panel elements it took from the layer's buffer (0 when it runs unpacked), where the next block starts */
  elems: number;
}

/**
 * The product of each step's rows with one block of W_h (op(W) is K x N; W is K x N, or N x K when
 * transB, ld apart), the same at every step of a pass. When the workspace has a panel buffer, the
 * pass is long enough and the kernels can, the block is packed once here, at element `at` of the
 * buffer (panelBufferElems bounds what the cells pack; test/panels.test.ts checks it for each),
 * and every step runs sgemmPanels (unit-stride reads: blas/assembly/kernels.ts says why and how
 * much faster); otherwise every step runs the plain sgemm. The sums are over the same k either
 * way; only float32 rounding differs.
 */
export function stepProduct(blas: Blas, lw: LayerWorkspace, T: number, transB: boolean, K: number, N: number,
  w: number, ld: number, at = 0): StepProduct {
  const elems = panelsElems(K, N);
  if (lw.panels === undefined || T < PANEL_MIN_STEPS || !blas.canUsePanels(K)) {
    return {
      elems: 0,
      run: (M, a, lda, beta, c, ldc) => blas.sgemm(false, transB, M, N, K, 1, a, lda, w, ld, beta, c, ldc),
    };
  }
  const panels = lw.panels + at;
  blas.packPanels(transB, K, N, w, ld, panels);
  return { elems, run: (M, a, lda, beta, c, ldc) => blas.sgemmPanels(M, N, K, 1, a, lda, panels, beta, c, ldc) };
}

/** FLOPs per token of one layer's training step (forward + BPTT), a multiply-add counted as 2:
 *  per gate three H x H products (recurrence forward, dW_h, dh_{t-1}) and, when the input is
 *  dense (layers above the first), three H x inDense products (input forward, dW_x, dX). The
 *  first layer's input is a row gather: no multiplies. Elementwise gate math is not counted. */
export function layerFlopsPerToken(cell: Cell, H: number, inDense: number): number {
  return 6 * cell.gates.length * H * (H + inDense);
}
