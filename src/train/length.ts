// How long a run trains, and what follows from it: the length (a time budget, an exact count of
// minibatches, or epochs: config/load.ts leaves one in charge by the precedence of their sources),
// the schedule's horizon, the time a budget keeps for its last evaluation, and what a resume may ask
// of a run that has already trained some of it.

import { parseDuration } from '../config/units.js';
import type { TrainConfig } from '../config/schema.js';
import type { TrainingState } from '../checkpoint/checkpoint.js';
import { formatDuration, plural } from '../util/format.js';

export type RunLength = { kind: 'time'; seconds: number } | { kind: 'minibatches'; n: number } | { kind: 'epochs'; n: number };

export function runLength(run: TrainConfig['run']): RunLength {
  if (run.time_budget !== null) return { kind: 'time', seconds: parseDuration(run.time_budget)! };
  if (run.minibatches !== null) return { kind: 'minibatches', n: run.minibatches };
  return { kind: 'epochs', n: run.epochs };
}

/** Minibatches the run trains, when its length says (null: a time budget, estimated as it goes). */
export function fixedHorizon(length: RunLength, perEpoch: number): number | null {
  return length.kind === 'epochs' ? length.n * perEpoch : length.kind === 'minibatches' ? length.n : null;
}

/** The time kept free at the end of a budget for the last evaluation and checkpoint, seconds. */
export function budgetReserveS(state: TrainingState, estimatedEvalS = 0): number {
  return (state.evalS ?? estimatedEvalS) * 1.25 + 0.5;
}

/** A time-budgeted run has used its budget (it stops training once what is left is the reserve). */
export function budgetSpent(state: TrainingState, budgetS: number): boolean {
  return state.elapsedS >= budgetS - budgetReserveS(state);
}

/**
 * What a resume with `length` means for a run at `state` (trained so far for `trainedFor.length`,
 * `completed` when its summary says it completed at this state): a length it has passed is refused
 * (`past`: the message), one it has reached exactly is a complete run (`complete`: where it stands
 * and the flag that would train further), unless a stop cut its last evaluation (that run trains
 * nothing more: it makes the evaluation and completes).
 */
export function resumeVerdict(state: TrainingState, length: RunLength, dir: string, trainedFor: { length: RunLength; completed: boolean }):
  { kind: 'past'; message: string } | { kind: 'complete'; now: string; next: string } | { kind: 'continue' } {
  const t = state;
  const pending = t.reportDue !== null;
  if (length.kind === 'epochs') {
    if (t.epoch > length.n || (t.epoch === length.n && t.minibatch > 0)) {
      const at = t.epoch + (t.minibatch > 0 ? 1 : 0);
      return { kind: 'past', message: `--epochs ${length.n}: ${dir} is already at epoch ${at}${t.minibatch > 0 ? ` (minibatch ${t.minibatch})` : ''}; give at least ${at} (nothing was changed)` };
    }
    if (t.epoch === length.n && !pending) {
      return { kind: 'complete', now: `${plural(t.epoch, 'epoch', 'epochs')}, run.epochs ${length.n}`, next: `--epochs ${t.epoch + Math.max(1, Math.round(t.epoch / 2))}` };
    }
  } else if (length.kind === 'minibatches') {
    if (t.step > length.n) return { kind: 'past', message: `run.minibatches ${length.n}: ${dir} has already trained ${t.step} (nothing was changed)` };
    if (t.step === length.n && !pending) {
      return { kind: 'complete', now: plural(t.step, 'minibatch', 'minibatches'), next: `--minibatches ${t.step + Math.max(1, Math.round(t.step / 2))}` };
    }
  } else {
    // a budget that would train again: past what is used by the reserve and a minute, in whole minutes
    const further = Math.ceil(Math.max(length.seconds * 1.5, t.elapsedS + budgetReserveS(t) + 60) / 60) * 60;
    const next = `--time ${formatDuration(further).replace(/^(\d+m)00s$/, '$1')}`;
    if (length.seconds < t.elapsedS) {
      return { kind: 'past', message: `--time ${formatDuration(length.seconds)}: ${dir} has already trained for ${formatDuration(t.elapsedS)}; give more, e.g. ${next} (nothing was changed)` };
    }
    // spent by the clock, or the run completed under this same budget (it may end at its horizon, the
    // rate's estimate, a hair before the clock says it is spent)
    const sameBudget = trainedFor.length.kind === 'time' && trainedFor.length.seconds === length.seconds;
    if ((budgetSpent(t, length.seconds) || (sameBudget && trainedFor.completed)) && !pending) {
      return { kind: 'complete', now: `${formatDuration(t.elapsedS)} of its ${formatDuration(length.seconds)} budget`, next };
    }
  }
  return { kind: 'continue' };
}
