// The memory plan on its own (engine/plan.ts): every region in its place and no two overlapping,
// the rows and the work split without gap or overlap, the carried-state table as the plan says, and
// a plan too large for WebAssembly refused with a message before anything is written.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESERVED_LOW_BYTES } from '../src/blas/types.js';
import { DETERMINISTIC_SHARD_ROWS, makePlan, NORM_CHUNK_ELEMS, type MemoryPlan, type PlanInput, type RowRange } from '../src/engine/plan.js';
import type { Workspace } from '../src/model/model.js';
import { bptt } from './cli_helpers.js';
import { desc } from './helpers.js';

const input = (over: Partial<PlanInput> = {}): PlanInput => ({
  model: desc({ cell: 'lstm', act: 'tanh', layers: 2, dropout: 0.2 }, { V: 65, H: 48 }),
  T: 12, B: 10, workers: 3, deterministic: false, evalRows: 7, optimSlots: 2, seed: 0, ...over,
});

/** Every offset a workspace holds (its buffers' starts), in elements. */
function offsetsOf(ws: Workspace): number[] {
  const out = [ws.x, ws.y, ws.logits, ...(ws.pack === null ? [] : [ws.pack])];
  for (const lw of ws.layers) for (const v of Object.values(lw)) if (typeof v === 'number') out.push(v);
  return out;
}

/** [lo, hi) ranges that cover [0, n) in order, each starting where the previous ended. */
function expectTiling(ranges: RowRange[], n: number): void {
  let at = 0;
  for (const r of ranges) {
    expect(r.lo).toBe(at);
    expect(r.hi).toBeGreaterThanOrEqual(r.lo);
    at = r.hi;
  }
  expect(at).toBe(n);
}

function expectRegionsDisjoint(plan: MemoryPlan): void {
  const n = plan.numParams;
  const regions: Array<[string, number, number]> = [
    ['params', plan.params, plan.params + n],
    ...plan.gradBlocks.map((g, k): [string, number, number] => [`grad ${k}`, g, g + n]),
    ...plan.optimState.map((o, k): [string, number, number] => [`optim ${k}`, o, o + n]),
    ['state', plan.state.offset, plan.state.offset + plan.state.size],
  ];
  regions.sort((a, b) => a[1] - b[1]);
  expect(regions[0][1]).toBeGreaterThanOrEqual(RESERVED_LOW_BYTES / 4);
  for (let k = 1; k < regions.length; k++) expect(regions[k][1], `${regions[k][0]} after ${regions[k - 1][0]}`).toBeGreaterThanOrEqual(regions[k - 1][2]);
  // the workspaces come after, each after the one before, all inside the memory
  const end = regions.at(-1)![2];
  const spaces = [...plan.workspaces, ...(plan.evalWs ? [plan.evalWs] : []), plan.sampleWs];
  let floor = end;
  for (const ws of spaces) {
    const offs = offsetsOf(ws);
    expect(Math.min(...offs)).toBeGreaterThanOrEqual(floor);
    floor = Math.max(...offs) + 1;
  }
  expect(plan.totalBytes / 4).toBeGreaterThan(floor);
}

describe('makePlan', () => {
  it('places params, gradient blocks, optimizer state, the state table and the workspaces without overlap', () => {
    const plan = makePlan(input());
    expect(plan.gradBlocks).toHaveLength(3);
    expect(plan.optimState).toHaveLength(2);
    expect(plan.numParams % 16).toBe(0);
    expectRegionsDisjoint(plan);
    expect(plan.workspaces).toHaveLength(3);
    expect(plan.evalWs!.shape).toMatchObject({ B: 7, T: 12 });
    expect(plan.sampleWs.shape).toMatchObject({ B: 1, T: 1 });
    // dropout buffers in training workspaces only (layer 2 reads layer 1 through a mask)
    expect(plan.workspaces[0].layers[1].xDrop).toBeDefined();
    expect(plan.evalWs!.layers[1].xDrop).toBeUndefined();
  });

  it('splits rows, norm chunks and the update range without gap or overlap', () => {
    const plan = makePlan(input({ B: 10, workers: 3 }));
    expectTiling(plan.shards, 10);
    expect(plan.shards.map((s) => s.hi - s.lo)).toEqual([3, 3, 4]);
    expect(plan.shardsOfWorker).toEqual([[0], [1], [2]]);
    expect(plan.numChunks).toBe(Math.ceil(plan.numParams / NORM_CHUNK_ELEMS));
    expectTiling(plan.chunksOfWorker, plan.numChunks);
    expectTiling(plan.paramsOfWorker, plan.numParams);
    // no two threads update one cache line
    for (const r of plan.paramsOfWorker) expect(r.lo % 16).toBe(0);
    expect(plan.activeBlocks).toEqual(plan.gradBlocks);
  });

  it('deterministic: fixed 4-row shards whatever the worker count, each with its own block', () => {
    const a = makePlan(input({ deterministic: true, B: 10, workers: 2 }));
    const b = makePlan(input({ deterministic: true, B: 10, workers: 3 }));
    expect(a.shards).toEqual(b.shards);
    expect(a.shards.map((s) => s.hi - s.lo)).toEqual([DETERMINISTIC_SHARD_ROWS, DETERMINISTIC_SHARD_ROWS, 2]);
    expect(a.gradBlocks).toHaveLength(3);
    expect(a.shardsOfWorker.flat()).toEqual([0, 1, 2]);
    expect(b.shardsOfWorker.flat()).toEqual([0, 1, 2]);
    expectRegionsDisjoint(b);
  });

  it('more workers than rows: the extra shards are empty and their blocks are left out of the reduction', () => {
    const plan = makePlan(input({ B: 2, workers: 3 }));
    expect(plan.shards.map((s) => s.hi - s.lo)).toEqual([0, 1, 1]);
    expect(plan.activeBlocks).toEqual(plan.gradBlocks.slice(1));
  });

  it('the state table: h of every layer, then c, B rows of H each', () => {
    const plan = makePlan(input());
    const { state } = plan;
    expect(state.names).toEqual(['h', 'c']);
    expect(state.size).toBe(2 * 2 * 10 * 48);
    expect(state.at(0, 0, 0)).toBe(state.offset);
    expect(state.at(1, 0, 0)).toBe(state.offset + state.partSize);
    expect(state.at(0, 1, 3)).toBe(state.offset + (10 + 3) * 48);
    const rnn = makePlan(input({ model: desc({ cell: 'rnn', act: 'tanh' }, { V: 65, H: 48 }) }));
    expect([rnn.state.names, rnn.state.size]).toEqual([['h'], 10 * 48]);
  });
});

it('a run that needs more than WebAssembly\'s 4 GiB says so and what to lower, and writes nothing', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bptt-plan-')), 'run');
  const r = bptt(['train', '--builtin', 'counting', '--cell', 'lstm', '--hidden', '8192', '--layers', '2', '--optimizer', 'adam', '--out', out]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^bptt: error: the run needs \d+\.\d\d GiB of kernel memory and WebAssembly allows 4 GiB: use fewer workers .* model\.layers\n$/);
  expect(existsSync(out)).toBe(false);
});
