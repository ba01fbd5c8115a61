// The PyTorch peer of the time-to-quality benchmark (issue 22, item 1): it times torch's matmul and
// names its BLAS before anything else, and refuses a slow one (exit 2, the fix in one line) unless
// told otherwise; time-to-quality.sh stops before any run when it does. The threshold is a flag, so
// the refusal is tested on any machine, whatever BLAS its torch has. A short run of each input
// path checks the evaluations follow bptt's auto rule.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failInCiWithout, TORCH_MISSING } from './prereq.js';
import { findTorchPython } from './torch_helpers.js';

const root = join(import.meta.dirname, '..');
const script = join(root, 'bench/pytorch_charlm.py');
const torchPython = findTorchPython(['yaml']);
const tmp = () => mkdtempSync(join(tmpdir(), 'bptt-peer-'));
/** a config of a 16-unit LSTM on 30,000 characters of tiny Shakespeare, written to dir/c.yaml */
const tinyConfig = (dir: string) => writeFileSync(join(dir, 'c.yaml'), [
  'model: { cell: lstm, hidden: 16, layers: 1 }',
  `data: { path: ${join(root, 'data/tinyshakespeare.txt')}, max_chars: 30000, steps: 16, batch: 8, val_fraction: 0.1 }`,
  'optim: { kind: adam, lr: 0.01, clip: 1, schedule: { kind: cosine, min_lr: 0.0001 } }',
].join('\n'));
const BLAS_LINE = /^pytorch_charlm: torch \S+, BLAS .+: float32 matmul 512x2048x2048 [\d.]+ GFLOP\/s at 1 thread \([\d.]+ per thread\)$/m;

failInCiWithout('the PyTorch peer', torchPython !== undefined, `${TORCH_MISSING} with PyYAML`);
describe.skipIf(!torchPython)('the PyTorch peer (bench/pytorch_charlm.py)', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(torchPython!, [script, ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, ...env } });

  it('a BLAS below the threshold: its speed and library named, then exit 2 with the fix, nothing written', () => {
    const out = join(tmp(), 'torch');
    const r = run(['--config', 'examples/shakespeare-2m.yaml', '--time', '2m', '--threads', '1', '--min-gflops', '1e9', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(BLAS_LINE);
    expect(r.stderr).toMatch(/^pytorch_charlm: error: torch is linked to a slow BLAS \(below 1000000000 GFLOP\/s per thread\): no fair peer\. On Debian: apt-get download libopenblas0-openmp .*--allow-slow-blas trains anyway\n$/);
    expect(existsSync(out)).toBe(false);
    // above the threshold the check passes; --allow-slow-blas passes below it, with a warning
    expect(run(['--check-blas', '--threads', '1', '--min-gflops', '0']).status).toBe(0);
    const allowed = run(['--check-blas', '--threads', '1', '--min-gflops', '1e9', '--allow-slow-blas']);
    expect(allowed.status).toBe(0);
    expect(allowed.stderr).toMatch(/warning: torch is linked to a slow BLAS/);
  });

  it('time-to-quality.sh stops before any run when the peer\'s BLAS is slow', () => {
    const out = join(tmp(), 'ttq');
    const r = spawnSync('bash', [join(root, 'bench/time-to-quality.sh')], {
      encoding: 'utf8', cwd: root, env: { ...process.env, PY: torchPython!, OUT: out, MIN_GFLOPS: '1e9', THREADS: '1' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/slow BLAS/);
    expect(existsSync(out)).toBe(false);
  });

  it('--input onehot: a short run evaluates on bptt\'s auto rule (several times, one subset, a twentieth of the run)', () => {
    const input = 'onehot';
    const dir = tmp();
    tinyConfig(dir);
    const r = run(['--config', join(dir, 'c.yaml'), '--time', '12s', '--threads', '1', '--min-gflops', '0', '--input', input, '--out', join(dir, 'run')]);
    expect(r.status, r.stderr).toBe(0);
    const rows = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // every max(5 s, a twentieth of the run) and at the end: at 5 s, 10 s and 12 s
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(new Set(rows.map((x) => x.val_chars)).size).toBe(1);
    const evalS = rows.reduce((a, x) => a + x.eval_s, 0);
    expect(evalS).toBeLessThanOrEqual(0.1 * 12); // the rule keeps 5% by its estimate; timing noise gets the rest
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(summary.input).toBe(input);
    expect(summary.best_val_loss).toBeLessThan(Math.log(65));
  });

  it('--input lookup: the input read as a row of W_ih trains and says so (the evaluation rule is the same code as above)', () => {
    const dir = tmp();
    tinyConfig(dir);
    const r = run(['--config', join(dir, 'c.yaml'), '--time', '4s', '--threads', '1', '--min-gflops', '0', '--input', 'lookup', '--out', join(dir, 'run')]);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(summary.input).toBe('lookup');
    expect(summary.best_val_loss).toBeLessThan(Math.log(65));
  });
});
