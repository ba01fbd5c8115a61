#!/bin/bash
# A/B, interleaved round by round: bptt before the panels (/tmp/base, c88edb2~1) and after (/work/main).
cd /work/main
for H in 256 512; do for W in 1 2; do
  for round in 1 2 3 4 5 6; do for tree in base main; do
    dir=/work/main; [ $tree = base ] && dir=/tmp/base
    r=$(node $dir/dist/src/cli/main.js bench --data data/tinyshakespeare.txt --cell lstm --hidden $H --optimizer adamw --steps 64 --batch 32 --workers $W --minibatches 10 --warmup 2 --repeat 1 2>&1 | grep -o "^  $W worker(s): [0-9,]*" | grep -o "[0-9,]*$" | tr -d ,)
    echo "H=$H workers=$W round=$round $tree $r"
  done; done
done; done
