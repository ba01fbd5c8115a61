// `bptt train` and `bptt resume`: resolve the config, load the data, start the engine (one
// thread or a worker pool), run the trainer, and persist metrics, samples and checkpoints in the
// run directory. SIGINT/SIGTERM stop at a minibatch boundary with a checkpoint (exit 130/143).

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { KernelPreference } from '../blas/loader.js';
import { getPath, leafKeys, resolveConfig, type Override, type ResolvedConfig } from '../config/load.js';
import { cadenceOf, learningRate, runLength, storedConfigDefaults, type RunLength, type TrainConfig } from '../config/schema.js';
import type { Engine } from '../engine/engine.js';
import { PoolEngine } from '../engine/pool.js';
import { loadCheckpoint, loadOptimStateInto, saveCheckpoint, type Checkpoint, type TrainingState } from '../checkpoint/checkpoint.js';
import { checkSamplePrefixes, prepareData, type PreparedData } from '../train/data.js';
import { evalRows } from '../train/evaluate.js';
import { planInputOf } from '../engine/plan.js';
import { configDiff, RESUMABLE_KEYS } from '../checkpoint/identity.js';
import { RUN_FILES, RunDir } from '../train/rundir.js';
import { Trainer, type Progress } from '../train/trainer.js';
import { trainFlopsPerToken } from '../model/params.js';
import { describeModel } from '../model/desc.js';
import { InputError } from '../util/errors.js';
import { fmtEpochs, fmtLoss, fmtNum, formatDuration, Output, plural, type OutputMode } from './terminal.js';
import { out as stdout } from './stdio.js';

/**
 * In-process observers of a training run, never set by the command line: the tests' fixture
 * (test/fixtures/signal_at_step.mjs) raises a signal when the run reaches a given minibatch or starts
 * sampling or evaluating, so a signal test stops where it says by construction rather than after a
 * guessed delay.
 */
export const runObservers: { onProgress?: (p: Progress) => void; onPhase?: (phase: 'evaluation' | 'sampling') => void } = {};

export interface TrainOptions {
  force: boolean;
  /** a bptt checkpoint whose weights (and vocabulary) the new run starts from */
  init?: string;
  printConfig: boolean;
  kernels: KernelPreference;
  output: OutputMode;
}

/** More workers than cores: every barrier then waits for a thread that has no core (measured). */
export function workersWarning(workers: number): string {
  return `${workers} workers on ${availableParallelism()} cores: threads share cores and every step waits at its barriers for the ` +
    'descheduled ones (measured on 2 cores, quickstart: 16 workers ran at 45% and 64 at 24% of the speed of 2); use at most one worker per core';
}

/**
 * The worker pool, for every worker count: with 1 worker the step still runs on its own thread, so
 * this thread's event loop is free for signals and output (InlineEngine is for tests and library use).
 */
export function createEngine(config: TrainConfig, data: PreparedData, kernels: KernelPreference, warn?: (msg: string) => void): Engine {
  const workers = config.run.workers ?? availableParallelism();
  if (workers > availableParallelism()) warn?.(workersWarning(workers));
  const plan = planInputOf(config, data.vocab.size, { workers, evalRows: evalRows(data.val?.length ?? 0, config.data.steps, config.data.batch) });
  return new PoolEngine({ plan, kernels, corpus: data.train });
}

export function printResolvedConfig(resolved: ResolvedConfig): string {
  const lines = [`# resolved configuration${resolved.file ? ` (file: ${resolved.file})` : ''}; source of each value after #`];
  const width = Math.max(...leafKeys().map((k) => k.length));
  for (const key of leafKeys()) {
    const v = getPath(resolved.config, key);
    lines.push(`${key.padEnd(width)} = ${JSON.stringify(v).padEnd(24)} # ${resolved.sources[key]}`);
  }
  return lines.join('\n');
}

