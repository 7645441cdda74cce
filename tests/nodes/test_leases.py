"""Lease rounds on a real database: fair shares, takeover of a lost node's cameras, a clean stop's release,
sites kept to their own nodes; the planning rule as a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.models import Camera
from camsvc.nodes.leases import claim_round, plan, release_all
from camsvc.nodes.models import CameraLease, ProbeNode
from camsvc.nodes.pools import LiveNode

T0 = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
DEAD_AFTER = 30.0


@pytest.mark.parametrize(
    ("cameras", "leases", "live", "keep", "release", "claim"),
    [
        # alone: claims everything
        ({"c1": "", "c2": ""}, {}, ["a"], [], [], ["c1", "c2"]),
        # a second node joined: the first keeps its share and releases the rest
        (
            {"c1": "", "c2": "", "c3": "", "c4": ""},
            {c: "a" for c in ("c1", "c2", "c3", "c4")},
            ["a", "b"],
            ["c1", "c2"],
            ["c3", "c4"],
            [],
        ),
        # a lost holder's cameras are free
        ({"c1": "", "c2": ""}, {"c1": "gone", "c2": "gone"}, ["a"], [], [], ["c1", "c2"]),
        # a disabled (absent) camera's lease is released
        ({"c1": ""}, {"c1": "a", "c9": "a"}, ["a"], ["c1"], ["c9"], []),
    ],
)
def test_plan(
    cameras: dict[str, str],
    leases: dict[str, str],
    live: list[str],
    keep: list[str],
    release: list[str],
    claim: list[str],
) -> None:
    nodes = [LiveNode(n, "") for n in live]
    assert plan("a", cameras, leases, nodes) == (keep, release, claim)


def test_plan_sites() -> None:
    cams = {"a1": "A", "a2": "A", "b1": "B"}
    nodes = [LiveNode("na", "A"), LiveNode("any", "")]
    assert plan("na", cams, {}, nodes) == ([], [], ["a1", "a2"])
    assert plan("any", cams, {}, nodes) == ([], [], ["b1"])  # B has no node of its own
    # B's own node came back: the any-site node lets b1 go
    nodes.append(LiveNode("nb", "B"))
    assert plan("any", cams, {"b1": "any"}, nodes) == ([], ["b1"], [])


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from tests.utils.service import migrated_engine

    if request.param == "sqlite":
        with migrated_engine(Settings(data_dir=tmp_path / "data")) as eng:
            yield eng
        return
    from tests.utils.postgres import fresh_database

    with (
        fresh_database("camsvc_leases") as url,
        migrated_engine(Settings(data_dir=tmp_path / "data", database_url=url)) as eng,
    ):
        yield eng


def _fleet(engine: Any, n: int, site: str = "") -> list[str]:
    with Session(engine) as s:
        ids = []
        for i in range(n):
            cid = f"{site or 'x'}-{i:03d}"
            s.add(
                Camera(
                    id=cid,
                    name=cid,
                    kind="household",
                    hamlet="H",
                    site=site,
                    main_url=f"rtsp://127.0.0.1:9/{cid}",
                )
            )
            ids.append(cid)
        s.commit()
    return ids


def _beat(engine: Any, name: str, at: dt.datetime, site: str = "") -> None:
    with Session(engine) as s:
        s.merge(ProbeNode(name=name, site=site, role="probe", last_seen=at, stopped_at=None))
        s.commit()


def _round(engine: Any, name: str, at: dt.datetime, site: str = "") -> set[str]:
    _beat(engine, name, at, site)
    with Session(engine) as s:
        return set(claim_round(s, name, at, DEAD_AFTER).owned)


def _holders(engine: Any) -> dict[str, str]:
    with Session(engine) as s:
        return dict(s.exec(select(CameraLease.camera_id, CameraLease.node)).all())


def test_shares_takeover_and_release(engine: Any) -> None:
    ids = _fleet(engine, 10)
    t = T0
    assert _round(engine, "n1", t) == set(ids)  # alone: every camera
    _beat(engine, "n2", t)
    _beat(engine, "n3", t)
    # the newcomers get their shares as n1 lets go of the extra ones
    for _ in range(3):
        t += dt.timedelta(seconds=5)
        for n in ("n1", "n2", "n3"):
            _round(engine, n, t)
    held = _holders(engine)
    assert set(held) == set(ids)  # every camera held, each by one node
    counts = {n: list(held.values()).count(n) for n in ("n1", "n2", "n3")}
    assert max(counts.values()) <= 4 and min(counts.values()) >= 2, counts
    # n3 is lost (no heartbeat): before dead_after its cameras stay with it, after it others take them
    lost = {c for c, n in held.items() if n == "n3"}
    t += dt.timedelta(seconds=DEAD_AFTER - 10)
    for n in ("n1", "n2"):
        _round(engine, n, t)
    assert {c for c, n in _holders(engine).items() if n == "n3"} == lost
    t += dt.timedelta(seconds=15)
    for _ in range(2):
        for n in ("n1", "n2"):
            _round(engine, n, t)
        t += dt.timedelta(seconds=5)
    after = _holders(engine)
    assert set(after) == set(ids) and "n3" not in after.values()
    # a clean stop releases at once: the other node has them all on its next round
    with Session(engine) as s:
        release_all(s, "n2")
        s.merge(ProbeNode(name="n2", role="probe", last_seen=t, stopped_at=t))
        s.commit()
    assert _round(engine, "n1", t) == set(ids)


def test_sites_stay_with_their_nodes(engine: Any) -> None:
    a = _fleet(engine, 4, "A")
    b = _fleet(engine, 3, "B")
    t = T0
    assert _round(engine, "na", t, "A") == set(a)
    assert _round(engine, "nb", t, "B") == set(b)
    # an any-site node takes nothing while both sites have their own nodes
    assert _round(engine, "any", t, "") == set()
    # B's node is lost: the any-site node covers B, not A
    t += dt.timedelta(seconds=DEAD_AFTER + 1)
    _round(engine, "na", t, "A")
    assert _round(engine, "any", t, "") == set(b)
