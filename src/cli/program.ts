// bptt: train character-level RNN language models by backpropagation through time on every core.
// This file wires commands to their modules and owns the exit codes:
//   0 success, 2 bad input or usage, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP), 1 internal error.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { runScaling, scalingTable } from '../bench/scaling.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { lineChart } from '../io/svg.js';
import { envOverrides, getPath, leafKeys, parseSet, parseValue, resolveConfig, type Override } from '../config/load.js';
import type { KernelPreference } from '../blas/loader.js';
import { CELL_KINDS, cellOf } from '../model/cells/index.js';
import { loadCheckpoint, writeCheckpointTensors } from '../checkpoint/checkpoint.js';
import { InputError } from '../util/errors.js';
import { exportTorch, importTorch } from '../checkpoint/torch.js';
import { compareRuns, expandRunDirs, type CompareAxes, parseGridArg, readSweepFile, runSweep, type SweepSpec } from './experiments.js';
import { formatInspect, inspectCheckpoint } from './inspect.js';
import { loadRunForResume, STOP_SIGNALS, trainCommand } from './train.js';
import { DEFAULT_BOARD_PORT, startBoard } from '../board/server.js';
import { workersWarning } from '../api/train.js';
import { load as loadModel, MAX_SAMPLE_LENGTH } from '../api/model.js';
import { describeModel, modelOf } from '../model/desc.js';
import { checkOutputFile } from './output_files.js';
import { canonicalPath } from '../io/files.js';
import { RUN_FILES, RunDir } from '../train/rundir.js';
import { RESUMABLE_KEYS } from '../checkpoint/identity.js';
import { runLength } from '../config/schema.js';
import { budgetSpent } from '../train/trainer.js';
import { formatDuration, plural } from './terminal.js';
import { keysTable } from '../config/docs.js';
import { guardStdio, out as stdout, err as stderr } from './stdio.js';

/** Plain flags and the config key each one sets (the rest go through --set). */
const FLAG_KEYS: Array<[flag: string, key: string, help: string]> = [
  ['--data <file>', 'data.path', 'UTF-8 text corpus (default: the built-in corpus)'],
  ['--builtin <name>', 'data.builtin', 'built-in corpus when no --data: counting'],
  ['--time <duration>', 'run.time_budget', 'train for this wall-clock time: 90s, 10m, 1h30m (default 10m)'],
  ['--epochs <n>', 'run.epochs', 'train this many epochs instead of a time budget'],
  ['--minibatches <n>', 'run.minibatches', 'train exactly this many minibatches (bitwise-reproducible)'],
  ['--cell <kind>', 'model.cell', CELL_KINDS.join(' | ')],
  ['--hidden <n>', 'model.hidden', 'hidden units H'],
  ['--layers <n>', 'model.layers', 'stacked layers'],
  ['--dropout <p>', 'model.dropout', 'dropout between stacked layers, in training'],
  ['--optimizer <kind>', 'optim.kind', 'sgd | momentum | adam | adamw'],
  ['--lr <x>', 'optim.lr', 'learning rate'],
  ['--clip <x>', 'optim.clip', 'gradient clipping theta'],
  ['--sampler <kind>', 'data.sampler', 'random | consecutive'],
  ['--steps <n>', 'data.steps', 'time steps T'],
  ['--batch <n>', 'data.batch', 'batch size B'],
  ['--seed <n>', 'run.seed', 'random seed'],
  ['--workers <n>', 'run.workers', 'worker threads (default: all cores)'],
  ['--out <dir>', 'run.out', 'run directory'],
];

