// `bptt resume DIR` (and `train --resume`): find the run's checkpoint, check it against the
// directory's config.yaml, apply only the changes a resume may make, refuse a length the run has
// passed, say so when it is complete, and otherwise continue it through trainCommand.

import { existsSync } from 'node:fs';
import type { KernelPreference } from '../blas/loader.js';
import { getPath, leafKeys, resolveConfig, type Override } from '../config/load.js';
import { runLength, storedConfigDefaults } from '../config/schema.js';
import { loadCheckpoint, loadOptimStateInto, type Checkpoint } from '../checkpoint/checkpoint.js';
import { configDiff, RESUMABLE_KEYS } from '../checkpoint/identity.js';
import { RUN_FILES, RunDir } from '../train/rundir.js';
import { budgetSpent } from '../train/trainer.js';
import { InputError } from '../util/errors.js';
import { formatDuration, plural } from '../util/format.js';
import { trainCommand } from './train.js';
import { out as stdout } from './stdio.js';
import type { OutputMode } from './terminal.js';

/** `overrides`: the environment's and the flags' (only RESUMABLE_KEYS may change); `opts`: --kernels and the output mode. */
export async function resumeRun(dir: string, overrides: Override[], opts: { kernels: KernelPreference; output: OutputMode }): Promise<void> {
  const allowed = new Set<string>(RESUMABLE_KEYS);
  for (const o of overrides) {
    if (!allowed.has(o.key)) throw new InputError(`${o.origin}: ${o.key} cannot change when resuming (it would not continue the same run); allowed: ${[...allowed].join(', ')}`);
  }
  const { ck, fromConfigFile } = loadRunForResume(dir);
  // The checkpoint's config, with run.out pinned to this directory; config.yaml edits of the
  // resumable keys, then flags, may extend run.epochs etc.
  const base = { ...ck.config, run: { ...ck.config.run, out: dir } };
  let resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out')]);
  // a relative data.path read from another working directory: the file the run was trained on is
  // recorded with its absolute path (its size and sha256 are checked before training either way)
  const dataPath = resolved.config.data.path;
  if (dataPath !== null && !existsSync(dataPath) && ck.data?.path && existsSync(ck.data.path) && !overrides.some((o) => o.key === 'data.path')) {
    stdout(`bptt: ${dataPath} is not there from this directory; reading the run's data from ${ck.data.path}, where it was trained\n`);
    resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out'),
      { key: 'data.path', value: ck.data.path, source: 'flag', origin: 'the checkpoint\'s data_path' }]);
  }
  const t = ck.training!;
  const length = runLength(resolved.config.run);
  // a length the run has already passed is refused before anything is touched; one it has reached
  // exactly is a complete run: say so and how to go on, and leave the directory as it is (unless a
  // stop cut its last evaluation: that run trains nothing more, it makes the evaluation and completes)
  const pending = t.reportDue !== null;
  const further = (now: string, next: string) => `bptt: ${dir} is complete (${now}); to train further: bptt resume ${dir} ${next}\n`;
  if (length.kind === 'epochs') {
    const past = t.epoch > length.n || (t.epoch === length.n && t.minibatch > 0);
    if (past) {
      throw new InputError(`--epochs ${length.n}: ${dir} is already at epoch ${t.epoch + (t.minibatch > 0 ? 1 : 0)}` +
        `${t.minibatch > 0 ? ` (minibatch ${t.minibatch})` : ''}; give at least ${t.epoch + (t.minibatch > 0 ? 1 : 0)} (nothing was changed)`);
    }
    if (t.epoch === length.n && !pending) {
      stdout(further(`${plural(t.epoch, 'epoch', 'epochs')}, run.epochs ${length.n}`, `--epochs ${t.epoch + Math.max(1, Math.round(t.epoch / 2))}`));
      return;
    }
  } else if (length.kind === 'minibatches') {
    if (t.step > length.n) throw new InputError(`run.minibatches ${length.n}: ${dir} has already trained ${t.step} (nothing was changed)`);
    if (t.step === length.n && !pending) {
      stdout(further(`${plural(t.step, 'minibatch', 'minibatches')}`, `--minibatches ${t.step + Math.max(1, Math.round(t.step / 2))}`));
      return;
    }
  } else if (budgetSpent(t, length.seconds) && !pending) {
    stdout(further(`${formatDuration(t.elapsedS)} of its ${formatDuration(length.seconds)} budget`, `--time ${formatDuration(length.seconds * 1.5).replace(/^(\d+m)00s$/, '$1')}`));
    return;
  }
  process.exitCode = await trainCommand(resolved, { force: false, printConfig: false, kernels: opts.kernels, output: opts.output }, ck);
}

function resolveConfigFrom(base: object, overrides: Override[]) {
  const fromCheckpoint = leafKeys().map((key) => ({ key, value: getPath(base, key), source: 'file' as const, origin: 'checkpoint' }));
  return resolveConfig(null, [...fromCheckpoint, ...overrides]);
}

/**
 * The run directory's checkpoint, for `bptt resume DIR` / `train --resume`, checked against the
 * directory's config.yaml: the two must describe the same run (only RESUMABLE_KEYS may differ;
 * those edits of config.yaml are taken as requests, returned as overrides).
 */
export function loadRunForResume(dir: string): { ck: Checkpoint; fromConfigFile: Override[] } {
  if (!existsSync(dir)) throw new InputError(`run directory ${dir}: does not exist`);
  const runDir = new RunDir(dir);
  const configFile = runDir.path('config');
  if (!existsSync(runDir.path('last'))) {
    if (existsSync(configFile)) {
      throw new InputError(`run directory ${dir}: has a config but no checkpoint yet (the run stopped before its first one); ` +
        `start it over with: bptt train --config ${configFile} --force`);
    }
    throw new InputError(`run directory ${dir}: not a bptt run (no ${RUN_FILES.last}, no ${RUN_FILES.config})`);
  }
  const ck = loadCheckpoint(runDir.path('last'));
  if (!ck.training) throw new InputError(`checkpoint ${ck.path}: has no training state to resume from`);
  loadOptimStateInto(ck, ck.config.optim.kind, null, []);
  if (!existsSync(configFile)) return { ck, fromConfigFile: [] };
  const fileConfig = resolveConfig(configFile, [], storedConfigDefaults()).config;
  const differs = configDiff(ck.config, fileConfig, true).filter((d) => !d.startsWith('run.out:'));
  if (differs.length > 0) {
    throw new InputError(`run directory ${dir}: ${RUN_FILES.config} and ${RUN_FILES.last} describe different runs (${differs.join('; ')}); ` +
      `the checkpoint belongs to another run or ${RUN_FILES.config} was edited; a resume may change only ${RESUMABLE_KEYS.join(', ')}`);
  }
  const fromConfigFile: Override[] = RESUMABLE_KEYS.filter((k) => k !== 'run.out' && JSON.stringify(getPath(ck.config, k)) !== JSON.stringify(getPath(fileConfig, k)))
    .map((key) => ({ key, value: getPath(fileConfig, key), source: 'file', origin: `${configFile}: ${key}` }));
  return { ck, fromConfigFile };
}
