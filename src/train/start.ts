// Where a run starts, placed in the engine's memory before the Trainer takes it: a resumed run's
// parameters, optimizer state and carried state from its checkpoint; a new run's parameters from
// another checkpoint (`init`) or drawn from the seed.

import type { TrainConfig } from '../config/schema.js';
import { loadOptimStateInto, loadParamsInto, type Checkpoint, type TrainingState } from '../checkpoint/checkpoint.js';
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
