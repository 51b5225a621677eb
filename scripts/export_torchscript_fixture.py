#!/usr/bin/env python3
"""Exports the TorchScript fixtures of tests/torchscript.rs from PyTorch (run once; the outputs
are committed). Needs a full `pip install torch==2.13.0`.

- lstm_traced.pt: nn.LSTM(4 -> 8, 2 layers) + Linear, torch.jit.trace, output [batch, 1];
- lstm_scripted.pt: LSTM with attention pooling, torch.jit.script, output [batch];
- fixtures.json: the input batch and PyTorch's outputs for both, and a scaler file per model.
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
FEATURES = ["1d_close_log_ret", "5d_close_log_ret", "rsi14", "vol_ratio"]
WINDOW, BATCH = 6, 5


class Last(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 8, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        o, _ = self.lstm(x)
        return self.head(o[:, -1, :])


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 8, batch_first=True)
        self.att = torch.nn.Linear(8, 1)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        o, _ = self.lstm(x)
        w = torch.softmax(self.att(o), dim=1)
        return self.head((o * w).sum(dim=1)).squeeze(-1)


def main():
    torch.manual_seed(0)
    x = torch.randn(BATCH, WINDOW, len(FEATURES))
    traced = torch.jit.trace(Last().eval(), x)
    scripted = torch.jit.script(Attention().eval())
    traced.save(os.path.join(OUT, "lstm_traced.pt"))
    scripted.save(os.path.join(OUT, "lstm_scripted.pt"))
    scaler = {"features": FEATURES, "window": WINDOW, "median": [0.0] * 4, "iqr": [1.0] * 4}
    for name in ("lstm_traced", "lstm_scripted"):
        with open(os.path.join(OUT, name + ".scaler.json"), "w") as f:
            json.dump(scaler, f, indent=1)
    with torch.no_grad():
        fixtures = {
            "batch": BATCH,
            "inputs": x.flatten().tolist(),
            "lstm_traced": traced(x).flatten().tolist(),
            "lstm_scripted": scripted(x).flatten().tolist(),
            "torch": torch.__version__,
        }
    with open(os.path.join(OUT, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1)


if __name__ == "__main__":
    main()
