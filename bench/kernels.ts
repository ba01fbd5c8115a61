// Kernel benchmark: GFLOP/s of each SGEMM form at the D2L shapes (H=256, V=1027, T*B=35*32=1120
// rows, and the per-step recurrence at B=32), for the WASM kernels (both builds) and the scalar TS
// reference, against the machine's measured WASM SIMD peak. Warm up, then take the best of N runs.
//
//   node dist/bench/kernels.js [--json FILE] [--rows 1120]

import { writeFileSync } from 'node:fs';
import { compileKernels, createSharedMemory, GEMM_SCRATCH_ELEMS, RESERVED_LOW_BYTES, WasmBlas, type KernelVariant } from '../src/blas/loader.js';
import { RefBlas } from '../src/blas/ref.js';
import type { Blas } from '../src/blas/types.js';
import { machineInfo } from '../src/bench/scaling.js';

interface GemmCase { label: string; tA: boolean; tB: boolean; M: number; N: number; K: number }

function arg(name: string): string | undefined {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

const H = 256, V = 1027, B = 32;
const rows = Number(arg('--rows') ?? 35 * 32);
const scalingRows = 64 * 128; // the scaling config's rows per worker at 2 workers
const cases: GemmCase[] = [
  { label: 'O = H W_hq (NN)', tA: false, tB: false, M: rows, N: V, K: H },
  { label: 'dW_hq = H^T dO (TN)', tA: true, tB: false, M: H, N: V, K: rows },
  { label: 'dH = dO W_hq^T (NT)', tA: false, tB: true, M: rows, N: H, K: V },
  { label: 'dW_hh = Hprev^T dA (TN)', tA: true, tB: false, M: H, N: H, K: rows },
  { label: 'step: h W_hh (NN)', tA: false, tB: false, M: B, N: H, K: H },
  { label: 'step: dA W_hh^T (NT)', tA: false, tB: true, M: B, N: H, K: H },
  ...(process.argv.includes('--scaling') ? [
    { label: 'scaling: O = H W_hq (NN)', tA: false, tB: false, M: scalingRows, N: 2582, K: 512 },
    { label: 'scaling: dW_hq (TN)', tA: true, tB: false, M: 512, N: 2582, K: scalingRows },
    { label: 'scaling: dH (NT)', tA: false, tB: true, M: scalingRows, N: 512, K: 2582 },
  ] : []),
];

/** GFLOP/s of one product: best and median of repeated timed runs (this VM's runs spread 30%+). */
function timeGemm(blas: Blas, c: GemmCase, base: number, minMs: number): { best: number; median: number } {
  const aRows = c.tA ? c.K : c.M, aCols = c.tA ? c.M : c.K;
  const bRows = c.tB ? c.N : c.K, bCols = c.tB ? c.K : c.N;
  const a = base, b = a + aRows * aCols, out = b + bRows * bCols;
  for (let k = 0; k < aRows * aCols + bRows * bCols; k++) blas.f[a + k] = Math.sin(k) * 0.1;
  const run = () => blas.sgemm(c.tA, c.tB, c.M, c.N, c.K, 1, a, aCols, b, bCols, 0, out, c.N);
  run(); run(); // warm-up
  const times: number[] = [];
  let elapsed = 0;
  while (elapsed < minMs || times.length < 3) {
    const t0 = performance.now();
    run();
    const dt = performance.now() - t0;
    times.push(dt);
    elapsed += dt;
  }
  times.sort((a, b) => a - b);
  const gflops = (ms: number) => (2 * c.M * c.N * c.K) / (ms * 1e6);
  return { best: gflops(times[0]), median: gflops(times[Math.floor(times.length / 2)]) };
}

function peakGflops(blas: WasmBlas): number {
  const iters = 2e7;
  blas.x.peak_madd(1000, 1);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    blas.x.peak_madd(iters, 1);
    best = Math.min(best, performance.now() - t0);
  }
  return (iters * blas.x.peak_flops_per_iter()) / (best * 1e6);
}

const heapElems = Math.max(...cases.map((c) => c.M * c.K + c.K * c.N + c.M * c.N)) + GEMM_SCRATCH_ELEMS + 64;
const results: Record<string, unknown>[] = [];
const variants: KernelVariant[] = ['simd', 'relaxed-simd'];
const peaks: Record<string, number> = {};
for (const variant of variants) {
  const blas = new WasmBlas(compileKernels(variant), createSharedMemory(heapElems * 4));
  peaks[variant] = peakGflops(blas);
}
const ref = new RefBlas(3 * rows * V + 4 * H * V, 'f32');
console.log(`machine: ${JSON.stringify(machineInfo())}`);
console.log(`WASM f32x4 peak, one thread: simd (mul+add) ${peaks['simd'].toFixed(1)} GFLOP/s, relaxed-simd (FMA) ${peaks['relaxed-simd'].toFixed(1)} GFLOP/s`);
console.log('GFLOP/s as best / median of repeated runs');
console.log('| kernel | M x N x K | TS ref | wasm simd | wasm relaxed | relaxed packed | best % of relaxed peak |');
console.log('|---|---|---|---|---|---|---|');
for (const c of cases) {
  const g: Record<string, { best: number; median: number }> = {};
  for (const variant of variants) {
    const blas = new WasmBlas(compileKernels(variant), createSharedMemory(heapElems * 4));
    g[variant] = timeGemm(blas, c, RESERVED_LOW_BYTES / 4, 1500);
  }
  const packedBlas = new WasmBlas(compileKernels('relaxed-simd'), createSharedMemory(heapElems * 4));
  packedBlas.setScratch(RESERVED_LOW_BYTES / 4 + heapElems - GEMM_SCRATCH_ELEMS);
  packedBlas.packMinMNK = 0;
  packedBlas.ntUnpackedMaxM = 0;
  packedBlas.nnUnpackedMaxM = 0;
  const packed = timeGemm(packedBlas, c, RESERVED_LOW_BYTES / 4, 1500);
  const refG = c.M > rows || c.K > rows ? { best: NaN, median: NaN } : c.M * c.N * c.K > 5e7 ? timeGemm(ref, c, 0, 1) : timeGemm(ref, c, 0, 300);
  const pct = (100 * Math.max(g['relaxed-simd'].best, packed.best)) / peaks['relaxed-simd'];
  const bm = (x: { best: number; median: number }, d = 1) => `${x.best.toFixed(d)} / ${x.median.toFixed(d)}`;
  console.log(`| ${c.label} | ${c.M}x${c.N}x${c.K} | ${bm(refG, 2)} | ${bm(g['simd'])} | ${bm(g['relaxed-simd'])} | ${bm(packed)} | ${pct.toFixed(0)}% |`);
  results.push({ ...c, ref_gflops: refG, simd_gflops: g['simd'], relaxed_gflops: g['relaxed-simd'], relaxed_packed_gflops: packed });
}
const out = arg('--json');
if (out) writeFileSync(out, JSON.stringify({ machine: machineInfo(), peaks, results }, null, 2));
