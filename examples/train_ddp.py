"""Continue a bptt run in PyTorch DistributedDataParallel, when one machine is not enough.

    bptt export --checkpoint RUN/last.safetensors --format torch --out model.torch.safetensors
    torchrun --standalone --nproc_per_node=N examples/train_ddp.py --config RUN/config.yaml \\
        --data CORPUS --init model.torch.safetensors --epochs E --out trained.torch.safetensors
    bptt import --checkpoint trained.torch.safetensors --out trained.safetensors

Multi-node: the usual torchrun rendezvous flags (--nnodes, --node_rank, --rdzv_endpoint, ...).
Backend: gloo on CPUs (default), nccl with --device cuda. With Debian's torch 1.13 under Python
3.11, add `--redirects 1 --tee 1` to torchrun (its launcher fails on the default of 0).

What matches bptt: the data preparation (UTF-8, newlines to spaces, the first max_chars code
points, the validation tail), the model (torch.nn.RNN, nn.GRU or nn.LSTM of model.layers layers + nn.Linear, as
`bptt export` writes it), the
samplers (D2L 6.3: random or consecutive, state (h, and c for the LSTM) carried and detached within an epoch), the global
minibatch of data.batch rows (rank r takes rows [r*B/W, (r+1)*B/W), as bptt's workers do), the loss
(mean cross-entropy over the T*B tokens of the global minibatch), clipping by the global L2 norm of
the all-reduced gradient, min(theta/||g||, 1), and SGD with the config's learning-rate schedule.
What does not: float rounding (other kernels, other summation orders), the random sampler's
shuffle (torch's generator, seeded by --seed and the epoch, not bptt's), and the dropout masks
(model.dropout: the same rate between the same layers, torch's masks).

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
    n_val = math.floor(len(ids) * d["val_fraction"])
    return ids[: len(ids) - n_val]


def learning_rate(optim: dict, e: int, epochs: int) -> float:
    """bptt's learningRate for 0-based epoch e of `epochs`."""
    s = optim["schedule"]
    if s["kind"] == "step":
        return optim["lr"] * s["gamma"] ** (e // s["step_epochs"])
    if s["kind"] == "cosine":
        return s["min_lr"] + (optim["lr"] - s["min_lr"]) * (1 + math.cos(math.pi * e / max(1, epochs - 1))) / 2
    return optim["lr"]


def row_starts(kind: str, n: int, B: int, T: int, gen: torch.Generator):
    """Per epoch: a list of minibatches, each the B row start offsets (D2L 6.3, as bptt's samplers)."""
    if kind == "random":
        examples = (n - 1) // T
        order = torch.randperm(examples, generator=gen)
        return [(order[i * B:(i + 1) * B] * T).tolist() for i in range(examples // B)]
    row_len = n // B
    return [[b * row_len + i * T for b in range(B)] for i in range((row_len - 1) // T)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="the run's resolved config.yaml")
    ap.add_argument("--data", required=True, help="the corpus (the config's data.path, where it is on this machine)")
    ap.add_argument("--init", required=True, help="a file written by `bptt export --format torch`")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--out", required=True, help="where rank 0 writes the trained model (torch naming)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the random sampler's shuffle")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--max-minibatches", type=int, default=0, help="stop after this many minibatches (smoke tests)")
    ap.add_argument("--log-minibatches", action="store_true", help="also print a JSON line per minibatch")
    a = ap.parse_args()

    dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if a.device == "cuda" else "cpu")
    with open(a.config, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    tensors, meta = read_safetensors(a.init)
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
    ddp = DistributedDataParallel(model)
    params = list(ddp.parameters())

    train = prepare(cfg, a.data, vocab)
    T, B = cfg["data"]["steps"], cfg["data"]["batch"]
    lo, hi = rank * B // world, (rank + 1) * B // world  # this rank's rows of every minibatch
    theta = cfg["optim"]["clip"]
    carry = cfg["data"]["sampler"] == "consecutive"
    done = 0
    for epoch in range(a.epochs):
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + epoch)
        batches = row_starts(cfg["data"]["sampler"], len(train), B, T, gen)
        lr = learning_rate(cfg["optim"], epoch, a.epochs)
        def zero_state():
            h = torch.zeros(L, hi - lo, H, device=device)  # (layers, rows, H), as bptt's state.h
            return (h, torch.zeros_like(h)) if cell == "lstm" else h

        def detach(s):
            return tuple(x.detach() for x in s) if isinstance(s, tuple) else s.detach()

        state = zero_state()  # D2L: a fresh state each epoch
        loss_sum, tokens, t0 = 0.0, 0, time.perf_counter()
        for i, starts in enumerate(batches):
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
            if a.log_minibatches and rank == 0:
                print(json.dumps({"epoch": epoch + 1, "minibatch": i + 1, "loss": total.item() / (T * B), "grad_norm": norm,
                                  "clip_factor": factor, "world_size": world}), flush=True)
            if a.max_minibatches and done >= a.max_minibatches:
                break
        if rank == 0:
            print(json.dumps({"epoch": epoch + 1, "train_ppl": math.exp(loss_sum / tokens),
                              "tokens_per_s": tokens / (time.perf_counter() - t0), "world_size": world}), flush=True)
        if a.max_minibatches and done >= a.max_minibatches:
            break
    if rank == 0:
        out_meta = {k: v for k, v in meta.items() if k != "source"}
        out_meta["source"] = f"examples/train_ddp.py from {a.init}, {done} minibatches on {world} rank(s)"
        write_safetensors(a.out, {k: v for k, v in model.state_dict().items()}, out_meta)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
