"""/api/cameras: the registry, its import/export, and each camera's checks, outages and pictures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from pydantic import BaseModel
from sqlmodel import col, select

from camsvc import cameras as registry
from camsvc.api.deps import SessionDep
from camsvc.auth import audit_http, views
from camsvc.auth.http import CurrentSubject, optional_subject, require
from camsvc.auth.roles import Action, Subject
from camsvc.enums import CameraKind, HealthState
from camsvc.models import (
    CameraCreate,
    CameraPublic,
    CameraStatus,
    CameraUpdate,
    Check,
    Outage,
    Thumbnail,
    Transition,
)
from camsvc.schemas import check_dict, outage_dict, transition_dict

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


class CameraPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CameraPublic]


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int


def _changed(request: Request) -> None:
    """Tell the running scheduler that the registry changed (takes effect without a restart)."""
    rt = getattr(request.app.state, "runtime", None)
    if rt is not None:
        rt.registry_changed()


@router.get("", response_model=CameraPage)
def list_cameras(
    session: SessionDep,
    subject: CurrentSubject,
    kind: CameraKind | None = None,
    hamlet: str | None = None,
    state: HealthState | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search id, name, address, owner, hamlet")
    ] = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CameraPage:
    total, items = registry.list_cameras(
        session,
        kind=kind,
        hamlet=hamlet,
        state=state,
        q=q,
        enabled=enabled,
        limit=limit,
        offset=offset,
        scope=views.scope_names(subject),
    )
    return CameraPage(
        total=total, limit=limit, offset=offset, items=[views.visible(subject, c) for c in items]
    )


@router.post("", response_model=CameraPublic, status_code=201, dependencies=[require(Action.CAMERAS)])
def create_camera(body: CameraCreate, session: SessionDep, request: Request) -> CameraPublic:
    """A new camera; the id of a deleted camera restores it (its history with it) with these fields."""
    if registry.is_deleted(session, body.id):
        audit_http.note(request, restored=True)
    try:
        registry.create_camera(session, body)
    except registry.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    _changed(request)
    return registry.get_public(session, body.id)


@router.get("/export", dependencies=[require(Action.CAMERAS)])
def export_cameras(
    session: SessionDep, format: Annotated[str, Query(pattern="^(csv|yaml)$")] = "csv"
) -> Response:
    """Export the registry (never with credentials over the API)."""
    text = registry.export_cameras(session, format)
    media = "text/csv" if format == "csv" else "application/yaml"
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cameras.{format}"'},
    )


@router.post("/import", response_model=ImportResult, dependencies=[require(Action.CAMERAS)])
async def import_cameras(
    session: SessionDep,
    request: Request,
    file: Annotated[UploadFile, File(description="CSV or YAML fleet file")],
    format: Annotated[str | None, Query(pattern="^(csv|yaml|yml)$")] = None,
) -> ImportResult:
    """All-or-nothing: a file with bad rows changes nothing; the 422 body lists every bad row and column."""
    content = await file.read(20 * 1024 * 1024 + 1)
    if len(content) > 20 * 1024 * 1024:
        raise HTTPException(413, "file larger than 20 MB")
    fmt = format or (file.filename or "").rsplit(".", 1)[-1].lower()
    try:
        report = registry.import_cameras(session, content, fmt)
    except registry.ImportFailed as exc:
        session.rollback()
        raise HTTPException(
            422,
            {
                "message": f"import rejected, nothing changed: {len(exc.errors)} error(s)",
                "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in exc.errors],
            },
        ) from None
    session.commit()
    _changed(request)
    return ImportResult(created=report.created, updated=report.updated, unchanged=report.unchanged)


@router.get("/{camera_id}", response_model=CameraPublic)
def get_camera(camera_id: str, session: SessionDep, subject: CurrentSubject) -> CameraPublic:
    views.camera_or_404(session, subject, camera_id)
    try:
        return views.visible(subject, registry.get_public(session, camera_id))
    except registry.NotFound:
        raise HTTPException(404, f"no camera {camera_id!r}") from None


@router.patch("/{camera_id}", response_model=CameraPublic, dependencies=[require(Action.CAMERAS)])
def update_camera(camera_id: str, body: CameraUpdate, session: SessionDep, request: Request) -> CameraPublic:
    before = registry.snapshot(session, camera_id)
    try:
        registry.update_camera(session, camera_id, body)
        session.flush()
        audit_http.note(
            request, changed=registry.changed_fields(before, registry.snapshot(session, camera_id))
        )
    except registry.NotFound:
        raise HTTPException(404, f"no camera {camera_id!r}") from None
    except registry.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    _changed(request)
    return registry.get_public(session, camera_id)


@router.put("/{camera_id}", response_model=CameraPublic, dependencies=[require(Action.CAMERAS)])
def replace_camera(camera_id: str, body: CameraUpdate, session: SessionDep, request: Request) -> CameraPublic:
    return update_camera(camera_id, body, session, request)


@router.delete("/{camera_id}", status_code=204, dependencies=[require(Action.CAMERAS)])
def delete_camera(camera_id: str, session: SessionDep, request: Request) -> Response:
    """Soft delete: the camera is disabled and hidden, its outages and transitions stay (and the audit row).
    Creating a camera with this id later restores it."""
    try:
        registry.delete_camera(session, camera_id)
    except registry.NotFound:
        raise HTTPException(404, f"no camera {camera_id!r}") from None
    session.commit()
    _changed(request)
    return Response(status_code=204)


def _require(session: SessionDep, camera_id: str, subject: Subject | None = None) -> None:
    views.camera_or_404(session, subject, camera_id)


def _latest(
    session: SessionDep, subject: Subject, camera_id: str, table: Any, newest: Any, limit: int
) -> list[Any]:
    """The camera's rows of ``table``, newest first by ``newest`` (404 for an unknown or out-of-scope camera)."""
    _require(session, camera_id, subject)
    return list(
        session.exec(
            select(table).where(table.camera_id == camera_id).order_by(col(newest).desc()).limit(limit)
        ).all()
    )


