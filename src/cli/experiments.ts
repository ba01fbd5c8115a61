// Experiments over many runs: `sweep` trains every point of a grid of config overrides (each in
// its own run directory, K at a time as child processes that split the cores) and writes a
// summary sorted by validation perplexity; `compare` puts finished runs side by side and overlays
// their perplexity curves in one SVG.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPath, leafKeys, parseFlowList, parseValueFor, readYamlBounded, resolveConfig } from '../config/load.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { lineChart } from '../io/svg.js';
import { RUN_FILES, RunDir, type RunSummary } from '../train/rundir.js';
import { InputError } from '../util/errors.js';
import { fmtNum, formatDuration } from './terminal.js';
import { extent } from '../util/extent.js';
import { exitCodeOf, STOP_SIGNALS } from './train.js';
import { positiveInt } from './args.js';
import { checkOutputFile } from './output_files.js';
import { err as stderr, out as stdout } from './stdio.js';

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
  const text = arg.slice(eq + 1).trim();
  // a YAML list holds values with commas: --grid 'run.sample_prefixes=[["a, b"], ["c"]]'
  if (text.startsWith('[')) {
    const list = parseFlowList(`--grid ${key}`, text);
    if (!Array.isArray(list)) throw new InputError(`--grid ${arg}: ${text} is not a YAML list`);
    return [key, list];
  }
  // each item typed by the key, as --set types a value: a path keeps its "#" and "~"
  return [key, text.split(',').map((v) => parseValueFor(key, v.trim()))];
}

/** A sweep file: {config: FILE, grid: {key: [values]}, parallel: K, out: DIR}. */
export function readSweepFile(path: string): SweepSpec {
  const raw = readYamlBounded(path, 'sweep') as Record<string, unknown>;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`sweep ${path}: must be a mapping with config, grid, parallel, out`);
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

/** Refuses a grid whose axes repeat a value or whose points would share a run directory. */
export function checkGrid(grid: SweepSpec['grid']): void {
  const axes = new Set<string>();
  for (const [key, values] of grid) {
    // a sweep's runs live in the sweep directory, always: a grid over where a run writes could
    // land one outside it, or onto an unrelated run with --force
    if (key === 'run.out') throw new InputError('sweep grid: run.out cannot be a grid axis; every run of a sweep is written to <sweep --out>/<its grid point>');
    if (axes.has(key)) throw new InputError(`sweep grid: ${key} is given twice; list all its values once`);
    axes.add(key);
    const seen = new Set<string>();
    for (const v of values) {
      const k = JSON.stringify(v);
      if (seen.has(k)) throw new InputError(`sweep grid: ${key} lists ${k} twice; each value once`);
      seen.add(k);
    }
  }
  const names = new Map<string, string>();
  for (const p of gridPoints(grid)) {
    const name = pointName(p);
    const desc = p.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
    if (names.has(name)) throw new InputError(`sweep grid: ${names.get(name)} and ${desc} would share the run directory ${name}`);
    names.set(name, desc);
  }
}

export interface SweepOptions {
  /** let runs overwrite a previous sweep's run directories inside spec.out */
  force: boolean;
}

