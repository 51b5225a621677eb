"""Kairos on a Ray cluster on loopback: a head and two worker nodes (``ray.cluster_utils``).

Run by ``tests/ray_cluster.rs`` (``cargo test``) as ``python test_cluster.py KAIROS_BIN TMPDIR``:

1. a small sweep through Ray, one worker process killed (SIGKILL) while it holds unfinished
   tasks: Ray restarts it and retries them; ``sweep.csv`` is byte-identical to ``kairos sweep``'s;
2. a grid with a cell that always fails: reported after three attempts, the rest complete;
3. a two-year walk-forward through Ray: ``walkforward.json``, ``oos_predictions.csv`` and each
   year's weights byte-identical to ``kairos walkforward``'s.

Every wait is bounded; the cluster is stopped at the end, also on failure.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import ray
from ray.cluster_utils import Cluster

import kairos_ray

TIMEOUT = 420.0


def run(*args, timeout=300):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{args}: {p.stderr[-2000:]}"
    return p.stdout


def main():
    binary, tmp = sys.argv[1], pathlib.Path(sys.argv[2])
    data = tmp / "data"
    run(binary, "data", "synth", "--out", data, "--symbols", "12", "--days", "800", "--seed", "5")
    cfg = tmp / "topk.toml"
    cfg.write_text(
        "[data]\npath = \"%s\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n"
        "[broker]\ncommission_bps = 5\n[strategy]\nname = \"topk\"\n[output]\ndir = \"%s\"\n"
        % (data, tmp / "unused")
    )
    grid = tmp / "grid.toml"
    grid.write_text('[grid]\n"strategy.params.k" = [2, 3, 4, 5]\n"strategy.params.band" = [5, 10]\n')
    bad_grid = tmp / "bad_grid.toml"
    bad_grid.write_text('[grid]\n"strategy.params.k" = [0, 3, 4]\n')
    wf = tmp / "wf.toml"
    wf.write_text(
        "[data]\npath = \"%s\"\n[model]\nwindow = 10\nhidden = 8\nlayers = 1\n[train]\nepochs = 2\nprogress = false\n"
        "[walkforward]\nfirst_test_year = 2016\nlast_test_year = 2017\nval_months = 6\n[output]\ndir = \"%s\"\n"
        % (data, tmp / "wf_default")
    )
    # The local commands, for comparison.
    run(binary, "sweep", "--config", cfg, "--grid", grid, "--out", tmp / "local_sweep", "--threads", "2")
    run(binary, "walkforward", "--config", wf, "--out", tmp / "local_wf")

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": 100 * 1024 * 1024},
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=100 * 1024 * 1024)
        cluster.wait_for_nodes(timeout=120)
        address = cluster.address
        deadline = time.monotonic() + TIMEOUT

        # 1. Sweep, one worker killed mid-run.
        killed = {}

        def kill_one(task, reply, pool):
            if not killed:
                busy = [i for i, n in enumerate(pool.load) if n > 0]
                assert busy, "no worker holds a task"
                victim = pool.infos[busy[0]]["pid"]
                os.kill(victim, signal.SIGKILL)
                killed.update(pid=victim, slot=busy[0], unfinished=pool.load[busy[0]], after=task)

        left = lambda: max(30.0, deadline - time.monotonic())  # noqa: E731
        r = kairos_ray.sweep(cfg, grid, out=tmp / "ray_sweep", address=address, workers=2,
                             binary=binary, timeout=left(), on_result=kill_one)
        local = (tmp / "local_sweep" / "sweep.csv").read_bytes()
        assert (tmp / "ray_sweep" / "sweep.csv").read_bytes() == local, "sweep.csv differs from kairos sweep's"
        assert r["done"] == 8 and r["failed"] == [], r
        assert r["nodes"] == 2, f"the actors did not spread over both worker nodes: {r}"
        assert killed and killed["unfinished"] >= 1, killed
        assert killed["pid"] not in r["worker_pids"], f"the killed worker was not restarted: {killed} {r}"
        assert (tmp / "ray_sweep" / "report.html").exists()

        # 2. A cell that always fails, beside cells that do not.
        r2 = kairos_ray.sweep(cfg, bad_grid, out=tmp / "ray_bad", address=address, workers=2,
                              binary=binary, timeout=left())
        assert r2["failed"] == [0] and r2["done"] == 2, r2
        errors = (tmp / "ray_bad" / "sweep_errors.csv").read_text().splitlines()
        assert errors[0] == "cell,attempts,error", errors
        assert errors[1].startswith("0,3,") and "strategy.params.k: must be at least 1" in errors[1], errors
        rows = (tmp / "ray_bad" / "sweep.csv").read_text().splitlines()
        assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"], rows

        # 3. Walk-forward years on the cluster.
        r3 = kairos_ray.walkforward(wf, out=tmp / "ray_wf", address=address, workers=2,
                                    binary=binary, timeout=left())
        assert r3["failed"] == [] and r3["done"] == [2016, 2017], r3
        for name in ["walkforward.json", "oos_predictions.csv", "year_2016/weights.safetensors",
                     "year_2017/weights.safetensors", "year_2017/predictions.csv"]:
            a = (tmp / "local_wf" / name).read_bytes()
            b = (tmp / "ray_wf" / name).read_bytes()
            assert a == b, f"{name} differs from kairos walkforward's"
        # model.json records its job, whose output directory differs (the worker's own).
        for year in [2016, 2017]:
            a, b = (json.loads((tmp / w / f"year_{year}" / "model.json").read_text()) for w in ["local_wf", "ray_wf"])
            for m in (a, b):
                m["config"].pop("output")
            assert a == b, f"{year}: model.json differs"
        # Every stopped worker removed its folder; only the killed one's can be left.
        left_over = sorted(p.name for p in pathlib.Path(tempfile.gettempdir()).glob("kairos-worker-*"))
        assert len(left_over) <= 1, f"worker folders left over: {left_over}"
        print("RESULT " + json.dumps({"sweep": r, "killed": killed, "bad": r2, "walkforward": r3,
                                      "worker_folders_left": len(left_over)}), flush=True)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
