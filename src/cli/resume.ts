// `bptt resume DIR` (and `train --resume`): find the run's checkpoint, check it against the
// directory's config.yaml, apply only the changes a resume may make, refuse a length the run has
// passed, say so when it is complete, and otherwise continue it through trainCommand.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KernelPreference } from '../blas/loader.js';
import { getPath, leafKeys, resolveConfig, type Override } from '../config/load.js';
import { storedConfigDefaults } from '../config/schema.js';
import { resumeVerdict, runLength } from '../train/length.js';
import { loadCheckpoint, loadOptimStateInto, type Checkpoint } from '../checkpoint/checkpoint.js';
import { configDiff, RESUMABLE_KEYS } from '../checkpoint/identity.js';
import { RUN_FILES, RunDir } from '../train/rundir.js';
import { InputError } from '../util/errors.js';
import { trainCommand } from './train.js';
import { out as stdout } from './stdio.js';
import type { OutputMode } from './terminal.js';

/** `overrides`: the environment's and the flags' (only RESUMABLE_KEYS may change); `opts`: --kernels and the output mode. */
export async function resumeRun(dir: string, overrides: Override[], opts: { kernels: KernelPreference; output: OutputMode }): Promise<void> {
  const allowed = new Set<string>(RESUMABLE_KEYS);
  const { ck, fromConfigFile } = loadRunForResume(dir);
  // a key a resume may not change may still be given with the value the run already has
  for (const o of overrides) {
    if (!allowed.has(o.key) && JSON.stringify(getPath(ck.config, o.key)) !== JSON.stringify(o.value)) {
      throw new InputError(`${o.origin}: ${o.key} cannot change when resuming (it would not continue the same run; the run's is ${JSON.stringify(getPath(ck.config, o.key))}); allowed: ${[...allowed].join(', ')}`);
    }
  }
  // The checkpoint's config, with run.out pinned to this directory; config.yaml edits of the
  // resumable keys, then flags, may extend run.epochs etc.
  const base = { ...ck.config, run: { ...ck.config.run, out: dir } };
  let resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out')]);
  // a relative data.path read from another working directory names another file (or none): the
  // file the run was trained on is recorded with its absolute path, and that is the one read (its
  // size and sha256 are checked before training either way); --data chooses otherwise
  const dataPath = resolved.config.data.path;
  if (dataPath !== null && ck.data?.path && resolve(dataPath) !== ck.data.path && existsSync(ck.data.path) && !overrides.some((o) => o.key === 'data.path')) {
    stdout(`bptt: ${dataPath} from this directory is ${existsSync(dataPath) ? `${resolve(dataPath)}, not the run's file` : 'not there'}; reading the run's data from ${ck.data.path}, where it was trained\n`);
    resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out'),
      { key: 'data.path', value: ck.data.path, source: 'flag', origin: 'the checkpoint\'s data_path' }]);
  }
  const verdict = resumeVerdict(ck.training!, runLength(resolved.config.run), dir, { length: runLength(ck.config.run), completed: completedAt(dir, ck.training!.step) });
  // a length the run has already passed is refused before anything is touched; a complete run is
  // left as it is, with how to go on
  if (verdict.kind === 'past') throw new InputError(verdict.message);
  if (verdict.kind === 'complete') {
    stdout(`bptt: ${dir} is complete (${verdict.now}); to train further: bptt resume ${dir} ${verdict.next}\n`);
    return;
  }
  process.exitCode = await trainCommand(resolved, { force: false, printConfig: false, kernels: opts.kernels, output: opts.output }, ck);
}

/** The run's summary.json says it completed at minibatch `step` (unreadable or absent: no). */
function completedAt(dir: string, step: number): boolean {
  try {
    const summary = JSON.parse(readFileSync(new RunDir(dir).path('summary'), 'utf8')) as { outcome?: unknown; steps?: unknown };
    return summary.outcome === 'completed' && summary.steps === step;
  } catch {
    return false;
  }
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