export async function runSweep(spec: SweepSpec, log: (s: string) => void, opts: SweepOptions = { force: false }): Promise<number> {
  // validate every point before starting any run
  checkGrid(spec.grid);
  const points = gridPoints(spec.grid);
  for (const p of points) {
    resolveConfig(spec.config, p.map(([key, value]) => ({ key, value, source: 'flag', origin: `grid ${key}=${String(value)}` })));
  }
  if (existsSync(spec.out) && !statSync(spec.out).isDirectory()) throw new InputError(`sweep output ${spec.out}: exists and is not a directory`);
  if (existsSync(spec.out) && readdirSync(spec.out).length > 0 && !opts.force) {
    throw new InputError(`sweep output ${spec.out}: not empty (an earlier sweep?); choose another --out, or pass --force to overwrite its runs`);
  }
  mkdirSync(spec.out, { recursive: true });
  const parallel = Math.max(1, Math.min(spec.parallel, points.length));
  const workersEach = Math.max(1, Math.floor(availableParallelism() / parallel));
  log(`bptt sweep: ${points.length} runs, ${parallel} at a time, ${workersEach} worker(s) each, into ${spec.out}`);
  const rows: Array<{ name: string; point: Array<[string, unknown]>; summary: RunSummary | null; code: number | null }> = [];
  let next = 0;
  // SIGINT/SIGTERM/SIGHUP: no new runs; the signal goes to every running child (each checkpoints at its
  // next minibatch and exits 130/143), and the sweep waits for them before it exits the same way
  const children = new Set<ChildProcess>();
  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopSignal) return; // already stopping: the children got the first signal
    stopSignal = sig;
    log(`\n${sig}: stopping the ${children.size} running run(s) at their next minibatch (each writes a checkpoint; resume them one by one)`);
    for (const c of children) c.kill(sig);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const runOne = async (): Promise<void> => {
    while (next < points.length && !stopSignal) {
      const point = points[next++];
      const name = pointName(point);
      const dir = join(spec.out, name); // always inside the sweep's own folder
      const args = [CLI, 'train', ...(spec.config ? ['--config', spec.config] : []), '--out', dir, '--workers', String(workersEach), '--quiet',
        ...(opts.force ? ['--force'] : []),
        ...(spec.epochs ? ['--epochs', String(spec.epochs)] : []),
        // each value exactly as the grid holds it: JSON, never re-read as text
        ...point.flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`])];
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
        children.add(child);
        let err = '';
        child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
        child.on('close', (c) => {
          children.delete(child);
          if (c !== 0 && c !== 130 && c !== 143) log(`  ${name}: failed (exit ${c}): ${err.trim()}`);
          if (c === 130 || c === 143) log(`  ${name}: interrupted; continue with: bptt resume ${dir}`);
          resolve(c);
        });
      });
      const summaryPath = join(dir, 'summary.json');
      const summary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as RunSummary) : null;
      if (summary && code === 0) log(`  ${name}: train ppl ${fmtNum(summary.final_train_ppl, 4)}, best val ppl ${fmtNum(summary.best_val_ppl, 4)}`);
      rows.push({ name, point, summary, code });
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, runOne));
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
  if (stopSignal) return exitCodeOf(stopSignal);
  // runs without a perplexity (failed) sort last, in grid order
  const keyOf = (r: (typeof rows)[number]) => (r.code === 0 ? r.summary?.best_val_ppl ?? r.summary?.final_train_ppl ?? Infinity : Infinity);
  rows.sort((a, b) => keyOf(a) - keyOf(b) || points.findIndex((p) => pointName(p) === a.name) - points.findIndex((p) => pointName(p) === b.name));
  const keys = spec.grid.map(([k]) => k);
  const header = ['run', ...keys, 'best_val_loss', 'best_val_ppl', 'final_train_ppl', 'epochs', 'tokens_per_s', 'outcome'];
  const outcome = (r: (typeof rows)[number]) => (r.code === 0 ? (r.summary?.outcome ?? '?') : `failed (exit ${r.code})`);
  const value = (r: (typeof rows)[number], k: string) => String(r.point.find(([pk]) => pk === k)?.[1]);
  const cells = rows.map((r) => [r.name, ...keys.map((k) => value(r, k)),
    fmtNum(r.summary?.best_val_loss ?? null, 4), fmtNum(r.summary?.best_val_ppl ?? null, 4), fmtNum(r.summary?.final_train_ppl ?? null, 4),
    r.summary ? fmtNum(r.summary.epochs, 3) : '-',
    fmtNum(r.summary?.median_tokens_per_s ?? null), outcome(r)]);
  // the CSV holds plain numbers (full precision, no thousands separators; empty when missing)
  const plain = (x: number | null | undefined) => (x === null || x === undefined ? '' : String(x));
  const csvRows = rows.map((r) => [r.name, ...keys.map((k) => value(r, k)), plain(r.summary?.best_val_loss), plain(r.summary?.best_val_ppl), plain(r.summary?.final_train_ppl),
    plain(r.summary?.epochs), plain(r.summary?.median_tokens_per_s), outcome(r)]);
  const md = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...cells.map((c) => `| ${c.join(' | ')} |`)].join('\n') + '\n';
  writeFileAtomic(join(spec.out, 'summary.md'), md);
  writeFileAtomic(join(spec.out, 'summary.csv'), [header, ...csvRows].map((c) => c.map(csvCell).join(',')).join('\n') + '\n');
  log(`\n${md}\nbptt sweep: ${join(spec.out, 'summary.md')}, ${join(spec.out, 'summary.csv')}`);
  return rows.every((r) => r.code === 0) ? 0 : 1;
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Run directories named on the command line: a sweep directory stands for its runs; files that are not runs are skipped. */
export function expandRunDirs(args: string[]): string[] {
  const out: string[] = [];
  for (const dir of args) {
    if (!existsSync(dir)) throw new InputError(`run directory ${dir}: does not exist`);
    if (!statSync(dir).isDirectory()) continue; // e.g. runs/sweep/summary.md from a shell glob
    if (existsSync(new RunDir(dir).path('config'))) { out.push(dir); continue; }
    const inner = readdirSync(dir).map((n) => join(dir, n)).filter((d) => statSync(d).isDirectory() && existsSync(new RunDir(d).path('config'))).sort();
    if (inner.length === 0) throw new InputError(`run directory ${dir}: has no config.yaml and holds no runs; is it a bptt run or sweep?`);
    out.push(...inner);
  }
  if (out.length === 0) throw new InputError('compare: none of the arguments is a run directory');
  return out;
}

/** Columns as a terminal shows them: CJK and other wide characters take two cells. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w += (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) ||
      (c >= 0x20000 && c <= 0x3fffd) ? 2 : 1;
  }
  return w;
}

/** compare's chart: what the x axis counts, and what the y axis shows. */
export interface CompareAxes {
  x: 'epoch' | 'seconds' | 'tokens';
  y: 'ppl' | 'loss';
}

/** A cell of the table: long values (a list of prefixes) cut, so the table stays readable. */
function cell(v: string, max = 24): string {
  return displayWidth(v) <= max ? v : `${Array.from(v).slice(0, max - 1).join('')}…`;
}

/** The fields of a metrics row compare reads as numbers. */
const NUMERIC_FIELDS = ['epoch', 'step', 'tokens', 'elapsed_s', 'train_loss', 'train_ppl', 'val_loss', 'val_ppl', 'lr', 'tokens_per_s'];

/**
 * metrics.jsonl rows with every numeric field a number or null: a value of another type (an edited
 * or foreign file) is left out of the table and the curves, and said once per field, with its line.
 */
function numericRows(rows: Record<string, unknown>[], path: string): Record<string, number | null>[] {
  const said = new Set<string>();
  return rows.map((row, k) => {
    const out: Record<string, number | null> = {};
    for (const [key, v] of Object.entries(row)) {
      if (!NUMERIC_FIELDS.includes(key) || v === null || (typeof v === 'number' && Number.isFinite(v))) { out[key] = v as number | null; continue; }
      if (!said.has(key)) {
        said.add(key);
        stderr(`bptt: warning: ${path}:${k + 1}: ${key} is ${JSON.stringify(v)}, not a number; left out of the comparison\n`);
      }
    }
    return out;
  });
}

export function compareRuns(args: string[], svgPath: string, axes: CompareAxes = { x: 'epoch', y: 'ppl' }): string {
  if (args.length < 1) throw new InputError('compare: name at least one run directory');
  const runs = expandRunDirs(args).map((dir) => {
    const rd = new RunDir(dir);
    const config = readYamlBounded(rd.path('config'), `run directory ${dir}:`) as Record<string, unknown>;
    if (config === null || typeof config !== 'object') throw new InputError(`run directory ${dir}: config.yaml is not a mapping`);
    const metrics = numericRows(rd.readMetrics(), rd.path('metrics'));
    return { dir, config, metrics };
  });
  // a key a run's config does not state (a run another tool wrote states only its preset's keys)
  // is not a difference
  const differing = leafKeys().filter((k) => k !== 'run.out' &&
    new Set(runs.map((r) => JSON.stringify(getPath(r.config, k))).filter((v) => v !== undefined)).size > 1);
  // a key's last part names its column (optim.lr -> lr) unless two differing keys share it
  const short = differing.map((k) => (differing.filter((o) => o.split('.').pop() === k.split('.').pop()).length > 1 ? k : k.split('.').pop()!));
  const header = ['run', ...short, 'epochs', 'time', 'final train loss', 'best val loss (nats)', 'best val ppl', 'tokens/s'];
  // losses: val_loss where the rows have it, else from the perplexity (runs from before losses were recorded)
  const lossOf = (m: Record<string, number | null>, which: 'train' | 'val') => {
    const l = m[`${which}_loss`], p = m[`${which}_ppl`];
    return typeof l === 'number' ? l : typeof p === 'number' ? Math.log(p) : null;
  };
  const rows = runs.map((r) => {
    const last = r.metrics[r.metrics.length - 1];
    const vals = r.metrics.map((m) => lossOf(m, 'val')).filter((v): v is number => v !== null);
    const tps = r.metrics.map((m) => m.tokens_per_s as number).sort((a, b) => a - b);
    const bestVal = vals.length ? extent(vals)[0] : null;
    // '-' for a key a run's config lacks (a run directory another tool wrote, e.g. bench/pytorch_charlm.py)
    return [cell(r.dir, 48), ...differing.map((k) => cell(JSON.stringify(getPath(r.config, k)) ?? '-')), fmtNum((last?.epoch as number) ?? 0),
      typeof last?.elapsed_s === 'number' ? formatDuration(last.elapsed_s) : '-',
      last ? fmtNum(lossOf(last, 'train'), 4) : '-', fmtNum(bestVal, 4), fmtNum(bestVal === null ? null : Math.exp(bestVal), 4),
      fmtNum(tps.length ? tps[Math.floor(tps.length / 2)] : null)];
  });
  const xOf = (m: Record<string, number | null>) => (axes.x === 'seconds' ? m.elapsed_s : axes.x === 'tokens' ? m.tokens : m.epoch) as number;
  const yOf = (m: Record<string, number | null>, which: 'train' | 'val') => (axes.y === 'loss' ? lossOf(m, which) : (m[`${which}_ppl`] ?? null));
  const curve = (r: (typeof runs)[number], which: 'train' | 'val') =>
    r.metrics.filter((m) => typeof xOf(m) === 'number' && yOf(m, which) !== null).map((m) => [xOf(m), yOf(m, which)!] as [number, number]);
  writeFileAtomic(svgPath, lineChart(runs.flatMap((r, k) => [
    { name: `${basename(r.dir)} train`, colorIndex: k, points: curve(r, 'train') },
    ...(curve(r, 'val').length ? [{ name: `${basename(r.dir)} val`, colorIndex: k, dashed: true, points: curve(r, 'val') }] : []),
  ]), {
    title: `${axes.y === 'loss' ? 'loss, nats per character' : 'perplexity'} by ${axes.x === 'seconds' ? 'wall-clock seconds' : axes.x} (solid: train, dashed: validation)`,
    xLabel: axes.x === 'seconds' ? 'seconds' : axes.x, yLabel: axes.y === 'loss' ? 'nats per character' : 'perplexity', logY: axes.y === 'ppl', width: 900,
  }));
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i]))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i] - displayWidth(c))).join('  ').trimEnd();
  const configLine = runs.length === 1 ? `one run: ${runs[0].dir}` : differing.length ? `config keys that differ: ${differing.join(', ')}` : 'the runs have the same config';
  return [configLine, '',
    line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `curves: ${svgPath}`].join('\n');
}

/** `bptt sweep FILE`: a config (the axes from --grid) or a sweep file; the exit code. */
export async function sweepCommand(file: string, opts: Record<string, unknown>): Promise<number> {
  if (!existsSync(file)) throw new InputError(`sweep ${file}: no such file`);
  if (!statSync(file).isFile()) throw new InputError(`sweep ${file}: not a regular file (a config or a sweep file)`);
  const isSweepFile = /^\s*grid\s*:/m.test(readFileSync(file, 'utf8'));
  const spec: SweepSpec = isSweepFile ? readSweepFile(file) : { config: file, grid: [], parallel: 1, out: 'runs/sweep' };
  spec.grid.push(...((opts.grid as string[] | undefined) ?? []).map(parseGridArg));
  if (spec.grid.length === 0) throw new InputError('sweep: no grid; give --grid KEY=V1,V2 or a sweep file with a grid');
  if (opts.parallel !== undefined) spec.parallel = positiveInt(String(opts.parallel), '--parallel');
  if (opts.out) spec.out = String(opts.out);
  if (opts.epochs !== undefined) spec.epochs = positiveInt(String(opts.epochs), '--epochs');
  return runSweep(spec, (s) => stdout(s + '\n'), { force: Boolean(opts.force) });
}

/** `bptt compare DIR...`: the table on stdout, the chart in --svg. */
export function compareCommand(dirs: string[], opts: Record<string, string | boolean>): void {
  // everything of every compared run is an input: the chart never replaces a run's file
  const reads = expandRunDirs(dirs).flatMap((d) => Object.keys(RUN_FILES).map((f) => new RunDir(d).path(f as keyof typeof RUN_FILES)));
  checkOutputFile(opts.svg as string, '--svg', { force: Boolean(opts.force), reads });
  stdout(compareRuns(dirs, opts.svg as string, { x: opts.x as CompareAxes['x'], y: opts.y as CompareAxes['y'] }) + '\n');
}
