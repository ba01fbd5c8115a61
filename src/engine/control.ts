// The control block: what the coordinator and the workers share besides the wasm memory, in one
// SharedArrayBuffer laid out from one size table (so no slot can overlap another):
//
//   ctrl    Int32 [CTRL_SLOTS]            barrier, flags, progress counter (named slots below)
//   shardLoss   Float64 [numShards]       summed loss of each shard in the current minibatch
//   chunkSumsq  Float64 [numChunks]       each norm chunk's sum of squares in the current minibatch
//   results     Float64 [maxStretch, 4]   per minibatch of the stretch: loss, norm, clip factor, scale
//   timing      Float64 [workers, PHASES] per worker, ms spent in each phase over the stretch
//   computeNow  Float64 [workers]         each worker's forward+BPTT ms in the current minibatch
//   critical    Float64 [1]               sum over the stretch of the slowest worker's BPTT ms
//   schedule    Int32   [maxStretch, B]   per minibatch of the stretch: each row's start offset
//                                         in the training corpus (the sampler's whole output)
//   lrs         Float64 [maxStretch]      per minibatch of the stretch: its learning rate (the
//                                         schedule runs by minibatch, so it may change every step)
//
// Every value that feeds the parameters (losses, chunk sums) sits in a FIXED slot and is summed in
// slot order by one thread, never in arrival order: that keeps runs bitwise reproducible.

/** Int32 slots of `ctrl` (plain constants, not enums: the tests run the sources through esbuild). */
export const Slot = {
  /** threads that have arrived at the current barrier */
  BARRIER_COUNT: 0,
  /** bumped each time a barrier opens; waiters sleep on it */
  BARRIER_GEN: 1,
  /** non-zero: a thread failed or the coordinator gave up; every wait throws Aborted */
  ABORT: 2,
  /** set by the coordinator (signal, budget, stop request); read in the serial sections of barrier B
   *  (the norm) and barrier C (done): the stretch ends after the minibatch in flight */
  STOP_REQUEST: 3,
  /** minibatches of the stretch completed (parameters updated); the coordinator waits on it */
  DONE: 4,
  /** how the stretch ended so far: a StretchStatus */
  STATUS: 5,
  /** minibatch index (in the stretch) after which every worker leaves: -1 none */
  LAST: 6,
} as const;
const CTRL_SLOTS = 8;

export const StretchStatus = {
  RUNNING: 0,
  /** non-finite loss or norm at minibatch LAST; its update was NOT applied */
  DIVERGED: 1,
} as const;

/** Float64 fields of one `results` row. */
export const Result = { LOSS: 0, NORM: 1, FACTOR: 2 } as const;
export const RESULT_FIELDS = Object.keys(Result).length;

/** Phases a worker's time is booked under (bench's breakdown), and their column in `timing`. */
export const PHASES = ['gather', 'compute', 'reduce', 'update', 'wait'] as const;
export type Phase = (typeof PHASES)[number];
export const PhaseIndex = { GATHER: 0, COMPUTE: 1, REDUCE: 2, UPDATE: 3, WAIT: 4 } as const;

export interface ControlShape {
  workers: number;
  numShards: number;
  numChunks: number;
  /** batch rows B */
  B: number;
  /** most minibatches one stretch may hold */
  maxStretch: number;
}

export interface ControlViews {
  shape: ControlShape;
  sab: SharedArrayBuffer;
  ctrl: Int32Array;
  shardLoss: Float64Array;
  chunkSumsq: Float64Array;
  results: Float64Array;
  timing: Float64Array;
  computeNow: Float64Array;
  critical: Float64Array;
  schedule: Int32Array;
  lrs: Float64Array;
}

type Field = { name: Exclude<keyof ControlViews, 'shape' | 'sab'>; kind: 'i32' | 'f64'; count: number };

function fields(s: ControlShape): Field[] {
  return [
    { name: 'ctrl', kind: 'i32', count: CTRL_SLOTS },
    { name: 'shardLoss', kind: 'f64', count: s.numShards },
    { name: 'chunkSumsq', kind: 'f64', count: s.numChunks },
    { name: 'results', kind: 'f64', count: s.maxStretch * RESULT_FIELDS },
    { name: 'timing', kind: 'f64', count: s.workers * PHASES.length },
    { name: 'computeNow', kind: 'f64', count: s.workers },
    { name: 'critical', kind: 'f64', count: 1 },
    { name: 'schedule', kind: 'i32', count: s.maxStretch * s.B },
    { name: 'lrs', kind: 'f64', count: s.maxStretch },
  ];
}

