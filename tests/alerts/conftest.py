"""Fixtures for alert tests: real receivers, a real SQLite database, and checks recorded through the real
check-recording code (state machine + outages + transitions in one transaction), as the service does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.alerts.dispatch import Dispatcher
from camsvc.alerts.models import Contact, ContactChannel, OutboxMessage, RoutingRule
from camsvc.bench.common import wait_until
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.health.maintenance import active_for
from camsvc.health.outages import record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Camera, CameraKind, Check, MaintenanceWindow
from tests.alerts.receivers import SmtpSink, WebhookSink
from tests.utils.service import migrated_engine

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # 21:00 in Hanoi, a Monday


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.close()


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def alert_settings(tmp_path: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        public_url="http://camsvc.test:8080",
        alerts={"group_wait_s": 30, "backoff_max_s": 1.0, "dispatch_interval_s": 0.2},
        checks={"interval_s": 60, "fail_threshold": 2},
    )


@pytest.fixture
def alert_engine(alert_settings: Settings) -> Iterator[Engine]:
    with migrated_engine(alert_settings) as eng:
        yield eng


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(alert_settings: Settings, alert_engine: Engine, clock: Clock) -> Iterator[Dispatcher]:
    d = Dispatcher(alert_settings, alert_engine, clock=clock, attempt_timeout_s=5.0)
    yield d
    d.close(5.0)


def add_cameras(
    engine: Engine, n: int, hamlet: str, prefix: str = "cam", kind: str = "roadside", **kw: Any
) -> list[str]:
    ids = []
    with session_scope(engine) as s:
        for i in range(n):
            cid = f"{prefix}-{i + 1:03d}"
            s.add(
                Camera(
                    id=cid,
                    name=f"{prefix.upper()} {i + 1}",
                    kind=CameraKind(kind),
                    hamlet=hamlet,
                    address=f"{i + 1} đường Chợ, {hamlet}",
                    latitude=18.95 + i * 0.001,
                    longitude=105.6 + i * 0.001,
                    **kw,
                )
            )
            ids.append(cid)
    return ids


def add_contact(
    engine: Engine,
    name: str,
    urls: list[str],
    rules: list[dict[str, Any]],
    *,
    language: str = "vi",
    role: str = "technician",
) -> int:
    with session_scope(engine) as s:
        c = Contact(name=name, language=language, role=role)
        s.add(c)
        s.flush()
        assert c.id is not None
        for u in urls:
            s.add(ContactChannel(contact_id=c.id, url=u))
        for r in rules:
            s.add(RoutingRule(contact_id=c.id, **r))
        return c.id


@dataclass
class Fleet:
    """Records checks through the real code path, with maintenance windows applied like the service does."""

    engine: Engine
    settings: Settings
    windows: list[MaintenanceWindow] = field(default_factory=list)

    def check(
        self,
        camera_id: str,
        at: dt.datetime,
        ok: bool,
        error: str | None = None,
        faults: tuple[str, ...] = (),
    ) -> None:
        with session_scope(self.engine) as s:
            cam = s.get(Camera, camera_id)
            assert cam is not None
            windows = list(s.exec(select(MaintenanceWindow)).all())
            in_maint = active_for(windows, cam.id, cam.hamlet, at, self.settings.timezone) is not None
            obs = Observation(
                at=at,
                ok=ok,
                error=error,
                detail=f"probe: {error}" if error else None,
                faults=faults,
                in_maintenance=in_maint,
            )
            check = Check(camera_id=camera_id, at=at, ok=ok, error=error)
            c = self.settings.checks
            record_check(
                s,
                check,
                obs,
                Thresholds(fail=c.fail_threshold, recover=c.recover_threshold, degrade=c.degrade_threshold),
            )

    def up(self, ids: list[str], at: dt.datetime) -> None:
        for cid in ids:
            self.check(cid, at, True)

    def down(self, ids: list[str], at: dt.datetime, error: str = "refused", retry_s: float = 10.0) -> None:
        """Two failed checks (the default fail threshold), ``retry_s`` apart: confirmed down."""
        for cid in ids:
            self.check(cid, at, False, error)
        for cid in ids:
            self.check(cid, at + dt.timedelta(seconds=retry_s), False, error)


@pytest.fixture
def fleet(alert_engine: Engine, alert_settings: Settings) -> Fleet:
    return Fleet(alert_engine, alert_settings)


def pump(
    d: Dispatcher, clock: Clock, until: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.0
) -> bool:
    """Run dispatcher passes (advancing the fake clock by ``step_s`` each) until ``until()`` or the timeout."""

    def once() -> bool:
        if step_s:
            clock.advance(step_s)
        d.run_once()
        d.wait_idle(5.0)
        return until()

    return wait_until(once, timeout_s, 0.02)


def settle(d: Dispatcher, passes: int = 3) -> None:
    """A few passes at the current time: whatever is due is sent (used to show nothing MORE goes out)."""
    for _ in range(passes):
        d.run_once()
        d.wait_idle(5.0)


def messages(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())  # type: ignore[arg-type]
