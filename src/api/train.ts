// bptt as a library: one training run, from a config (plain data, a file, or resolved) to a run
// directory. This is the function `bptt train` and `bptt resume` call: the command line adds only
// its output (text, a live line, JSON), its signals and its exit codes. What the run reports
// reaches the caller through hooks; a stop is asked for with an AbortSignal and takes effect at the
// next minibatch boundary, after which the run is resumable as if a Ctrl-C had stopped it.

import { statSync } from 'node:fs';
import type { KernelPreference } from '../blas/loader.js';
import { resolveConfig, resolveConfigObject, type ResolvedConfig } from '../config/load.js';
import { cadenceOf, type TrainConfig } from '../config/schema.js';
import { AUTO_EVAL_MIN_EVALS, AUTO_EVAL_SHARE } from '../config/units.js';
import { fixedHorizon, runLength } from '../train/length.js';
import { learningRate } from '../train/schedule.js';
import { honourBestOnDisk, placeStart } from '../train/start.js';
import type { Engine } from '../engine/engine.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type TrainingState } from '../checkpoint/checkpoint.js';
import { checkSamplePrefixes, prepareData, unigramBaseline, type PreparedData } from '../train/data.js';
import { RunDir, type RunSummary } from '../train/rundir.js';
import { Trainer, type Progress, type Report } from '../train/trainer.js';
import { trainFlopsPerToken } from '../model/params.js';
import { outputShare } from '../train/choose.js';
import { chooseRunModel, choosesModel } from './choose.js';
import { createEngine } from './engine.js';
import { describeModel } from '../model/desc.js';
import { InputError } from '../util/errors.js';
import { canonicalPath } from '../io/files.js';
import { fmtEpochs, fmtLoss, fmtNum, formatDuration, plural } from '../util/format.js';

/** A config as plain data in the config file's shape; every key optional (the defaults fill in). */
export type ConfigInput = { [section: string]: unknown };

export interface TrainOptions {
  /** replace an existing run in the run directory (run.out) */
  force?: boolean;
  /** a bptt checkpoint whose weights (and vocabulary) the new run starts from */
  init?: string;
  kernels?: KernelPreference;
  /** stops the run at the next minibatch boundary with a checkpoint (outcome 'interrupted') */
  signal?: AbortSignal;
  /** each metrics.jsonl row, as it is written (every evaluation and every epoch end) */
  onReport?(report: Report): void;
  onSamples?(samples: string[], at: { step: number; epoch: number }): void;
  /** after every stretch of minibatches (at most every few seconds) */
  onProgress?(progress: Progress): void;
  /** as the run starts an evaluation or a round of samples */
  onPhase?(phase: 'evaluation' | 'sampling'): void;
  /** the run's own lines (what it trains, how long, how it ended); warnings have level 'warn' */
  onLog?(line: string, level: 'info' | 'warn'): void;
  /** once the run directory holds the new run's config, before the first minibatch (awaited) */
  onStart?(dir: string): void | Promise<void>;
}

export interface TrainResult {
  /** completed: the run's length was reached; early_stop: run.early_stop ended it; interrupted: the signal stopped it */
  outcome: 'completed' | 'early_stop' | 'interrupted';
  /** the run directory: config.yaml, metrics.jsonl, samples.txt, last/best.safetensors, curves.svg, summary.json */
  dir: string;
  summary: RunSummary;
  config: TrainConfig;
}

/**
 * Trains one run. `config` is plain data (`{ data: { path: 'my.txt' }, run: { time_budget: '2m',
 * out: 'runs/mine' } }`), a config file's path, or nothing for the defaults; it is validated as a
 * config file is (unknown keys and wrong types are InputErrors naming the key).
 */
export async function train(config: ConfigInput | string = {}, options: TrainOptions = {}): Promise<TrainResult> {
  const resolved = typeof config === 'string' ? resolveConfig(config, []) : resolveConfigObject(config);
  return trainResolved(resolved, options);
}

