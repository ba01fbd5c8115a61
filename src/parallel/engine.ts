// An Engine runs the three phases of a training step (train/step.ts) over the shared memory:
// InlineEngine in the calling thread, PoolEngine (pool.ts) across worker threads. The trainer
// talks only to this interface, so one thread and N threads are the same program.

import { compileKernels, createSharedMemory, WasmBlas, type KernelPreference } from '../blas/loader.js';
import type { Activation } from '../blas/types.js';
import { makePlan, type MemoryPlan, type PlanInput } from '../train/plan.js';
import { computeShard, reduceChunks, updateRange, type StepContext } from '../train/step.js';

export interface Engine {
  readonly workers: number;
  /** the coordinator's kernels over the shared memory (checkpoints, eval, sampling) */
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  /** forward + BPTT time of the slowest worker in the last gradients() call (ms) */
  readonly lastBpttMs: number;
  /** phase 1 over all shards; `step` is the global minibatch counter (fault injection in tests) */
  gradients(carry: boolean, gradScale: number, step: number): Promise<number>;
  /** phase 2: returns ||g||^2 of the summed gradient */
  reduce(): Promise<number>;
  /** phase 3: params -= scale * g */
  update(scale: number): Promise<void>;
  close(): Promise<void>;
}

export interface EngineOptions {
  plan: PlanInput;
  act: Activation;
  kernels?: KernelPreference;
}

export class InlineEngine implements Engine {
  readonly workers = 1;
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  private readonly ctx: StepContext;
  lastBpttMs = 0;

  constructor(opts: EngineOptions) {
    this.plan = makePlan({ ...opts.plan, workers: 1 });
    this.blas = new WasmBlas(compileKernels(opts.kernels), createSharedMemory(this.plan.totalBytes));
    this.ctx = { blas: this.blas, plan: this.plan, act: opts.act, ws: this.plan.workspaces[0] };
  }

  async gradients(carry: boolean, gradScale: number): Promise<number> {
    const t0 = performance.now();
    let loss = 0;
    for (let s = 0; s < this.plan.shards.length; s++) loss += computeShard(this.ctx, s, carry, gradScale);
    this.lastBpttMs = performance.now() - t0;
    return loss;
  }

  async reduce(): Promise<number> {
    return reduceChunks(this.ctx, 0, this.plan.numChunks, this.plan.activeBlocks).reduce((a, b) => a + b, 0);
  }

  async update(scale: number): Promise<void> {
    updateRange(this.ctx, 0, this.plan.numParams, scale, this.plan.activeBlocks[0]);
  }

  async close(): Promise<void> {}
}
