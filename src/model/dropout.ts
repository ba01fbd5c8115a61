// Inverted dropout between stacked layers (model.dropout = p): the input of layer l > 0 is
// h^(l-1) ⊙ m / (1 - p), m ∈ {0, 1}, in training only (evaluation and sampling read h^(l-1) as it
// is). The mask is not drawn from a stream: m is a pure function of (seed, minibatch, row, step t,
// layer, unit) through a counter-based hash, so it does not depend on which worker computes a row
// or in what order, --deterministic stays bitwise for any worker count, and backward recomputes the
// mask instead of storing it. The row is the row's index in the whole minibatch, the minibatch its
// global index in the run (resume continues the same sequence of masks).
//
// The hash is Wellons' lowbias32 (an invertible 32-bit mix with near-ideal avalanche), chained over
// the key's fields: (seed, minibatch, layer) here once per call, then row, step and unit inside the
// kernel (Blas.dropout: WASM SIMD, 4 units at a time, or the TypeScript reference, the same bits).
// A unit is kept when its 32-bit value is at or above p * 2^32.

import { mix32 } from '../util/hash.js';
import type { Blas } from '../blas/types.js';

export interface DropoutKey {
  /** run.seed */
  seed: number;
  /** global minibatch index (0-based, across epochs) */
  minibatch: number;
  /** index in the minibatch of the first row of this call (a worker's shard starts at lo) */
  row0: number;
}

/** The hash of (seed, minibatch, layer): the per-call part of every mask value. */
function callKey(key: Pick<DropoutKey, 'seed' | 'minibatch'>, layer: number): number {
  let k = mix32((key.seed ^ 0x9e3779b9) >>> 0);
  k = mix32((k ^ key.minibatch) >>> 0);
  return mix32((k + Math.imul(layer, 0x85ebca6b)) >>> 0);
}

/** Units whose hash is at least this are kept (p * 2^32; capped so a p just below 1 cannot wrap to 0 in u32). */
const thresholdOf = (p: number) => Math.min(Math.round(p * 2 ** 32), 0xffffffff);

/** Whether unit j of row b (its index in the whole minibatch) at step t of `layer` is kept: the mask as a plain function (tests). */
export function dropoutKeeps(p: number, key: Pick<DropoutKey, 'seed' | 'minibatch'>, layer: number, b: number, t: number, j: number): boolean {
  const kr = mix32((callKey(key, layer) ^ b) >>> 0);
  const kt = mix32((kr + Math.imul(t, 0xc2b2ae35)) >>> 0);
  return mix32((kt ^ Math.imul(j, 0x27d4eb2f)) >>> 0) >= thresholdOf(p);
}

/**
 * dst[t, r, j] = m * src[t, r, j] / (1 - p) over (T, B, H) time-major rows (src may be dst).
 * Forward: src = h^(l-1), dst = layer l's input. Backward: dL/dh^(l-1) = m * dL/dX / (1 - p), in place.
 */
export function applyDropout(blas: Blas, src: number, dst: number, p: number, key: DropoutKey, layer: number, T: number, B: number, H: number): void {
  // the scale as the heap stores it: in float32, x * scale is then one correctly rounded product
  const scale = blas.f instanceof Float32Array ? Math.fround(1 / (1 - p)) : 1 / (1 - p);
  blas.dropout(T, B, H, src, dst, callKey(key, layer), key.row0 >>> 0, thresholdOf(p), scale);
}
