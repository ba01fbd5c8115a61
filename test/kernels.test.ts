// WASM SIMD kernels (both builds) against the scalar reference, on sizes that do not divide the
// SIMD width and with leading dimensions larger than the row length.
import { describe, expect, it } from 'vitest';
import { compileKernels, createSharedMemory, GEMM_SCRATCH_ELEMS, RESERVED_LOW_BYTES, WasmBlas, type KernelVariant } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import { panelsElems, type Blas } from '../src/blas/types.js';
import { Rng } from '../src/util/rng.js';

const HEAP = 1 << 23; // elements
// The wasm module keeps its math tables (log) in the low reserved bytes; data starts above them.
const BASE = RESERVED_LOW_BYTES / 4;
const variants: KernelVariant[] = ['simd', 'relaxed-simd'];

function pair(variant: KernelVariant): { w: Blas; r: Blas } {
  return { w: new WasmBlas(compileKernels(variant), createSharedMemory(HEAP * 4)), r: new RefBlas(HEAP, 'f32') };
}

/** fills [off, off+n) of both heaps with the same float32 values */
function randomize(w: Blas, r: Blas, off: number, n: number, rng: Rng, scale = 1): void {
  for (let k = 0; k < n; k++) {
    const v = Math.fround((rng.uniform() * 2 - 1) * scale);
    w.f[off + k] = v;
    r.f[off + k] = v;
  }
}

/** |a - r| <= atol + rtol |r| elementwise; returns the worst violation ratio for the message */
function expectClose(w: Blas, r: Blas, off: number, n: number, atol: number, rtol: number): void {
  let worst = 0;
  let at = -1;
  for (let k = 0; k < n; k++) {
    const a = w.f[off + k];
    const b = r.f[off + k];
    const ratio = a === b ? 0 : Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (!(ratio <= worst)) { worst = ratio; at = k; }
  }
  expect(worst, `worst element ${at}: wasm ${w.f[off + at]} vs ref ${r.f[off + at]}`).toBeLessThanOrEqual(1);
}

const gemmShapes: Array<[number, number, number]> = [
  [1, 1, 1], [3, 17, 5], [17, 3, 255], [5, 1027, 17], [33, 255, 31], [255, 17, 1027], [9, 1027, 256],
];