export async function trainCommand(resolved: ResolvedConfig, opts: TrainOptions, resumeFrom?: Checkpoint): Promise<number> {
  const out = new Output(opts.output);
  if (opts.printConfig) {
    stdout(printResolvedConfig(resolved) + '\n');
    return 0;
  }
  const config = resolved.config;
  const initFrom = opts.init ? loadInit(opts.init, config) : undefined;
  const data = prepareData(config, resumeFrom?.vocab ?? initFrom?.vocab);
  checkSamplePrefixes(config, data);
  if (resumeFrom) checkSameData(resumeFrom, data, (msg) => out.warn(msg));
  const runDir = new RunDir(config.run.out);
  // every path this run will touch, before anything is written or removed: no run file may be a
  // directory or device, nor a file the run reads (--force would destroy it)
  runDir.checkFiles([
    ...(resolved.file ? [{ flag: '--config', path: resolved.file }] : []),
    ...(config.data.path ? [{ flag: '--data', path: config.data.path }] : []),
    ...(opts.init ? [{ flag: '--init', path: opts.init }] : []),
  ]);
  // the engine first: if the run cannot fit in memory, nothing has been written or removed yet
  const engine = createEngine(config, data, opts.kernels, (msg) => out.warn(msg));
  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopSignal) { // second signal: stop now (the checkpoint files are atomic, the lock is released)
      runDir.unlock();
      process.exit(exitCodeOf(sig));
    }
    stopSignal = sig;
    engine.requestStop(); // the running stretch ends after the minibatch in flight, without waiting for a progress wake
    out.info(`\n${sig}: stopping at the next minibatch boundary and writing a checkpoint (again to quit at once)`);
  };
  // SIGHUP (the terminal or SSH session closed) stops the run as SIGTERM does: checkpoint, unlock, exit
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    runDir.lock((msg) => out.warn(msg));
    if (resumeFrom) runDir.truncateMetrics(resumeFrom.training!.step, resumeFrom.training!.epoch);
    else runDir.createFresh(opts.force);
    const trainer = new Trainer(config, data, engine, resumeFrom, initFrom);
    runDir.writeConfig(config); // on resume too: config.yaml always states what this run now is
    const model = engine.plan.input.model;
    const flops = trainFlopsPerToken(model);
    out.info(`bptt: ${data.source}: ${plural(data.chars, 'character', 'characters')}, vocabulary ${data.vocab.size}, ` +
      `${data.train.length.toLocaleString('en-US')} train / ${(data.val?.length ?? 0).toLocaleString('en-US')} validation` +
      `${config.data.preprocess.newlines_to_spaces ? ' (newlines replaced by spaces: data.preprocess.newlines_to_spaces)' : ''}`);
    out.info(`bptt: ${describeModel(model)}, ${config.optim.kind}, ${config.data.sampler} sampling, B=${config.data.batch} T=${config.data.steps}, ` +
      `${trainer.sampler.batchesPerEpoch} minibatches/epoch, ${(flops / 1e6).toFixed(2)} MFLOP/token; ` +
      `kernels ${engine.blas.name}, ${engine.workers} worker${engine.workers > 1 ? 's' : ''}${config.run.deterministic ? ' (deterministic)' : ''}`);
    out.info(`bptt: ${describeLength(trainer)}; learning rate ${describeSchedule(config)}`);
    if (config.run.early_stop > 0 && (!data.val || cadenceOf(config.run.eval_every).unit === 'never')) {
      out.warn(`run.early_stop ${config.run.early_stop} never triggers: ${!data.val ? 'there is no validation split (data.val_fraction is 0)' : 'run.eval_every is 0 (evaluation only at the end)'}`);
    }
    if (resumeFrom && resumeFrom.kernels !== engine.blas.name && resumeFrom.kernels !== 'import') {
      out.warn(`the checkpoint was trained with ${resumeFrom.kernels} kernels and this process runs ${engine.blas.name}: ` +
        'the run continues correctly but is no longer bitwise the uninterrupted one (FMA rounds differently); --kernels chooses');
    }
    if (resumeFrom) {
      out.info(`bptt: resuming ${resumeFrom.path} at epoch ${trainer.state.epoch + 1}, minibatch ${trainer.state.minibatch + 1}`);
      const extended = scheduleChange(resumeFrom, trainer);
      if (extended) out.info(`bptt: ${extended}`);
    }
    const save = (state: TrainingState, file: 'last' | 'best') => saveCheckpoint(runDir.path(file), {
      vocab: data.vocab, config, layout: engine.plan.layout, heap: engine.blas.f, params: engine.plan.params,
      training: state, carriedState: trainer.carriedState(), kernels: engine.blas.name, data: data.fingerprint, optimState: engine.plan.optimState,
    });
    const done = await trainer.run({
      shouldStop: () => stopSignal !== null,
      onProgress: (p) => {
        out.progress(p);
        runObservers.onProgress?.(p);
      },
      onPhase: (phase) => runObservers.onPhase?.(phase),
      onReport: (m) => {
        runDir.appendMetrics(m);
        out.report(m, trainer.length);
      },
      // the trainer's rule alone decides what is best (finite, strictly lower)
      onBest: (state) => save(state, 'best'),
      onSamples: (step, epoch, samples) => {
        runDir.appendSamples(step, epoch, samples);
        out.samples(samples);
      },
      onCheckpoint: (state) => save(state, 'last'),
    });
    const outcome = !done ? 'interrupted' : trainer.stoppedEarly ? 'early_stop' : 'completed';
    const summary = runDir.writeSummary(outcome, { kernels: engine.blas.name, workers: engine.workers });
    if (!done) {
      out.info(`bptt: interrupted; checkpoint written to ${runDir.path('last')}; continue with "bptt resume ${config.run.out}"`);
      return exitCodeOf(stopSignal ?? 'SIGINT');
    }
    const s = trainer.state;
    out.info(`bptt: ${outcome === 'early_stop' ? `stopped early (no better validation loss in ${config.run.early_stop} evaluations)` : 'done'} ` +
      `after ${plural(s.step, 'minibatch', 'minibatches')} (${fmtEpochs(s.step / trainer.perEpoch)}) in ${formatDuration(s.elapsedS)}: ` +
      `train loss ${fmtLoss(summary.final_train_loss)}` +
      `${summary.best_val_loss !== null ? `, best validation loss ${fmtLoss(summary.best_val_loss)} (minibatch ${summary.best_val_step ?? '?'})` : ''}, ` +
      `${fmtNum(summary.median_tokens_per_s)} tokens/s median`);
    out.info(`bptt: run directory ${config.run.out}: last.safetensors${summary.best_val_ppl !== null ? ', best.safetensors' : ''}, metrics.jsonl, curves.svg, summary.json`);
    return 0;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    runDir.unlock();
    await engine.close();
  }
}

