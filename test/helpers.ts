// Shared test fixtures: a tiny float64 model on the reference kernels.
import { createWasmBlas } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import { RESERVED_LOW_BYTES } from '../src/blas/types.js';
import type { Activation } from '../src/blas/types.js';
import type { Blas } from '../src/blas/types.js';
import { allocModelWorkspace, modelBackward, modelForward, modelLoss, xentForwardBackward, type ForwardOptions, type SeqShape, type Workspace } from '../src/model/model.js';
import { cellOf, type CellKind } from '../src/model/cells/index.js';
import type { GruReset } from '../src/model/cells/types.js';
import type { ModelDesc } from '../src/model/desc.js';
import { initParams, offsetsAt, paramLayout, writeTensor, type ParamLayout, type TensorOffsets } from '../src/model/params.js';
import { Arena } from '../src/util/arena.js';
import { Rng } from '../src/util/rng.js';
import { expect } from 'vitest';

/** The one-layer RNN's tensors in checkpoint order: the seed chapter's W_xh, W_hh, b_h, W_hq, b_q. */
export const RNN_TENSORS = ['W_xh', 'W_hh', 'b_h', 'W_hq', 'b_q'] as const;

/** What a test says about its model: the cell and activation, maybe the GRU's reset, depth and dropout. */
export interface CellSpec {
  cell: CellKind;
  act: Activation;
  gruReset?: GruReset;
  layers?: number;
  dropout?: number;
}

/** A test model's full description: what the test states; otherwise one layer, D2L's GRU reset, no dropout. */
export function desc(spec: CellSpec, shape: { V: number; H: number }): ModelDesc {
  return { gruReset: 'before', layers: 1, dropout: 0, ...spec, V: shape.V, H: shape.H };
}

export interface TinyModel {
  blas: RefBlas;
  layout: ParamLayout;
  P: TensorOffsets;
  G: TensorOffsets;
  pBase: number;
  gBase: number;
  ws: Workspace;
  act: Activation;
  spec: ModelDesc;
}

export function tinyModel(shape: SeqShape, act: Activation, seed = 1, scale = 0.5): TinyModel {
  const blas = new RefBlas(1 << 16, 'f64');
  const spec = desc({ cell: 'rnn', act }, shape);
  const layout = paramLayout(spec);
  const arena = new Arena(0, 1 << 16);
  const pBase = arena.alloc(layout.numParams);
  const gBase = arena.alloc(layout.numParams);
  const ws = allocModelWorkspace(arena, spec, shape);
  const rng = new Rng(seed);
  initParams(layout, blas.f, pBase, () => rng.normal(), scale);
  // non-zero biases so their gradients are exercised
  for (const name of ['b_h', 'b_q'] as const) {
    const t = layout.tensors[name];
    for (let k = 0; k < t.size; k++) blas.f[pBase + t.offset + k] = rng.normal() * scale;
  }
  const { T, B, V, H } = shape;
  for (let k = 0; k < T * B; k++) {
    blas.i[ws.x + k] = rng.int(V);
    blas.i[ws.y + k] = rng.int(V);
  }
  for (let k = 0; k < B * H; k++) blas.f[ws.layers[0].hs + k] = rng.normal() * 0.3; // non-zero h_0
  return { blas, layout, P: offsetsAt(layout, pBase), G: offsetsAt(layout, gBase), pBase, gBase, ws, act, spec };
}

/**
 * Any model (cell, depth) at `base` of `blas`'s heap: weights N(0, 0.25), biases too (so their
 * gradients are exercised), random token ids, a non-zero initial state in every layer (h, and c).
 */
export function buildModel(blas: Blas, base: number, spec: CellSpec, seed: number, s: SeqShape, packed = false) {
  const model = desc(spec, s);
  const layout = paramLayout(model);
  const arena = new Arena(base);
  const pBase = arena.alloc(layout.numParams), gBase = arena.alloc(layout.numParams);
  // packed: the training workspace's GEMM scratch and W_h panels (the recurrence packs W_h once per pass)
  const ws = allocModelWorkspace(arena, model, s, packed);
  const rng = new Rng(seed);
  initParams(layout, blas.f, pBase, () => rng.normal(), 0.5);
  for (const name of layout.names.filter((n) => /(^|\.)b_/.test(n))) {
    const t = layout.tensors[name];
    writeTensor(t, Array.from({ length: t.size }, () => rng.normal() * 0.5), blas.f, pBase);
  }
  for (let k = 0; k < s.T * s.B; k++) { blas.i[ws.x + k] = rng.int(s.V); blas.i[ws.y + k] = rng.int(s.V); }
  for (const lw of ws.layers) for (const st of cellOf(model.cell).stateBuffers(lw)) {
    for (let k = 0; k < s.B * s.H; k++) blas.f[st + k] = rng.normal() * 0.3;
  }
  return { model, layout, pBase, gBase, ws, P: offsetsAt(layout, pBase), G: offsetsAt(layout, gBase) };
}

export type BuiltModel = ReturnType<typeof buildModel>;

