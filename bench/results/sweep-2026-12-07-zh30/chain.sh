#!/bin/bash
# Part 3 sweep, 2026-12-07 (fourth session): fortunes-zh at 30 minutes, the rule's choice and both neighbours.
# Ran from /tmp/sweep, a copy of the built tree at 4acd786 (dist/, data/, examples/, node_modules/), so the checkout could be
# edited meanwhile; whole-tail.mjs is ../own-text-2026-12-06/whole-tail.mjs with its imports pointed at that copy.
cd /tmp/sweep
RC=/tmp/rc4
run() { name=$1; shift; echo "start $name $(date +%T)" >> $RC/chain.txt
  node dist/src/cli/main.js train "$@" --out $RC/$name --force > $RC/$name.log 2>&1
  echo "done $name rc=$? $(date +%T)" >> $RC/chain.txt
  node whole-tail.mjs $RC/$name >> $RC/whole-tail.jsonl 2>> $RC/chain.txt; }
run zh-30m-default --data /tmp/corpora/zh.txt --time 30m
h=$(grep -m1 '^  hidden:' $RC/zh-30m-default/config.yaml | awk '{print $2}')
for o in 128 256 512; do [ "$o" = "$h" ] || run zh-30m-h$o --data /tmp/corpora/zh.txt --time 30m --hidden $o; done
echo "all done $(date +%T)" >> $RC/chain.txt
# then, by hand once this had ended: the capped text at 10 minutes with LSTM 512, beside the 256 the rule chose there on 2026-12-06
run zh-10m-cap-h512 --data /tmp/corpora/zh.txt --time 10m --set data.max_vocab=2568 --hidden 512
