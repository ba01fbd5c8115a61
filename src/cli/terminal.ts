// Terminal output: plain lines when stdout is not a terminal (CI, pipes), a live progress line
// when it is, JSON lines with --log-json, nothing but errors with --quiet.

import type { RunLength } from '../train/length.js';
import type { Progress, Report } from '../train/trainer.js';
import { out as stdout, err as stderr } from './stdio.js';
import { fmtEpochNumber, fmtNum, formatDuration, oneLine } from '../util/format.js';

export { fmtEpochs, fmtLoss, fmtNum, formatDuration, oneLine, plural } from '../util/format.js';

export interface OutputMode {
  quiet: boolean;
  json: boolean;
  tty: boolean;
}

/** Without a terminal, a plain progress line at most this often (a long epoch is not silence). */
export const PLAIN_PROGRESS_EVERY_MS = 30_000;

/** ", 45,056 validation chars" when eval_every auto reads a subset of the validation tail */
function subsetNote(m: Report): string {
  if (m.val_mode !== 'carried-subset' || m.val_chars === null) return '';
  return `, ${m.val_chars.toLocaleString('en-US')} validation chars`;
}

export class Output {
  private live = false;
  /** when the last line went out (plain mode) */
  private lastLineAt: number;

  constructor(readonly mode: OutputMode, private readonly now: () => number = () => performance.now()) {
    this.lastLineAt = now();
  }

  info(line: string): void {
    if (this.mode.quiet) return;
    this.clearLive();
    if (this.mode.json) stdout(JSON.stringify({ event: 'info', message: line }) + '\n');
    else stdout(line + '\n');
  }

  /** a warning: always shown (stderr), even with --quiet */
  warn(line: string): void {
    this.clearLive();
    stderr(`bptt: warning: ${line}\n`);
  }

  /**
   * One line per report: where the run is (epoch k/n for a run by epochs, else the elapsed time or
   * minibatch), the training and validation loss, throughput, gradient norm, the rate.
   */
  report(m: Report, length: RunLength): void {
    if (this.mode.quiet) return;
    this.clearLive();
    if (this.mode.json) { stdout(JSON.stringify({ event: 'report', ...m }) + '\n'); return; }
    const at = length.kind === 'epochs'
      ? `epoch ${fmtEpochNumber(m.epoch).padStart(String(length.n).length)}/${length.n}`
      : length.kind === 'time'
        ? `${formatDuration(m.elapsed_s).padStart(6)}/${formatDuration(length.seconds)}`
        : `minibatch ${m.step}/${length.n}`;
    stdout(
      `${at}  train ${m.train_loss.toFixed(3)} nats (ppl ${fmtNum(m.train_ppl, 4)})` +
      `${m.val_loss !== null ? `  val ${m.val_loss.toFixed(3)} nats (ppl ${fmtNum(m.val_ppl, 4)}${subsetNote(m)})` : ''}` +
      `  ${fmtNum(m.tokens_per_s).padStart(7)} tok/s  ${m.gflops.toFixed(1).padStart(5)} GFLOP/s` +
      `  |g| ${fmtNum(m.grad_norm_median)} median, ${fmtNum(m.grad_norm_max)} max (clipped ${(100 * m.clipped_fraction).toFixed(0)}%)  lr ${fmtNum(m.lr)}  ${m.interval_s.toFixed(2)} s` +
      `${m.eval_s !== null && m.eval_s >= 0.05 ? ` + eval ${m.eval_s.toFixed(1)} s` : ''}\n`);
  }

  samples(samples: string[]): void {
    if (this.mode.quiet) return;
    this.clearLive();
    if (this.mode.json) { stdout(JSON.stringify({ event: 'samples', samples }) + '\n'); return; }
    for (const s of samples) stdout(` - ${oneLine(s)}\n`);
  }

  /** The live line during an evaluation or a round of samples (a terminal only): the run is not frozen. */
  phase(phase: 'evaluation' | 'sampling'): void {
    if (this.mode.quiet || this.mode.json || !this.mode.tty) return;
    const line = phase === 'evaluation' ? 'evaluating: validation loss...' : 'sampling...';
    stdout(`\r${line}\x1b[K`);
    this.live = true;
  }

  progress(p: Progress): void {
    if (this.mode.quiet || this.mode.json) return;
    // the parts that matter most come first: a narrow terminal cuts the tail, never the ETA
    const line = `ETA ${formatDuration(p.etaS)}  train ${p.runningLoss.toFixed(3)} nats  ${fmtNum(p.tokensPerS)} tok/s  ` +
      `epoch ${p.epoch} minibatch ${p.minibatch}/${p.perEpoch}` +
      `${Number.isFinite(p.horizon) ? `  (${p.step}/${p.horizon} of the run)` : ''}`;
    if (!this.mode.tty) {
      if (this.now() - this.lastLineAt < PLAIN_PROGRESS_EVERY_MS) return;
      stdout(line + '\n');
      this.lastLineAt = this.now();
      return;
    }
    stdout(`\r${line.slice(0, (process.stdout.columns || 100) - 1)}\x1b[K`);
    this.live = true;
  }

  /** before any other line: clears the live line, and restarts the plain-progress clock */
  private clearLive(): void {
    this.lastLineAt = this.now();
    if (this.live) { stdout('\r\x1b[K'); this.live = false; }
  }
}
