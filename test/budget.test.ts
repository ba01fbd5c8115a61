// Runs by time budget and by minibatch, on a fake clock (no sleeps, no timing assertions): the
// clock advances 10 ms per trained minibatch (and, where a test says so, a fixed time per
// evaluation), so every horizon estimate, stop and cadence is exact and the same on any machine.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/config/schema.js';
import { InlineEngine } from '../src/engine/engine.js';
import { loadCheckpoint, saveCheckpoint, type TrainingState } from '../src/checkpoint/checkpoint.js';
import { prepareData, type PreparedData } from '../src/train/data.js';
import { evalRows } from '../src/train/evaluate.js';
import { planInputOf } from '../src/engine/plan.js';
import { isBetter, Trainer, type Report } from '../src/train/trainer.js';
import { AUTO_EVAL_SHARE } from '../src/config/units.js';
import { D2L_BASE } from './train_helpers.js';
import { placeStart } from '../src/train/start.js';

const MINIBATCH_S = 0.01;

function cfgOf(run: Partial<TrainConfig['run']>, optim: Partial<TrainConfig['optim']> = {}): TrainConfig {
  return {
    ...D2L_BASE,
    model: { ...D2L_BASE.model, hidden: 12, init_scale: 0.1 },
    data: { ...D2L_BASE.data, sampler: 'consecutive', epoch_offset: 'random', steps: 8, batch: 4, val_fraction: 0.05, max_chars: 4000 },
    optim: { ...D2L_BASE.optim, kind: 'adam', lr: 0.01, clip: 1, schedule: { kind: 'cosine', warmup: 20, step_epochs: 1, gamma: 0.5, min_lr: 0.001 }, ...optim },
    run: { ...D2L_BASE.run, epochs: 1000, sample_every: 0, checkpoint_every: 0, eval_every: 0, ...run },
  };
}

interface Setup { trainer: Trainer; engine: InlineEngine; data: PreparedData; reports: Report[]; evals: { n: number } }

/** A trainer on one thread whose clock is MINIBATCH_S per trained minibatch plus `evalCostS` per evaluation (plus `stall.s`, a test's own). */
function setup(cfg: TrainConfig, evalCostS = 0, resume?: ReturnType<typeof loadCheckpoint>, stall = { s: 0 }): Setup {
  const data = prepareData(cfg);
  const engine = new InlineEngine({ plan: planInputOf(cfg, data.vocab.size, { workers: 1, evalRows: evalRows(data.val!.length, cfg.data.steps, cfg.data.batch) }), corpus: data.train });
  const evals = { n: 0 };
  const base = resume?.training ? resume.training.elapsedS - resume.training.step * MINIBATCH_S : 0;
  // the clock reads the trainer's own step count (called only once the run starts)
  const start = placeStart(cfg, engine, { resume });
  const trainer: Trainer = new Trainer(cfg, data, engine, start, { clock: () => base + trainer.state.step * MINIBATCH_S + evals.n * evalCostS + stall.s });
  const real = trainer.evaluation.bind(trainer);
  trainer.evaluation = function* () { const v = yield* real(); evals.n++; return v; };
  return { trainer, engine, data, reports: [], evals };
}

const params = (s: Setup) => Float32Array.from(s.engine.blas.f.subarray(s.engine.plan.params, s.engine.plan.params + s.engine.plan.numParams));