/** The gradient of the mean loss over the T*B tokens (or over `n`) into m.gBase (zeroed first). */
export function modelGrads(blas: Blas, m: BuiltModel, opts: ForwardOptions = {}, n = m.ws.shape.T * m.ws.shape.B): void {
  blas.fill(m.layout.numParams, 0, m.gBase);
  modelForward(m.model, blas, m.P, m.ws, m.ws.shape.B, opts);
  xentForwardBackward(blas, m.ws, 1 / n);
  modelBackward(m.model, blas, m.P, m.G, m.ws, m.ws.shape.B, opts);
}

/**
 * The same model (cell, depth, shape, seed) on the float64 reference and on the float32 WASM
 * kernels, from identical float32 starting values (parameters and every layer's initial state):
 * the loss agrees to 1e-5 relative and every gradient to `tol` times the largest one. Returns both
 * sides for further checks.
 */
export function expectWasmMatchesFloat64(spec: CellSpec, s: SeqShape, o: { seed?: number; opts?: ForwardOptions; tol?: number; packed?: boolean } = {}) {
  const { seed = 9, opts = {}, tol = 2e-5, packed = false } = o;
  // sized as buildModel places it: both gradient-sized blocks and the workspace
  const layout = paramLayout(desc(spec, s));
  const measure = new Arena(0);
  measure.alloc(layout.numParams);
  measure.alloc(layout.numParams);
  allocModelWorkspace(measure, desc(spec, s), s, packed);
  const ref = new RefBlas(measure.end, 'f64');
  const wasm = createWasmBlas(RESERVED_LOW_BYTES + measure.end * 4);
  const a = buildModel(ref, 0, spec, seed, s, packed);
  const b = buildModel(wasm, RESERVED_LOW_BYTES / 4, spec, seed, s, packed);
  // the reference starts from the float32-rounded values the kernels hold
  const copyRounded = (from: number, to: number, n: number) => { for (let k = 0; k < n; k++) ref.f[from + k] = wasm.f[to + k]; };
  copyRounded(a.pBase, b.pBase, a.layout.numParams);
  const cell = cellOf(a.model.cell);
  a.ws.layers.forEach((lw, l) => {
    const theirs = cell.stateBuffers(b.ws.layers[l]);
    cell.stateBuffers(lw).forEach((buf, k) => copyRounded(buf, theirs[k], s.B * s.H));
  });
  const n = s.T * s.B;
  modelGrads(ref, a, opts, n);
  modelGrads(wasm, b, opts, n);
  let scale = 0, worst = 0;
  for (let k = 0; k < a.layout.numParams; k++) scale = Math.max(scale, Math.abs(ref.f[a.gBase + k]));
  for (let k = 0; k < a.layout.numParams; k++) worst = Math.max(worst, Math.abs(wasm.f[b.gBase + k] - ref.f[a.gBase + k]));
  expect(scale).toBeGreaterThan(0);
  expect(worst, `largest gradient difference, against the largest gradient ${scale}`).toBeLessThanOrEqual(tol * scale);
  expect(close(modelLoss(b.model, wasm, b.P, b.ws, s.B, opts), modelLoss(a.model, ref, a.P, a.ws, s.B, opts), 0, 1e-5)).toBe(true);
  return { ref, wasm, a, b };
}

/** |a - r| <= atol + rtol |r| */
export function close(a: number, r: number, atol: number, rtol: number): boolean {
  return Math.abs(a - r) <= atol + rtol * Math.abs(r);
}

/** Central difference of `loss` with respect to heap[at] (restored afterwards). */
function centralDiff(f: Float32Array | Float64Array, at: number, loss: () => number, eps: number): number {
  const saved = f[at];
  f[at] = saved + eps; const up = loss();
  f[at] = saved - eps; const down = loss();
  f[at] = saved;
  return (up - down) / (2 * eps);
}

/**
 * Float64 gradient check of every element of every named tensor of `layout` (strided views
 * included): analytic gradient at gBase against central differences of `loss` at pBase. Returns
 * how many elements were checked.
 */
export function gradcheckTensors(f: Float32Array | Float64Array, layout: ParamLayout, pBase: number, gBase: number, loss: () => number, eps = 1e-6): number {
  let checked = 0;
  for (const name of layout.names) {
    const t = layout.tensors[name];
    const rows = t.shape.length === 2 ? t.shape[0] : 1, cols = t.size / rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const at = t.offset + r * t.rowStride + c;
        const numeric = centralDiff(f, pBase + at, loss, eps);
        expect(close(f[gBase + at], numeric, 1e-8, 1e-6), `${name}[${r},${c}] analytic ${f[gBase + at]} numeric ${numeric}`).toBe(true);
        checked++;
      }
    }
  }
  return checked;
}

/** The same for a state buffer: `analytic` (a copy) against central differences at heap[base + k]. */
export function gradcheckBuffer(f: Float32Array | Float64Array, base: number, analytic: number[], loss: () => number, what: string, eps = 1e-6): void {
  analytic.forEach((a, k) => expect(close(a, centralDiff(f, base + k, loss, eps), 1e-8, 1e-6), `${what}[${k}]`).toBe(true));
}