/** train() on a resolved config; `resumeFrom`: continue that checkpoint's run in its directory. */
export async function trainResolved(resolved: ResolvedConfig, options: TrainOptions, resumeFrom?: Checkpoint): Promise<TrainResult> {
  const info = (line: string) => options.onLog?.(line, 'info');
  const warn = (line: string) => options.onLog?.(line, 'warn');
  let config = resolved.config;
  const initFrom = options.init ? loadInit(options.init, config) : undefined;
  announceLargeCorpus(config, info);
  const data = prepareData(config, resumeFrom?.vocab ?? initFrom?.vocab);
  checkSamplePrefixes(config, data);
  // no model key set: the model follows the run (train/choose.ts); config.yaml then states the one chosen
  const choice = !resumeFrom && !initFrom && choosesModel(resolved) ? await chooseRunModel(config, data, options.kernels ?? 'auto') : null;
  if (choice) config = { ...config, model: choice.model };
  if (resumeFrom) checkSameData(resumeFrom, data, warn);
  const runDir = new RunDir(config.run.out);
  // every path this run will touch, before anything is written or removed: no run file may be a
  // directory or device, nor a file the run reads (--force would destroy it)
  runDir.checkFiles([
    // the run's own config.yaml as --config is read whole already (bptt train --config DIR/config.yaml --force starts DIR over)
    ...(resolved.file && canonicalPath(resolved.file) !== canonicalPath(runDir.path('config')) ? [{ flag: '--config', path: resolved.file }] : []),
    ...(config.data.path ? [{ flag: '--data', path: config.data.path }] : []),
    ...(options.init ? [{ flag: '--init', path: options.init }] : []),
  ]);
  // the engine first: if the run cannot fit in memory, nothing has been written or removed yet
  const engine = createEngine(config, data, options.kernels ?? 'auto', warn);
  const signal = options.signal;
  // the running stretch ends after the minibatch in flight, without waiting for a progress wake
  const onAbort = () => engine.requestStop();
  signal?.addEventListener('abort', onAbort);
  // a process that exits in the middle (a second Ctrl-C) leaves no lock behind
  const unlockOnExit = () => runDir.unlock();
  process.on('exit', unlockOnExit);
  try {
    // the start in memory and the budget checked before the run directory is touched
    const start = placeStart(config, engine, { resume: resumeFrom, init: initFrom });
    if (start && resumeFrom) honourBestOnDisk(start, runDir.path('best'), resumeFrom, warn);
    const trainer = new Trainer(config, data, engine, start);
    trainer.checkBudget();
    if (!resumeFrom) runDir.checkNewRunTarget(options.force ?? false);
    runDir.lock(warn);
    if (resumeFrom) runDir.truncateMetrics(resumeFrom.training!.step, resumeFrom.training!.epoch);
    else runDir.createFresh(options.force ?? false);
    runDir.writeConfig(config); // on resume too: config.yaml always states what this run now is
    const baseline = unigramBaseline(data);
    announce(config, data, baseline, engine, trainer, resumeFrom, choice, info, warn);
    await options.onStart?.(config.run.out);
    const save = (state: TrainingState, file: 'last' | 'best') => saveCheckpoint(runDir.path(file), {
      vocab: data.vocab, config, layout: engine.plan.layout, heap: engine.blas.f, params: engine.plan.params,
      training: state, carriedState: trainer.carriedState(), kernels: engine.blas.name, data: data.fingerprint, optimState: engine.plan.optimState,
    });
    const done = await trainer.run({
      shouldStop: () => signal?.aborted ?? false,
      onProgress: options.onProgress,
      onPhase: options.onPhase,
      onReport: (m) => {
        runDir.appendMetrics(m);
        options.onReport?.(m);
      },
      // the trainer's rule alone decides what is best (finite, strictly lower)
      onBest: (state) => save(state, 'best'),
      onSamples: (step, epoch, samples) => {
        runDir.appendSamples(step, epoch, samples);
        options.onSamples?.(samples, { step, epoch });
      },
      onCheckpoint: (state) => save(state, 'last'),
    });
    const outcome = !done ? 'interrupted' : trainer.stoppedEarly ? 'early_stop' : 'completed';
    const s = trainer.state;
    const kept = s.bestValLoss !== null && s.bestStep !== null ? { loss: s.bestValLoss, step: s.bestStep, epoch: s.bestStep / trainer.perEpoch } : null;
    // the baseline of what the evaluations read (a subset eval_every auto chose after the first lines, for a run by epochs)
    const subset = trainer.evalSubset();
    const evalBaseline = subset ? unigramBaseline(data, subset) : baseline;
    const summary = runDir.writeSummary(outcome, {
      kernels: engine.blas.name, workers: engine.workers, unigram_val_loss: baseline?.loss ?? null,
      val_chars: data.val ? trainer.evalChars() : null, unigram_eval_loss: evalBaseline?.loss ?? null,
    }, kept);
    if (!done) {
      info(`bptt: interrupted; checkpoint written to ${runDir.path('last')}; continue with "bptt resume ${config.run.out}"`);
    } else {
      info(`bptt: ${outcome === 'early_stop' ? `stopped early (no better validation loss in ${config.run.early_stop} evaluations)` : 'done'} ` +
        `after ${plural(s.step, 'minibatch', 'minibatches')} (${fmtEpochs(s.step / trainer.perEpoch)}) in ${formatDuration(s.elapsedS)}: ` +
        `train loss ${fmtLoss(summary.final_train_loss)}` +
        `${summary.best_val_loss !== null ? `, best validation loss ${fmtLoss(summary.best_val_loss)} (minibatch ${summary.best_val_step ?? '?'})` : ''}, ` +
        `${fmtNum(summary.median_tokens_per_s)} tokens/s median`);
      if (evalBaseline && summary.best_val_loss !== null && summary.best_val_loss >= evalBaseline.loss) {
        warn(`the best validation loss ${summary.best_val_loss.toFixed(3)} is no better than the unigram baseline ${evalBaseline.loss.toFixed(3)} ` +
          '(characters by their frequency alone): this model learned nothing it can use on new text; try a smaller model or a longer run');
      }
      info(`bptt: run directory ${config.run.out}: last.safetensors${summary.best_val_ppl !== null ? ', best.safetensors' : ''}, metrics.jsonl, curves.svg, summary.json`);
    }
    return { outcome, dir: config.run.out, summary, config };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    process.off('exit', unlockOnExit);
    runDir.unlock();
    await engine.close();
  }
}

