// Where a training step's time goes, single thread: wraps the kernels in a timer keyed by
// kernel and shape, runs minibatches of a config's shapes on random tokens, and prints tokens/s,
// GFLOP/s and the share of each kernel call site.
//
//   node dist/bench/profile.js [--hidden 256] [--vocab 1027] [--batch 32] [--steps 35] [--minibatches 20]

import { createWasmBlas, RESERVED_LOW_BYTES } from '../src/blas/loader.js';
import type { Blas } from '../src/blas/types.js';
import { allocWorkspace, rnnBackward, rnnForward, workspaceElems, xentForwardBackward } from '../src/model/bptt.js';
import { initParams, offsetsAt, paramLayout, trainFlopsPerToken } from '../src/model/params.js';
import { Arena } from '../src/util/arena.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, dflt: number): number {
  const k = process.argv.indexOf(name);
  return k >= 0 ? Number(process.argv[k + 1]) : dflt;
}

const H = arg('--hidden', 256), V = arg('--vocab', 1027), B = arg('--batch', 32), T = arg('--steps', 35);
const minibatches = arg('--minibatches', 20);
const layout = paramLayout({ V, H });
const shape = { V, H, T, B };
const elems = 2 * layout.numParams + workspaceElems(shape, true) + 1024;
const raw = createWasmBlas(elems * 4);
const timings = new Map<string, { ms: number; calls: number; flops: number }>();

/** A Blas whose every call is timed under "method MxNxK". */
function timed(inner: Blas): Blas {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        const dt = performance.now() - t0;
        let key = String(prop);
        let flops = 0;
        if (prop === 'sgemm') {
          const [tA, tB, M, N, K] = args as [boolean, boolean, number, number, number];
          key = `sgemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K}`;
          flops = 2 * M * N * K;
        }
        const e = timings.get(key) ?? { ms: 0, calls: 0, flops: 0 };
        e.ms += dt; e.calls++; e.flops += flops;
        timings.set(key, e);
        return r;
      };
    },
  });
}

const blas = timed(raw);
const arena = new Arena(RESERVED_LOW_BYTES / 4, elems);
const pBase = arena.alloc(layout.numParams), gBase = arena.alloc(layout.numParams);
const ws = allocWorkspace(arena, shape, true);
const rng = new Rng(1);
initParams(layout, raw.f, pBase, () => rng.normal(), 0.01);
const P = offsetsAt(layout, pBase), G = offsetsAt(layout, gBase);

function step(): void {
  for (let k = 0; k < T * B; k++) { raw.i[ws.x + k] = rng.int(V); raw.i[ws.y + k] = rng.int(V); }
  blas.fill(layout.numParams, 0, gBase);
  blas.fill(B * H, 0, ws.hs);
  rnnForward(blas, 'tanh', P, ws);
  xentForwardBackward(blas, ws, 1 / (T * B));
  rnnBackward(blas, 'tanh', P, G, ws);
  const norm = Math.sqrt(blas.sumsq(layout.numParams, gBase));
  blas.axpy(layout.numParams, -Math.min(1, 0.01 / norm), gBase, pBase);
}

for (let k = 0; k < 5; k++) step(); // warm-up
timings.clear();
const t0 = performance.now();
for (let k = 0; k < minibatches; k++) step();
const totalMs = performance.now() - t0;
const tokensPerS = (minibatches * T * B) / (totalMs / 1000);
const flopsPerToken = trainFlopsPerToken({ V, H });
console.log(`${raw.name}, one thread: V=${V} H=${H} B=${B} T=${T}: ${Math.round(tokensPerS).toLocaleString('en-US')} tokens/s, ` +
  `${((tokensPerS * flopsPerToken) / 1e9).toFixed(1)} GFLOP/s (${(flopsPerToken / 1e6).toFixed(2)} MFLOP/token); timer overhead included`);
const rows = [...timings.entries()].sort((a, b) => b[1].ms - a[1].ms);
const timedMs = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log('| call site | calls/step | ms/step | share | GFLOP/s |');
console.log('|---|---|---|---|---|');
for (const [key, e] of rows) {
  console.log(`| ${key} | ${e.calls / minibatches} | ${(e.ms / minibatches).toFixed(2)} | ${((100 * e.ms) / totalMs).toFixed(1)}% | ${e.flops ? (e.flops / e.ms / 1e6).toFixed(1) : ''} |`);
}
console.log(`| (TypeScript between kernels) | | ${((totalMs - timedMs) / minibatches).toFixed(2)} | ${((100 * (totalMs - timedMs)) / totalMs).toFixed(1)}% | |`);
