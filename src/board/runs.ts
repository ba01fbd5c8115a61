// What the board reads: the runs under the directories it was given, and each run's files while a
// trainer is writing them. Only the run files' fixed names are ever opened, and only where their
// real path (links resolved) lies inside a given directory: nothing the page asks for names a path.
//
// metrics.jsonl and samples.txt are appended to by a live run, so they are read as tails: from the
// byte after the last complete line read, never past the last newline (a torn last line waits for
// its end). A file that shrank or was replaced (a resumed run cuts its metrics back to its
// checkpoint, by an atomic rename) is read again from the start and reported as a reset.

import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { resolveConfig } from '../config/load.js';
import { storedConfigDefaults } from '../config/schema.js';
import { describeModel, modelOf } from '../model/desc.js';
import { pidAlive } from '../io/safe_write.js';
import { LOCK_FILE, RUN_FILES, RunDir } from '../train/rundir.js';

/** How deep below a given directory runs are looked for (runs/ -> runs/sweep -> runs/sweep/lr=1). */
const SCAN_DEPTH = 2;
/** Samples kept per run for the page (the latest). */
export const SAMPLES_KEPT = 12;
/** A tail reads at most this much per poll, so a huge file cannot stall the server. */
const MAX_READ_BYTES = 8 << 20;

export interface RunMeta {
  id: string;
  /** the run's path from its given directory's parent: runs/mine, runs/sweep/lr=1 */
  name: string;
  /** "LSTM H=512, adamw lr 0.02, data file my.txt" or why the config could not be read */
  model: string;
  status: 'running' | 'completed' | 'early_stop' | 'interrupted' | 'stopped';
}

export interface Sample {
  step: number;
  epoch: number;
  text: string;
}

export type MetricRow = Record<string, unknown>;

/** Is `path` (links resolved) inside one of `roots` (real paths)? */
function inside(roots: readonly string[], path: string): boolean {
  let real: string;
  try { real = realpathSync(path); } catch { return false; }
  return roots.some((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep));
}

/** The run directories under `roots` (each a run itself, or holding runs up to SCAN_DEPTH below), with the root each is under. */
export function findRunDirs(roots: readonly string[], realRoots: readonly string[]): Array<{ dir: string; root: string }> {
  const found: Array<{ dir: string; root: string }> = [];
  let root = '';
  const visit = (dir: string, depth: number) => {
    if (!inside(realRoots, dir)) return;
    if (new RunDir(dir).exists()) { if (!found.some((f) => f.dir === dir)) found.push({ dir, root }); return; }
    if (depth >= SCAN_DEPTH) return;
    let entries: string[];
    try { entries = readdirSync(dir).sort(); } catch { return; }
    for (const e of entries) {
      if (e.startsWith('.')) continue;
      const p = join(dir, e);
      try { if (statSync(p).isDirectory()) visit(p, depth + 1); } catch { /* gone meanwhile */ }
    }
  };
  for (const r of roots) {
    root = r;
    visit(r, 0);
  }
  return found;
}

/** A file appended to by another process, read line by line as it grows. */
export class LineTail {
  private offset = 0;
  private ino: number | null = null;

  constructor(private readonly path: string) {}

  /** New complete lines since the last call; reset: the file was replaced or cut, lines are all of it. */
  poll(): { reset: boolean; lines: string[] } {
    let fd: number;
    try { fd = openSync(this.path, 'r'); } catch {
      const reset = this.ino !== null;
      this.ino = null;
      this.offset = 0;
      return { reset, lines: [] };
    }
    try {
      const st = fstatSync(fd);
      let reset = false;
      if (!st.isFile()) return { reset: false, lines: [] };
      if (this.ino !== null && (st.ino !== this.ino || st.size < this.offset)) {
        reset = true;
        this.offset = 0;
      }
      this.ino = st.ino;
      const want = Math.min(st.size - this.offset, MAX_READ_BYTES);
      if (want <= 0) return { reset, lines: [] };
      const buf = Buffer.alloc(want);
      const got = readSync(fd, buf, 0, want, this.offset);
      const end = buf.subarray(0, got).lastIndexOf(0x0a);
      if (end < 0) return { reset, lines: [] }; // a torn line: wait for its end
      this.offset += end + 1;
      return { reset, lines: buf.subarray(0, end).toString('utf8').split('\n') };
    } finally {
      closeSync(fd);
    }
  }
}

