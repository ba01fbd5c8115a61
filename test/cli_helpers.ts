// Runs the built CLI (dist/) in a child process, as a user would.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '../dist/src/cli/main.js');

export function bptt(args: string[], env: Record<string, string> = {}) {
  // a hung child must fail the test, not hang the suite (spawnSync blocks vitest's own timeout)
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 90_000, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`bptt ${args.join(' ')}: still running after 90 s (hung?)`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
