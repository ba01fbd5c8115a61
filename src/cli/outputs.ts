// Files a command writes: nothing is overwritten without --force, and never a file the command
// reads (with or without --force): `export --checkpoint X --out X` would destroy its own input.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../util/errors.js';

/** The path with its directory resolved through links (the file itself may not exist yet). */
function canonical(path: string): string {
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

/**
 * Refuses `path` as an output when it is one of `reads`, a directory, or an existing file without
 * `force`. `flag` names the option in the message.
 */
export function checkOutputFile(path: string, flag: string, opts: { force: boolean; reads?: string[] }): void {
  const target = canonical(path);
  for (const input of opts.reads ?? []) {
    if (canonical(input) === target) throw new InputError(`${flag} ${path}: is the file this command reads; choose another file`);
  }
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) throw new InputError(`${flag} ${path}: is a directory`);
  if (!opts.force) throw new InputError(`${flag} ${path}: exists; pass --force to overwrite it`);
}
