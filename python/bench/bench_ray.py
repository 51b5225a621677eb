"""Sweep throughput on this machine: ``kairos sweep`` (threads over one loaded market), the Ray
driver on a loopback cluster (a head and two one-CPU worker nodes; long-lived workers), and one
``kairos backtest`` process per cell (two at a time). Prints one JSON object with cells per
second for each and the ratios. Usage: ``python bench_ray.py KAIROS_BIN [SYMBOLS DAYS]``.
"""

import concurrent.futures
import itertools
import json
import pathlib
import subprocess
import sys
import tempfile
import time

from ray.cluster_utils import Cluster

import kairos_ray

GRID = {"strategy.params.k": [3, 5, 8, 10], "strategy.params.band": [10, 15, 20], "broker.commission_bps": [0, 5]}


def main():
    binary = sys.argv[1]
    symbols, days = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ("50", "1260")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="kairos-bench-ray-"))
    data = tmp / "data"
    subprocess.run([binary, "data", "synth", "--out", str(data), "--symbols", symbols, "--days", days],
                   check=True, capture_output=True, timeout=600)
    base = ("[data]\npath = \"%s\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n"
            "[broker]\ncommission_bps = {c}\n[strategy]\nname = \"topk\"\nparams = {{ k = {k}, band = {b} }}\n"
            "[output]\ndir = \"{out}\"\n" % data)
    cfg = tmp / "topk.toml"
    cfg.write_text("[data]\npath = \"%s\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n"
                   "[strategy]\nname = \"topk\"\n[output]\ndir = \"%s\"\n" % (data, tmp / "x"))
    grid = tmp / "grid.toml"
    grid.write_text("[grid]\n" + "".join(f'"{k}" = {json.dumps(v)}\n' for k, v in GRID.items()))
    cells = list(itertools.product(*GRID.values()))
    out = {"cells": len(cells), "symbols": int(symbols), "days": int(days)}

    t = time.monotonic()
    local = json.loads(subprocess.run([binary, "sweep", "--config", str(cfg), "--grid", str(grid),
                                       "--out", str(tmp / "local"), "--threads", "2"],
                                      check=True, capture_output=True, text=True, timeout=3600).stdout)
    out["local_sweep"] = {"cells_per_second": local["cells_per_second"], "load_seconds": local["load_seconds"],
                          "wall_seconds": time.monotonic() - t}

    def one(i):
        k, b, c = cells[i]
        p = tmp / f"cell{i}.toml"
        p.write_text(base.format(k=k, b=b, c=c, out=tmp / f"cell{i}"))
        subprocess.run([binary, "backtest", "--config", str(p)], check=True, capture_output=True, timeout=600)

    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        list(ex.map(one, range(len(cells))))
    secs = time.monotonic() - t
    out["process_per_cell"] = {"cells_per_second": len(cells) / secs, "wall_seconds": secs}

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 << 20})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=100 << 20)
        cluster.wait_for_nodes(timeout=120)
        t = time.monotonic()
        r = kairos_ray.sweep(cfg, grid, out=tmp / "ray", address=cluster.address, workers=2, binary=binary, timeout=3600)
        out["ray"] = {"cells_per_second": r["cells_per_second"], "wall_seconds": time.monotonic() - t,
                      "nodes": r["nodes"], "workers": r["workers"]}
    finally:
        cluster.shutdown()
    same = (tmp / "ray" / "sweep.csv").read_bytes() == (tmp / "local" / "sweep.csv").read_bytes()
    out["ray_sweep_csv_equals_local"] = same
    out["ratios"] = {
        "ray_over_local": out["ray"]["cells_per_second"] / out["local_sweep"]["cells_per_second"],
        "ray_over_process_per_cell": out["ray"]["cells_per_second"] / out["process_per_cell"]["cells_per_second"],
        "local_over_process_per_cell": out["local_sweep"]["cells_per_second"] / out["process_per_cell"]["cells_per_second"],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