/** "minibatch 120 (epoch 1.50): text" -> a sample */
export function parseSampleLine(line: string): Sample | null {
  const m = /^minibatch (\d+) \(epoch ([\d.]+)\): (.*)$/s.exec(line);
  return m ? { step: Number(m[1]), epoch: Number(m[2]), text: m[3].replace(/↵/g, '\n') } : null;
}

/** One run as the board follows it. */
export class WatchedRun {
  rows: MetricRow[] = [];
  samples: Sample[] = [];
  meta: RunMeta;
  private readonly metrics: LineTail;
  private readonly sampleTail: LineTail;
  private configMtimeMs = -1;

  /** `root`: the given directory it was found under (its name starts the run's: runs/sweep/lr=1) */
  constructor(readonly id: string, readonly dir: string, root: string, private readonly realRoots: readonly string[]) {
    this.metrics = new LineTail(join(dir, RUN_FILES.metrics));
    this.sampleTail = new LineTail(join(dir, RUN_FILES.samples));
    this.meta = { id, name: relative(dirname(root), dir) || dir, model: '', status: 'stopped' };
  }

  /** A run file, only if it really lies inside the board's directories (a link out of them is not followed). */
  private file(name: keyof typeof RUN_FILES | typeof LOCK_FILE): string | null {
    const p = join(this.dir, name === LOCK_FILE ? LOCK_FILE : RUN_FILES[name]);
    return existsSync(p) && inside(this.realRoots, p) ? p : null;
  }

  /** Reads what changed; returns what to tell the page (null parts: unchanged). */
  poll(): { meta: RunMeta | null; rows: { reset: boolean; rows: MetricRow[] } | null; samples: { reset: boolean; samples: Sample[] } | null } {
    const metaBefore = JSON.stringify(this.meta);
    this.meta = { ...this.meta, model: this.describe(), status: this.status() };
    let rows = null, samples = null;
    if (this.file('metrics') !== null || this.rows.length > 0) {
      const t = this.metrics.poll();
      const parsed = t.lines.flatMap((l) => {
        try {
          const v = JSON.parse(l) as unknown;
          return v !== null && typeof v === 'object' && !Array.isArray(v) ? [v as MetricRow] : [];
        } catch { return []; } // a damaged line in the middle: skipped, the rest still drawn
      });
      if (t.reset) this.rows = [];
      this.rows.push(...parsed);
      if (t.reset || parsed.length > 0) rows = { reset: t.reset, rows: t.reset ? this.rows : parsed };
    }
    if (this.file('samples') !== null || this.samples.length > 0) {
      const t = this.sampleTail.poll();
      const parsed = t.lines.map(parseSampleLine).filter((s): s is Sample => s !== null);
      if (t.reset) this.samples = [];
      this.samples = [...this.samples, ...parsed].slice(-SAMPLES_KEPT);
      if (t.reset || parsed.length > 0) samples = { reset: true, samples: this.samples };
    }
    return { meta: JSON.stringify(this.meta) !== metaBefore ? this.meta : null, rows, samples };
  }

  private describe(): string {
    const path = this.file('config');
    if (!path) return this.meta.model || 'no config.yaml yet';
    let mtime: number;
    try { mtime = statSync(path).mtimeMs; } catch { return this.meta.model; }
    if (mtime === this.configMtimeMs) return this.meta.model;
    this.configMtimeMs = mtime;
    try {
      const c = resolveConfig(path, [], storedConfigDefaults()).config;
      const data = c.data.path ? basename(c.data.path) : `built-in ${c.data.builtin}`;
      return `${describeModel(modelOf(0, c.model))}, ${c.optim.kind} lr ${c.optim.lr}, B=${c.data.batch} T=${c.data.steps}, ${data}`;
    } catch (err) {
      return `config.yaml unreadable: ${(err as Error).message}`;
    }
  }

  private status(): RunMeta['status'] {
    const lock = this.file(LOCK_FILE);
    if (lock) {
      try {
        const holder = JSON.parse(readFileSync(lock, 'utf8')) as { pid?: unknown };
        if (typeof holder.pid === 'number' && pidAlive(holder.pid)) return 'running';
      } catch { /* a torn lock: its writer is starting or died */ }
    }
    const summary = this.file('summary');
    if (summary) {
      try {
        const s = JSON.parse(readFileSync(summary, 'utf8')) as { outcome?: unknown };
        if (s.outcome === 'completed' || s.outcome === 'early_stop' || s.outcome === 'interrupted') return s.outcome;
      } catch { /* being replaced */ }
    }
    return 'stopped';
  }
}
