// What makes a run the same run: its resolved config, minus the keys a resume may change, and the
// exact training data. A checkpoint records both (config_sha256 over the whole resolved config,
// data_chars + data_sha256 over the prepared text); resume recomputes them and refuses a
// mismatch with a message that says what differs.

import { createHash } from 'node:crypto';
import { getPath, leafKeys } from '../config/load.js';
import type { TrainConfig } from '../config/schema.js';

/** Keys that `resume` may change: they extend or observe the run, never alter its trajectory. */
export const RESUMABLE_KEYS = [
  // data.path, data.val_path: a resume may read the same text from another place; its size and sha256 must match
  'data.path', 'data.val_path', 'run.epochs', 'run.time_budget', 'run.minibatches', 'run.workers', 'run.eval_every', 'run.sample_every', 'run.checkpoint_every', 'run.out', 'run.sample_length', 'run.sample_prefixes',
] as const;

/**
 * sha256 of the config exactly as a checkpoint stores it (its JSON text): the hash of what was
 * written, so a config key added in a later version cannot make an old checkpoint look edited.
 */
export function configHash(configJson: string): string {
  return createHash('sha256').update(configJson, 'utf8').digest('hex');
}

/** "key: a -> b" for every leaf that differs, optionally skipping the resumable keys. */
export function configDiff(a: TrainConfig, b: TrainConfig, skipResumable: boolean): string[] {
  const skip = new Set<string>(skipResumable ? RESUMABLE_KEYS : []);
  return leafKeys().filter((k) => !skip.has(k) && JSON.stringify(getPath(a, k)) !== JSON.stringify(getPath(b, k)))
    .map((k) => `${k}: ${JSON.stringify(getPath(a, k))} -> ${JSON.stringify(getPath(b, k))}`);
}

export interface DataFingerprint {
  /** characters (code points) of the prepared text */
  chars: number;
  /** sha256 of the prepared text, UTF-8 */
  sha256: string;
  /** the file it was read from, absolute (a resume from another directory finds it there) */
  path?: string;
}

/** Fingerprint of the prepared text given as code points (hashed as UTF-8, in slices). */
export function fingerprintCodePoints(cps: Int32Array): DataFingerprint {
  const h = createHash('sha256');
  const SLICE = 1 << 14;
  for (let k = 0; k < cps.length; k += SLICE) h.update(String.fromCodePoint(...cps.subarray(k, k + SLICE)), 'utf8');
  return { chars: cps.length, sha256: h.digest('hex') };
}
