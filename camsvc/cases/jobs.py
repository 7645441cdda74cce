"""Background work for cases, in the process that received the request (the API process): a small thread pool
(``cases.export_workers``) materialising clips after they are added and building export packages.

``JobRunner.start`` recovers from a previous process: an export job found ``running`` or ``queued`` is marked
failed ``interrupted`` (its partial package is deleted); clips left ``pending``/``fetching`` are queued again.
``run_export`` is also what ``camsvc cases export`` runs in the foreground.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.cases import clips as clipmod
from camsvc.cases import package, service, signing
from camsvc.cases.models import Case, CaseClip, ExportJob
from camsvc.config import Settings
from camsvc.models import Camera, utcnow

log = logging.getLogger(__name__)

UNFINISHED = ("pending", "fetching")
PROGRESS_EVERY_S = 0.5


def _update(engine: Engine, job_id: int, **values: Any) -> None:
    service.update_row(engine, ExportJob, job_id, **values)


def clip_entry(clip: CaseClip, cam: Camera | None) -> dict[str, Any]:
    """The manifest entry of one clip (without file/sha256/size, which the package fills in)."""
    segments, url = service.clip_sources(clip)
    camera: dict[str, Any] = {"id": clip.camera_id}
    if cam is not None:
        camera.update(
            name=cam.name,
            kind=str(getattr(cam.kind, "value", cam.kind)),
            hamlet=cam.hamlet,
            address=cam.address,
            latitude=cam.latitude,
            longitude=cam.longitude,
        )
    else:
        camera.update(name=None, kind=None, hamlet=None, address=None, latitude=None, longitude=None)
    actual = (
        {"start": service.iso(clip.actual_start), "end": service.iso(clip.actual_end)}
        if clip.actual_start and clip.actual_end
        else None
    )
    entry: dict[str, Any] = {
        "clip_id": clip.id,
        "camera": camera,
        "requested": {"start": service.iso(clip.start), "end": service.iso(clip.end)},
        "actual": actual,
        "source": clip.source,
        "status": clip.status,
        "detail": clip.detail,
        "added_by": clip.added_by,
        "segments": segments,
        "playback_url": url,
        "gaps": [dict(g) for g in (service.clip_json(clip, None)["gaps"] or [])],
    }
    if clip.source == "device":
        entry["time_basis"] = "device playback: times anchored at the requested start (the device's clock)"
    else:
        entry["time_basis"] = "recorded segments: packet time = segment start (UTC) + stream timestamp"
    return entry


def run_export(
    engine: Engine,
    settings: Settings,
    job_id: int,
    *,
    stop: Callable[[], bool] = lambda: False,
    wait_s: float | None = None,
) -> ExportJob:
    """Build the package of the job's case: wait (bounded) for unfinished clips, then write and sign it."""
    _update(engine, job_id, status="running", started_at=utcnow(), step="starting", progress=0.0)
    try:
        with Session(engine) as s:
            job = s.get(ExportJob, job_id)
            assert job is not None
            case_id = job.case_id
            user = job.requested_by
        limit = time.monotonic() + (wait_s if wait_s is not None else settings.cases.max_range_s + 120)
        while True:
            with Session(engine) as s:
                waiting = s.exec(
                    select(CaseClip.id).where(
                        CaseClip.case_id == case_id, col(CaseClip.status).in_(UNFINISHED)
                    )
                ).all()
            if not waiting:
                break
            if stop():
                raise RuntimeError("interrupted")
            if time.monotonic() > limit:
                raise RuntimeError(f"{len(waiting)} clip(s) still not materialised")
            _update(engine, job_id, step=f"waiting for {len(waiting)} clip(s)")
            time.sleep(1.0)
        with Session(engine) as s:
            case = s.get(Case, case_id)
            assert case is not None
            rows = service.case_clips(s, case_id)
            case_info = {
                "id": case.id,
                "number": case.number,
                "title": case.title,
                "reason": case.reason,
                "status": case.status,
                "created_by": case.created_by,
                "created_at": service.iso(case.created_at),
            }
        items = []
        for clip, cam in rows:
            path = settings.cases_dir / clip.path if clip.status == "ready" and clip.path else None
            if path is not None and not path.exists():
                raise RuntimeError(f"clip {clip.id} ({clip.camera_id}): its file {clip.path} is missing")
            items.append(package.PackageClip(clip_entry(clip, cam), path, clip.sha256 if path else None))
        key = signing.load_or_create(settings.signing_key_path)
        rel = f"{case_id}/export-{job_id}.zip"
        last = [0.0]

        def progress(frac: float, step: str) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or frac >= 0.9:
                last[0] = now
                _update(engine, job_id, progress=round(frac, 3), step=step[:200])

        res = package.write_package(
            settings.cases_dir / rel,
            case=case_info,
            clips=items,
            requested_by=user,
            exported_at=utcnow(),
            key=key,
            progress=progress,
        )
        _update(
            engine,
            job_id,
            status="done",
            progress=1.0,
            step="done",
            path=rel,
            size=res.size,
            sha256=res.sha256,
            finished_at=utcnow(),
        )
    except Exception as exc:  # the job records why; the runner goes on
        log.exception("export job %s failed", job_id)
        _update(engine, job_id, status="failed", error=str(exc)[:2000], step="failed", finished_at=utcnow())
    with Session(engine) as s:
        done = s.get(ExportJob, job_id)
        assert done is not None
        return done


