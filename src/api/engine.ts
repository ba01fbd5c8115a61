// The worker pool a run trains on, sized by run.workers (default: every core).

import { availableParallelism } from 'node:os';
import type { KernelPreference } from '../blas/loader.js';
import type { TrainConfig } from '../config/schema.js';
import type { Engine } from '../engine/engine.js';
import { PoolEngine } from '../engine/pool.js';
import { planInputOf } from '../engine/plan.js';
import type { PreparedData } from '../train/data.js';
import { evalRows } from '../train/evaluate.js';

/** More workers than cores: every barrier then waits for a thread that has no core (measured). */
export function workersWarning(workers: number): string {
  return `${workers} workers on ${availableParallelism()} cores: threads share cores and every step waits at its barriers for the ` +
    'descheduled ones (measured on 2 cores, quickstart: 16 workers ran at 45% and 64 at 24% of the speed of 2); use at most one worker per core';
}

/**
 * The worker pool, for every worker count: with 1 worker the step still runs on its own thread, so
 * this thread's event loop is free for signals and output (InlineEngine is for tests).
 */
export function createEngine(config: TrainConfig, data: PreparedData, kernels: KernelPreference, warn?: (msg: string) => void): Engine {
  const workers = config.run.workers ?? availableParallelism();
  if (workers > availableParallelism()) warn?.(workersWarning(workers));
  const plan = planInputOf(config, data.vocab.size, { workers, evalRows: evalRows(data.val?.length ?? 0, config.data.steps, config.data.batch) });
  return new PoolEngine({ plan, kernels, corpus: data.train });
}

