"""The real service (`camsvc serve`) checking the real simulator, then checks stop being recorded:

- a held exclusive SQLite lock (another connection in ``BEGIN EXCLUSIVE``): the writer cannot record,
  ``/healthz`` turns 503 with ``checks_stopped`` and the metric says failing; released, it is 200 again;
- the same service restarted with the scheduler off: 503 with ``no_leader`` too;
- a real write fault (a trigger refusing check rows, as a full disk or a broken schema would): the pipeline
  monitor, run here as a second API process would run it (two of them, sharing the database), queues one
  admin message; the service's dispatcher delivers it once to a local webhook, then one recovery message;
  the dead-man heartbeat reaches a local receiver while healthy, ``/fail`` while not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess, free_port
from camsvc.config import Settings
from camsvc.db import make_engine
from camsvc.runtime.heartbeat import PipelineJobs
from tests.alerts.receivers import WebhookSink
from tests.utils.service import fleet_service, quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 2.0, 1.0, 4.0
ENV = {
    **quick_checks_env(INTERVAL, RETRY, BUDGET),
    "CAMSVC_PIPELINE__GRACE_S": "0",
    # a camera's period is its interval *plus* its probe (~2 s here, more on a loaded machine): at a 2 s
    # interval that is half the naive rate, which the default 0.5 would call "behind"
    "CAMSVC_PIPELINE__DEGRADED_RATIO": "0.2",
    "CAMSVC_ALERTS__DISPATCH_INTERVAL_S": "0.5",
    "CAMSVC_PIPELINE__MONITOR_INTERVAL_S": "0.5",  # when the Runtime runs the monitor too (NOTES)
}
# stopped after 3 intervals without a check, plus scheduling slack on a shared machine
STOP_S = 3 * INTERVAL + BUDGET + 20

sim = simulator_fixture(2, 3)


def healthz(svc: ServiceProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(f"{svc.base}/healthz", timeout=10)
    return r.status_code, r.json()


def metric(svc: ServiceProcess, name: str) -> float | None:
    text = httpx.get(f"{svc.base}/metrics", headers=svc.headers, timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def healthy(svc: ServiceProcess) -> bool:
    code, body = healthz(svc)
    return code == 200 and body["pipeline"]["checks_in_window"] > 0 and "checks_behind" not in body["reasons"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pipe")


@pytest.fixture(scope="module")
def svc(sim: Any, data_dir: Path) -> Iterator[ServiceProcess]:
    with fleet_service(sim, data_dir, ENV) as proc:
        yield proc


def test_locked_database_turns_healthz_503_and_back(sim: Any, svc: ServiceProcess, data_dir: Path) -> None:
    wait_for(lambda: healthy(svc), 90, "checks recorded, /healthz ok", lambda: healthz(svc))
    assert metric(svc, "camsvc_pipeline_status") == 0.0
    lock = sqlite3.connect(data_dir / "camsvc.db", timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # another connection holds the write lock: no check lands
        took = wait_for(lambda: healthz(svc)[0] == 503, STOP_S, "/healthz 503", lambda: healthz(svc))
        code, body = healthz(svc)
        assert body["status"] == "failing" and "checks_stopped" in body["reasons"], body
        assert body["checks_stopped_since"] and body["checks_stopped_since"].endswith("Z")
        assert body["version"] and "leader" in body and "scheduler" in body  # the fields scripts read
        text = httpx.get(f"{svc.base}/healthz", timeout=10).text
        for cam in sim.fleet:  # no camera names or ids, no addresses, no secrets
            assert cam.id not in text and cam.name not in text
        assert "rtsp://" not in text and "password" not in text.lower()
        assert metric(svc, "camsvc_pipeline_status") == 2.0
        assert metric(svc, 'camsvc_pipeline_reason{reason="checks_stopped"}') == 1.0
        print(f"locked database: /healthz 503 after {took:.1f} s")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    back = wait_for(lambda: healthz(svc)[0] == 200, 60, "/healthz 200 again", lambda: healthz(svc))
    print(f"lock released: /healthz 200 after {back:.1f} s")


def test_write_fault_alerts_admins_once_and_heartbeat(sim: Any, svc: ServiceProcess, data_dir: Path) -> None:
    wait_for(lambda: healthy(svc), 90, "checks recorded, /healthz ok", lambda: healthz(svc))
    hook = WebhookSink()
    try:
        with svc.client() as c:
            r = c.post(
                "/api/contacts",
                json={"name": "Kỹ thuật", "role": "technician", "channels": [{"url": hook.url("admin")}]},
            )
            assert r.status_code in (200, 201), r.text
        settings = Settings(
            data_dir=data_dir,
            checks={"interval_s": INTERVAL, "jitter_fraction": 0.5},  # type: ignore[arg-type]
            probe={"budget_s": BUDGET},  # type: ignore[arg-type]
            pipeline={  # type: ignore[arg-type]
                "grace_s": 0,
                "degraded_ratio": 0.2,
                "monitor_interval_s": 0.5,
                "heartbeat_url": f"http://127.0.0.1:{hook.port}/hb/SECRETKEY",
                "heartbeat_interval_s": 5,
            },
        )
        engine = make_engine(settings.db_url, settings.data_dir)
        # two API processes' monitors on one database: the messages are still sent once
        jobs = [PipelineJobs(settings, engine) for _ in range(2)]
        for j in jobs:
            j.start()
        try:
            wait_for(lambda: hook.at("hb/SECRETKEY"), 30, "a heartbeat while healthy")
            assert hook.at("hb/SECRETKEY")[0]["status"] == "ok"
            db = sqlite3.connect(data_dir / "camsvc.db", timeout=30)
            db.execute(
                "CREATE TRIGGER no_checks BEFORE INSERT ON \"check\" BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
            db.commit()
            try:
                took = wait_for(lambda: hook.at("admin"), STOP_S + 10, "the admin alert", lambda: hook.posts)
                msg = hook.at("admin")[0]
                assert "Kiểm tra camera đã ngừng từ" in msg["message"] or "ngừng" in msg["title"], msg
                wait_for(lambda: hook.at("hb/SECRETKEY/fail"), 30, "a /fail heartbeat")
                assert metric(svc, 'camsvc_pipeline_reason{reason="write_errors"}') == 1.0
                print(f"write fault: admin alert after {took:.1f} s")
            finally:  # the next test of this module needs a database that takes checks again
                db.execute("DROP TRIGGER IF EXISTS no_checks")
                db.commit()
                db.close()
            wait_for(lambda: len(hook.at("admin")) >= 2, 60, "the recovery message", lambda: hook.posts)
            assert "trở lại" in hook.at("admin")[1]["message"], hook.at("admin")
            n_ok = len(hook.at("hb/SECRETKEY"))
            wait_for(lambda: len(hook.at("hb/SECRETKEY")) > n_ok, 30, "heartbeats again after recovery")
            # nothing repeated: a monitor round later there are still exactly two admin messages
            runs = jobs[0].monitor.runs
            wait_for(lambda: jobs[0].monitor.runs >= runs + 4, 30, "four more monitor rounds")
            wait_for(lambda: _outbox_settled(data_dir), 30, "no system message pending")
            assert len(hook.at("admin")) == 2, hook.at("admin")
        finally:
            for j in jobs:
                j.stop()
            engine.dispose()
        log = (data_dir / "service.log").read_text(errors="replace")
        assert "SECRETKEY" not in log
    finally:
        hook.close()


def _outbox_settled(data_dir: Path) -> bool:
    db = sqlite3.connect(data_dir / "camsvc.db", timeout=30)
    try:
        (n,) = db.execute("SELECT count(*) FROM outboxmessage WHERE status = 'pending'").fetchone()
        return bool(n == 0)
    finally:
        db.close()


def test_scheduler_off_reports_no_leader(sim: Any, svc: ServiceProcess, data_dir: Path) -> None:
    wait_for(lambda: healthy(svc), 90, "checks recorded, /healthz ok", lambda: healthz(svc))
    svc.stop()
    # a grace long enough for ServiceProcess to see its first 200 ("starting"), then checks_stopped
    env = {**ENV, "CAMSVC_RUN_SCHEDULER": "false", "CAMSVC_PIPELINE__GRACE_S": "15"}
    with ServiceProcess(data_dir, free_port(), env) as api_only:
        code, body = healthz(api_only)
        assert code == 200 or body["reasons"][:1] == ["checks_stopped"], body
        wait_for(lambda: healthz(api_only)[0] == 503, STOP_S + 15, "/healthz 503", lambda: healthz(api_only))
        body = healthz(api_only)[1]
        assert body["reasons"][:2] == ["checks_stopped", "no_leader"], body
        assert body["pipeline"]["leader"] == "none" and body["leader"] is False
