// The run's pace: its wall clock, the training rate measured in this process, the schedule's
// horizon (for a time budget, estimated from that rate and re-estimated as it goes), and when the
// run has reached its length. One object per Trainer.run, over the run's training state.

import type { TrainingState } from '../checkpoint/checkpoint.js';
import { budgetReserveS, fixedHorizon, type RunLength } from './length.js';

/** A time budget's horizon estimate is kept until a new one differs by more than this fraction. */
const HORIZON_SLACK = 0.002;

/** The horizon of a run at `state`: fixed by its length, or a budget's latest estimate (Infinity before the first). */
export function horizonOf(length: RunLength, perEpoch: number, state: TrainingState): number {
  return fixedHorizon(length, perEpoch) ?? state.horizon ?? Infinity;
}

export class Pace {
  /** seconds of stretch time and minibatches trained by this process: the rate */
  private trainedS = 0;
  private trainedSteps = 0;
  /** the clock's reading when the run (not this process) started */
  private readonly t0: number;
  readonly budgetS: number;

  /** `probedEvalS`: the first evaluation's cost, estimated before any (the budget's reserve until one is timed) */
  constructor(readonly length: RunLength, private readonly perEpoch: number, private readonly state: TrainingState,
    private readonly clock: () => number, readonly probedEvalS: number) {
    this.t0 = clock() - state.elapsedS;
    this.budgetS = length.kind === 'time' ? length.seconds : Infinity;
  }

  /** run time, seconds (this process and those before it) */
  elapsed(): number {
    return this.clock() - this.t0;
  }

  /** after a stretch: its training seconds and minibatches */
  book(seconds: number, minibatches: number): void {
    this.trainedS += seconds;
    this.trainedSteps += minibatches;
  }

  /** minibatches per second of training in this process (null before the first stretch) */
  rate(): number | null {
    return this.trainedSteps > 0 && this.trainedS > 0 ? this.trainedSteps / this.trainedS : null;
  }

  reserveS(): number {
    return budgetReserveS(this.state, this.probedEvalS);
  }

  horizon(): number {
    return horizonOf(this.length, this.perEpoch, this.state);
  }

  /** A time budget's horizon from the rate: moved only when off by more than HORIZON_SLACK, so the
   *  schedule does not jitter with timing noise and a resumed run keeps its checkpoint's horizon. */
  estimateHorizon(): void {
    const r = this.rate();
    if (this.length.kind !== 'time' || r === null) return;
    const state = this.state;
    const next = state.step + Math.max(0, Math.floor(r * (this.budgetS - this.reserveS() - this.elapsed())));
    if (state.horizon === null || Math.abs(next - state.horizon) > Math.max(1, HORIZON_SLACK * state.horizon)) state.horizon = next;
  }

  /** a budget's training time is over (what is left is the reserve) */
  timeUp(): boolean {
    return this.length.kind === 'time' && this.elapsed() >= this.budgetS - this.reserveS();
  }

  ended(): boolean {
    return this.state.step >= this.horizon() || this.timeUp();
  }

  /** the run's whole length in seconds, as far as it is known */
  runS(): number {
    const r = this.rate();
    return this.length.kind === 'time' ? this.budgetS : r === null ? Infinity : this.horizon() / r;
  }

  /** seconds until the run ends (estimated) */
  etaS(): number {
    const r = this.rate();
    return this.length.kind === 'time' ? this.budgetS - this.elapsed() : r === null ? Infinity : (this.horizon() - this.state.step) / r;
  }
}
