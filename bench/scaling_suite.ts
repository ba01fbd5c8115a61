// The scaling benchmark of the README: both standard configs (D2L and the larger scaling config)
// at 1..N workers, written to bench/results/<cores>core-<date>-<config>.{json,svg}. Same library
// as `bptt bench`.
//
//   node dist/bench/scaling.js [--workers 1,2,4,8,16] [--minibatches 20] [--repeat 3] [--out bench/results]
//                              [--data FILE]   (another corpus; the configs read data/jaychou_lyrics.txt)

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/load.js';
import { runScaling, scalingTable } from '../src/bench/scaling.js';
import { lineChart } from '../src/io/svg.js';

function arg(name: string, dflt: string): string {
  const k = process.argv.indexOf(name);
  return k >= 0 ? process.argv[k + 1] : dflt;
}

const cores = availableParallelism();
const defaultWorkers = [1, 2, 4, 8, 16, 32].filter((n) => n <= cores);
if (!defaultWorkers.includes(cores)) defaultWorkers.push(cores);
const workers = arg('--workers', defaultWorkers.join(',')).split(',').map(Number);
const outDir = arg('--out', 'bench/results');
const configs = arg('--configs', 'examples/d2l-random.yaml,examples/scaling.yaml').split(',');
mkdirSync(outDir, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
for (const file of configs) {
  const data = arg('--data', '');
  const { config } = resolveConfig(file, data ? [{ key: 'data.path', value: data, source: 'flag', origin: `--data ${data}` }] : []);
  const report = await runScaling({
    config, workers, warmup: 3, minibatches: Number(arg('--minibatches', '20')), repeat: Number(arg('--repeat', '3')), kernels: 'auto',
    onResult: (r) => console.log(`${file}: ${r.workers} workers: ${Math.round(r.tokens_per_s)} tokens/s, speedup ${r.speedup.toFixed(2)}x`),
  });
  const name = `${cores}core-${date}-${file.replace(/^.*\//, '').replace(/\.ya?ml$/, '')}`;
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ config_file: file, ...report }, null, 2) + '\n');
  writeFileSync(join(outDir, `${name}.svg`), lineChart([
    { name: 'measured', points: report.results.map((r) => [r.workers, r.speedup]) },
    { name: 'ideal', points: report.results.map((r) => [r.workers, r.workers]), dashed: true },
  ], { title: `speedup, ${file} (${cores} cores)`, xLabel: 'workers', yLabel: 'speedup over 1 worker' }));
  console.log(`\n${file}: ${JSON.stringify(report.machine)}, kernels ${report.kernels}\n${scalingTable(report)}\n`);
}
