// The model's parameters as ONE flat buffer with a layout table (offsets, shapes) and named
// ndarray views. Gradients and any optimizer state share the layout, so reduce, norm, clip and
// update are single loops over numParams. Shapes follow D2L's code (row vectors times matrices).
//
// A layout has STORAGE blocks (what the kernels read: contiguous, 64-byte aligned) and NAMED
// tensors (what checkpoints hold, D2L's names). Each layer of a cell with gates g1..gG stores them
// fused, so one gather (or GEMM) and one recurrent GEMM per step serve every gate:
//   W_x (in, G*H)   W_h (H, G*H)   b (G*H)   [the cell's extras, e.g. the GRU's b_hn (H)]
// and names each gate as D2L does, a column slice of a fused block (a strided view):
//   W_x{g} (in, H)   W_h{g} (H, H)   b_{g} (H)
// rnn: one gate h (W_xh W_hh b_h: the chapter's tensors, contiguous); gru (D2L 6.7): z, r, h
// (+ b_hn for reset "after"); lstm (D2L 6.8): i, f, o, c. The output layer closes the list:
//   W_hq (H, V)   b_q (V)
// Layer 0 reads the one-hot input (in = V); layers above read the layer below (in = H). With one
// layer the names are exactly the above (so checkpoints read like the book); with L > 1 every
// layer's names carry the prefix l{k}. with k from 0 (the layer that reads the characters), as
// PyTorch's weight_ih_l{k} does: l0.W_xi ... l1.W_xi ..., then W_hq, b_q.
// The chapter writes column vectors; its W_hh is the transpose of ours, its W_qh is our W_hq^T.

import ndarray from 'ndarray';
import { alignUp } from '../util/arena.js';
import type { CellKind } from './cells/index.js';
import { layerFlopsPerToken, recurrentRowStride } from './cells/types.js';
import { cellAndOptions, type ModelDesc } from './desc.js';

export type { CellKind };

export interface TensorSpec {
  name: string;
  shape: number[];
  /** offset in elements of the first element from the start of the parameter block */
  offset: number;
  /** elements of the tensor itself */
  size: number;
  /** elements between rows of a 2-D tensor (its width when contiguous) */
  rowStride: number;
  /** what initialization draws for it: weights N(0, s^2), biases exactly 0 (every 1-D tensor is a bias) */
  role: 'weight' | 'bias';
}

export interface ParamLayout {
  /** the model this layout holds (dropout and the activation change no tensor) */
  model: ModelDesc;
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
/** Weights are matrices, biases vectors: the role follows from the shape, for every cell and depth. */
const roleOf = (shape: number[]): TensorSpec['role'] => (shape.length === 1 ? 'bias' : 'weight');

/** The prefix of layer l's names in a model of L layers: none for one layer, else "l{l}.". */
export function layerPrefix(l: number, L: number): string {
  return L > 1 ? `l${l}.` : '';
}

export function paramLayout(model: ModelDesc): ParamLayout {
  const { V, H, layers: L } = model;
  const { cell, o } = cellAndOptions(model);
  const G = cell.gates.length;
  let offset = 0;
  const blocks: Record<string, TensorSpec> = {};
  const tensors: Record<string, TensorSpec> = {};
  const names: string[] = [];
  const block = (name: string, shape: number[], rowStride = shape[shape.length - 1]) => {
    const size = sizeOf(shape);
    // a padded block spans its rows at their stride (the padding after the last row is not needed)
    const span = shape.length === 2 ? (shape[0] - 1) * rowStride + shape[1] : size;
    blocks[name] = { name, shape, offset, size, rowStride, role: roleOf(shape) };
    offset = alignUp(offset + span);
    return blocks[name];
  };
  const add = (t: TensorSpec) => { tensors[t.name] = t; names.push(t.name); };
  for (let l = 0; l < L; l++) {
    const pre = layerPrefix(l, L);
    const inDim = l === 0 ? V : H;
    const Wx = block(`${pre}W_x`, [inDim, G * H]), Wh = block(`${pre}W_h`, [H, G * H], recurrentRowStride(G * H)), b = block(`${pre}b`, [G * H]);
    const extras = cell.extras(o).map((e) => block(`${pre}${e}`, [H]));
    cell.gates.forEach((g, k) => {
      add({ name: `${pre}W_x${g}`, shape: [inDim, H], offset: Wx.offset + k * H, size: inDim * H, rowStride: G * H, role: 'weight' });
      add({ name: `${pre}W_h${g}`, shape: [H, H], offset: Wh.offset + k * H, size: H * H, rowStride: Wh.rowStride, role: 'weight' });
      add({ name: `${pre}b_${g}`, shape: [H], offset: b.offset + k * H, size: H, rowStride: H, role: 'bias' });
    });
    for (const e of extras) add(e);
  }
  add(block('W_hq', [H, V]));
  add(block('b_q', [V]));
  return { model, blocks, tensors, names, numParams: offset };
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

/** D2L initialization: weights ~ N(0, scale^2), biases zero (at every depth). Padding stays zero. */
export function initParams(layout: ParamLayout, heap: Float32Array | Float64Array, base: number,
  normal: () => number, scale: number): void {
  heap.fill(0, base, base + layout.numParams);
  for (const name of layout.names) {
    const t = layout.tensors[name];
    if (t.role === 'bias') continue;
    const rows = t.shape.length === 2 ? t.shape[0] : 1;
    const cols = t.size / rows;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) heap[base + t.offset + r * t.rowStride + c] = normal() * scale;
  }
}

/** FLOPs per token of one training step (forward + BPTT), a multiply-add counted as 2: the output
 *  layer's three H x V products (forward, dW_hq, dH) and each layer's (cells/types.ts
 *  layerFlopsPerToken): 6HV + sum_l 6 G H (H + in_l), in_0 = 0 (a gather), in_l = H above it. */
export function trainFlopsPerToken(model: ModelDesc): number {
  const { V, H, layers } = model;
  const { cell } = cellAndOptions(model);
  let flops = 6 * H * V;
  for (let l = 0; l < layers; l++) flops += layerFlopsPerToken(cell, H, l === 0 ? 0 : H);
  return flops;
}
