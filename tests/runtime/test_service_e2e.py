"""The real service (a `camsvc serve` subprocess) checking the real simulator: faults become outages with
the right cause, hamlet power cuts, a SIGKILL mid-outage, and no secret anywhere in what it says."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess, free_port
from tests.utils.service import Recorder, fleet_service, quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 3.0, 1.0, 5.0
# interval + retry + 2 budgets (the confirming check) + scheduling slack on a shared 2-core machine
DETECT_S = INTERVAL + RETRY + 2 * BUDGET + 8
ENV = {**quick_checks_env(INTERVAL, RETRY, BUDGET), "CAMSVC_LOG_LEVEL": "DEBUG"}


sim = simulator_fixture(6, 14)


@pytest.fixture(scope="module")
def svc(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with fleet_service(sim, tmp_path_factory.mktemp("svc"), ENV) as proc:
        yield proc


@pytest.fixture(scope="module")
def api(svc: ServiceProcess) -> Recorder:
    return Recorder(svc.base, svc.headers)


def states(api: Recorder) -> dict[str, dict[str, Any]]:
    """Enabled cameras only: a disabled one is never checked and stays unknown."""
    return {c["id"]: c for c in api.get("/api/map")["cameras"] if c["enabled"]}


def all_up(api: Recorder) -> bool:
    return all(c["state"] == "up" for c in states(api).values())


def not_up(api: Recorder) -> dict[str, tuple[str, str | None]]:
    return {k: (c["state"], c["cause"]) for k, c in states(api).items() if c["state"] != "up"}


def test_fleet_comes_up(sim: Any, api: Recorder) -> None:
    wait_for(lambda: all_up(api), 90, "every simulated camera up", lambda: not_up(api))
    st = api.get("/api/status")
    enabled = [c for c in sim.fleet if c.enabled]
    assert st["by_state"]["up"] == st["total"] == len(enabled) >= 15
    assert st["disabled"] == 20 - len(enabled)


def test_faults_go_down_with_cause_and_come_back(sim: Any, api: Recorder) -> None:
    wait_for(lambda: all_up(api), 60, "fleet up", lambda: not_up(api))
    ids = [c.id for c in sim.fleet if c.enabled]
    plan = {
        **dict.fromkeys(ids[0:5], "down"),
        **dict.fromkeys(ids[5:8], "hang"),
        **dict.fromkeys(ids[8:10], "stall"),
    }
    expected_cause = {"down": "refused", "hang": "timeout", "stall": "stalled"}
    t_switch = time.time()
    for cid, fault in plan.items():
        sim.fault(cid, fault)

    def confirmed() -> bool:
        s = states(api)
        return all(s[c]["state"] == "down" for c in plan)

    wait_for(
        confirmed, DETECT_S + 5, "faulty cameras down", lambda: {c: states(api)[c]["state"] for c in plan}
    )
    s = states(api)
    for cid, fault in plan.items():
        assert s[cid]["cause"] == expected_cause[fault], (cid, fault, s[cid])
    others = [c for c in ids if c not in plan]
    assert all(s[c]["state"] == "up" for c in others), {c: s[c]["state"] for c in others}

    t_restore = time.time()
    for cid in plan:
        sim.fault(cid, "normal")
    wait_for(
        lambda: all(states(api)[c]["state"] == "up" for c in plan),
        INTERVAL + 2 * BUDGET + 10,
        "recovery",
        lambda: {c: (states(api)[c]["state"], plan[c]) for c in plan},
    )
    t_up = time.time()
    for cid in plan:
        outs = api.get(f"/api/cameras/{cid}/outages")
        assert len(outs) == 1, outs
        o = outs[0]
        assert not o["open"] and o["cause"] == expected_cause[plan[cid]]
        started = _ts(o["started_at"])
        ended = _ts(o["ended_at"])
        # the outage starts at the first failed check after the switch, ends at the first good one
        assert t_switch - 1 <= started <= t_switch + INTERVAL * 1.1 + BUDGET + 2
        assert t_restore - 1 <= ended <= t_up + 1
        assert abs(o["duration_s"] - (ended - started)) < 0.06  # rounded to 0.1 s
    # the others never had an outage
    assert api.get("/api/outages", camera=others[0]) == []


def test_hamlet_power_cut(sim: Any, api: Recorder) -> None:
    wait_for(lambda: all_up(api), 60, "fleet up", lambda: not_up(api))
    hamlet = max({c.hamlet for c in sim.fleet}, key=lambda h: sum(c.hamlet == h for c in sim.fleet))
    affected = [cid for cid in sim.fault_hamlet(hamlet, "down") if sim.camera(cid).enabled]
    assert len(affected) >= 2
    wait_for(
        lambda: api.get("/api/status")["by_hamlet"][hamlet]["down"] == len(affected),
        DETECT_S + 5,
        "whole hamlet down",
    )
    st = api.get("/api/status")
    assert st["by_state"]["down"] == len(affected)
    assert {d["id"] for d in st["longest_down"]} == set(affected)
    open_outages = api.get("/api/outages", open="true", hamlet=hamlet)
    assert {o["camera_id"] for o in open_outages} == set(affected)
    sim.fault_hamlet(hamlet, "normal")
    wait_for(lambda: all_up(api), INTERVAL + 2 * BUDGET + 15, "hamlet back")


def test_sigkill_mid_outage_continues_the_same_outage(sim: Any, svc: ServiceProcess, api: Recorder) -> None:
    wait_for(lambda: all_up(api), 60, "fleet up", lambda: not_up(api))
    cid = [c.id for c in sim.fleet if c.enabled][-1]
    sim.fault(cid, "down")
    wait_for(lambda: states(api)[cid]["state"] == "down", DETECT_S, f"{cid} down")
    before = api.get(f"/api/cameras/{cid}/outages")
    assert len(before) == 1 and before[0]["open"]
    svc.kill()
    svc.start()
    # several checks of the still-dead camera by the new process
    time.sleep(INTERVAL * 2 + BUDGET)
    after = api.get(f"/api/cameras/{cid}/outages")
    assert [o["id"] for o in after] == [before[0]["id"]] and after[0]["open"]
    assert states(api)[cid]["state"] == "down"
    sim.fault(cid, "normal")
    wait_for(lambda: states(api)[cid]["state"] == "up", INTERVAL + 2 * BUDGET + 10, f"{cid} back")
    final = api.get(f"/api/cameras/{cid}/outages")
    assert len(final) == 1 and not final[0]["open"]
    trs = [(t["old_state"], t["new_state"]) for t in reversed(api.get(f"/api/cameras/{cid}/transitions"))]
    assert trs.count(("up", "down")) == 1 and trs.count(("down", "up")) == 1, trs


def test_no_secret_in_any_response_export_or_log(sim: Any, svc: ServiceProcess, api: Recorder) -> None:
    passwords = {c.password for c in sim.fleet if c.password}
    assert passwords, "the simulated fleet must have credentials for this test to mean anything"
    api.get("/api/cameras", limit=1000)
    for c in sim.fleet:
        api.get(f"/api/cameras/{c.id}")
        api.get(f"/api/cameras/{c.id}/checks")
    api.get("/api/cameras/export", format="csv")
    api.get("/api/cameras/export", format="yaml")
    api.get("/api/outages", format="csv", period="day")
    api.get("/api/uptime", period="day")
    api.get("/metrics")
    api.get("/openapi.json")
    api.get("/")
    corpus = "\n".join(api.texts) + svc.log_text()
    assert "DEBUG" in svc.log_text()  # the log really was verbose
    for pw in passwords:
        assert pw not in corpus


def _ts(s: str) -> float:
    from camsvc.timefmt import parse_utc

    return parse_utc(s).timestamp()


def test_registry_edits_take_effect_without_restart(sim: Any, api: Recorder) -> None:
    wait_for(lambda: all_up(api), 60, "fleet up", lambda: not_up(api))
    enabled = [c for c in sim.fleet if c.enabled]
    off, moved, template = enabled[0], enabled[1], enabled[2]
    c = api.client
    # disable: no more checks
    assert c.patch(f"{api.base}/api/cameras/{off.id}", json={"enabled": False}).status_code == 200
    time.sleep(INTERVAL + BUDGET)  # a check in flight when it was disabled may still land
    n = len(api.get(f"/api/cameras/{off.id}/checks", limit=1000))
    time.sleep(INTERVAL * 2 + 1)
    assert len(api.get(f"/api/cameras/{off.id}/checks", limit=1000)) == n
    # a new camera is checked
    body = {
        "id": "cam-new",
        "name": "Camera mới",
        "kind": "roadside",
        "hamlet": template.hamlet,
        "main_url": template.main_url,
        "username": template.username or None,
        "password": template.password or None,
    }
    assert c.post(f"{api.base}/api/cameras", json=body).status_code == 201
    wait_for(
        lambda: states(api).get("cam-new", {}).get("state") == "up",
        INTERVAL * 2 + BUDGET + 10,
        "new camera up",
    )
    # an edited URL is used at once: pointing at a closed port makes the camera go down
    port = sim.port(moved.id)
    bad = moved.main_url.replace(f":{port}/", ":9/")
    assert (
        c.patch(f"{api.base}/api/cameras/{moved.id}", json={"main_url": bad, "sub_url": ""}).status_code
        == 200
    )
    wait_for(lambda: states(api)[moved.id]["state"] == "down", DETECT_S, f"{moved.id} down after its edit")
    assert states(api)[moved.id]["cause"] == "refused"
    # restore for any later test
    # back on its own host: the credentials dropped when it moved away must be given again (issue 9)
    restore = {"main_url": moved.main_url, "sub_url": moved.sub_url}
    restore |= {"username": moved.username or None, "password": moved.password or None}
    r = c.patch(f"{api.base}/api/cameras/{moved.id}", json=restore)
    assert r.status_code == 200, r.text
    c.patch(f"{api.base}/api/cameras/{off.id}", json={"enabled": True})
    c.delete(f"{api.base}/api/cameras/cam-new")
    wait_for(lambda: all_up(api), DETECT_S + 10, "fleet up again", lambda: not_up(api))


def test_second_process_on_the_same_database_serves_but_does_not_check(
    svc: ServiceProcess, api: Recorder
) -> None:
    other = ServiceProcess(svc.data_dir, free_port(), ENV, log_path=svc.data_dir / "second.log").start()
    try:
        assert httpx.get(f"{other.base}/healthz", timeout=10).json()["leader"] is False
        assert api.get("/healthz")["leader"] is True
        # it serves the same data
        assert (
            httpx.get(f"{other.base}/api/status", headers=other.headers, timeout=10).json()["total"]
            == api.get("/api/status")["total"]
        )
    finally:
        other.stop()
    assert "probe pool" not in other.log_text()  # it never started probing


def test_sigterm_stops_cleanly_with_nothing_half_written(svc: ServiceProcess, api: Recorder) -> None:
    """Last in this module: it stops the service. Checks are in flight at any moment with a 3 s interval."""
    import sqlite3

    assert svc.proc is not None
    t0 = time.monotonic()
    svc.stop()  # SIGTERM, then waits
    # uvicorn re-raises SIGTERM after its graceful shutdown: the conventional "stopped by SIGTERM" status
    assert svc.proc.returncode in (0, -signal.SIGTERM), svc.log_text()[-2000:]
    assert time.monotonic() - t0 < 10
    log = svc.log_text()
    assert "probe pool closed" in log and "Application shutdown complete" in log
    assert "stopping this process's workers" in log
    assert (
        "worker slot" not in log.split("stopping this process's workers")[-1]
    )  # workers were closed, not killed and restarted (before that a failing recorder may restart)
    db = sqlite3.connect(svc.data_dir / "camsvc.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every open outage belongs to a camera whose status points at it, and vice versa
        open_ids = {r[0] for r in db.execute("SELECT id FROM outage WHERE ended_at IS NULL")}
        pointed = {
            r[0]
            for r in db.execute("SELECT open_outage_id FROM camerastatus WHERE open_outage_id IS NOT NULL")
        }
        assert open_ids == pointed
    finally:
        db.close()
