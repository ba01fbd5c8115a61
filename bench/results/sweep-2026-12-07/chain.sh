#!/bin/bash
# Part 3 sweeps, 2026-12-07 (second session): the Python text at 10 and 30 minutes (the rule's choice and
# its neighbour), then tiny Shakespeare LSTM 256 at 30 minutes beside the 30-minute pair's LSTM 512.
# Ran from /tmp/sweep, a copy of the built tree at 71641a2's parent (dist/, data/, examples/), so the checkout could be
# edited meanwhile; whole-tail.mjs is ../own-text-2026-12-06/whole-tail.mjs with its imports pointed at that copy.
cd /tmp/sweep
RC=/tmp/rc2
other() { h=$(grep -m1 '^  hidden:' $RC/$1/config.yaml | awk '{print $2}'); if [ "$h" = 512 ]; then echo 256; else echo 512; fi; }
run() { name=$1; shift; echo "start $name $(date +%T)" >> $RC/chain.txt
  node dist/src/cli/main.js train "$@" --out $RC/$name --force > $RC/$name.log 2>&1
  echo "done $name rc=$? $(date +%T)" >> $RC/chain.txt
  node whole-tail.mjs $RC/$name >> $RC/whole-tail.jsonl 2>> $RC/chain.txt; }
run code-10m-default --data /tmp/corpora/code.txt --time 10m
o=$(other code-10m-default); run code-10m-h$o --data /tmp/corpora/code.txt --time 10m --hidden $o
run code-30m-default --data /tmp/corpora/code.txt --time 30m
o=$(other code-30m-default); run code-30m-h$o --data /tmp/corpora/code.txt --time 30m --hidden $o
run sh-30m-h256 --config examples/shakespeare.yaml --hidden 256 --time 30m --workers 2 --set run.sample_every=0 --set run.checkpoint_every=0
echo "all done $(date +%T)" >> $RC/chain.txt
