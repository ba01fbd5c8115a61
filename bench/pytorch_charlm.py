"""Time-to-quality in PyTorch: the model, data, sampler, optimizer and budget of a bptt config,
trained by PyTorch on the same machine, writing a run directory that `bptt compare` reads (so both
land in one table and one validation-loss-against-seconds chart). Not part of the build or tests.

What is the same as bptt (the config says it):
  data       the file, newlines kept or not, the split (the first floor(n (1 - val_fraction))
             characters train), the vocabulary (distinct characters in code-point order)
  model      nn.LSTM / nn.GRU (reset after, as bptt's gru_reset: after) / nn.RNN on one-hot inputs,
             num_layers, dropout, then nn.Linear(H, V); weights N(0, init_scale^2), biases zero;
             torch's second bias (bias_hh) is held at zero except the GRU's n part (bptt's b_hn),
             so the parameters are bptt's
  sampler    consecutive rows, the state carried (detached) between minibatches and zeroed at each
             epoch start, every row rotated by one random offset per epoch (data.epoch_offset)
             -- the same scheme, its own random stream
  training   mean cross-entropy over B*T, clip by global L2 norm, Adam/AdamW/SGD with the config's
             settings, the learning rate by minibatch (warmup, then cosine or linear to min_lr)
             over a horizon estimated from the measured rate, re-estimated every ~2 s, with the
             last evaluation reserved inside the budget
  evaluation the validation tail read consecutively in T-step chunks of up to B rows with the
             state carried, mean nats per character; by default (--eval-every auto) on bptt's rule
             (train/cadences.ts autoEvalPlan): at most 5% of the run, at least 5 evaluations, the
             same subset of the tail every time when the whole costs too much; and at the end,
             inside the budget
  input      --input onehot (default): nn.LSTM on one-hot inputs, whose input product torch computes
             densely; --input lookup: the same weights, the input product read as a row of W_ih
             (what bptt does) and the LSTM's recurrence written out in torch ops (lstm only)

A fair peer needs a fast BLAS: before training, the script times torch's float32 matmul
(512 x 2048 x 2048) at --threads and names the BLAS library torch loaded; below MIN_GFLOPS_PER_THREAD
per thread it refuses (exit 2) unless --allow-slow-blas (README, "A fair PyTorch").

    python3 bench/pytorch_charlm.py --config examples/shakespeare.yaml --time 10m --threads 2 --out runs/torch-10m
"""
import argparse
import json
import math
import os
import random
import re
import sys
import time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--config", help="a bptt config (YAML): model, data, optim sections and run.seed")
ap.add_argument("--time", help="wall-clock budget: 90s, 10m, 1h30m")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--eval-every", default="auto", help="seconds between evaluations (and one at the end), or auto: bptt's rule")
ap.add_argument("--input", choices=["onehot", "lookup"], default="onehot", help="how the input reaches the cell (see above)")
ap.add_argument("--allow-slow-blas", action="store_true", help="train even when torch's matmul is below the threshold (the run is then no fair peer)")
ap.add_argument("--min-gflops", type=float, default=None, help="the threshold per thread (default MIN_GFLOPS_PER_THREAD, below)")
ap.add_argument("--check-blas", action="store_true", help="only time the matmul, print it and exit (0: fast enough, 2: not)")
ap.add_argument("--out", help="run directory to write (must not exist, or be empty)")
a = ap.parse_args()
if not a.check_blas and not (a.out and a.config and a.time):
    ap.error("--config, --time and --out are required")

# A BLAS below this many float32 GFLOP/s per thread on a 512 x 2048 x 2048 product is no peer.
# Measured on the 2-core AMD EPYC VM (2026-12-06): OpenBLAS 0.3.21's openmp build 98 per thread,
# bptt's own 128-bit WASM kernels 40-58 (bench/peak.ts), and the netlib reference BLAS that Debian's
# torch falls back to 2.9. 10 sits between: the reference fails it by 3x, a fast BLAS passes by 10x.
MIN_GFLOPS_PER_THREAD = 10.0


