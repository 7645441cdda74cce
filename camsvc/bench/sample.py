"""A realistic dashboard data set: the simulator's fleet imported into the registry, and states made real by
writing checks through ``record_check`` (the same code path as the service). Used by the browser tests and
``python -m camsvc.bench.web``; also handy to look at the dashboard without the simulator::

    python -m camsvc.bench.sample --data-dir /tmp/dash --cameras 240 && \
        CAMSVC_DATA_DIR=/tmp/dash camsvc serve --no-scheduler   # (or any way to start the app)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.cameras import import_cameras
from camsvc.health.outages import get_status, record_check
from camsvc.health.state import Observation, Thresholds
from camsvc.models import Check, HealthState

log = logging.getLogger(__name__)

DOWN_CAUSES = ("timeout", "refused", "auth", "not_found", "stalled", "decode_error")
PICTURE_FAULTS = ("covered", "blurred", "frozen", "turned", "black", "snow")


@dataclass
class Sample:
    """What was written: the expected state of every camera, and when its current state began."""

    states: dict[str, HealthState] = field(default_factory=dict)
    since: dict[str, dt.datetime] = field(default_factory=dict)
    causes: dict[str, str] = field(default_factory=dict)
    passwords: list[str] = field(default_factory=list)

    def ids(self, state: HealthState) -> list[str]:
        return sorted(i for i, s in self.states.items() if s is state)


def fleet_csv(cameras: int, seed: int = 1) -> tuple[str, list[str]]:
    """The simulator's fleet file for ``cameras`` cameras (1 in 6 roadside) and the passwords in it."""
    from camsvc.simulate.fleet import fleet_csv_text, generate_fleet

    roadside = max(1, cameras // 6)
    specs = generate_fleet(roadside, cameras - roadside, seed=seed)
    rows = [s.camera for s in specs]
    return fleet_csv_text(rows), sorted({c.password for c in rows if c.password})


def pictures() -> list[bytes]:
    """Small JPEGs of real footage (the simulator's cache, else scikit-image's photos); [] if none."""
    try:
        import cv2
    except ImportError:  # pragma: no cover
        return []
    from camsvc.paths import cache_dir
    from camsvc.simulate.footage import footage_dir

    paths = sorted(footage_dir(cache_dir()).glob("*.jpg"))
    if not paths:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        paths = [
            data / n for n in ("motorcycle_left.png", "coffee.png", "astronaut.png") if (data / n).exists()
        ]
    out = []
    for p in paths[:4]:
        img = cv2.imread(str(p))
        if img is None:
            continue
        img = cv2.resize(img, (320, int(320 * img.shape[0] / img.shape[1])))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])
        if ok:
            out.append(buf.tobytes())
    return out


def write_check(
    session: Session,
    camera_id: str,
    at: dt.datetime,
    *,
    ok: bool = True,
    error: str | None = None,
    faults: tuple[str, ...] = (),
    maintenance: bool = False,
    jpeg: bytes | None = None,
    thresholds: Thresholds = Thresholds(),
) -> None:
    """One check through the service's own recording path (state machine, transitions, outages)."""
    check = Check(
        camera_id=camera_id,
        at=at,
        ok=ok,
        error=error,
        detail=None if ok else f"{error} (sample data)",
        total_ms=850.0 if ok else 5000.0,
        open_ms=420.0 if ok else None,
        frames=8 if ok else 0,
        width=640 if ok else None,
        height=360 if ok else None,
        fps=5.0 if ok else None,
        faults=",".join(faults) or None,
    )
    obs = Observation(
        at=at, ok=ok, error=error, detail=check.detail, faults=tuple(faults), in_maintenance=maintenance
    )
    record_check(session, check, obs, thresholds, thumbnail_jpeg=jpeg if ok else None)


