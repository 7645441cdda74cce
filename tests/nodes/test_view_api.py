"""What the API shows of probe nodes (issue 12): GET /api/nodes and /api/nodes/{name}, and the ``delayed``
flag of cameras in /api/map, /api/status and the dashboard's change feed. Real app (TestClient), real
SQLite and PostgreSQL (skipped without a local server), probe_node and camera_lease rows inserted here as
the node agent would write them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from camsvc.app import create_app
from camsvc.config import Settings
from camsvc.enums import CameraKind, HealthState
from camsvc.models import Camera, CameraStatus
from camsvc.nodes.models import CameraLease, ProbeNode
from tests.utils.auth import add_users, headers
from tests.utils.postgres import fresh_database

SCOPED = {"technician": ["Thôn Một"]}  # the technician sees one hamlet only


def _seed(engine: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s:
        cams = [
            ("a-1", "Thôn Một", "A"),
            ("a-2", "Thôn Hai", "A"),
            ("b-1", "Thôn Một", "B"),
            ("b-2", "Thôn Hai", "B"),
            ("c-1", "Thôn Một", "C"),  # site C: no node at all
            ("x-1", "Thôn Hai", ""),
        ]
        for cid, hamlet, site in cams:
            s.add(
                Camera(
                    id=cid,
                    name=f"Cam {cid}",
                    kind=CameraKind.ROADSIDE,
                    hamlet=hamlet,
                    site=site,
                    main_url=f"rtsp://user:pw@10.0.0.9/{cid}",
                )
            )
        s.flush()
        for cid, _, _ in cams:
            s.add(CameraStatus(camera_id=cid, state=HealthState.UP, since=now, last_check_at=now))
        s.add(
            ProbeNode(
                name="node-a",
                site="A",
                role="probe",
                host="pc-a",
                last_seen=now - dt.timedelta(seconds=2),
                cameras=2,
                capacity=32,
                probes_per_min=41.5,
                saturation=0.25,
                detail="db ok rtsp://user:secretpw@10.0.0.9/x",
            )
        )
        s.add(
            ProbeNode(
                name="node-b",
                site="B",
                role="probe",
                host="pc-b",
                last_seen=now - dt.timedelta(seconds=3),
                spooled=17,
                oldest_spooled_at=now - dt.timedelta(minutes=4),
            )
        )
        s.add(ProbeNode(name="node-old", site="B", role="probe", last_seen=now - dt.timedelta(minutes=10)))
        s.add(
            ProbeNode(
                name="node-gone",
                site="A",
                role="probe",
                last_seen=now - dt.timedelta(hours=1),
                stopped_at=now - dt.timedelta(hours=1),
            )
        )
        s.add(ProbeNode(name="api-1", site="", role="api", last_seen=now))
        s.add(ProbeNode(name="node-x", site="", role="all", last_seen=now - dt.timedelta(minutes=5)))
        s.flush()
        for cid, node in (("a-1", "node-a"), ("a-2", "node-a"), ("b-1", "node-b"), ("b-2", "node-old")):
            s.add(CameraLease(camera_id=cid, node=node))
        s.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    def run(settings: Settings) -> Iterator[TestClient]:
        app = create_app(settings, start_runtime=False)
        with TestClient(app, base_url="http://127.0.0.1") as c:
            add_users(c.app.state.engine, SCOPED)
            _seed(c.app.state.engine)
            yield c

    if request.param == "sqlite":
        yield from run(Settings(data_dir=tmp_path))
    else:
        with fresh_database("camsvc_view") as url:
            yield from run(Settings(data_dir=tmp_path, database_url=url))


def _get(c: TestClient, url: str, role: str = "admin") -> Any:
    return c.get(url, headers=headers(c.app.state.engine, role, username=role))


@pytest.mark.parametrize(
    "role, code", [("viewer", 403), ("technician", 200), ("officer", 200), ("admin", 200)]
)
def test_who_may_see_nodes(client: TestClient, role: str, code: int) -> None:
    assert _get(client, "/api/nodes", role).status_code == code
    assert _get(client, "/api/nodes/node-a", role).status_code == code
    assert client.get("/api/nodes").status_code == 401


def test_nodes_list(client: TestClient) -> None:
    r = _get(client, "/api/nodes")
    assert r.status_code == 200
    body = r.json()
    text = json.dumps(body)
    assert "rtsp://" not in text and "secretpw" not in text, "no URLs, no secrets"
    nodes = {n["name"]: n for n in body["nodes"]}
    assert {k: v["state"] for k, v in nodes.items()} == {
        "node-a": "live",
        "node-b": "live",
        "node-old": "lost",
        "node-gone": "stopped",
        "api-1": "live",
        "node-x": "lost",
    }
    a = nodes["node-a"]
    assert (a["site"], a["role"], a["host"], a["cameras"]) == ("A", "probe", "pc-a", 2)
    assert (a["probes_per_min"], a["saturation"], a["delayed"]) == (41.5, 0.25, False)
    assert a["last_seen"].endswith("Z") and dt.datetime.fromisoformat(a["last_seen"]).tzinfo is not None
    b = nodes["node-b"]
    assert (b["cameras"], b["spooled"], b["delayed"]) == (1, 17, True)
    assert b["oldest_spooled_at"].endswith("Z")
    assert nodes["node-old"]["cameras"] == 1 and not nodes["api-1"]["probes"]
    sites = {s["site"]: s for s in body["sites"]}
    assert sites["A"] == {"site": "A", "cameras": 2, "covered_by": ["node-a"], "uncovered": 0}
    assert sites["B"]["covered_by"] == ["node-b"] and sites["B"]["uncovered"] == 0
    # C has no node and no node without a site is live (node-x is lost, api-1 checks nothing)
    assert sites["C"] == {"site": "C", "cameras": 1, "covered_by": [], "uncovered": 1}
    assert sites[""]["uncovered"] == 0, "a camera without a site goes to any live node"
    assert body["counts"] == {
        "live": 3,
        "lost": 2,
        "stopped": 1,
        "delayed": 1,
        "uncovered_cameras": 1,
        "uncovered_sites": 1,
    }


def test_node_detail_within_the_callers_hamlets(client: TestClient) -> None:
    full = _get(client, "/api/nodes/node-a").json()
    assert [(c["id"], c["name"], c["hamlet"]) for c in full["camera_list"]] == [
        ("a-1", "Cam a-1", "Thôn Một"),
        ("a-2", "Cam a-2", "Thôn Hai"),
    ]
    assert full["cameras"] == 2 and full["detail"] and "secretpw" not in full["detail"]
    scoped = _get(client, "/api/nodes/node-a", "technician").json()
    assert [c["id"] for c in scoped["camera_list"]] == ["a-1"], "hamlet scope applies"
    assert "rtsp://user" not in json.dumps(scoped)
    late = _get(client, "/api/nodes/node-old").json()
    assert late["state"] == "lost" and late["camera_list"][0]["delayed"] is True
    assert _get(client, "/api/nodes/nobody").status_code == 404


def test_delayed_flag_in_map_status_and_feed(client: TestClient) -> None:
    m = _get(client, "/api/map")
    flags = {c["id"]: c["delayed"] for c in m.json()["cameras"]}
    # b-1: its node has results spooled; b-2: its node is lost; others: fresh
    assert flags == {"a-1": False, "a-2": False, "b-1": True, "b-2": True, "c-1": False, "x-1": False}
    assert _get(client, "/api/status").json()["delayed"] == 2
    assert _get(client, "/api/status", "technician").json()["delayed"] == 1  # b-1 only, in Thôn Một

    feed = _get(client, "/web/changes").json()
    assert feed["full"] is True
    cursor = feed["cursor"]
    same = _get(client, f"/web/changes?cursor={cursor}").json()
    assert same["full"] is False and "delayed" not in same

    # node-b replays its spool: b-1 is no longer delayed; the map's version and the feed both see it
    engine = client.app.state.engine
    with Session(engine) as s:
        nb = s.get(ProbeNode, "node-b")
        assert nb is not None
        nb.spooled, nb.oldest_spooled_at = 0, None
        s.add(nb)
        s.commit()
    after = _get(client, f"/web/changes?cursor={cursor}").json()
    assert after["full"] is False and after["delayed"] == ["b-2"]
    m2 = _get(client, "/api/map")
    assert m2.headers["etag"] != m.headers["etag"]
    assert {c["id"]: c["delayed"] for c in m2.json()["cameras"]}["b-1"] is False
