// The persistent-worker step (barriers in shared memory) against the step as it was before it:
// three phases run one after another by the coordinator (gradients of every shard, reduce of every
// chunk, norm summed in chunk order, clip, update). Same plan, same kernels, same trainer: after
// several minibatches, across an epoch boundary, the parameters must be BITWISE equal.
// Also: a stop request ends a stretch after the minibatch in flight, and a diverging minibatch
// reports itself without applying its update.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/config/schema.js';
import { clipFactor } from '../src/optim/clip.js';
import { Result, RESULT_FIELDS, Slot } from '../src/engine/control.js';
import { engineSetup, outcomeOf, resetControl, type Engine, type EngineOptions, type StretchOutcome } from '../src/engine/engine.js';
import { PoolEngine } from '../src/engine/pool.js';
import { prepareData } from '../src/train/data.js';
import { computeShard, reduceChunks, type StepContext, type StretchTask } from '../src/engine/step.js';
import { PLAIN_SGD } from '../src/optim/optimizers.js';
import { initParams } from '../src/model/params.js';
import { Rng } from '../src/util/rng.js';
import { firstGradient, D2L_BASE, trainSteps } from './train_helpers.js';
import { desc } from './helpers.js';

/** The pre-barrier step, phase by phase on one thread, over an N-worker plan (independent of runStretch). */
class RoundTripEngine implements Engine {
  readonly workers: number;
  readonly blas;
  readonly plan;
  readonly control;
  readonly maxStretch;
  private readonly s;

  constructor(opts: EngineOptions) {
    this.workers = opts.plan.workers;
    this.s = engineSetup(opts, this.workers);
    Object.assign(this, { blas: this.s.blas, plan: this.s.plan, control: this.s.control, maxStretch: this.s.maxStretch });
    this.blas = this.s.blas;
    this.plan = this.s.plan;
    this.control = this.s.control;
    this.maxStretch = this.s.maxStretch;
  }

  async runStretch(task: StretchTask): Promise<StretchOutcome> {
    const { plan, blas, control } = this;
    const { T, B } = plan.input;
    resetControl(control, task.k0);
    for (let k = task.k0; k < task.k1; k++) {
      let loss = 0;
      plan.shards.forEach((shard, s) => {
        const ws = plan.workspaces[plan.shardsOfWorker.findIndex((list) => list.includes(s))];
        const rows = shard.hi - shard.lo;
        for (let r = 0; r < rows; r++) {
          const start = control.schedule[k * B + shard.lo + r];
          for (let t = 0; t < T; t++) {
            blas.i[ws.x + t * rows + r] = this.s.corpus[start + t];
            blas.i[ws.y + t * rows + r] = this.s.corpus[start + t + 1];
          }
        }
        const ctx: StepContext = { blas, plan, ws };
        loss += computeShard(ctx, s, task.carry, task.gradScale);
      });
      const ctx: StepContext = { blas, plan, ws: plan.workspaces[0] };
      let sumsq = 0;
      for (const x of reduceChunks(ctx, 0, plan.numChunks, plan.activeBlocks)) sumsq += x;
      const norm = Math.sqrt(sumsq);
      const factor = clipFactor(norm, task.clipTheta);
      // SGD's update, params -= lr * factor * g, as one scalar times the summed block
      blas.axpy(plan.numParams, -((task.lr ?? control.lrs[k]) * factor), plan.activeBlocks[0], plan.params);
      const row = k * RESULT_FIELDS;
      control.results[row + Result.LOSS] = loss;
      control.results[row + Result.NORM] = norm;
      control.results[row + Result.FACTOR] = factor;
      Atomics.store(control.ctrl, Slot.DONE, k + 1);
    }
    return outcomeOf(control, task.k0, 0);
  }

  requestStop(): void {}
  async close(): Promise<void> {}
}

function config(sampler: 'random' | 'consecutive', deterministic: boolean): TrainConfig {
  return {
    ...D2L_BASE,
    model: { ...D2L_BASE.model, hidden: 40, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler, steps: 11, batch: 9, val_fraction: 0.05, max_chars: 4000 },
    optim: { ...D2L_BASE.optim, lr: 1, clip: 0.5 },
    run: { ...D2L_BASE.run, epochs: 3, deterministic, sample_every: 0, checkpoint_every: 0 },
  };
}

