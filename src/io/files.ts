// Reading input files with bounds: only regular files (a FIFO would block forever, /dev/zero never
// ends), never more than a stated number of bytes, and every failure one InputError naming the
// file. `what` is how messages name it ("config", "data file", "checkpoint", ...).

import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../util/errors.js';
import { describeFsError } from './safe_write.js';

export const MiB = 1 << 20;

function open(path: string, what: string): { fd: number; size: number } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise block before we can fstat it
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${what} ${path}: ${code === 'ENOENT' ? 'no such file' : describeFsError(err)}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a pipe (FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new InputError(`${what} ${path}: is ${kind}; give a regular file`);
  }
  return { fd, size: st.size };
}

/**
 * The first `maxBytes` bytes of a regular file (all of it if smaller). With `refuseLarger`, a file
 * over the cap is an error instead of being cut.
 */
export function readRegularFile(path: string, what: string, maxBytes: number, refuseLarger: boolean): { bytes: Buffer; size: number } {
  const { fd, size } = open(path, what);
  try {
    if (refuseLarger && size > maxBytes) {
      throw new InputError(`${what} ${path}: ${size.toLocaleString('en-US')} bytes; the limit is ${maxBytes.toLocaleString('en-US')}`);
    }
    const want = Math.min(size, maxBytes);
    const bytes = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, bytes, got, want - got, got);
      if (n === 0) break; // the file shrank while we read it
      got += n;
    }
    return { bytes: got === want ? bytes : bytes.subarray(0, got), size };
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${what} ${path}: ${describeFsError(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** Throws unless `path` is a regular file (does not read it). */
export function assertRegularFile(path: string, what: string): void {
  closeSync(open(path, what).fd);
}

/** The path with its links resolved (the file itself may not exist yet: then its directory's). */
export function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/** What a path that is not a regular file is, for messages: "a directory", "a character device (e.g. /dev/null)"... */
export function describeNonRegular(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}
