// The piscina worker entry: thin. It instantiates the kernels once on the shared memory it was
// given, recomputes the same memory plan as the coordinator, and runs stretches of the training
// step (engine/step.ts). A failure sets the abort flag first, so no other thread waits forever at
// a barrier for this one.

import { workerData } from 'node:worker_threads';
import { WasmBlas } from '../blas/loader.js';
import { abortAll, Aborted, controlViews } from './control.js';
import type { Task, TaskResult, WorkerInit } from './protocol.js';
import { makePlan } from './plan.js';
import { runStretch, type WorkerContext } from './step.js';

const init = workerData as WorkerInit;
const blas = new WasmBlas({ variant: init.variant, module: init.module }, init.memory);
const plan = makePlan(init.plan);
const control = controlViews(init.controlShape, init.control);
const corpus = new Int32Array(init.corpus, init.corpusByteOffset, init.corpusLength);

export default function run(task: Task): TaskResult {
  const ctx: WorkerContext = { blas, plan, ws: plan.workspaces[task.worker], worker: task.worker, control, corpus, spinMs: init.spinMs };
  try {
    runStretch(ctx, task);
  } catch (err) {
    if (!(err instanceof Aborted)) abortAll(control.ctrl);
    throw err;
  }
  return { kind: 'stretch', worker: task.worker };
}
