#!/usr/bin/env bash
# Prepares the scaling benchmark for the 16-core device machine, which has no Node.js and does not
# get ../shared: builds, bundles node + production dependencies + dist/ + examples/ into .devnode/
# (git-ignored), and puts a copy of the corpus (data/) inside the bundle.
# Then, through the device tool, with carry [".devnode"], the whole measurement as one script:
#   bash bench/device-run.sh "$OUT" 1,2,4,8,16
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
../shared/tools/devnode.sh dist examples
mkdir -p .devnode/app/data
cp data/jaychou_lyrics.txt .devnode/app/data/
du -sh .devnode