def fail(msg):
    print(f"pytorch_charlm: error: {msg}", file=sys.stderr)
    sys.exit(2)


def seconds(text):
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", str(text).strip())
    if re.fullmatch(r"\d+(\.\d+)?", str(text).strip()):
        return float(text)
    if not m or not any(m.groups()):
        fail(f"--time {text}: expected a duration such as 90s, 10m or 1h30m")
    h, mi, s = (float(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + s


# torch's BLAS keeps its own thread pool: size it before torch loads, or OpenBLAS's threads fight
# torch's for the cores (measured here: half the time in the kernel, 833 tokens/s on "1 thread")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(a.threads)
try:
    import yaml
except ImportError:
    fail("needs PyYAML (pip install pyyaml)")
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    fail("needs torch")


def blas_library():
    """The BLAS shared library this process loaded (what LD_LIBRARY_PATH or alternatives chose)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if re.search(r"/lib(open)?blas[^/]*\.so|/libmkl|/libblis", line)}
        return ", ".join(sorted(libs)) or "none found in /proc/self/maps (torch's own)"
    except OSError:
        return "unknown"


def matmul_gflops(threads, n=(512, 2048, 2048), reps=5, budget_s=1.0):
    """float32 GFLOP/s of an m x k by k x n product at `threads`: the best of up to `reps` after a
    warm-up, stopping once `budget_s` has been spent timing. A fast BLAS takes ~10 ms a product and
    gets all five; the reference BLAS takes ~1.5 s, and one is enough to see it is 30x too slow."""
    torch.set_num_threads(threads)
    m, k, nn = n
    x, w = torch.randn(m, k), torch.randn(k, nn)
    torch.mm(x, w)
    best, spent = math.inf, 0.0
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(x, w)
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
        if spent >= budget_s:
            break
    return 2 * m * k * nn / best / 1e9


min_gflops = MIN_GFLOPS_PER_THREAD if a.min_gflops is None else a.min_gflops
gflops = matmul_gflops(a.threads)
blas_line = (f"pytorch_charlm: torch {torch.__version__}, BLAS {blas_library()}: float32 matmul 512x2048x2048 "
             f"{gflops:.1f} GFLOP/s at {a.threads} thread{'s' if a.threads > 1 else ''} ({gflops / a.threads:.1f} per thread)")
print(blas_line, flush=True)
if gflops / a.threads < min_gflops:
    how = ("torch is linked to a slow BLAS (below %.0f GFLOP/s per thread): no fair peer. On Debian: "
           "apt-get download libopenblas0-openmp && dpkg -x libopenblas0-openmp_*.deb ob && "
           "LD_LIBRARY_PATH=$PWD/ob/usr/lib/x86_64-linux-gnu/openblas-openmp python3 bench/pytorch_charlm.py ... "
           "(README, 'A fair PyTorch'); --allow-slow-blas trains anyway" % min_gflops)
    if not a.allow_slow_blas:
        fail(how)
    print(f"pytorch_charlm: warning: {how}", file=sys.stderr, flush=True)
if a.check_blas:
    sys.exit(0)
if not os.path.isfile(a.config):
    fail(f"--config {a.config}: no such file")
cfg = yaml.safe_load(open(a.config, encoding="utf-8")) or {}
if os.path.exists(a.out) and os.listdir(a.out):
    fail(f"--out {a.out}: exists and is not empty")
budget = seconds(a.time)
M, D, O, R = cfg.get("model", {}), cfg.get("data", {}), cfg.get("optim", {}), cfg.get("run", {})
cell, H, L = M.get("cell", "lstm"), M.get("hidden", 512), M.get("layers", 1)
dropout, init_scale = M.get("dropout", 0.0), M.get("init_scale", 0.01)
T, B, val_fraction = D.get("steps", 64), D.get("batch", 32), D.get("val_fraction", 0.1)
kind, lr_max, clip = O.get("kind", "adam"), O.get("lr", 2e-3), O.get("clip", 1.0)
S = O.get("schedule", {})
sched, warmup, min_lr = S.get("kind", "cosine"), S.get("warmup", 0), S.get("min_lr", 1e-4)
seed = R.get("seed", 0)
if M.get("activation", "tanh") not in ("tanh", "relu"):
    fail("model.activation must be tanh or relu for nn.RNN")
if not D.get("path"):
    fail("the config names no data.path")
if D.get("sampler", "consecutive") != "consecutive":
    fail("this benchmark implements consecutive sampling only")

torch.set_num_threads(a.threads)
torch.manual_seed(seed)
rnd = random.Random(seed)

text = open(D["path"], encoding="utf-8").read()
if D.get("preprocess", {}).get("newlines_to_spaces", False):
    text = text.replace("\n", " ").replace("\r", " ")
if D.get("max_chars", 0):
    text = text[: D["max_chars"]]
vocab = sorted(set(text), key=ord)
V = len(vocab)
index = {c: k for k, c in enumerate(vocab)}
ids = torch.tensor([index[c] for c in text], dtype=torch.long)
n_train = math.floor(len(ids) * (1 - val_fraction))
train, val = ids[:n_train], ids[n_train:]


if a.input == "lookup" and (cell != "lstm" or L != 1):
    fail("--input lookup is written for a one-layer lstm")


class CharLM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        extra = {"nonlinearity": M.get("activation", "tanh")} if cell == "rnn" else {}
        self.rnn = rnn(V, H, num_layers=L, dropout=dropout if L > 1 else 0.0, **extra)
        self.dense = torch.nn.Linear(H, V)

    def forward(self, x, state):
        if a.input == "lookup":
            return self.forward_lookup(x, state)
        y, state = self.rnn(F.one_hot(x, V).float(), state)
        return self.dense(y), state

    def forward_lookup(self, x, state):
        # x W_ih^T for a one-hot x is a row of W_ih: a gather (bptt's), then the recurrence step by
        # step in torch ops, gates in torch's order i, f, g, o
        r = self.rnn
        xg = F.embedding(x, r.weight_ih_l0.t()) + r.bias_ih_l0 + r.bias_hh_l0
        Tn, Bn = x.shape
        h, c = (torch.zeros(Bn, H), torch.zeros(Bn, H)) if state is None else (state[0][0], state[1][0])
        w_hh_t = r.weight_hh_l0.t()
        ys = []
        for t in range(Tn):
            i, f, g, o = (xg[t] + h @ w_hh_t).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            ys.append(h)
        return self.dense(torch.stack(ys)), (h[None], c[None])


model = CharLM()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("weight") or "weight_" in name:
            p.normal_(0.0, init_scale)
        else:
            p.zero_()
# bptt has one bias per gate (plus the GRU's b_hn, torch's n part of bias_hh): the rest of bias_hh
# stays zero, its gradient zeroed before the norm is taken
G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
for name, p in model.rnn.named_parameters():
    if name.startswith("bias_hh"):
        mask = torch.zeros(G * H)
        if cell == "gru":
            mask[2 * H:] = 1.0  # torch's gate order r, z, n: n's hidden bias is bptt's b_hn
        p.register_hook(lambda g, mask=mask: g * mask)
params = list(model.parameters())
if kind in ("adam", "adamw"):
    betas = tuple(O.get("betas", [0.9, 0.999]))
    opt = (torch.optim.AdamW if kind == "adamw" else torch.optim.Adam)(params, lr=lr_max, betas=betas, eps=O.get("eps", 1e-8), weight_decay=O.get("weight_decay", 0.0))
else:
    opt = torch.optim.SGD(params, lr=lr_max, momentum=O.get("momentum", 0.9) if kind == "momentum" else 0.0, weight_decay=O.get("weight_decay", 0.0))


def rate_at(step, horizon):
    warm = (step + 1) / warmup if warmup and step < warmup else 1.0
    p = min(1.0, max(0.0, (step - warmup) / max(1, horizon - warmup - 1)))
    if sched == "constant":
        lr = lr_max
    elif sched == "linear":
        lr = lr_max - (lr_max - min_lr) * p
    elif sched == "cosine":
        lr = min_lr + (lr_max - min_lr) * (1 + math.cos(math.pi * p)) / 2
    else:
        fail(f"optim.schedule.kind {sched}: this benchmark does constant, cosine and linear")
    return lr * warm


row_len = len(train) // B
per_epoch = (row_len - 1) // T
cycle = B * row_len - T
rand_offset = D.get("epoch_offset", "random") == "random"


def eval_chunks_total():
    rows = max(1, min(B, len(val) // (T + 1)))
    return (len(val) // rows - 1) // T


def evaluate(max_chunks=None):
    model.eval()
    rows = max(1, min(B, len(val) // (T + 1)))
    vrow = len(val) // rows
    chunks = (vrow - 1) // T
    total, state = 0.0, None
    with torch.no_grad():
        for i in range(chunks if max_chunks is None else min(chunks, max_chunks)):
            starts = torch.arange(rows) * vrow + i * T
            idx = starts[None, :] + torch.arange(T + 1)[:, None]
            xy = val[idx]
            logits, state = model(xy[:-1], state)
            total += F.cross_entropy(logits.reshape(-1, V), xy[1:].reshape(-1), reduction="sum").item()
    model.train()
    read = chunks if max_chunks is None else min(chunks, max_chunks)
    return total / (read * T * rows), chunks


# before the first evaluation its cost is estimated from one chunk of it, as bptt does, and reserved
e0 = time.perf_counter()
_, n_chunks = evaluate(max_chunks=1)
probe_eval_s = (time.perf_counter() - e0) * n_chunks
# --eval-every auto: bptt's rule (src/train/cadences.ts autoEvalPlan, AUTO_EVAL_* in config/units.ts)
AUTO_SHARE, AUTO_MIN_EVALS, AUTO_MIN_S, AUTO_MAX_EVALS = 0.05, 5, 5.0, 20
if a.eval_every == "auto":
    share = AUTO_SHARE * budget
    eval_chunks = n_chunks if probe_eval_s * AUTO_MIN_EVALS <= share else max(1, min(n_chunks, int(n_chunks * share / (AUTO_MIN_EVALS * probe_eval_s))))


    def eval_interval(e):
        room = AUTO_SHARE - e / budget
        return math.inf if room <= 0 else max(AUTO_MIN_S, budget / AUTO_MAX_EVALS, e / room)
else:
    eval_chunks = n_chunks
    eval_interval = lambda e: float(a.eval_every)
probe_eval_s *= eval_chunks / n_chunks
os.makedirs(a.out, exist_ok=True)
metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
t0 = time.perf_counter()
elapsed = lambda: time.perf_counter() - t0
step, epoch, state = 0, 0, None
horizon, eval_s, last_eval = None, None, 0.0
trained_s, trained_steps = 0.0, 0
loss_sum, loss_n, interval_t = 0.0, 0, 0.0
best = None
reserve = lambda: (eval_s if eval_s is not None else probe_eval_s) * 1.25 + 0.5


def report(val_loss, ev_s):
    global loss_sum, loss_n, interval_t, best
    train_loss = loss_sum / max(1, loss_n)
    row = {"epoch": step / per_epoch, "step": step, "tokens": step * B * T, "elapsed_s": elapsed(), "train_loss": train_loss,
           "train_ppl": math.exp(train_loss), "val_loss": val_loss, "val_ppl": math.exp(val_loss) if val_loss is not None else None,
           "val_mode": ("carried" if eval_chunks == n_chunks else "carried-subset") if val_loss is not None else None,
           "val_chars": eval_chunks * T * max(1, min(B, len(val) // (T + 1))) if val_loss is not None else None, "lr": opt.param_groups[0]["lr"],
           "tokens_per_s": loss_n * B * T / max(1e-9, interval_t), "interval_s": interval_t, "eval_s": ev_s, "threads": a.threads}
    metrics.write(json.dumps(row) + "\n")
    metrics.flush()
    if val_loss is not None and (best is None or val_loss < best["val_loss"]):
        best = row
    print(f"{elapsed():7.1f}s  step {step}  train {train_loss:.3f}" + (f"  val {val_loss:.3f}" if val_loss is not None else "") +
          f"  {row['tokens_per_s']:,.0f} tok/s  lr {row['lr']:.2e}", flush=True)
    loss_sum, loss_n, interval_t = 0.0, 0, 0.0


done = False
while not done:
    offset = rnd.randrange(cycle) if rand_offset else 0
    state = None  # a fresh state each epoch, as bptt
    for i in range(per_epoch):
        s0 = time.perf_counter()
        starts = (torch.arange(B) * row_len + i * T + offset) % cycle
        xy = train[starts[None, :] + torch.arange(T + 1)[:, None]]
        for g in opt.param_groups:
            g["lr"] = rate_at(step, horizon if horizon is not None else math.inf)
        logits, state = model(xy[:-1], state)
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        loss = F.cross_entropy(logits.reshape(-1, V), xy[1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        step += 1
        dt = time.perf_counter() - s0
        trained_s += dt
        trained_steps += 1
        interval_t += dt
        loss_sum += loss.item()
        loss_n += 1
        if trained_steps % 16 == 0:  # the horizon: the same estimator as bptt's, 0.2% slack
            nxt = step + max(0, int((trained_steps / trained_s) * (budget - reserve() - elapsed())))
            if horizon is None or abs(nxt - horizon) > max(1, 0.002 * horizon):
                horizon = nxt
        final = elapsed() >= budget - reserve() or (horizon is not None and step >= horizon)
        if final or elapsed() - last_eval >= eval_interval(eval_s if eval_s is not None else probe_eval_s):
            e0 = time.perf_counter()
            v, _ = evaluate(max_chunks=eval_chunks)
            eval_s = time.perf_counter() - e0
            last_eval = elapsed()
            report(v, eval_s)
        if final:
            done = True
            break
    else:
        epoch += 1
metrics.close()
summary = {"outcome": "completed", "framework": f"pytorch {torch.__version__}", "blas": blas_library(), "matmul_gflops": gflops,
           "input": a.input, "val_chars": eval_chunks * T * max(1, min(B, len(val) // (T + 1))), "threads": a.threads, "steps": step, "epochs": step / per_epoch,
           "elapsed_s": elapsed(), "best_val_loss": best["val_loss"] if best else None, "best_val_ppl": best["val_ppl"] if best else None,
           "best_val_step": best["step"] if best else None, "final_train_ppl": math.exp(loss_sum / loss_n) if loss_n else None}
json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=2)
# the run's config as bptt writes it, so `bptt compare` reads this directory beside bptt's runs
with open(os.path.join(a.out, "config.yaml"), "w") as f:
    f.write("# resolved configuration of this run (bptt)\n# trained by bench/pytorch_charlm.py, PyTorch %s, %d threads\n" % (torch.__version__, a.threads))
    out_cfg = dict(cfg)
    out_cfg["run"] = dict(R, out=a.out, time_budget=a.time)
    yaml.safe_dump(out_cfg, f, sort_keys=False)
print(f"pytorch_charlm: {step} minibatches in {elapsed():.1f}s, best validation loss {summary['best_val_loss']:.4f} nats/char", flush=True)
