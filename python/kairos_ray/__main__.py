"""``python -m kairos_ray sweep|walkforward``: see :mod:`kairos_ray`."""

import argparse
import json
import sys

from . import driver


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m kairos_ray", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(s):
        s.add_argument("--config", required=True, help="the Kairos configuration file")
        s.add_argument("--out", help="output directory (default: the file's output.dir)")
        s.add_argument("--address", help="Ray cluster address (default: a local Ray)")
        s.add_argument("--workers", type=int, help="Ray actors (default: the cluster's CPUs)")
        s.add_argument("--binary", help="the kairos binary on every node (default: $KAIROS_BIN or kairos on PATH)")
        s.add_argument("--timeout", type=float, default=3600.0, help="seconds for the whole run")

    s = sub.add_parser("sweep", help="a parameter grid, as kairos sweep")
    common(s)
    s.add_argument("--grid", required=True, help="the grid file, as for kairos sweep")
    s.add_argument("--data", help="data.path instead of the configuration's")
    w = sub.add_parser("walkforward", help="walk-forward test years, as kairos walkforward")
    common(w)
    a = p.parse_args(argv)
    kw = dict(out=a.out, address=a.address, workers=a.workers, binary=a.binary, timeout=a.timeout)
    if a.command == "sweep":
        result = driver.sweep(a.config, a.grid, data=a.data, **kw)
    else:
        result = driver.walkforward(a.config, **kw)
    print(json.dumps(result, indent=2))
    return 1 if result.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
