// Experiments over many runs: `sweep` trains every point of a grid of config overrides (each in
// its own run directory, K at a time as child processes that split the cores) and writes a
// summary sorted by validation perplexity; `compare` puts finished runs side by side and overlays
// their perplexity curves in one SVG.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { getPath, leafKeys, parseValue, resolveConfig } from '../config/load.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { lineChart } from '../io/svg.js';
import { RunDir, type RunSummary } from '../train/rundir.js';
import { InputError } from '../util/errors.js';
import { fmtNum } from './output.js';

export interface SweepSpec {
  config: string | null;
  grid: Array<[key: string, values: unknown[]]>;
  parallel: number;
  out: string;
  epochs?: number;
}

/** `--grid optim.lr=10,100` -> ['optim.lr', [10, 100]] */
export function parseGridArg(arg: string): [string, unknown[]] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new InputError(`--grid ${arg}: expected KEY=V1,V2,..., e.g. --grid optim.lr=10,100`);
  const key = arg.slice(0, eq);
  if (!leafKeys().includes(key)) throw new InputError(`--grid ${arg}: unknown key ${key}`);
  return [key, arg.slice(eq + 1).split(',').map((v) => parseValue(v.trim()))];
}

/** A sweep file: {config: FILE, grid: {key: [values]}, parallel: K, out: DIR}. */
export function readSweepFile(path: string): SweepSpec {
  let raw: Record<string, unknown>;
  try {
    raw = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`sweep ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]}`);
  }
  const known = new Set(['config', 'grid', 'parallel', 'out', 'epochs']);
  for (const k of Object.keys(raw ?? {})) if (!known.has(k)) throw new InputError(`sweep ${path}: unknown key ${k} (expected config, grid, parallel, out, epochs)`);
  const grid = raw.grid as Record<string, unknown> | undefined;
  if (!grid || typeof grid !== 'object') throw new InputError(`sweep ${path}: needs a grid: mapping of config keys to lists of values`);
  return {
    config: typeof raw.config === 'string' ? raw.config : null,
    grid: Object.entries(grid).map(([k, v]) => {
      if (!leafKeys().includes(k)) throw new InputError(`sweep ${path}: grid key ${k} is not a config key`);
      return [k, Array.isArray(v) ? v : [v]];
    }),
    parallel: typeof raw.parallel === 'number' ? raw.parallel : 1,
    out: typeof raw.out === 'string' ? raw.out : 'runs/sweep',
    epochs: typeof raw.epochs === 'number' ? raw.epochs : undefined,
  };
}

/** Every combination of the grid, in order. */
export function gridPoints(grid: SweepSpec['grid']): Array<Array<[string, unknown]>> {
  return grid.reduce<Array<Array<[string, unknown]>>>((acc, [k, vs]) => acc.flatMap((p) => vs.map((v) => [...p, [k, v] as [string, unknown]])), [[]]);
}

function pointName(point: Array<[string, unknown]>): string {
  return point.map(([k, v]) => `${k.split('.').pop()}=${String(v)}`).join(',').replace(/[^A-Za-z0-9=,._-]/g, '_') || 'base';
}

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

