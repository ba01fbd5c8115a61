#!/usr/bin/env bash
# Time to quality on tiny Shakespeare: bptt's preset and PyTorch's same model, the same budgets and
# thread count, interleaved (bptt, torch, bptt, torch, ...) so machine drift hits both alike.
# Writes one run directory per run under $OUT and a compare table + SVG (validation loss by seconds).
#   bash bench/time-to-quality.sh [OUT=runs/ttq] [BUDGETS="2m 10m 30m"] [THREADS=2] [CONFIG=examples/shakespeare.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/ttq}
BUDGETS=${BUDGETS:-"2m 10m 30m"}
THREADS=${THREADS:-2}
CONFIG=${CONFIG:-examples/shakespeare.yaml}
PY=${PY:-python3}
mkdir -p "$OUT"
for b in $BUDGETS; do
  node dist/src/cli/main.js train --config "$CONFIG" --time "$b" --workers "$THREADS" --out "$OUT/bptt-$b" --force --set run.sample_every=0 \
    | grep -E '^bptt: (done|lstm|gru|rnn)' || true
  rm -rf "$OUT/torch-$b"
  "$PY" bench/pytorch_charlm.py --config "$CONFIG" --time "$b" --threads "$THREADS" --eval-every 120 --out "$OUT/torch-$b" | tail -1
done
node dist/src/cli/main.js compare "$OUT"/bptt-* "$OUT"/torch-* --x seconds --y loss --svg "$OUT/time-to-quality.svg" --force | tee "$OUT/compare.txt"
