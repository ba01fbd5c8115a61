// Shared test fixtures: a tiny float64 model on the reference kernels.
import { RefBlas } from '../src/blas/ref.js';
import type { Activation } from '../src/blas/types.js';
import { allocModelWorkspace, type ModelSpec, type SeqShape, type Workspace } from '../src/model/model.js';
import { initParams, offsetsAt, paramLayout, type ParamLayout, type TensorOffsets } from '../src/model/params.js';
import { Arena } from '../src/util/arena.js';
import { Rng } from '../src/util/rng.js';
import { expect } from 'vitest';

export interface TinyModel {
  blas: RefBlas;
  layout: ParamLayout;
  P: TensorOffsets;
  G: TensorOffsets;
  pBase: number;
  gBase: number;
  ws: Workspace;
  act: Activation;
  spec: ModelSpec;
}

export function tinyModel(shape: SeqShape, act: Activation, seed = 1, scale = 0.5): TinyModel {
  const blas = new RefBlas(1 << 16, 'f64');
  const layout = paramLayout({ V: shape.V, H: shape.H });
  const arena = new Arena(0, 1 << 16);
  const pBase = arena.alloc(layout.numParams);
  const gBase = arena.alloc(layout.numParams);
  const spec: ModelSpec = { cell: 'rnn', act };
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
