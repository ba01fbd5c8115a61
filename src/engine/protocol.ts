// What crosses the thread boundary. Buffers reach a worker once, in WorkerInit (workerData); a
// task carries a kind, the worker's index and scalars; a result is tagged by the same kind.

import type { KernelVariant } from '../blas/loader.js';
import type { StretchTask } from './step.js';
import type { PlanInput } from './plan.js';
import type { ControlShape } from './control.js';

export interface WorkerInit {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  variant: KernelVariant;
  plan: PlanInput;
  /** the control block (engine/control.ts) and its shape */
  control: SharedArrayBuffer;
  controlShape: ControlShape;
  /** the training corpus as int32 token ids: `corpusLength` of them from byte `corpusByteOffset` */
  corpus: SharedArrayBuffer;
  corpusByteOffset: number;
  corpusLength: number;
  /** barrier spin before sleeping, ms */
  spinMs: number;
}

/** run minibatches [k0, k1) of the schedule as worker `worker` */
export type Task = { kind: 'stretch'; worker: number } & StretchTask;

export type TaskResult = { kind: 'stretch'; worker: number };