describe('a time budget', () => {
  it('trains until the budget less the reserve for the last evaluation, re-estimating its horizon; the rate reaches its floor at the last minibatch', async () => {
    const s = setup(cfgOf({ time_budget: '10s' }));
    const reports: Report[] = [];
    expect(await s.trainer.run({ onReport: (m) => reports.push(m) })).toBe(true);
    const last = reports[reports.length - 1];
    // the budget ends where the reserve begins (0.5 s: the evaluation costs nothing on this clock)
    expect(s.trainer.state.step).toBe(Math.round((10 - 0.5) / MINIBATCH_S));
    expect(last.step).toBe(s.trainer.state.step);
    expect(last.val_loss).not.toBeNull();
    expect(last.lr).toBeCloseTo(0.001, 12);
    expect(s.trainer.state.elapsedS).toBeLessThanOrEqual(10);
  });

  it('stops within one minibatch plus one evaluation of its budget when evaluations cost time', async () => {
    const s = setup(cfgOf({ time_budget: 20, eval_every: '3s' }), 0.25);
    await s.trainer.run();
    const { elapsedS } = s.trainer.state;
    expect(elapsedS).toBeLessThanOrEqual(20);
    expect(elapsedS).toBeGreaterThanOrEqual(20 - MINIBATCH_S - 0.25 - (0.25 * 1.25 + 0.5));
  });

  it('a clock that crosses the budget after the stretch is settled still ends with the final evaluation and checkpoint', async () => {
    // CI under load once ended a 4 s run with exit 0 and no last.safetensors: the loop read the clock
    // again after settle had found time left, and returned without the final settle
    const crossAt = async (onEvalReport: boolean) => {
      const stall = { s: 0 };
      const s = setup(cfgOf({ time_budget: '10s', eval_every: '2s' }), 0, undefined, stall);
      const reports: Report[] = [];
      const checkpoints: Array<[number, string]> = [];
      const done = await s.trainer.run({
        onReport: (m) => {
          reports.push(m);
          if (stall.s === 0 && (m.val_loss !== null) === onEvalReport) stall.s = 9; // past 10 s less the 0.5 s reserve
        },
        onCheckpoint: (st, why) => checkpoints.push([st.step, why]),
      });
      expect(done).toBe(true);
      expect(checkpoints).toEqual([[s.trainer.state.step, 'final']]);
      const last = reports[reports.length - 1];
      expect(last.step).toBe(s.trainer.state.step);
      expect(last.val_loss).not.toBeNull();
      return { stalledAt: reports.find((r) => (r.val_loss !== null) === onEvalReport)!.step, step: s.trainer.state.step, evals: s.evals.n };
    };
    // a report without an evaluation (an epoch's end), then the stall: one more stretch, stopped at
    // its first minibatch boundary that reads the clock, and the final evaluation
    const epochEnd = await crossAt(false);
    expect(epochEnd.step).toBeGreaterThan(epochEnd.stalledAt);
    // an evaluation that runs into the reserve is the last one: nothing is trained or evaluated after it
    const evaluation = await crossAt(true);
    expect(evaluation.step).toBe(evaluation.stalledAt);
    expect(evaluation.evals).toBe(1);
  });

  it('interrupted and resumed, gets the rest of its budget: the same minibatches and parameters, bitwise', async () => {
    const cfg = cfgOf({ time_budget: '6s', eval_every: '50 minibatches' });
    const straight = setup(cfg);
    await straight.trainer.run();
    const dir = mkdtempSync(join(tmpdir(), 'bptt-budget-'));
    const cut = setup(cfg);
    const ckPath = join(dir, 'last.safetensors');
    const save = (state: TrainingState) => saveCheckpoint(ckPath, {
      vocab: cut.data.vocab, config: cfg, layout: cut.engine.plan.layout, heap: cut.engine.blas.f, params: cut.engine.plan.params,
      training: state, carriedState: cut.trainer.carriedState(), kernels: cut.engine.blas.name, data: cut.data.fingerprint, optimState: cut.engine.plan.optimState,
    });
    expect(await cut.trainer.run({ stopAtStep: 237, onCheckpoint: save })).toBe(false);
    const resumed = setup(cfg, 0, loadCheckpoint(ckPath));
    expect(resumed.trainer.state.step).toBe(237);
    expect(await resumed.trainer.run()).toBe(true);
    expect(resumed.trainer.state.step).toBe(straight.trainer.state.step);
    expect(Buffer.from(params(resumed).buffer).equals(Buffer.from(params(straight).buffer))).toBe(true);
  });
});

