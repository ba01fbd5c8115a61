#!/bin/bash
# The 30-minute pair: the 10-minute preset (one LSTM 512, AdamW 0.02, wd 0.05) given 30 minutes, both sides, 2 threads, bptt first.
cd /work/main
RC=/tmp/rc
node dist/src/cli/main.js train --config examples/shakespeare.yaml --time 30m --workers 2 --out $RC/bptt-30m --force \
  --set run.sample_every=0 --set run.checkpoint_every=0 > $RC/bptt-30m.log 2>&1
echo "bptt 30m done $(date)" >> $RC/chain.txt
LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_charlm.py --config examples/shakespeare.yaml --time 30m --threads 2 --out $RC/torch-30m > $RC/torch-30m.log 2>&1
echo "torch 30m done $(date)" >> $RC/chain.txt