/** A corpus this large takes a while to read and encode: said before the wait (README, "Input is bounded"). */
const LARGE_CORPUS_BYTES = 64 * 2 ** 20;

function announceLargeCorpus(config: TrainConfig, info: (line: string) => void): void {
  const path = config.data.path;
  if (path === null || config.data.max_chars > 0) return;
  let bytes: number;
  try { bytes = statSync(path).size; } catch { return; } // prepareData says what is wrong with it
  if (bytes < LARGE_CORPUS_BYTES) return;
  info(`bptt: reading ${(bytes / 2 ** 20).toFixed(0)} MB of text from ${path}: a large corpus takes a while to decode and encode, ` +
    'and about 6 bytes of memory per byte of text while it does (data.max_chars reads only a head)');
}

/** The run's first lines: the data, the model and its cost, the length and the schedule. */
function announce(config: TrainConfig, data: PreparedData, baseline: ReturnType<typeof unigramBaseline>, engine: Engine, trainer: Trainer, resumeFrom: Checkpoint | undefined,
  choice: Awaited<ReturnType<typeof chooseRunModel>> | null, info: (line: string) => void, warn: (line: string) => void): void {
  const model = engine.plan.input.model;
  const flops = trainFlopsPerToken(model);
  info(`bptt: ${data.source}: ${plural(data.chars, 'character', 'characters')}, vocabulary ${data.vocab.size}, ` +
    `${data.train.length.toLocaleString('en-US')} train / ${(data.val?.length ?? 0).toLocaleString('en-US')} validation` +
    `${data.val && data.split ? ` (${data.split})` : ''}` +
    `${config.data.preprocess.newlines_to_spaces ? ' (newlines replaced by spaces: data.preprocess.newlines_to_spaces)' : ''}`);
  if (data.capped) {
    info(`bptt: data.max_vocab ${config.data.max_vocab}: the ${(data.vocab.size - 1).toLocaleString('en-US')} most frequent characters cover ${(100 * data.capped.covered).toFixed(2)}% of the text; ` +
      `the other ${data.capped.dropped.toLocaleString('en-US')} are one symbol, U+FFFD (losses count it as one character)`);
  }
  info(`bptt: ${describeModel(model)}, ${config.optim.kind}, ${config.data.sampler} sampling, B=${config.data.batch} T=${config.data.steps}, ` +
    `${trainer.sampler.batchesPerEpoch} minibatches/epoch, ${(flops / 1e6).toFixed(2)} MFLOP/token; ` +
    `kernels ${engine.blas.name}, ${engine.workers} worker${engine.workers > 1 ? 's' : ''}${config.run.deterministic ? ' (deterministic)' : ''}`);
  if (choice) {
    const rates = choice.considered.filter((c) => c.tokensPerS !== undefined).map((c) => `H=${c.hidden} ${fmtNum(c.tokensPerS!)}`);
    info(`bptt: model chosen for this run (no model key is set; --hidden or any model key decides instead): H=${choice.model.hidden}, because ${choice.why}` +
      `${rates.length > 0 ? ` (tokens/s measured in ${choice.seconds.toFixed(1)} s before the run: ${rates.join(', ')})` : ''}`);
  }
  const share = outputShare(data.vocab.size, config.model);
  if (share > OUTPUT_NOTE_SHARE) {
    const cover = data.capped ? '' : coverageNote(data);
    info(`bptt: the output layer (H x V = ${model.H} x ${data.vocab.size}) is ${(100 * share).toFixed(0)}% of the cost per token` +
      `${cover ? `; ${cover}` : ''}`);
  }
  info(`bptt: ${describeLength(trainer)}; learning rate ${describeSchedule(config)}`);
  if (baseline) {
    const part = config.data.val_path ? 'the validation file' : config.data.val_split === 'blocks' ? 'the validation blocks' : 'the validation tail';
    info(`bptt: ${part} ${part.endsWith('blocks') ? 'cost' : 'costs'} ${baseline.loss.toFixed(3)} nats/char to a model that knows only character frequencies (the unigram baseline to beat)`);
    if (baseline.unseen > 0.001) {
      warn(`${(100 * baseline.unseen).toFixed(2)}% of the validation characters never occur in the training text: no model trained on this split predicts them; ` +
        (config.data.val_path ? `the validation file holds characters the training text lacks` :
          config.data.val_split === 'tail' ? 'the end of this text differs from the rest: data.val_split blocks holds out blocks spread over the whole text, data.val_path a file of your own' :
            'this text has characters too rare to occur in both parts'));
    }
  }
  const evalChars = trainer.evalChars();
  const subset = trainer.evalSubset();
  if (data.val && subset) {
    info(`bptt: every evaluation reads the same ${evalChars.toLocaleString('en-US')} of the ${data.val.length.toLocaleString('en-US')} validation characters ` +
      `(the first ${subset.chunks} of ${trainer.totalEvalChunks} chunks of each row, about ${trainer.expectedEvalS().toFixed(1)} s): ` +
      `${AUTO_EVAL_MIN_EVALS} evaluations of all of it would take more than ${AUTO_EVAL_SHARE * 100}% of the run (eval_every auto; a cadence of your own reads it all); ` +
      `their unigram baseline is ${unigramBaseline(data, subset)!.loss.toFixed(3)} nats/char`);
  }
  if (config.run.early_stop > 0 && (!data.val || cadenceOf(config.run.eval_every).unit === 'never')) {
    warn(`run.early_stop ${config.run.early_stop} never triggers: ${!data.val ? 'there is no validation split (data.val_fraction is 0)' : 'run.eval_every is 0 (evaluation only at the end)'}`);
  }
  if (resumeFrom && resumeFrom.kernels !== engine.blas.name && resumeFrom.kernels !== 'import') {
    warn(`the checkpoint was trained with ${resumeFrom.kernels} kernels and this process runs ${engine.blas.name}: ` +
      'the run continues correctly but is no longer bitwise the uninterrupted one (FMA rounds differently); --kernels chooses');
  }
  if (resumeFrom) {
    info(`bptt: resuming ${resumeFrom.path} at epoch ${trainer.state.epoch + 1}, minibatch ${trainer.state.minibatch + 1}`);
    const extended = scheduleChange(resumeFrom, trainer);
    if (extended) info(`bptt: ${extended}`);
  }
}

