// Runs the built CLI (dist/) in a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '../dist/src/cli/main.js');

export function bptt(args: string[], env: Record<string, string> = {}) {
  // a hung child must fail the test, not hang the suite (spawnSync blocks vitest's own timeout)
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 90_000, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`bptt ${args.join(' ')}: still running after 90 s (hung?)`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `bptt ARGS` in the background; once its stdout shows `marker` (e.g. "epoch 1/3"), one signal
 * after `delayMs` (one only: a second means "quit at once"). Resolves with the exit code and stdout.
 */
export function runAndSignal(args: string[], signal: NodeJS.Signals, delayMs: number, marker = 'epoch 1/3'): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && stdout.includes(marker)) {
      sent = true;
      setTimeout(() => child.kill(signal), delayMs);
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

/**
 * `--config` with the settings most CLI tests were written against (D2L's RNN with SGD,
 * test/fixtures/d2l-base.yaml), so that they test what they say whatever the defaults for a user's
 * text are. Tests of those defaults leave it out.
 */
export const D2L_ARGS = ['--config', join(import.meta.dirname, 'fixtures/d2l-base.yaml')];
