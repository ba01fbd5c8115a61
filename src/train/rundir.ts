// The run directory: config.yaml (resolved), metrics.jsonl (one object per report: each evaluation
// and each epoch end; trainer.ts Report), samples.txt,
// last.safetensors (latest checkpoint) and best.safetensors (best validation perplexity).
// An existing run is never overwritten without --force, and --force removes only these files.

import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { TrainConfig } from '../config/schema.js';
import { appendWhole, describeFsError, pidAlive, processStartTicks, writeAllSync, writeFileAtomic } from '../io/safe_write.js';
import { canonicalPath, describeNonRegular } from '../io/files.js';
import { lineChart } from '../io/svg.js';
import { InputError } from '../util/errors.js';
import { isBetter } from './trainer.js';

/** The run directory's single-writer lock (not one of RUN_FILES: --force never removes it). */
export const LOCK_FILE = '.lock';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
  /** the holder's start time in clock ticks since boot (/proc): with pid, what identifies it */
  pidStart?: number | null;
}

/** The first line of every config.yaml a run writes: tells a run's config from a user's file. */
export const CONFIG_HEADER = '# resolved configuration of this run (bptt)';

export const RUN_FILES = {
  config: 'config.yaml',
  metrics: 'metrics.jsonl',
  samples: 'samples.txt',
  last: 'last.safetensors',
  best: 'best.safetensors',
  curves: 'curves.svg',
  summary: 'summary.json',
  /** rows a resume cut from metrics.jsonl (written after the checkpoint it continues, before a crash) */
  superseded: 'metrics.superseded.jsonl',
} as const;

export interface RunSummary {
  outcome: 'completed' | 'early_stop' | 'interrupted';
  /** epochs completed (fractional for a run that ended mid-epoch) and minibatches */
  epochs: number;
  steps: number | null;
  final_train_ppl: number | null;
  final_train_loss: number | null;
  final_val_ppl: number | null;
  final_val_loss: number | null;
  best_val_ppl: number | null;
  /** nats per character */
  best_val_loss: number | null;
  best_val_epoch: number | null;
  best_val_step: number | null;
  median_tokens_per_s: number | null;
  elapsed_s: number;
  [extra: string]: unknown;
}

/** The error code of writing into the nearest existing ancestor of `dir`, or null if writable. */
function ancestorAccessError(dir: string): string | null {
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? null;
  }
}

/** Parses a JSON-lines file; tolerates a torn last line (dropped, with a warning). */
export function readJsonLines(path: string, warn: (msg: string) => void): unknown[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: unknown[] = [];
  lines.forEach((line, k) => {
    if (!line.trim()) return;
    try {
      const v = JSON.parse(line) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      out.push(v);
    } catch {
      const isLast = lines.slice(k + 1).every((l) => !l.trim());
      if (!isLast) throw new InputError(`${path}:${k + 1}: not a JSON object; the file is damaged`);
      warn(`${path}:${k + 1}: dropped a torn last line (the run was stopped mid-write)`);
    }
  });
  return out;
}

export class RunDir {
  constructor(readonly dir: string) {}

  path(file: keyof typeof RUN_FILES): string {
    return join(this.dir, RUN_FILES[file]);
  }

  /** A run is there: a checkpoint, metrics, or a config.yaml that a run wrote (not a user's own file). */
  exists(): boolean {
    if (existsSync(this.path('last')) || existsSync(this.path('metrics'))) return true;
    try {
      return readFileSync(this.path('config'), 'utf8').startsWith(CONFIG_HEADER);
    } catch {
      return false;
    }
  }

