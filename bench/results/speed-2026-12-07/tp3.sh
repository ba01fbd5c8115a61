#!/bin/bash
# Same-model throughput at the session's final code, interleaved round by round: bptt before this
# session (43ea471, /tmp/base), bptt now (HEAD), a fair PyTorch (OpenBLAS openmp); 3 rounds each.
cd /work/main
OUT=bench/results/speed-2026-12-07
export LD_LIBRARY_PATH=/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-openmp
for spec in "256 1" "512 1" "512 2"; do
  set -- $spec; H=$1; L=$2; tag=$H; [ $L = 2 ] && tag=${H}x2
  for round in 1 2 3; do
    for tree in before now; do
      dir=/work/main; [ $tree = before ] && dir=/tmp/base
      echo "# round $round" >> $OUT/tp3-bptt-$tree-$tag.log
      node $dir/dist/src/cli/main.js bench --data data/tinyshakespeare.txt --cell lstm --hidden $H --set model.layers=$L --optimizer adamw --steps 64 --batch 32 --workers 1,2 --minibatches 20 --repeat 1 >> $OUT/tp3-bptt-$tree-$tag.log 2>&1
    done
    echo "# round $round" >> $OUT/tp3-torch-$tag.log
    /usr/bin/python3 bench/pytorch_d2l.py --model lstm --V 65 --H $H --layers $L --T 64 --B 32 --threads 1,2 --minibatches 20 --rounds 1 >> $OUT/tp3-torch-$tag.log 2>&1
  done
done
node dist/bench/peak.js > $OUT/tp3-peak.txt 2>&1
echo done > $OUT/.tp3-done
