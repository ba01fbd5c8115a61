// The memory plan of a run: where everything lives in the ONE shared wasm memory. A pure function
// of the run's shapes, so the coordinator and every worker compute the same offsets from the same
// small PlanInput (only that and the memory itself reach a worker). Sized once, never grown.
//
//   [reserved low 64 KiB: the wasm module's own tables]
//   params                        (numParams)
//   grad blocks, one per shard    (numShards x numParams): each shard's rows accumulate here
//   optimizer state               (optimSlots x numParams): momentum's velocity, Adam's m and v
//   carried state                 consecutive sampling: the state table (model/state.ts), row b's
//                                 final state of every layer, read as row b's initial state
//   workspaces, one per worker    the rows' token ids and activation caches for up to rowsPerTask rows
//   eval workspace, sampling workspace   (coordinator thread only)
//
// Shards: in the default mode shard w is worker w's balanced row range (a range may be empty when
// B < workers). With `deterministic`, shards are fixed runs of DETERMINISTIC_SHARD_ROWS rows,
// independent of the worker count, each with its own gradient block, reduced in shard order: the
// summed gradient is then bitwise the same for any number of workers.
//
// The minibatch itself is not here: the control block (engine/control.ts) holds each row's start
// offset, and every worker gathers its rows' tokens from the shared corpus into its workspace.
// Sizes come from the allocations themselves (an unbounded Arena), never from a second formula.
import { RESERVED_LOW_BYTES } from '../blas/types.js';
import type { TrainConfig } from '../config/schema.js';
import { modelOf, type ModelDesc } from '../model/desc.js';
import { allocModelWorkspace, type Workspace } from '../model/model.js';
import { stateTableOf, type StateTable } from '../model/state.js';
import { offsetsAt, paramLayout, type ParamLayout, type TensorOffsets } from '../model/params.js';
import { Arena } from '../util/arena.js';
import { optimSlots } from '../optim/optimizers.js';

export const DETERMINISTIC_SHARD_ROWS = 4;
/** Gradient norms are summed over fixed chunks so the result never depends on how slices are cut. */
export const NORM_CHUNK_ELEMS = 16384;

export interface PlanInput {
  /** the model trained (modelOf: the config's, one description for everything) */
  model: ModelDesc;
  /** time steps per row */
  T: number;
  /** rows per minibatch */
  B: number;
  workers: number;
  deterministic: boolean;
  /** validation rows (0: no eval workspace) */
  evalRows: number;
  /** optimizer state blocks of numParams each: 0 sgd, 1 momentum (velocity), 2 adam (m, v) */
  optimSlots: number;
  /** run.seed: the dropout masks' key */
  seed: number;
}

/**
 * The one way from a validated config to a plan input (every caller, tests included, goes through
 * here, so no plan can silently miss the cell, depth or dropout). `at` is what the config does not
 * say: the thread count, the validation rows, and (bench) a deterministic mode other than the run's.
 */
export function planInputOf(config: TrainConfig, V: number, at: { workers: number; evalRows?: number; deterministic?: boolean }): PlanInput {
  return {
    model: modelOf(V, config.model), T: config.data.steps, B: config.data.batch, workers: at.workers,
    deterministic: at.deterministic ?? config.run.deterministic, evalRows: at.evalRows ?? 0,
    optimSlots: optimSlots(config.optim.kind).length, seed: config.run.seed,
  };
}

export interface RowRange {
  lo: number;
  hi: number;
}

export interface MemoryPlan {
  input: PlanInput;
  layout: ParamLayout;
  numParams: number;
  params: number;
  P: TensorOffsets;
  shards: RowRange[];
  gradBlocks: number[];
  /** tensor offsets inside each shard's gradient block */
  gradOffsets: TensorOffsets[];
  /** blocks of non-empty shards, in the fixed reduction order; the sum lands in the first */
  activeBlocks: number[];
  /** optimizer state, same layout as params (optimSlots blocks) */
  optimState: number[];
  /** shard indices each worker runs, in order */
  shardsOfWorker: number[][];
  /** norm chunks each worker reduces */
  chunksOfWorker: RowRange[];
  /** parameter range each worker updates (16-element boundaries: no two threads write one cache line) */
  paramsOfWorker: RowRange[];
  /** the carried-state table (consecutive sampling) */
  state: StateTable;
  workspaces: Workspace[];
  evalWs: Workspace | null;
  sampleWs: Workspace;
  numChunks: number;
  totalBytes: number;
}

export function balancedRanges(B: number, parts: number): RowRange[] {
  return Array.from({ length: parts }, (_, w) => ({ lo: Math.floor((w * B) / parts), hi: Math.floor(((w + 1) * B) / parts) }));
}

export function makePlan(input: PlanInput): MemoryPlan {
  const { model, T, B, workers, deterministic, evalRows } = input;
  const { V, H } = model;
  const layout = paramLayout(model);
  const numParams = layout.numParams;
  let shards: RowRange[];
  let shardsOfWorker: number[][];
  if (deterministic) {
    shards = [];
    for (let lo = 0; lo < B; lo += DETERMINISTIC_SHARD_ROWS) shards.push({ lo, hi: Math.min(B, lo + DETERMINISTIC_SHARD_ROWS) });
    // contiguous runs of shards per worker, balanced by count
    shardsOfWorker = balancedRanges(shards.length, workers).map(({ lo, hi }) => Array.from({ length: hi - lo }, (_, k) => lo + k));
  } else {
    shards = balancedRanges(B, workers);
    shardsOfWorker = shards.map((_, w) => [w]);
  }
  const rowsPerTask = Math.max(1, ...shards.map((s) => s.hi - s.lo));
  const taskShape = { V, H, T, B: rowsPerTask };
  const evalShape = { V, H, T, B: Math.max(1, evalRows) };
  const sampleShape = { V, H, T: 1, B: 1 };
  const base = RESERVED_LOW_BYTES / 4;
  const arena = new Arena(base);
  const params = arena.alloc(numParams);
  const gradBlocks = shards.map(() => arena.alloc(numParams));
  const optimState = Array.from({ length: input.optimSlots }, () => arena.alloc(numParams));
  const stateSize = stateTableOf(model, B, 0).size;
  const state = stateTableOf(model, B, arena.alloc(stateSize));
  const workspaces = Array.from({ length: workers }, () => allocModelWorkspace(arena, model, taskShape, true));
  // evaluation and sampling never drop out: no dropout buffers
  const evalWs = evalRows > 0 ? allocModelWorkspace(arena, { ...model, dropout: 0 }, evalShape, true) : null;
  const sampleWs = allocModelWorkspace(arena, { ...model, dropout: 0 }, sampleShape, false);
  const numChunks = Math.ceil(numParams / NORM_CHUNK_ELEMS);
  return {
    input, layout, numParams, params, P: offsetsAt(layout, params), shards, gradBlocks, optimState, shardsOfWorker,
    chunksOfWorker: balancedRanges(numChunks, workers),
    paramsOfWorker: balancedRanges(numParams / 16, workers).map(({ lo, hi }) => ({ lo: lo * 16, hi: hi * 16 })),
    gradOffsets: gradBlocks.map((g) => offsetsAt(layout, g)),
    activeBlocks: gradBlocks.filter((_, k) => shards[k].hi > shards[k].lo),
    state, workspaces, evalWs, sampleWs, numChunks,
    totalBytes: arena.end * 4,
  };
}
