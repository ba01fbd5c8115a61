// The command line as a user runs it (the built dist/ CLI in a child process): training writes a
// run directory; SIGINT stops at a minibatch boundary with a checkpoint and exit 130, and resume
// gives bitwise the parameters of an uninterrupted run; a failing worker or a diverging loss stops
// the run with one line and a non-zero exit, leaving the last good checkpoint intact.
import { bptt, runAndSignalAt, D2L_ARGS } from './cli_helpers.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';

const FAULT_WORKER = join(import.meta.dirname, 'fixtures/fault_worker.mjs');
const tmp = () => mkdtempSync(join(tmpdir(), 'bptt-cli-'));
const SMALL = ['--builtin', 'counting', '--hidden', '32', '--batch', '8', '--steps', '16', '--lr', '2', '--clip', '1', '--set', 'run.sample_every=0', '--set', 'run.checkpoint_every=1'];


function paramsOf(path: string): Buffer {
  const ck = loadCheckpoint(path);
  return Buffer.concat(ck.layout.names.map((n) => Buffer.from(ck.tensors.get(n)!.data.buffer)));
}

describe('train', () => {
  it('writes config.yaml, metrics.jsonl (one line per epoch) and a loadable checkpoint; perplexity falls', () => {
    const out = join(tmp(), 'run');
    const r = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '3', '--workers', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    // each row's rate is its interval's tokens over its training seconds; GFLOP/s follow from the
    // model's FLOPs per token (RNN: 6HV + 6H^2, H=32, V=19)
    const flops = 6 * 32 * 19 + 6 * 32 * 32;
    metrics.forEach((m, k) => {
      const tokens = m.tokens - (k > 0 ? metrics[k - 1].tokens : 0);
      expect(tokens).toBe(m.step * 8 * 16 - (k > 0 ? metrics[k - 1].step * 8 * 16 : 0));
      expect(m.interval_s).toBeGreaterThan(0);
      expect(m.interval_s).toBeLessThanOrEqual(m.elapsed_s - (k > 0 ? metrics[k - 1].elapsed_s : 0));
      expect(m.tokens_per_s).toBeCloseTo(tokens / m.interval_s, 6);
      expect(m.gflops).toBeCloseTo((m.tokens_per_s * flops) / 1e9, 9);
    });
    expect(metrics[2].train_ppl).toBeLessThan(metrics[0].train_ppl);
    expect(metrics[2].val_ppl).toBeLessThan(19 / 4); // 19 characters: uniform guessing scores 19
    expect(existsSync(join(out, 'config.yaml'))).toBe(true);
    expect(loadCheckpoint(join(out, 'last.safetensors')).training!.epoch).toBe(3);
  });

  it('refuses to overwrite an existing run without --force', () => {
    const out = join(tmp(), 'run');
    expect(bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '1', '--workers', '1', '--out', out]).code).toBe(0);
    const before = readFileSync(join(out, 'last.safetensors'));
    const r = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '1', '--workers', '1', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bptt: error: output .*run: a run already exists there; pass --force/);
    expect(readFileSync(join(out, 'last.safetensors')).equals(before)).toBe(true);
  });
});

describe('output modes', () => {
  it('--log-json prints one JSON object per line; --quiet prints nothing', () => {
    const dir = tmp();
    const r = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '2', '--workers', '1', '--set', 'run.sample_every=1', '--log-json', '--out', join(dir, 'a')]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'report').map((e) => e.epoch)).toEqual([1, 2]);
    expect(events.filter((e) => e.event === 'samples')).toHaveLength(2);
    const q = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '1', '--workers', '1', '--quiet', '--out', join(dir, 'b')]);
    expect(q.code).toBe(0);
    expect(q.stdout).toBe('');
  });
});

describe('interrupt and resume', () => {
  it.each([
    ['random', 'SIGINT', 130],
    ['consecutive', 'SIGINT', 130],
    ['random', 'SIGTERM', 143],
  ] as const)('%s sampling, %s: checkpoint at a minibatch boundary, exit %i; resume equals an uninterrupted run bitwise', async (sampler, signal, exitCode) => {
    const dir = tmp();
    const args = [...SMALL, '--epochs', '3', '--workers', '2', '--sampler', sampler];
    expect(bptt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'straight')]).code).toBe(0);

    const { code, stdout } = await runAndSignalAt(['train', ...D2L_ARGS, ...args, '--out', join(dir, 'cut')], signal, '2:2');
    expect(code).toBe(exitCode);
    expect(stdout).toMatch(/interrupted; checkpoint written/);
    const cut = loadCheckpoint(join(dir, 'cut', 'last.safetensors'));
    expect(cut.training!.epoch).toBeGreaterThanOrEqual(1);
    expect(cut.training!.epoch).toBeLessThan(3);

    const r = bptt(['resume', join(dir, 'cut')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(paramsOf(join(dir, 'cut', 'last.safetensors')).equals(paramsOf(join(dir, 'straight', 'last.safetensors')))).toBe(true);
    const epochs = readFileSync(join(dir, 'cut', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch);
    expect(epochs).toEqual([1, 2, 3]);
  });

  it('resume of a run directory that does not exist', () => {
    const r = bptt(['resume', join(tmp(), 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bptt: error: run directory .*nope: does not exist\n$/);
  });
});

describe('faults never hang and never lose the last checkpoint', () => {
  it.each(['throw', 'exit'])('a worker that %ss stops the run with one line and exit 1', (kind) => {
    const out = join(tmp(), 'run');
    // ~154 minibatches per epoch: step 200 falls in epoch 2, after epoch 1's checkpoint
    const r = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '3', '--workers', '2', '--out', out], { BPTT_TEST_FAULT: `${kind}:200`, BPTT_WORKER_FILE: FAULT_WORKER });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/a worker thread failed/);
    expect(loadCheckpoint(join(out, 'last.safetensors')).training!.epoch).toBe(1);
  });

  it('a diverging loss names the epoch and minibatch and suggests the fix', () => {
    const out = join(tmp(), 'run');
    const r = bptt(['train', ...D2L_ARGS, ...SMALL, '--epochs', '2', '--workers', '1', '--lr', '1e38', '--clip', '1e38', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bptt: error: training diverged at epoch 1, minibatch \d+: .* lower optim\.lr .* or optim\.clip/);
  });
});
