// The piscina worker entry: thin. It instantiates the kernels once on the shared memory it was
// given, recomputes the same memory plan as the coordinator, and runs the task's phase.
// BPTT_TEST_FAULT (tests only): "throw:STEP" throws and "exit:STEP" kills this thread during
// minibatch STEP, to prove the coordinator stops cleanly.

import { workerData } from 'node:worker_threads';
import { WasmBlas } from '../src/blas/loader.js';
import type { Task, TaskResult, WorkerInit } from '../src/parallel/protocol.js';
import { makePlan } from '../src/train/plan.js';
import { computeShard, reduceChunks, updateRange, type StepContext } from '../src/train/step.js';

const init = workerData as WorkerInit;
const blas = new WasmBlas({ variant: init.variant, module: init.module }, init.memory);
const plan = makePlan(init.plan);
const contexts: StepContext[] = plan.workspaces.map((ws) => ({ blas, plan, act: init.act, ws }));
const fault = /^(throw|exit):(\d+)$/.exec(process.env.BPTT_TEST_FAULT ?? '');

export default function run(task: Task): TaskResult {
  switch (task.kind) {
    case 'grad': {
      if (fault && Number(fault[2]) === task.step) {
        if (fault[1] === 'exit') process.exit(3);
        throw new Error(`injected fault at minibatch ${task.step}`);
      }
      const ctx = contexts[task.ws];
      const t0 = performance.now();
      const losses = task.shards.map((s) => computeShard(ctx, s, task.carry, task.gradScale));
      return { losses, computeMs: performance.now() - t0 };
    }
    case 'reduce':
      return { sums: reduceChunks(contexts[0], task.cLo, task.cHi, task.blocks) };
    case 'update':
      updateRange(contexts[0], task.lo, task.hi, task.scale, task.grad);
      return { done: true };
  }
}
