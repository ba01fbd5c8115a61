// Writes dist/build-stamp.json after a build (see stamp.mjs).
import { writeFileSync } from 'node:fs';
import { sourceStamp } from './stamp.mjs';

writeFileSync('dist/build-stamp.json', JSON.stringify({ sources_sha256: sourceStamp('.') }) + '\n');
