"""Load a model exported by `bptt export --format torch` into PyTorch and generate text greedily,
as D2L's predict_rnn does. Needs only torch (the safetensors file is read here, without the
safetensors package: an 8-byte header length, a JSON header, then little-endian float32 data).

    bptt export --checkpoint runs/d2l-random/last.safetensors --format torch --out model.torch.safetensors
    python examples/load_in_torch.py model.torch.safetensors 分开
"""
import json
import struct
import sys

import torch


def read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", f"{name}: only F32 is exported"
        start, end = t["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(t["shape"])
    return tensors, meta


class CharRNN(torch.nn.Module):
    """nn.RNN (cell "rnn"), nn.GRU ("gru") or nn.LSTM ("lstm") of num_layers stacked layers (dropout
    between them in training, as bptt's model.dropout) on one-hot inputs, then nn.Linear."""

    def __init__(self, vocab_size: int, hidden_size: int, nonlinearity: str, cell: str = "rnn",
                 num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        depth = {"num_layers": num_layers, "dropout": dropout if num_layers > 1 else 0.0}
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(vocab_size, hidden_size, **depth)
        elif cell == "gru":
            self.rnn = torch.nn.GRU(vocab_size, hidden_size, **depth)
        else:
            self.rnn = torch.nn.RNN(vocab_size, hidden_size, nonlinearity=nonlinearity, **depth)
        self.dense = torch.nn.Linear(hidden_size, vocab_size)
        self.vocab_size = vocab_size

    def forward(self, ids: torch.Tensor, state=None):
        x = torch.nn.functional.one_hot(ids, self.vocab_size).float()  # (T, B, V), time-major
        y, state = self.rnn(x, state)
        return self.dense(y), state


def load(path: str) -> tuple[CharRNN, list[str]]:
    tensors, meta = read_safetensors(path)
    vocab = json.loads(meta["vocab"])
    model = CharRNN(len(vocab), int(meta["hidden_size"]), meta["nonlinearity"], meta.get("cell", "rnn"),
                    int(meta.get("num_layers", "1")), float(meta.get("dropout", "0")))
    model.load_state_dict(tensors)  # rnn.weight_ih_l{k}, rnn.weight_hh_l{k}, rnn.bias_*_l{k}, dense.weight, dense.bias
    return model.eval(), vocab


def generate(model: CharRNN, vocab: list[str], prefix: str, length: int = 50) -> str:
    index = {c: i for i, c in enumerate(vocab)}
    out = [index[c] for c in prefix]
    state = None
    with torch.no_grad():
        if len(out) > 1:  # read the prefix, all but its last character
            _, state = model(torch.tensor(out[:-1]).view(-1, 1), state)
        for _ in range(length):
            logits, state = model(torch.tensor([[out[-1]]]), state)
            out.append(int(logits[-1, 0].argmax()))
    return "".join(vocab[i] for i in out)


USAGE = "usage: python examples/load_in_torch.py MODEL.torch.safetensors [PREFIX]\n" \
        "  MODEL: a file written by `bptt export --format torch`; PREFIX: text to continue (default: the first vocabulary character)"

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if len(sys.argv) < 2 else sys.stdout)
        sys.exit(2 if len(sys.argv) < 2 else 0)
    model, vocab = load(sys.argv[1])
    print(generate(model, vocab, sys.argv[2] if len(sys.argv) > 2 else vocab[0]))
