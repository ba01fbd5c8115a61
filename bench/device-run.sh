#!/usr/bin/env bash
# The 16-core measurement as one script (issue 10): the WASM peak at 1..N threads, `bptt bench` on
# the D2L (default and --deterministic), scaling and quickstart configs at 1..N workers, and
# PyTorch on the same machine at 1..N threads (nn.RNN and the from-scratch step) where python3 has
# torch. Results go to OUT (JSON, and log.txt with everything printed).
#
# On the device machine (after bench/device.sh here; carry [".devnode"]):
#   bash bench/device-run.sh "$OUT" 1,2,4,8,16
# Locally, as a smoke test:  bash bench/device-run.sh /tmp/out 1,2 quick
set -uo pipefail
out=${1:?OUT folder}; counts=${2:-1,2,4,8,16}; quick=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
if [ -x "$root/.devnode/run.sh" ]; then node=(bash "$root/.devnode/run.sh" node); app="$root/.devnode/app"; else node=(node); app="$root"; fi
mb=40; smb=4; rounds=3; tmb=40
[ -n "$quick" ] && { mb=6; smb=1; rounds=1; tmb=3; }
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/log.txt"; }
run() { "$@" 2>&1 | tee -a "$out/log.txt"; }
cd "$app"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(python3 -c 'import torch; print("torch", torch.__version__)' 2>/dev/null || echo 'no torch')"
lscpu 2>/dev/null | grep -E 'Socket|NUMA node|Thread|Core|L3' | tee -a "$out/log.txt"
log "WASM peak"
run "${node[@]}" dist/bench/peak.js --threads "$counts" --json "$out/peak.json"
log "bptt bench: D2L"
run "${node[@]}" dist/src/cli/main.js bench --config examples/d2l-random.yaml --workers "$counts" --minibatches $mb --repeat $rounds --json "$out/d2l.json"
log "bptt bench: scaling config"
run "${node[@]}" dist/src/cli/main.js bench --config examples/scaling.yaml --workers "$counts" --warmup 1 --minibatches $smb --repeat 2 --json "$out/scaling.json"
if python3 -c 'import torch' 2>/dev/null; then
  log "PyTorch: D2L shape"
  run python3 "$root/bench/pytorch_d2l.py" --shape d2l --model scratch,nn --threads "$counts" --minibatches $tmb --rounds $rounds --json "$out/torch-d2l.json"
  log "PyTorch: scaling shape"
  run python3 "$root/bench/pytorch_d2l.py" --shape scaling --model scratch,nn --threads "$counts" --minibatches $smb --rounds 2 --json "$out/torch-scaling.json"
else
  log "PyTorch: not installed here, skipped"
fi
log "bptt bench: quickstart"
run "${node[@]}" dist/src/cli/main.js bench --config examples/quickstart.yaml --workers "$counts" --minibatches $mb --repeat $rounds --json "$out/quickstart.json"
log "bptt bench: D2L --deterministic"
run "${node[@]}" dist/src/cli/main.js bench --config examples/d2l-random.yaml --deterministic --workers "$counts" --minibatches $mb --repeat $rounds --json "$out/d2l-deterministic.json"
log "done"