def fill(
    engine: Engine,
    cameras: int = 240,
    *,
    now: dt.datetime,
    seed: int = 1,
    down: float = 0.05,
    degraded: float = 0.04,
    maintenance: float = 0.015,
    unknown: float = 0.02,
    with_pictures: bool = True,
) -> Sample:
    """Import ``cameras`` cameras and give them states through real checks. Deterministic for a seed."""
    if cameras < 1:
        raise ValueError("cameras must be >= 1")
    text, passwords = fleet_csv(cameras, seed)
    rng = random.Random(seed)
    jpegs = pictures() if with_pictures else []
    sample = Sample(passwords=passwords)
    with Session(engine) as s:
        import_cameras(s, text, "csv")
        s.commit()
        from sqlmodel import select

        from camsvc.models import Camera

        ids = sorted(s.exec(select(Camera.id)).all())
    plan: list[HealthState] = []
    for state, frac in (
        (HealthState.DOWN, down),
        (HealthState.DEGRADED, degraded),
        (HealthState.MAINTENANCE, maintenance),
        (HealthState.UNKNOWN, unknown),
    ):
        plan += [state] * max(1 if frac > 0 else 0, round(frac * len(ids)))
    plan += [HealthState.UP] * (len(ids) - len(plan))
    rng.shuffle(plan)
    with Session(engine) as s:
        for n, (cid, state) in enumerate(zip(ids, plan, strict=True)):
            sample.states[cid] = state
            if state is HealthState.UNKNOWN:
                continue
            jpeg = jpegs[n % len(jpegs)] if jpegs and n % 3 != 2 else None
            first = now - dt.timedelta(days=3, seconds=rng.randint(0, 3600))
            write_check(s, cid, first, jpeg=jpeg)
            if jpeg:
                st = get_status(s, cid)
                st.reference_jpeg, st.reference_set_at = jpeg, first
            ago = dt.timedelta(seconds=rng.randint(300, 2 * 86400))
            t = now - ago
            if state is HealthState.UP:
                write_check(s, cid, now - dt.timedelta(seconds=rng.randint(5, 60)), jpeg=jpeg)
                sample.since[cid] = first
            elif state is HealthState.DOWN:
                err = rng.choice(DOWN_CAUSES)
                write_check(s, cid, t, ok=False, error=err)
                write_check(s, cid, t + dt.timedelta(seconds=10), ok=False, error=err)
                sample.since[cid] = t + dt.timedelta(seconds=10)
                sample.causes[cid] = err
            elif state is HealthState.DEGRADED:
                fault = rng.choice(PICTURE_FAULTS)
                write_check(s, cid, t, faults=(fault,), jpeg=jpeg)
                write_check(s, cid, t + dt.timedelta(seconds=60), faults=(fault,), jpeg=jpeg)
                sample.since[cid] = t + dt.timedelta(seconds=60)
                sample.causes[cid] = fault
            elif state is HealthState.MAINTENANCE:
                write_check(s, cid, t, maintenance=True)
                sample.since[cid] = t
            # the service checks every camera at its interval: the newest check is recent, with the same
            # outcome (states, their start and causes unchanged), so nothing shows "stale"
            last = now - dt.timedelta(seconds=2)  # (no rng draw: the seeds' fleets stay the same)
            if state is HealthState.DOWN:
                write_check(s, cid, last, ok=False, error=sample.causes[cid])
            elif state is HealthState.DEGRADED:
                write_check(s, cid, last, faults=(sample.causes[cid],))
            elif state is HealthState.MAINTENANCE:
                write_check(s, cid, last, maintenance=True)
            if n % 500 == 499:
                s.commit()
        s.commit()
    return sample


def main() -> None:  # pragma: no cover - a developer convenience
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True, help="Settings.data_dir to fill (must be new)")
    ap.add_argument("--cameras", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from camsvc.config import load_settings
    from camsvc.db import make_engine, upgrade

    settings = load_settings(data_dir=args.data_dir)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    sample = fill(engine, args.cameras, now=dt.datetime.now(dt.UTC), seed=args.seed)
    counts: dict[str, int] = {}
    for st in sample.states.values():
        counts[st.value] = counts.get(st.value, 0) + 1
    print(f"{len(sample.states)} cameras in {settings.db_url}: {counts}")


if __name__ == "__main__":  # pragma: no cover
    main()
