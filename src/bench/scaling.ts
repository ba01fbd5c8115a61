// Scaling benchmark: the same training slice (same config, seed and minibatches) at each worker
// count, after a warm-up, driven as the trainer drives it (engine/drive.ts, engine/step.ts).
// Reports tokens/s, GFLOP/s, speedup over 1 worker, parallel efficiency (speedup / N), and where a
// step's time goes: gathering the rows, forward+BPTT (slowest worker), and outside it the barrier
// waits, the reduce, the update and the coordinator's schedule writing. Every count runs the pool,
// 1 included, so the speedup compares like with like. Counts are measured in interleaved rounds
// and the median reported: a shared VM drifts by 10-20% within a minute.

import { availableParallelism, cpus } from 'node:os';
import type { KernelPreference } from '../blas/loader.js';
import type { TrainConfig } from '../config/schema.js';
import { makeSampler } from '../data/samplers.js';
import { initParams, trainFlopsPerToken } from '../model/params.js';
import { modelOf } from '../model/desc.js';
import { optimStepOf } from '../optim/optimizers.js';
import { phaseTimes } from '../engine/engine.js';
import { PoolEngine } from '../engine/pool.js';
import { driveStretch } from '../engine/drive.js';
import { prepareData, type PreparedData } from '../train/data.js';
import { planInputOf } from '../engine/plan.js';
import { Rng } from '../util/rng.js';

export interface ScalingResult {
  workers: number;
  tokens_per_s: number;
  gflops: number;
  speedup: number;
  efficiency: number;
  step_ms: number;
  /** forward + BPTT of the slowest worker in each minibatch, per minibatch (the critical path; gather excluded) */
  bptt_ms: number;
  /** 1 - bptt_ms / step_ms */
  outside_bptt_share: number;
  /** means over workers, ms per minibatch */
  gather_ms: number;
  wait_ms: number;
  reduce_ms: number;
  update_ms: number;
  /** the coordinator writing row offsets into the schedule, ms per minibatch */
  schedule_ms: number;
  minibatches: number;
  /** tokens/s of every repetition; tokens_per_s is their median */
  runs_tokens_per_s: number[];
}

export interface ScalingReport {
  machine: Record<string, string | number>;
  config: { hidden: number; batch: number; steps: number; vocab: number; corpus_chars: number; sampler: string; flops_per_token: number };
  kernels: string;
  date: string;
  results: ScalingResult[];
}

export interface ScalingOptions {
  config: TrainConfig;
  workers: number[];
  warmup: number;
  minibatches: number;
  /** rounds over the worker list (interleaved, so drift on a shared machine hits every count alike) */
  repeat: number;
  kernels: KernelPreference;
  onResult?(r: ScalingResult): void;
}

export function machineInfo(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
  };
}

interface Measurement {
  tokensPerS: number;
  stepMs: number;
  bpttMs: number;
  gatherMs: number;
  waitMs: number;
  reduceMs: number;
  updateMs: number;
  scheduleMs: number;
}

