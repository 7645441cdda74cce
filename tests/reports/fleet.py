"""A small fleet with known outage rows for November 2026 (Asia/Ho_Chi_Minh), written straight into a real
SQLite database, and the expected numbers worked out BY HAND from those rows (not by camsvc.reports)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.config import Settings
from camsvc.enums import CameraKind, HealthState
from camsvc.models import Camera, MaintenanceWindow, Outage

UTC = dt.UTC
START = dt.datetime(2026, 10, 31, 17, tzinfo=UTC)  # 2026-11-01 00:00 local
END = dt.datetime(2026, 11, 30, 17, tzinfo=UTC)
MONTH_S = 30 * 86400
H = 3600
EAST, WEST = "Thôn Đông", "Thôn Tây"
OWNER = "Nguyễn Thị Hoa"
HOUSEHOLD_NAME = "Nhà bà Hoa cổng sau"


def T(day: int, hour: float = 0) -> dt.datetime:
    """November `day`, `hour` UTC."""
    return dt.datetime(2026, 11, day, tzinfo=UTC) + dt.timedelta(hours=hour)


# Expected, by hand:
#  r1 (East, roadside): down 01-05 h on Nov 3 and down 04-06 h (overlap) -> 5 h down; 2 outages, both ended
#     (durations 4 h, 2 h -> MTTR 3 h); first confirmed +120 s, acknowledged +720 s -> MTTA 600 s.
#  r2 (East, roadside): degraded 10 h on Nov 10 (covered) -> 0 down, 10 h picture fault.
#  h1 (West, household): added Nov 16 00:00 local (Nov 15 17:00Z): in service 15 days; open down outage since
#     Nov 29 17:00Z -> 24 h down until the period's end; 1 outage, not repaired.
#  h2 (West, household): maintenance window Nov 20 00:00Z - Nov 21 00:00Z (24 h, counted apart); down
#     Nov 20 12:00Z - Nov 21 06:00Z -> only 6 h counted; monitored 29 days.
#  d1 (West): disabled -> left out (its outage too).
MON = {"r1": MONTH_S, "r2": MONTH_S, "h1": 15 * 86400, "h2": MONTH_S - 24 * H}
DOWN = {"r1": 5 * H, "r2": 0, "h1": 24 * H, "h2": 6 * H}
BAD = {"r1": 0, "r2": 10 * H, "h1": 0, "h2": 0}
AVAIL = {k: 1 - DOWN[k] / MON[k] for k in MON}
EAST_AVAIL = 1 - (DOWN["r1"] + DOWN["r2"]) / (MON["r1"] + MON["r2"])
WEST_AVAIL = 1 - (DOWN["h1"] + DOWN["h2"]) / (MON["h1"] + MON["h2"])
TOTAL_AVAIL = 1 - sum(DOWN.values()) / sum(MON.values())
TOTAL_GOOD = 1 - (sum(DOWN.values()) + sum(BAD.values())) / sum(MON.values())
TOTAL_OUTAGES = 5
TOTAL_DOWN_S = sum(DOWN.values())  # 35 h
MTTR_S = (4 * H + 2 * H + 10 * H + 18 * H) / 4  # ended in period: r1 x2, r2, h2 -> 8.5 h
MAINT_S = 24 * H


def fill(engine: Engine) -> None:
    created = dt.datetime(2026, 10, 1, tzinfo=UTC)
    with Session(engine) as s:
        for cid, name, kind, hamlet, at, enabled in (
            ("r1", "Ngã ba chợ", CameraKind.ROADSIDE, EAST, created, True),
            ("r2", "Cầu Đông", CameraKind.ROADSIDE, EAST, created, True),
            (
                "h1",
                HOUSEHOLD_NAME,
                CameraKind.HOUSEHOLD,
                WEST,
                dt.datetime(2026, 11, 15, 17, tzinfo=UTC),
                True,
            ),
            ("h2", "Nhà ông Ba", CameraKind.HOUSEHOLD, WEST, created, True),
            ("d1", "Hỏng", CameraKind.HOUSEHOLD, WEST, created, False),
        ):
            s.add(
                Camera(
                    id=cid,
                    name=name,
                    kind=kind,
                    hamlet=hamlet,
                    created_at=at,
                    enabled=enabled,
                    latitude=21.0123 + len(cid) / 1000,
                    longitude=105.8456,
                    owner_name=OWNER if kind == CameraKind.HOUSEHOLD else "",
                    owner_phone="0912345678" if kind == CameraKind.HOUSEHOLD else "",
                    address="Số 7 ngõ 3" if kind == CameraKind.HOUSEHOLD else "",
                )
            )
        s.flush()
        dn, dg = HealthState.DOWN, HealthState.DEGRADED
        for cid, state, a, b, cause, conf, ack in (
            (
                "r1",
                dn,
                T(3, 1),
                T(3, 5),
                "timeout",
                T(3, 1) + dt.timedelta(seconds=120),
                T(3, 1) + dt.timedelta(seconds=720),
            ),
            ("r1", dn, T(3, 4), T(3, 6), "refused", T(3, 4), None),
            ("r2", dg, T(10, 0), T(10, 10), "covered", T(10, 0), None),
            ("h1", dn, T(29, 17), None, "refused", T(29, 17), None),
            ("h2", dn, T(20, 12), T(21, 6), "timeout", T(20, 12), None),
            ("d1", dn, T(5), T(6), "timeout", T(5), None),
            (
                "r1",
                dn,
                T(1) - dt.timedelta(days=10),
                T(1) - dt.timedelta(days=9),
                "timeout",
                T(1) - dt.timedelta(days=10),
                None,
            ),
        ):
            s.add(
                Outage(
                    camera_id=cid,
                    state=state,
                    started_at=a,
                    ended_at=b,
                    cause=cause,
                    confirmed_at=conf,
                    acknowledged_at=ack,
                )
            )
        s.add(MaintenanceWindow(camera_id="h2", starts_at=T(20), ends_at=T(21), reason="thay nguồn"))
        s.commit()


def make_db(tmp: Path) -> tuple[Settings, Engine]:
    from camsvc.db import make_engine, upgrade

    settings = Settings(data_dir=tmp)
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    fill(engine)
    return settings, engine
