// Long work on the coordinator thread (sampling, evaluation) is written as a generator that yields
// at natural steps (a character, a chunk). Run to its end it is a plain function; run in slices it
// returns to the event loop every few milliseconds, so a signal is handled within a slice (the
// first Ctrl-C stops it, the second quits at once) instead of after a minute of sampling.

export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to their end, synchronously. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** A slice of work between two turns of the event loop, ms. */
export const SLICE_MS = 50;

/** Runs the steps in slices of about SLICE_MS; null when `shouldStop()` turned true between slices. */
export async function runSliced<T>(steps: Steps<T>, shouldStop: () => boolean, now: () => number = () => performance.now()): Promise<T | null> {
  for (;;) {
    const t0 = now();
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (now() - t0 >= SLICE_MS) break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (shouldStop()) return null;
  }
}
