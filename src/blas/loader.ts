// Loads the project's WebAssembly SIMD kernels and binds them to the Blas interface.
//
// Two builds of one source exist (scripts/build-wasm.mjs): 'relaxed-simd' uses fused multiply-add
// (f32x4.relaxed_madd), 'simd' uses mul then add. Node 20 only accepts relaxed SIMD behind a V8
// flag, so we set it and then ASK V8 (WebAssembly.validate) rather than assume; if it refuses, the
// plain SIMD build runs. Callers print `variant` so a user always knows which path ran.
// We also turn off Liftoff (V8's baseline wasm compiler): our kernels are called a few times with
// long loops, and a running Liftoff frame is never replaced by optimized code, so without this the
// first seconds of every run would execute unoptimized SIMD at a quarter of the speed.

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Arena } from '../util/arena.js';
import { InputError } from '../util/errors.js';
import { GEMM_SCRATCH_ELEMS, RESERVED_LOW_BYTES, WASM_PAGE_BYTES } from './types.js';
import type { Activation, Blas } from './types.js';

export type KernelVariant = 'relaxed-simd' | 'simd';
export type KernelPreference = 'auto' | KernelVariant;

export { GEMM_SCRATCH_ELEMS, RESERVED_LOW_BYTES };

export interface CompiledKernels {
  readonly variant: KernelVariant;
  readonly module: WebAssembly.Module;
}

/** Products at least this large (M*N*K) are worth packing; the per-step recurrence (32x256x256) is not. */
export const PACK_MIN_MNK = 1 << 22;
/**
 * ...except A B^T with at most this many rows: the unpacked NT kernel reads both operands along K,
 * contiguous, and packing B costs more than it saves. Measured on the 2-core EPYC VM (2026-11-27,
 * /tmp bench of the sgemm entry): the LSTM's per-step dA W_h^T (32 x 256 x 1024) 34.7 GFLOP/s packed
 * against 54.9 unpacked, 140 x 256 x 1027 50.1 against 53.8, 256 x 256 x 1024 53.3 against 54.8; at
 * 560 rows packing wins again (54.2 against 52.9).
 */
export const NT_UNPACKED_MAX_M = 256;
/**
 * ...and A B with at most this many rows (a recurrence's step), unless B's rows are a multiple of
 * 4 KiB apart (then they share cache sets and packing is worth it): the GRU's step 32 x 768 x 256
 * runs at 51.0 GFLOP/s packed and 57.8 unpacked; the LSTM's 32 x 1024 x 256 at 49.6 packed, 28.5
 * unpacked with its rows 4 KiB apart and 59.4 with them 1040 floats apart (model/cells/types.ts
 * recurrentRowStride pads them so).
 */
export const NN_UNPACKED_MAX_M = 64;


