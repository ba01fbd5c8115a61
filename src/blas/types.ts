// The kernel interface the model code is written against. Two implementations: the WebAssembly
// SIMD kernels (loader.ts, float32, the fast path) and the scalar TypeScript reference (ref.ts,
// float64 or float32), which the tests use as the oracle and for float64 gradient checks.
//
// Every buffer is an OFFSET in elements into one heap: `f` sees it as floats, `i` as int32 (same
// index space, so an arena can hand out both kinds). Matrices are row-major with leading
// dimensions in elements.

/** Bytes of a wasm memory page. */
export const WASM_PAGE_BYTES = 65536;

/**
 * Bytes at the bottom of every memory left to the wasm module itself: its data segment (the
 * constant tables AssemblyScript's Math.log and friends bring) lives there. The loader checks that
 * the segments end below this, so no buffer of ours (the memory plan starts here) can overlap them.
 */
export const RESERVED_LOW_BYTES = WASM_PAGE_BYTES;

/** Scratch a packed sgemm needs (elements), set with Blas.setScratch; the wasm module reports the same (checked on load). */
export const GEMM_SCRATCH_ELEMS = 128 * 256 + 256 * 2048 + 32;

/**
 * Elements of op(B) (K x N) as prepacked panels (Blas.packPanels): ceil(N/8) panels of K rows x 8
 * columns, panel-major, zero-padded. Element (k, j) is at (j & ~7) * K + 8 * k + (j & 7).
 */
export function panelsElems(K: number, N: number): number {
  return K * Math.ceil(N / 8) * 8;
}

export type Activation = 'tanh' | 'identity' | 'relu';

export interface Blas {
  /** Which implementation runs: 'wasm-relaxed-simd', 'wasm-simd', 'ref-f64', 'ref-f32'. */
  readonly name: string;
  /** The heap as floats (Float32Array over the shared wasm memory, or a plain array for ref). */
  readonly f: Float32Array | Float64Array;
  /** The heap as int32, same index space as `f`. */
  readonly i: Int32Array;

  /** C (M x N) = alpha * op(A) op(B) + beta * C, op = transpose when the flag is set. NN, NT, TN. */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void;
  dot(n: number, x: number, y: number): number;
  /** y += alpha * x */
  axpy(n: number, alpha: number, x: number, y: number): void;
  /** x *= alpha */
  scal(n: number, alpha: number, x: number): void;
  /** sum of squares, accumulated in float64 */
  sumsq(n: number, x: number): number;
  fill(n: number, value: number, x: number): void;
  copy(n: number, x: number, y: number): void;
  /** C[r, :] += T[idx[r], :], r < M */
  gatherAddRows(M: number, N: number, idx: number, t: number, ldt: number, c: number, ldc: number): void;
  /** T[idx[r], :] += S[r, :], r < M, in order */
  scatterAddRows(M: number, N: number, idx: number, s: number, lds: number, t: number, ldt: number): void;
  /** C[r, :] = v, r < M */
  setRows(M: number, N: number, v: number, c: number, ldc: number): void;
  /** y[j] += sum_r X[r, j] */
  colsumAdd(M: number, N: number, x: number, ldx: number, y: number): void;
  /** x = phi(x) in place */
  actForward(act: Activation, n: number, x: number): void;
  /** dy *= phi'(.) written in terms of the forward output y */
  actBackward(act: Activation, n: number, y: number, dy: number): void;
  /** LSTM step forward over B rows: A (B,4H) pre-activations -> (i,f,o,c~); c = f*cPrev + i*c~; tc = tanh(c); h = o*tc */
  lstmGatesForward(B: number, H: number, A: number, cPrev: number, c: number, tc: number, h: number): void;
  /** its backward: dc running dL/dc (in: from step t+1, out: dL/dc_{t-1}); A becomes dL/da; dcTrace (or -1) gets dL/dc_t */
  lstmGatesBackward(B: number, H: number, A: number, cPrev: number, tc: number, dh: number, dc: number, dcTrace: number): void;
  /** GRU reset after, one step forward: A (B,3H) input parts -> (z, r, n); aux = h W_hh + b_hn; h = z hp + (1-z) n */
  gruAfterForward(B: number, H: number, A: number, Hg: number, bhn: number, hPrev: number, aux: number, h: number): void;
  /** GRU reset before, first half: z, r in place; aux = r * hp */
  gruBeforeForward1(B: number, H: number, A: number, hPrev: number, aux: number): void;
  /** GRU reset before, second half: n = tanh in place; h = z hp + (1-z) n */
  gruBeforeForward2(B: number, H: number, A: number, hPrev: number, h: number): void;
  /** GRU reset after, one step backward: A (z, r, n) -> dL/da; Hg -> dL/d(h W_h); dhPrev = (accum ? dhPrev : 0) + dh * z */
  gruAfterBackward(B: number, H: number, A: number, Hg: number, hPrev: number, aux: number, dh: number, dhPrev: number, accum: number): void;
  /** GRU reset before, backward first half: da_n, da_z into A; dhPrev = (accum ? dhPrev : 0) + dh * z */
  gruBeforeBackward1(B: number, H: number, A: number, hPrev: number, dh: number, dhPrev: number, accum: number): void;
  /** its second half, tmp = dL/d(R ⊙ h): da_r into A; dhPrev += tmp * r */
  gruBeforeBackward2(B: number, H: number, A: number, hPrev: number, tmp: number, dhPrev: number): void;
  /** dropout (model/dropout.ts): dst = src * scale where the counter hash keeps a unit, else 0, over (T, B, H) */
  dropout(T: number, B: number, H: number, src: number, dst: number, k0: number, row0: number, threshold: number, scale: number): void;
  /** momentum: v = mu*v + scale*g; p -= lr*v (n elements from p, g, v) */
  momentumUpdate(n: number, p: number, g: number, v: number, lr: number, mu: number, scale: number): void;
  /** Adam/AdamW step on scale*g with bias corrections bc1, bc2 (see kernels.ts adam_update) */
  adamUpdate(n: number, p: number, g: number, m: number, v: number, lr: number, b1: number, b2: number, eps: number,
    bc1: number, bc2: number, scale: number, wd: number, decoupled: boolean): void;
  /** Whether sgemmPanels can run a product with this K here (WASM: scratch set and large enough). */
  canUsePanels(K: number): boolean;
  /** op(B) (K x N; B is K x N, or N x K when transB) copied into prepacked panels at dst (panelsElems(K, N) elements). */
  packPanels(transB: boolean, K: number, N: number, b: number, ldb: number, dst: number): void;
  /** C (M x N) = alpha * A op(B) + beta * C, op(B) prepacked by packPanels; A is M x K (lda). */
  sgemmPanels(M: number, N: number, K: number, alpha: number, a: number, lda: number, panels: number,
    beta: number, c: number, ldc: number): void;
  /** Thread-private scratch (elements) that lets sgemm pack its operands; null: unpacked kernels only. */
  setScratch(offset: number | null): void;
  /** rows of X become gradScale * (softmax - onehot(target)); returns the summed cross-entropy */
  softmaxXent(M: number, N: number, x: number, ldx: number, targets: number, gradScale: number): number;
  /** summed cross-entropy of the rows, X unchanged */
  xentLoss(M: number, N: number, x: number, ldx: number, targets: number): number;
}