/** Views over `sab` (or a new buffer of the right size): offsets come from the same table that sizes it. */
export function controlViews(shape: ControlShape, sab?: SharedArrayBuffer): ControlViews {
  // each field starts on a 64-byte line: the ctrl slots threads spin on share no line with data
  const place = (bytes: number) => Math.ceil(bytes / 64) * 64;
  let bytes = 0;
  const offsets = fields(shape).map((f) => {
    const at = bytes;
    bytes = place(at + f.count * (f.kind === 'i32' ? 4 : 8));
    return at;
  });
  const buf = sab ?? new SharedArrayBuffer(bytes);
  if (buf.byteLength !== bytes) throw new Error(`control block is ${buf.byteLength} bytes, its layout needs ${bytes}`);
  const v = { shape, sab: buf } as ControlViews;
  fields(shape).forEach((f, k) => {
    (v as unknown as Record<string, Int32Array | Float64Array>)[f.name] =
      f.kind === 'i32' ? new Int32Array(buf, offsets[k], f.count) : new Float64Array(buf, offsets[k], f.count);
  });
  return v;
}

/** Raised in a worker whose wait was ended by the abort flag (another thread failed). */
export class Aborted extends Error {
  constructor() {
    super('aborted: another thread failed');
    this.name = 'Aborted';
  }
}

/**
 * Spin this long before sleeping (ms). A sleeper's wake-up (futex, 50-200 µs on a VM) lands on the
 * step's critical path: the thread that opened the barrier goes on and soon waits for the sleeper
 * at the next one. Measured on 2 cores (quickstart, 2 workers): 4,000 spins (~10 µs) left 4% of
 * the step outside BPTT, mostly wake-ups; spinning up to 2 ms removes them. Waits longer than
 * that (a worker descheduled) sleep and cost no CPU. With more workers than cores, spinning burns
 * the core the awaited thread needs (measured: 8 workers on 2 cores ran at a quarter of the speed
 * of 2 with spinning), so the pool passes spinMs = 0 there.
 */
export const SPIN_MS = 2;
/** Sleeps are cut into slices so the abort flag is seen even if a notify is lost. */
const WAIT_SLICE_MS = 50;

/**
 * A reusable barrier over the ctrl slots, for `parties` threads. The last thread to arrive runs
 * `serial` (alone, with every other thread parked) before opening it, so a value it publishes is
 * seen by all after the barrier. Returns the ms spent waiting.
 */
export function barrier(ctrl: Int32Array, parties: number, serial?: () => void, spinMs = SPIN_MS): number {
  // Atomics.load: the generation must be read before arriving, or a fast opener could be missed.
  const gen = Atomics.load(ctrl, Slot.BARRIER_GEN);
  // Atomics.add: arrival is a read-modify-write; its return value elects the last thread.
  if (Atomics.add(ctrl, Slot.BARRIER_COUNT, 1) === parties - 1) {
    serial?.();
    Atomics.store(ctrl, Slot.BARRIER_COUNT, 0);
    // Atomics.add then notify: the new generation releases spinners; notify wakes sleepers.
    Atomics.add(ctrl, Slot.BARRIER_GEN, 1);
    Atomics.notify(ctrl, Slot.BARRIER_GEN);
    return 0;
  }
  const t0 = performance.now();
  let open = false;
  for (let k = 1; !open; k++) {
    open = Atomics.load(ctrl, Slot.BARRIER_GEN) !== gen;
    if ((k & 255) === 0 && performance.now() - t0 > spinMs) break;
  }
  while (!open) {
    if (Atomics.load(ctrl, Slot.ABORT) !== 0) throw new Aborted();
    // Atomics.wait: sleep until the generation moves (returns at once if it already has).
    Atomics.wait(ctrl, Slot.BARRIER_GEN, gen, WAIT_SLICE_MS);
    open = Atomics.load(ctrl, Slot.BARRIER_GEN) !== gen;
  }
  return performance.now() - t0;
}

/** Throws Aborted if another thread has failed (checked after every barrier). */
export function checkAbort(ctrl: Int32Array): void {
  if (Atomics.load(ctrl, Slot.ABORT) !== 0) throw new Aborted();
}

/** Sets the abort flag and wakes every sleeper (a thread failed, or the coordinator gives up). */
export function abortAll(ctrl: Int32Array): void {
  Atomics.store(ctrl, Slot.ABORT, 1);
  // Atomics.notify: sleepers re-check the flag at once instead of at the end of their slice.
  Atomics.notify(ctrl, Slot.BARRIER_GEN);
  Atomics.notify(ctrl, Slot.DONE);
}
