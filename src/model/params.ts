// The model's parameters as ONE flat buffer with a layout table (offsets, shapes) and named
// ndarray views. Gradients and any optimizer state share the layout, so reduce, norm, clip and
// update are single loops over numParams. Shapes follow D2L's code (row vectors times matrices):
//   W_xh (V, H)   b_h (H)   W_hh (H, H)   W_hq (H, V)   b_q (V)
// The chapter writes column vectors; its W_hh is the transpose of ours, its W_qh is our W_hq^T.

import ndarray from 'ndarray';
import { alignUp } from '../util/arena.js';

export const TENSOR_NAMES = ['W_xh', 'W_hh', 'b_h', 'W_hq', 'b_q'] as const;
export type TensorName = (typeof TENSOR_NAMES)[number];

export interface ModelDims {
  /** vocabulary size */
  V: number;
  /** hidden units */
  H: number;
}

export interface TensorSpec {
  name: TensorName;
  shape: number[];
  /** offset in elements from the start of the parameter block; 16-element aligned */
  offset: number;
  size: number;
}

export interface ParamLayout {
  dims: ModelDims;
  tensors: Record<TensorName, TensorSpec>;
  /** elements in the block, padding included (a multiple of 16) */
  numParams: number;
}

export function shapeOf(name: TensorName, { V, H }: ModelDims): number[] {
  switch (name) {
    case 'W_xh': return [V, H];
    case 'W_hh': return [H, H];
    case 'b_h': return [H];
    case 'W_hq': return [H, V];
    case 'b_q': return [V];
  }
}

export function paramLayout(dims: ModelDims): ParamLayout {
  let offset = 0;
  const tensors = {} as Record<TensorName, TensorSpec>;
  for (const name of TENSOR_NAMES) {
    const shape = shapeOf(name, dims);
    const size = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { name, shape, offset, size };
    offset = alignUp(offset + size);
  }
  return { dims, tensors, numParams: offset };
}

/** Absolute element offsets of each tensor of a block that starts at `base`. */
export type TensorOffsets = Record<TensorName, number>;

export function offsetsAt(layout: ParamLayout, base: number): TensorOffsets {
  const out = {} as TensorOffsets;
  for (const name of TENSOR_NAMES) out[name] = base + layout.tensors[name].offset;
  return out;
}

export type Views = Record<TensorName, ndarray.NdArray<Float32Array | Float64Array>>;

/** Named ndarray views (shape and stride, no copy) over a block at `base` in `heap`. */
export function viewsOf(layout: ParamLayout, heap: Float32Array | Float64Array, base: number): Views {
  const out = {} as Views;
  for (const name of TENSOR_NAMES) {
    const t = layout.tensors[name];
    out[name] = ndarray(heap.subarray(base + t.offset, base + t.offset + t.size), t.shape);
  }
  return out;
}

/** D2L initialization: weights ~ N(0, scale^2), biases zero. Padding stays zero. */
export function initParams(layout: ParamLayout, heap: Float32Array | Float64Array, base: number,
  normal: () => number, scale: number): void {
  heap.fill(0, base, base + layout.numParams);
  for (const name of TENSOR_NAMES) {
    if (name.startsWith('b_')) continue;
    const t = layout.tensors[name];
    for (let k = 0; k < t.size; k++) heap[base + t.offset + k] = normal() * scale;
  }
}

/** FLOPs per token of one training step (forward + BPTT), counting a multiply-add as 2:
 *  six matrix products of H x V (output forward, dW_hq, dH) and H x H (recurrence forward,
 *  dW_hh, dh_{t-1}) per token; the input layer is a row gather, so it costs no multiplies. */
export function trainFlopsPerToken({ V, H }: ModelDims): number {
  return 6 * H * V + 6 * H * H;
}
