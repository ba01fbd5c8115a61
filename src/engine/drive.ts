// Driving a stretch, written once. The trainer, the scaling benchmark and the profiler all fill the
// control block the same way (each minibatch's row starts from a sampler, each minibatch's
// learning rate) and run the stretch on an engine; only what they do with the results differs.

import type { Sampler } from '../data/samplers.js';
import type { Engine, ProgressFn, StretchOutcome } from './engine.js';
import type { StretchTask } from './step.js';

export interface StretchDrive {
  /** where the rows come from */
  sampler: Pick<Sampler, 'starts'>;
  /** minibatches in the stretch (at most engine.maxStretch) */
  count: number;
  /** the sampler's minibatch index of the stretch's k-th minibatch */
  minibatch(k: number): number;
  /** the learning rate of the stretch's k-th minibatch (written to control.lrs[k]) */
  lr(k: number): number;
  /** the stretch's scalars: carry, gradient scale, clip threshold, optimizer, global step before it */
  task: Omit<StretchTask, 'k0' | 'k1' | 'lr'>;
}

/** Writes the stretch's schedule and rates into the control block, then runs minibatches [0, count). */
export function driveStretch(engine: Engine, d: StretchDrive, onProgress?: ProgressFn): Promise<StretchOutcome> {
  if (d.count < 1 || d.count > engine.maxStretch) throw new RangeError(`a stretch holds 1..${engine.maxStretch} minibatches, not ${d.count}`);
  const { schedule, lrs } = engine.control;
  const { B } = engine.plan.input;
  for (let k = 0; k < d.count; k++) {
    d.sampler.starts(d.minibatch(k), schedule, k * B);
    lrs[k] = d.lr(k);
  }
  return engine.runStretch({ ...d.task, k0: 0, k1: d.count }, onProgress);
}
