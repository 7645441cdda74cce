"""What a signed-in caller may see of cameras: one place for hamlet scope, owner contact and pictures.

Routes call these instead of deciding per route: ``scope_names`` for queries, ``camera_or_404`` for one
camera (out of scope = 404, so ids do not leak), ``visible`` for camera JSON, ``picture_or_403``.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlmodel import Session

from camsvc.auth.roles import Subject, in_scope, may_see_owner_contact, may_see_picture
from camsvc.models import Camera

OWNER_FIELDS = ("owner_name", "owner_phone")


def scope_names(subject: Subject | None) -> list[str] | None:
    """The hamlets a query must be limited to, or None for every hamlet."""
    return list(subject.hamlets) if subject is not None and subject.hamlets else None


def scope_condition(session: Session, subject: Subject | None) -> Any:
    """A SQL condition on ``Camera.hamlet`` limiting a query to the caller's hamlets, or None."""
    from sqlmodel import col

    from camsvc.cameras import scope_hamlets

    names = scope_names(subject)
    return None if names is None else col(Camera.hamlet).in_(scope_hamlets(session, names))


def camera_or_404(session: Session, subject: Subject | None, camera_id: str) -> Camera:
    cam = session.get(Camera, camera_id)
    if cam is None or getattr(cam, "deleted_at", None) is not None:
        raise HTTPException(404, f"no camera {camera_id!r}")
    if subject is not None and not in_scope(subject.hamlets, cam.hamlet):
        raise HTTPException(404, f"no camera {camera_id!r}")
    return cam


def picture_or_403(session: Session, subject: Subject | None, camera_id: str) -> Camera:
    """The camera, when the caller may see its pictures (roadside: technician+, household with the owner's
    consent: officer+, without: admin only; always within the caller's hamlets)."""
    cam = camera_or_404(session, subject, camera_id)
    consent = bool(getattr(cam, "owner_consent", False))
    if subject is None or not may_see_picture(subject, cam.kind, cam.hamlet, consent):
        raise HTTPException(403, "your role may not see this camera's pictures")
    return cam


def visible(subject: Subject | None, camera: Any) -> Any:
    """A camera's public shape (model or dict) without the owner's name and phone for callers who may not
    see them (viewers; anyone out of the camera's hamlet)."""
    hamlet = camera.get("hamlet") if isinstance(camera, dict) else getattr(camera, "hamlet", None)
    if subject is not None and may_see_owner_contact(subject, hamlet):
        return camera
    if isinstance(camera, dict):
        return {**camera, **{k: "" for k in OWNER_FIELDS if k in camera}}
    return camera.model_copy(update={k: "" for k in OWNER_FIELDS if hasattr(camera, k)})
