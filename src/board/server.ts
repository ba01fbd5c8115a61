// `bptt board`: a local web page that follows run directories while they train. Node's own http
// server on the loopback address; the page (board/ at the package root) and its charting library
// (uPlot, from node_modules) are served from the package, nothing from a CDN.
//
// One poller reads every run's files (board/runs.ts) a few times a second and pushes what changed
// to every open page as server-sent events: a snapshot when a page connects, then runs, rows and
// samples as they appear. The page asks for nothing by path, so there is nothing to traverse; and a
// request whose Host is not this loopback address is refused (a web page elsewhere cannot reach the
// board through a DNS name that points at 127.0.0.1).

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../util/errors.js';
import { findRunDirs, WatchedRun, type RunMeta } from './runs.js';

export interface BoardOptions {
  /** directories holding runs (a run directory, a sweep's directory, runs/ ...) */
  dirs: string[];
  /** 0 = any free port */
  port?: number;
  /** how often the runs' files are read, ms */
  pollMs?: number;
}

export interface Board {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_BOARD_PORT = 6060;
const HOST = '127.0.0.1';

/** The page's files: name served -> file on disk. Nothing else is ever read for a request. */
function staticFiles(): Map<string, { path: string; type: string }> {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/board (tests run the TypeScript) or dist/src/board (the built package)
  const page = ['../../board', '../../../board'].map((rel) => resolve(here, rel)).find((d) => existsSync(join(d, 'index.html')));
  if (!page) throw new Error('the board\'s page (board/index.html) is missing from the package');
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  return new Map([
    ['/', { path: join(page, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/board.js', { path: join(page, 'board.js'), type: 'text/javascript; charset=utf-8' }],
    ['/board.css', { path: join(page, 'board.css'), type: 'text/css; charset=utf-8' }],
    ['/uPlot.iife.min.js', { path: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['/uPlot.min.css', { path: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

/** Starts the board; resolves once it listens. A busy port is an InputError naming it. */
export async function startBoard(opts: BoardOptions): Promise<Board> {
  if (opts.dirs.length === 0) throw new InputError('board: give at least one directory of runs');
  for (const d of opts.dirs) {
    if (!existsSync(d)) throw new InputError(`board: ${d}: no such directory`);
    if (!statSync(d).isDirectory()) throw new InputError(`board: ${d}: not a directory`);
  }
  const roots = opts.dirs.map((d) => resolve(d));
  const realRoots = roots.map((d) => realpathSync(d));
  const files = staticFiles();
  const runs = new Map<string, WatchedRun>();
  const clients = new Set<ServerResponse>();
  let nextId = 0;

  const send = (res: ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const broadcast = (event: string, data: unknown) => { for (const c of clients) send(c, event, data); };
  const poll = () => {
    for (const { dir, root } of findRunDirs(roots, realRoots)) {
      if (![...runs.values()].some((r) => r.dir === dir)) {
        const id = `r${nextId++}`;
        runs.set(id, new WatchedRun(id, dir, root, realRoots));
      }
    }
    for (const run of runs.values()) {
      const c = run.poll();
      if (c.meta) broadcast('run', c.meta);
      if (c.rows) broadcast('rows', { id: run.id, ...c.rows });
      if (c.samples) broadcast('samples', { id: run.id, ...c.samples });
    }
  };
  poll();
  const timer = setInterval(poll, opts.pollMs ?? 500);
  // a comment line now and then keeps idle connections open through proxies and tells a closed page
  const keepAlive = setInterval(() => { for (const c of clients) c.write(': keep-alive\n\n'); }, 15_000);

  let port = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const allowedHosts = [`${HOST}:${port}`, `localhost:${port}`];
    if (!allowedHosts.includes(req.headers.host ?? '')) return plain(res, 403, 'bptt board answers only at its loopback address\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'only GET\n');
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      const snapshot: Array<RunMeta & { rows: unknown[]; samples: unknown[] }> = [...runs.values()].map((r) => ({ ...r.meta, rows: r.rows, samples: r.samples }));
      send(res, 'snapshot', { runs: snapshot });
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (path === '/api/runs') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify([...runs.values()].map((r) => ({ ...r.meta, rows: r.rows.length, samples: r.samples.length }))));
      return;
    }
    const f = files.get(path);
    if (!f) return plain(res, 404, 'not found\n');
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(f.path));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => fail(err.code === 'EADDRINUSE'
      ? new InputError(`board: port ${opts.port} is in use; give another with --port, or --port 0 for any free one`)
      : err.code === 'EACCES' ? new InputError(`board: port ${opts.port} needs privileges; use a port above 1023`) : err));
    server.listen(opts.port ?? DEFAULT_BOARD_PORT, HOST, () => ok());
  }).catch((err) => {
    clearInterval(timer);
    clearInterval(keepAlive);
    throw err;
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://${HOST}:${port}/`,
    port,
    close: async () => {
      clearInterval(timer);
      clearInterval(keepAlive);
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}
