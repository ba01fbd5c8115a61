// Terminal output: plain lines when stdout is not a terminal (CI, pipes), a live progress line
// when it is, JSON lines with --log-json, nothing but errors with --quiet.

import type { EpochMetrics } from '../train/trainer.js';
import { out as stdout, err as stderr } from './stdio.js';

export interface OutputMode {
  quiet: boolean;
  json: boolean;
  tty: boolean;
}

export function fmtNum(x: number | null, digits = 3): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(digits);
}

/** Without a terminal, a plain progress line at most this often (a long epoch is not silence). */
export const PLAIN_PROGRESS_EVERY_MS = 30_000;

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

  epoch(m: EpochMetrics, total: number): void {
    if (this.mode.quiet) return;
    this.clearLive();
    if (this.mode.json) { stdout(JSON.stringify({ event: 'epoch', ...m }) + '\n'); return; }
    const w = String(total).length;
    stdout(
      `epoch ${String(m.epoch).padStart(w)}/${total}  ppl ${fmtNum(m.train_ppl, 4).padStart(7)}` +
      `${m.val_ppl !== null ? `  val ${fmtNum(m.val_ppl, 4).padStart(7)}` : ''}` +
      `  ${fmtNum(m.tokens_per_s).padStart(7)} tok/s  ${m.gflops.toFixed(1).padStart(5)} GFLOP/s` +
      `  |g| ${fmtNum(m.grad_norm)} (clipped ${(100 * m.clipped_fraction).toFixed(0)}%)  ${m.epoch_s.toFixed(2)} s\n`);
  }

  samples(epoch: number, samples: string[]): void {
    if (this.mode.quiet) return;
    this.clearLive();
    if (this.mode.json) { stdout(JSON.stringify({ event: 'samples', epoch, samples }) + '\n'); return; }
    for (const s of samples) stdout(` - ${oneLine(s)}\n`);
  }

  progress(epoch: number, i: number, n: number, ppl: number, tokensPerS: number, etaS: number): void {
    if (this.mode.quiet || this.mode.json) return;
    const line = `epoch ${epoch}  minibatch ${i}/${n}  ppl ${fmtNum(ppl, 4)}  ${fmtNum(tokensPerS)} tok/s  ETA ${formatDuration(etaS)}`;
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

/** A sample on one line: newlines shown as ↵ so each sample stays one line of the log. */
export function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '↵');
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
