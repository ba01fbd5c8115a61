"""The same training step in PyTorch, for comparison with `bptt bench` (not part of the build or
the tests). D2L's RNN from scratch with the input layer as a row gather (as bptt does), full BPTT
by autograd, clipping by global norm, SGD; random tokens, so only speed is measured.

    python3 bench/pytorch_d2l.py [threads] [minibatches]     # needs torch (Debian: python3-torch)
"""
import os
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
minibatches = int(sys.argv[2]) if len(sys.argv) > 2 else 40
torch.set_num_threads(threads)
torch.manual_seed(0)
V, H, T, B = 1027, 256, 35, 32
lr, theta = 100.0, 0.01
params = [torch.randn(V, H) * 0.01, torch.randn(H, H) * 0.01, torch.zeros(H), torch.randn(H, V) * 0.01, torch.zeros(V)]
for p in params:
    p.requires_grad_(True)
W_xh, W_hh, b_h, W_hq, b_q = params


def step(X: torch.Tensor, Y: torch.Tensor) -> float:
    h = torch.zeros(B, H)
    hs = []
    for t in range(T):
        h = torch.tanh(W_xh[X[t]] + h @ W_hh + b_h)
        hs.append(h)
    logits = torch.cat(hs) @ W_hq + b_q
    loss = torch.nn.functional.cross_entropy(logits, Y.reshape(-1))
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        scale = lr * min(1.0, theta / float(norm))
        for p in params:
            p -= scale * p.grad
    return float(loss)


batches = [(torch.randint(0, V, (T, B)), torch.randint(0, V, (T, B))) for _ in range(8)]
for k in range(5):
    step(*batches[k % 8])
rates = []
for r in range(3):
    t0 = time.perf_counter()
    for k in range(minibatches):
        step(*batches[k % 8])
    rates.append(minibatches * T * B / (time.perf_counter() - t0))
rates.sort()
flops = 6 * H * V + 6 * H * H
print(f"torch {torch.__version__} (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}), {threads} torch thread(s): {rates[1]:,.0f} tokens/s median of {[round(x) for x in rates]}, "
      f"{rates[1] * flops / 1e9:.1f} GFLOP/s")
