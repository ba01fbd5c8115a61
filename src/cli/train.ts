// `bptt train` (and a resume's training) on the command line: the run itself is the library's
// (api/train.ts); this file prints it (text, a live line or JSON), turns SIGINT/SIGTERM/SIGHUP into
// a stop at a minibatch boundary with a checkpoint (exit 130/143/129), and serves --board.

import type { KernelPreference } from '../blas/loader.js';
import { getPath, leafKeys, type ResolvedConfig } from '../config/load.js';
import { runLength } from '../train/length.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { Progress } from '../train/trainer.js';
import { trainResolved } from '../api/train.js';
import { startBoard, type Board } from '../board/server.js';
import { Output, type OutputMode } from './terminal.js';
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
  /** serve the live board on this port while the run trains (0: any free port) */
  board?: number;
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
  const length = runLength(resolved.config.run);
  const stop = new AbortController();
  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    // second signal: stop now (the checkpoint files are atomic; the run's exit hook releases the lock)
    if (stopSignal) process.exit(exitCodeOf(sig));
    stopSignal = sig;
    stop.abort();
    out.info(`\n${sig}: stopping at the next minibatch boundary and writing a checkpoint (again to quit at once)`);
  };
  // SIGHUP (the terminal or SSH session closed) stops the run as SIGTERM does: checkpoint, unlock, exit
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  let board: Board | null = null;
  try {
    const result = await trainResolved(resolved, {
      onStart: async (dir) => {
        if (opts.board === undefined) return;
        board = await startBoard({ dirs: [dir], port: opts.board });
        out.info(`bptt: the board follows this run at ${board.url}`);
      },
      force: opts.force, init: opts.init, kernels: opts.kernels, signal: stop.signal,
      onLog: (line, level) => (level === 'warn' ? out.warn(line) : out.info(line)),
      onProgress: (p) => {
        out.progress(p);
        runObservers.onProgress?.(p);
      },
      onPhase: (phase) => {
        out.phase(phase);
        runObservers.onPhase?.(phase);
      },
      onReport: (m) => out.report(m, length),
      onSamples: (samples) => out.samples(samples),
    }, resumeFrom);
    return result.outcome === 'interrupted' ? exitCodeOf(stopSignal ?? 'SIGINT') : 0;
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    await (board as Board | null)?.close();
  }
}

/** The signals that stop a run at a minibatch boundary with a checkpoint. */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** 128 + the signal's number, as a shell reports a process killed by it. */
export function exitCodeOf(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : sig === 'SIGHUP' ? 129 : 143;
}
