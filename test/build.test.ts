// The suite tests the sources as they are: the pool's workers load dist/, so dist/ must have been
// built from exactly these sources (npm test builds first). A source edited after the last build
// fails here, naming the fix, instead of passing against stale workers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
// @ts-expect-error a plain .mjs build script, without types
import { sourceStamp } from '../scripts/stamp.mjs';

const root = join(import.meta.dirname, '..');

it('dist/ was built from the sources under test (run npm test, which builds first, not vitest alone)', () => {
  const built = JSON.parse(readFileSync(join(root, 'dist/build-stamp.json'), 'utf8')) as { sources_sha256: string };
  expect(built.sources_sha256, 'dist/ is stale: npm run build (or npm test) before testing').toBe(sourceStamp(root));
});

it('the README\'s layout names every source folder and file (it cannot drift from the tree)', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.slice(readme.indexOf('## Development'), readme.indexOf('```', readme.indexOf('```', readme.indexOf('## Development')) + 3));
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts') && !block.includes(name)) missing.push(rel);
    }
  };
  for (const dir of readdirSync(join(root, 'src'))) {
    if (!block.includes(`src/${dir}/`)) missing.push(`src/${dir}/`);
    walk(`src/${dir}`);
  }
  walk('bench');
  expect(missing).toEqual([]);
});
