"""Load a model exported by `bptt export --format torch` into PyTorch and generate text greedily,
as D2L's predict_rnn does. Needs: pip install torch safetensors

    bptt export --checkpoint runs/d2l-random/last.safetensors --format torch --out model.torch.safetensors
    python examples/load_in_torch.py model.torch.safetensors 分开
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


class CharRNN(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, nonlinearity: str):
        super().__init__()
        self.rnn = torch.nn.RNN(vocab_size, hidden_size, nonlinearity=nonlinearity)
        self.dense = torch.nn.Linear(hidden_size, vocab_size)
        self.vocab_size = vocab_size

    def forward(self, ids: torch.Tensor, state: torch.Tensor | None = None):
        x = torch.nn.functional.one_hot(ids, self.vocab_size).float()  # (T, B, V), time-major
        y, state = self.rnn(x, state)
        return self.dense(y), state


def load(path: str) -> tuple[CharRNN, list[str]]:
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    vocab = json.loads(meta["vocab"])
    model = CharRNN(len(vocab), int(meta["hidden_size"]), meta["nonlinearity"])
    model.load_state_dict(load_file(path))
    return model.eval(), vocab


def generate(model: CharRNN, vocab: list[str], prefix: str, length: int = 50) -> str:
    index = {c: i for i, c in enumerate(vocab)}
    out = [index[c] for c in prefix]
    state = None
    with torch.no_grad():
        logits, state = model(torch.tensor(out[:-1]).view(-1, 1), state) if len(out) > 1 else (None, None)
        for _ in range(length):
            logits, state = model(torch.tensor([[out[-1]]]), state)
            out.append(int(logits[-1, 0].argmax()))
    return "".join(vocab[i] for i in out)


if __name__ == "__main__":
    model, vocab = load(sys.argv[1])
    print(generate(model, vocab, sys.argv[2] if len(sys.argv) > 2 else vocab[0]))
