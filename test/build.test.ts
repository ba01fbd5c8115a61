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
  for (const name of readdirSync(join(root, 'src'))) {
    if (!statSync(join(root, 'src', name)).isDirectory()) {
      if (!block.includes(`src/${name}`)) missing.push(`src/${name}`);
      continue;
    }
    if (!block.includes(`src/${name}/`)) missing.push(`src/${name}/`);
    walk(`src/${name}`);
  }
  walk('bench');
  expect(missing).toEqual([]);
});

it('the rooms\' imports point one way: no folder of src/ reaches itself again through the folders it imports', () => {
  const src = join(root, 'src');
  const edges = new Map<string, Set<string>>();
  const walk = (dir: string) => {
    for (const name of readdirSync(join(src, dir))) {
      const rel = dir ? `${dir}/${name}` : name;
      if (statSync(join(src, rel)).isDirectory()) { if (name !== 'assembly') walk(rel); continue; }
      if (!name.endsWith('.ts') || !dir) continue;
      const from = rel.split('/')[0];
      for (const m of readFileSync(join(src, rel), 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = join(dir, m[1]).split('/')[0];
        if (target !== from && !target.endsWith('.js')) edges.set(from, (edges.get(from) ?? new Set()).add(target));
      }
    }
  };
  walk('');
  const cycles: string[] = [];
  const visit = (path: string[]) => {
    for (const next of edges.get(path[path.length - 1]) ?? []) {
      if (next === path[0]) cycles.push([...path, next].join(' -> '));
      else if (!path.includes(next)) visit([...path, next]);
    }
  };
  for (const folder of edges.keys()) visit([folder]);
  expect(cycles).toEqual([]);
  expect(edges.get('config')?.has('model')).toBe(true); // the check sees real imports
});