async function paramsAfter(cfg: TrainConfig, workers: number, steps: number, kind: 'pool' | 'roundtrip') {
  const r = await trainSteps(cfg, steps, { workers, maxStretch: 16, engine: kind === 'pool' ? undefined : (o: EngineOptions) => new RoundTripEngine(o) });
  return { ...r, params: Buffer.from(r.params.buffer) };
}

describe.each([
  ['random', false, 2], ['random', false, 3], ['consecutive', false, 3], ['random', true, 3], ['consecutive', true, 2],
] as const)('%s sampling, deterministic %s, %i workers', (sampler, deterministic, workers) => {
  it('barrier step == round-trip step, bitwise, over 40 minibatches (stretches of 16, an epoch boundary)', async () => {
    const pool = await paramsAfter(config(sampler, deterministic), workers, 40, 'pool');
    const ref = await paramsAfter(config(sampler, deterministic), workers, 40, 'roundtrip');
    expect(pool.perEpoch).toBeLessThan(40); // the run crossed an epoch boundary
    expect(pool.params.equals(ref.params)).toBe(true);
    // the booked metrics are the same numbers, summed in the same order
    expect(pool.state.reportLossSum).toBe(ref.state.reportLossSum);
    expect(pool.state.reportNormSum).toBe(ref.state.reportNormSum);
    expect(pool.state.reportClipped).toBe(ref.state.reportClipped);
  });
});

