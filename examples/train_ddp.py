"""Continue a bptt run in PyTorch DistributedDataParallel, when one machine is not enough.

    bptt export --checkpoint RUN/last.safetensors --format torch --out model.torch.safetensors
    torchrun --standalone --nproc_per_node=N examples/train_ddp.py --config RUN/config.yaml \\
        --data CORPUS --init model.torch.safetensors --epochs E --out trained.torch.safetensors
    bptt import --checkpoint trained.torch.safetensors --out trained.safetensors

Multi-node: the usual torchrun rendezvous flags (--nnodes, --node_rank, --rdzv_endpoint, ...).
Backend: gloo on CPUs (default), nccl with --device cuda. With Debian's torch 1.13 under Python
3.11, add `--redirects 1 --tee 1` to torchrun (its launcher fails on the default of 0).

What matches bptt: the data preparation (UTF-8, newlines to spaces, the first max_chars code
points, the validation tail: the first floor(n (1 - val_fraction)) characters train), the model (torch.nn.RNN, nn.GRU or nn.LSTM of model.layers layers + nn.Linear, as
`bptt export` writes it), the
samplers (D2L 6.3: random or consecutive, state (h, and c for the LSTM) carried and detached within an epoch), the global
minibatch of data.batch rows (rank r takes rows [r*B/W, (r+1)*B/W), as bptt's workers do), the loss
(mean cross-entropy over the T*B tokens of the global minibatch), clipping by the global L2 norm of
the all-reduced gradient, min(theta/||g||, 1), over bptt's parameters only (torch's second bias,
bias_hh, is held at zero where bptt has no such parameter: all of it for the RNN and LSTM, the r and
z parts for the GRU, whose n part is bptt's b_hn), and SGD with the config's learning-rate schedule
by minibatch, continued from where the bptt checkpoint left it (its global minibatch, over the
config's horizon: run.epochs or run.minibatches; a time budget's last estimate).
What does not: float rounding (other kernels, other summation orders), the random sampler's
shuffle and the consecutive sampler's random epoch offset (torch's generator, seeded by --seed and
the epoch, not bptt's), the dropout masks (model.dropout: the same rate between the same layers,
torch's masks), and the carried state of a checkpoint taken mid-epoch (an export holds none: such a
continuation starts its first partial epoch from a zero state). Other optimizers than SGD are
refused (their state is not exported).

Needs only torch and PyYAML (Debian: python3-torch python3-yaml).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_in_torch import CharRNN, read_safetensors  # noqa: E402


def write_safetensors(path: str, tensors: dict, metadata: dict) -> None:
    """The format bptt reads: 8-byte header length, JSON header (8-byte aligned), float32 data; atomic."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def prepare(cfg: dict, path: str, vocab: list) -> torch.Tensor:
    """bptt's prepareData: the training part of the corpus as token ids."""
    d = cfg["data"]
    with open(path, encoding="utf-8", newline="") as f:  # newline="": keep \r as bptt does
        text = f.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    if d["preprocess"]["newlines_to_spaces"]:
        text = text.replace("\r", " ").replace("\n", " ")
    if d["max_chars"] > 0:
        text = text[: d["max_chars"]]  # Python strings index code points, as bptt does
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted(set(text) - index.keys())
    if missing:
        sys.exit(f"train_ddp: {path}: {len(missing)} character(s) not in the model's vocabulary, e.g. {missing[:5]}")
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    return ids[: math.floor(len(ids) * (1 - d["val_fraction"]))]


