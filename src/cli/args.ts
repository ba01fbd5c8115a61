// The command line's own number arguments (not config keys, which the schema checks): parsed
// strictly, each error naming the flag.

import { InputError } from '../util/errors.js';

export function positiveInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`${name} ${s}: must be a positive integer`);
  return n;
}

export function portNumber(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new InputError(`--port ${s}: must be an integer in 0..65535 (0: any free port)`);
  return n;
}

export function nonNegInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} ${s}: must be an integer >= 0`);
  return n;
}
