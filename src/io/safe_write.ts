// Writes that never leave a torn or short file behind.
//
// - writeAllSync: a write(2) may write fewer bytes than asked (a full disk does exactly that, and
//   Node reports it as a count, not an error); we loop until every byte is out, and a write that
//   makes no progress is ENOSPC.
// - writeFileAtomic: a temporary file created exclusively next to the target, every byte written,
//   fsynced, its size checked (and the caller's own check, e.g. "the safetensors header parses"),
//   then renamed over the target and the directory fsynced. Any failure removes the temporary file
//   and leaves the previous file untouched. Temporaries left by a killed writer (their pid is
//   gone) are removed by the next writer of the same file.
// - appendWhole: an append that lands whole or not at all (truncated back on failure), for
//   line-oriented logs like metrics.jsonl.
// Every failure is one InputError line naming the file and the cause (disk full, read-only, ...).

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../util/errors.js';

/** A human cause for a filesystem error code. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOSPC': return 'no space left on device (the previous file, if any, is unchanged)';
    case 'EDQUOT': return 'disk quota exceeded (the previous file, if any, is unchanged)';
    case 'EROFS': return 'read-only file system';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOENT': return 'directory does not exist';
    case 'ENOTDIR': return 'a part of the path is a file, not a directory';
    case 'EISDIR': return 'is a directory';
    case 'EIO': return 'input/output error';
    default: return e.message ?? String(err);
  }
}

function enospc(): NodeJS.ErrnoException {
  const e = new Error('no space left on device') as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  return e;
}

type WriteFn = (fd: number, buf: Uint8Array, offset: number, length: number) => number;

/** Writes all of `buf` at the file position, looping over short writes (`write`: for tests). */
export function writeAllSync(fd: number, buf: Uint8Array, write: WriteFn = writeSync): void {
  let done = 0;
  while (done < buf.length) {
    const n = write(fd, buf, done, buf.length - done);
    if (n <= 0) throw enospc(); // no progress: the device is full
    done += n;
  }
}

/** Is this process alive on this host? (ESRCH: gone; EPERM: alive, not ours) */
/**
 * When process `pid` started, in clock ticks since boot (Linux /proc/PID/stat field 22), or null
 * where /proc cannot tell. A pid names one process only together with its start time: pids are
 * reused, and a lock naming a live pid may name a process that never was a bptt.
 */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const TMP_RE = /^(.*)\.(\d+)\.tmp$/;

/** Removes `${path}.<pid>.tmp` files whose writer is gone (killed mid-write). */
export function removeStaleTemps(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || m[1] !== base) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch { /* raced with another cleaner */ }
  }
  return removed;
}

export interface AtomicWriteOptions {
  /** checks the complete temporary file before it replaces the target; throws to refuse it */
  verify?: (tmpPath: string) => void;
}

/** Writes `bytes` to `path` atomically; on any failure the previous file stays as it was. */
export function writeFileAtomic(path: string, bytes: Buffer | string, opts: AtomicWriteOptions = {}): void {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  removeStaleTemps(path);
  const tmp = `${path}.${process.pid}.tmp`;
  let fd = -1;
  try {
    try { unlinkSync(tmp); } catch { /* ours from an earlier failed attempt, if any */ }
    fd = openSync(tmp, 'wx');
    writeAllSync(fd, data);
    fsyncSync(fd);
    const size = fstatSync(fd).size;
    if (size !== data.length) throw new Error(`wrote ${size} of ${data.length} bytes`);
    closeSync(fd);
    fd = -1;
    opts.verify?.(tmp);
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* nothing to clean */ }
    if (err instanceof InputError) throw new InputError(`cannot write ${path}: ${err.message}`, err.exitCode);
    throw new InputError(`cannot write ${path}: ${describeFsError(err)}`);
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch { /* directory fsync is best effort (not supported everywhere) */ }
}

/**
 * Appends `text` whole: on a failed or short write the file is truncated back to its old size, so
 * a log never gains half a line. (A crash in the middle can still tear the last line: readers drop
 * a torn last line.)
 */
export function appendWhole(path: string, text: string): void {
  let fd = -1;
  let before = -1;
  try {
    fd = openSync(path, 'a');
    before = fstatSync(fd).size;
    writeAllSync(fd, Buffer.from(text));
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    if (fd >= 0) {
      if (before >= 0) try { ftruncateSync(fd, before); } catch { /* best effort */ }
      try { closeSync(fd); } catch { /* already failing */ }
    }
    throw new InputError(`cannot append to ${path}: ${describeFsError(err)}`);
  }
}
