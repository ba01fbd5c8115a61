// The run directory: config.yaml (resolved), metrics.jsonl (one object per epoch), samples.txt,
// last.safetensors (latest checkpoint) and best.safetensors (best validation perplexity).
// An existing run is never overwritten without --force, and --force removes only these files.

import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TrainConfig } from '../config/schema.js';
import { writeFileAtomic } from '../io/safetensors.js';
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
      throw new InputError(`output ${this.dir}: ${code === 'EACCES' || code === 'EROFS' ? 'not writable' : (err as Error).message}`);
    }
  }

  writeConfig(config: TrainConfig): void {
    writeFileAtomic(this.path('config'), `# resolved configuration of this run (bptt)\n${stringify(config)}`);
  }

  appendMetrics(m: object): void {
    appendFileSync(this.path('metrics'), JSON.stringify(m) + '\n');
  }

  appendSamples(epoch: number, samples: string[]): void {
    appendFileSync(this.path('samples'), samples.map((s) => `epoch ${epoch}: ${s}\n`).join(''));
  }

  readMetrics(): Record<string, number | null>[] {
    if (!existsSync(this.path('metrics'))) return [];
    return readFileSync(this.path('metrics'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, number | null>);
  }

  /** On resume: drop metric lines past the checkpoint (written after it, before a crash). */
  truncateMetrics(lastEpoch: number): void {
    const kept = this.readMetrics().filter((m) => (m.epoch as number) <= lastEpoch);
    writeFileAtomic(this.path('metrics'), kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }
}
