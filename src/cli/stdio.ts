// A closed stdout or stderr (`bptt train ... | head -3`, a terminal that went away) stops the
// printing, never the training or the checkpointing: EPIPE and its follow-ups are swallowed and
// later writes are skipped. Any other stream error is still reported on the other stream.

let closed = { stdout: false, stderr: false };

export function guardStdio(): void {
  closed = { stdout: false, stderr: false };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    stream.on('error', (err: NodeJS.ErrnoException) => {
      closed[name] = true;
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      const other = name === 'stdout' ? process.stderr : process.stdout;
      if (!closed[name === 'stdout' ? 'stderr' : 'stdout']) other.write(`bptt: warning: ${name}: ${err.message}; output stopped, training goes on\n`);
    });
  }
}

/** Writes to stdout unless its reader has gone. */
export function out(text: string): void {
  if (!closed.stdout && !process.stdout.destroyed) process.stdout.write(text);
}

/** Writes to stderr unless its reader has gone. */
export function err(text: string): void {
  if (!closed.stderr && !process.stderr.destroyed) process.stderr.write(text);
}
