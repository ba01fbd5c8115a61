// Shared test fixtures: a tiny float64 model on the reference kernels.
import { RefBlas } from '../src/blas/ref.js';
import type { Activation } from '../src/blas/types.js';
import { allocWorkspace, type SeqShape, type Workspace } from '../src/model/bptt.js';
import { initParams, offsetsAt, paramLayout, type ParamLayout, type TensorOffsets } from '../src/model/params.js';
import { Arena } from '../src/util/arena.js';
import { Rng } from '../src/util/rng.js';

export interface TinyModel {
  blas: RefBlas;
  layout: ParamLayout;
  P: TensorOffsets;
  G: TensorOffsets;
  pBase: number;
  gBase: number;
  ws: Workspace;
  act: Activation;
}

export function tinyModel(shape: SeqShape, act: Activation, seed = 1, scale = 0.5): TinyModel {
  const blas = new RefBlas(1 << 16, 'f64');
  const layout = paramLayout({ V: shape.V, H: shape.H });
  const arena = new Arena(0, 1 << 16);
  const pBase = arena.alloc(layout.numParams);
  const gBase = arena.alloc(layout.numParams);
  const ws = allocWorkspace(arena, shape);
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
  for (let k = 0; k < B * H; k++) blas.f[ws.hs + k] = rng.normal() * 0.3; // non-zero h_0
  return { blas, layout, P: offsetsAt(layout, pBase), G: offsetsAt(layout, gBase), pBase, gBase, ws, act };
}

/** |a - r| <= atol + rtol |r| */
export function close(a: number, r: number, atol: number, rtol: number): boolean {
  return Math.abs(a - r) <= atol + rtol * Math.abs(r);
}