describe('by minibatch', () => {
  it('run.minibatches trains exactly that many; evaluations every N minibatches and every epoch end are rows with step, tokens and elapsed time', async () => {
    const s = setup(cfgOf({ minibatches: 300, eval_every: '70 minibatches' }));
    const reports: Report[] = [];
    await s.trainer.run({ onReport: (m) => reports.push(m) });
    const perEpoch = s.trainer.perEpoch;
    expect(s.trainer.state.step).toBe(300);
    const evalSteps = reports.filter((r) => r.val_loss !== null).map((r) => r.step);
    expect(evalSteps).toEqual([70, 140, 210, 280, 300]);
    const epochEnds = Array.from({ length: Math.floor(300 / perEpoch) }, (_, k) => (k + 1) * perEpoch);
    expect(reports.map((r) => r.step)).toEqual([...new Set([...evalSteps, ...epochEnds])].sort((a, b) => a - b));
    for (const r of reports) {
      expect(r.tokens).toBe(r.step * 8 * 4);
      expect(r.elapsed_s).toBeCloseTo(r.step * MINIBATCH_S, 9);
      expect(r.epoch).toBeCloseTo(r.step / perEpoch, 12);
      expect(r.val_mode).toBe(r.val_loss === null ? null : 'carried');
    }
    // the learning rate reported is the schedule's at that minibatch: warmup 20, cosine to the floor at 300
    expect(reports[reports.length - 1].lr).toBeCloseTo(0.001, 12);
  });

  it('a cadence in seconds evaluates on the clock; samples and checkpoints follow their own cadences', async () => {
    const s = setup(cfgOf({ minibatches: 450, eval_every: '1s', sample_every: '200 minibatches', checkpoint_every: '2s' }));
    const evalAt: number[] = [], sampleAt: number[] = [], ckAt: Array<[number, string]> = [];
    await s.trainer.run({
      onReport: (m) => { if (m.val_loss !== null) evalAt.push(m.step); },
      onSamples: (step) => sampleAt.push(step),
      onCheckpoint: (st, why) => ckAt.push([st.step, why]),
    });
    expect(evalAt).toEqual([100, 200, 300, 400, 450]);
    expect(sampleAt).toEqual([200, 400]);
    expect(ckAt).toEqual([[200, 'periodic'], [400, 'periodic'], [450, 'final']]);
  });

  it('eval_every auto keeps evaluation under 5% of the run, however long one takes', async () => {
    const s = setup(cfgOf({ time_budget: '5m', eval_every: 'auto' }), 7);
    const reports: Report[] = [];
    const checkpoints: Array<[number, string]> = [];
    await s.trainer.run({ onReport: (m) => reports.push(m), onCheckpoint: (st, why) => checkpoints.push([st.step, why]) });
    // its last evaluation runs into the reserve, and is the run's final one, with the final checkpoint
    expect(checkpoints).toEqual([[s.trainer.state.step, 'final']]);
    expect(reports[reports.length - 1].val_loss).not.toBeNull();
    expect(s.trainer.state.elapsedS).toBeLessThanOrEqual(5 * 60);
    const evalS = reports.reduce((a, r) => a + (r.eval_s ?? 0), 0);
    // one before the end at least, and the last; none closer than AUTO_EVAL_MIN_S apart
    expect(s.evals.n).toBeGreaterThanOrEqual(2);
    const at = reports.filter((r) => r.val_loss !== null).map((r) => r.elapsed_s);
    for (let k = 1; k < at.length - 1; k++) expect(at[k] - at[k - 1]).toBeGreaterThanOrEqual(60);
    expect(evalS / s.trainer.state.elapsedS).toBeLessThanOrEqual(AUTO_EVAL_SHARE + 0.01);
  });
});

describe('best and early stopping', () => {
  it('one rule for best: finite and strictly lower; the first of equal losses stays best', () => {
    expect(isBetter(1, null)).toBe(true);
    expect(isBetter(1, 1)).toBe(false);
    expect(isBetter(0.99, 1)).toBe(true);
    expect(isBetter(Infinity, null)).toBe(false);
    expect(isBetter(NaN, 2)).toBe(false);
  });

  it('best is reported once per improvement; a tie keeps the earlier; early_stop ends the run after N evaluations without one', async () => {
    const s = setup(cfgOf({ minibatches: 1000, eval_every: '10 minibatches', early_stop: 3 }));
    const losses = [3, 2, 2, 2.5, 1.5, 1.5, 1.6, 1.7];
    let k = 0;
    s.trainer.evaluation = function* () { yield; return losses[Math.min(k++, losses.length - 1)]; };
    const best: number[] = [];
    expect(await s.trainer.run({ onBest: (st) => best.push(st.step) })).toBe(true);
    expect(best).toEqual([10, 20, 50]);
    expect(s.trainer.state.bestStep).toBe(50);
    expect(s.trainer.state.bestValLoss).toBe(1.5);
    expect(s.trainer.stoppedEarly).toBe(true);
    expect(s.trainer.state.step).toBe(80);
  });
});
