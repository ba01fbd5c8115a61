// bptt board: the server reads runs correctly while they are written (a torn last line, metrics cut
// back by a resume), serves nothing outside its directories and answers only at its loopback name;
// and the page, in a real headless Chromium, draws a live run's new points as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoard, type Board } from '../src/board/server.js';
import { LineTail, parseSampleLine } from '../src/board/runs.js';
import { CONFIG_HEADER } from '../src/train/rundir.js';
import { bptt, CLI } from './cli_helpers.js';
import { describeIfAvailable } from './prereq.js';

const CHROMIUM = '/usr/bin/chromium';

function row(step: number, val: number | null = null) {
  return JSON.stringify({ epoch: step / 10, step, tokens: step * 100, elapsed_s: step / 10, train_loss: 3 - step / 100, val_loss: val, lr: 0.01, tokens_per_s: 1000 });
}

/** GET path on the board with an optional Host header: status and body. */
function get(board: Board, path: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: board.port, path, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function runsOf(board: Board): Promise<Array<{ name: string; rows: number; samples: number; status: string; model: string }>> {
  const r = await get(board, '/api/runs');
  expect(r.status).toBe(200);
  return JSON.parse(r.body);
}

/** Waits (polling) until `check` holds, or fails after `ms`. */
async function until<T>(what: string, f: () => Promise<T> | T, check: (v: T) => boolean, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (check(v)) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('board: reading runs as they are written', () => {
  const root = mkdtempSync(join(tmpdir(), 'bptt-board-'));
  const run = join(root, 'live');
  let board: Board;
  beforeAll(async () => {
    mkdirSync(run);
    writeFileSync(join(run, 'config.yaml'), `${CONFIG_HEADER}\nmodel:\n  cell: gru\n  hidden: 32\n`);
    writeFileSync(join(run, 'metrics.jsonl'), `${row(1)}\n${row(2, 2.5)}\n${row(3).slice(0, 20)}`);
    board = await startBoard({ dirs: [root], port: 0, pollMs: 20 });
  });
  afterAll(() => board.close());

  it('lists the run with its model; a torn last line is held back until its end is written', async () => {
    const [r] = await runsOf(board);
    expect(r.name).toContain('live');
    expect(r.model).toMatch(/gru.*H=32/i);
    expect(r.rows).toBe(2);
    appendFileSync(join(run, 'metrics.jsonl'), `${row(3).slice(20)}\n`);
    await until('the completed line', () => runsOf(board), (rs) => rs[0].rows === 3);
  });

  it('metrics cut back and replaced (a resume) are read again from the start', async () => {
    writeFileSync(join(run, 'metrics.tmp'), `${row(1)}\n`);
    renameSync(join(run, 'metrics.tmp'), join(run, 'metrics.jsonl'));
    await until('the reset', () => runsOf(board), (rs) => rs[0].rows === 1);
    appendFileSync(join(run, 'metrics.jsonl'), `${row(2)}\n${row(3)}\n`);
    await until('rows after the reset', () => runsOf(board), (rs) => rs[0].rows === 3);
  });

  it('a run that appears after the board started is found; a damaged line in the middle is skipped, not fatal', async () => {
    const late = join(root, 'sweep', 'lr=1');
    mkdirSync(late, { recursive: true });
    writeFileSync(join(late, 'metrics.jsonl'), `${row(1)}\nnot json\n${row(2)}\n`);
    const rs = await until('the new run', () => runsOf(board), (x) => x.some((r) => r.name.endsWith('lr=1') && r.rows === 2));
    expect(rs.find((r) => r.name.endsWith('lr=1'))!.status).toBe('stopped');
  });

  it('serves nothing outside its directories: a linked file or run out of them is not read', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'bptt-outside-'));
    writeFileSync(join(outside, 'secret.jsonl'), `${row(1)}\n${row(2)}\n${row(3)}\n${row(4)}\n`);
    const linked = join(root, 'linked-file');
    mkdirSync(linked);
    writeFileSync(join(linked, 'config.yaml'), `${CONFIG_HEADER}\n`);
    symlinkSync(join(outside, 'secret.jsonl'), join(linked, 'metrics.jsonl'));
    mkdirSync(join(outside, 'run'));
    writeFileSync(join(outside, 'run', 'metrics.jsonl'), `${row(1)}\n`);
    symlinkSync(join(outside, 'run'), join(root, 'linked-run'));
    const rs = await until('the linked run', () => runsOf(board), (x) => x.some((r) => r.name.endsWith('linked-file')));
    expect(rs.find((r) => r.name.endsWith('linked-file'))!.rows).toBe(0);
    expect(rs.some((r) => r.name.endsWith('linked-run'))).toBe(false);
    for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/metrics.jsonl', '/live/metrics.jsonl', '/board.js/../../package.json']) {
      const res = await get(board, path);
      expect(res.status, path).toBe(404);
    }
  });

  it('answers only at its loopback name (a DNS name pointing at 127.0.0.1 is refused) and only GET', async () => {
    expect((await get(board, '/api/runs', `evil.example:${board.port}`)).status).toBe(403);
    expect((await get(board, '/api/runs', `localhost:${board.port}`)).status).toBe(200);
    const post = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port: board.port, path: '/api/runs', method: 'POST' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.end();
    });
    expect(post).toBe(405);
    const page = await get(board, '/');
    expect(page.body).toContain('<script src="/uPlot.iife.min.js">');
    expect((await get(board, '/uPlot.iife.min.js')).body.length).toBeGreaterThan(10_000);
  });

  it('a busy port is one line naming it; a missing directory too', async () => {
    await expect(startBoard({ dirs: [root], port: board.port })).rejects.toThrow(`port ${board.port} is in use`);
    await expect(startBoard({ dirs: [join(root, 'nope')], port: 0 })).rejects.toThrow('no such directory');
    const r = bptt(['board', join(root, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bptt: error: board: .*nope: no such directory\n$/);
    expect(bptt(['board', root, '--port', '70000']).stderr).toContain('--port 70000: must be an integer in 0..65535');
  });

  it('LineTail and the samples file: lines only when whole, samples with their newlines back', () => {
    const f = join(root, 'tail.txt');
    writeFileSync(f, 'a\nb');
    const t = new LineTail(f);
    expect(t.poll()).toEqual({ reset: false, lines: ['a'] });
    expect(t.poll()).toEqual({ reset: false, lines: [] });
    appendFileSync(f, 'c\n');
    expect(t.poll()).toEqual({ reset: false, lines: ['bc'] });
    writeFileSync(f, 'x\n');
    expect(t.poll()).toEqual({ reset: true, lines: ['x'] });
    expect(parseSampleLine('minibatch 120 (epoch 1.50): ROMEO:↵I')).toEqual({ step: 120, epoch: 1.5, text: 'ROMEO:\nI' });
  });
});

