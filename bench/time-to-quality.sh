#!/usr/bin/env bash
# Time to quality on tiny Shakespeare: bptt's preset for each budget and PyTorch training the same
# model the same way (bench/pytorch_charlm.py), at the same thread count, interleaved (bptt, torch,
# bptt, torch, ...) so that drift of the machine hits both alike. One run directory per run under
# $OUT, then `bptt compare` over all of them: a table and validation loss against wall-clock seconds.
#   bash bench/time-to-quality.sh                      # 2m and 10m, 2 threads, into runs/ttq
#   OUT=runs/ttq16 THREADS=16 RUNS="2m:examples/shakespeare-2m.yaml" bash bench/time-to-quality.sh
#   TORCH_THREADS=1 bash bench/time-to-quality.sh        # PyTorch at its best thread count here
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/ttq}
RUNS=${RUNS:-"2m:examples/shakespeare-2m.yaml 10m:examples/shakespeare.yaml"}
THREADS=${THREADS:-2}
# PyTorch's own thread count (Debian's torch 1.13 runs an LSTM 4x slower on 2 threads than on 1 here)
TORCH_THREADS=${TORCH_THREADS:-$THREADS}
PY=${PY:-python3}
mkdir -p "$OUT"
for r in $RUNS; do
  budget=${r%%:*}; config=${r#*:}
  node dist/src/cli/main.js train --config "$config" --time "$budget" --workers "$THREADS" --out "$OUT/bptt-$budget" --force \
    --set run.sample_every=0 --set run.checkpoint_every=0 | grep -E '^bptt: done' || true
  rm -rf "$OUT/torch-$budget"
  "$PY" bench/pytorch_charlm.py --config "$config" --time "$budget" --threads "$TORCH_THREADS" --eval-every 120 --out "$OUT/torch-$budget" | tail -1
done
node dist/src/cli/main.js compare "$OUT"/bptt-* "$OUT"/torch-* --x seconds --y loss --svg "$OUT/time-to-quality.svg" --force | tee "$OUT/compare.txt"
