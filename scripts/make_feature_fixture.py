#!/usr/bin/env python3
"""Writes the feature fixture that `cargo test` checks Kairos against (tests/features_reference.rs).

It makes a small seeded market of its own (3 stocks and SPY, 240 sessions, with one missing bar
in a stock and one in SPY), then computes every feature of the library and the labels at
h = 5, 10, 20 with pandas and TA-Lib, independently of the crate:

  tests/fixtures/features/market/SYMBOL.csv   the input (date,open,high,low,close,volume)
  tests/fixtures/features/features.csv        symbol,date,<33 features> (empty = missing)
  tests/fixtures/features/labels.csv          symbol,date,fwd_ret_{5,10,20},alpha_{5,10,20}

usage: python3 scripts/make_feature_fixture.py   (needs: pip install pandas numpy TA-Lib)
The definitions are the same as scripts/validate_features.py, which checks them on real data.
"""
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from validate_features import features  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "features")
SYMBOLS = ["AAA", "BBB", "CCC", "SPY"]
DAYS = 240
HORIZONS = (5, 10, 20)


def market():
    rng = np.random.default_rng(20261128)
    dates = pd.bdate_range("2020-01-02", periods=DAYS).strftime("%Y-%m-%d")
    out = {}
    for k, sym in enumerate(SYMBOLS):
        r = rng.normal(0.0003, 0.015 + 0.005 * k, DAYS)
        close = np.round(50.0 * (k + 1) * np.exp(np.cumsum(r)), 2)
        open_ = np.round(close * np.exp(rng.normal(0, 0.006, DAYS)), 2)
        high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.004, DAYS))), 2)
        low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.004, DAYS))), 2)
        vol = rng.integers(100_000, 2_000_000, DAYS)
        df = pd.DataFrame({"date": dates, "open": open_, "high": high, "low": low, "close": close, "volume": vol})
        # One missing bar: BBB on day 150, SPY on day 90 (nothing is invented for them).
        if sym == "BBB":
            df = df.drop(index=150)
        if sym == "SPY":
            df = df.drop(index=90)
        out[sym] = df.reset_index(drop=True)
    return out


def labels(frames):
    stocks = [s for s in SYMBOLS if s != "SPY"]
    closes = pd.DataFrame({s: frames[s].set_index("date").close for s in SYMBOLS})
    # Forward returns over each symbol's own next h bars.
    fwd = {}
    for s in SYMBOLS:
        c = frames[s].set_index("date").close.astype(float)
        fwd[s] = {h: (c.shift(-h) / c - 1.0) for h in HORIZONS}
    rows = []
    for s in stocks:
        idx = frames[s].date
        df = pd.DataFrame({"symbol": s, "date": idx})
        for h in HORIZONS:
            df[f"fwd_ret_{h}"] = fwd[s][h].reindex(idx).to_numpy()
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    for h in HORIZONS:
        col = f"fwd_ret_{h}"
        sd = out.groupby("date")[col].transform(lambda x: x.std(ddof=1))
        bench = fwd["SPY"][h].reindex(out.date).to_numpy()
        out[f"alpha_{h}"] = ((out[col] - bench) / sd).clip(-3, 3)
    del closes
    return out


def main():
    frames = market()
    os.makedirs(os.path.join(ROOT, "market"), exist_ok=True)
    for s, df in frames.items():
        df.to_csv(os.path.join(ROOT, "market", f"{s}.csv"), index=False)
    spy = frames["SPY"].set_index("date").close.astype(float)
    spy_f = pd.DataFrame({f"r{n}": np.log(spy / spy.shift(n)) for n in (1, 5, 10, 20)})
    spy_f["vol"] = spy_f["r1"].rolling(20).std()
    feats = []
    for s in SYMBOLS:
        if s == "SPY":
            continue
        df = frames[s].set_index("date").astype({c: float for c in ["open", "high", "low", "close", "volume"]})
        f = features(df, spy_f)
        f.insert(0, "symbol", s)
        feats.append(f.reset_index())
    feats = pd.concat(feats, ignore_index=True)
    feats.to_csv(os.path.join(ROOT, "features.csv"), index=False, float_format="%.17g")
    labels(frames).to_csv(os.path.join(ROOT, "labels.csv"), index=False, float_format="%.17g")
    print(f"wrote {len(feats)} feature rows x {feats.shape[1] - 2} features and the labels to {ROOT}")


if __name__ == "__main__":
    main()
