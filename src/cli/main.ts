#!/usr/bin/env node
// The bptt command (package.json "bin"). The program is in program.ts; this file only runs it, so
// that tests can also drive the program in-process (test/fixtures/signal_at_step.mjs). The process
// limits are checked first, before the program's modules load (too few open files break the
// module loader itself).
import { limitsProblem } from './limits.js';

const problem = limitsProblem();
if (problem) {
  process.stderr.write(`bptt: error: ${problem}\n`);
  process.exit(2);
}
const { main } = await import('./program.js');
process.exitCode = await main(process.argv);
