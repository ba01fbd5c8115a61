// PoolEngine: the coordinator side of data-parallel BPTT over a piscina pool of N threads.
// One shared WebAssembly.Memory holds parameters, per-shard gradient blocks, the carried state
// table, the minibatch and per-worker workspaces (train/plan.ts). Per minibatch:
//   grad:   N tasks, worker w runs its shards (its rows) into their own gradient blocks;
//   reduce: N tasks, each sums a disjoint range of fixed chunks over all blocks, in block order,
//           and returns the chunks' sums of squares; the coordinator adds them in chunk order;
//   update: N tasks, each applies params -= lr * clip * g to a disjoint range.
// Every sum is taken in an order fixed by indices, never by which thread finished first, so a
// given seed and worker count give bitwise-identical runs.

import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { Piscina } from 'piscina';
import { compileKernels, createSharedMemory, WasmBlas } from '../blas/loader.js';
import { balancedRanges, makePlan, type MemoryPlan } from '../train/plan.js';
import type { Engine, EngineOptions } from './engine.js';
import type { Task, TaskResult, WorkerInit } from './protocol.js';

function workerFile(): string {
  // dist/src/parallel/pool.js -> dist/workers/bptt_worker.js ; src/parallel/pool.ts (tests) -> the same built file
  const candidates = ['../../workers/bptt_worker.js', '../../dist/workers/bptt_worker.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new Error(`worker entry not built (looked for ${candidates.join(', ')}): run "npm run build"`);
  return found;
}

export class WorkerFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerFailure';
  }
}

export class PoolEngine implements Engine {
  readonly workers: number;
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  private readonly pool: Piscina;
  private readonly chunkRanges;
  private readonly paramRanges;
  private closed = false;
  lastBpttMs = 0;

  constructor(opts: EngineOptions) {
    this.workers = opts.plan.workers;
    this.plan = makePlan(opts.plan);
    const kernels = compileKernels(opts.kernels);
    const memory = createSharedMemory(this.plan.totalBytes);
    this.blas = new WasmBlas(kernels, memory);
    const init: WorkerInit = { memory, module: kernels.module, variant: kernels.variant, plan: opts.plan, act: opts.act };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Infinity, // piscina's default lets idle workers exit between tasks
      concurrentTasksPerWorker: 1,
      workerData: init,
      // one task per thread at a time; an uncapped queue so all N tasks of a phase are accepted
      maxQueue: 'auto',
    });
    this.chunkRanges = balancedRanges(this.plan.numChunks, this.workers);
    // update ranges on 16-element boundaries so no two threads write the same cache line
    this.paramRanges = balancedRanges(this.plan.numParams / 16, this.workers).map(({ lo, hi }) => ({ lo: lo * 16, hi: hi * 16 }));
  }

  private async all(tasks: Task[]): Promise<TaskResult[]> {
    try {
      return await Promise.all(tasks.map((t) => this.pool.run(t) as Promise<TaskResult>));
    } catch (err) {
      throw new WorkerFailure(`a worker thread failed: ${(err as Error).message}`);
    }
  }

  async gradients(carry: boolean, gradScale: number, step: number): Promise<number> {
    const tasks: Task[] = [];
    this.plan.shardsOfWorker.forEach((shards, w) => {
      if (shards.length > 0) tasks.push({ kind: 'grad', ws: w, shards, carry, gradScale, step });
    });
    const results = await this.all(tasks);
    // losses summed in shard order, independent of completion order
    let loss = 0;
    this.lastBpttMs = 0;
    for (const r of results) {
      const g = r as { losses: number[]; computeMs: number };
      for (const l of g.losses) loss += l;
      this.lastBpttMs = Math.max(this.lastBpttMs, g.computeMs);
    }
    return loss;
  }

  async reduce(): Promise<number> {
    const blocks = this.plan.activeBlocks;
    const results = await this.all(this.chunkRanges.filter((r) => r.hi > r.lo).map((r) => ({ kind: 'reduce', cLo: r.lo, cHi: r.hi, blocks })));
    let sumsq = 0;
    for (const r of results) for (const s of (r as { sums: number[] }).sums) sumsq += s;
    return sumsq;
  }

  async update(scale: number): Promise<void> {
    const grad = this.plan.activeBlocks[0];
    await this.all(this.paramRanges.filter((r) => r.hi > r.lo).map((r) => ({ kind: 'update', lo: r.lo, hi: r.hi, scale, grad })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}