/** Starts `node args` and resolves with the child once a stdout line matches `ready` (its match). */
function startChild(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray; output: () => string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, match: m, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code} before it was ready:\n${out}`)));
  });
}

function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

describeIfAvailable('board in a real browser (headless Chromium)', existsSync(CHROMIUM), `Debian's chromium (${CHROMIUM})`, () => {
  const root = mkdtempSync(join(tmpdir(), 'bptt-board-live-'));
  const small = ['--builtin', 'counting', '--cell', 'gru', '--hidden', '48', '--batch', '16', '--steps', '32', '--workers', '1'];

  it('draws two runs, and a live run\'s new points appear without a reload; axes, names and a sample are on the page', async () => {
    // a finished run to compare against, and a live one that reports every 15 minibatches
    expect(bptt(['train', ...small, '--minibatches', '60', '--set', 'run.eval_every=20 minibatches', '--set', 'run.sample_every=30 minibatches',
      '--out', join(root, 'finished')]).code).toBe(0);
    const live = await startChild([CLI, 'train', ...small, '--cell', 'lstm', '--minibatches', '1000000', '--set', 'run.eval_every=15 minibatches',
      '--set', 'run.sample_every=60 minibatches', '--set', 'run.checkpoint_every=0', '--out', join(root, 'live'), '--board', '0'], /board follows this run at (http:\S+)/)
    const { chromium } = await import('playwright-core');
    const boardProc = await startChild([CLI, 'board', root, '--port', '0'], /bptt board: (http:\S+)/);
    const browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(boardProc.match[1]);
      await page.waitForFunction(() => (window as any).board?.runs.size === 2 && document.querySelectorAll('#runs tbody tr').length === 2);
      const loadedAt = await page.evaluate(() => (window as any).board.loadedAt);
      const points = () => page.evaluate(() => Number(document.getElementById('chart-loss')!.dataset.points));
      const first = await until('points on the loss chart', points, (n) => n > 0, 20_000);
      await until('new points from the live run', points, (n) => n >= first + 6, 30_000);
      expect(await page.evaluate(() => (window as any).board.loadedAt)).toBe(loadedAt); // no reload
      // what is drawn: two runs x (validation, train) on the loss chart, one series per run on the others
      expect(await page.evaluate(() => document.getElementById('chart-loss')!.dataset.series)).toBe('4');
      expect(await page.evaluate(() => (window as any).board.charts.loss.chart.series.length)).toBe(5); // + the x series
      expect(await page.evaluate(() => document.getElementById('chart-lr')!.dataset.series)).toBe('2');
      // uPlot draws axis labels on its canvas: read what it was told to draw
      const axisLabels = () => page.evaluate(() => (window as any).board.charts.loss.chart.axes.map((a: { label: string }) => a.label));
      expect(await axisLabels()).toEqual(['minibatches', 'loss (nats/char)']);
      const legend = await page.$$eval('#chart-loss .u-legend .u-series', (els) => els.map((e) => e.textContent));
      for (const name of ['finished validation', 'finished train', 'live validation', 'live train']) expect(legend.join('|')).toContain(name);
      const runsText = await page.textContent('#runs');
      expect(runsText).toMatch(/finished.*gru.*H=48.*completed/is);
      expect(runsText).toMatch(/live.*LSTM.*H=48.*running/is);
      await page.waitForFunction(() => document.querySelectorAll('#samples .sample[data-run$="live"]').length > 0, undefined, { timeout: 20_000 });
      const sample = await page.textContent('#samples .sample[data-run$="finished"]');
      const samplesFile = readFileSync(join(root, 'finished', 'samples.txt'), 'utf8').trim().split('\n').pop()!;
      expect(sample).toContain(parseSampleLine(samplesFile)!.text.slice(0, 20));
      // the x axis follows the choice, in place
      await page.selectOption('#xaxis', 'elapsed_s');
      await until('the seconds axis', axisLabels, (l) => l[0] === 'seconds');
      await page.selectOption('#xaxis', 'step');
      await until('the minibatches axis', axisLabels, (l) => l[0] === 'minibatches');
      const shot = join(root, 'board.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
      if (process.env.SAVE_BOARD_SCREENSHOT) copyFileSync(shot, process.env.SAVE_BOARD_SCREENSHOT);
      // the run's own board (train --board) serves the same page for that run alone
      await page.goto(live.match[1]);
      await page.waitForFunction(() => (window as any).board?.runs.size === 1 && Number(document.getElementById('chart-loss')!.dataset.points) > 0);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      expect(await stopChild(live.child)).toBe(130);
      expect(await stopChild(boardProc.child)).toBe(0);
    }
    // the live run stopped as a run stops: resumable
    expect(existsSync(join(root, 'live', 'last.safetensors'))).toBe(true);
  }, 120_000);
});
