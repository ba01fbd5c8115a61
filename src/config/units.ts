// Units a config file may write in words: durations ("90s", "10m", "1h30m") for time budgets and
// cadences ("2 epochs", "500 minibatches", "60s", "auto") for evaluation, samples and checkpoints.
// Parsing is pure; the schema validates with these same functions, so a value that passed
// validation always parses.

/** Seconds in one unit of a duration. */
const SECONDS = { h: 3600, m: 60, s: 1 } as const;
const DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/;

/** "90s" | "10m" | "1h30m" | "2.5m" | a number of seconds -> seconds (> 0), or null if not a duration. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : null;
  const m = DURATION.exec(value.trim());
  if (!m || value.trim() === '' || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) return null;
  const s = (Number(m[1] ?? 0) * SECONDS.h) + (Number(m[2] ?? 0) * SECONDS.m) + (Number(m[3] ?? 0) * SECONDS.s);
  return s > 0 ? s : null;
}

export type Cadence =
  | { unit: 'never' }
  /** every n epochs (a number in a config file means epochs, as it always did) */
  | { unit: 'epoch'; n: number }
  | { unit: 'minibatch'; n: number }
  | { unit: 'second'; n: number }
  /** evaluation only: as often as keeps it under AUTO_EVAL_SHARE of the run's time */
  | { unit: 'auto' };

/** run.eval_every: auto keeps evaluation at most this share of the run's time (train/cadences.ts). */
export const AUTO_EVAL_SHARE = 0.05;
/** eval_every auto gives a run at least this many evaluations (the last one included): a curve, not a
 *  dot. When the whole validation tail costs too much for that, each evaluation reads the same
 *  subset of it (train/cadences.ts autoEvalPlan). */
export const AUTO_EVAL_MIN_EVALS = 5;

const EVERY = /^(\d+)\s*(epochs?|minibatch(?:es)?|mb)$/;

/**
 * A cadence: 0 (never, or only at the end), N (epochs), "N epochs", "N minibatches", a duration
 * ("60s", "5m"), or "auto". Returns null when the value is none of these.
 */
export function parseCadence(value: string | number): Cadence | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? (value === 0 ? { unit: 'never' } : { unit: 'epoch', n: value }) : null;
  const v = value.trim().toLowerCase();
  if (v === 'auto') return { unit: 'auto' };
  const m = EVERY.exec(v);
  if (m) {
    const n = Number(m[1]);
    if (n === 0) return { unit: 'never' };
    return m[2].startsWith('epoch') ? { unit: 'epoch', n } : { unit: 'minibatch', n };
  }
  const s = parseDuration(v);
  return s === null ? null : { unit: 'second', n: s };
}

/** How a cadence reads in messages: "every 2 epochs", "every 60 s", "never". */
export function describeCadence(c: Cadence): string {
  switch (c.unit) {
    case 'never': return 'never';
    case 'auto': return 'auto';
    case 'epoch': return `every ${c.n} epoch${c.n === 1 ? '' : 's'}`;
    case 'minibatch': return `every ${c.n} minibatch${c.n === 1 ? '' : 'es'}`;
    case 'second': return `every ${c.n} s`;
  }
}
