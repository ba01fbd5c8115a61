// Where a training step's time goes, single thread: wraps the kernels in a timer keyed by
// kernel and shape, runs the trainer's own step (engine/step.ts runStretch, one party) on random
// rows of a random-token corpus, and prints tokens/s, GFLOP/s and the share of each call site.
//
//   node dist/bench/profile.js [--hidden 256] [--vocab 1027] [--batch 32] [--steps 35] [--minibatches 20]

import type { Blas } from '../src/blas/types.js';
import { initParams, trainFlopsPerToken } from '../src/model/params.js';
import { InlineEngine, resetControl } from '../src/engine/engine.js';
import { runStretch, type WorkerContext } from '../src/engine/step.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, dflt: number): number {
  const k = process.argv.indexOf(name);
  return k >= 0 ? Number(process.argv[k + 1]) : dflt;
}

const H = arg('--hidden', 256), V = arg('--vocab', 1027), B = arg('--batch', 32), T = arg('--steps', 35);
const minibatches = arg('--minibatches', 20);
const rng = new Rng(1);
const corpus = Int32Array.from({ length: 200_000 }, () => rng.int(V));
const engine = new InlineEngine({
  plan: { V, H, T, B, workers: 1, deterministic: false, evalRows: 0 }, act: 'tanh', corpus, maxStretch: minibatches,
});
const raw = engine.blas;
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
initParams(engine.plan.layout, raw.f, engine.plan.params, () => rng.normal(), 0.01);
const ctx: WorkerContext = { blas, plan: engine.plan, act: 'tanh', ws: engine.plan.workspaces[0], worker: 0, control: engine.control, corpus };
// D2L's update: lr 100, clip 0.01 (the values only scale the update; the work is the same)
const task = { carry: false, gradScale: 1 / (T * B), lr: 100, clipTheta: 0.01 };

function stretch(count: number): void {
  const { schedule } = engine.control;
  for (let k = 0; k < count * B; k++) schedule[k] = rng.int(corpus.length - T - 1);
  resetControl(engine.control, 0);
  runStretch(ctx, { k0: 0, k1: count, ...task });
}

stretch(5); // warm-up
timings.clear();
const t0 = performance.now();
stretch(minibatches);
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
