"""The coverage watch (camsvc/nodes/coverage.py): the pure plan by tables, then passes against a real
database (SQLite, and PostgreSQL when the local server answers) with probe_node rows inserted at chosen
``last_seen`` times and the time passed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts.models import Contact, ContactChannel, OutboxMessage
from camsvc.config import Settings
from camsvc.db import make_engine, upgrade
from camsvc.enums import CameraKind, HealthState
from camsvc.models import Camera, CameraStatus, Outage, Transition
from camsvc.nodes.coverage import CAUSE, CoverageWorker, coverage_pass, node_state, plan
from camsvc.nodes.models import ProbeNode
from camsvc.nodes.pools import LiveNode
from tests.utils.postgres import fresh_database
from tests.utils.waiting import wait_for

T0 = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------- pure rules
@pytest.mark.parametrize(
    "stopped, seen_ago, want",
    [(None, 0, "live"), (None, 29, "live"), (None, 30, "lost"), (None, 3600, "lost"), (T0, 0, "stopped")],
)
def test_node_state(stopped: dt.datetime | None, seen_ago: float, want: str) -> None:
    assert node_state(stopped, T0 - dt.timedelta(seconds=seen_ago), T0, 30.0) == want


A, B, ANY = LiveNode("a1", "A"), LiveNode("b1", "B"), LiveNode("x1", "")


@pytest.mark.parametrize(
    "sites, nodes, alerted, uncovered, new, recovered, dropped",
    [
        ({"A", "B"}, [A, B], set(), {""} - {""}, (), (), ()),
        ({"A", "B"}, [A], set(), {"B"}, ("B",), (), ()),
        ({"A", "B"}, [A], {"B"}, {"B"}, (), (), ()),  # alerted once per episode
        ({"A", "B"}, [A, B], {"B"}, set(), (), ("B",), ()),
        ({"A", "B"}, [A, ANY], {"B"}, set(), (), ("B",), ()),  # an any-site node covers B
        ({"A", "B"}, [], set(), {"A", "B"}, ("A", "B"), (), ()),
        ({"A"}, [A], {"B"}, set(), (), (), ("B",)),  # B has no cameras any more: forgotten quietly
        ({"", "A"}, [A], set(), set(), (), (), ()),  # no-site cameras go to any live node
    ],
)
def test_plan(
    sites: set[str],
    nodes: list[LiveNode],
    alerted: set[str],
    uncovered: set[str],
    new: tuple[str, ...],
    recovered: tuple[str, ...],
    dropped: tuple[str, ...],
) -> None:
    p = plan(sites, nodes, alerted)
    assert set(p.uncovered) == uncovered
    assert (p.newly_uncovered, p.recovered, p.dropped) == (new, recovered, dropped)


# --------------------------------------------------------------------------------------- database
def _engine(url: str | None, tmp: Path) -> tuple[Engine, Settings]:
    settings = Settings(data_dir=tmp) if url is None else Settings(data_dir=tmp, database_url=url)
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    return engine, settings


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Settings]]:
    if request.param == "sqlite":
        engine, settings = _engine(None, tmp_path)
        yield engine, settings
        engine.dispose()
    else:
        with fresh_database("camsvc_cov") as url:
            engine, settings = _engine(url, tmp_path)
            yield engine, settings
            engine.dispose()


def _fleet(engine: Engine) -> None:
    """a-1..a-3 at site A (a-1 up, a-2 down with an open outage, a-3 never checked), b-1 at site B (up),
    a-9 at A but disabled."""
    with Session(engine) as s:
        for cid, site, enabled in (
            ("a-1", "A", True),
            ("a-2", "A", True),
            ("a-3", "A", True),
            ("b-1", "B", True),
            ("a-9", "A", False),
        ):
            s.add(
                Camera(
                    id=cid,
                    name=cid,
                    kind=CameraKind.ROADSIDE,
                    site=site,
                    enabled=enabled,
                    main_url=f"rtsp://127.0.0.1/{cid}",
                )
            )
        s.flush()
        s.add(
            CameraStatus(
                camera_id="a-1", state=HealthState.UP, since=T0 - dt.timedelta(hours=1), last_check_at=T0
            )
        )
        s.add(
            CameraStatus(
                camera_id="b-1", state=HealthState.UP, since=T0 - dt.timedelta(hours=1), last_check_at=T0
            )
        )
        out = Outage(
            camera_id="a-2",
            state=HealthState.DOWN,
            started_at=T0 - dt.timedelta(minutes=10),
            confirmed_at=T0 - dt.timedelta(minutes=9),
            cause="timeout",
        )
        s.add(out)
        s.flush()
        s.add(
            CameraStatus(
                camera_id="a-2",
                state=HealthState.DOWN,
                since=T0 - dt.timedelta(minutes=9),
                cause="timeout",
                fail_streak=5,
                open_outage_id=out.id,
                last_check_at=T0,
            )
        )
        s.add(Contact(id=1, name="Tech", role="technician", language="vi"))
        s.add(Contact(id=2, name="Duty", role="duty", language="en"))
        s.flush()
        s.add(ContactChannel(contact_id=1, url="json://127.0.0.1:9/t"))
        s.add(ContactChannel(contact_id=2, url="json://127.0.0.1:9/d"))
        s.commit()


def _node(
    engine: Engine,
    name: str,
    site: str,
    seen: dt.datetime,
    role: str = "probe",
    stopped: dt.datetime | None = None,
) -> None:
    with Session(engine) as s:
        row = s.get(ProbeNode, name) or ProbeNode(name=name)
        row.site, row.role, row.last_seen, row.stopped_at = site, role, seen, stopped
        s.add(row)
        s.commit()


def _statuses(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as s:
        return {r.camera_id: (HealthState(r.state).value, r.cause) for r in s.exec(select(CameraStatus))}


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def test_no_node_rows_does_nothing(db: tuple[Engine, Settings]) -> None:
    engine, settings = db
    _fleet(engine)
    before = _statuses(engine)
    r = coverage_pass(engine, settings, T0)
    assert r.skipped and not r.turned
    assert _statuses(engine) == before
    assert _outbox(engine) == []


def test_site_without_node_turns_unknown_alerts_once_and_recovers(db: tuple[Engine, Settings]) -> None:
    engine, settings = db
    _fleet(engine)
    _node(engine, "a1", "A", T0)
    _node(engine, "b1", "B", T0)
    r = coverage_pass(engine, settings, T0)
    assert not r.skipped and r.uncovered == set() and r.turned == []
    assert _outbox(engine) == []

    # b1 is not seen for 40 s (dead after 30): site B is uncovered, A is still fine
    now = T0 + dt.timedelta(seconds=40)
    _node(engine, "a1", "A", now)
    r = coverage_pass(engine, settings, now)
    assert r.uncovered == {"B"} and r.turned == ["b-1"] and r.alerted == ["B"]
    st = _statuses(engine)
    assert st["b-1"] == ("unknown", CAUSE)
    assert st["a-1"] == ("up", None) and st["a-2"] == ("down", "timeout")
    msgs = _outbox(engine)
    assert len(msgs) == 2, "one per technician/duty channel"
    by_lang = {m.language: m.body for m in msgs}
    assert "Khu vực B" in by_lang["vi"] and "1 camera" in by_lang["vi"]
    assert by_lang["en"].startswith("Site B: no probe node is running since")
    with Session(engine) as s:
        tr = s.exec(select(Transition).where(Transition.camera_id == "b-1")).one()
        assert (tr.old_state, tr.new_state, tr.cause) == (HealthState.UP, HealthState.UNKNOWN, CAUSE)
        assert s.exec(select(Outage).where(Outage.camera_id == "b-1")).all() == [], "no outage opened"

    # later passes: nothing new (no second transition, no second alert)
    for k in range(3):
        r = coverage_pass(engine, settings, now + dt.timedelta(seconds=5 * (k + 1)))
        assert r.turned == [] and r.alerted == []
    assert len(_outbox(engine)) == 2
    with Session(engine) as s:
        assert len(s.exec(select(Transition).where(Transition.camera_id == "b-1")).all()) == 1

    # b1 comes back: recovery message to the same channels; the camera stays unknown until checked
    back = now + dt.timedelta(seconds=60)
    _node(engine, "a1", "A", back)
    _node(engine, "b1", "B", back)
    r = coverage_pass(engine, settings, back)
    assert r.recovered == ["B"] and r.uncovered == set()
    assert _statuses(engine)["b-1"] == ("unknown", CAUSE)
    msgs = _outbox(engine)
    assert len(msgs) == 4
    assert {m.language: m.body for m in msgs[2:]}[
        "en"
    ] == "Site B: a probe node is running again; its cameras are being checked again."
    r = coverage_pass(engine, settings, back + dt.timedelta(seconds=5))
    assert r.recovered == [] and len(_outbox(engine)) == 4

    # a second episode is alerted again
    later = back + dt.timedelta(minutes=5)
    _node(engine, "a1", "A", later)
    _node(engine, "b1", "B", later, stopped=later)  # a clean stop counts as gone too
    r = coverage_pass(engine, settings, later)
    assert r.alerted == ["B"] and len(_outbox(engine)) == 6


def test_whole_fleet_uncovered_closes_open_outage_and_skips_disabled(db: tuple[Engine, Settings]) -> None:
    engine, settings = db
    _fleet(engine)
    old = T0 - dt.timedelta(minutes=5)
    _node(engine, "a1", "A", old)
    _node(engine, "api", "", T0, role="api")  # an API node checks nothing: it covers no site
    r = coverage_pass(engine, settings, T0)
    assert r.uncovered == {"A", "B"}
    assert sorted(r.turned) == ["a-1", "a-2", "a-3", "b-1"]
    st = _statuses(engine)
    assert all(st[c] == ("unknown", CAUSE) for c in ("a-1", "a-2", "a-3", "b-1"))
    assert "a-9" not in st, "a disabled camera is left alone"
    with Session(engine) as s:
        out = s.exec(select(Outage).where(Outage.camera_id == "a-2")).one()
        assert out.ended_at == T0
        assert s.get(CameraStatus, "a-2").open_outage_id is None  # type: ignore[union-attr]
        tr = s.exec(select(Transition).where(Transition.camera_id == "a-2")).one()
        assert tr.old_state == HealthState.DOWN and tr.outage_id == out.id
    assert sorted(r.alerted) == ["A", "B"] and len(_outbox(engine)) == 4


def test_a_check_recorded_meanwhile_wins(db: tuple[Engine, Settings]) -> None:
    """The update is conditional on the status version: when a check is recorded between the pass's read
    of a camera's status and its update, the check wins and the camera is left for the next pass."""
    engine, settings = db
    _fleet(engine)
    from camsvc.nodes.coverage import _turn_unknown

    with Session(engine, expire_on_commit=False) as s:
        seen = s.get(CameraStatus, "a-1")  # the pass's read (kept in the session: version 0)
        assert seen is not None and seen.version == 0
        s.commit()
        with Session(engine) as writer:  # a check lands meanwhile (record_check bumps the version)
            row = writer.get(CameraStatus, "a-1")
            assert row is not None
            row.version, row.last_error = row.version + 1, "checked meanwhile"
            writer.add(row)
            writer.commit()
        turned, raced = _turn_unknown(s, {"A"}, T0)
        s.commit()
    assert raced == ["a-1"] and sorted(turned) == ["a-2", "a-3"]
    assert _statuses(engine)["a-1"] == ("up", None)
    with Session(engine) as s2:
        assert s2.exec(select(Transition).where(Transition.camera_id == "a-1")).all() == []
    # the next pass (nodes exist, none live) turns it
    _node(engine, "a1", "A", T0 - dt.timedelta(minutes=5))
    assert coverage_pass(engine, settings, T0).turned == ["a-1", "b-1"]