/** One measurement: a fresh pool of `workers`, a warm-up stretch, then `minibatches` timed steps. */
async function measure(o: ScalingOptions, data: PreparedData, workers: number): Promise<{ m: Measurement; kernels: string }> {
  const c = o.config;
  const V = data.vocab.size;
  const { steps: T, batch: B } = c.data;
  const engine = new PoolEngine({
    plan: planInputOf(c, V, { workers }),
    kernels: o.kernels, corpus: data.train,
  });
  try {
    const init = new Rng(c.run.seed);
    initParams(engine.plan.layout, engine.blas.f, engine.plan.params, () => init.normal(), c.model.init_scale);
    const sampler = makeSampler(c.data.sampler, data.train, B, T);
    const rng = new Rng(c.run.seed + 1);
    sampler.startEpoch(rng);
    let next = 0; // minibatch of the epoch, wrapping (the bench needs valid rows, not a whole epoch)
    const task = { carry: sampler.kind === 'consecutive', gradScale: 1 / (T * B), clipTheta: c.optim.clip, optim: optimStepOf(c.optim) };
    const sum: Measurement = { tokensPerS: 0, stepMs: 0, bpttMs: 0, gatherMs: 0, waitMs: 0, reduceMs: 0, updateMs: 0, scheduleMs: 0 };
    const stretches = async (total: number, timed: boolean) => {
      for (let left = total; left > 0;) {
        const count = Math.min(left, engine.maxStretch);
        const t0 = performance.now();
        const from = next;
        const out = await driveStretch(engine, {
          sampler, count, minibatch: (k) => (from + k) % sampler.batchesPerEpoch, lr: () => c.optim.lr, task: { ...task, step0: 0 },
        });
        next = (from + count) % sampler.batchesPerEpoch;
        // the coordinator's share: filling the control block (all of the stretch's time outside the engine)
        const scheduleMs = performance.now() - t0 - out.wallMs;
        if (out.done !== count) throw new Error(`bench stretch ended after ${out.done} of ${count} minibatches (diverged: ${out.divergedAt !== null})`);
        if (timed) {
          const phases = phaseTimes(engine.control);
          const mean = (f: (p: (typeof phases)[number]) => number) => phases.reduce((a, p) => a + f(p), 0) / phases.length;
          sum.stepMs += performance.now() - t0;
          sum.scheduleMs += scheduleMs;
          sum.bpttMs += engine.control.critical[0];
          sum.gatherMs += mean((p) => p.gather);
          sum.waitMs += mean((p) => p.wait);
          sum.reduceMs += mean((p) => p.reduce);
          sum.updateMs += mean((p) => p.update);
        }
        left -= count;
      }
    };
    await stretches(o.warmup, false);
    await stretches(o.minibatches, true);
    sum.tokensPerS = (o.minibatches * T * B) / (sum.stepMs / 1000);
    return { m: sum, kernels: engine.blas.name };
  } finally {
    await engine.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function runScaling(o: ScalingOptions): Promise<ScalingReport> {
  const c = o.config;
  const data = prepareData(c);
  const V = data.vocab.size;
  const flopsPerToken = trainFlopsPerToken(modelOf(V, c.model));
  const runs = new Map<number, Measurement[]>(o.workers.map((w) => [w, []]));
  let kernels = '';
  for (let round = 0; round < o.repeat; round++) {
    for (const w of o.workers) {
      const r = await measure(o, data, w);
      kernels = r.kernels;
      runs.get(w)!.push(r.m);
    }
  }
  const results: ScalingResult[] = [];
  const medianOf = (w: number) => median(runs.get(w)!.map((m) => m.tokensPerS));
  const base = runs.has(1) ? medianOf(1) : NaN;
  for (const workers of o.workers) {
    const ms = runs.get(workers)!;
    const tokensPerS = medianOf(workers);
    const mid = ms.reduce((best, m) => (Math.abs(m.tokensPerS - tokensPerS) < Math.abs(best.tokensPerS - tokensPerS) ? m : best));
    const speedup = tokensPerS / base;
    const r: ScalingResult = {
      workers,
      tokens_per_s: tokensPerS,
      gflops: (tokensPerS * flopsPerToken) / 1e9,
      speedup,
      efficiency: speedup / workers,
      step_ms: mid.stepMs / o.minibatches,
      bptt_ms: mid.bpttMs / o.minibatches,
      outside_bptt_share: 1 - mid.bpttMs / mid.stepMs,
      gather_ms: mid.gatherMs / o.minibatches,
      wait_ms: mid.waitMs / o.minibatches,
      reduce_ms: mid.reduceMs / o.minibatches,
      update_ms: mid.updateMs / o.minibatches,
      schedule_ms: mid.scheduleMs / o.minibatches,
      minibatches: o.minibatches,
      runs_tokens_per_s: ms.map((m) => m.tokensPerS),
    };
    results.push(r);
    o.onResult?.(r);
  }
  return {
    machine: machineInfo(),
    config: { hidden: c.model.hidden, batch: c.data.batch, steps: c.data.steps, vocab: V, corpus_chars: data.train.length, sampler: c.data.sampler, flops_per_token: flopsPerToken },
    kernels,
    date: new Date().toISOString(),
    results,
  };
}

export function scalingTable(r: ScalingReport): string {
  const lines = [
    '| workers | tokens/s | GFLOP/s | speedup | efficiency | step ms | BPTT ms (slowest worker) | outside BPTT | wait | reduce | update | gather | schedule |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ms = (x: number) => x.toFixed(x < 0.1 ? 3 : 2);
  for (const x of r.results) {
    // without a 1-worker measurement there is no speedup to show
    const speedup = Number.isFinite(x.speedup) ? `${x.speedup.toFixed(2)}x` : '—';
    const efficiency = Number.isFinite(x.efficiency) ? `${(100 * x.efficiency).toFixed(0)}%` : '—';
    lines.push(`| ${x.workers} | ${Math.round(x.tokens_per_s).toLocaleString('en-US')} | ${x.gflops.toFixed(1)} | ${speedup} | ` +
      `${efficiency} | ${x.step_ms.toFixed(2)} | ${x.bptt_ms.toFixed(2)} | ${(100 * x.outside_bptt_share).toFixed(1)}% | ` +
      `${ms(x.wait_ms)} | ${ms(x.reduce_ms)} | ${ms(x.update_ms)} | ${ms(x.gather_ms)} | ${ms(x.schedule_ms)} |`);
  }
  lines.push('', 'wait, reduce, update, gather: ms per minibatch, mean over workers; schedule: the coordinator, ms per minibatch');
  return lines.join('\n');
}
