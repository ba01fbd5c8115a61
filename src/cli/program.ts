// bptt: train character-level RNN language models by backpropagation through time on every core.
// This file wires commands to their modules and owns the exit codes:
//   0 success, 2 bad input or usage, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP), 1 internal error.

import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { envOverrides, parseSet, parseSetJson, parseValueFor, resolveConfig, type Override } from '../config/load.js';
import type { KernelPreference } from '../blas/loader.js';
import { CELL_KINDS } from '../model/cells/index.js';
import { InputError } from '../util/errors.js';
import { RESUMABLE_KEYS } from '../checkpoint/identity.js';
import { DEFAULT_BOARD_PORT } from '../board/server.js';
import { keysTable } from '../config/docs.js';
import { portNumber } from './args.js';
import { benchCommand } from './bench.js';
import { boardCommand } from './board.js';
import { exportCommand, importCommand } from './convert.js';
import { compareCommand, sweepCommand } from './experiments.js';
import { inspectCommand } from './inspect.js';
import { resumeRun } from './resume.js';
import { sampleCommand } from './sample.js';
import { trainCommand } from './train.js';
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
    if (v !== undefined) out.push({ key, value: parseValueFor(key, String(v)), source: 'flag', origin: `${flag.split(' ')[0]} ${String(v)}` });
  }
  if (opts.deterministic) out.push({ key: 'run.deterministic', value: true, source: 'flag', origin: '--deterministic' });
  for (const s of (opts.set as string[] | undefined) ?? []) out.push(parseSet(s));
  for (const s of (opts.setJson as string[] | undefined) ?? []) out.push(parseSetJson(s));
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
    .option('--set <key=value>', 'set any config key, e.g. --set optim.lr=50 (repeatable); a string key takes the text as written', (v: string, prev: string[] = []) => [...prev, v])
    .option('--set-json <key=json>', 'set a config key to a JSON value, exactly typed, e.g. --set-json \'run.sample_prefixes=["a, b"]\' (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
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

  addRunCommands(program);
  addModelCommands(program);
  addExperimentCommands(program);
  return program;
}

/** train and resume: a run from a config, or continued from its checkpoint */
function addRunCommands(program: Command): void {
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
        return resumeRun(resolved.config.run.out, overrides, { kernels: opts.kernels as KernelPreference, output: outputMode(opts) });
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
    .action(async (dir: string, opts: Record<string, unknown>) => resumeRun(dir, [...envOverrides(process.env), ...overridesFrom(opts)], { kernels: (opts.kernels as KernelPreference | undefined) ?? 'auto', output: outputMode(opts) }));
}

/** what takes a checkpoint: sample, inspect, export, import */
function addModelCommands(program: Command): void {
  program.command('sample')
    .description('generate text from a checkpoint')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .requiredOption('--prefix <text>', 'text to start from')
    .option('--length <n>', 'characters to generate', '100')
    .option('--temperature <t>', '0 = greedy (D2L); otherwise sample from softmax(logits / t) (default: the run\'s run.sample_temperature, 0.8 unless its config says otherwise)')
    .option('--top-k <k>', 'sample only among the k most likely characters (0 = all)', '0')
    .option('--seed <n>', 'seed for sampling', '0')
    .addHelpText('after', '\nExample:\n  bptt sample --checkpoint runs/d2l-random/last.safetensors --prefix 分开 --length 50')
    .action(async (opts: Record<string, string>) => { process.exitCode = await sampleCommand(opts); });

  program.command('inspect')
    .description('gradients of one sequence through a trained model: loss, per-tensor norms, ||dL/dh_t|| per step')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .requiredOption('--text <string>', 'the sequence: inputs are its characters 0..T-2, targets 1..T-1')
    .option('--json', 'print JSON: {loss, grad_norms, dh_norms}')
    .option('--grads-out <file>', 'write the gradients as safetensors with the checkpoint tensor names')
    .option('--last-only', 'differentiate only the last character\'s loss: how far back one prediction\'s gradient reaches')
    .option('--force', 'overwrite an existing --grads-out file')
    .addHelpText('after', '\nExample:\n  bptt inspect --checkpoint runs/d2l-random/last.safetensors --text 分开我不能再想你')
    .action((opts: Record<string, string | boolean>) => inspectCommand(opts));

  program.command('export')
    .description('write a checkpoint in another framework\'s naming: --format torch (torch.nn.RNN / GRU / LSTM + nn.Linear)')
    .requiredOption('--checkpoint <file>', 'a .safetensors checkpoint')
    .addOption(new Option('--format <name>', 'target framework').choices(['torch']).default('torch'))
    .option('--out <file>', 'output file (default: next to the checkpoint, *.torch.safetensors)')
    .option('--force', 'overwrite an existing output file')
    .addHelpText('after', '\nExample:\n  bptt export --checkpoint runs/d2l-random/last.safetensors --format torch --out model.torch.safetensors\n  python examples/load_in_torch.py model.torch.safetensors 分开')
    .action((opts: Record<string, string>) => exportCommand(opts));

  program.command('import')
    .description('turn a torch-named file (bptt export, trained on in PyTorch, e.g. examples/train_ddp.py) back into a bptt checkpoint')
    .requiredOption('--checkpoint <file>', 'a .safetensors file in torch naming (format bptt-torch-1)')
    .requiredOption('--out <file>', 'the bptt checkpoint to write')
    .option('--force', 'overwrite an existing --out file')
    .addHelpText('after', '\nExample:\n  bptt import --checkpoint trained.torch.safetensors --out trained.safetensors\n  bptt sample --checkpoint trained.safetensors --prefix 分开\n  bptt train --config runs/d2l-random/config.yaml --init trained.safetensors --out runs/continued')
    .action((opts: Record<string, string | boolean>) => importCommand(opts));
}

