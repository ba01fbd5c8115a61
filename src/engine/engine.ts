// An Engine runs stretches of the training step (engine/step.ts) over the shared memory:
// PoolEngine (pool.ts) on N long-lived worker threads that meet at barriers in shared memory,
// InlineEngine in the calling thread (tests, library use). Whoever drives it (engine/drive.ts)
// writes the stretch's schedule (each row's start offset and learning rate per minibatch) into the
// control block and starts the stretch; the trainer reads the per-minibatch results table. One
// thread and N threads are the same program.

import { compileKernels, createSharedMemory, WasmBlas, type KernelPreference } from '../blas/loader.js';
import type { Blas } from '../blas/types.js';
import { makePlan, type MemoryPlan, type PlanInput } from './plan.js';
import { runStretch, type StretchTask, type WorkerContext } from './step.js';
import { controlViews, PHASES, Slot, StretchStatus, type ControlViews } from './control.js';

/** Most minibatches one stretch may hold: bounds the schedule table (MAX_STRETCH x B int32). */
export const MAX_STRETCH = 256;

export interface StretchOutcome {
  /** minibatches of the stretch whose update was applied, from k0 */
  done: number;
  /** the minibatch (schedule index) whose loss or norm was not finite; its update was not applied */
  divergedAt: number | null;
  /** wall time of the stretch, ms */
  wallMs: number;
}

/** Called when the progress counter moves: minibatches [k0, done) are complete. */
export type ProgressFn = (done: number) => void;

export interface Engine {
  readonly workers: number;
  /** the coordinator's kernels over the shared memory (checkpoints, eval, sampling) */
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  /** schedule, results and timing tables */
  readonly control: ControlViews;
  readonly maxStretch: number;
  /** Runs minibatches [k0, k1) of the schedule; resolves when every thread has left the stretch. */
  runStretch(task: StretchTask, onProgress?: ProgressFn): Promise<StretchOutcome>;
  /** Ask the running stretch to end after the minibatch in flight (engine/step.ts reads it at barriers B and C). */
  requestStop(): void;
  close(): Promise<void>;
}

export interface EngineOptions {
  plan: PlanInput;
  /** the training corpus (token ids); copied once into shared memory unless it is already there */
  corpus: Int32Array;
  kernels?: KernelPreference;
  maxStretch?: number;
}

/** What every engine builds the same way: plan, kernels on a new shared memory, control block, corpus. */
export function engineSetup(opts: EngineOptions, workers: number) {
  const plan = makePlan({ ...opts.plan, workers });
  const kernels = compileKernels(opts.kernels);
  const memory = createSharedMemory(plan.totalBytes);
  const blas = new WasmBlas(kernels, memory);
  const maxStretch = opts.maxStretch ?? MAX_STRETCH;
  const control = controlViews({ workers, numShards: plan.shards.length, numChunks: plan.numChunks, B: opts.plan.B, maxStretch });
  // the corpus is shared as it is when it already lives on shared memory (prepareData puts it there)
  let corpus = opts.corpus;
  if (!(corpus.buffer instanceof SharedArrayBuffer)) {
    corpus = new Int32Array(new SharedArrayBuffer(opts.corpus.length * 4));
    corpus.set(opts.corpus);
  }
  return { plan, kernels, memory, blas, maxStretch, control, corpus };
}

/** Resets the control slots for a stretch starting at k0. */
export function resetControl(control: ControlViews, k0: number): void {
  const { ctrl } = control;
  Atomics.store(ctrl, Slot.BARRIER_COUNT, 0);
  Atomics.store(ctrl, Slot.STOP_REQUEST, 0);
  Atomics.store(ctrl, Slot.STATUS, StretchStatus.RUNNING);
  Atomics.store(ctrl, Slot.LAST, -1);
  Atomics.store(ctrl, Slot.DONE, k0);
  control.timing.fill(0);
  control.critical[0] = 0;
}

export function outcomeOf(control: ControlViews, k0: number, wallMs: number): StretchOutcome {
  const { ctrl } = control;
  const diverged = Atomics.load(ctrl, Slot.STATUS) === StretchStatus.DIVERGED;
  return { done: Atomics.load(ctrl, Slot.DONE) - k0, divergedAt: diverged ? Atomics.load(ctrl, Slot.LAST) : null, wallMs };
}

/** Per-phase ms of each worker over the last stretch: rows = workers, columns = PHASES. */
export function phaseTimes(control: ControlViews): Array<Record<(typeof PHASES)[number], number>> {
  return Array.from({ length: control.shape.workers }, (_, w) =>
    Object.fromEntries(PHASES.map((p, k) => [p, control.timing[w * PHASES.length + k]])) as Record<(typeof PHASES)[number], number>);
}

/**
 * The step in the calling thread: the same runStretch with one party (its barriers open at once),
 * one minibatch at a time with a turn of the event loop between, so signals and output still run.
 */
export class InlineEngine implements Engine {
  readonly workers = 1;
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  readonly control: ControlViews;
  readonly maxStretch: number;
  private readonly ctx: WorkerContext;

  /** `instrument`: the step sees its kernels through this wrapper (bench/profile.ts times every call) */
  constructor(opts: EngineOptions, instrument?: (blas: Blas) => Blas) {
    const s = engineSetup(opts, 1);
    this.blas = s.blas;
    this.plan = s.plan;
    this.control = s.control;
    this.maxStretch = s.maxStretch;
    this.ctx = { blas: instrument ? instrument(s.blas) : s.blas, plan: s.plan, ws: s.plan.workspaces[0], worker: 0, control: s.control, corpus: s.corpus };
  }

  async runStretch(task: StretchTask, onProgress?: ProgressFn): Promise<StretchOutcome> {
    const t0 = performance.now();
    resetControl(this.control, task.k0);
    const { ctrl } = this.control;
    for (let k = task.k0; k < task.k1; k++) {
      runStretch(this.ctx, { ...task, k0: k, k1: k + 1, step0: task.step0 + k - task.k0 });
      if (Atomics.load(ctrl, Slot.DONE) > k) onProgress?.(k + 1);
      if (Atomics.load(ctrl, Slot.LAST) === k) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return outcomeOf(this.control, task.k0, performance.now() - t0);
  }

  requestStop(): void {
    Atomics.store(this.control.ctrl, Slot.STOP_REQUEST, 1);
  }

  async close(): Promise<void> {}
}
