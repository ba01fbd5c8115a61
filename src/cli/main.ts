#!/usr/bin/env node
// The bptt command (package.json "bin"). The program is in program.ts; this file only runs it, so
// that tests can also drive the program in-process (test/fixtures/signal_at_step.mjs).
import { main } from './program.js';

process.exitCode = await main(process.argv);