/** runs side by side and the machine: sweep, compare, board, keys, bench */
function addExperimentCommands(program: Command): void {
  program.command('sweep <file>')
    .description('train every point of a grid of config overrides; summary table sorted by validation perplexity')
    .option('--grid <key=v1,v2...>', 'a grid axis (repeatable); with a config FILE, or on top of a sweep file', (v: string, prev: string[] = []) => [...prev, v])
    .option('--parallel <k>', 'runs at a time (they split the cores)')
    .option('--out <dir>', 'directory for the runs and summary.md / summary.csv')
    .option('--epochs <n>', 'override run.epochs for every run')
    .option('--force', 'reuse a non-empty --out: its runs of the same names are overwritten')
    .addHelpText('after', '\nFILE is a config (then --grid gives the axes) or a sweep file {config, grid, parallel, out}.\nExamples:\n  bptt sweep examples/d2l-random.yaml --grid optim.lr=10,100 --grid data.sampler=random,consecutive --parallel 2 --out runs/sweep-lr\n  bptt sweep examples/sweep.yaml')
    .action(async (file: string, opts: Record<string, unknown>) => { process.exitCode = await sweepCommand(file, opts); });

  program.command('compare <dirs...>')
    .description('runs side by side: config differences, final and best perplexity, tokens/s; one SVG of their curves')
    .option('--svg <file>', 'where to write the overlaid curves', 'compare.svg')
    .option('--force', 'overwrite an existing --svg file')
    .addOption(new Option('--x <axis>', 'the chart\'s x axis: epoch, seconds (wall clock) or tokens').choices(['epoch', 'seconds', 'tokens']).default('epoch'))
    .addOption(new Option('--y <axis>', 'the chart\'s y axis: ppl (log scale) or loss (nats per character)').choices(['ppl', 'loss']).default('ppl'))
    .addHelpText('after', '\nExample:\n  bptt compare runs/d2l-random runs/d2l-consecutive --svg compare.svg\n  bptt compare runs/sweep-quick   # a sweep directory: all of its runs\n' +
      '  bptt compare runs/shakespeare runs/torch-10m --x seconds --y loss --svg time.svg   # time to quality')
    .action((dirs: string[], opts: Record<string, string | boolean>) => compareCommand(dirs, opts));

  program.command('board [dirs...]')
    .description('a live local web page of runs: validation and training loss, learning rate, tokens/s and samples, updated as they train')
    .option('--port <n>', `port on 127.0.0.1 (0: any free one)`, String(DEFAULT_BOARD_PORT))
    .addHelpText('after', '\nDIRS are run directories or directories holding runs (a sweep\'s, runs/); default: runs.\n' +
      'The page reads only the runs\' own files, and only inside DIRS; it answers only on 127.0.0.1.\n' +
      'Examples:\n  bptt board                         # every run under runs/\n  bptt board runs/sweep-lr runs/mine --port 8080\n' +
      '  bptt train --data my.txt --board   # a run and its board together')
    .action((dirs: string[], opts: Record<string, string>) => boardCommand(dirs, opts));

  program.command('keys')
    .description('every config key: type, default, meaning, environment variable (set any with --set key=value)')
    .action(() => stdout(keysTable() + '\n'));

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
    .action((opts: Record<string, unknown>) => benchCommand(opts, [...envOverrides(process.env), ...overridesFrom(opts, ['run.workers', 'run.minibatches'])]));
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
