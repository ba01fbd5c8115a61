// Scaling benchmark: the same training slice (same config, seed and minibatches) at each worker
// count, after a warm-up. Reports tokens/s, GFLOP/s, speedup over 1 worker, parallel efficiency
// (speedup / N), and the share of step time spent outside forward+BPTT: dispatch, waiting for the
// slowest worker, the reduce and the update. Every count runs the piscina pool, 1 included, so
// the speedup compares like with like. Counts are measured in interleaved rounds and the median
// reported: a shared VM drifts by 10-20% within a minute.

import { availableParallelism, cpus } from 'node:os';
import type { KernelPreference } from '../blas/loader.js';
import type { TrainConfig } from '../config/schema.js';
import { makeSampler } from '../data/samplers.js';
import { initParams, trainFlopsPerToken } from '../model/params.js';
import { clipFactor } from '../optim/clip.js';
import { PoolEngine } from '../parallel/pool.js';
import { prepareData, type PreparedData } from '../train/data.js';
import { Rng } from '../util/rng.js';

export interface ScalingResult {
  workers: number;
  tokens_per_s: number;
  gflops: number;
  speedup: number;
  efficiency: number;
  step_ms: number;
  bptt_ms: number;
  outside_bptt_share: number;
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
}

/** One measurement: a fresh pool of `workers`, warm-up, then `minibatches` timed full steps. */
async function measure(o: ScalingOptions, data: PreparedData, workers: number): Promise<{ m: Measurement; kernels: string }> {
  const c = o.config;
  const V = data.vocab.size;
  const { steps: T, batch: B } = c.data;
  const engine = new PoolEngine({
    plan: { V, H: c.model.hidden, T, B, workers, deterministic: c.run.deterministic, evalRows: 0 },
    act: c.model.activation, kernels: o.kernels,
  });
  try {
    const init = new Rng(c.run.seed);
    initParams(engine.plan.layout, engine.blas.f, engine.plan.params, () => init.normal(), c.model.init_scale);
    const sampler = makeSampler(c.data.sampler, data.train, B, T);
    const rng = new Rng(c.run.seed + 1);
    const carry = sampler.kind === 'consecutive';
    let i = sampler.batchesPerEpoch;
    let stepMs = 0, bpttMs = 0;
    for (let k = 0; k < o.warmup + o.minibatches; k++) {
      if (i >= sampler.batchesPerEpoch) { sampler.startEpoch(rng); i = 0; }
      sampler.fill(i++, engine.blas.i, engine.plan.batchX, engine.blas.i, engine.plan.batchY);
      const t0 = performance.now();
      await engine.gradients(carry, 1 / (T * B), k);
      const bptt = engine.lastBpttMs;
      const norm = Math.sqrt(await engine.reduce());
      await engine.update(c.optim.lr * clipFactor(norm, c.optim.clip));
      if (k >= o.warmup) { stepMs += performance.now() - t0; bpttMs += bptt; }
    }
    return { m: { tokensPerS: (o.minibatches * T * B) / (stepMs / 1000), stepMs, bpttMs }, kernels: engine.blas.name };
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
  const flopsPerToken = trainFlopsPerToken({ V, H: c.model.hidden });
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
    '| workers | tokens/s | GFLOP/s | speedup | efficiency | step ms | BPTT ms (slowest worker) | outside BPTT |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of r.results) {
    lines.push(`| ${x.workers} | ${Math.round(x.tokens_per_s).toLocaleString('en-US')} | ${x.gflops.toFixed(1)} | ${x.speedup.toFixed(2)}x | ` +
      `${(100 * x.efficiency).toFixed(0)}% | ${x.step_ms.toFixed(1)} | ${x.bptt_ms.toFixed(1)} | ${(100 * x.outside_bptt_share).toFixed(1)}% |`);
  }
  return lines.join('\n');
}