def test_worker_runs_passes_and_stops(tmp_path: Path) -> None:
    engine, settings = _engine(None, tmp_path)
    # a short grace (dead_after_s) so the thread acts within the test
    node = settings.node.model_copy(update={"heartbeat_s": 0.2, "dead_after_s": 1.0})
    settings = settings.model_copy(update={"node": node})
    _fleet(engine)
    _node(engine, "a1", "A", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    w = CoverageWorker(settings, engine)
    w.start()
    try:
        assert w.alive()
        wait_for(lambda: _statuses(engine).get("b-1") == ("unknown", CAUSE), 10, "b-1 turned unknown")
        wait_for(lambda: w.passes >= 2, 10, "two passes")
    finally:
        w.stop(timeout_s=5)
    assert not w.alive()
    engine.dispose()


def test_the_worker_waits_a_grace_before_calling_a_site_unreachable(db: tuple[Engine, Settings]) -> None:
    """After the database was away every node looks lost at once: the watch acts on a site only after it
    has looked uncovered for dead_after_s of its own passes, and forgets that when a pass fails."""
    engine, settings = db
    _fleet(engine)
    _node(engine, "a1", "A", T0)
    _node(engine, "b1", "B", T0)
    w = CoverageWorker(settings, engine)
    dead = settings.node.dead_after_s
    now = T0 + dt.timedelta(seconds=dead + 10)  # both nodes' rows are old: the database just came back
    assert w.run_once(now).turned == []
    _node(engine, "a1", "A", now + dt.timedelta(seconds=2))  # a1 renews its row; b1 really is gone
    r = w.run_once(now + dt.timedelta(seconds=dead - 1))
    assert r.turned == [] and _outbox(engine) == []
    r = w.run_once(now + dt.timedelta(seconds=dead + 1))
    assert r.turned == ["b-1"] and r.alerted == ["B"]
    assert _statuses(engine)["a-1"] == ("up", None)
