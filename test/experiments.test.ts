// sweep and compare as a user runs them, and the live progress line on a terminal.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridPoints, parseGridArg } from '../src/cli/experiments.js';
import { bptt, CLI } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bptt-exp-'));
const base = join(dir, 'base.yaml');
writeFileSync(base, 'model: {hidden: 16}\ndata: {batch: 8, steps: 12, val_fraction: 0.1}\noptim: {lr: 2, clip: 1}\nrun: {epochs: 2, sample_every: 0}\n');

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
    expect(csv[0]).toBe('run,optim.lr,data.sampler,best_val_ppl,final_train_ppl,epochs,tokens_per_s,outcome');
    expect(csv).toHaveLength(5);
    const vals = csv.slice(1).map((l) => Number(l.split(',')[3]));
    expect(vals).toEqual([...vals].sort((a, b) => a - b));
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/^\| run \| optim\.lr \| data\.sampler \| best_val_ppl/);
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
    expect(r.stdout).toMatch(/lr=0\.5,sampler=random\s+0\.5\s+2\s/);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<svg')).toBe(true);
    expect((s.match(/<path /g) ?? []).length).toBe(4); // train + validation for each run
  });

  it('a directory that is not a run', () => {
    const r = bptt(['compare', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no config\.yaml; is it a bptt run\?/);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;
describe.skipIf(!hasScript)('on a terminal', () => {
  it('shows a live progress line (minibatch k/n, tokens/s, running perplexity, ETA)', () => {
    const cmd = `${process.execPath} ${CLI} train --config ${base} --epochs 2 --out ${join(dir, 'tty')}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\repoch 1 {2}minibatch \d+\/\d+ {2}ppl [\d.]+ {2}[\d,]+ tok\/s {2}ETA \d+s/);
  });
});
if (!hasScript) console.warn('SKIPPED: the terminal progress test needs util-linux script(1)');