function flagName(flag: string): string {
  return flag.split(' ')[0].slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function overridesFrom(opts: Record<string, unknown>, skip: string[] = []): Override[] {
  const out: Override[] = [];
  for (const [flag, key] of FLAG_KEYS) {
    if (skip.includes(key)) continue;
    const v = opts[flagName(flag)];
    if (v !== undefined) out.push({ key, value: key === 'data.path' || key === 'run.out' ? v : parseValue(String(v)), source: 'flag', origin: `${flag.split(' ')[0]} ${String(v)}` });
  }
  if (opts.deterministic) out.push({ key: 'run.deterministic', value: true, source: 'flag', origin: '--deterministic' });
  for (const s of (opts.set as string[] | undefined) ?? []) out.push(parseSet(s));
  return out;
}

function kernelsOpt(): Option {
  return new Option('--kernels <variant>', 'WASM kernels: auto picks relaxed-simd (FMA) when V8 accepts it').choices(['auto', 'simd', 'relaxed-simd']).default('auto');
}

function outputMode(opts: Record<string, unknown>) {
  return { quiet: Boolean(opts.quiet), json: Boolean(opts.logJson), tty: Boolean(process.stdout.isTTY) };
}

function addTrainFlags(cmd: Command): Command {
  for (const [flag, , help] of FLAG_KEYS) cmd.option(flag, help);
  return cmd
    .option('--set <key=value>', 'set any config key, e.g. --set optim.lr=50 (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--deterministic', 'bitwise-identical results for any worker count')
    .option('--quiet', 'print only errors')
    .option('--log-json', 'one JSON object per line instead of text')
    .addOption(kernelsOpt());
}

/** bench: the flags of what it measures (the corpus, the model, the minibatch's shape, the optimizer). */
const BENCH_FLAG_KEYS = ['data.path', 'data.builtin', 'model.cell', 'model.hidden', 'model.layers', 'model.dropout', 'optim.kind', 'data.steps', 'data.batch', 'data.sampler'];
function addBenchFlags(cmd: Command): Command {
  for (const [flag, key, help] of FLAG_KEYS) if (BENCH_FLAG_KEYS.includes(key)) cmd.option(flag, help);
  return cmd;
}

/** resume: only the flags of keys a resume may change, and the output options. */
function addResumeFlags(cmd: Command): Command {
  for (const [flag, key, help] of FLAG_KEYS) if ((RESUMABLE_KEYS as readonly string[]).includes(key) && key !== 'run.out') cmd.option(flag, help);
  return cmd
    .option('--set <key=value>', `set a key a resume may change (${RESUMABLE_KEYS.filter((k) => k !== 'run.out').join(', ')}; repeatable)`,
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--quiet', 'print only errors')
    .option('--log-json', 'one JSON object per line instead of text')
    .addOption(kernelsOpt());
}

export function buildProgram(): Command {
  const program = new Command('bptt')
    .description('Train character-level RNN language models by backpropagation through time, on every core.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // commander's own errors read like ours: "bptt: error: ..." (its text starts with "error: ")
    .configureOutput({ outputError: (text, write) => write(text.startsWith('error:') ? `bptt: ${text}` : text) })
    .exitOverride();

  addTrainFlags(program.command('train')
    .description('train a character-level language model on a text and write a run directory (bptt keys: every config key)')
    .option('--config <file>', 'YAML or JSON config file')
    .option('--force', 'overwrite an existing run directory')
    .option('--resume', 'continue the run in --out (or run.out) from its last checkpoint')
    .option('--print-config', 'print the resolved config with the source of each value, then exit')
    .option('--init <checkpoint>', 'start from this checkpoint\'s weights and vocabulary (e.g. one brought back by bptt import)')
    .option('--board [port]', `serve the live board (bptt board) for this run while it trains, on 127.0.0.1 (default port ${DEFAULT_BOARD_PORT}; 0: any free one)`))
    .addHelpText('after', '\nEvery config key, its meaning and default: bptt keys. Precedence: defaults < --config file < BPTT_* environment < flags.\n' +
      '\nExamples:\n  bptt train --data my.txt --time 10m --out runs/mine            # your own text, ten minutes\n' +
      '  bptt train --config examples/shakespeare.yaml                   # the tiny Shakespeare preset\n' +
      '  bptt train --config examples/d2l-random.yaml                    # the book\'s RNN, to its numbers\n' +
      '  bptt train --data my.txt --cell gru --layers 2 --epochs 5 --print-config')
    .action(async (opts: Record<string, unknown>) => {
      const overrides = [...envOverrides(process.env), ...overridesFrom(opts)];
      if (opts.resume) {
        const resolved = resolveConfig(null, overrides);
        return resumeRun(resolved.config.run.out, overrides, opts);
      }
      const resolved = resolveConfig((opts.config as string | undefined) ?? null, overrides);
      process.exitCode = await trainCommand(resolved, {
        force: Boolean(opts.force), printConfig: Boolean(opts.printConfig), kernels: opts.kernels as KernelPreference, output: outputMode(opts),
        init: opts.init as string | undefined,
        board: opts.board === undefined ? undefined : opts.board === true ? DEFAULT_BOARD_PORT : portNumber(String(opts.board)),
      });
    });

  addResumeFlags(program.command('resume <dir>')
    .description('continue an interrupted or finished run from its last checkpoint (same result as an uninterrupted run)'))
    .addHelpText('after', '\nExamples:\n  bptt resume runs/d2l-random\n  bptt resume runs/d2l-random --epochs 300   # train further')
    // the environment too, as train --resume reads it (only keys a resume may change are accepted)
    .action(async (dir: string, opts: Record<string, unknown>) => resumeRun(dir, [...envOverrides(process.env), ...overridesFrom(opts)], opts));

  program.command('sample')
    .description('generate text from a checkpoint')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .requiredOption('--prefix <text>', 'text to start from')
    .option('--length <n>', 'characters to generate', '100')
    .option('--temperature <t>', '0 = greedy (D2L); otherwise sample from softmax(logits / t)', '0')
    .option('--top-k <k>', 'sample only among the k most likely characters (0 = all)', '0')
    .option('--seed <n>', 'seed for sampling', '0')
    .addHelpText('after', '\nExample:\n  bptt sample --checkpoint runs/d2l-random/last.safetensors --prefix 分开 --length 50')
    .action((opts: Record<string, string>) => {
      const length = positiveInt(opts.length, '--length');
      if (length > MAX_SAMPLE_LENGTH) throw new InputError(`--length ${opts.length}: at most ${MAX_SAMPLE_LENGTH.toLocaleString('en-US')} characters`);
      const seed = nonNegInt(opts.seed, '--seed');
      if (seed > 0xffffffff) throw new InputError(`--seed ${opts.seed}: must be an integer in 0..4294967295`);
      const temperature = Number(opts.temperature);
      if (!(temperature >= 0)) throw new InputError(`--temperature ${opts.temperature}: must be a number >= 0`);
      const topK = nonNegInt(opts.topK, '--top-k');
      stdout(loadModel(opts.checkpoint).sample(opts.prefix, { length, temperature, topK, seed }) + '\n');
    });

  program.command('inspect')
    .description('gradients of one sequence through a trained model: loss, per-tensor norms, ||dL/dh_t|| per step')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .requiredOption('--text <string>', 'the sequence: inputs are its characters 0..T-2, targets 1..T-1')
    .option('--json', 'print JSON: {loss, grad_norms, dh_norms}')
    .option('--grads-out <file>', 'write the gradients as safetensors with the checkpoint tensor names')
    .option('--last-only', 'differentiate only the last character\'s loss: how far back one prediction\'s gradient reaches')
    .option('--force', 'overwrite an existing --grads-out file')
    .addHelpText('after', '\nExample:\n  bptt inspect --checkpoint runs/d2l-random/last.safetensors --text 分开我不能再想你')
    .action((opts: Record<string, string | boolean>) => {
      if (opts.gradsOut) checkOutputFile(opts.gradsOut as string, '--grads-out', { force: Boolean(opts.force), reads: [opts.checkpoint as string] });
      const r = inspectCheckpoint(opts.checkpoint as string, opts.text as string, opts.gradsOut as string | undefined, Boolean(opts.lastOnly));
      stdout((opts.json ? JSON.stringify(r, null, 2) : formatInspect(r)) + '\n');
    });

  program.command('sweep <file>')
    .description('train every point of a grid of config overrides; summary table sorted by validation perplexity')
    .option('--grid <key=v1,v2...>', 'a grid axis (repeatable); with a config FILE, or on top of a sweep file', (v: string, prev: string[] = []) => [...prev, v])
    .option('--parallel <k>', 'runs at a time (they split the cores)')
    .option('--out <dir>', 'directory for the runs and summary.md / summary.csv')
    .option('--epochs <n>', 'override run.epochs for every run')
    .option('--force', 'reuse a non-empty --out: its runs of the same names are overwritten')
    .addHelpText('after', '\nFILE is a config (then --grid gives the axes) or a sweep file {config, grid, parallel, out}.\nExamples:\n  bptt sweep examples/d2l-random.yaml --grid optim.lr=10,100 --grid data.sampler=random,consecutive --parallel 2 --out runs/sweep-lr\n  bptt sweep examples/sweep.yaml')
    .action(async (file: string, opts: Record<string, unknown>) => {
      if (!existsSync(file)) throw new InputError(`sweep ${file}: no such file`);
      if (!statSync(file).isFile()) throw new InputError(`sweep ${file}: not a regular file (a config or a sweep file)`);
      const isSweepFile = /^\s*grid\s*:/m.test(readFileSync(file, 'utf8'));
      const spec: SweepSpec = isSweepFile ? readSweepFile(file) : { config: file, grid: [], parallel: 1, out: 'runs/sweep' };
      spec.grid.push(...((opts.grid as string[] | undefined) ?? []).map(parseGridArg));
      if (spec.grid.length === 0) throw new InputError('sweep: no grid; give --grid KEY=V1,V2 or a sweep file with a grid');
      if (opts.parallel !== undefined) spec.parallel = positiveInt(String(opts.parallel), '--parallel');
      if (opts.out) spec.out = String(opts.out);
      if (opts.epochs !== undefined) spec.epochs = positiveInt(String(opts.epochs), '--epochs');
      process.exitCode = await runSweep(spec, (s) => stdout(s + '\n'), { force: Boolean(opts.force) });
    });

  program.command('compare <dirs...>')
    .description('runs side by side: config differences, final and best perplexity, tokens/s; one SVG of their curves')
    .option('--svg <file>', 'where to write the overlaid curves', 'compare.svg')
    .option('--force', 'overwrite an existing --svg file')
    .addOption(new Option('--x <axis>', 'the chart\'s x axis: epoch, seconds (wall clock) or tokens').choices(['epoch', 'seconds', 'tokens']).default('epoch'))
    .addOption(new Option('--y <axis>', 'the chart\'s y axis: ppl (log scale) or loss (nats per character)').choices(['ppl', 'loss']).default('ppl'))
    .addHelpText('after', '\nExample:\n  bptt compare runs/d2l-random runs/d2l-consecutive --svg compare.svg\n  bptt compare runs/sweep-quick   # a sweep directory: all of its runs\n' +
      '  bptt compare runs/shakespeare runs/torch-10m --x seconds --y loss --svg time.svg   # time to quality')
    .action((dirs: string[], opts: Record<string, string | boolean>) => {
      // everything of every compared run is an input: the chart never replaces a run's file
      const reads = expandRunDirs(dirs).flatMap((d) => Object.keys(RUN_FILES).map((f) => new RunDir(d).path(f as keyof typeof RUN_FILES)));
      checkOutputFile(opts.svg as string, '--svg', { force: Boolean(opts.force), reads });
      stdout(compareRuns(dirs, opts.svg as string, { x: opts.x as CompareAxes['x'], y: opts.y as CompareAxes['y'] }) + '\n');
    });

  program.command('board [dirs...]')
    .description('a live local web page of runs: validation and training loss, learning rate, tokens/s and samples, updated as they train')
    .option('--port <n>', `port on 127.0.0.1 (0: any free one)`, String(DEFAULT_BOARD_PORT))
    .addHelpText('after', '\nDIRS are run directories or directories holding runs (a sweep\'s, runs/); default: runs.\n' +
      'The page reads only the runs\' own files, and only inside DIRS; it answers only on 127.0.0.1.\n' +
      'Examples:\n  bptt board                         # every run under runs/\n  bptt board runs/sweep-lr runs/mine --port 8080\n' +
      '  bptt train --data my.txt --board   # a run and its board together')
    .action(async (dirs: string[], opts: Record<string, string>) => {
      const board = await startBoard({ dirs: dirs.length > 0 ? dirs : ['runs'], port: portNumber(opts.port) });
      stdout(`bptt board: ${board.url} (following ${dirs.length > 0 ? dirs.join(', ') : 'runs'}; Ctrl-C to stop)\n`);
      const sig = await new Promise<NodeJS.Signals>((done) => { for (const s of STOP_SIGNALS) process.once(s, () => done(s)); });
      await board.close();
      stdout(`bptt board: stopped (${sig})\n`);
    });

  program.command('keys')
    .description('every config key: type, default, meaning, environment variable (set any with --set key=value)')
    .action(() => stdout(keysTable() + '\n'));

  program.command('export')
    .description('write a checkpoint in another framework\'s naming: --format torch (torch.nn.RNN / GRU / LSTM + nn.Linear)')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .addOption(new Option('--format <name>', 'target framework').choices(['torch']).default('torch'))
    .option('--out <file>', 'output file (default: next to the checkpoint, *.torch.safetensors)')
    .option('--force', 'overwrite an existing output file')
    .addHelpText('after', '\nExample:\n  bptt export --checkpoint runs/d2l-random/last.safetensors --format torch --out model.torch.safetensors\n  python examples/load_in_torch.py model.torch.safetensors 分开')
    .action((opts: Record<string, string>) => {
      const ck = loadCheckpoint(opts.checkpoint);
      const out = opts.out ?? opts.checkpoint.replace(/(\.safetensors)?$/, '.torch.safetensors');
      checkOutputFile(out, '--out', { force: Boolean(opts.force), reads: [opts.checkpoint] });
      exportTorch(ck, out);
      const m = ck.layout.model;
      const { torch } = cellOf(m.cell);
      // only torch.nn.RNN takes a nonlinearity argument
      const torchModule = `torch.nn.${torch.module}${torch.module === 'RNN' ? ` nonlinearity=${torch.nonlinearity({ act: m.act, gruReset: m.gruReset })}` : ''}`;
      const depth = m.layers > 1 ? `, num_layers ${m.layers}${m.dropout > 0 ? `, dropout ${m.dropout}` : ''}` : '';
      stdout(`bptt export: ${out} (${torchModule}, hidden ${m.H}${depth}, vocabulary ${m.V})\n`);
    });

  program.command('import')
    .description('turn a torch-named file (bptt export, trained on in PyTorch, e.g. examples/train_ddp.py) back into a bptt checkpoint')
    .requiredOption('--checkpoint <file>', 'a .safetensors file in torch naming (format bptt-torch-1)')
    .requiredOption('--out <file>', 'the bptt checkpoint to write')
    .option('--force', 'overwrite an existing --out file')
    .addHelpText('after', '\nExample:\n  bptt import --checkpoint trained.torch.safetensors --out trained.safetensors\n  bptt sample --checkpoint trained.safetensors --prefix 分开\n  bptt train --config runs/d2l-random/config.yaml --init trained.safetensors --out runs/continued')
    .action((opts: Record<string, string | boolean>) => {
      const out = opts.out as string;
      checkOutputFile(out, '--out', { force: Boolean(opts.force), reads: [opts.checkpoint as string] });
      const { tensors, vocab, config } = importTorch(opts.checkpoint as string);
      writeCheckpointTensors(out, tensors, { vocab, config, training: null, carriedState: null, kernels: 'import', data: null });
      stdout(`bptt import: ${out} (${describeModel(modelOf(vocab.size, config.model))}, vocabulary ${vocab.size}); ` +
        `use it with sample, inspect, export, or train --init\n`);
    });

  addBenchFlags(program.command('bench'))
    .description('scaling benchmark: the same training slice at each worker count; tokens/s, speedup, efficiency')
    .option('--config <file>', 'YAML or JSON config file (its model and data sections are measured)')
    .option('--workers <list>', 'comma-separated worker counts', `1,${availableParallelism()}`)
    .option('--warmup <n>', 'minibatches run before timing, per worker count', '3')
    .option('--minibatches <n>', 'minibatches timed per worker count and round', '20')
    .option('--repeat <n>', 'interleaved rounds over the worker counts; the median is reported', '3')
    .option('--json <file>', 'write {machine, config, results: [{workers, tokens_per_s, speedup, efficiency, ...}]}')
    .option('--svg <file>', 'write a speedup chart against the ideal line')
    .option('--force', 'overwrite existing --json / --svg files')
    .option('--set <key=value>', 'set any config key (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--deterministic', 'benchmark the deterministic (fixed-shard) mode')
    .addOption(kernelsOpt())
    .addHelpText('after', '\nExamples:\n  bptt bench --config examples/d2l-random.yaml --workers 1,2\n  bptt bench --data my.txt --cell gru --layers 2 --hidden 512\n  bptt bench --config examples/scaling.yaml --workers 1,2,4,8,16 --json scaling.json --svg scaling.svg')
    .action(async (opts: Record<string, unknown>) => {
      const workers = String(opts.workers).split(',').map((w) => {
        const n = Number(w);
        if (!Number.isInteger(n) || n < 1 || n > 256) throw new InputError(`--workers ${opts.workers}: each count must be an integer in 1..256`);
        return n;
      });
      const benchReads = [opts.config, opts.data].filter((f): f is string => typeof f === 'string');
      for (const [flag, file] of [['--json', opts.json], ['--svg', opts.svg]] as const) if (file) checkOutputFile(String(file), flag, { force: Boolean(opts.force), reads: benchReads });
      if (opts.json && opts.svg && canonicalPath(String(opts.json)) === canonicalPath(String(opts.svg))) throw new InputError(`--json and --svg name the same file ${opts.json}`);
      // --workers and --minibatches are the benchmark's own (a list of counts, the timed minibatches)
      const resolved = resolveConfig((opts.config as string | undefined) ?? null, [...envOverrides(process.env), ...overridesFrom(opts, ['run.workers', 'run.minibatches'])]);
      const c = resolved.config;
      const oversubscribed = Math.max(...workers);
      if (oversubscribed > availableParallelism()) stderr(`bptt: warning: ${workersWarning(oversubscribed)}\n`);
      const model = describeModel(modelOf(0, c.model));
      stdout(`bptt bench: ${model}, B=${c.data.batch} T=${c.data.steps} ${c.data.sampler}, ` +
        `${positiveInt(String(opts.minibatches), '--minibatches')} minibatches after ${nonNegInt(String(opts.warmup), '--warmup')} warm-up, workers ${workers.join(',')}\n`);
      const report = await runScaling({
        config: c, workers, warmup: Number(opts.warmup), minibatches: Number(opts.minibatches), repeat: positiveInt(String(opts.repeat), '--repeat'), kernels: opts.kernels as KernelPreference,
        onResult: (r) => stdout(`  ${r.workers} worker(s): ${Math.round(r.tokens_per_s).toLocaleString('en-US')} tokens/s (median of ` +
          `${r.runs_tokens_per_s.map((x) => Math.round(x)).join(', ')})` +
          `${Number.isFinite(r.speedup) ? `, speedup ${r.speedup.toFixed(2)}x, efficiency ${(100 * r.efficiency).toFixed(0)}%` : ''}\n`),
      });
      stdout(`\n${JSON.stringify(report.machine)}, kernels ${report.kernels}, ${(report.config.flops_per_token / 1e6).toFixed(2)} MFLOP/token\n${scalingTable(report)}\n`);
      if (opts.json) writeFileAtomic(String(opts.json), JSON.stringify(report, null, 2) + '\n');
      if (opts.svg) {
        const xs = report.results.map((r) => r.workers);
        writeFileAtomic(String(opts.svg), lineChart([
          { name: 'measured', points: report.results.map((r) => [r.workers, r.speedup]) },
          { name: 'ideal', points: xs.map((x) => [x, x]), dashed: true },
        ], { title: `bptt speedup, ${model}, B=${c.data.batch} T=${c.data.steps} (${report.machine.cores} cores)`, xLabel: 'workers', yLabel: 'speedup over 1 worker' }));
      }
    });

  return program;
}

async function resumeRun(dir: string, overrides: Override[], opts: Record<string, unknown>): Promise<void> {
  const allowed = new Set<string>(RESUMABLE_KEYS);
  for (const o of overrides) {
    if (!allowed.has(o.key)) throw new InputError(`${o.origin}: ${o.key} cannot change when resuming (it would not continue the same run); allowed: ${[...allowed].join(', ')}`);
  }
  const { ck, fromConfigFile } = loadRunForResume(dir);
  // The checkpoint's config, with run.out pinned to this directory; config.yaml edits of the
  // resumable keys, then flags, may extend run.epochs etc.
  const base = { ...ck.config, run: { ...ck.config.run, out: dir } };
  let resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out')]);
  // a relative data.path read from another working directory: the file the run was trained on is
  // recorded with its absolute path (its size and sha256 are checked before training either way)
  const dataPath = resolved.config.data.path;
  if (dataPath !== null && !existsSync(dataPath) && ck.data?.path && existsSync(ck.data.path) && !overrides.some((o) => o.key === 'data.path')) {
    stdout(`bptt: ${dataPath} is not there from this directory; reading the run's data from ${ck.data.path}, where it was trained\n`);
    resolved = resolveConfigFrom(base, [...fromConfigFile, ...overrides.filter((o) => o.key !== 'run.out'),
      { key: 'data.path', value: ck.data.path, source: 'flag', origin: 'the checkpoint\'s data_path' }]);
  }
  const t = ck.training!;
  const length = runLength(resolved.config.run);
  // a length the run has already passed is refused before anything is touched; one it has reached
  // exactly is a complete run: say so and how to go on, and leave the directory as it is (unless a
  // stop cut its last evaluation: that run trains nothing more, it makes the evaluation and completes)
  const pending = t.reportDue !== null;
  const further = (now: string, next: string) => `bptt: ${dir} is complete (${now}); to train further: bptt resume ${dir} ${next}\n`;
  if (length.kind === 'epochs') {
    const past = t.epoch > length.n || (t.epoch === length.n && t.minibatch > 0);
    if (past) {
      throw new InputError(`--epochs ${length.n}: ${dir} is already at epoch ${t.epoch + (t.minibatch > 0 ? 1 : 0)}` +
        `${t.minibatch > 0 ? ` (minibatch ${t.minibatch})` : ''}; give at least ${t.epoch + (t.minibatch > 0 ? 1 : 0)} (nothing was changed)`);
    }
    if (t.epoch === length.n && !pending) {
      stdout(further(`${plural(t.epoch, 'epoch', 'epochs')}, run.epochs ${length.n}`, `--epochs ${t.epoch + Math.max(1, Math.round(t.epoch / 2))}`));
      return;
    }
  } else if (length.kind === 'minibatches') {
    if (t.step > length.n) throw new InputError(`run.minibatches ${length.n}: ${dir} has already trained ${t.step} (nothing was changed)`);
    if (t.step === length.n && !pending) {
      stdout(further(`${plural(t.step, 'minibatch', 'minibatches')}`, `--minibatches ${t.step + Math.max(1, Math.round(t.step / 2))}`));
      return;
    }
  } else if (budgetSpent(t, length.seconds) && !pending) {
    stdout(further(`${formatDuration(t.elapsedS)} of its ${formatDuration(length.seconds)} budget`, `--time ${formatDuration(length.seconds * 1.5).replace(/^(\d+m)00s$/, '$1')}`));
    return;
  }
  process.exitCode = await trainCommand(resolved, { force: false, printConfig: false, kernels: (opts.kernels as KernelPreference) ?? 'auto', output: outputMode(opts) }, ck);
}

function resolveConfigFrom(base: object, overrides: Override[]) {
  const fromCheckpoint = leafKeys().map((key) => ({ key, value: getPath(base, key), source: 'file' as const, origin: 'checkpoint' }));
  return resolveConfig(null, [...fromCheckpoint, ...overrides]);
}

function positiveInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new InputError(`${name} ${s}: must be a positive integer`);
  return n;
}

function portNumber(s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new InputError(`--port ${s}: must be an integer in 0..65535 (0: any free port)`);
  return n;
}

function nonNegInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new InputError(`${name} ${s}: must be an integer >= 0`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  guardStdio();
  // SIGUSR1 would open Node's inspector on 127.0.0.1:9229 (anyone on the machine could then run code
  // in the trainer); a listener of our own keeps it closed (Node 20 has no --disable-sigusr1)
  process.on('SIGUSR1', () => {});
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message; help and version are successes
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    }
    if (err instanceof InputError) {
      stderr(`bptt: error: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    stderr(`bptt: internal error: ${e.message}\n`);
    if (process.env.BPTT_DEBUG) stderr(`${e.stack}\n`);
    return 1;
  }
}