@router.get("/{camera_id}/checks")
def camera_checks(
    camera_id: str,
    session: SessionDep,
    subject: CurrentSubject,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    return [check_dict(r) for r in _latest(session, subject, camera_id, Check, Check.at, limit)]


@router.get("/{camera_id}/transitions")
def camera_transitions(
    camera_id: str,
    session: SessionDep,
    subject: CurrentSubject,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Every state change of the camera, newest first (the audit trail)."""
    return [
        transition_dict(r) for r in _latest(session, subject, camera_id, Transition, Transition.id, limit)
    ]


@router.get("/{camera_id}/outages")
def camera_outages(
    camera_id: str,
    session: SessionDep,
    subject: CurrentSubject,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    return [outage_dict(o) for o in _latest(session, subject, camera_id, Outage, Outage.started_at, limit)]


def _picture_viewed(session: SessionDep, request: Request, camera_id: str, which: str) -> None:
    """A household camera's picture was shown: that is in the audit trail (who looked into whose home)."""
    cam = views.picture_or_403(session, optional_subject(request), camera_id)
    if cam.kind == CameraKind.HOUSEHOLD:
        audit_http.record(session, request, "picture.view", f"camera:{camera_id}", {"picture": which})


@router.get("/{camera_id}/thumbnail.jpg")
def camera_thumbnail(camera_id: str, session: SessionDep, request: Request) -> Response:
    """The latest frame seen (small JPEG)."""
    views.picture_or_403(session, optional_subject(request), camera_id)
    t = session.exec(
        select(Thumbnail).where(Thumbnail.camera_id == camera_id, Thumbnail.at_transition == False)  # noqa: E712
    ).first()
    if t is None:
        raise HTTPException(404, "no picture yet")
    _picture_viewed(session, request, camera_id, "latest")
    return Response(t.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


@router.get("/{camera_id}/thumbnails")
def camera_thumbnail_history(
    camera_id: str, session: SessionDep, subject: CurrentSubject
) -> list[dict[str, Any]]:
    """Pictures kept at state changes: what the camera saw when it went wrong."""
    views.picture_or_403(session, subject, camera_id)
    rows = session.exec(
        select(Thumbnail.id, Thumbnail.at, Thumbnail.state)
        .where(Thumbnail.camera_id == camera_id, Thumbnail.at_transition == True)  # noqa: E712
        .order_by(col(Thumbnail.at).desc())
    ).all()
    return [
        {"id": i, "at": at, "state": st, "url": f"/api/cameras/{camera_id}/thumbnails/{i}.jpg"}
        for i, at, st in rows
    ]


@router.get("/{camera_id}/thumbnails/{thumb_id}.jpg")
def camera_thumbnail_at(camera_id: str, thumb_id: int, session: SessionDep, request: Request) -> Response:
    views.picture_or_403(session, optional_subject(request), camera_id)
    t = session.get(Thumbnail, thumb_id)
    if t is None or t.camera_id != camera_id:
        raise HTTPException(404, "no such picture")
    _picture_viewed(session, request, camera_id, f"thumbnail:{thumb_id}")
    return Response(t.jpeg, media_type="image/jpeg")


@router.get("/{camera_id}/reference.jpg")
def camera_reference(camera_id: str, session: SessionDep, request: Request) -> Response:
    """The reference view the camera is compared with (for `turned`)."""
    from camsvc.picture import store as picture_store

    views.picture_or_403(session, optional_subject(request), camera_id)
    st = session.get(CameraStatus, camera_id)
    jpeg = picture_store.reference_jpeg(st) if st else None
    if not jpeg:
        raise HTTPException(404, "no reference view yet")
    _picture_viewed(session, request, camera_id, "reference")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-cache"})


@router.post("/{camera_id}/reference/reset", status_code=202, dependencies=[require(Action.REFERENCE_RESET)])
def reset_reference(camera_id: str, session: SessionDep, subject: CurrentSubject) -> dict[str, str]:
    """After a deliberate change of view: forget the reference; the next good checks set a new one."""
    from camsvc.picture import store as picture_store

    _require(session, camera_id, subject)
    st = session.get(CameraStatus, camera_id)
    if st is not None:
        picture_store.reset_reference(st)
        session.add(st)
    return {"status": "reference will be re-learned from the next good checks"}