  /**
   * Before anything is written or removed: every file of the run that exists must be a regular file
   * (a directory or device named metrics.jsonl is not replaced, nor removed by --force), and none
   * may be a file the command reads (its --config, --data or --init: --force would destroy it).
   */
  checkFiles(reads: Array<{ flag: string; path: string }>): void {
    for (const f of Object.keys(RUN_FILES) as (keyof typeof RUN_FILES)[]) {
      const p = this.path(f);
      let st;
      try { st = statSync(p); } catch { continue; } // absent (or a dangling link): nothing to protect
      const kind = st.isFile() ? null : describeNonRegular(st);
      if (kind) throw new InputError(`output ${this.dir}: ${RUN_FILES[f]} is ${kind}; a run writes only regular files there: move it away or choose another --out`);
      for (const r of reads) {
        if (canonicalPath(r.path) === canonicalPath(p)) {
          throw new InputError(`${r.flag} ${r.path}: is this run directory's ${RUN_FILES[f]}, which the run writes; copy it elsewhere or choose another --out`);
        }
      }
    }
  }

  private lockHeld = false;

  /**
   * Makes this process the directory's one writer: creates .lock exclusively (O_EXCL) with our pid,
   * host and start time. A lock whose process is gone (same host) is taken over with a warning; a
   * live one is an error (exit 2) naming its holder. Creates the directory if needed.
   */
  lock(warn: (msg: string) => void): void {
    this.ensureDir();
    const path = join(this.dir, LOCK_FILE);
    const mine: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), pidStart: processStartTicks(process.pid) };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        try { writeAllSync(fd, Buffer.from(JSON.stringify(mine) + '\n')); } finally { closeSync(fd); }
        this.lockHeld = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new InputError(`output ${this.dir}: cannot create ${LOCK_FILE}: ${describeFsError(err)}`);
      }
      if (statSync(path).isDirectory()) throw new InputError(`output ${this.dir}: ${path} is a directory, not a bptt lock; remove it`);
      let holder: LockInfo | null = null;
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
        // a lock without a pid and host is as unreadable as a torn one (damaged, or not bptt's)
        if (holder === null || typeof holder !== 'object' || !Number.isInteger(holder.pid) || typeof holder.host !== 'string') holder = null;
      } catch { /* unreadable or torn: its writer died while writing it */ }
      if (holder && holder.host !== mine.host) {
        throw new InputError(`output ${this.dir}: in use by pid ${holder.pid} on host ${holder.host} since ${holder.started}; ` +
          `if that run is gone, remove ${path}`);
      }
      // the holder is alive only if its pid is, with the same start time (a reused pid is another process)
      const startNow = holder ? processStartTicks(holder.pid) : null;
      const sameProcess = holder !== null && pidAlive(holder.pid) &&
        (typeof holder.pidStart !== 'number' || startNow === null || startNow === holder.pidStart);
      if (holder && sameProcess) {
        throw new InputError(`output ${this.dir}: another bptt (pid ${holder.pid}, started ${holder.started}) is writing this run directory; ` +
          `wait for it, stop it, or choose another --out (if no bptt is running there, remove ${path})`);
      }
      warn(`output ${this.dir}: taking over a stale lock (${holder ? `pid ${holder.pid}, started ${holder.started}, is gone` : 'unreadable lock file'})`);
      try { unlinkSync(path); } catch { /* another process took it over first: retry decides */ }
    }
    throw new InputError(`output ${this.dir}: could not take the lock ${path}`);
  }

  /** Removes our lock (only if it is still ours). */
  unlock(): void {
    if (!this.lockHeld) return;
    this.lockHeld = false;
    const path = join(this.dir, LOCK_FILE);
    try {
      const holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      if (holder.pid === process.pid) unlinkSync(path);
    } catch { /* gone already */ }
  }

  private ensureDir(): void {
    if (existsSync(this.dir) && !statSync(this.dir).isDirectory()) throw new InputError(`output ${this.dir}: exists and is not a directory`);
    try {
      mkdirSync(this.dir, { recursive: true });
      accessSync(this.dir, constants.W_OK);
    } catch (err) {
      let code = (err as NodeJS.ErrnoException).code;
      // a recursive mkdir on a read-only mount reports ENOENT: ask the nearest existing ancestor
      if (code === 'ENOENT') code = ancestorAccessError(this.dir) ?? code;
      const why = code === 'EROFS' ? 'not writable (read-only file system)' : code === 'EACCES' ? 'not writable (permission denied)'
        : code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path is a file, not a directory'
        : describeFsError(err);
      throw new InputError(`output ${this.dir}: ${why}`);
    }
  }

  /**
   * Before a new run touches anything: the directory must be new, empty, or a bptt run (replaced
   * only with --force). A directory holding anything else (the user's own files, a project, /) is
   * not written into without --force, and the refusal names what would be replaced.
   */
  checkNewRunTarget(force: boolean): void {
    if (resolve(this.dir) === resolve('/')) throw new InputError(`output ${this.dir}: the root directory is never a run directory; choose another --out`);
    let entries: string[];
    try {
      if (!statSync(this.dir).isDirectory()) return; // ensureDir says what is wrong with it
      entries = readdirSync(this.dir).filter((e) => e !== LOCK_FILE);
    } catch { return; } // absent: created by lock()
    if (entries.length === 0 || force) return;
    if (this.exists()) throw new InputError(`output ${this.dir}: a run already exists there; pass --force to overwrite it, or resume it with "bptt resume ${this.dir}"`);
    const runNames: string[] = Object.values(RUN_FILES);
    const replaced = entries.filter((e) => runNames.includes(e));
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, ... (${entries.length} entries)` : '');
    throw new InputError(`output ${this.dir}: is not empty and is not a bptt run (it holds ${shown}); ` +
      `${replaced.length > 0 ? `a run would replace ${replaced.join(', ')}` : 'a run would add its files among them'}: ` +
      'choose a new or empty directory, or pass --force to write there');
  }

  /** Clears (with force) the directory for a new run; call after lock(). */
  createFresh(force: boolean): void {
    this.ensureDir();
    if (this.exists()) {
      if (!force) throw new InputError(`output ${this.dir}: a run already exists there; pass --force to overwrite it, or resume it with "bptt resume ${this.dir}"`);
      for (const f of Object.keys(RUN_FILES) as (keyof typeof RUN_FILES)[]) if (existsSync(this.path(f))) unlinkSync(this.path(f));
    }
  }

  writeConfig(config: TrainConfig): void {
    writeFileAtomic(this.path('config'), `${CONFIG_HEADER}\n${stringify(config)}`);
  }

  appendMetrics(m: object): void {
    appendWhole(this.path('metrics'), JSON.stringify(m) + '\n');
  }

  appendSamples(step: number, epoch: number, samples: string[]): void {
    const at = `minibatch ${step} (epoch ${Number.isInteger(epoch) ? epoch : epoch.toFixed(2)})`;
    appendWhole(this.path('samples'), samples.map((s) => `${at}: ${s.replace(/\r?\n/g, '↵')}\n`).join(''));
  }

  /** metrics.jsonl; a torn last line (a crash mid-append) is dropped with a warning, a bad line elsewhere is an error */
  readMetrics(warn: (msg: string) => void = (msg) => process.stderr.write(`bptt: warning: ${msg}\n`)): Record<string, number | null>[] {
    return readJsonLines(this.path('metrics'), warn) as Record<string, number | null>[];
  }

  /**
   * summary.json and curves.svg from metrics.jsonl; returns the summary. `kept`: the best the run
   * holds in best.safetensors, when it is not a row of metrics.jsonl (reached after the checkpoint a
   * resume continued: its row is in metrics.superseded.jsonl): the summary names it, as the file holds it.
   */
  writeSummary(outcome: 'completed' | 'early_stop' | 'interrupted', extra: Record<string, unknown>,
    kept: { loss: number; step: number; epoch: number } | null = null): RunSummary {
    const m = this.readMetrics();
    const last = m[m.length - 1];
    // rows written before validation losses were recorded carry only val_ppl
    const valLoss = (x: Record<string, number | null>) => (typeof x.val_loss === 'number' ? x.val_loss : typeof x.val_ppl === 'number' ? Math.log(x.val_ppl) : null);
    const withVal = m.filter((x) => valLoss(x) !== null);
    // the trainer's rule for best (finite, strictly lower: the first of equals wins)
    const fromRows = withVal.reduce<Record<string, number | null> | null>((b, x) => (isBetter(valLoss(x), b === null ? null : valLoss(b)) ? x : b), null);
    const best = kept && isBetter(kept.loss, fromRows === null ? null : valLoss(fromRows)) ? { val_loss: kept.loss, step: kept.step, epoch: kept.epoch } : fromRows;
    const lastVal = withVal[withVal.length - 1];
    const tps = m.map((x) => x.tokens_per_s as number).sort((a, b) => a - b);
    const finite = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
    const summary: RunSummary = {
      outcome,
      epochs: (last?.epoch as number) ?? 0,
      steps: (last?.step as number) ?? null,
      final_train_ppl: finite(last?.train_ppl),
      final_train_loss: finite(last?.train_loss) ?? (typeof last?.train_ppl === 'number' ? Math.log(last.train_ppl) : null),
      final_val_ppl: finite(lastVal?.val_ppl),
      final_val_loss: lastVal ? valLoss(lastVal) : null,
      best_val_ppl: best ? finite(Math.exp(valLoss(best)!)) : null,
      best_val_loss: best ? valLoss(best) : null,
      best_val_epoch: (best?.epoch as number) ?? null,
      best_val_step: (best?.step as number) ?? null,
      median_tokens_per_s: tps.length ? tps[Math.floor(tps.length / 2)] : null,
      elapsed_s: (last?.elapsed_s as number) ?? 0,
      ...extra,
    };
    writeFileAtomic(this.path('summary'), JSON.stringify(summary, null, 2) + '\n');
    if (m.length > 0) {
      writeFileAtomic(this.path('curves'), lineChart([
        { name: 'train', points: m.map((x) => [x.epoch as number, x.train_ppl as number]) },
        ...(withVal.length ? [{ name: 'validation', points: withVal.map((x) => [x.epoch as number, x.val_ppl as number] as [number, number]) }] : []),
      ], { title: `perplexity, ${this.dir}`, xLabel: 'epoch', yLabel: 'perplexity', logY: true }));
    }
    return summary;
  }

  /** On resume: samples taken after the checkpoint are taken again by the resumed run (the same text): drop the first copies. */
  private truncateSamples(step: number): void {
    if (!existsSync(this.path('samples'))) return;
    const lines = readFileSync(this.path('samples'), 'utf8').split('\n').filter((l) => l !== '');
    const kept = lines.filter((l) => { const m = /^minibatch (\d+) /.exec(l); return m === null || Number(m[1]) <= step; });
    if (kept.length !== lines.length) writeFileAtomic(this.path('samples'), kept.map((l) => l + '\n').join(''));
  }

  /**
   * On resume: the metric rows past the checkpoint (written after it, before a crash) leave
   * metrics.jsonl, which the resumed run writes again from there; they are kept, appended to
   * metrics.superseded.jsonl, so what the lost stretch recorded (a best among it) is not lost.
   */
  truncateMetrics(step: number, epoch: number): void {
    this.truncateSamples(step);
    // rows from before reports carried their step are per epoch
    const past = (m: Record<string, number | null>) => (typeof m.step === 'number' ? m.step > step : (m.epoch as number) > epoch);
    const rows = this.readMetrics();
    const cut = rows.filter(past);
    if (cut.length > 0) appendWhole(this.path('superseded'), cut.map((m) => JSON.stringify({ ...m, superseded_at: new Date().toISOString() }) + '\n').join(''));
    // rewritten even when nothing was cut: a torn last line (dropped by readMetrics) must not stay
    // for the resumed run's rows to be appended to
    writeFileAtomic(this.path('metrics'), rows.filter((m) => !past(m)).map((m) => JSON.stringify(m) + '\n').join(''));
  }
}
