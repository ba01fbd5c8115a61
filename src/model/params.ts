// The model's parameters as ONE flat buffer with a layout table (offsets, shapes) and named
// ndarray views. Gradients and any optimizer state share the layout, so reduce, norm, clip and
// update are single loops over numParams. Shapes follow D2L's code (row vectors times matrices).
//
// A layout has STORAGE blocks (what the kernels read: contiguous, 64-byte aligned) and NAMED
// tensors (what checkpoints hold, D2L's names). For the RNN they are the same five tensors:
//   W_xh (V, H)   W_hh (H, H)   b_h (H)   W_hq (H, V)   b_q (V)
// The LSTM stores its four gates fused, so one gather and one GEMM per step serve them all:
//   W_x (V, 4H)   W_h (H, 4H)   b (4H)   W_hq (H, V)   b_q (V),   gate order i, f, o, c
// and names them as D2L 6.8 does, each a column slice of a fused block (a strided view):
//   W_xi W_hi b_i  W_xf W_hf b_f  W_xo W_ho b_o  W_xc W_hc b_c  W_hq b_q
// The GRU likewise, three gates z, r, h~ (W_x (V, 3H), W_h (H, 3H), b (3H), plus b_hn (H) when the
// reset gate applies after the product, PyTorch's convention), named as D2L 6.7 does:
//   W_xz W_hz b_z  W_xr W_hr b_r  W_xh W_hh b_h  [b_hn]  W_hq b_q
// The chapter writes column vectors; its W_hh is the transpose of ours, its W_qh is our W_hq^T.

import ndarray from 'ndarray';
import type { TrainConfig } from '../config/schema.js';
import { alignUp } from '../util/arena.js';

export type CellKind = TrainConfig['model']['cell'];

/** The RNN's tensor names (also its storage), in checkpoint order. */
export const TENSOR_NAMES = ['W_xh', 'W_hh', 'b_h', 'W_hq', 'b_q'] as const;
export type TensorName = string;

/** LSTM gates in storage order (D2L 6.8's order of presentation). */
export const LSTM_GATES = ['i', 'f', 'o', 'c'] as const;

export interface ModelDims {
  /** vocabulary size */
  V: number;
  /** hidden units */
  H: number;
  /** recurrent cell (default rnn) */
  cell?: CellKind;
  /** GRU: where the reset gate applies (default before, D2L); "after" adds the bias b_hn */
  gruReset?: 'before' | 'after';
}

/** GRU gates in storage order (D2L 6.7): update z, reset r, candidate h~ (named W_xh, W_hh, b_h). */
export const GRU_GATES = ['z', 'r', 'h'] as const;

export interface TensorSpec {
  name: string;
  shape: number[];
  /** offset in elements of the first element from the start of the parameter block */
  offset: number;
  /** elements of the tensor itself */
  size: number;
  /** elements between rows of a 2-D tensor (its width when contiguous) */
  rowStride: number;
}

