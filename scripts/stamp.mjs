// The build stamp: sha256 over every source file the build compiles (src/ and bench/ *.ts and
// the kernels), written into dist/ by `npm run build` and recomputed by the test suite, so a test
// run against workers built from older sources fails instead of testing the wrong code.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOTS = ['src', 'bench'];

function files(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** sha256 of the sources under `root` (the repository), in path order. */
export function sourceStamp(root) {
  const h = createHash('sha256');
  for (const f of ROOTS.flatMap((r) => files(join(root, r)))) {
    h.update(relative(root, f).split('\\').join('/'));
    h.update('\0');
    h.update(readFileSync(f));
  }
  return h.digest('hex');
}
