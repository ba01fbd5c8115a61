// Issue 22 asks whether the LSTM's recurrence should be split across workers by hidden units (each
// keeps its slice of W_h hot) rather than by rows of the minibatch, as the pool does today. This
// measures the recurrence alone both ways, P threads at once over one shared memory, T steps forward
// then T back, with the kernels and panels the trainer uses:
//
//   rows   (today): each thread runs B/P rows against all of W_h; no thread waits for another
//                   within a pass. Forward (B/P) x 4H x H, back (B/P) x H x 4H.
//   hidden        : each thread owns H/P hidden units, so 4H/P columns of the gates. Forward
//                   B x (4H/P) x H, written into the shared gate matrix, then a barrier (the next step
//                   needs every unit's h). Back: a partial dh = dA_own W_h,ownᵀ, B x H x (4H/P), a
//                   barrier, then each thread sums the P partials for its own units (its next dA
//                   needs only those), into a double-buffered partial so one barrier per step does.
//
// Both do the same FLOPs; the gate math, dW_h and the reduce are left out (the same work, or less,
// either way; hidden splitting would also spare the reduce of dW_h). The ratio is the most the
// hidden split could gain on the recurrence.
//
//   node dist/bench/split.js [--hidden 256,512] [--batch 32] [--steps 64] [--threads 2] [--rounds 5]

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { compileKernels, createSharedMemory, GEMM_SCRATCH_ELEMS, RESERVED_LOW_BYTES, WasmBlas } from '../src/blas/loader.js';
import { panelsElems } from '../src/blas/types.js';
import { machineInfo } from '../src/bench/scaling.js';

type Mode = 'rows' | 'hidden';
interface Job { memory: WebAssembly.Memory; ctrl: SharedArrayBuffer; mode: Mode; H: number; B: number; T: number; P: number; p: number; reps: number; layout: Layout }
interface Layout { gates: number; h: number; dh: number; partial: number; perThread: number; threadBytes: number }

/** Element offsets in the shared memory: shared gate (B x 4H), h (B x H), dh (B x H), two partial dh per thread; then each thread's own region. */
function layout(H: number, B: number, P: number): Layout {
  let at = RESERVED_LOW_BYTES / 4;
  const take = (n: number) => { const o = at; at += Math.ceil(n / 16) * 16; return o; };
  const gates = take(B * 4 * H), h = take(B * H), dh = take(B * H), partial = take(2 * P * B * H);
  const perThread = at;
  // own region: forward panels (H x 4H), backward panels (4H x H), scratch
  const own = panelsElems(H, 4 * H) + panelsElems(4 * H, H) + 2 * panelsElems(H, 4 * H) + GEMM_SCRATCH_ELEMS + 64;
  return { gates, h, dh, partial, perThread, threadBytes: own * 4 };
}

function barrier(ctrl: Int32Array, parties: number, generation: number): void {
  // counter at [1]; generation at [0]: the last to arrive resets the counter and bumps the generation
  if (Atomics.add(ctrl, 1, 1) === parties - 1) { Atomics.store(ctrl, 1, 0); Atomics.store(ctrl, 0, generation + 1); return; }
  while (Atomics.load(ctrl, 0) === generation) { /* spin: a step is tens of microseconds */ }
}

