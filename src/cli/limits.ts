// The process limits bptt needs, checked before anything heavy is loaded: with too few open files
// Node's own module loader fails mid-import (a stack trace), and with too little address space V8
// cannot reserve the virtual memory of a WebAssembly memory ("could not allocate memory", or a
// crash). Read from /proc/self/limits (Linux); elsewhere nothing is checked. Measured on the 2-core
// VM with 2 workers: 64 open files fail and 100 run; 12.5 GB of address space crashes, 14.5 GB runs.

import { readFileSync } from 'node:fs';

/** The soft limits bptt asks for, with headroom over what was measured to run. */
export const MIN_OPEN_FILES = 128;
export const MIN_ADDRESS_SPACE_BYTES = 16 * 2 ** 30;

/** The soft limit named `name` in /proc/self/limits (null: unlimited or unknown). */
function softLimit(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(name));
  const soft = line?.slice(name.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' || !/^\d+$/.test(soft) ? null : Number(soft);
}

/** A sentence saying which limit is too low and how to raise it, or null. */
export function limitsProblem(limitsText?: string): string | null {
  let text = limitsText;
  if (text === undefined) {
    try { text = readFileSync('/proc/self/limits', 'utf8'); } catch { return null; }
  }
  const files = softLimit(text, 'Max open files');
  if (files !== null && files < MIN_OPEN_FILES) {
    return `the open-file limit is ${files} (ulimit -n); bptt needs at least ${MIN_OPEN_FILES} (Node's module loader, the worker threads, the run's files): raise it, e.g. ulimit -n 1024`;
  }
  const space = softLimit(text, 'Max address space');
  if (space !== null && space < MIN_ADDRESS_SPACE_BYTES) {
    return `the address-space limit is ${(space / 2 ** 30).toFixed(1)} GiB (ulimit -v); bptt needs at least ${MIN_ADDRESS_SPACE_BYTES / 2 ** 30} GiB ` +
      '(V8 reserves far more virtual memory for each WebAssembly memory than it uses): raise it, e.g. ulimit -v unlimited';
  }
  return null;
}
