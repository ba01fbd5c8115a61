// `bptt bench`: the scaling benchmark from the command line: parse its own flags (worker counts,
// timed minibatches, rounds), run src/bench/scaling.ts, print the table, write --json / --svg.

import { availableParallelism } from 'node:os';
import type { KernelPreference } from '../blas/loader.js';
import { resolveConfig, type Override } from '../config/load.js';
import { runScaling, scalingTable } from '../bench/scaling.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { lineChart } from '../io/svg.js';
import { canonicalPath } from '../io/files.js';
import { describeModel, modelOf } from '../model/desc.js';
import { InputError } from '../util/errors.js';
import { workersWarning } from '../api/engine.js';
import { nonNegInt, positiveInt } from './args.js';
import { checkOutputFile } from './output_files.js';
import { out as stdout, err as stderr } from './stdio.js';

/** `overrides`: the environment's and the flags' config keys (--workers and --minibatches are the benchmark's own). */
export async function benchCommand(opts: Record<string, unknown>, overrides: Override[]): Promise<void> {
  const workers = String(opts.workers).split(',').map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new InputError(`--workers ${opts.workers}: each count must be an integer in 1..256`);
    return n;
  });
  const benchReads = [opts.config, opts.data].filter((f): f is string => typeof f === 'string');
  for (const [flag, file] of [['--json', opts.json], ['--svg', opts.svg]] as const) if (file) checkOutputFile(String(file), flag, { force: Boolean(opts.force), reads: benchReads });
  if (opts.json && opts.svg && canonicalPath(String(opts.json)) === canonicalPath(String(opts.svg))) throw new InputError(`--json and --svg name the same file ${opts.json}`);
  // --workers and --minibatches are the benchmark's own (a list of counts, the timed minibatches)
  const resolved = resolveConfig((opts.config as string | undefined) ?? null, overrides);
  const c = resolved.config;
  const oversubscribed = Math.max(...workers);
  if (oversubscribed > availableParallelism()) stderr(`bptt: warning: ${workersWarning(oversubscribed)}\n`);
  const model = describeModel(modelOf(0, c.model));
  stdout(`bptt bench: ${model}, B=${c.data.batch} T=${c.data.steps} ${c.data.sampler}, ` +
    `${positiveInt(String(opts.minibatches), '--minibatches')} minibatches after ${nonNegInt(String(opts.warmup), '--warmup')} warm-up, workers ${workers.join(',')}\n`);
  const report = await runScaling({
    config: c, workers, warmup: Number(opts.warmup), minibatches: Number(opts.minibatches), repeat: positiveInt(String(opts.repeat), '--repeat'), kernels: opts.kernels as KernelPreference,
    onResult: (r) => stdout(`  ${r.workers} worker(s): ${Math.round(r.tokens_per_s).toLocaleString('en-US')} tokens/s (median of ` +
      `${r.runs_tokens_per_s.map((x) => Math.round(x)).join(', ')})` +
      `${Number.isFinite(r.speedup) ? `, speedup ${r.speedup.toFixed(2)}x, efficiency ${(100 * r.efficiency).toFixed(0)}%` : ''}\n`),
  });
  stdout(`\n${JSON.stringify(report.machine)}, kernels ${report.kernels}, ${(report.config.flops_per_token / 1e6).toFixed(2)} MFLOP/token\n${scalingTable(report)}\n`);
  if (opts.json) writeFileAtomic(String(opts.json), JSON.stringify(report, null, 2) + '\n');
  if (opts.svg) {
    const xs = report.results.map((r) => r.workers);
    writeFileAtomic(String(opts.svg), lineChart([
      { name: 'measured', points: report.results.map((r) => [r.workers, r.speedup]) },
      { name: 'ideal', points: xs.map((x) => [x, x]), dashed: true },
    ], { title: `bptt speedup, ${model}, B=${c.data.batch} T=${c.data.steps} (${report.machine.cores} cores)`, xLabel: 'workers', yLabel: 'speedup over 1 worker' }));
  }
}