describe('stretch control', () => {
  async function engineFor(workers: number, lr: number) {
    const cfg = config('random', false);
    const data = prepareData(cfg);
    const engine = new PoolEngine({
      plan: { model: desc({ cell: 'rnn', act: 'tanh' }, { V: data.vocab.size, H: 40 }), T: 11, B: 9, workers, deterministic: false, evalRows: 0, optimSlots: 0, seed: 0 },
      corpus: data.train,
    });
    const rng = new Rng(1);
    initParams(engine.plan.layout, engine.blas.f, engine.plan.params, () => rng.normal(), 0.1);
    for (let k = 0; k < engine.maxStretch * 9; k++) engine.control.schedule[k] = (k * 37) % (data.train.length - 12);
    return { engine, task: { k0: 0, k1: 200, carry: false, gradScale: 1 / 99, lr, clipTheta: 1e30, optim: PLAIN_SGD, step0: 0 } };
  }

  it.each([1, 3])('a stop request ends the stretch right after the minibatch in flight (%i workers)', async (workers) => {
    const { engine, task } = await engineFor(workers, 0.1);
    try {
      let requestedAt = -1, liveAt = -1;
      const out = await engine.runStretch(task, (done) => {
        if (done >= 5 && requestedAt < 0) {
          requestedAt = done;
          engine.requestStop();
          // the workers' own count, read after the request: progress is booked in batches when the
          // coordinator wakes, so `done` may lag the workers (3 workers on 2 cores: by 3 minibatches)
          liveAt = Atomics.load(engine.control.ctrl, Slot.DONE);
        }
      });
      expect(requestedAt).toBeGreaterThanOrEqual(5);
      // the workers may already be inside the next minibatch when the request lands: at most one more
      expect(out.done).toBeGreaterThanOrEqual(requestedAt);
      expect(out.done).toBeLessThanOrEqual(liveAt + 1);
      expect(out.divergedAt).toBeNull();
    } finally {
      await engine.close();
    }
  });

  it('a non-finite loss stops the stretch at that minibatch and its update is not applied', async () => {
    const { engine, task } = await engineFor(2, 0.1);
    try {
      const { params, numParams, P } = engine.plan;
      engine.blas.f[P.b_q] = NaN; // every logit row has a NaN: the first loss is NaN
      const before = Buffer.from(engine.blas.f.slice(params, params + numParams).buffer);
      const out = await engine.runStretch(task, () => {});
      expect(out.divergedAt).toBe(0);
      expect(out.done).toBe(0);
      expect(Number.isNaN(engine.control.results[Result.LOSS])).toBe(true);
      expect(Buffer.from(engine.blas.f.slice(params, params + numParams).buffer).equals(before)).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it.each(['throw', 'exit'])('a worker that %ss mid-stretch: the stretch rejects with one WorkerFailure, nothing waits forever', async (kind) => {
    process.env.BPTT_WORKER_FILE = join(import.meta.dirname, 'fixtures/fault_worker.mjs');
    process.env.BPTT_TEST_FAULT = `${kind}:37`;
    try {
      const { engine, task } = await engineFor(3, 0.1);
      try {
        let progress = 0;
        // a hang would fail this test by its timeout; the rejection must come, with the real cause
        await expect(engine.runStretch(task, (d) => { progress = d; })).rejects.toThrow(kind === 'throw' ? /a worker thread failed: injected fault at minibatch 37/ : /a worker thread failed/);
        expect(progress).toBeLessThanOrEqual(37);
      } finally {
        await engine.close();
      }
    } finally {
      delete process.env.BPTT_WORKER_FILE;
      delete process.env.BPTT_TEST_FAULT;
    }
  });

  it.each([
    ['clipped (theta below the norm)', 1e-3],
    ['not clipped (theta above the norm)', 1e3],
  ])('one real update is p - lr * min(1, theta/||g||) * g: %s', async (label, theta) => {
    // the gradient, computed from the phase functions (no clipping, no update)
    const { engine, p0, g, norm } = firstGradient(config('random', false));
    const { plan, blas, control } = engine;
    const lr = 0.7;
    const factor = Math.min(1, theta / norm);
    // each case is on the side of the norm its name says (a gradient that moved past theta would test the other branch twice)
    expect(theta < norm, `theta ${theta}, ||g|| ${norm}`).toBe(label.startsWith('clipped'));
    const out = await engine.runStretch({ k0: 0, k1: 1, carry: false, gradScale: 1 / 99, lr, clipTheta: theta, optim: PLAIN_SGD, step0: 0 });
    expect(out.done).toBe(1);
    expect(control.results[Result.FACTOR]).toBeCloseTo(factor, 6);
    const p1 = blas.f.subarray(plan.params, plan.params + plan.numParams);
    let worst = 0, moved = 0;
    for (let k = 0; k < plan.numParams; k++) {
      const want = p0[k] - lr * factor * g[k];
      worst = Math.max(worst, Math.abs(p1[k] - want) / (1e-6 + Math.abs(want)));
      moved = Math.max(moved, Math.abs(p1[k] - p0[k]));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(moved).toBeGreaterThan(0);
  });

  it.each([
    ['gru', 2, 0], ['lstm', 2, 0.3],
  ] as const)('one real update of a %s with %i layers (dropout %s): the helper computes that model\'s gradient, not an RNN\'s', async (cell, layers, dropout) => {
    const base = config('random', false);
    const cfg = { ...base, model: { ...base.model, cell, gru_reset: 'after' as const, layers, dropout } };
    const { engine, p0, g } = firstGradient(cfg);
    const { plan, blas, control } = engine;
    expect(plan.layout.model).toMatchObject({ cell, layers, dropout });
    // the upper layer's recurrent weights get a gradient (an RNN plan would have no such tensor)
    const t = plan.layout.tensors[`l1.W_h${cell === 'gru' ? 'z' : 'i'}`];
    let sumsq = 0;
    for (let r = 0; r < t.shape[0]; r++) for (let c = 0; c < t.shape[1]; c++) sumsq += g[t.offset + r * t.rowStride + c] ** 2;
    expect(sumsq).toBeGreaterThan(0);
    const out = await engine.runStretch({ k0: 0, k1: 1, carry: false, gradScale: 1 / 99, lr: 0.7, clipTheta: 1e3, optim: PLAIN_SGD, step0: 0 });
    expect(out.done).toBe(1);
    const p1 = blas.f.subarray(plan.params, plan.params + plan.numParams);
    for (let k = 0; k < plan.numParams; k += 97) expect(p1[k]).toBeCloseTo(p0[k] - 0.7 * control.results[Result.FACTOR] * g[k], 5);
  });
});
