// sweep and compare as a user runs them, and the live progress line on a terminal.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkGrid, displayWidth, gridPoints, parseGridArg } from '../src/cli/experiments.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { bptt, CLI } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bptt-exp-'));
const base = join(dir, 'base.yaml');
writeFileSync(base, 'model: {cell: rnn, hidden: 16}\ndata: {sampler: random, batch: 8, steps: 12, val_fraction: 0.1}\noptim: {kind: sgd, lr: 2, clip: 1, schedule: {kind: constant}}\nrun: {epochs: 2, sample_every: 0}\n');

describe('sweep', () => {
  it('grid parsing and expansion', () => {
    expect(parseGridArg('optim.lr=1,3')).toEqual(['optim.lr', [1, 3]]);
    expect(() => parseGridArg('optim.lrr=1')).toThrow(/unknown key optim\.lrr/);
    expect(gridPoints([['a', [1, 2]], ['b', ['x', 'y']]])).toEqual([
      [['a', 1], ['b', 'x']], [['a', 1], ['b', 'y']], [['a', 2], ['b', 'x']], [['a', 2], ['b', 'y']],
    ]);
  });

  it('runs every point in its own directory and writes a summary sorted by validation perplexity', () => {
    const out = join(dir, 'sweep');
    const r = bptt(['sweep', base, '--grid', 'optim.lr=0.5,4', '--grid', 'data.sampler=random,consecutive', '--parallel', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const name of ['lr=0.5,sampler=random', 'lr=4,sampler=consecutive']) expect(existsSync(join(out, name, 'last.safetensors'))).toBe(true);
    const csv = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('run,optim.lr,data.sampler,best_val_loss,best_val_ppl,final_train_ppl,epochs,tokens_per_s,outcome');
    expect(csv).toHaveLength(5);
    const vals = csv.slice(1).map((l) => Number(l.split('",')[1]?.split(',')[3] ?? l.split(',')[4]));
    // every run has a perplexity (a sort over missing values would pass vacuously), in order
    expect(vals).toHaveLength(4);
    for (const v of vals) expect(v).toBeGreaterThan(1);
    expect(vals).toEqual([...vals].sort((a, b) => a - b));
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/^\| run \| optim\.lr \| data\.sampler \| best_val_loss \| best_val_ppl/);
  });

  it('a grid with a repeated value, a repeated axis, or two points with one directory is refused', () => {
    expect(() => checkGrid([['optim.lr', [1, 2, 1]]])).toThrow(/optim\.lr lists 1 twice/);
    expect(() => checkGrid([['optim.lr', [1]], ['optim.lr', [2]]])).toThrow(/optim\.lr is given twice/);
    expect(() => checkGrid([['run.sample_prefixes', [['a b'], ['a_b']]]])).toThrow(/would share the run directory/);
    const r = bptt(['sweep', base, '--grid', 'optim.lr=1,2,1', '--out', join(dir, 'dup')]);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, 'dup'))).toBe(false);
  });

  it('a sweep never reuses a non-empty output folder without --force', () => {
    const out = join(dir, 'sweep');
    const r = bptt(['sweep', base, '--grid', 'optim.lr=0.5', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not empty .*pass --force/);
  });

  it('SIGINT/SIGTERM reach every running child; the sweep waits for them and exits 130/143, leaving resumable runs', async () => {
    const out = join(dir, 'sweep-stop');
    const child = spawn(process.execPath, [CLI, 'sweep', base, '--grid', 'optim.lr=0.5,1', '--parallel', '2', '--epochs', '500',
      '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    const runs = ['lr=0.5', 'lr=1'].map((n) => join(out, n));
    // wait until both children have written their first epoch, then stop the sweep
    for (let k = 0; k < 400 && !runs.every((r) => existsSync(join(r, 'metrics.jsonl'))); k++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(143);
    expect(stdout).toMatch(/SIGTERM: stopping the 2 running run\(s\)/);
    for (const run of runs) {
      expect(stdout).toContain(`interrupted; continue with: bptt resume ${run}`);
      expect(loadCheckpoint(join(run, 'last.safetensors')).training!.epoch).toBeLessThan(500);
      expect(existsSync(join(run, '.lock'))).toBe(false); // the child is gone, its lock released
    }
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps).not.toContain(out);
  });

  it('a bad grid value is refused before any run starts', () => {
    const out = join(dir, 'badsweep');
    const r = bptt(['sweep', base, '--grid', 'data.batch=8,0', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/grid data\.batch=0: data\.batch: Too small/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('compare', () => {
  it('lists the differing config keys and the runs, and writes one SVG of all curves', () => {
    const out = join(dir, 'sweep');
    const svg = join(dir, 'cmp.svg');
    const r = bptt(['compare', join(out, 'lr=0.5,sampler=random'), join(out, 'lr=4,sampler=random'), '--svg', svg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^config keys that differ: optim\.lr\n/);
    expect(r.stdout).toMatch(/lr=0\.5,sampler=random\s+0\.5\s+2\.00\s+\d+s\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<svg')).toBe(true);
    expect((s.match(/<path /g) ?? []).length).toBe(4); // train + validation for each run
  });

  it('a directory that is not a run and holds none', () => {
    const r = bptt(['compare', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no config\.yaml and holds no runs; is it a bptt run or sweep\?/);
  });

  it('a sweep directory stands for its runs, and files among the arguments (a shell glob) are skipped', () => {
    const out = join(dir, 'sweep');
    const a = bptt(['compare', out, '--svg', join(dir, 'cmp-sweep.svg')]);
    expect(a.code).toBe(0);
    expect(a.stdout.match(/lr=[\d.]+,sampler=\w+/g)).toHaveLength(4);
    const glob = readdirSync(out).map((n) => join(out, n)); // the runs and summary.md / summary.csv
    const b = bptt(['compare', ...glob, '--svg', join(dir, 'cmp-glob.svg')]);
    expect(b.code).toBe(0);
    expect(b.stdout.replace(/cmp-glob/, 'cmp-sweep')).toBe(a.stdout);
  });

  it('a run whose config.yaml is broken: one line, exit 2', () => {
    const run = join(dir, 'broken-run');
    expect(bptt(['train', '--config', base, '--epochs', '1', '--out', run]).code).toBe(0);
    writeFileSync(join(run, 'config.yaml'), 'model: [unclosed\n');
    const r = bptt(['compare', run, '--svg', join(dir, 'broken.svg')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bptt: error: run directory .*broken-run: .*config\.yaml: not valid YAML/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('bench takes --data like train, and names the model it measures (on the line and the chart)', () => {
    const text = join(dir, 'bench-data.txt');
    writeFileSync(text, 'abcdefgh '.repeat(3000));
    const r = bptt(['bench', '--config', base, '--data', text, '--cell', 'gru', '--layers', '2', '--workers', '1', '--minibatches', '2', '--warmup', '1', '--repeat', '1',
      '--json', join(dir, 'bench.json'), '--svg', join(dir, 'bench.svg')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^bptt bench: 2-layer gru \(reset after\) H=\d+, /);
    expect(readFileSync(join(dir, 'bench.svg'), 'utf8')).toMatch(/bptt speedup, 2-layer gru \(reset after\) H=\d+/);
    const report = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8'));
    expect(report.config.vocab).toBe(9);
  });

  it('columns align by display width with CJK text', () => {
    const run = join(dir, '分开的运行');
    expect(bptt(['train', '--config', base, '--epochs', '1', '--out', run]).code).toBe(0);
    const r = bptt(['compare', run, join(dir, 'sweep', 'lr=4,sampler=random'), '--svg', join(dir, 'cjk.svg')]);
    const lines = r.stdout.split('\n').filter((l) => l.includes('  '));
    const col = (l: string) => displayWidth(l.slice(0, l.search(/ {2}\S/) + 2)); // width of the first column + gap
    expect(new Set(lines.slice(0, 4).map(col)).size).toBe(1);
  });

  it('the sweep CSV holds plain numbers', () => {
    const csv = readFileSync(join(dir, 'sweep', 'summary.csv'), 'utf8').trim().split('\n').slice(1);
    const cellsOf = (row: string) => [...row.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].map((m) => m[1]).slice(0, 8);
    for (const row of csv) {
      const cells = cellsOf(row);
      expect(cells).toHaveLength(8);
      for (const k of [3, 4, 5, 6]) expect(cells[k], row).toMatch(/^-?\d+(\.\d+)?(e[-+]\d+)?$/);
    }
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;
describe.skipIf(!hasScript)('on a terminal', () => {
  it('shows a live progress line (ETA first, running training loss in nats as the report lines, tokens/s, minibatch k/n)', () => {
    const cmd = `${process.execPath} ${CLI} train --config ${base} --epochs 2 --out ${join(dir, 'tty')}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\rETA \d+s {2}train [\d.]+ nats {2}[\d,]+ tok\/s {2}epoch 1 minibatch \d+\/\d+ {2}\(\d+\/\d+ of the run\)/);
  });
});
if (!hasScript) console.warn('SKIPPED: the terminal progress test needs util-linux script(1)');
