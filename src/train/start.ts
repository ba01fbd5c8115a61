// Where a run starts, placed in the engine's memory before the Trainer takes it: a resumed run's
// parameters, optimizer state and carried state from its checkpoint; a new run's parameters from
// another checkpoint (`init`) or drawn from the seed.

import type { TrainConfig } from '../config/schema.js';
import { existsSync } from 'node:fs';
import { loadCheckpoint, loadOptimStateInto, loadParamsInto, type Checkpoint, type TrainingState } from '../checkpoint/checkpoint.js';
import { isBetter } from './trainer.js';
import type { Engine } from '../engine/engine.js';
import { initParams } from '../model/params.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/** Places the start in the engine's memory; returns the training state a resume continues (null: a new run). */
export function placeStart(config: TrainConfig, engine: Engine, from: { resume?: Checkpoint; init?: Checkpoint } = {}): TrainingState | null {
  const heap = engine.blas.f;
  const plan = engine.plan;
  const { resume, init } = from;
  if (resume) {
    if (!resume.training) throw new InputError(`checkpoint ${resume.path}: has no training state to resume from`);
    loadParamsInto(resume, heap, plan.params);
    loadOptimStateInto(resume, config.optim.kind, heap, plan.optimState);
    if (resume.carriedState) heap.set(resume.carriedState, plan.state.offset);
    const state = { ...resume.training };
    // a checkpoint from before validation losses were kept: its best perplexity says the same
    if (state.bestValLoss === null && state.bestValPpl !== null) state.bestValLoss = Math.log(state.bestValPpl);
    return state;
  }
  if (init) {
    loadParamsInto(init, heap, plan.params);
  } else {
    const rng = new Rng(config.run.seed);
    initParams(plan.layout, heap, plan.params, () => rng.normal(), config.model.init_scale);
  }
  return null;
}

/**
 * A resumed run's best model may be newer than the checkpoint it continues (a crash after a better
 * evaluation, before the next checkpoint): best.safetensors then holds a lower validation loss than
 * the checkpoint's state knows. That best is honoured: its loss and step become the state's, so no
 * worse model replaces it. A best file that is unreadable or of another run is left out, with a warning.
 */
export function honourBestOnDisk(state: TrainingState, bestPath: string, resume: Checkpoint, warn: (msg: string) => void): void {
  if (!existsSync(bestPath)) return;
  let best: Checkpoint;
  try {
    best = loadCheckpoint(bestPath);
  } catch (err) {
    warn(`${bestPath}: unreadable (${(err as Error).message}); the best validation loss is the checkpoint's, and a better model will replace this file`);
    return;
  }
  const b = best.training;
  if (!b || best.configSha256 === null || !sameRun(best, resume)) {
    warn(`${bestPath}: not a best model of this run (another config or data); a better model of this run will replace it`);
    return;
  }
  if (b.bestValLoss === null || b.bestStep === null || !isBetter(b.bestValLoss, state.bestValLoss)) return;
  state.bestValLoss = b.bestValLoss;
  state.bestValPpl = Math.exp(b.bestValLoss);
  state.bestStep = b.bestStep;
}

/** Two checkpoints of one run: the same model, optimizer and data (the length and cadences may differ). */
function sameRun(a: Checkpoint, b: Checkpoint): boolean {
  return JSON.stringify(a.config.model) === JSON.stringify(b.config.model) && JSON.stringify(a.config.optim) === JSON.stringify(b.config.optim) &&
    a.data?.sha256 === b.data?.sha256;
}
