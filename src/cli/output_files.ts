// Files a command writes: nothing is overwritten without --force, never something that is not a
// regular file (with --force, a rename over /dev/null or a FIFO would replace it), and never a file
// the command reads, with or without --force (`export --checkpoint X --out X`, `compare runs/A --svg
// runs/A/metrics.jsonl`, `bench --data c.txt --json c.txt` would destroy their own input). Paths are
// compared resolved, through symbolic links.

import { statSync } from 'node:fs';
import { canonicalPath, describeNonRegular } from '../io/files.js';
import { InputError } from '../util/errors.js';

/**
 * Refuses `path` as an output when it is one of `reads`, exists and is not a regular file, or
 * exists without `force`. `flag` names the option in the message.
 */
export function checkOutputFile(path: string, flag: string, opts: { force: boolean; reads?: string[] }): void {
  const target = canonicalPath(path);
  for (const input of opts.reads ?? []) {
    if (canonicalPath(input) === target) throw new InputError(`${flag} ${path}: is a file this command reads (${input}); choose another file`);
  }
  let st;
  try { st = statSync(path); } catch { return; }
  if (!st.isFile()) throw new InputError(`${flag} ${path}: is ${describeNonRegular(st)}, not a regular file; bptt writes only regular files (it would replace it), choose another path`);
  if (!opts.force) throw new InputError(`${flag} ${path}: exists; pass --force to overwrite it`);
}
