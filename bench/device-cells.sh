#!/usr/bin/env bash
# Gated and stacked cells on the 16-core device machine (issue 9): the WASM peak, `bptt bench` on the
# D2L LSTM and GRU (one layer) and a 2-layer LSTM at 1..N workers, and PyTorch's nn.LSTM / nn.GRU
# (1 and 2 layers) at 1..N threads where python3 has torch. Results go to OUT (JSON, log.txt).
#
# On the device machine (after bench/device.sh here; carry [".devnode"]):
#   bash bench/device-cells.sh "$OUT" 1,2,4,8,16
# Locally, as a smoke test:  bash bench/device-cells.sh /tmp/out 1,2 quick
set -uo pipefail
out=${1:?OUT folder}; counts=${2:-1,2,4,8,16}; quick=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
if [ -x "$root/.devnode/run.sh" ]; then node=(bash "$root/.devnode/run.sh" node); app="$root/.devnode/app"; else node=(node); app="$root"; fi
mb=20; mb2=10; rounds=2; tmb=20
[ -n "$quick" ] && { mb=3; mb2=2; rounds=1; tmb=3; }
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/log.txt"; }
run() { "$@" 2>&1 | tee -a "$out/log.txt"; }
bench() { run "${node[@]}" dist/src/cli/main.js bench --workers "$counts" --repeat $rounds "$@"; }
cd "$app"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(python3 -c 'import torch; print("torch", torch.__version__)' 2>/dev/null || echo 'no torch')"
log "WASM peak"
run "${node[@]}" dist/bench/peak.js --threads "$counts" --json "$out/peak.json"
log "bptt bench: D2L LSTM"
bench --config examples/d2l-lstm.yaml --minibatches $mb --json "$out/lstm.json"
log "bptt bench: D2L GRU"
bench --config examples/d2l-gru.yaml --minibatches $mb --json "$out/gru.json"
log "bptt bench: D2L LSTM, 2 layers"
bench --config examples/d2l-lstm.yaml --set model.layers=2 --minibatches $mb2 --json "$out/lstm2.json"
if python3 -c 'import torch' 2>/dev/null; then
  log "PyTorch: nn.LSTM, nn.GRU, D2L shape"
  run python3 "$root/bench/pytorch_d2l.py" --shape d2l --model lstm,gru --threads "$counts" --minibatches $tmb --rounds $rounds --json "$out/torch.json"
  log "PyTorch: nn.LSTM, 2 layers"
  run python3 "$root/bench/pytorch_d2l.py" --shape d2l --model lstm --layers 2 --threads "$counts" --minibatches $tmb --rounds $rounds --json "$out/torch-lstm2.json"
else
  log "PyTorch: not installed here, skipped"
fi
log "WASM peak again"
run "${node[@]}" dist/bench/peak.js --threads "$counts"
log "done"