/** The first lines say so when the output layer is more than this share of a token's cost (a large vocabulary). */
const OUTPUT_NOTE_SHARE = 0.5;

/** "data.max_vocab 2568 keeps 99% of the text as it is and halves the output layer": the smallest cap that covers 99%. */
function coverageNote(data: PreparedData): string {
  const counts = new Float64Array(data.vocab.size);
  for (const ids of [data.train, data.val ?? new Int32Array(0)]) for (let k = 0; k < ids.length; k++) counts[ids[k]]++;
  const sorted = Array.from(counts).sort((a, b) => b - a);
  let sum = 0, n = 0;
  while (n < sorted.length && sum < 0.99 * data.chars) sum += sorted[n++];
  const cap = n + 1; // and U+FFFD for the rest
  if (cap >= 0.8 * data.vocab.size) return '';
  return `data.max_vocab ${cap} keeps 99% of the characters as they are (the rest become one symbol) and cuts the output layer to ${(100 * cap / data.vocab.size).toFixed(0)}%`;
}

/** "10m of training (time budget)", "40 epochs (1,200 minibatches)" */
function describeLength(trainer: Trainer): string {
  const L = trainer.length;
  if (L.kind === 'time') return `training for ${L.seconds < 10 ? `${L.seconds}s` : formatDuration(L.seconds)} of wall-clock time (run.time_budget; minibatches estimated from the measured rate as it goes)`;
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
  const h0 = fixedHorizon(before, trainer.perEpoch), h1 = fixedHorizon(now, trainer.perEpoch);
  if (JSON.stringify(before) === JSON.stringify(now) || config.optim.schedule.kind === 'constant') return null;
  const step = trainer.state.step;
  const lrWas = h0 === null ? null : learningRate(config.optim, Math.max(0, step - 1), h0, trainer.perEpoch);
  const lrNow = h1 === null ? null : learningRate(config.optim, step, h1, trainer.perEpoch);
  return `the run's length changed, so the ${config.optim.schedule.kind} schedule now runs over ${h1 === null ? 'the new time budget' : plural(h1, 'minibatch', 'minibatches')} ` +
    `instead of ${h0 === null ? 'the old time budget' : plural(h0, 'minibatch', 'minibatches')}` +
    `${lrWas !== null && lrNow !== null ? `: the rate goes from ${fmtNum(lrWas)} (last minibatch trained) to ${fmtNum(lrNow)} and decays to ${config.optim.schedule.min_lr} at the new end` : ''}`;
}

/** `init`: the checkpoint's weights start the run; its model shape must be the config's. */
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
