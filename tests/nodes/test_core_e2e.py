"""Several probe nodes on one PostgreSQL with real processes and the real simulator: an API node, two
probe nodes of site A and one of site B. Each camera is checked by a node of its own site only; a
SIGKILLed node's cameras are checked by the other node of its site within 2 check intervals; a node
stopped cleanly hands its cameras over at once; no due time is recorded twice (the unique key)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from camsvc.bench.common import NodeProcess, ServiceProcess, free_port
from tests.utils.postgres import fresh_database
from tests.utils.service import quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

INTERVAL, RETRY, BUDGET = 8.0, 2.0, 4.0
# a camera is next due one interval after its last check *ended*; a lost node's cameras are claimed
# DEAD_AFTER + at most one HEARTBEAT after its last renewal: with probe time + DEAD_AFTER + HEARTBEAT
# below one interval (as with the defaults: ~2 + 30 + 5 < 60 s) no camera goes 2 intervals unchecked
HEARTBEAT, DEAD_AFTER = 0.5, 3.0
ENV = {
    **quick_checks_env(INTERVAL, RETRY, BUDGET),
    "CAMSVC_PROBE__WORKERS": "1",
    "CAMSVC_NODE__HEARTBEAT_S": str(HEARTBEAT),
    "CAMSVC_NODE__DEAD_AFTER_S": str(DEAD_AFTER),
}

sim = simulator_fixture(2, 4)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("camsvc_nodes") as url:
        yield url


def _engine(data_dir: Path, url: str) -> Engine:
    from camsvc.db import make_engine, upgrade

    engine = make_engine(url, data_dir)
    upgrade(engine)
    return engine


def _checks(engine: Engine, since: dt.datetime | None = None) -> list[tuple[str, str, float]]:
    """(camera, node, epoch) of every check since *since*."""
    q = 'SELECT camera_id, node, at FROM "check"' + (" WHERE at >= :s" if since else "") + " ORDER BY at"
    with engine.connect() as c:
        rows = c.execute(sa.text(q), {"s": since} if since else {}).all()
    return [
        (cid, node or "", at.replace(tzinfo=dt.UTC).timestamp() if at.tzinfo is None else at.timestamp())
        for cid, node, at in rows
    ]


def _leases(engine: Engine) -> dict[str, str]:
    with engine.connect() as c:
        return dict(c.execute(sa.text("SELECT camera_id, node FROM camera_lease")).all())


def test_probe_nodes_share_sites_and_take_over(sim: Any, pg_url: str, tmp_path: Path) -> None:
    from camsvc.cameras import import_cameras
    from camsvc.db import session_scope
    from camsvc.models import Camera

    data = tmp_path / "api"
    engine = _engine(data, pg_url)
    env = {**ENV, "CAMSVC_DATABASE_URL": pg_url}
    nodes: list[NodeProcess] = []
    try:
        with session_scope(engine) as s:
            import_cameras(s, sim.fleet_csv.read_bytes(), "csv")
            s.execute(sa.update(Camera).values(check_interval_s=None))
            ids = sorted(s.exec(sa.select(Camera.id).where(Camera.enabled == True)).scalars())  # type: ignore[call-overload]  # noqa: E712
            site_of = {cid: ("A" if i % 3 else "B") for i, cid in enumerate(ids)}
            for cid, site in site_of.items():
                s.execute(sa.update(Camera).where(Camera.id == cid).values(site=site))
        a_cams = {c for c, s in site_of.items() if s == "A"}
        b_cams = {c for c, s in site_of.items() if s == "B"}
        api = ServiceProcess(
            data, free_port(), {**env, "CAMSVC_NODE__ROLE": "api"}, log_path=tmp_path / "api.log"
        )
        api.headers = {"X-Test": "no API calls"}
        api.start()
        try:
            # the key that makes a second recording of one due time impossible, on this very database
            with engine.connect() as c:
                idx = c.execute(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_check_camera_due'")
                ).scalar()
            assert idx and "UNIQUE" in idx and "camera_id" in idx and "due_at" in idx
            for name, site in (("a1", "A"), ("a2", "A"), ("b1", "B")):
                # each node gets the central service's secret key, as an administrator copies it
                (tmp_path / name).mkdir()
                shutil.copy2(data / "secret.key", tmp_path / name / "secret.key")
                nodes.append(NodeProcess(tmp_path / name, name, site, env).start())
            wait_for(
                lambda: set(_leases(engine)) == set(ids) and len(set(_leases(engine).values())) == 3,
                30,
                "every camera leased, by all three nodes",
                lambda: _leases(engine),
            )
            t0 = dt.datetime.now(dt.UTC)
            wait_for(
                lambda: {c for c, _, _ in _checks(engine, t0)} == set(ids),
                4 * INTERVAL,
                "every camera checked",
                lambda: _checks(engine, t0),
            )
            leases = _leases(engine)
            assert {leases[c] for c in b_cams} == {"b1"}
            assert {leases[c] for c in a_cams} <= {"a1", "a2"} and len({leases[c] for c in a_cams}) == 2
            assert all(node != "" for _, node, _ in _checks(engine))  # each check names its node
            # the API node runs no checks
            assert "api" not in {n for _, n, _ in _checks(engine)}

            # SIGKILL a1: a2 checks its cameras within 2 intervals of their last check
            victim = sorted(c for c in a_cams if leases[c] == "a1")
            nodes[0].kill()
            killed = time.time()
            wait_for(
                lambda: all(_leases(engine).get(c) == "a2" for c in victim),
                DEAD_AFTER + 10,
                "a2 holds a1's cameras",
                lambda: _leases(engine),
            )
            wait_for(
                lambda: all(
                    any(cid == c and n == "a2" and at > killed for cid, n, at in _checks(engine, t0))
                    for c in victim
                ),
                3 * INTERVAL + 10,
                "a1's cameras checked by a2",
                lambda: _checks(engine, t0),
            )
            took = time.time() - killed
            rows = _checks(engine, t0)
            for c in victim:
                before = max(at for cid, n, at in rows if cid == c and n == "a1")
                after = min(at for cid, n, at in rows if cid == c and n == "a2" and at > before)
                assert after - before <= 2 * INTERVAL + 1.0, (c, after - before)
            print(f"SIGKILL a1: its {len(victim)} cameras checked by a2 within {took:.1f} s of the kill")
            # site B's cameras never went to a node of site A, nor A's to b1
            assert {n for cid, n, _ in rows if cid in b_cams} == {"b1"}
            assert "b1" not in {n for cid, n, _ in rows if cid in a_cams}

            # a clean stop of a2 (site A has no node left): b1 does not take A's cameras (not its site)
            nodes[1].stop()
            wait_for(
                lambda: not any(n == "a2" for n in _leases(engine).values()),
                10,
                "a2's leases released",
                lambda: _leases(engine),
            )
            assert "node a2 stopped" in nodes[1].log_text()
            released = dt.datetime.now(dt.UTC)

            def b1_seen() -> dt.datetime:
                with engine.connect() as c:
                    at = c.execute(sa.text("SELECT last_seen FROM probe_node WHERE name = 'b1'")).scalar()
                return at if at.tzinfo else at.replace(tzinfo=dt.UTC)

            # two rounds of b1 after the release: it had every chance to take A's cameras, and did not
            wait_for(lambda: b1_seen() > released + dt.timedelta(seconds=2 * HEARTBEAT), 10, "two b1 rounds")
            assert all(n == "b1" for n in _leases(engine).values())
            assert set(_leases(engine)) == b_cams
            with engine.connect() as c:
                stopped = c.execute(sa.text("SELECT stopped_at FROM probe_node WHERE name = 'a2'")).scalar()
            assert stopped is not None
        finally:
            api.stop()
        for n in nodes:
            assert "rtsp://admin:" not in n.log_text().replace("rtsp://admin:***", "")  # passwords redacted
    finally:
        for n in nodes:
            n.stop()
        engine.dispose()


def test_two_api_nodes_sigkill_the_leader_alerts_resume(sim: Any, pg_url: str, tmp_path: Path) -> None:
    """Checks run on a probe node; the alerts on the API node holding the leader lock. SIGKILL it: the
    other API node takes the lock within runtime.takeover_s and the next camera outage is alerted by it."""
    import httpx

    from camsvc.auth.bootstrap import api_token
    from camsvc.cameras import import_cameras
    from camsvc.db import session_scope
    from camsvc.models import Camera
    from tests.alerts.receivers import WebhookSink

    takeover = 5.0
    data = tmp_path / "api"
    engine = _engine(data, pg_url)
    env = {
        **ENV,
        "CAMSVC_DATABASE_URL": pg_url,
        "CAMSVC_NODE__ROLE": "api",
        "CAMSVC_RUNTIME__TAKEOVER_S": str(takeover),
        "CAMSVC_ALERTS__GROUP_WAIT_S": "1",
        "CAMSVC_ALERTS__DISPATCH_INTERVAL_S": "0.3",
    }
    hook = WebhookSink()
    node: NodeProcess | None = None
    ids: list[str] = []
    apis = [ServiceProcess(data, free_port(), env, log_path=tmp_path / f"api{i}.log") for i in (1, 2)]
    try:
        with session_scope(engine) as s:
            import_cameras(s, sim.fleet_csv.read_bytes(), "csv")
            s.execute(sa.update(Camera).values(check_interval_s=None))
            ids = sorted(s.exec(sa.select(Camera.id).where(Camera.enabled == True)).scalars())  # type: ignore[call-overload]  # noqa: E712
        token = api_token(engine, "nodes-admin", "admin")
        for p in apis:
            p.headers = {"Authorization": f"Bearer {token}"}
        apis[0].start()
        apis[1].start()
        with apis[0].client() as c:
            r = c.post("/api/contacts", json={"name": "Kỹ thuật", "channels": [{"url": hook.url()}]})
            assert r.status_code in (200, 201), r.text
            assert c.post("/api/routing-rules", json={"contact_id": r.json()["id"]}).status_code < 400
        assert httpx.get(f"{apis[0].base}/healthz", timeout=5).json()["leader"] is True
        assert httpx.get(f"{apis[1].base}/healthz", timeout=5).json()["leader"] is False
        (tmp_path / "n1").mkdir()
        shutil.copy2(data / "secret.key", tmp_path / "n1" / "secret.key")
        node = NodeProcess(
            tmp_path / "n1", "n1", "", {k: v for k, v in env.items() if k != "CAMSVC_NODE__ROLE"}
        ).start()

        def states() -> dict[str, str]:
            with engine.connect() as c:
                return {
                    k: str(v).lower()
                    for k, v in c.execute(sa.text("SELECT camera_id, state FROM camerastatus"))
                }

        wait_for(lambda: all(states().get(c) == "up" for c in ids), 90, "every camera up", states)
        apis[0].kill()
        killed = time.monotonic()
        took = wait_for(
            lambda: httpx.get(f"{apis[1].base}/healthz", timeout=5).json()["leader"] is True,
            takeover + 10,
            "the second API node leads",
            interval_s=0.2,
        )
        assert took <= takeover + 1.0, took
        victim = ids[0]
        sim.fault(victim, "down")
        wait_for(
            lambda: any(victim in str(p) for p in hook.posts), 60, "the outage alert", lambda: hook.posts
        )
        print(
            f"API leader SIGKILLed: second leads after {took:.1f} s, alert {time.monotonic() - killed:.1f} s after the kill"
        )
        # the probe node never stopped checking: every camera was checked by it after the API leader's death
        kill_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=time.monotonic() - killed)
        wait_for(
            lambda: {cid for cid, n, _ in _checks(engine, kill_at) if n == "n1"} == set(ids),
            3 * INTERVAL + BUDGET,
            "every camera checked by n1 after the kill",
            lambda: _checks(engine, kill_at),
        )
        assert {n for _, n, _ in _checks(engine)} == {"n1"}
    finally:
        if ids:
            sim.fault(ids[0], "normal")
        if node is not None:
            node.stop()
        for p in apis:
            p.kill()
        hook.close()
        engine.dispose()
