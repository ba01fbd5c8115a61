"""The same training step in PyTorch, for comparison with `bptt bench` (not part of the build or
the tests); random tokens, so only speed is measured. Two models:
  scratch  D2L's RNN from scratch with the input layer as a row gather (as bptt does), full BPTT by
           autograd, clipping by global norm, SGD
  nn       D2L's concise model: nn.RNN(V, H) on one-hot inputs + nn.Linear(H, V), same loss, clip, SGD
  gru      the same with nn.GRU (D2L 6.7); lstm: with nn.LSTM (D2L 6.8)
Shapes: d2l (V=1027 H=256 T=35 B=32), scaling (V=2582 H=512 T=64 B=256), quickstart (V=20, H=256,
T=35, B=32), or --V/--H/--T/--B.

    python3 bench/pytorch_d2l.py [--threads 1,2] [--minibatches 40] [--shape d2l] [--model scratch,nn] [--json FILE]
    python3 bench/pytorch_d2l.py 2 40      # the old form: threads, minibatches (scratch model, d2l shape)

Training from a bptt checkpoint (not speed: the trajectory). D2L's GRU from scratch (6.7, the reset
gate before the product) started from the checkpoint's weights, with its vocabulary order, on the
batches D2L's consecutive iterator gives (state zeroed each epoch, detached each minibatch), SGD on
the gradient clipped by global norm; one thread, float32; one JSON line per epoch:

    bptt train --config examples/d2l-gru.yaml --epochs 1 --set optim.lr=1e-30 --out runs/gru-init   # bptt's initial weights
    python3 bench/pytorch_d2l.py --from-checkpoint runs/gru-init/last.safetensors --lr 100 --epochs 160 [--data FILE] [--out FILE]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

SHAPES = {"d2l": (1027, 256, 35, 32), "scaling": (2582, 512, 64, 256), "quickstart": (20, 256, 35, 32)}

ap = argparse.ArgumentParser()
ap.add_argument("pos", nargs="*", help="threads minibatches (old form)")
ap.add_argument("--threads", default="1")
ap.add_argument("--minibatches", type=int, default=40)
ap.add_argument("--shape", default="d2l", choices=sorted(SHAPES))
ap.add_argument("--model", default="scratch")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--layers", type=int, default=1, help="num_layers of the nn models (bptt's model.layers)")
ap.add_argument("--json", default=None)
ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # MODEL:THREADS, in a child process
ap.add_argument("--from-checkpoint", default=None, help="train D2L's GRU from this bptt checkpoint's weights (see above)")
ap.add_argument("--epochs", type=int, default=160)
ap.add_argument("--lr", type=float, default=None, help="the learning rate (default: the checkpoint's; an initial-weights checkpoint was written at ~0)")
ap.add_argument("--data", default="data/jaychou_lyrics.txt")
ap.add_argument("--out", default=None, help="where to write the per-epoch JSON lines (default: stdout only)")
for k in "VHTB":
    ap.add_argument(f"--{k}", type=int, default=None)
a = ap.parse_args()
if a.pos:
    a.threads = a.pos[0]
    if len(a.pos) > 1:
        a.minibatches = int(a.pos[1])


def read_safetensors(path):
    """The F32 tensors (as numpy arrays) and the metadata of a safetensors file."""
    import struct
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {t['dtype']}, expected F32")
        lo, hi = t["data_offsets"]
        tensors[name] = np.frombuffer(blob[lo:hi], dtype=np.float32).reshape(t["shape"])
    return tensors, meta


def train_gru_from(path, epochs, data_path, out_path, lr=None):
    import math
    import torch
    torch.set_num_threads(1)
    tensors, meta = read_safetensors(path)
    config, vocab = json.loads(meta["config"]), json.loads(meta["vocab"])
    m, d, o = config["model"], config["data"], config["optim"]
    if m["cell"] != "gru" or m["gru_reset"] != "before" or m["layers"] != 1:
        raise SystemExit(f"{path}: a 1-layer GRU with the reset gate before the product (D2L's) is expected, not {m}")
    if o["kind"] != "sgd" or o["schedule"]["kind"] != "constant" or d["sampler"] != "consecutive" or d["val_fraction"] != 0:
        raise SystemExit(f"{path}: D2L's run (SGD at a constant rate, consecutive sampling, no validation split) is expected")
    with open(data_path, encoding="utf-8") as f:
        text = f.read()
    if d["preprocess"]["newlines_to_spaces"]:
        text = text.replace("\n", " ").replace("\r", " ")
    if d["max_chars"]:
        text = text[:d["max_chars"]]
    index = {c: k for k, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text])
    T, B, H = d["steps"], d["batch"], m["hidden"]
    lr, theta = (o["lr"] if lr is None else lr), o["clip"]
    print(f"# torch {torch.__version__}, 1 thread: D2L's GRU from {path} (H={H}, V={len(vocab)}), T={T} B={B}, SGD lr {lr}, clip {theta}", file=sys.stderr)
    names = ["W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h", "W_hq", "b_q"]
    p = {n: torch.tensor(tensors[n].copy(), requires_grad=True) for n in names}
    # D2L's data_iter_consecutive: B rows of len // B characters, minibatch i = columns [iT, iT + T)
    batch_len = len(ids) // B
    rows = ids[:B * batch_len].view(B, batch_len)
    per_epoch = (batch_len - 1) // T
    out = open(out_path, "w") if out_path else None
    for epoch in range(epochs):
        h = torch.zeros(B, H)
        loss_sum, n = 0.0, 0
        for i in range(per_epoch):
            X, Y = rows[:, i * T:i * T + T], rows[:, i * T + 1:i * T + T + 1]
            h = h.detach()
            hs = []
            for t in range(T):
                x = X[:, t]  # one-hot times W is the row of W
                z = torch.sigmoid(p["W_xz"][x] + h @ p["W_hz"] + p["b_z"])
                r = torch.sigmoid(p["W_xr"][x] + h @ p["W_hr"] + p["b_r"])
                h_tilde = torch.tanh(p["W_xh"][x] + (r * h) @ p["W_hh"] + p["b_h"])
                h = z * h + (1 - z) * h_tilde
                hs.append(h)
            logits = torch.cat(hs) @ p["W_hq"] + p["b_q"]  # time-major rows, as D2L concatenates outputs
            loss = torch.nn.functional.cross_entropy(logits, Y.t().reshape(-1))
            for q in p.values():
                q.grad = None
            loss.backward()
            with torch.no_grad():
                norm = math.sqrt(sum(float((q.grad.double() ** 2).sum()) for q in p.values()))
                step = lr * min(1.0, theta / norm)
                for q in p.values():
                    q -= step * q.grad
            loss_sum += float(loss) * Y.numel()
            n += Y.numel()
        line = json.dumps({"epoch": epoch + 1, "train_ppl": math.exp(loss_sum / n)})
        print(line, flush=True)
        if out:
            out.write(line + "\n")
    if out:
        out.close()


if a.from_checkpoint:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        # one thread for every BLAS pool, set before torch loads (see below)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        sys.exit(subprocess.run([sys.executable, *sys.argv], env=env).returncode)
    train_gru_from(a.from_checkpoint, a.epochs, a.data, a.out, a.lr)
    sys.exit(0)

V, H, T, B = SHAPES[a.shape]
V, H, T, B = a.V or V, a.H or H, a.T or T, a.B or B
lr, theta = 100.0, 0.01
L = a.layers
# bptt's count (model/params.ts trainFlopsPerToken): 6HV + per layer 6GH(H + in), in = 0 for the first
FLOPS = {m: 6 * H * V + sum(6 * G * H * (H + (H if l else 0)) for l in range(L if m != "scratch" else 1))
         for m, G in {"scratch": 1, "nn": 1, "gru": 3, "lstm": 4}.items()}


def make_scratch():
    import torch
    params = [torch.randn(V, H) * 0.01, torch.randn(H, H) * 0.01, torch.zeros(H), torch.randn(H, V) * 0.01, torch.zeros(V)]
    for p in params:
        p.requires_grad_(True)
    W_xh, W_hh, b_h, W_hq, b_q = params

    def loss_of(X, Y):
        h = torch.zeros(B, H)
        hs = []
        for t in range(T):
            h = torch.tanh(W_xh[X[t]] + h @ W_hh + b_h)
            hs.append(h)
        logits = torch.cat(hs) @ W_hq + b_q
        return torch.nn.functional.cross_entropy(logits, Y.reshape(-1))
    return params, loss_of


def make_nn(cell="rnn"):
    import torch
    layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    rnn, out = layer(V, H, num_layers=L), torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(out.parameters())

    def loss_of(X, Y):
        x = torch.nn.functional.one_hot(X, V).float()  # (T, B, V), as D2L 6.5
        h0 = torch.zeros(L, B, H)
        hs, _ = rnn(x, (h0, torch.zeros(L, B, H)) if cell == "lstm" else h0)
        return torch.nn.functional.cross_entropy(out(hs.reshape(-1, H)), Y.reshape(-1))
    return params, loss_of


def measure(model, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params, loss_of = make_scratch() if model == "scratch" else make_nn({"nn": "rnn", "gru": "gru", "lstm": "lstm"}[model])

    def step(X, Y):
        loss = loss_of(X, Y)
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
    for k in range(3):
        step(*batches[k % 8])
    rates = []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        for k in range(a.minibatches):
            step(*batches[k % 8])
        rates.append(a.minibatches * T * B / (time.perf_counter() - t0))
    med = sorted(rates)[len(rates) // 2]
    return {"model": model, "threads": threads, "tokens_per_s": med, "gflops": med * FLOPS[model] / 1e9, "runs_tokens_per_s": rates}


if a.one:
    # the child: one measurement, its BLAS already limited to the thread count by the environment
    import torch
    model, threads = a.one.split(":")
    print(json.dumps(measure(model, int(threads))))
    sys.exit(0)

# Each thread count runs in its own process with OPENBLAS/OMP/MKL_NUM_THREADS set before torch
# loads: torch.set_num_threads alone leaves an OpenBLAS build's own pool at every core, and the two
# pools then fight (measured on 2 cores: 13,000 tokens/s at "2 threads" against 52,000 at 1).
import torch  # noqa: E402  (the version for the report)

results = []
argv = [a2 for a2 in sys.argv[1:] if a2 not in a.pos]
for model in a.model.split(","):
    for threads in [int(x) for x in a.threads.split(",")]:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        child = subprocess.run([sys.executable, __file__, *argv, "--one", f"{model}:{threads}"] + (["--threads", a.threads] if a.pos else []),
                               env=env, capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"torch {torch.__version__} {model} V={V} H={H} T={T} B={B} layers={L}, {threads} thread(s): {r['tokens_per_s']:,.0f} tokens/s median of "
              f"{[round(x) for x in r['runs_tokens_per_s']]}, {r['gflops']:.1f} GFLOP/s", flush=True)
if a.json:
    with open(a.json, "w") as f:
        json.dump({"torch": torch.__version__, "python": sys.version.split()[0], "cpu": platform.processor() or platform.machine(),
                   "cores": os.cpu_count(), "shape": {"V": V, "H": H, "T": T, "B": B, "layers": L}, "flops_per_token": FLOPS, "results": results}, f, indent=2)
