// Where a training step's time goes, single thread, for any cell and depth: wraps the kernels in a
// timer keyed by kernel and shape, drives the trainer's own step (engine/drive.ts, InlineEngine:
// the same runStretch with one party) on random rows of a random-token corpus, and prints tokens/s,
// GFLOP/s and the share of each call site.
//
//   node dist/bench/profile.js [--cell lstm] [--layers 2] [--dropout 0.2] [--hidden 512] [--vocab 65]
//                              [--batch 32] [--steps 64] [--optimizer adamw] [--minibatches 20]
//   (defaults: bptt's own defaults; --vocab 65, tiny Shakespeare's)

import type { Blas } from '../src/blas/types.js';
import { ConfigSchema, DEFAULTS, type TrainConfig } from '../src/config/schema.js';
import { makeSampler } from '../src/data/samplers.js';
import { driveStretch } from '../src/engine/drive.js';
import { InlineEngine } from '../src/engine/engine.js';
import { planInputOf } from '../src/engine/plan.js';
import { describeModel } from '../src/model/desc.js';
import { initParams, trainFlopsPerToken } from '../src/model/params.js';
import { optimStepOf } from '../src/optim/optimizers.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string): string | undefined {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : undefined;
}
const num = (name: string, dflt: number) => Number(arg(name) ?? dflt);

const raw = structuredClone(DEFAULTS) as TrainConfig;
raw.model.cell = (arg('--cell') ?? raw.model.cell) as TrainConfig['model']['cell'];
raw.model.layers = num('--layers', raw.model.layers);
raw.model.dropout = num('--dropout', raw.model.dropout);
raw.model.hidden = num('--hidden', raw.model.hidden);
raw.data.batch = num('--batch', raw.data.batch);
raw.data.steps = num('--steps', raw.data.steps);
raw.data.sampler = 'random';
raw.optim.kind = (arg('--optimizer') ?? raw.optim.kind) as TrainConfig['optim']['kind'];
const parsed = ConfigSchema.safeParse(raw);
if (!parsed.success) {
  console.error(`profile: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const config = parsed.data;
const V = num('--vocab', 65), minibatches = num('--minibatches', 20);
const { steps: T, batch: B } = config.data;

const rng = new Rng(1);
const corpus = Int32Array.from({ length: 200_000 }, () => rng.int(V));
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
        } else if (prop === 'sgemmPanels') {
          // the recurrence's per-step product against W_h packed once per pass
          const [M, N, K] = args as [number, number, number];
          key = `sgemmPanels ${M}x${N}x${K}`;
          flops = 2 * M * N * K;
        } else if (prop === 'packPanels') {
          const [tB, K, N] = args as [boolean, number, number];
          key = `packPanels ${tB ? 'T' : 'N'} ${K}x${N}`;
        }
        const e = timings.get(key) ?? { ms: 0, calls: 0, flops: 0 };
        e.ms += dt; e.calls++; e.flops += flops;
        timings.set(key, e);
        return r;
      };
    },
  });
}

const engine = new InlineEngine({ plan: planInputOf(config, V, { workers: 1 }), corpus, maxStretch: Math.max(5, minibatches) }, timed);
const model = engine.plan.input.model;
const init = new Rng(config.run.seed);
initParams(engine.plan.layout, engine.blas.f, engine.plan.params, () => init.normal(), config.model.init_scale);
const sampler = makeSampler('random', corpus, B, T);
sampler.startEpoch(rng);
const task = { carry: false, gradScale: 1 / (T * B), clipTheta: config.optim.clip, optim: optimStepOf(config.optim), step0: 0 };
let next = 0;
async function stretch(count: number): Promise<void> {
  const from = next;
  await driveStretch(engine, { sampler, count, minibatch: (k) => (from + k) % sampler.batchesPerEpoch, lr: () => config.optim.lr, task });
  next = (from + count) % sampler.batchesPerEpoch;
}

await stretch(5); // warm-up
timings.clear();
const t0 = performance.now();
await stretch(minibatches);
const totalMs = performance.now() - t0;
const tokensPerS = (minibatches * T * B) / (totalMs / 1000);
const flopsPerToken = trainFlopsPerToken(model);
console.log(`${engine.blas.name}, one thread: ${describeModel(model)}, ${config.optim.kind}, V=${V} B=${B} T=${T}: ` +
  `${Math.round(tokensPerS).toLocaleString('en-US')} tokens/s, ${((tokensPerS * flopsPerToken) / 1e9).toFixed(1)} GFLOP/s ` +
  `(${(flopsPerToken / 1e6).toFixed(2)} MFLOP/token); timer overhead included`);
const rows = [...timings.entries()].sort((a, b) => b[1].ms - a[1].ms);
const timedMs = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log('| call site | calls/step | ms/step | share | GFLOP/s |');
console.log('|---|---|---|---|---|');
for (const [key, e] of rows) {
  console.log(`| ${key} | ${e.calls / minibatches} | ${(e.ms / minibatches).toFixed(2)} | ${((100 * e.ms) / totalMs).toFixed(1)}% | ${e.flops ? (e.flops / e.ms / 1e6).toFixed(1) : ''} |`);
}
console.log(`| (TypeScript between kernels, event loop) | | ${((totalMs - timedMs) / minibatches).toFixed(2)} | ${((100 * (totalMs - timedMs)) / totalMs).toFixed(1)}% | |`);
await engine.close();
