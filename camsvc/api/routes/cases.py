"""Cases, their clips and export jobs, the evidence package and the signing key (issue 10).

Officers and admins (``Action.CASES`` / ``CLIPS``), ``EVIDENCE_RELEASE`` (admin) to release a closed case's
hold. Cameras are added within the caller's hamlet scope. POSTs are audited by the middleware (with the job id
noted for exports); a package download writes its own audit row.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import audit_http, views
from camsvc.auth.http import CurrentSubject, require
from camsvc.auth.roles import Action, may_see_picture
from camsvc.cases import jobs, service, signing
from camsvc.cases.service import CaseConflict, CaseInputError
from camsvc.models import Camera

router = APIRouter(prefix="/api", tags=["cases"])


class CaseIn(BaseModel):
    number: str = Field(min_length=1, max_length=100, description="Case number, e.g. 2026/117")
    title: str = Field("", max_length=300)
    reason: str = Field("", max_length=2000)


class Near(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=50_000)


class ClipsIn(BaseModel):
    camera_ids: list[str] | None = None
    near: Near | None = None
    start: str = Field(description="UTC, ISO-8601 (2026-12-01T14:10:00Z)")
    end: str = Field(description="UTC, ISO-8601")


def _domain(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except CaseInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except CaseConflict as exc:
        raise HTTPException(409, str(exc)) from None


def _case(session: SessionDep, subject: Any, case_id: int) -> Any:
    """The case, when the caller's hamlet scope covers it (else 404, like a camera out of scope)."""
    case = service.get_case(session, case_id)
    if not service.case_in_scope(session, case, views.scope_names(subject), subject.username):
        raise HTTPException(404, f"no case {case_id}")
    return case


@router.get("/cases", dependencies=[require(Action.CASES)])
def list_cases(request: Request, session: SessionDep, subject: CurrentSubject) -> list[dict[str, Any]]:
    jobs.runner_for(request.app.state)  # recovery of interrupted jobs happens on first use
    return service.list_cases(session, views.scope_names(subject), subject.username)


@router.post("/cases", status_code=201, dependencies=[require(Action.CASES)])
def create_case(
    body: CaseIn, request: Request, session: SessionDep, subject: CurrentSubject
) -> dict[str, Any]:
    case = _domain(
        service.create_case,
        session,
        number=body.number,
        title=body.title,
        reason=body.reason,
        user=subject.username,
    )
    audit_http.note(request, case_id=case.id, number=case.number)
    return service.case_summary(case, 0)


@router.get("/cases/{case_id}", dependencies=[require(Action.CASES)])
def get_case(case_id: int, session: SessionDep, subject: CurrentSubject) -> dict[str, Any]:
    return service.case_detail(session, _case(session, subject, case_id))


@router.post("/cases/{case_id}/clips", status_code=202, dependencies=[require(Action.CLIPS)])
def add_clips(
    case_id: int,
    body: ClipsIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    subject: CurrentSubject,
) -> dict[str, Any]:
    case = _case(session, subject, case_id)
    runner = jobs.runner_for(request.app.state)  # before the rows exist: its recovery must not queue them too
    skipped: list[dict[str, str]] = []
    added = _domain(
        service.add_clips,
        session,
        settings,
        case,
        start=body.start,
        end=body.end,
        user=subject.username,
        camera_ids=body.camera_ids,
        near=body.near.model_dump() if body.near else None,
        scope=views.scope_condition(session, subject),
        # footage is pictures: the same rule as viewing them (household needs the owner's consent, or an admin)
        camera_check=lambda cid: views.picture_or_403(session, subject, cid),
        may_view=lambda cam: may_see_picture(subject, cam.kind, cam.hamlet, bool(cam.owner_consent)),
        skipped=skipped,
    )
    session.commit()  # the background job reads the rows
    for clip in added:
        runner.submit_clip(int(clip.id or 0))
    audit_http.note(request, clips=[c.id for c in added], cameras=[c.camera_id for c in added])
    cams = {c.camera_id: session.get(Camera, c.camera_id) for c in added}
    return {
        "clips": [service.clip_json(c, getattr(cams[c.camera_id], "name", None)) for c in added],
        "skipped": skipped,
    }


@router.post("/cases/{case_id}/export", status_code=202, dependencies=[require(Action.CLIPS)])
def export_case(
    case_id: int, request: Request, session: SessionDep, subject: CurrentSubject
) -> dict[str, Any]:
    case = _case(session, subject, case_id)
    runner = jobs.runner_for(request.app.state)  # before the job exists: recovery fails 'queued' jobs
    job = _domain(service.new_export, session, case, subject.username)
    session.commit()
    runner.submit_export(int(job.id or 0))
    audit_http.note(request, job_id=job.id, number=case.number)
    return service.export_json(job)


@router.get("/cases/{case_id}/exports/{job_id}", dependencies=[require(Action.CLIPS)])
def get_export(case_id: int, job_id: int, session: SessionDep, subject: CurrentSubject) -> dict[str, Any]:
    _case(session, subject, case_id)
    return service.export_json(service.get_export(session, case_id, job_id))


@router.get("/cases/{case_id}/exports/{job_id}/package", dependencies=[require(Action.CLIPS)])
def download_package(
    case_id: int,
    job_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    subject: CurrentSubject,
) -> FileResponse:
    case = _case(session, subject, case_id)
    job = service.get_export(session, case_id, job_id)
    if job.status != "done" or not job.path:
        raise HTTPException(409, f"export {job_id} is {job.status}: no package to download yet")
    path = settings.cases_dir / job.path
    if not path.exists():
        raise HTTPException(410, f"the package of export {job_id} is no longer on disk")
    audit_http.record(
        session,
        request,
        "case.package_download",
        f"case:{case_id} export:{job_id}",
        {"number": case.number, "sha256": job.sha256, "size": job.size},
    )
    session.commit()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", case.number).strip("-") or str(case_id)
    return FileResponse(path, media_type="application/zip", filename=f"case-{safe}-export-{job_id}.zip")


@router.post("/cases/{case_id}/close", dependencies=[require(Action.CASES)])
def close_case(case_id: int, session: SessionDep, subject: CurrentSubject) -> dict[str, Any]:
    case = _domain(service.close_case, session, _case(session, subject, case_id), subject.username)
    return service.case_detail(session, case)


@router.post("/cases/{case_id}/release", dependencies=[require(Action.EVIDENCE_RELEASE)])
def release_case(case_id: int, session: SessionDep, subject: CurrentSubject) -> dict[str, Any]:
    case = _domain(service.release_hold, session, _case(session, subject, case_id), subject.username)
    return service.case_detail(session, case)


@router.get("/evidence/key")
def evidence_key(settings: SettingsDep) -> dict[str, str]:
    """The service's public signing key and its fingerprint (any signed-in user: it is public)."""
    info = signing.public_info(settings.signing_key_path)
    return {**info, "fingerprint_hex": info["fingerprint"].replace(" ", "")}