class JobRunner:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.cases.export_workers, thread_name_prefix="cases")
        self._stop = threading.Event()
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def _submit(self, key: str, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run *fn* once per *key* at a time (a clip queued again while it runs is not run twice)."""
        with self._lock:
            running = self._futures.get(key)
            if running is not None and not running.done():
                return running
            fut = self._pool.submit(fn, *args)
            self._futures[key] = fut
        fut.add_done_callback(lambda f: self._done(key, f))
        return fut

    def _done(self, key: str, fut: Future[Any]) -> None:
        with self._lock:
            if self._futures.get(key) is fut:
                del self._futures[key]
        if not fut.cancelled() and fut.exception() is not None:
            log.error("case job failed: %s", fut.exception())

    def start(self) -> JobRunner:
        """Recover what a previous process left, then queue the unfinished clips again."""
        with Session(self.engine) as s:
            for job in s.exec(
                select(ExportJob).where(col(ExportJob.status).in_(("running", "queued")))
            ).all():
                job.status, job.error, job.step, job.finished_at = "failed", "interrupted", "failed", utcnow()
                if job.path:
                    Path(self.settings.cases_dir / job.path).unlink(missing_ok=True)
                s.add(job)
            pending = s.exec(select(CaseClip.id).where(col(CaseClip.status).in_(UNFINISHED))).all()
            s.commit()
        for cid in pending:
            self.submit_clip(int(cid or 0))
        return self

    def submit_clip(self, clip_id: int) -> Future[Any]:
        return self._submit(
            f"clip:{clip_id}", clipmod.materialise, self.engine, self.settings, clip_id, self._stop.is_set
        )

    def submit_export(self, job_id: int) -> Future[Any]:
        return self._submit(
            f"export:{job_id}", lambda: run_export(self.engine, self.settings, job_id, stop=self._stop.is_set)
        )

    def idle(self) -> bool:
        with self._lock:
            return not self._futures

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)


_runners: dict[int, JobRunner] = {}
_runners_lock = threading.Lock()


def runner_for(app_state: Any) -> JobRunner:
    """The app's runner (``app.state.case_jobs``), made and started (recovery) on first use. The lead may start
    it in the app's lifespan instead, and stop it there (``runner.stop()``)."""
    with _runners_lock:
        r = getattr(app_state, "case_jobs", None)
        if r is None:
            r = JobRunner(app_state.engine, app_state.settings).start()
            app_state.case_jobs = r
        return r
