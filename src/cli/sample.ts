// `bptt sample`: the flags checked and named, then the library's Model.sample.

import { load, MAX_SAMPLE_LENGTH } from '../api/model.js';
import { InputError } from '../util/errors.js';
import { nonNegInt, positiveInt } from './args.js';
import { out as stdout } from './stdio.js';

export function sampleCommand(opts: Record<string, string>): void {
  const length = positiveInt(opts.length, '--length');
  if (length > MAX_SAMPLE_LENGTH) throw new InputError(`--length ${opts.length}: at most ${MAX_SAMPLE_LENGTH.toLocaleString('en-US')} characters`);
  const seed = nonNegInt(opts.seed, '--seed');
  if (seed > 0xffffffff) throw new InputError(`--seed ${opts.seed}: must be an integer in 0..4294967295`);
  const temperature = Number(opts.temperature);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError(`--temperature ${opts.temperature}: must be a finite number >= 0`);
  const topK = nonNegInt(opts.topK, '--top-k');
  stdout(load(opts.checkpoint).sample(opts.prefix, { length, temperature, topK, seed }) + '\n');
}
