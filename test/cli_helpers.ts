// Runs the built CLI (dist/) in a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '../dist/src/cli/main.js');

export function bptt(args: string[], env: Record<string, string> = {}) {
  // a hung child must fail the test, not hang the suite (spawnSync blocks vitest's own timeout)
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 90_000, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`bptt ${args.join(' ')}: still running after 90 s (hung?)`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `bptt ARGS` in the background, raising `signal` on itself once training reaches global minibatch
 * `at` (a number) or minibatch M of epoch E (`"E:M"`), or as it starts sampling or evaluating
 * (test/fixtures/signal_at_step.mjs): a stop at a known point, not after a guessed delay.
 */
export function runAndSignalAt(args: string[], signal: NodeJS.Signals, at: number | `${number}:${number}` | 'sampling' | 'evaluation'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures/signal_at_step.mjs'), signal, String(at), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Minibatches in one epoch of a finished run (its first epoch row's step). */
export function minibatchesPerEpoch(runDir: string): number {
  const first = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').map((l) => (l ? JSON.parse(l) : null))
    .find((m) => m !== null && m.epoch === 1) as { step: number } | undefined;
  if (!first) throw new Error(`${runDir}: no epoch 1 row in metrics.jsonl`);
  return first.step;
}

/**
 * `--config` with the settings most CLI tests were written against (D2L's RNN with SGD,
 * test/fixtures/d2l-base.yaml), so that they test what they say whatever the defaults for a user's
 * text are. Tests of those defaults leave it out.
 */
export const D2L_ARGS = ['--config', join(import.meta.dirname, 'fixtures/d2l-base.yaml')];
