#!/usr/bin/env python3
"""PyTorch side of the model benchmark: the same shapes as `kairos bench-model`.
usage: bench_model.py THREADS REPS   (needs a full torch install)"""
import json
import sys
import time

import torch

threads, reps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)


class Net(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = torch.nn.LSTM(16, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x):
        o, _ = self.lstm(x)
        return self.head(o[:, -1, :]).squeeze(-1)


for window in (30, 60):
    for hidden in (16, 64):
        net = Net(hidden)
        x = torch.randn(500, window, 16)
        with torch.no_grad():
            net(x)
            t = time.perf_counter()
            for _ in range(reps):
                net(x)
            s = (time.perf_counter() - t) / reps
        print(json.dumps({"what": "inference", "window": window, "hidden": hidden, "batch": 500, "seconds": s, "sequences_per_second": 500 / s}))
        n = 10240
        xs, ys = torch.randn(n, window, 16), torch.randn(n)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        t = time.perf_counter()
        for start in range(0, n, 256):
            loss = ((net(xs[start:start + 256]) - ys[start:start + 256]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        s = time.perf_counter() - t
        print(json.dumps({"what": "train_epoch", "window": window, "hidden": hidden, "batch": 256, "seconds": s, "sequences_per_second": n / s}))
