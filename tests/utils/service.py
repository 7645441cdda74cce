"""The service in tests: `camsvc serve` as a subprocess checking the simulator's fleet, an API client that
keeps every response, and a migrated database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from camsvc.bench.common import ServiceProcess, free_port, import_fleet
from camsvc.config import Settings
from camsvc.simulate.harness import Simulator


def quick_checks_env(interval_s: float, retry_s: float, budget_s: float) -> dict[str, str]:
    """CAMSVC_* variables for end-to-end tests: short check intervals (first checks spread over half of
    one) and short probe limits, so faults show within seconds."""
    return {
        "CAMSVC_CHECKS__INTERVAL_S": str(interval_s),
        "CAMSVC_CHECKS__RETRY_INTERVAL_S": str(retry_s),
        "CAMSVC_CHECKS__JITTER_FRACTION": "0.5",
        "CAMSVC_PROBE__BUDGET_S": str(budget_s),
        "CAMSVC_PROBE__OPEN_TIMEOUT_S": "3",
        "CAMSVC_PROBE__READ_TIMEOUT_S": "2",
    }


@contextlib.contextmanager
def fleet_service(
    sim: Simulator, data_dir: Path, env: dict[str, str], port: int | None = None, **camera_values: Any
) -> Iterator[ServiceProcess]:
    """The simulator's fleet imported into *data_dir* (service default interval, *camera_values* on every
    camera), then `camsvc serve` on it with *env* until the block ends."""
    import_fleet(data_dir, sim.fleet_csv, **camera_values)
    with ServiceProcess(data_dir, port or free_port(), env) as svc:
        yield svc


@contextlib.contextmanager
def migrated_engine(settings: Settings) -> Iterator[Engine]:
    """An engine on *settings*' database, migrated to the latest revision; disposed afterwards."""
    from camsvc.db import make_engine, upgrade

    engine = make_engine(settings.db_url, settings.data_dir)  # installs the secret keyring
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


class Recorder:
    """Every API response text seen, for the secrets scan."""

    def __init__(self, base: str, headers: dict[str, str] | None = None):
        self.base = base
        self.texts: list[str] = []
        self.client = httpx.Client(timeout=15, headers=headers or {})

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(self.base + path, params=params)
        self.texts.append(r.text)
        r.raise_for_status()
        return r.json() if "json" in r.headers.get("content-type", "") else r.text


def map_states(api: Recorder) -> dict[str, tuple[str, str | None]]:
    """camera id -> (state, cause), as the dashboard's map shows them."""
    return {c["id"]: (c["state"], c["cause"]) for c in api.get("/api/map")["cameras"]}