describe.each(variants)('wasm %s vs reference', (variant) => {
  const { w, r } = pair(variant);
  const rng = new Rng(7);

  it.each(gemmShapes)('sgemm NN/NT/TN at M=%i N=%i K=%i, padded leading dimensions, alpha/beta', (M, N, K) => {
    for (const [tA, tB] of [[false, false], [false, true], [true, false]] as const) {
      const pad = 3;
      const lda = (tA ? M : K) + pad;
      const ldb = (tB ? K : N) + pad;
      const ldc = N + pad;
      const a = BASE + 16, b = a + (tA ? K : M) * lda + 16, c = b + (tB ? N : K) * ldb + 16;
      randomize(w, r, a, (tA ? K : M) * lda, rng);
      randomize(w, r, b, (tB ? N : K) * ldb, rng);
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
        randomize(w, r, c, M * ldc, rng);
        w.sgemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        r.sgemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        // float32 accumulation over K terms of size ~1: error grows like sqrt(K) * eps32
        expectClose(w, r, c, M * ldc, 1e-5 * Math.sqrt(K) * Math.abs(alpha), 1e-5);
      }
    }
  });

  /** runs `body` with the packed kernel forced on for every product size */
  function packed(body: () => void): void {
    const wasm = w as WasmBlas;
    wasm.setScratch(HEAP - GEMM_SCRATCH_ELEMS);
    wasm.packMinMNK = 0;
    wasm.ntUnpackedMaxM = 0;
    wasm.nnUnpackedMaxM = 0;
    try {
      body();
    } finally {
      wasm.setScratch(null);
    }
  }

  it.each(gemmShapes)('packed sgemm (GotoBLAS blocking) NN/NT/TN at M=%i N=%i K=%i', (M, N, K) => {
    packed(() => {
      for (const [tA, tB] of [[false, false], [false, true], [true, false]] as const) {
        const lda = (tA ? M : K) + 5, ldb = (tB ? K : N) + 1, ldc = N + 7;
        const a = BASE + 16, b = a + (tA ? K : M) * lda + 16, c = b + (tB ? N : K) * ldb + 16;
        randomize(w, r, a, (tA ? K : M) * lda, rng);
        randomize(w, r, b, (tB ? N : K) * ldb, rng);
        randomize(w, r, c, M * ldc, rng);
        w.sgemm(tA, tB, M, N, K, 0.75, a, lda, b, ldb, 0.5, c, ldc);
        r.sgemm(tA, tB, M, N, K, 0.75, a, lda, b, ldb, 0.5, c, ldc);
        expectClose(w, r, c, M * ldc, 1e-5 * Math.sqrt(K), 1e-5);
      }
    });
  });

  it('packed sgemm across several k, row and column blocks (K > 256, M > 128, N > 2048)', () => {
    packed(() => {
      const M = 133, N = 2061, K = 517;
      const a = BASE + 16, b = a + M * K + 16, c = b + K * N + 16;
      randomize(w, r, a, M * K, rng);
      randomize(w, r, b, K * N, rng);
      w.sgemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      r.sgemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      expectClose(w, r, c, M * N, 1e-5 * Math.sqrt(K), 1e-5);
    });
  });

  // the recurrence's prepacked products (model/cells/types.ts stepProduct): the layout bit for bit
  // (it is a copy), the product against the reference, on edges of every block: M not a multiple
  // of 4, N not a multiple of 8, K not a multiple of 4, leading dimensions wider than the rows
  it.each([[1, 1, 1], [3, 17, 5], [17, 9, 255], [5, 1027, 17], [33, 255, 31], [32, 1024, 256], [16, 256, 1031]])(
    'panel sgemm (W packed once, rows per call) NN/NT at M=%i N=%i K=%i', (M, N, K) => {
      (w as WasmBlas).setScratch(HEAP - GEMM_SCRATCH_ELEMS);
      try {
        expect(w.canUsePanels(K)).toBe(true);
        for (const tB of [false, true]) {
          const lda = K + 3, ldb = (tB ? K : N) + 5, ldc = N + 2;
          const a = BASE + 16, b = a + M * lda + 16, c = b + (tB ? N : K) * ldb + 16, p = c + M * ldc + 16;
          const elems = panelsElems(K, N);
          randomize(w, r, a, M * lda, rng);
          randomize(w, r, b, (tB ? N : K) * ldb, rng);
          randomize(w, r, p, elems, rng); // stale panels: every element must be written
          w.packPanels(tB, K, N, b, ldb, p);
          r.packPanels(tB, K, N, b, ldb, p);
          expectClose(w, r, p, elems, 0, 0);
          for (const [alpha, beta] of [[1, 0], [1, 1], [-0.5, 0.25]]) {
            randomize(w, r, c, M * ldc, rng);
            w.sgemmPanels(M, N, K, alpha, a, lda, p, beta, c, ldc);
            r.sgemm(false, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc); // the plain product is the oracle
            expectClose(w, r, c, M * ldc, 1e-5 * Math.sqrt(K) * Math.abs(alpha), 1e-5);
          }
        }
      } finally {
        (w as WasmBlas).setScratch(null);
      }
    });

  it('panel sgemm packs the rows in several chunks when M x K exceeds the scratch, and refuses without scratch', () => {
    (w as WasmBlas).setScratch(HEAP - GEMM_SCRATCH_ELEMS);
    try {
      const K = 40000, N = 9, M = 30; // the scratch (557,056 elements for A) holds 12 rows of 40,000 (4-row multiples): three chunks
      const a = BASE + 16, b = a + M * K + 16, c = b + K * N + 16, p = c + M * N + 16;
      randomize(w, r, a, M * K, rng, 0.1);
      randomize(w, r, b, K * N, rng, 0.1);
      w.packPanels(false, K, N, b, N, p);
      w.sgemmPanels(M, N, K, 1, a, K, p, 0, c, N);
      r.sgemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      expectClose(w, r, c, M * N, 1e-5 * Math.sqrt(K) * 0.01, 1e-5);
    } finally {
      (w as WasmBlas).setScratch(null);
    }
    expect(w.canUsePanels(16)).toBe(false);
    expect(() => w.sgemmPanels(4, 8, 16, 1, BASE, 16, BASE + 1024, 0, BASE + 4096, 8)).toThrow(/no scratch/);
  });

  it.each([1, 3, 17, 255, 1027])('vector ops at n=%i', (n) => {
    const x = BASE + 32, y = BASE + 4096;
    randomize(w, r, x, n, rng);
    randomize(w, r, y, n, rng);
    w.axpy(n, 0.3, x, y); r.axpy(n, 0.3, x, y);
    expectClose(w, r, y, n, 1e-6, 1e-6);
    w.scal(n, -1.7, y); r.scal(n, -1.7, y);
    expectClose(w, r, y, n, 1e-6, 1e-6);
    const [sqW, sqR] = [w.sumsq(n, y), r.sumsq(n, y)];
    expect(Math.abs(sqW - sqR)).toBeLessThanOrEqual(1e-6 * sqR);
    expect(Math.abs(w.dot(n, x, y) - r.dot(n, x, y))).toBeLessThanOrEqual(1e-5 * Math.sqrt(n));
    w.copy(n, x, y); r.copy(n, x, y);
    expectClose(w, r, y, n, 0, 0);
    w.fill(n, 2.5, y); r.fill(n, 2.5, y);
    expectClose(w, r, y, n, 0, 0);
  });

  it.each([1, 3, 17, 255, 1027])('row gather/scatter, set rows, column sums at N=%i', (N) => {
    const M = 7, rows = 11, ld = N + 5;
    const table = BASE + 64, idx = table + rows * ld + 8, c = idx + M + 8, bias = c + M * ld + 8;
    randomize(w, r, table, rows * ld, rng);
    randomize(w, r, c, M * ld, rng);
    randomize(w, r, bias, N, rng);
    for (let k = 0; k < M; k++) { const v = [3, 0, 10, 3, 7, 3, 1][k]; w.i[idx + k] = v; r.i[idx + k] = v; }
    w.gatherAddRows(M, N, idx, table, ld, c, ld); r.gatherAddRows(M, N, idx, table, ld, c, ld);
    expectClose(w, r, c, M * ld, 1e-6, 1e-6);
    w.scatterAddRows(M, N, idx, c, ld, table, ld); r.scatterAddRows(M, N, idx, c, ld, table, ld);
    expectClose(w, r, table, rows * ld, 1e-6, 1e-6);
    w.colsumAdd(M, N, c, ld, bias); r.colsumAdd(M, N, c, ld, bias);
    expectClose(w, r, bias, N, 1e-5, 1e-5);
    w.setRows(M, N, bias, c, ld); r.setRows(M, N, bias, c, ld);
    expectClose(w, r, c, M * ld, 1e-5, 1e-5);
  });

  it.each([1, 3, 17, 255, 1027])('activations forward and backward at n=%i', (n) => {
    const x = BASE + 128, dy = BASE + 8192;
    for (const act of ['tanh', 'relu', 'identity'] as const) {
      randomize(w, r, x, n, rng, 4);
      randomize(w, r, dy, n, rng);
      w.actForward(act, n, x); r.actForward(act, n, x);
      expectClose(w, r, x, n, 2e-7, 2e-6);
      w.actBackward(act, n, x, dy); r.actBackward(act, n, x, dy);
      expectClose(w, r, dy, n, 1e-6, 1e-5);
    }
  });

  it('the gate kernel\'s exp at its edges: sigmoid and tanh exact to float32 over the clamp range, +-Infinity saturate, NaN stays NaN', () => {
    // exp4 clamps with pmin/pmax and builds 2^n from the mantissa: every edge of that, through the LSTM gates
    const xs = [0, 1e-8, -0.3, 0.6251, -2, 5, -9.1, 20, -40, 87, -87.2, 88.3, -88.3, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
    const H = xs.length, A = BASE + 512, cPrev = A + 4 * H + 8, c = cPrev + H + 8, tc = c + H + 8, h = tc + H + 8;
    for (let g = 0; g < 4; g++) xs.forEach((v, k) => { w.f[A + g * H + k] = v; });
    xs.forEach((_, k) => { w.f[cPrev + k] = 0; });
    w.lstmGatesForward(1, H, A, cPrev, c, tc, h);
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    xs.forEach((v, k) => {
      for (const [g, want] of [[0, sigmoid(v)], [1, sigmoid(v)], [2, sigmoid(v)], [3, Math.tanh(v)]] as const) {
        const got = w.f[A + g * H + k];
        if (Number.isNaN(v)) expect(got, `gate ${g} at NaN`).toBeNaN();
        else expect(Math.abs(got - want), `gate ${g} at ${v}: ${got} against ${want}`).toBeLessThanOrEqual(2e-7 + 2e-6 * Math.abs(want));
      }
    });
  });

  it('tanh is accurate near zero and saturates at large |x|', () => {
    const xs = [0, 1e-8, -3e-5, 0.01, -0.3, 0.6249, 0.6251, -2, 8.9, 9.1, -50, 1e4];
    const x = BASE + 256;
    xs.forEach((v, k) => { w.f[x + k] = v; });
    w.actForward('tanh', xs.length, x);
    xs.forEach((v, k) => expect(Math.abs(w.f[x + k] - Math.tanh(v))).toBeLessThanOrEqual(2e-7 + 2e-6 * Math.abs(Math.tanh(v))));
  });

  it.each([1, 3, 17, 255, 1027])('softmax cross-entropy (loss and in-place gradient) at N=%i', (N) => {
    const M = 9, ld = N + 2, x = BASE + 1024, tg = x + M * ld + 8;
    randomize(w, r, x, M * ld, rng, 8);
    for (let k = 0; k < M; k++) { const t = (k * 7919) % N; w.i[tg + k] = t; r.i[tg + k] = t; }
    expect(w.xentLoss(M, N, x, ld, tg)).toBeCloseTo(r.xentLoss(M, N, x, ld, tg), 4);
    const lw = w.softmaxXent(M, N, x, ld, tg, 0.25);
    const lr = r.softmaxXent(M, N, x, ld, tg, 0.25);
    expect(Math.abs(lw - lr)).toBeLessThanOrEqual(1e-5 * Math.abs(lr) + 1e-5);
    expectClose(w, r, x, M * ld, 1e-7, 1e-5);
  });
});
