// Shared by the tests that train a few minibatches through the real trainer and engines and
// compare parameters: one thread (InlineEngine) against N pool workers, and --deterministic across
// worker counts, for any config (cell, depth, dropout, sampler).
import { expect } from 'vitest';
import { DEFAULTS, type TrainConfig } from '../src/config/schema.js';
import { InlineEngine, type Engine, type EngineOptions } from '../src/engine/engine.js';
import type { TrainingState } from '../src/checkpoint/checkpoint.js';
import { initParams } from '../src/model/params.js';
import { computeShard, gatherShard } from '../src/engine/step.js';
import { Rng } from '../src/util/rng.js';
import { PoolEngine } from '../src/engine/pool.js';
import { prepareData } from '../src/train/data.js';
import { evalRows } from '../src/train/evaluate.js';
import { planInputOf } from '../src/engine/plan.js';
import { Trainer } from '../src/train/trainer.js';
import { placeStart } from '../src/train/start.js';

/**
 * The settings the engine and trainer tests were written against: D2L chapter 6's RNN with SGD, a
 * constant rate and D2L's samplers (test/fixtures/d2l-base.yaml for the CLI tests), whatever the
 * defaults for a user's own text are. Tests spread it and change what they test.
 */
export const D2L_BASE: TrainConfig = {
  model: { ...DEFAULTS.model, cell: 'rnn', gru_reset: 'before', hidden: 256, layers: 1, dropout: 0, activation: 'tanh', init_scale: 0.01 },
  data: { ...DEFAULTS.data, preprocess: { newlines_to_spaces: true }, sampler: 'random', epoch_offset: 'none', steps: 35, batch: 32 },
  optim: { ...DEFAULTS.optim, kind: 'sgd', lr: 100, clip: 0.01, weight_decay: 0, schedule: { ...DEFAULTS.optim.schedule, kind: 'constant', warmup: 0 } },
  run: { ...DEFAULTS.run, epochs: 250, time_budget: null, minibatches: null, eval_every: 1, sample_every: 50, sample_length: 50, sample_temperature: 0, checkpoint_every: 10 },
};

/**
 * Trains `steps` minibatches of `cfg` through the Trainer on `workers` pool workers (0: one thread,
 * no pool; `engine` another Engine over the same options). `maxStretch` cuts the stretches shorter
 * (state must carry across them). `check` sees the trainer before the engine closes. Returns a copy
 * of the parameters, the training state and the minibatches per epoch.
 */
export async function trainSteps(cfg: TrainConfig, steps: number, at: {
  workers: number; maxStretch?: number; engine?: (o: EngineOptions) => Engine; check?: (t: Trainer) => void;
}): Promise<{ params: Float32Array; state: TrainingState; perEpoch: number }> {
  const data = prepareData(cfg);
  const { steps: T, batch: B } = cfg.data;
  const plan = planInputOf(cfg, data.vocab.size, { workers: Math.max(1, at.workers), evalRows: evalRows(data.val?.length ?? 0, T, B) });
  const opts: EngineOptions = { plan, corpus: data.train, maxStretch: at.maxStretch };
  const engine: Engine = at.engine ? at.engine(opts) : at.workers === 0 ? new InlineEngine(opts) : new PoolEngine(opts);
  try {
    const trainer = new Trainer(cfg, data, engine, placeStart(cfg, engine));
    await trainer.run({ stopAtStep: steps });
    expect(trainer.state.step).toBe(steps);
    at.check?.(trainer);
    const { params, numParams } = engine.plan;
    return { params: engine.blas.f.slice(params, params + numParams), state: { ...trainer.state }, perEpoch: trainer.sampler.batchesPerEpoch };
  } finally {
    await engine.close();
  }
}

/**
 * The parameters after `steps` minibatches (trainSteps), checking on the way that the trained model
 * evaluates and samples (the eval and sampling workspaces are the plan's too).
 */
export async function paramsAfter(cfg: TrainConfig, workers: number, steps: number, maxStretch?: number): Promise<Float32Array> {
  const check = (trainer: Trainer) => {
    if (trainer.data.val) expect(trainer.validationPerplexity()).toBeGreaterThan(1);
    expect(trainer.samples()[0].length).toBeGreaterThan(1);
  };
  return (await trainSteps(cfg, steps, { workers, maxStretch, check })).params;
}

/**
 * 1, 2 and 3 workers give the one-thread parameters to float32 rounding (max difference relative
 * to the largest parameter <= 1e-5), and with --deterministic 1, 2 and 3 workers give the same
 * bits. Returns the deterministic run's parameters.
 */
export async function expectWorkerInvariance(cfgOf: (deterministic: boolean) => TrainConfig, steps = 6): Promise<Float32Array> {
  const single = await paramsAfter(cfgOf(false), 0, steps);
  const initial = await paramsAfter(cfgOf(false), 0, 0);
  let scale = 0, moved = 0;
  for (let k = 0; k < single.length; k++) { scale = Math.max(scale, Math.abs(single[k])); moved = Math.max(moved, Math.abs(single[k] - initial[k])); }
  expect(moved, 'training moved the parameters').toBeGreaterThan(1e-4);
  for (const n of [1, 2, 3]) {
    const pooled = await paramsAfter(cfgOf(false), n, steps);
    let worst = 0;
    for (let k = 0; k < single.length; k++) worst = Math.max(worst, Math.abs(pooled[k] - single[k]) / scale);
    expect(worst, `workers=${n}`).toBeLessThanOrEqual(1e-5);
  }
  const det = await paramsAfter(cfgOf(true), 1, steps);
  for (const n of [2, 3]) expect(Buffer.from((await paramsAfter(cfgOf(true), n, steps)).buffer).equals(Buffer.from(det.buffer)), `det workers=${n}`).toBe(true);
  return det;
}

/**
 * One minibatch of `cfg` (9 fixed rows) on a one-thread engine: its parameters p0 before any update
 * and the gradient g of the mean loss with its L2 norm, computed with the step's own phase
 * functions (no clipping, no update). The engine is ready to take that minibatch for real.
 */
export function firstGradient(cfg: TrainConfig) {
  const data = prepareData(cfg);
  const { steps: T, batch: B } = cfg.data;
  const engine = new InlineEngine({
    plan: planInputOf(cfg, data.vocab.size, { workers: 1, deterministic: false }), corpus: data.train,
  });
  const { plan, blas, control } = engine;
  const rng = new Rng(3);
  initParams(plan.layout, blas.f, plan.params, () => rng.normal(), 0.1);
  for (let b = 0; b < B; b++) control.schedule[b] = 13 * b;
  const p0 = Float64Array.from(blas.f.subarray(plan.params, plan.params + plan.numParams));
  const ctx = { blas, plan, ws: plan.workspaces[0], worker: 0, control, corpus: data.train };
  gatherShard(ctx, 0, 0);
  computeShard(ctx, 0, false, 1 / (T * B));
  const g = Float64Array.from(blas.f.subarray(plan.gradBlocks[0], plan.gradBlocks[0] + plan.numParams));
  return { engine, p0, g, norm: Math.sqrt(g.reduce((a, x) => a + x * x, 0)) };
}
