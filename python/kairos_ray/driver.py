"""The Ray driver: a pool of long-lived ``kairos worker`` processes, one per Ray actor.

Failures, in two layers:

- A worker process killed mid-task (the Ray actor's process: SIGKILL, OOM, a lost node) is
  Ray's to handle: the actor is restarted (``max_restarts``) and its unfinished tasks are
  retried on it (``max_task_retries``). The driver keys results by task, so a task that ran
  twice is counted once.
- A task that fails (the cell's configuration is refused, the run errs, the ``kairos`` process
  died under a live actor) is tried again by the driver, ``ATTEMPTS`` times in all; after that
  it is reported with its last error (``sweep_errors.csv``) and the other tasks still complete.

Every wait is bounded by the run's ``timeout``.
"""

import collections
import csv
import json
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib

import ray

ATTEMPTS = 3
# The actor's restarts and Ray's retries of the tasks it had when it died.
MAX_RESTARTS = 4
PER_ACTOR_IN_FLIGHT = 2


@ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)
class KairosWorker:
    """One ``kairos worker`` process: the market loaded once, tasks on its standard input."""

    def __init__(self, binary, args, files, cwd, start_timeout):
        self.tmp = tempfile.mkdtemp(prefix="kairos-worker-")
        paths = {"tmp": self.tmp}
        for name, text in files.items():
            p = os.path.join(self.tmp, f"{name}.toml")
            with open(p, "w") as f:
                f.write(text)
            paths[name] = p
        self.argv = [binary, "worker"] + [a.format(**paths) for a in args]
        self.cwd = cwd if os.path.isdir(cwd) else self.tmp
        self.start_timeout = start_timeout
        self.proc = None
        self.log = None
        self._start()

    def _start(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if getattr(self, "log", None) is not None:
            self.log.close()
        self.log = open(os.path.join(self.tmp, "worker.log"), "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=self.cwd,
            text=True,
            bufsize=1,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        line = self._line(self.start_timeout)
        if line is None:
            raise RuntimeError(f"kairos worker did not start: {self._log_tail()}")
        self.hello = json.loads(line)

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.put(line)
        lines.put(None)

    def _line(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def _log_tail(self):
        try:
            with open(os.path.join(self.tmp, "worker.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """Ends the ``kairos worker`` (its standard input closed, killed after ``timeout``)
        and removes this actor's folder. An actor killed outright (SIGKILL, a lost node)
        cannot; its folder is left in the node's temporary directory."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self.log is not None:
            self.log.close()
            self.log = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        return True

    def info(self):
        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "worker_pid": self.proc.pid,
            "hello": self.hello,
        }

    def run(self, task, timeout):
        if self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps({"task": task}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            tail = self._log_tail()
            self._start()
            return {"task": task, "ok": False, "error": f"the kairos worker exited: {tail}"}
        line = self._line(timeout)
        if line is None:
            tail = self._log_tail()
            self._start()
            return {"task": task, "ok": False, "error": f"the kairos worker exited or timed out: {tail}"}
        reply = json.loads(line)
        if reply.get("ok") and "dir" in reply:
            root = pathlib.Path(reply["dir"])
            reply["files"] = {
                str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            }
            shutil.rmtree(root, ignore_errors=True)
        return reply


class Pool:
    """Actors spread over the cluster's nodes, each with its ``kairos worker``."""

    def __init__(self, n, binary, args, files, cwd, timeout):
        self.spec = (binary, args, files, cwd, timeout)
        self.actors = [self._actor() for _ in range(n)]
        self.infos = ray.get([a.info.remote() for a in self.actors], timeout=timeout)

    def _actor(self):
        binary, args, files, cwd, timeout = self.spec
        return KairosWorker.options(scheduling_strategy="SPREAD").remote(binary, args, files, cwd, timeout)

    def replace(self, i):
        """A new actor in slot ``i`` (after Ray gave the old one up)."""
        try:
            ray.kill(self.actors[i])
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.actors[i] = self._actor()

    def refresh(self, timeout):
        self.infos = ray.get([a.info.remote() for a in self.actors], timeout=timeout)
        return self.infos

    def close(self, timeout=30.0):
        """Stops every worker (each removes its folder), then the actors."""
        try:
            ray.get([a.stop.remote() for a in self.actors], timeout=timeout)
        except Exception:  # noqa: BLE001 - a dead actor: killed below all the same
            pass
        for a in self.actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass


def run_tasks(pool, tasks, deadline, on_result=None):
    """Runs every task on the pool; returns ``(results, failures)`` keyed by task."""
    pending = collections.deque(tasks)
    attempts = collections.Counter()
    load = pool.load = [0] * len(pool.actors)
    in_flight = {}
    results, failures = {}, {}
    while pending or in_flight:
        for i in range(len(pool.actors)):
            while pending and load[i] < PER_ACTOR_IN_FLIGHT:
                task = pending.popleft()
                ref = pool.actors[i].run.remote(task, max(1.0, deadline - time.monotonic()))
                in_flight[ref] = (task, i)
                load[i] += 1
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(in_flight) + len(pending)} tasks unfinished at the deadline")
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=left)
        for ref in ready:
            task, i = in_flight.pop(ref)
            load[i] -= 1
            try:
                reply = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
            except ray.exceptions.RayActorError as e:
                # Ray gave the actor up (restarts exhausted): a new one takes its slot.
                reply = {"task": task, "ok": False, "error": f"worker lost: {e}"}
                pool.replace(i)
            except ray.exceptions.RayError as e:
                reply = {"task": task, "ok": False, "error": str(e)}
            attempts[task] += 1
            if reply.get("ok"):
                results[task] = reply
                if on_result is not None:
                    on_result(task, reply, pool)
            elif attempts[task] < ATTEMPTS:
                pending.append(task)
            else:
                failures[task] = {"attempts": attempts[task], "error": reply.get("error", "")}
    return results, failures


def _binary(binary):
    b = binary or os.environ.get("KAIROS_BIN") or shutil.which("kairos")
    if not b:
        raise FileNotFoundError("the kairos binary: pass --binary, set KAIROS_BIN or put kairos on PATH")
    return os.path.abspath(b) if os.path.exists(b) else b


def _init(address):
    """Connects to (or starts) Ray, shipping this package to the workers; True if we did."""
    if ray.is_initialized():
        return False
    ray.init(
        address=address,
        runtime_env={"py_modules": [os.path.dirname(os.path.abspath(__file__))]},
        include_dashboard=False,
        logging_level="warning",
        log_to_driver=False,
    )
    return True


def _workers(workers):
    return workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


def _out_dir(config_text, out):
    if out:
        return pathlib.Path(out)
    cfg = tomllib.loads(config_text)
    return pathlib.Path(cfg.get("output", {}).get("dir", "out"))


def _on_cluster(address, workers, binary, args, files, deadline, tasks_of, on_result):
    """Starts the pool (connecting to Ray if needed), runs the tasks ``tasks_of(hello)`` names,
    stops the pool; returns ``(hello, results, failures, infos, seconds)``."""
    ours = _init(address)
    pool = None
    try:
        pool = Pool(_workers(workers), binary, args, files, os.getcwd(), max(1.0, deadline - time.monotonic()))
        hello = pool.infos[0]["hello"]
        t = time.monotonic()
        results, failures = run_tasks(pool, tasks_of(hello), deadline, on_result)
        seconds = time.monotonic() - t
        infos = pool.refresh(max(1.0, deadline - time.monotonic()))
    finally:
        if pool is not None:
            pool.close()
        if ours:
            ray.shutdown()
    return hello, results, failures, infos, seconds


def sweep(config, grid, out=None, data=None, address=None, workers=None, binary=None, timeout=3600.0, on_result=None):
    """The grid of ``kairos sweep`` on the cluster; writes ``OUT/sweep.csv`` (and
    ``sweep_errors.csv`` when cells failed ``ATTEMPTS`` times) and the sweep's ``report.html``."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    binary = _binary(binary)
    config_text = pathlib.Path(config).read_text()
    grid_text = pathlib.Path(grid).read_text()
    out = _out_dir(config_text, out)
    args = ["sweep", "--config", "{config}", "--grid", "{grid}", "--out", "{tmp}/cells"]
    if data:
        args += ["--data", os.path.abspath(data) if os.path.exists(data) else data]
    hello, results, failures, infos, seconds = _on_cluster(
        address,
        workers,
        binary,
        args,
        {"config": config_text, "grid": grid_text},
        deadline,
        lambda h: range(h["cells"]),
        on_result,
    )
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "sweep.csv", "w", newline="") as f:
        f.write(hello["header"] + "\n")
        for task in sorted(results):
            f.write(results[task]["line"] + "\n")
    errors = out / "sweep_errors.csv"
    if failures:
        with open(errors, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["cell", "attempts", "error"])
            for task in sorted(failures):
                w.writerow([task, failures[task]["attempts"], failures[task]["error"]])
    elif errors.exists():
        errors.unlink()
    report = subprocess.run([binary, "report", "--run", str(out)], capture_output=True, text=True)
    if report.returncode != 0:
        print(f"kairos_ray: report.html not written: {report.stderr.strip()}", file=sys.stderr)
    return {
        "cells": hello["cells"],
        "done": len(results),
        "failed": sorted(failures),
        "workers": len(infos),
        "nodes": len({i["node"] for i in infos}),
        "run_seconds": seconds,
        "cells_per_second": len(results) / seconds if seconds > 0 else None,
        "total_seconds": time.monotonic() - t0,
        "sweep_csv": str(out / "sweep.csv"),
        "worker_pids": [i["pid"] for i in infos],
    }


def walkforward(config, out=None, address=None, workers=None, binary=None, timeout=3600.0, on_result=None):
    """The test years of ``kairos walkforward`` on the cluster; each year's directory comes back
    to ``OUT/year_YYYY/`` and ``kairos walkforward --assemble`` writes ``oos_predictions.csv``
    and ``walkforward.json`` from them, as the local command does."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    binary = _binary(binary)
    config_text = pathlib.Path(config).read_text()
    out = _out_dir(config_text, out)
    args = ["walkforward", "--config", "{config}", "--out", "{tmp}/wf"]
    hello, results, failures, infos, _ = _on_cluster(
        address, workers, binary, args, {"config": config_text}, deadline, lambda h: h["years"], on_result
    )
    years = hello["years"]
    out.mkdir(parents=True, exist_ok=True)
    for year, reply in results.items():
        d = out / f"year_{year}"
        shutil.rmtree(d, ignore_errors=True)
        for name, content in reply["files"].items():
            p = d / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
    summary = {
        "years": years,
        "done": sorted(results),
        "failed": sorted(failures),
        "errors": {str(y): failures[y]["error"] for y in sorted(failures)},
        "workers": len(infos),
        "nodes": len({i["node"] for i in infos}),
        "worker_pids": [i["pid"] for i in infos],
    }
    if failures:
        return summary
    done = subprocess.run(
        [binary, "walkforward", "--config", str(config), "--out", str(out), "--assemble"],
        capture_output=True,
        text=True,
        timeout=max(1.0, deadline - time.monotonic()),
    )
    if done.returncode != 0:
        raise RuntimeError(f"kairos walkforward --assemble: {done.stderr.strip()}")
    summary["walkforward_json"] = str(out / "walkforward.json")
    summary["total_seconds"] = time.monotonic() - t0
    return summary
