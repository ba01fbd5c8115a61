// PoolEngine: the coordinator side of data-parallel BPTT over a piscina pool of N threads.
// Piscina owns the threads, their errors and their lifecycle; each worker gets ONE task per
// stretch (up to an epoch of minibatches) and runs minibatch after minibatch by itself, meeting
// the others at barriers in shared memory (engine/step.ts). The coordinator only writes the
// schedule, starts the stretch and sleeps on the progress counter with Atomics.waitAsync (waking
// every PROGRESS_MS), so its event loop stays free for signals, the progress line and output
// while the workers train, and its thread takes no core from them.
//
// A worker that throws sets the abort flag; one that dies (its task rejects) makes the
// coordinator set it: either way the others leave their barrier and the stretch rejects with one
// WorkerFailure naming the first real error.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { WasmBlas } from '../blas/loader.js';
import type { MemoryPlan } from './plan.js';
import type { StretchTask } from './step.js';
import { abortAll, Aborted, Slot, SPIN_MS, type ControlViews } from './control.js';
import { engineSetup, outcomeOf, resetControl, type Engine, type EngineOptions, type ProgressFn, type StretchOutcome } from './engine.js';
import type { Task, TaskResult, WorkerInit } from './protocol.js';

/**
 * The worker entry: engine/worker.js of the build (dist/src/engine/worker.js). BPTT_WORKER_FILE
 * replaces it (the fault-injection tests wrap the real entry in one that fails on purpose).
 */
function workerFile(): string {
  const override = process.env.BPTT_WORKER_FILE;
  if (override) return override;
  // dist/src/engine/pool.js -> its sibling worker.js; src/engine/pool.ts (tests) -> the same built file
  const candidates = ['./worker.js', '../../dist/src/engine/worker.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
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

/**
 * How often the coordinator wakes during a stretch to report progress and pass on a stop request
 * (ms). The workers do not wake it per minibatch (engine/step.ts publishDone says why).
 */
export const PROGRESS_MS = 100;

export class PoolEngine implements Engine {
  readonly workers: number;
  readonly blas: WasmBlas;
  readonly plan: MemoryPlan;
  readonly control: ControlViews;
  readonly maxStretch: number;
  private readonly pool: Piscina;
  private closed = false;

  constructor(opts: EngineOptions) {
    this.workers = opts.plan.workers;
    const s = engineSetup(opts, this.workers);
    this.blas = s.blas;
    this.plan = s.plan;
    this.control = s.control;
    this.maxStretch = s.maxStretch;
    const init: WorkerInit = {
      memory: s.memory, module: s.kernels.module, variant: s.kernels.variant, plan: s.plan.input,
      control: s.control.sab, controlShape: s.control.shape, corpus: s.corpus.buffer as SharedArrayBuffer,
      corpusByteOffset: s.corpus.byteOffset, corpusLength: s.corpus.length,
      // spinning only pays when every worker has a core of its own
      spinMs: this.workers <= availableParallelism() ? SPIN_MS : 0,
    };
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Infinity, // piscina's default lets idle workers exit between stretches
      concurrentTasksPerWorker: 1,
      workerData: init,
      // All N tasks of a stretch must run at once (they meet at barriers). N threads that never exit,
      // one task each, N tasks per stretch: every task finds an idle thread and none waits in the
      // queue. maxQueue 'auto' (N^2 queued tasks) is only a bound: a bug that queued more would be
      // rejected by piscina instead of deadlocking at a barrier.
      maxQueue: 'auto',
    });
  }

  async runStretch(task: StretchTask, onProgress?: ProgressFn): Promise<StretchOutcome> {
    if (this.closed) throw new Error('engine is closed');
    const t0 = performance.now();
    const { ctrl } = this.control;
    resetControl(this.control, task.k0);
    let failure: Error | null = null;
    const tasks = Array.from({ length: this.workers }, (_, worker) =>
      (this.pool.run({ kind: 'stretch', worker, ...task } satisfies Task) as Promise<TaskResult>).catch((err: Error) => {
        // the first real failure wins; the others are the Aborted it caused
        if (!failure || (failure instanceof Aborted && !(err instanceof Aborted))) failure = err;
        abortAll(ctrl);
        throw err;
      }));
    let settled = false;
    const all = Promise.allSettled(tasks).then(() => { settled = true; });
    let seen = task.k0;
    while (!settled) {
      // Atomics.waitAsync: sleep on the progress counter without blocking this thread's event loop
      const w = Atomics.waitAsync(ctrl, Slot.DONE, seen, PROGRESS_MS);
      // every turn yields to the event loop, even when the wait returned at once: the task
      // promises (and signal handlers) must be able to run, or this loop could spin forever
      await (w.async ? Promise.race([w.value, all]) : new Promise((resolve) => setImmediate(resolve)));
      const done = Atomics.load(ctrl, Slot.DONE);
      if (done !== seen) {
        // always advance `seen`: a wait on a stale value returns at once, and this loop would
        // then spin without ever letting the task promises settle
        seen = done;
        if (!failure) onProgress?.(done);
      }
    }
    if (failure) {
      const err = failure as Error;
      throw new WorkerFailure(`a worker thread failed: ${err.message}`);
    }
    const done = Atomics.load(ctrl, Slot.DONE);
    if (done !== seen) onProgress?.(done);
    return outcomeOf(this.control, task.k0, performance.now() - t0);
  }

  requestStop(): void {
    // Atomics.store: another thread reads it (engine/step.ts: at barrier B and at barrier C)
    Atomics.store(this.control.ctrl, Slot.STOP_REQUEST, 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}
