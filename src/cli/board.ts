// `bptt board`: serve the live board until a stop signal (exit 0: stopping it is how it ends).

import { startBoard } from '../board/server.js';
import { portNumber } from './args.js';
import { out as stdout } from './stdio.js';
import { STOP_SIGNALS } from './train.js';

export async function boardCommand(dirs: string[], opts: Record<string, string>): Promise<void> {
  const board = await startBoard({ dirs: dirs.length > 0 ? dirs : ['runs'], port: portNumber(opts.port) });
  stdout(`bptt board: ${board.url} (following ${dirs.length > 0 ? dirs.join(', ') : 'runs'}; Ctrl-C to stop)\n`);
  const sig = await new Promise<NodeJS.Signals>((done) => { for (const s of STOP_SIGNALS) process.once(s, () => done(s)); });
  await board.close();
  stdout(`bptt board: stopped (${sig})\n`);
}