export async function runSweep(spec: SweepSpec, log: (s: string) => void): Promise<number> {
  // validate every point before starting any run
  const points = gridPoints(spec.grid);
  for (const p of points) {
    resolveConfig(spec.config, p.map(([key, value]) => ({ key, value, source: 'flag', origin: `grid ${key}=${String(value)}` })));
  }
  if (existsSync(join(spec.out, 'summary.csv'))) throw new InputError(`sweep output ${spec.out}: a sweep already exists there; choose another --out`);
  mkdirSync(spec.out, { recursive: true });
  const parallel = Math.max(1, Math.min(spec.parallel, points.length));
  const workersEach = Math.max(1, Math.floor(availableParallelism() / parallel));
  log(`bptt sweep: ${points.length} runs, ${parallel} at a time, ${workersEach} worker(s) each, into ${spec.out}`);
  const rows: Array<{ name: string; point: Array<[string, unknown]>; summary: RunSummary | null; code: number | null }> = [];
  let next = 0;
  const runOne = async (): Promise<void> => {
    while (next < points.length) {
      const point = points[next++];
      const name = pointName(point);
      const dir = join(spec.out, name);
      const args = [CLI, 'train', ...(spec.config ? ['--config', spec.config] : []), '--out', dir, '--workers', String(workersEach), '--quiet', '--force',
        ...(spec.epochs ? ['--epochs', String(spec.epochs)] : []),
        ...point.flatMap(([k, v]) => ['--set', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`])];
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
        child.on('close', (c) => { if (c !== 0) log(`  ${name}: failed (exit ${c}): ${err.trim()}`); resolve(c); });
      });
      const summaryPath = join(dir, 'summary.json');
      const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as RunSummary) : null;
      if (summary) log(`  ${name}: train ppl ${fmtNum(summary.final_train_ppl, 4)}, best val ppl ${fmtNum(summary.best_val_ppl, 4)}`);
      rows.push({ name, point, summary, code });
    }
  };
  await Promise.all(Array.from({ length: parallel }, runOne));
  const keyOf = (r: (typeof rows)[number]) => r.summary?.best_val_ppl ?? r.summary?.final_train_ppl ?? Infinity;
  rows.sort((a, b) => keyOf(a) - keyOf(b));
  const keys = spec.grid.map(([k]) => k);
  const header = ['run', ...keys, 'best_val_ppl', 'final_train_ppl', 'epochs', 'tokens_per_s', 'outcome'];
  const cells = rows.map((r) => [r.name, ...keys.map((k) => String(r.point.find(([pk]) => pk === k)?.[1])),
    fmtNum(r.summary?.best_val_ppl ?? null, 4), fmtNum(r.summary?.final_train_ppl ?? null, 4), String(r.summary?.epochs ?? '-'),
    fmtNum(r.summary?.median_tokens_per_s ?? null), r.code === 0 ? (r.summary?.outcome ?? '?') : `failed (exit ${r.code})`]);
  const md = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...cells.map((c) => `| ${c.join(' | ')} |`)].join('\n') + '\n';
  writeFileAtomic(join(spec.out, 'summary.md'), md);
  writeFileAtomic(join(spec.out, 'summary.csv'), [header, ...cells].map((c) => c.map(csvCell).join(',')).join('\n') + '\n');
  log(`\n${md}\nbptt sweep: ${join(spec.out, 'summary.md')}, ${join(spec.out, 'summary.csv')}`);
  return rows.every((r) => r.code === 0) ? 0 : 1;
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function compareRuns(dirs: string[], svgPath: string): string {
  if (dirs.length < 1) throw new InputError('compare: name at least one run directory');
  const runs = dirs.map((dir) => {
    const rd = new RunDir(dir);
    if (!existsSync(dir)) throw new InputError(`run directory ${dir}: does not exist`);
    if (!existsSync(rd.path('config'))) throw new InputError(`run directory ${dir}: has no config.yaml; is it a bptt run?`);
    const config = parse(readFileSync(rd.path('config'), 'utf8')) as Record<string, unknown>;
    const metrics = rd.readMetrics();
    return { dir, config, metrics };
  });
  const differing = leafKeys().filter((k) => new Set(runs.map((r) => JSON.stringify(getPath(r.config, k)))).size > 1 && k !== 'run.out');
  const header = ['run', ...differing, 'epochs', 'final train ppl', 'final val ppl', 'best val ppl', 'tokens/s (median)'];
  const rows = runs.map((r) => {
    const last = r.metrics[r.metrics.length - 1];
    const vals = r.metrics.map((m) => m.val_ppl).filter((v): v is number => typeof v === 'number');
    const tps = r.metrics.map((m) => m.tokens_per_s as number).sort((a, b) => a - b);
    return [r.dir, ...differing.map((k) => JSON.stringify(getPath(r.config, k))), String(last?.epoch ?? 0),
      fmtNum((last?.train_ppl as number) ?? null, 4), fmtNum((last?.val_ppl as number) ?? null, 4),
      fmtNum(vals.length ? Math.min(...vals) : null, 4), fmtNum(tps.length ? tps[Math.floor(tps.length / 2)] : null)];
  });
  writeFileAtomic(svgPath, lineChart(runs.flatMap((r, k) => [
    { name: `${basename(r.dir)} train`, colorIndex: k, points: r.metrics.map((m) => [m.epoch as number, m.train_ppl as number] as [number, number]) },
    ...(r.metrics.some((m) => typeof m.val_ppl === 'number')
      ? [{ name: `${basename(r.dir)} val`, colorIndex: k, dashed: true, points: r.metrics.filter((m) => typeof m.val_ppl === 'number').map((m) => [m.epoch as number, m.val_ppl as number] as [number, number]) }]
      : []),
  ]), { title: 'perplexity by epoch (solid: train, dashed: validation)', xLabel: 'epoch', yLabel: 'perplexity', logY: true, width: 900 }));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [differing.length ? `config keys that differ: ${differing.join(', ')}` : 'the runs have the same config', '',
    line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `curves: ${svgPath}`].join('\n');
}
