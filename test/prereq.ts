// Tests that need something outside Node (a PyTorch, a browser): they skip on a machine without it,
// with a line saying so, except under CI=true, where .ci/run has installed it: there a missing
// prerequisite fails the run instead of letting it pass without those tests.
import { describe, it } from 'vitest';

export const IN_CI = process.env.CI === 'true';

/**
 * Runs `body` (a describe block's contents) when `available`; otherwise skips it with a warning,
 * or, under CI, declares one failing test that names what is missing and how .ci/run provides it.
 */
export function describeIfAvailable(name: string, available: boolean, missing: string, body: () => void): void {
  if (available) {
    describe(name, body);
    return;
  }
  if (IN_CI) {
    describe(name, () => it(`needs ${missing}`, () => {
      throw new Error(`CI=true and ${missing} is missing: .ci/run installs it; these tests must run in CI`);
    }));
    return;
  }
  console.warn(`SKIPPED: ${name}: ${missing} is not on this machine`);
  describe.skip(name, body);
}

/**
 * For tests written with it.skipIf / describe.skipIf: under CI, a missing prerequisite adds one
 * failing test naming it (the skipped ones then do not pass for run).
 */
export function failInCiWithout(what: string, available: boolean, missing: string): void {
  if (available) return;
  if (IN_CI) {
    it(`${what} needs ${missing}`, () => {
      throw new Error(`CI=true and ${missing} is missing: .ci/run installs it; these tests must run in CI`);
    });
  } else console.warn(`SKIPPED: ${what}: ${missing} is not on this machine`);
}

/** What the PyTorch tests need, as .ci/run installs it. */
export const TORCH_MISSING = "a python3 that imports torch (Debian's python3-torch)";
