// Plain formatting of numbers, durations and counts for messages: pure, no I/O (the terminal, the
// library's log lines and the board's summaries read the same words).

export function fmtNum(x: number | null, digits = 3): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(digits);
}

/** A sample on one line: newlines shown as ↵ so each sample stays one line of the log. */
export function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '↵');
}

/** "12.3 nats (17.8 bits)": a loss per character in both units. */
export function fmtLoss(nats: number | null): string {
  if (nats === null) return '-';
  return `${nats.toFixed(3)} nats/char = ${(nats / Math.LN2).toFixed(3)} bits`;
}

/** An epoch count: whole as is, fractional with two decimals. */
export function fmtEpochNumber(e: number): string {
  return Number.isInteger(e) ? String(e) : e.toFixed(2);
}

/** "3 epochs", "1 epoch", "2.40 epochs" */
export function fmtEpochs(e: number): string {
  return `${fmtEpochNumber(e)} epoch${e === 1 ? '' : 's'}`;
}

/** "1 minibatch", "7 minibatches", "1,000 characters" */
export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "42s", "3m07s", "1h05m": rounded first, so 3599.6 s reads 1h00m, never 59m60s. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const whole = Math.max(0, Math.round(s));
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