if (!isMainThread) {
  const job = workerData as Job;
  const { H, B, T, P, p, mode, layout: L } = job;
  const ctrl = new Int32Array(job.ctrl);
  const blas = new WasmBlas(compileKernels(), job.memory);
  const base = L.perThread + p * Math.ceil(L.threadBytes / 4 / 16) * 16;
  const w = base, fwd = w + Math.ceil((H * 4 * H) / 16) * 16, bwd = fwd + panelsElems(H, 4 * H);
  const scratch = bwd + panelsElems(4 * H, H);
  blas.setScratch(scratch);
  for (let k = 0; k < H * 4 * H; k++) blas.f[w + k] = Math.sin(k + p) * 0.05; // W_h, H x 4H
  const G = 4 * H, cols = G / P, units = H / P;
  if (mode === 'rows') {
    blas.packPanels(false, H, G, w, G, fwd); // all of W_h
    blas.packPanels(true, G, H, w, G, bwd); // all of W_hᵀ
  } else {
    blas.packPanels(false, H, cols, w + p * cols, G, fwd); // my gate columns of W_h
    blas.packPanels(true, cols, H, w + p * cols, G, bwd); // my rows of W_hᵀ
  }
  let gen = 0;
  const pass = () => {
    if (mode === 'rows') {
      const r0 = p * (B / P), rows = B / P;
      for (let t = 0; t < T; t++) blas.sgemmPanels(rows, G, H, 1, L.h + r0 * H, H, fwd, 0, L.gates + r0 * G, G);
      for (let t = 0; t < T; t++) blas.sgemmPanels(rows, H, G, 1, L.gates + r0 * G, G, bwd, 0, L.dh + r0 * H, H);
      return;
    }
    for (let t = 0; t < T; t++) {
      blas.sgemmPanels(B, cols, H, 1, L.h, H, fwd, 0, L.gates + p * cols, G);
      barrier(ctrl, P, gen++);
    }
    for (let t = 0; t < T; t++) {
      const buf = L.partial + (t & 1) * P * B * H;
      blas.sgemmPanels(B, H, cols, 1, L.gates + p * cols, G, bwd, 0, buf + p * B * H, H);
      barrier(ctrl, P, gen++);
      for (let q = 0; q < P; q++) { // my units of dh: the sum of every thread's partial
        for (let b = 0; b < B; b++) blas.axpy(units, 1, buf + q * B * H + b * H + p * units, L.dh + b * H + p * units);
      }
    }
  };
  pass(); pass(); // warm-up, tier-up
  barrier(ctrl, P, gen++);
  const t0 = performance.now();
  for (let r = 0; r < job.reps; r++) pass();
  const ms = performance.now() - t0;
  barrier(ctrl, P, gen++);
  parentPort!.postMessage({ ms });
} else {
  const arg = (name: string, dflt: string) => { const k = process.argv.indexOf(name); return k >= 0 ? process.argv[k + 1] : dflt; };
  const hiddens = arg('--hidden', '256,512').split(',').map(Number);
  const B = Number(arg('--batch', '32')), T = Number(arg('--steps', '64')), P = Number(arg('--threads', '2'));
  const rounds = Number(arg('--rounds', '7'));
  console.log(`machine: ${JSON.stringify(machineInfo())}`);
  console.log(`LSTM recurrence only, B=${B} T=${T}, ${P} threads at once; GFLOP/s aggregate (2 x 2 x T x B x H x 4H per pass); rounds interleaved`);
  const run = async (mode: Mode, H: number): Promise<number> => {
    const L = layout(H, B, P);
    const memory = createSharedMemory((L.perThread - RESERVED_LOW_BYTES / 4) * 4 + P * (L.threadBytes + 64 * 4));
    const ctrl = new SharedArrayBuffer(8);
    const flopsPerPass = 2 * 2 * T * B * H * 4 * H;
    const reps = Math.max(3, Math.round(2e10 / flopsPerPass)); // about 0.3 s per round at 60 GFLOP/s (0.1 s spread 36-78 here)
    const ms = await Promise.all(Array.from({ length: P }, (_, p) => new Promise<number>((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { memory, ctrl, mode, H, B, T, P, p, reps, layout: L } satisfies Job });
      w.once('message', (m: { ms: number }) => { resolve(m.ms); void w.terminate(); });
      w.once('error', reject);
    })));
    return (reps * flopsPerPass) / (Math.max(...ms) * 1e6);
  };
  for (const H of hiddens) {
    const got: Record<Mode, number[]> = { rows: [], hidden: [] };
    for (let r = 0; r < rounds; r++) for (const mode of ['rows', 'hidden'] as Mode[]) got[mode].push(await run(mode, H));
    const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
    const f = (x: number[]) => x.map((v) => v.toFixed(1)).join(' ');
    console.log(`H=${H}: rows ${med(got.rows).toFixed(1)} GFLOP/s (${f(got.rows)}), hidden ${med(got.hidden).toFixed(1)} (${f(got.hidden)}); ` +
      `hidden / rows ${(med(got.hidden) / med(got.rows)).toFixed(3)}`);
  }
}
