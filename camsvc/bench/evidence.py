"""The evidence phase of ``camsvc bench record``: export what was just recorded and verify the package.

Registered in :data:`camsvc.bench.record.AFTER_RECORDING`. On the last stream's real recordings: one case
with a clip per camera (3, or fewer if fewer were recorded) over the whole measured window; the clips are
materialised from the segments (stream copy) and the package written and signed (``jobs.run_export``),
then ``verify_package`` reads it back. Reports the seconds of each step, the minutes of footage exported,
the time projected to the issue's 10 minutes from 3 cameras (stream copy scales with bytes), and verify's
MB/s. Run ``camsvc bench record --seconds 600`` for a measured (not projected) 10 minutes.
"""

from __future__ import annotations

import time
from typing import Any

from camsvc.bench.record import AFTER_RECORDING, RecordRun

CAMERAS = 3


def export_and_verify(run: RecordRun) -> dict[str, Any]:
    from camsvc.cases import clips, jobs, signing
    from camsvc.cases.models import Case, CaseClip, ExportJob
    from camsvc.cases.verify import verify_package
    from camsvc.db import session_scope

    cams = run.cameras[:CAMERAS]
    start, end = run.window
    with session_scope(run.engine) as s:
        case = Case(number=f"BENCH/{int(time.time())}", title="bench record", created_by="bench")
        s.add(case)
        s.flush()
        rows = [
            CaseClip(case_id=case.id or 0, camera_id=c, start=start, end=end, added_by="bench") for c in cams
        ]
        s.add_all(rows)
        s.flush()
        ids = [int(r.id or 0) for r in rows]
        job = ExportJob(case_id=case.id or 0, requested_by="bench")
        s.add(job)
        s.flush()
        job_id = int(job.id or 0)
    signing.load_or_create(run.settings.signing_key_path)  # the key is made once per service, not per export
    t = time.monotonic()
    statuses = [clips.materialise(run.engine, run.settings, i) for i in ids]
    clips_s = time.monotonic() - t
    t = time.monotonic()
    done = jobs.run_export(run.engine, run.settings, job_id)
    package_s = time.monotonic() - t
    if done.status != "done" or not done.path:
        return {"error": done.error or done.status, "clips": statuses}
    pkg = run.settings.cases_dir / done.path
    size = pkg.stat().st_size
    t = time.monotonic()
    report = verify_package(pkg, signing.load_or_create(run.settings.signing_key_path).public_key)
    verify_s = time.monotonic() - t
    minutes = (end - start).total_seconds() / 60
    total = clips_s + package_s
    return {
        "cameras": len(cams),
        "clips": statuses,
        "minutes": round(minutes, 2),
        "package_mb": round(size / 1e6, 1),
        "clips_s": round(clips_s, 2),
        "package_s": round(package_s, 2),
        "export_s": round(total, 2),
        "projected_10min_3cam_s": round(total * (10 / minutes) * (CAMERAS / len(cams)), 2)
        if minutes
        else None,
        "verify_ok": report.ok,
        "verify_s": round(verify_s, 2),
        "verify_mb_s": round(size / 1e6 / verify_s, 1) if verify_s > 0 else None,
    }


AFTER_RECORDING["export"] = export_and_verify
