// Inverted dropout between stacked layers (model.dropout = p): the input of layer l > 0 is
// h^(l-1) ⊙ m / (1 - p), m ∈ {0, 1}, in training only (evaluation and sampling read h^(l-1) as it
// is). The mask is not drawn from a stream: m is a pure function of (seed, minibatch, row, step t,
// layer, unit) through a counter-based hash, so it does not depend on which worker computes a row
// or in what order, --deterministic stays bitwise for any worker count, and backward recomputes the
// mask instead of storing it. The row is the row's index in the whole minibatch, the minibatch its
// global index in the run (resume continues the same sequence of masks).
//
// The hash is Wellons' lowbias32 (an invertible 32-bit mix with near-ideal avalanche), chained over
// the key's fields; a unit is kept when its 32-bit value is at or above p * 2^32.

export interface DropoutKey {
  /** run.seed */
  seed: number;
  /** global minibatch index (0-based, across epochs) */
  minibatch: number;
  /** index in the minibatch of the first row of this call (a worker's shard starts at lo) */
  row0: number;
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The hash of (seed, minibatch, layer): the per-call part of every mask value. */
function callKey(key: DropoutKey, layer: number): number {
  let k = mix32((key.seed ^ 0x9e3779b9) >>> 0);
  k = mix32((k ^ key.minibatch) >>> 0);
  return mix32((k + Math.imul(layer, 0x85ebca6b)) >>> 0);
}

/** Whether unit j of row b (in the minibatch) at step t of `layer` is kept: the mask as a plain function (tests). */
export function dropoutKeeps(p: number, key: DropoutKey, layer: number, b: number, t: number, j: number): boolean {
  const threshold = Math.round(p * 2 ** 32);
  const kr = mix32((callKey(key, layer) ^ (key.row0 + b)) >>> 0);
  const kt = mix32((kr + Math.imul(t, 0xc2b2ae35)) >>> 0);
  return mix32((kt ^ Math.imul(j, 0x27d4eb2f)) >>> 0) >= threshold;
}

/**
 * dst[t, r, j] = m * src[t, r, j] / (1 - p) over (T, B, H) time-major rows (src may be dst).
 * Forward: src = h^(l-1), dst = layer l's input. Backward: dL/dh^(l-1) = m * dL/dX / (1 - p), in place.
 */
export function applyDropout(f: Float32Array | Float64Array, src: number, dst: number, p: number, key: DropoutKey,
  layer: number, T: number, B: number, H: number): void {
  const threshold = Math.round(p * 2 ** 32);
  // the scale as the heap stores it: in float32, x * scale is then one correctly rounded product
  const scale = f instanceof Float32Array ? Math.fround(1 / (1 - p)) : 1 / (1 - p);
  const k0 = callKey(key, layer);
  for (let r = 0; r < B; r++) {
    const kr = mix32((k0 ^ (key.row0 + r)) >>> 0);
    for (let t = 0; t < T; t++) {
      const kt = mix32((kr + Math.imul(t, 0xc2b2ae35)) >>> 0);
      const at = (t * B + r) * H;
      for (let j = 0; j < H; j++) {
        const keep = mix32((kt ^ Math.imul(j, 0x27d4eb2f)) >>> 0) >= threshold;
        f[dst + at + j] = keep ? f[src + at + j] * scale : 0;
      }
    }
  }
}
