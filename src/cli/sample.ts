// `bptt sample`: the flags checked and named, then the library's Model.sample, its text streamed
// to stdout as it is generated (a million characters take a while on one thread), and a Ctrl-C
// stops it with what was generated so far printed (exit 130; a second one quits at once).

import { load, MAX_SAMPLE_LENGTH } from '../api/model.js';
import { InputError } from '../util/errors.js';
import { runSliced } from '../util/slices.js';
import { nonNegInt, positiveInt } from './args.js';
import { err as stderr, out as stdout } from './stdio.js';
import { exitCodeOf, STOP_SIGNALS } from './train.js';

/** Generated text is written in pieces of about this many characters. */
const FLUSH_CHARS = 4096;

export async function sampleCommand(opts: Record<string, string | undefined>): Promise<number> {
  const length = positiveInt(opts.length!, '--length');
  if (length > MAX_SAMPLE_LENGTH) throw new InputError(`--length ${opts.length}: at most ${MAX_SAMPLE_LENGTH.toLocaleString('en-US')} characters`);
  const seed = nonNegInt(opts.seed!, '--seed');
  if (seed > 0xffffffff) throw new InputError(`--seed ${opts.seed}: must be an integer in 0..4294967295`);
  const model = load(opts.checkpoint!);
  // the run's own sampling temperature unless one is given (0.8 for a run on your text, 0 for the book's greedy presets)
  const temperature = opts.temperature === undefined ? model.config.run.sample_temperature : Number(opts.temperature);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError(`--temperature ${opts.temperature}: must be a finite number >= 0`);
  const topK = nonNegInt(opts.topK!, '--top-k');
  let pending = '';
  let written = 0;
  const flush = () => {
    if (pending) stdout(pending);
    written += [...pending].length;
    pending = '';
  };
  const steps = model.sampleSteps(opts.prefix!, { length, temperature, topK, seed }, (text) => {
    pending += text;
    if (pending.length >= FLUSH_CHARS) flush();
  });
  let stop: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop) process.exit(exitCodeOf(sig));
    stop = sig;
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  try {
    const text = await runSliced(steps, () => stop !== null);
    flush();
    stdout('\n');
    if (text !== null) return 0;
    stderr(`bptt: ${stop}: stopped after ${written.toLocaleString('en-US')} characters (the prefix included)\n`);
    return exitCodeOf(stop ?? 'SIGINT');
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}
