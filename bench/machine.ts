// What every benchmark records next to its numbers: cores, CPU model, Node and V8 versions.
import { availableParallelism, cpus } from 'node:os';

export function machineInfo(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString().slice(0, 10),
  };
}