def learning_rate(optim: dict, step: int, horizon: float, per_epoch: int) -> float:
    """bptt's learningRate (src/config/schema.ts): (0-based, global) minibatch `step` of `horizon`."""
    s = optim["schedule"]
    warmup = s.get("warmup", 0)
    warm = (step + 1) / warmup if warmup > 0 and step < warmup else 1.0
    p = min(1.0, max(0.0, (step - warmup) / max(1, horizon - warmup - 1)))
    if s["kind"] == "step":
        lr = optim["lr"] * s["gamma"] ** (step // (s["step_epochs"] * per_epoch))
    elif s["kind"] == "cosine":
        lr = s["min_lr"] + (optim["lr"] - s["min_lr"]) * (1 + math.cos(math.pi * p)) / 2
    elif s["kind"] == "linear":
        lr = optim["lr"] - (optim["lr"] - s["min_lr"]) * p
    else:
        lr = optim["lr"]
    return lr if warm == 1.0 else lr * warm


def row_starts(kind: str, n: int, B: int, T: int, gen: torch.Generator, random_offset: bool):
    """Per epoch: a list of minibatches, each the B row start offsets (D2L 6.3, as bptt's samplers)."""
    if kind == "random":
        examples = (n - 1) // T
        order = torch.randperm(examples, generator=gen)
        return [(order[i * B:(i + 1) * B] * T).tolist() for i in range(examples // B)]
    row_len = n // B
    cycle = max(1, B * row_len - T)
    offset = int(torch.randint(cycle, (1,), generator=gen)) if random_offset else 0
    return [[(b * row_len + i * T + offset) % cycle for b in range(B)] for i in range((row_len - 1) // T)]


def fail(msg: str) -> None:
    """Bad input: one line and exit 2, as bptt's CLI (never a traceback)."""
    print(f"train_ddp: error: {msg}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the run's resolved config.yaml")
    ap.add_argument("--data", required=True, help="the corpus (the config's data.path, where it is on this machine)")
    ap.add_argument("--init", required=True, help="a file written by `bptt export --format torch`")
    ap.add_argument("--epochs", type=int, required=True, help="epochs to train on from the checkpoint's position")
    ap.add_argument("--out", required=True, help="where rank 0 writes the trained model (torch naming)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the random sampler's shuffle")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--max-minibatches", type=int, default=0, help="stop after this many minibatches (smoke tests)")
    ap.add_argument("--log-minibatches", action="store_true", help="also print a JSON line per minibatch")
    a = ap.parse_args()
    for flag, path in (("--config", a.config), ("--data", a.data), ("--init", a.init)):
        if not os.path.isfile(path):
            fail(f"{flag} {path}: no such file")
    if a.epochs < 1:
        fail(f"--epochs {a.epochs}: must be at least 1")
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(out_dir):
        fail(f"--out {a.out}: the directory {out_dir} does not exist")
    if os.path.abspath(a.out) in (os.path.abspath(a.init), os.path.abspath(a.config), os.path.abspath(a.data)):
        fail(f"--out {a.out}: is a file this script reads; choose another file")

    dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if a.device == "cuda" else "cpu")
    try:
        with open(a.config, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        tensors, meta = read_safetensors(a.init)
    except (OSError, ValueError, yaml.YAMLError) as e:
        fail(f"{e}")
    if not isinstance(cfg, dict) or not all(k in cfg for k in ("model", "data", "optim", "run")):
        fail(f"--config {a.config}: not a bptt run's config.yaml (sections model, data, optim, run)")
    if cfg["optim"].get("kind", "sgd") != "sgd":
        fail(f"--config {a.config}: optim.kind is {cfg['optim']['kind']}; this script continues SGD runs (an export holds no optimizer state)")
    cell = meta.get("cell", "rnn")
    if cell != cfg["model"].get("cell", "rnn"):
        sys.exit(f"train_ddp: {a.init} holds a {cell} model, {a.config} says model.cell {cfg['model'].get('cell', 'rnn')}")
    vocab = json.loads(meta["vocab"])
    V, H = len(vocab), int(meta["hidden_size"])
    if H != cfg["model"]["hidden"]:
        sys.exit(f"train_ddp: {a.init} has hidden size {H}, {a.config} says {cfg['model']['hidden']}")
    L = int(meta.get("num_layers", "1"))
    if L != cfg["model"].get("layers", 1):
        sys.exit(f"train_ddp: {a.init} has {L} layer(s), {a.config} says model.layers {cfg['model'].get('layers', 1)}")
    # dropout between layers as the config says (torch draws its own masks: the same rate, not bptt's masks)
    model = CharRNN(V, H, meta["nonlinearity"], cell, L, float(cfg["model"].get("dropout", 0.0)))
    model.load_state_dict(tensors)
    model.to(device)
    # torch's bias_hh where bptt has no parameter: held at zero (its gradient masked before the
    # norm), so the effective bias moves as bptt's one bias does and the clip norm is over bptt's
    # parameters only (a second trained bias moved it twice as far per SGD step)
    G = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    for name, p in model.named_parameters():
        if "bias_hh" in name:
            mask = torch.zeros(G * H, device=device)
            if cell == "gru":
                mask[2 * H:] = 1.0  # torch's order r, z, n: the n part is bptt's b_hn
            p.register_hook(lambda g, mask=mask: g * mask)
    ddp = DistributedDataParallel(model)
    params = list(ddp.parameters())

    train = prepare(cfg, a.data, vocab)
    T, B = cfg["data"]["steps"], cfg["data"]["batch"]
    lo, hi = rank * B // world, (rank + 1) * B // world  # this rank's rows of every minibatch
    theta = cfg["optim"]["clip"]
    carry = cfg["data"]["sampler"] == "consecutive"
    random_offset = cfg["data"].get("epoch_offset", "none") == "random"
    # where bptt left the run: its global minibatch (the schedule's position) and epoch; the horizon
    # is the config's length (run.epochs or run.minibatches; a time budget's last estimate)
    position = json.loads(meta.get("bptt_training", "null")) or {"step": 0, "epoch": 0, "minibatch": 0, "horizon": None}
    per_epoch = len(row_starts(cfg["data"]["sampler"], len(train), B, T, torch.Generator().manual_seed(0), False))
    run_cfg = cfg["run"]
    horizon = (run_cfg["minibatches"] if run_cfg.get("minibatches") else
               position.get("horizon") or math.inf if run_cfg.get("time_budget") else run_cfg["epochs"] * per_epoch)
    step = position["step"]
    done = 0
    for epoch in range(position["epoch"], position["epoch"] + a.epochs):
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + epoch)
        batches = row_starts(cfg["data"]["sampler"], len(train), B, T, gen, random_offset)
        first = position["minibatch"] if epoch == position["epoch"] else 0
        def zero_state():
            h = torch.zeros(L, hi - lo, H, device=device)  # (layers, rows, H), as bptt's state.h
            return (h, torch.zeros_like(h)) if cell == "lstm" else h

        def detach(s):
            return tuple(x.detach() for x in s) if isinstance(s, tuple) else s.detach()

        state = zero_state()  # D2L: a fresh state each epoch
        loss_sum, tokens, t0 = 0.0, 0, time.perf_counter()
        for i, starts in enumerate(batches):
            if i < first:
                continue
            lr = learning_rate(cfg["optim"], step, horizon, per_epoch)
            mine = torch.tensor(starts[lo:hi]).view(1, -1) + torch.arange(T + 1).view(-1, 1)  # (T+1, rows)
            seq = train[mine].to(device)
            X, Y = seq[:-1], seq[1:]
            if not carry:
                state = zero_state()
            logits, new_state = ddp(X, detach(state))
            state = detach(new_state)
            local = torch.nn.functional.cross_entropy(logits.reshape(-1, V), Y.reshape(-1), reduction="sum")
            # DDP averages gradients over ranks: scale so that the average is the gradient of the
            # GLOBAL minibatch's mean loss (sum over all T*B tokens / (T*B))
            (local * world / (T * B)).backward()
            with torch.no_grad():
                norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
                factor = min(1.0, theta / norm) if norm > 0 else 1.0
                for p in params:
                    p -= lr * factor * p.grad
                    p.grad = None
                total = local.detach().double().clone()
                dist.all_reduce(total)
            loss_sum += total.item()
            tokens += T * B
            done += 1
            step += 1
            if a.log_minibatches and rank == 0:
                print(json.dumps({"epoch": epoch + 1, "minibatch": i + 1, "step": step, "lr": lr, "loss": total.item() / (T * B), "grad_norm": norm,
                                  "clip_factor": factor, "world_size": world}), flush=True)
            if a.max_minibatches and done >= a.max_minibatches:
                break
        if rank == 0:
            seconds = time.perf_counter() - t0
            print(json.dumps({"epoch": epoch + 1, "train_ppl": math.exp(loss_sum / tokens), "tokens": tokens, "seconds": seconds,
                              "tokens_per_s": tokens / seconds, "world_size": world}), flush=True)
        if a.max_minibatches and done >= a.max_minibatches:
            break
    if rank == 0:
        out_meta = {k: v for k, v in meta.items() if k != "source"}
        out_meta["source"] = f"examples/train_ddp.py from {a.init}, {done} minibatches on {world} rank(s)"
        out_meta["bptt_training"] = json.dumps({"step": step, "epoch": epoch + (1 if not (a.max_minibatches and done >= a.max_minibatches) else 0),
                                                "minibatch": 0 if not (a.max_minibatches and done >= a.max_minibatches) else i + 1, "horizon": position.get("horizon")})
        write_safetensors(a.out, {k: v for k, v in model.state_dict().items()}, out_meta)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
