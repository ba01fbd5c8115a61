#!/usr/bin/env bash
# Time to quality on tiny Shakespeare: bptt's preset for each budget and PyTorch training the same
# model the same way (bench/pytorch_charlm.py), at the same thread count, interleaved (bptt, torch,
# bptt, torch, ...) so that drift of the machine hits both alike. One run directory per run under
# $OUT, then `bptt compare` over all of them: a table and validation loss against wall-clock seconds.
# Both sides evaluate on the same rule (eval_every auto: at most 5% of the run).
#   bash bench/time-to-quality.sh                      # 2m and 10m, 2 threads, into runs/ttq
#   OUT=runs/ttq16 THREADS=16 RUNS="2m:examples/shakespeare-2m.yaml" bash bench/time-to-quality.sh
#   TORCH_INPUT=lookup bash bench/time-to-quality.sh     # PyTorch reading the input as a lookup
# PyTorch must have a fast BLAS (README, "A fair PyTorch"): the script stops before any run when
# torch's matmul is slow (bench/pytorch_charlm.py --check-blas), unless ALLOW_SLOW_BLAS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/ttq}
RUNS=${RUNS:-"2m:examples/shakespeare-2m.yaml 10m:examples/shakespeare.yaml"}
THREADS=${THREADS:-2}
TORCH_INPUT=${TORCH_INPUT:-onehot}
PY=${PY:-python3}
SLOW=()
if [ "${ALLOW_SLOW_BLAS:-0}" = 1 ]; then SLOW=(--allow-slow-blas); fi
# the peer's BLAS first: a slow one makes the whole comparison meaningless (exit 2, with the fix)
"$PY" bench/pytorch_charlm.py --check-blas --threads "$THREADS" ${MIN_GFLOPS:+--min-gflops "$MIN_GFLOPS"} "${SLOW[@]}"
mkdir -p "$OUT"
for r in $RUNS; do
  budget=${r%%:*}; config=${r#*:}
  node dist/src/cli/main.js train --config "$config" --time "$budget" --workers "$THREADS" --out "$OUT/bptt-$budget" --force \
    --set run.sample_every=0 --set run.checkpoint_every=0 | grep -E '^bptt: done' || true
  rm -rf "$OUT/torch-$budget"
  "$PY" bench/pytorch_charlm.py --config "$config" --time "$budget" --threads "$THREADS" --input "$TORCH_INPUT" "${SLOW[@]}" --out "$OUT/torch-$budget" | tail -1
done
node dist/src/cli/main.js compare "$OUT"/bptt-* "$OUT"/torch-* --x seconds --y loss --svg "$OUT/time-to-quality.svg" --force | tee "$OUT/compare.txt"
