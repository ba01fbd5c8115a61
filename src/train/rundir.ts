// The run directory: config.yaml (resolved), metrics.jsonl (one object per epoch), samples.txt,
// last.safetensors (latest checkpoint) and best.safetensors (best validation perplexity).
// An existing run is never overwritten without --force, and --force removes only these files.

import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TrainConfig } from '../config/schema.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { lineChart } from '../io/svg.js';
import { InputError } from '../util/errors.js';

export const RUN_FILES = {
  config: 'config.yaml',
  metrics: 'metrics.jsonl',
  samples: 'samples.txt',
  last: 'last.safetensors',
  best: 'best.safetensors',
  curves: 'curves.svg',
  summary: 'summary.json',
} as const;

export interface RunSummary {
  outcome: 'completed' | 'early_stop' | 'interrupted';
  epochs: number;
  final_train_ppl: number | null;
  final_val_ppl: number | null;
  best_val_ppl: number | null;
  best_val_epoch: number | null;
  median_tokens_per_s: number | null;
  elapsed_s: number;
  [extra: string]: unknown;
}

export class RunDir {
  constructor(readonly dir: string) {}

  path(file: keyof typeof RUN_FILES): string {
    return join(this.dir, RUN_FILES[file]);
  }

  exists(): boolean {
    return existsSync(this.path('last')) || existsSync(this.path('metrics')) || existsSync(this.path('config'));
  }

  /** Creates (or with force, clears) the directory for a new run; checks that it is writable. */
  createFresh(force: boolean): void {
    if (existsSync(this.dir) && !statSync(this.dir).isDirectory()) throw new InputError(`output ${this.dir}: exists and is not a directory`);
    if (this.exists()) {
      if (!force) throw new InputError(`output ${this.dir}: a run already exists there; pass --force to overwrite it, or resume it with "bptt resume ${this.dir}"`);
      for (const f of Object.keys(RUN_FILES) as (keyof typeof RUN_FILES)[]) if (existsSync(this.path(f))) unlinkSync(this.path(f));
    }
    try {
      mkdirSync(this.dir, { recursive: true });
      accessSync(this.dir, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' || code === 'EROFS' ? 'not writable'
        : code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path is a file, not a directory'
        : (err as Error).message;
      throw new InputError(`output ${this.dir}: ${why}`);
    }
  }

  writeConfig(config: TrainConfig): void {
    writeFileAtomic(this.path('config'), `# resolved configuration of this run (bptt)\n${stringify(config)}`);
  }

  appendMetrics(m: object): void {
    appendFileSync(this.path('metrics'), JSON.stringify(m) + '\n');
  }

  appendSamples(epoch: number, samples: string[]): void {
    appendFileSync(this.path('samples'), samples.map((s) => `epoch ${epoch}: ${s.replace(/\r?\n/g, '↵')}\n`).join(''));
  }

  readMetrics(): Record<string, number | null>[] {
    if (!existsSync(this.path('metrics'))) return [];
    return readFileSync(this.path('metrics'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, number | null>);
  }

  /** summary.json and curves.svg from metrics.jsonl; returns the summary. */
  writeSummary(outcome: 'completed' | 'early_stop' | 'interrupted', extra: Record<string, unknown>): RunSummary {
    const m = this.readMetrics();
    const last = m[m.length - 1];
    const withVal = m.filter((x) => x.val_ppl !== null && x.val_ppl !== undefined);
    const best = withVal.reduce<Record<string, number | null> | null>((b, x) => (b === null || (x.val_ppl as number) < (b.val_ppl as number) ? x : b), null);
    const tps = m.map((x) => x.tokens_per_s as number).sort((a, b) => a - b);
    const summary: RunSummary = {
      outcome,
      epochs: (last?.epoch as number) ?? 0,
      final_train_ppl: (last?.train_ppl as number) ?? null,
      final_val_ppl: (withVal[withVal.length - 1]?.val_ppl as number) ?? null,
      best_val_ppl: (best?.val_ppl as number) ?? null,
      best_val_epoch: (best?.epoch as number) ?? null,
      median_tokens_per_s: tps.length ? tps[Math.floor(tps.length / 2)] : null,
      elapsed_s: (last?.elapsed_s as number) ?? 0,
      ...extra,
    };
    writeFileAtomic(this.path('summary'), JSON.stringify(summary, null, 2) + '\n');
    if (m.length > 0) {
      writeFileAtomic(this.path('curves'), lineChart([
        { name: 'train', points: m.map((x) => [x.epoch as number, x.train_ppl as number]) },
        ...(withVal.length ? [{ name: 'validation', points: withVal.map((x) => [x.epoch as number, x.val_ppl as number] as [number, number]) }] : []),
      ], { title: `perplexity, ${this.dir}`, xLabel: 'epoch', yLabel: 'perplexity', logY: true }));
    }
    return summary;
  }

  /** On resume: drop metric lines past the checkpoint (written after it, before a crash). */
  truncateMetrics(lastEpoch: number): void {
    const kept = this.readMetrics().filter((m) => (m.epoch as number) <= lastEpoch);
    writeFileAtomic(this.path('metrics'), kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }
}
