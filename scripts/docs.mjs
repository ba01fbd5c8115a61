// Regenerates the config reference block of README.md from the schema (run after npm run build).
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceReference } from '../dist/src/config/docs.js';

const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', replaceReference(readme));
console.log('README.md: config reference regenerated');