/** The signals that stop a run at a minibatch boundary with a checkpoint. */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** 128 + the signal's number, as a shell reports a process killed by it. */
export function exitCodeOf(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : sig === 'SIGHUP' ? 129 : 143;
}

/** "10m of training (time budget)", "40 epochs (1,200 minibatches)" */
function describeLength(trainer: Trainer): string {
  const L = trainer.length;
  if (L.kind === 'time') return `training for ${formatDuration(L.seconds)} of wall-clock time (run.time_budget; minibatches estimated from the measured rate as it goes)`;
  if (L.kind === 'minibatches') return `training ${plural(L.n, 'minibatch', 'minibatches')} (run.minibatches, ${fmtEpochs(L.n / trainer.perEpoch)})`;
  return `training ${fmtEpochs(L.n)} (${plural(L.n * trainer.perEpoch, 'minibatch', 'minibatches')})`;
}

function describeSchedule(config: TrainConfig): string {
  const o = config.optim, s = o.schedule;
  const warm = s.warmup > 0 ? `, warmup ${plural(s.warmup, 'minibatch', 'minibatches')}` : '';
  switch (s.kind) {
    case 'constant': return `${o.lr} constant${warm}`;
    case 'step': return `${o.lr} x ${s.gamma} every ${fmtEpochs(s.step_epochs)}${warm}`;
    default: return `${o.lr} -> ${s.min_lr} (${s.kind} by minibatch over the run${warm})`;
  }
}

/** On resume: if the run's length changed, how the schedule continues (it runs over the new length). */
function scheduleChange(ck: Checkpoint, trainer: Trainer): string | null {
  const config = trainer.config;
  const before = runLength(ck.config.run);
  const now = trainer.length;
  const horizonOf = (L: RunLength) => (L.kind === 'epochs' ? L.n * trainer.perEpoch : L.kind === 'minibatches' ? L.n : null);
  const h0 = horizonOf(before), h1 = horizonOf(now);
  if (JSON.stringify(before) === JSON.stringify(now) || config.optim.schedule.kind === 'constant') return null;
  const step = trainer.state.step;
  const lrWas = h0 === null ? null : learningRate(config.optim, Math.max(0, step - 1), h0, trainer.perEpoch);
  const lrNow = h1 === null ? null : learningRate(config.optim, step, h1, trainer.perEpoch);
  return `the run's length changed, so the ${config.optim.schedule.kind} schedule now runs over ${h1 === null ? 'the new time budget' : plural(h1, 'minibatch', 'minibatches')} ` +
    `instead of ${h0 === null ? 'the old time budget' : plural(h0, 'minibatch', 'minibatches')}` +
    `${lrWas !== null && lrNow !== null ? `: the rate goes from ${fmtNum(lrWas)} (last minibatch trained) to ${fmtNum(lrNow)} and decays to ${config.optim.schedule.min_lr} at the new end` : ''}`;
}

/** `train --init F`: F's weights start the run; its model shape must be the config's. */
function loadInit(path: string, config: TrainConfig): Checkpoint {
  const ck = loadCheckpoint(path);
  for (const key of ['cell', 'gru_reset', 'hidden', 'layers', 'activation'] as const) {
    if (ck.config.model[key] !== config.model[key]) {
      throw new InputError(`--init ${path}: its model.${key} is ${JSON.stringify(ck.config.model[key])}, the config's is ${JSON.stringify(config.model[key])}; ` +
        `set --set model.${key}=${ck.config.model[key]}`);
    }
  }
  return ck;
}

/** Resume must see the data the checkpoint was trained on (size and sha256 of the prepared text). */
export function checkSameData(ck: Checkpoint, data: PreparedData, warn: (msg: string) => void): void {
  if (!ck.data) {
    warn(`checkpoint ${ck.path} was written before data fingerprints: ${data.source} is not verified to be the data it was trained on`);
    return;
  }
  if (ck.data.sha256 !== data.fingerprint.sha256 || ck.data.chars !== data.fingerprint.chars) {
    throw new InputError(`${data.source}: differs from the data this run was trained on (now ${data.fingerprint.chars.toLocaleString('en-US')} characters, ` +
      `sha256 ${data.fingerprint.sha256.slice(0, 12)}...; the checkpoint's: ${ck.data.chars.toLocaleString('en-US')} characters, sha256 ${ck.data.sha256.slice(0, 12)}...); ` +
      'resume needs the same data: restore it, or start a new run');
  }
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