/** End (bytes) of the highest active data segment of a wasm binary; 0 if it has none. */
export function wasmDataEnd(bytes: Uint8Array): number {
  let at = 8; // magic + version
  const leb = (): number => {
    let result = 0, shift = 0, b: number;
    do {
      b = bytes[at++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  let end = 0;
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const next = at + size;
    if (id === 11) { // the data section
      for (let n = leb(); n > 0; n--) {
        const flags = leb();
        if (flags === 1) { at += leb(); continue; } // passive: copied only by memory.init
        if (flags === 2) leb(); // memory index
        if (bytes[at++] !== 0x41) throw new Error('kernels.wasm: a data segment offset that is not i32.const');
        // i32.const is a signed LEB128; our offsets are small and positive
        const offset = leb();
        if (bytes[at++] !== 0x0b) throw new Error('kernels.wasm: malformed data segment offset');
        const len = leb();
        end = Math.max(end, offset + len);
        at += len;
      }
    }
    at = next;
  }
  return end;
}

let flagsSet = false;
function setV8Flags(): void {
  if (flagsSet) return;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  setFlagsFromString('--no-liftoff');
  flagsSet = true;
}

function wasmDir(): string {
  // dist/src/blas/loader.js -> dist/wasm ; src/blas/loader.ts (tests) -> dist/wasm
  const candidates = ['../../wasm/', '../../dist/wasm/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((dir) => existsSync(`${dir}kernels.simd.wasm`));
  if (!found) throw new Error(`WASM kernels not built (looked in ${candidates.join(', ')}): run "npm run build"`);
  return found;
}

const cache = new Map<KernelVariant, CompiledKernels>();

/** Compiles the preferred kernels once per thread ('auto': relaxed SIMD when V8 accepts it). */
export function compileKernels(prefer: KernelPreference = 'auto'): CompiledKernels {
  setV8Flags();
  const wanted: KernelVariant[] = prefer === 'auto' ? ['relaxed-simd', 'simd'] : [prefer];
  for (const variant of wanted) {
    const hit = cache.get(variant);
    if (hit) return hit;
    const bytes = readFileSync(`${wasmDir()}kernels.${variant === 'relaxed-simd' ? 'relaxed' : 'simd'}.wasm`);
    if (!WebAssembly.validate(bytes)) continue;
    const dataEnd = wasmDataEnd(bytes);
    if (dataEnd > RESERVED_LOW_BYTES) throw new Error(`kernels.wasm: its data ends at byte ${dataEnd}, past the ${RESERVED_LOW_BYTES} bytes reserved for it: raise RESERVED_LOW_BYTES`);
    const compiled = { variant, module: new WebAssembly.Module(bytes) };
    cache.set(variant, compiled);
    return compiled;
  }
  throw new Error(`this Node.js cannot run the ${wanted.join(' or ')} WebAssembly kernels (WebAssembly SIMD is required)`);
}

/** A shared, fixed-size memory: never grown during a run, so views stay valid in every thread. */
export function createSharedMemory(bytes: number): WebAssembly.Memory {
  const pages = Math.ceil((bytes + RESERVED_LOW_BYTES) / WASM_PAGE_BYTES);
  if (pages > 65536) {
    throw new InputError(`the run needs ${(bytes / 2 ** 30).toFixed(2)} GiB of kernel memory and WebAssembly allows 4 GiB: ` +
      'use fewer workers (each has its own gradient block and activations) or a smaller data.batch, data.steps, model.hidden or model.layers');
  }
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

interface KernelExports {
  sgemm_nn: (M: number, N: number, K: number, alpha: number, A: number, lda: number, B: number, ldb: number, beta: number, C: number, ldc: number) => void;
  sgemm_nt: KernelExports['sgemm_nn'];
  sgemm_tn: KernelExports['sgemm_nn'];
  dot: (n: number, x: number, y: number) => number;
  axpy: (n: number, a: number, x: number, y: number) => void;
  scal: (n: number, a: number, x: number) => void;
  sumsq: (n: number, x: number) => number;
  fill: (n: number, v: number, x: number) => void;
  copy: (n: number, x: number, y: number) => void;
  gather_add_rows: (M: number, N: number, idx: number, t: number, ldt: number, c: number, ldc: number) => void;
  scatter_add_rows: (M: number, N: number, idx: number, s: number, lds: number, t: number, ldt: number) => void;
  set_rows: (M: number, N: number, v: number, c: number, ldc: number) => void;
  colsum_add: (M: number, N: number, x: number, ldx: number, y: number) => void;
  tanh_fwd: (n: number, x: number) => void;
  tanh_bwd: (n: number, y: number, dy: number) => void;
  relu_fwd: (n: number, x: number) => void;
  relu_bwd: (n: number, y: number, dy: number) => void;
  softmax_xent: (M: number, N: number, x: number, ldx: number, targets: number, gradScale: number) => number;
  xent_loss: (M: number, N: number, x: number, ldx: number, targets: number) => number;
  peak_madd: (iters: number, seed: number) => number;
  momentum_update: (n: number, p: number, g: number, v: number, lr: number, mu: number, scale: number) => void;
  lstm_fwd: (B: number, H: number, A: number, cPrev: number, c: number, tc: number, h: number) => void;
  gru_after_fwd: (B: number, H: number, A: number, Hg: number, bhn: number, hPrev: number, aux: number, h: number) => void;
  gru_before_fwd1: (B: number, H: number, A: number, hPrev: number, aux: number) => void;
  gru_before_fwd2: (B: number, H: number, A: number, hPrev: number, h: number) => void;
  dropout_apply: (T: number, B: number, H: number, src: number, dst: number, k0: number, row0: number, threshold: number, scale: number) => void;
  gru_after_bwd: (B: number, H: number, A: number, Hg: number, hPrev: number, aux: number, dh: number, dhPrev: number, accum: number) => void;
  gru_before_bwd1: (B: number, H: number, A: number, hPrev: number, dh: number, dhPrev: number, accum: number) => void;
  gru_before_bwd2: (B: number, H: number, A: number, hPrev: number, tmp: number, dhPrev: number) => void;
  lstm_bwd: (B: number, H: number, A: number, cPrev: number, tc: number, dh: number, dc: number, dcTrace: number) => void;
  adam_update: (n: number, p: number, g: number, m: number, v: number, lr: number, b1: number, b2: number, eps: number,
    bc1: number, bc2: number, scale: number, wd: number, decoupled: number) => void;
  sgemm_packed: (transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: number, lda: number, B: number, ldb: number, beta: number, C: number, ldc: number, scratch: number) => void;
  sgemm_scratch_bytes: () => number;
  pack_panels: (transB: number, K: number, N: number, B: number, ldb: number, P: number) => void;
  panels_fit: (K: number) => number;
  sgemm_panels: (M: number, N: number, K: number, alpha: number, A: number, lda: number, P: number, beta: number, C: number, ldc: number, scratch: number) => void;
  peak_flops_per_iter: () => number;
}

/** The WASM kernels over a (shared) memory. Offsets in elements; converted to byte pointers here. */
export class WasmBlas implements Blas {
  readonly name: string;
  readonly f: Float32Array;
  readonly i: Int32Array;
  readonly x: KernelExports;

  constructor(kernels: CompiledKernels, readonly memory: WebAssembly.Memory) {
    this.name = `wasm-${kernels.variant}`;
    const instance = new WebAssembly.Instance(kernels.module, { env: { memory } });
    this.x = instance.exports as unknown as KernelExports;
    this.f = new Float32Array(memory.buffer);
    this.i = new Int32Array(memory.buffer);
    if (this.x.sgemm_scratch_bytes() !== GEMM_SCRATCH_ELEMS * 4) throw new Error('kernels.wasm and loader.ts disagree on the sgemm scratch size: rebuild');
  }

  /** scratch byte pointer, or -1 */
  private scratch = -1;
  /** products with M*N*K >= this use the packed kernel when scratch is set (tests lower it) */
  packMinMNK = PACK_MIN_MNK;
  /** NT products with at most this many rows stay unpacked (tests set 0 to reach the packed NT path) */
  ntUnpackedMaxM = NT_UNPACKED_MAX_M;
  /** NN products with at most this many rows stay unpacked when B's stride allows (tests set 0) */
  nnUnpackedMaxM = NN_UNPACKED_MAX_M;

  /** Whether an sgemm of this shape runs the packed kernel (the rules above). */
  usesPacked(transA: boolean, transB: boolean, M: number, N: number, K: number, ldb: number): boolean {
    if (this.scratch < 0 || M * N * K < this.packMinMNK) return false;
    if (transB) return M > this.ntUnpackedMaxM;
    if (!transA && M <= this.nnUnpackedMaxM && ldb % 1024 !== 0) return false;
    return true;
  }

  setScratch(offset: number | null): void {
    this.scratch = offset === null ? -1 : offset << 2;
  }

  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void {
    if (transA && transB) throw new Error('sgemm: the TT form is not implemented');
    if (this.usesPacked(transA, transB, M, N, K, ldb)) {
      this.x.sgemm_packed(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, a << 2, lda, b << 2, ldb, beta, c << 2, ldc, this.scratch);
      return;
    }
    const fn = transA ? this.x.sgemm_tn : transB ? this.x.sgemm_nt : this.x.sgemm_nn;
    fn(M, N, K, alpha, a << 2, lda, b << 2, ldb, beta, c << 2, ldc);
  }
  canUsePanels(K: number): boolean {
    return this.scratch >= 0 && this.x.panels_fit(K) === 1;
  }
  packPanels(transB: boolean, K: number, N: number, b: number, ldb: number, dst: number): void {
    this.x.pack_panels(transB ? 1 : 0, K, N, b << 2, ldb, dst << 2);
  }
  sgemmPanels(M: number, N: number, K: number, alpha: number, a: number, lda: number, panels: number,
    beta: number, c: number, ldc: number): void {
    if (!this.canUsePanels(K)) throw new Error(`sgemmPanels: no scratch for K = ${K} (setScratch first; canUsePanels says when)`);
    this.x.sgemm_panels(M, N, K, alpha, a << 2, lda, panels << 2, beta, c << 2, ldc, this.scratch);
  }
  dot(n: number, x: number, y: number): number { return this.x.dot(n, x << 2, y << 2); }
  axpy(n: number, alpha: number, x: number, y: number): void { this.x.axpy(n, alpha, x << 2, y << 2); }
  scal(n: number, alpha: number, x: number): void { this.x.scal(n, alpha, x << 2); }
  sumsq(n: number, x: number): number { return this.x.sumsq(n, x << 2); }
  fill(n: number, value: number, x: number): void { this.x.fill(n, value, x << 2); }
  copy(n: number, x: number, y: number): void { this.x.copy(n, x << 2, y << 2); }
  gatherAddRows(M: number, N: number, idx: number, t: number, ldt: number, c: number, ldc: number): void {
    this.x.gather_add_rows(M, N, idx << 2, t << 2, ldt, c << 2, ldc);
  }
  scatterAddRows(M: number, N: number, idx: number, s: number, lds: number, t: number, ldt: number): void {
    this.x.scatter_add_rows(M, N, idx << 2, s << 2, lds, t << 2, ldt);
  }
  setRows(M: number, N: number, v: number, c: number, ldc: number): void { this.x.set_rows(M, N, v << 2, c << 2, ldc); }
  colsumAdd(M: number, N: number, x: number, ldx: number, y: number): void { this.x.colsum_add(M, N, x << 2, ldx, y << 2); }
  actForward(act: Activation, n: number, x: number): void {
    if (act === 'tanh') this.x.tanh_fwd(n, x << 2);
    else if (act === 'relu') this.x.relu_fwd(n, x << 2);
  }
  actBackward(act: Activation, n: number, y: number, dy: number): void {
    if (act === 'tanh') this.x.tanh_bwd(n, y << 2, dy << 2);
    else if (act === 'relu') this.x.relu_bwd(n, y << 2, dy << 2);
  }
  softmaxXent(M: number, N: number, x: number, ldx: number, targets: number, gradScale: number): number {
    return this.x.softmax_xent(M, N, x << 2, ldx, targets << 2, gradScale);
  }
  xentLoss(M: number, N: number, x: number, ldx: number, targets: number): number {
    return this.x.xent_loss(M, N, x << 2, ldx, targets << 2);
  }
  gruAfterForward(B: number, H: number, A: number, Hg: number, bhn: number, hPrev: number, aux: number, h: number): void {
    this.x.gru_after_fwd(B, H, A << 2, Hg << 2, bhn << 2, hPrev << 2, aux << 2, h << 2);
  }
  gruBeforeForward1(B: number, H: number, A: number, hPrev: number, aux: number): void {
    this.x.gru_before_fwd1(B, H, A << 2, hPrev << 2, aux << 2);
  }
  gruBeforeForward2(B: number, H: number, A: number, hPrev: number, h: number): void {
    this.x.gru_before_fwd2(B, H, A << 2, hPrev << 2, h << 2);
  }
  dropout(T: number, B: number, H: number, src: number, dst: number, k0: number, row0: number, threshold: number, scale: number): void {
    // u32 arguments travel as i32: the same 32 bits
    this.x.dropout_apply(T, B, H, src << 2, dst << 2, k0 | 0, row0 | 0, threshold | 0, scale);
  }
  gruAfterBackward(B: number, H: number, A: number, Hg: number, hPrev: number, aux: number, dh: number, dhPrev: number, accum: number): void {
    this.x.gru_after_bwd(B, H, A << 2, Hg << 2, hPrev << 2, aux << 2, dh << 2, dhPrev << 2, accum);
  }
  gruBeforeBackward1(B: number, H: number, A: number, hPrev: number, dh: number, dhPrev: number, accum: number): void {
    this.x.gru_before_bwd1(B, H, A << 2, hPrev << 2, dh << 2, dhPrev << 2, accum);
  }
  gruBeforeBackward2(B: number, H: number, A: number, hPrev: number, tmp: number, dhPrev: number): void {
    this.x.gru_before_bwd2(B, H, A << 2, hPrev << 2, tmp << 2, dhPrev << 2);
  }
  lstmGatesForward(B: number, H: number, A: number, cPrev: number, c: number, tc: number, h: number): void {
    this.x.lstm_fwd(B, H, A << 2, cPrev << 2, c << 2, tc << 2, h << 2);
  }
  lstmGatesBackward(B: number, H: number, A: number, cPrev: number, tc: number, dh: number, dc: number, dcTrace: number): void {
    this.x.lstm_bwd(B, H, A << 2, cPrev << 2, tc << 2, dh << 2, dc << 2, dcTrace < 0 ? 0 : dcTrace << 2);
  }
  momentumUpdate(n: number, p: number, g: number, v: number, lr: number, mu: number, scale: number): void {
    this.x.momentum_update(n, p << 2, g << 2, v << 2, lr, mu, scale);
  }
  adamUpdate(n: number, p: number, g: number, m: number, v: number, lr: number, b1: number, b2: number, eps: number,
    bc1: number, bc2: number, scale: number, wd: number, decoupled: boolean): void {
    this.x.adam_update(n, p << 2, g << 2, m << 2, v << 2, lr, b1, b2, eps, bc1, bc2, scale, wd, decoupled ? 1 : 0);
  }
}

/** Convenience for single-thread use and tests: compile (cached) and instantiate over a new memory. */
export function createWasmBlas(bytes: number, prefer: KernelPreference = 'auto'): WasmBlas {
  return new WasmBlas(compileKernels(prefer), createSharedMemory(bytes));
}

/**
 * One model on a heap of its own (sample, inspect): `place` allocates every buffer from the arena it
 * is given. It runs twice, once on a measuring arena (so the heap is sized by the allocations
 * themselves, nothing restates a size) and once on the heap it sized, whose offsets it returns.
 */
export function placeOnFreshBlas<T>(place: (arena: Arena) => T, prefer: KernelPreference = 'auto'): { blas: WasmBlas; at: T } {
  const measure = new Arena(RESERVED_LOW_BYTES / 4);
  place(measure);
  const blas = createWasmBlas(measure.end * 4, prefer);
  return { blas, at: place(new Arena(RESERVED_LOW_BYTES / 4)) };
}
