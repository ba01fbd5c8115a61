// What a user sees: without a terminal a long epoch still reports progress (plain lines, at most
// every 30 s); charts label their y axis whatever the range.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDuration, Output, PLAIN_PROGRESS_EVERY_MS } from '../src/cli/terminal.js';
import { lineChart, logTicks } from '../src/io/svg.js';

const progress = (minibatch: number, runningPpl: number, tokensPerS: number, etaS: number) =>
  ({ epoch: 1, minibatch, perEpoch: 1000, step: minibatch, horizon: 3000, runningLoss: Math.log(runningPpl), runningPpl, tokensPerS, etaS });

describe('plain progress when stdout is not a terminal', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints a progress line only after 30 s without output, then waits another 30 s', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { lines.push(String(s)); return true; });
    let t = 0;
    const out = new Output({ quiet: false, json: false, tty: false }, () => t);
    out.progress(progress(10, 50, 1000, 100));
    expect(lines).toEqual([]);
    t = PLAIN_PROGRESS_EVERY_MS + 1;
    out.progress(progress(20, 40.5, 1234, 99));
    expect(lines).toEqual(['ETA 1m39s  train 3.701 nats  1,234 tok/s  epoch 1 minibatch 20/1000  (20/3000 of the run)\n']);
    t += 1000;
    out.progress(progress(30, 30, 1000, 98));
    expect(lines).toHaveLength(1);
    out.info('something else'); // any other line restarts the clock
    t += PLAIN_PROGRESS_EVERY_MS - 10;
    out.progress(progress(40, 30, 1000, 97));
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => !l.includes('\r'))).toBe(true);
  });

  it('--quiet and --log-json print no progress', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { lines.push(String(s)); return true; });
    let t = 0;
    for (const mode of [{ quiet: true, json: false, tty: false }, { quiet: false, json: true, tty: false }]) {
      const out = new Output(mode, () => t);
      t += 10 * PLAIN_PROGRESS_EVERY_MS;
      out.progress(progress(1, 3, 4, 5));
    }
    expect(lines).toEqual([]);
  });
});

describe('chart axes', () => {
  const yLabels = (svg: string) => [...svg.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => Number(m[1]));
  it.each([
    ['one epoch (one value)', [[1, 3.3]]],
    ['a narrow range', [[1, 3.2], [2, 3.4]]],
    ['three decades', [[1, 1027], [2, 1.1]]],
    ['seven decades', [[1, 1e7], [2, 1]]],
  ] as const)('a log y axis is labeled: %s', (_, pts) => {
    const svg = lineChart([{ name: 'train', points: pts.map(([x, y]) => [x, y] as [number, number]) }], { title: 't', xLabel: 'epoch', yLabel: 'ppl', logY: true });
    const labels = yLabels(svg);
    expect(labels.length).toBeGreaterThanOrEqual(2);
    const ys = pts.map(([, y]) => y);
    // the labels cover the data: one at or below the middle of the range, one at or above it
    const mid = Math.sqrt(Math.min(...ys) * Math.max(...ys));
    expect(labels.some((v) => v <= mid * 1.2)).toBe(true);
    expect(labels.some((v) => v >= mid / 1.2)).toBe(true);
  });

  it('over more than six decades the ticks are the powers of ten', () => {
    expect(logTicks(0, 7)).toEqual([1, 10, 100, 1000, 10000, 100000, 1000000, 10000000]);
  });
});

describe('durations', () => {
  it('round before they split, so no unit ever reads 60', () => {
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(3539.7)).toBe('59m00s');
    expect(formatDuration(3599.6)).toBe('1h00m');
    expect(formatDuration(7170)).toBe('2h00m');
    expect(formatDuration(187)).toBe('3m07s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(Infinity)).toBe('?');
  });
});
