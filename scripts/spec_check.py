#!/usr/bin/env python3
"""Independent reference implementation of SPEC.md S1 (sma_cross) and S2 (topk).

Written from the text of shared/bench/SPEC.md in plain Python floats (as the peer engines
compute), with no code shared with Kairos. It replays the gen_data.py CSVs, produces the fill
list and final equity, and compares them with a Kairos run's fills.csv and summary.json:
every fill (date, symbol, side, qty exactly; price and commission to 1e-6) and the final equity
to the cent. Exit status 0 on agreement, 1 on any difference.

usage: spec_check.py --data DIR --strategy {sma_cross,topk} --run OUTDIR
"""
import argparse
import csv
import json
import math
import os
import sys


def load(data_dir):
    syms = sorted(f[:-4] for f in os.listdir(data_dir) if f.endswith(".csv") and f != "SPY.csv")
    dates, o, c = None, {}, {}
    for s in syms:
        with open(os.path.join(data_dir, s + ".csv")) as fh:
            rows = list(csv.DictReader(fh))
        d = [r["date"] for r in rows]
        if dates is None:
            dates = d
        assert d == dates, "SPEC data share one calendar"
        o[s] = [float(r["open"]) for r in rows]
        c[s] = [float(r["close"]) for r in rows]
    return syms, dates, o, c


class Book:
    def __init__(self, cash, rate):
        self.cash, self.rate = cash, rate
        self.qty, self.entry, self.fills = {}, {}, []

    def fill(self, date, s, q, px):
        comm = self.rate * abs(q) * px
        self.cash -= q * px + comm
        before = self.qty.get(s, 0)
        if q > 0:
            self.entry[s] = px if before == 0 else (self.entry[s] * before + px * q) / (before + q)
        after = before + q
        if after == 0:
            self.qty.pop(s, None)
            self.entry.pop(s, None)
        else:
            self.qty[s] = after
        self.fills.append((date, s, "BUY" if q > 0 else "SELL", abs(q), px, comm))

    def equity(self, c, t):
        return self.cash + sum(q * c[s][t] for s, q in self.qty.items())


def sma_cross(syms, dates, o, c):
    book, pending, n = Book(1_000_000.0, 0.0), [], len(syms)
    d = {s: [None] * len(dates) for s in syms}
    for t in range(len(dates)):
        for s, q in pending:
            book.fill(dates[t], s, q, o[s][t])
        pending = []
        e = book.equity(c, t)
        for s in syms:
            if t >= 29:
                v = sum(c[s][t - 9:t + 1]) / 10 - sum(c[s][t - 29:t + 1]) / 30
                d[s][t] = 0.0 if abs(v) < 1e-9 else v
            if t >= 30:
                up = d[s][t - 1] <= 0 and d[s][t] > 0
                down = d[s][t - 1] >= 0 and d[s][t] < 0
                q = book.qty.get(s, 0)
                if up and q == 0:
                    k = math.floor(e / n / c[s][t])
                    if k > 0:
                        pending.append((s, k))
                elif down and q > 0:
                    pending.append((s, -q))
    return book, book.equity(c, len(dates) - 1)


def topk(syms, dates, o, c, K=5, band=8, lb=20, every=5, sl=0.03, tp=0.05):
    book, pending = Book(1_000_000.0, 0.0005), []
    for t in range(len(dates)):
        for s, q in pending:
            book.fill(dates[t], s, q, o[s][t])
        pending = []
        e = book.equity(c, t)
        held = sorted(s for s, q in book.qty.items() if q > 0)
        exits, sells, buys, stopped = [], [], [], set()
        for s in held:
            p, px = book.entry[s], c[s][t]
            if px <= p * (1 - sl) + 1e-9 or px >= p * (1 + tp) - 1e-9:
                exits.append((s, -book.qty[s]))
                stopped.add(s)
        if t >= lb and t % every == 0:
            ret = {s: c[s][t] / c[s][t - lb] - 1 for s in syms}
            order = sorted(syms, key=lambda s: (-ret[s], syms.index(s)))
            rank = {s: i + 1 for i, s in enumerate(order)}
            target = [s for s in held if s not in stopped and rank[s] <= band]
            for s in order:
                if len(target) >= K or rank[s] > K:
                    break
                if s not in stopped and s not in target:
                    target.append(s)
            for s in held:
                if s not in stopped and s not in target:
                    sells.append((s, -book.qty[s]))
            for s in target:
                delta = math.floor(e / K / c[s][t]) - book.qty.get(s, 0)
                (sells if delta < 0 else buys).append((s, delta)) if delta != 0 else None
        pending = exits + sells + buys
    return book, book.equity(c, len(dates) - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--strategy", required=True, choices=["sma_cross", "topk"])
    ap.add_argument("--run", required=True, help="Kairos output directory")
    a = ap.parse_args()
    syms, dates, o, c = load(a.data)
    book, final = (sma_cross if a.strategy == "sma_cross" else topk)(syms, dates, o, c)
    with open(os.path.join(a.run, "fills.csv")) as fh:
        got = [(r["date"], r["symbol"], r["side"], float(r["qty"]), float(r["price"]), float(r["commission"]))
               for r in csv.DictReader(fh)]
    with open(os.path.join(a.run, "summary.json")) as fh:
        got_final = float(json.load(fh)["final_equity_exact"])
    key = lambda f: (f[0], f[1], f[2])
    want, have = sorted(book.fills, key=key), sorted(got, key=key)
    bad = 0
    if len(want) != len(have):
        print(f"fill count differs: reference {len(want)}, kairos {len(have)}")
        bad += 1
    for w, h in zip(want, have):
        if w[:4] != h[:4] or abs(w[4] - h[4]) > 1e-6 or abs(w[5] - h[5]) > 1e-6:
            print(f"first differing fill: reference {w}, kairos {h}")
            bad += 1
            break
    cents = round(final, 2) == round(got_final, 2)
    print(f"{a.strategy}: fills reference {len(want)} kairos {len(have)}; "
          f"final equity reference {final:.6f} kairos {got_final:.6f} ({'same' if cents else 'DIFFERENT'} to the cent)")
    if not cents:
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