export interface ParamLayout {
  dims: ModelDims;
  /** storage blocks the kernels use, by name (16-element aligned, contiguous) */
  blocks: Record<string, TensorSpec>;
  /** named tensors (checkpoint tensors), by name; views into the blocks */
  tensors: Record<string, TensorSpec>;
  /** the named tensors in checkpoint order */
  names: string[];
  /** elements in the block, padding included (a multiple of 16) */
  numParams: number;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function storageOf({ V, H, cell = 'rnn', gruReset = 'before' }: ModelDims): Array<[string, number[]]> {
  if (cell === 'lstm') return [['W_x', [V, 4 * H]], ['W_h', [H, 4 * H]], ['b', [4 * H]], ['W_hq', [H, V]], ['b_q', [V]]];
  if (cell === 'gru') {
    return [['W_x', [V, 3 * H]], ['W_h', [H, 3 * H]], ['b', [3 * H]], ...(gruReset === 'after' ? [['b_hn', [H]] as [string, number[]]] : []),
      ['W_hq', [H, V]], ['b_q', [V]]];
  }
  return [['W_xh', [V, H]], ['W_hh', [H, H]], ['b_h', [H]], ['W_hq', [H, V]], ['b_q', [V]]];
}

export function paramLayout(dims: ModelDims): ParamLayout {
  let offset = 0;
  const blocks: Record<string, TensorSpec> = {};
  for (const [name, shape] of storageOf(dims)) {
    const size = sizeOf(shape);
    blocks[name] = { name, shape, offset, size, rowStride: shape[shape.length - 1] };
    offset = alignUp(offset + size);
  }
  const tensors: Record<string, TensorSpec> = {};
  const names: string[] = [];
  const add = (t: TensorSpec) => { tensors[t.name] = t; names.push(t.name); };
  const cell = dims.cell ?? 'rnn';
  if (cell === 'lstm' || cell === 'gru') {
    const { V, H } = dims;
    const gates = cell === 'lstm' ? LSTM_GATES : GRU_GATES;
    const width = gates.length * H;
    gates.forEach((g, k) => {
      add({ name: `W_x${g}`, shape: [V, H], offset: blocks.W_x.offset + k * H, size: V * H, rowStride: width });
      add({ name: `W_h${g}`, shape: [H, H], offset: blocks.W_h.offset + k * H, size: H * H, rowStride: width });
      add({ name: `b_${g}`, shape: [H], offset: blocks.b.offset + k * H, size: H, rowStride: H });
    });
    if (blocks.b_hn) add(blocks.b_hn);
    add(blocks.W_hq);
    add(blocks.b_q);
  } else {
    for (const name of TENSOR_NAMES) add(blocks[name]);
  }
  return { dims, blocks, tensors, names, numParams: offset };
}

/** Absolute element offsets of every block and named tensor of a parameter block at `base`. */
export type TensorOffsets = Record<string, number>;

export function offsetsAt(layout: ParamLayout, base: number): TensorOffsets {
  const out: TensorOffsets = {};
  for (const t of Object.values(layout.blocks)) out[t.name] = base + t.offset;
  for (const t of Object.values(layout.tensors)) out[t.name] = base + t.offset;
  return out;
}

export type Views = Record<string, ndarray.NdArray<Float32Array | Float64Array>>;

/** Named ndarray views (shape and stride, no copy) over a block at `base` in `heap`. */
export function viewsOf(layout: ParamLayout, heap: Float32Array | Float64Array, base: number): Views {
  const out: Views = {};
  for (const name of layout.names) {
    const t = layout.tensors[name];
    out[name] = t.shape.length === 2
      ? ndarray(heap, t.shape, [t.rowStride, 1], base + t.offset)
      : ndarray(heap, t.shape, [1], base + t.offset);
  }
  return out;
}

/** A named tensor copied out of the heap, row-major and contiguous. */
export function readTensor(t: TensorSpec, heap: Float32Array | Float64Array, base: number): Float32Array {
  const out = new Float32Array(t.size);
  const rows = t.shape.length === 2 ? t.shape[0] : 1;
  const cols = t.size / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = heap[base + t.offset + r * t.rowStride + c];
  return out;
}

/** The inverse of readTensor: a contiguous row-major tensor written into its (strided) place. */
export function writeTensor(t: TensorSpec, data: ArrayLike<number>, heap: Float32Array | Float64Array, base: number): void {
  const rows = t.shape.length === 2 ? t.shape[0] : 1;
  const cols = t.size / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) heap[base + t.offset + r * t.rowStride + c] = data[r * cols + c];
}

/** D2L initialization: weights ~ N(0, scale^2), biases zero. Padding stays zero. */
export function initParams(layout: ParamLayout, heap: Float32Array | Float64Array, base: number,
  normal: () => number, scale: number): void {
  heap.fill(0, base, base + layout.numParams);
  for (const name of layout.names) {
    if (name.startsWith('b_')) continue;
    const t = layout.tensors[name];
    const rows = t.shape.length === 2 ? t.shape[0] : 1;
    const cols = t.size / rows;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) heap[base + t.offset + r * t.rowStride + c] = normal() * scale;
  }
}

/** FLOPs per token of one training step (forward + BPTT), counting a multiply-add as 2: the output
 *  layer's three H x V products (forward, dW_hq, dH), and per gate three H x H products (recurrence
 *  forward, dW_h, dh_{t-1}): 6HV + 6 G H^2 with G = 1 (RNN), 3 (GRU) or 4 (LSTM). The input layer is a row
 *  gather, so it costs no multiplies; elementwise gate math is not counted. */
export function trainFlopsPerToken({ V, H, cell = 'rnn' }: ModelDims): number {
  return 6 * H * V + 6 * (cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1) * H * H;
}
