// The machine's WASM f32x4 ceiling, one thread and N threads at once: each thread runs the
// kernels' FMA peak loop (peak_madd, relaxed SIMD where V8 accepts it) for the same iterations,
// all started together behind a barrier; aggregate GFLOP/s = total FLOPs / slowest thread's time.
// The scaling table's efficiency is judged against this, not against 1 thread x N.
//
//   node dist/bench/peak.js [--threads 1,2,4,8,16] [--json FILE]

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { compileKernels, createSharedMemory, WasmBlas } from '../src/blas/loader.js';
import { machineInfo } from '../src/bench/scaling.js';

const ITERS = 4e7;

if (!isMainThread) {
  const { sab, parties } = workerData as { sab: SharedArrayBuffer; parties: number };
  const ctrl = new Int32Array(sab);
  const blas = new WasmBlas(compileKernels(), createSharedMemory(1 << 16));
  blas.x.peak_madd(1e6, 1); // warm-up and tier-up
  // Atomics.add + wait: every thread starts the timed loop together
  if (Atomics.add(ctrl, 0, 1) === parties - 1) Atomics.notify(ctrl, 0);
  else while (Atomics.load(ctrl, 0) < parties) Atomics.wait(ctrl, 0, Atomics.load(ctrl, 0), 10);
  const t0 = performance.now();
  blas.x.peak_madd(ITERS, 1);
  parentPort!.postMessage({ ms: performance.now() - t0, flopsPerIter: blas.x.peak_flops_per_iter(), variant: blas.name });
} else {
  const k = process.argv.indexOf('--threads');
  const cores = availableParallelism();
  const counts = k >= 0 ? process.argv[k + 1].split(',').map(Number) : [1, 2, 4, 8, 16].filter((n) => n <= cores);
  const results = [];
  for (const n of counts) {
    const sab = new SharedArrayBuffer(4);
    const runs = await Promise.all(Array.from({ length: n }, () => new Promise<{ ms: number; flopsPerIter: number; variant: string }>((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { sab, parties: n } });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    })));
    const slowest = Math.max(...runs.map((r) => r.ms));
    const perThread = runs.map((r) => (ITERS * r.flopsPerIter) / (r.ms * 1e6));
    const total = (n * ITERS * runs[0].flopsPerIter) / (slowest * 1e6);
    results.push({ threads: n, variant: runs[0].variant, aggregate_gflops: total, per_thread_gflops: perThread });
    console.log(`${runs[0].variant} peak, ${n} thread(s) at once: ${total.toFixed(1)} GFLOP/s aggregate, ` +
      `${(total / n).toFixed(1)} per thread (min ${Math.min(...perThread).toFixed(1)}, max ${Math.max(...perThread).toFixed(1)})`);
  }
  const j = process.argv.indexOf('--json');
  if (j >= 0) writeFileSync(process.argv[j + 1], JSON.stringify({ machine: machineInfo(), results }, null, 2) + '\n');
}
