"""Kairos on a Ray cluster: sweeps and walk-forward years spread over long-lived workers.

Each Ray actor (:class:`kairos_ray.driver.KairosWorker`) runs one ``kairos worker`` process,
which loads the market once and then takes tasks (grid cells, test years) on its standard
input. The driver gathers the results into the same ``sweep.csv`` and ``walkforward.json`` the
local ``kairos sweep`` and ``kairos walkforward`` write. Ray schedules, retries and restarts;
Kairos has no scheduler of its own.

    python -m kairos_ray sweep --config FILE --grid GRID [--address ADDR]
    python -m kairos_ray walkforward --config FILE [--address ADDR]
"""

from .driver import sweep, walkforward, KairosWorker, ATTEMPTS

__all__ = ["sweep", "walkforward", "KairosWorker", "ATTEMPTS"]
