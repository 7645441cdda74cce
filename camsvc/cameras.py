"""The camera registry: create, update, delete, list, and bulk import/export (CSV and YAML).

Import is all-or-nothing: every row is validated first and every bad row is reported by number and column;
only a clean file is applied, in one transaction, as an upsert by id (so re-importing is idempotent).
Credentials are stored apart from URLs (``CameraSecret``); a URL that carries ``user:pass@`` or credential
query parameters (``?usr=..&pwd=..``) has them split out. Credentials follow the host: re-pointing a URL to
another host or port drops the stored credentials unless new ones come in the same request or row. Every
URL's host must be on an allowed network (:mod:`camsvc.netpolicy`). Exports leave credentials out unless
``include_secrets`` is asked for explicitly (CLI flag only); CSV cells are safe against formula injection
(:mod:`camsvc.csvsafe`) and the import undoes that escaping, so an export re-imports unchanged.

Deleting is a soft delete (``deleted_at``): the camera is disabled (its checks stop), hidden from lists,
exports and lookups, and its stored credentials are dropped; its checks, outages and transitions stay, so
nothing that happened can be erased through the API. Creating (or importing) a camera with the id of a
deleted one restores it: the same row, its history with it, the fields of the new request (credentials must
be given again).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import ValidationError
from sqlmodel import Session, col, func, or_, select

from camsvc import netpolicy
from camsvc.csvsafe import safe_dict, unescape_cell
from camsvc.models import (
    Camera,
    CameraCreate,
    CameraKind,
    CameraPublic,
    CameraSecret,
    CameraStatus,
    CameraUpdate,
    HealthState,
    check_interval,
    check_picture_thresholds,
    check_snapshot_url,
    utcnow,
)
from camsvc.safeyaml import safe_load
from camsvc.urls import InvalidURL, check_stream_url, endpoint, split_credentials

log = logging.getLogger(__name__)

COLUMNS = [
    "id",
    "name",
    "kind",
    "hamlet",
    "address",
    "latitude",
    "longitude",
    "owner_name",
    "owner_phone",
    "owner_consent",
    "vendor",
    "model",
    "main_url",
    "sub_url",
    "snapshot_url",
    "username",
    "password",
    "check_interval_s",
    "enabled",
    "notes",
    "installed_on",
    "upstream",
    "recording_mode",
    "recording_stream",
    "retention_days",
]
# Read and written too, after COLUMNS (which the simulated fleet's file format follows): a JSON object (CSV)
# or a mapping (YAML) of camsvc.picture.judge.Thresholds keys; ``site`` (issue 12): the network the camera is
# reached from (only probe nodes of that site check it). A file without the ``site`` column keeps each
# existing camera's site (files from before sites import unchanged); an empty cell clears it.
EXTRA_COLUMNS = ["picture_thresholds", "site"]
ALL_COLUMNS = COLUMNS + EXTRA_COLUMNS
URL_FIELDS = ("main_url", "sub_url", "snapshot_url")
REQUIRED = ("id", "kind")
_KIND_ALIASES = {
    "roadside": "roadside",
    "road": "roadside",
    "duong": "roadside",
    "ven duong": "roadside",
    "household": "household",
    "home": "household",
    "ho gia dinh": "household",
    "gia dinh": "household",
}


def fold(text: str) -> str:
    """Accent- and case-insensitive key: "Bắc Chiến Thắng" -> "bac chien thang"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    nfkd = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in nfkd if not unicodedata.combining(c)).lower().split())


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class TargetRefused(Conflict):
    """A stream URL's host is not on an allowed network (the message names the host and why)."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class ImportFailed(ValueError):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors[:200])
        more = f"\n  ... and {len(errors) - 200} more" if len(errors) > 200 else ""
        super().__init__(f"import rejected, nothing changed: {len(errors)} error(s)\n{lines}{more}")


@dataclass
class ImportReport:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# ------------------------------------------------------------------------------------------- CRUD
def to_public(cam: Camera, status: CameraStatus | None, has_secret: bool) -> CameraPublic:
    data = cam.model_dump()
    return CameraPublic(
        **data,
        has_credentials=has_secret,
        state=status.state if status else HealthState.UNKNOWN,
        state_since=status.since if status else None,
        cause=status.cause if status else None,
        last_check_at=status.last_check_at if status else None,
    )


def not_deleted() -> Any:
    """The WHERE condition of every query over cameras that are still in the registry."""
    return col(Camera.deleted_at).is_(None)


def get_live(session: Session, camera_id: str) -> Camera:
    """A camera that exists and is not deleted; NotFound otherwise."""
    cam = session.get(Camera, camera_id)
    if cam is None or cam.deleted_at is not None:
        raise NotFound(camera_id)
    return cam


def is_deleted(session: Session, camera_id: str) -> bool:
    cam = session.get(Camera, camera_id)
    return cam is not None and cam.deleted_at is not None


def get_public(session: Session, camera_id: str) -> CameraPublic:
    cam = get_live(session, camera_id)
    secret = session.get(CameraSecret, camera_id)
    return to_public(
        cam, session.get(CameraStatus, camera_id), bool(secret and (secret.username or secret.password))
    )


def _split_secrets(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """Pop username/password and strip credentials out of URL fields (in place); explicit ones win."""
    user = data.pop("username", None)
    pw = data.pop("password", None)
    for f in URL_FIELDS:
        url = data.get(f)
        if url:
            clean, u, p = split_credentials(url)
            data[f] = clean
            user = user or u
            pw = pw or p
    return user, pw


def _check_targets(values: dict[str, Any], policy: netpolicy.Policy | None) -> None:
    for f in URL_FIELDS:
        url = values.get(f)
        if url:
            try:
                netpolicy.check_url(url, policy)
            except netpolicy.Refused as exc:
                raise TargetRefused(f"{f}: {exc}") from None


def _moves_host(cam: Camera, values: dict[str, Any]) -> bool:
    """Does this update point a URL at a host/port none of the camera's current URLs use?"""
    old = {endpoint(getattr(cam, f)) for f in URL_FIELDS} - {None}
    for f in URL_FIELDS:
        if f in values and values[f] and values[f] != getattr(cam, f) and endpoint(values[f]) not in old:
            return True
    return False


def _store_secret(session: Session, camera_id: str, user: str | None, pw: str | None) -> None:
    if user is None and pw is None:
        return
    secret = session.get(CameraSecret, camera_id) or CameraSecret(camera_id=camera_id)
    if user is not None:
        secret.username = user
    if pw is not None:
        secret.password = pw
    session.add(secret)


def create_camera(session: Session, data: CameraCreate, *, policy: netpolicy.Policy | None = None) -> Camera:
    """A new camera; the id of a deleted camera restores that camera (history kept) with these fields."""
    old = session.get(Camera, data.id)
    if old is not None and old.deleted_at is None:
        raise Conflict(f"camera {data.id!r} already exists")
    values = data.model_dump()
    user, pw = _split_secrets(values)
    _check_targets(values, policy)
    fields = {k: v for k, v in values.items() if k in Camera.model_fields and k != "id"}
    if old is not None:  # restore: every field from the request, as if new; the id keeps its history
        for k, v in Camera(id=data.id, **fields).model_dump(exclude={"id", "created_at"}).items():
            setattr(old, k, v)
        old.deleted_at = None
        old.updated_at = utcnow()
        cam = old
        log.info("camera %s restored (it had been deleted)", data.id)
    else:
        cam = Camera(id=data.id, **fields)
    _check_has_stream(cam)
    session.add(cam)
    session.flush()
    _store_secret(session, data.id, user, pw)
    return cam


def update_camera(
    session: Session, camera_id: str, data: CameraUpdate, *, policy: netpolicy.Policy | None = None
) -> Camera:
    cam = get_live(session, camera_id)
    values = data.model_dump(exclude_unset=True)
    user, pw = _split_secrets(values)
    _check_targets(values, policy)
    if _moves_host(cam, values):
        old = session.get(CameraSecret, camera_id)
        if old is not None:  # credentials follow the host: never hand them to the new one unasked
            log.info("camera %s re-pointed to another host: stored credentials dropped", camera_id)
            session.delete(old)
            session.flush()
    _store_secret(session, camera_id, user, pw)
    for k, v in values.items():
        if k in Camera.model_fields:
            setattr(cam, k, v)
    _check_has_stream(cam)
    cam.updated_at = utcnow()
    session.add(cam)
    return cam


def _check_has_stream(cam: Camera | None) -> None:
    if cam is not None and not (cam.main_url or cam.snapshot_url or cam.sub_url):
        raise Conflict("a camera needs at least one of main_url, sub_url, snapshot_url")


def delete_camera(session: Session, camera_id: str, now: dt.datetime | None = None) -> Camera:
    """Soft delete: disabled (checks stop), hidden, credentials dropped; outages and transitions stay."""
    cam = get_live(session, camera_id)
    now = now or utcnow()
    cam.deleted_at = now
    cam.enabled = False
    cam.updated_at = now
    session.add(cam)
    secret = session.get(CameraSecret, camera_id)
    if secret is not None:  # a camera no longer in the registry keeps no password
        session.delete(secret)
    session.flush()
    return cam


def snapshot(session: Session, camera_id: str) -> dict[str, Any]:
    """What a camera's change is compared on (``changed_fields``): its fields, and a digest of its
    credentials (never the credentials themselves). Empty for an unknown camera."""
    cam = session.get(Camera, camera_id)
    if cam is None:
        return {}
    out = cam.model_dump(exclude={"updated_at", "created_at"})
    secret = session.get(CameraSecret, camera_id)
    user, pw = (secret.username, secret.password) if secret else ("", "")
    out["username"] = hashlib.sha256(f"u:{user or ''}".encode()).hexdigest()
    out["password"] = hashlib.sha256(f"p:{pw or ''}".encode()).hexdigest()
    return out


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The NAMES of the fields that differ between two ``snapshot``s (for the audit trail)."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def hamlets(session: Session) -> list[str]:
    rows = session.exec(select(Camera.hamlet).where(not_deleted()).distinct().order_by(Camera.hamlet)).all()
    return [h for h in rows if h]


def scope_hamlets(session: Session, scope: list[str]) -> list[str]:
    """The registry's spellings of the scope's hamlets (case and accents aside)."""
    keys = {fold(h) for h in scope}
    return [h for h in hamlets(session) if fold(h) in keys] or list(scope)


def list_cameras(
    session: Session,
    *,
    kind: CameraKind | None = None,
    hamlet: str | None = None,
    state: HealthState | None = None,
    q: str | None = None,
    enabled: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: list[str] | None = None,
) -> tuple[int, list[CameraPublic]]:
    """``scope``: the caller's hamlets (None: every hamlet)."""
    stmt = select(Camera, CameraStatus, CameraSecret.camera_id).join(
        CameraStatus, col(CameraStatus.camera_id) == col(Camera.id), isouter=True
    )
    stmt = stmt.join(CameraSecret, col(CameraSecret.camera_id) == col(Camera.id), isouter=True)
    conds: list[Any] = [not_deleted()]
    if scope is not None:  # a user limited to hamlets sees only those
        conds.append(col(Camera.hamlet).in_(scope_hamlets(session, scope)))
    if kind is not None:
        conds.append(Camera.kind == kind)
    if hamlet:
        key = fold(hamlet)
        names = [h for h in hamlets(session) if fold(h) == key] or [hamlet]
        conds.append(col(Camera.hamlet).in_(names))
    if state is not None:
        if state is HealthState.UNKNOWN:
            conds.append(or_(col(CameraStatus.state).is_(None), CameraStatus.state == state))
        else:
            conds.append(CameraStatus.state == state)
    if enabled is not None:
        conds.append(Camera.enabled == enabled)
    if q:
        like = f"%{q}%"
        key = fold(q)
        hamlet_hits = [h for h in hamlets(session) if key in fold(h)]
        conds.append(
            or_(
                col(Camera.id).ilike(like),
                col(Camera.name).ilike(like),
                col(Camera.address).ilike(like),
                col(Camera.owner_name).ilike(like),
                col(Camera.hamlet).in_(hamlet_hits),
            )
        )
    if conds:
        stmt = stmt.where(*conds)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(Camera.id).limit(limit).offset(offset)).all()
    return total, [to_public(c, s, sid is not None) for c, s, sid in rows]


# ------------------------------------------------------------------------------------- import/export
def parse_file(content: bytes | str, fmt: str) -> list[dict[str, Any]]:
    """Rows as dicts of strings (or YAML scalars). Raises ImportFailed for a file that cannot be read."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                [RowError(0, "-", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
            ) from None
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportFailed([RowError(1, c, "required column missing from the header") for c in missing])
        unknown = [h for h in header if h and h not in ALL_COLUMNS]
        if unknown:
            raise ImportFailed(
                [RowError(1, h, f"unknown column (known: {', '.join(ALL_COLUMNS)})") for h in unknown]
            )
        rows = []
        for r in reader:
            extra = r.pop(None, None)  # type: ignore[call-overload]
            row = {(k or "").strip(): unescape_cell((v or "").strip()) for k, v in r.items()}
            if extra:
                row["__extra__"] = extra
            rows.append(row)
        return rows
    if fmt in ("yaml", "yml"):
        try:
            data = safe_load(content)
        except yaml.YAMLError as exc:
            raise ImportFailed([RowError(0, "-", f"not valid YAML: {exc}")]) from None
        if isinstance(data, dict) and "cameras" in data:
            data = data["cameras"]
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise ImportFailed(
                [RowError(0, "-", "YAML must be a list of cameras (or a mapping with 'cameras:')")]
            )
        return [{str(k): v for k, v in item.items()} for item in data]
    raise ImportFailed([RowError(0, "-", f"unknown format {fmt!r}: use csv or yaml")])


def _row_number(i: int, fmt: str) -> int:
    return i + 2 if fmt == "csv" else i + 1  # CSV: the spreadsheet row (header is row 1)


def validate_rows(
    rows: list[dict[str, Any]], fmt: str, policy: netpolicy.Policy | None = None
) -> tuple[list[dict[str, Any]], list[RowError]]:
    errors: list[RowError] = []
    clean: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(rows):
        n = _row_number(i, fmt)
        errs: list[RowError] = []
        if "__extra__" in raw:
            errs.append(RowError(n, "-", "more cells than header columns"))
        unknown = [k for k in raw if k not in ALL_COLUMNS and k != "__extra__"]
        for k in unknown:
            errs.append(RowError(n, k, "unknown column"))
        r = {k: ("" if v is None else v) for k, v in raw.items() if k in ALL_COLUMNS}
        out: dict[str, Any] = {}
        cid = str(r.get("id", "")).strip()
        if not cid:
            errs.append(RowError(n, "id", "missing"))
        elif cid in seen:
            errs.append(RowError(n, "id", f"duplicate id {cid!r} (also on row {seen[cid]})"))
        else:
            seen[cid] = n
        out["id"] = cid
        out["name"] = str(r.get("name") or cid).strip()
        kind = fold(str(r.get("kind", "")))
        if not kind:
            errs.append(RowError(n, "kind", "missing (roadside or household)"))
        elif kind not in _KIND_ALIASES:
            errs.append(RowError(n, "kind", f"unknown kind {r.get('kind')!r} (roadside or household)"))
        else:
            out["kind"] = _KIND_ALIASES[kind]
        for f in ("hamlet", "address", "owner_name", "owner_phone", "vendor", "model", "notes", "upstream"):
            out[f] = str(r.get(f, "")).strip()
        if "site" in r:  # absent: an existing camera keeps its site, a new one has none
            site = str(r.get("site") or "").strip()
            if len(site) > 100:
                errs.append(RowError(n, "site", f"longer than 100 characters ({len(site)})"))
            elif any(ch in site for ch in "\r\n\t"):
                errs.append(RowError(n, "site", "must be one line of text"))
            else:
                out["site"] = site
        lat, lon = str(r.get("latitude", "")).strip(), str(r.get("longitude", "")).strip()
        if lat or lon:
            for name, val, lim in (("latitude", lat, 90), ("longitude", lon, 180)):
                try:
                    num = float(val)
                    if not -lim <= num <= lim:
                        raise ValueError
                    out[name] = num
                except ValueError:
                    errs.append(
                        RowError(
                            n,
                            name,
                            f"bad coordinate {val!r} (a number within ±{lim})"
                            if val
                            else "missing: give both latitude and longitude",
                        )
                    )
        has_url = False
        for f in URL_FIELDS:
            url = str(r.get(f, "")).strip()
            if url:
                try:
                    out[f] = check_stream_url(url)
                    if f == "snapshot_url":
                        check_snapshot_url(url)
                    has_url = True
                    netpolicy.check_url(url, policy)
                except InvalidURL as exc:
                    errs.append(RowError(n, f, f"bad URL: {exc}"))
                except ValueError as exc:  # a URL of the wrong kind for this column
                    errs.append(RowError(n, f, str(exc).partition(": ")[2]))
                except netpolicy.Refused as exc:
                    errs.append(RowError(n, f, f"refused: {exc}"))
            else:
                out[f] = ""
        if not has_url and not any(e.column in URL_FIELDS for e in errs):
            errs.append(RowError(n, "main_url", "missing: give main_url, sub_url or snapshot_url"))
        for f in ("username", "password"):
            v = str(r.get(f, "")).strip() if r.get(f) is not None else ""
            if v:
                out[f] = v
        ci = str(r.get("check_interval_s", "")).strip()
        if ci:
            try:
                out["check_interval_s"] = check_interval(float(ci))
            except ValueError as exc:
                msg = str(exc).partition(": ")[2] if "must be" in str(exc) else "not a number"
                errs.append(RowError(n, "check_interval_s", f"{msg}: {ci!r}"))
        for flag, default in (("enabled", True), ("owner_consent", False)):
            en = r.get(flag, "")
            if isinstance(en, bool):
                out[flag] = en
            else:
                s = fold(str(en))
                if s == "":
                    out[flag] = default
                elif s in ("1", "true", "yes", "y", "co"):
                    out[flag] = True
                elif s in ("0", "false", "no", "n", "khong"):
                    out[flag] = False
                else:
                    errs.append(RowError(n, flag, f"not true/false: {en!r}"))
        rm = fold(str(r.get("recording_mode") or ""))
        if rm:
            if rm in ("continuous", "off"):
                from camsvc.enums import RecordingMode

                out["recording_mode"] = RecordingMode(rm)
            else:
                errs.append(RowError(n, "recording_mode", f"not continuous/off: {r.get('recording_mode')!r}"))
        rs = fold(str(r.get("recording_stream") or ""))
        if rs:
            if rs in ("main", "sub"):
                out["recording_stream"] = rs
            else:
                errs.append(RowError(n, "recording_stream", f"not main/sub: {r.get('recording_stream')!r}"))
        rd = str(r.get("retention_days") if r.get("retention_days") is not None else "").strip()
        if rd:
            try:
                out["retention_days"] = float(rd)
                if not 0 < out["retention_days"] <= 3650:
                    raise ValueError
            except ValueError:
                errs.append(RowError(n, "retention_days", f"not a number of days (0-3650]: {rd!r}"))
        pt = r.get("picture_thresholds")
        if pt not in (None, ""):
            try:
                out["picture_thresholds"] = check_picture_thresholds(pt)
            except ValueError as exc:
                errs.extend(_threshold_row_errors(n, str(exc)))
        inst = r.get("installed_on", "")
        if isinstance(inst, dt.date):
            out["installed_on"] = inst
        elif str(inst).strip():
            try:
                out["installed_on"] = dt.date.fromisoformat(str(inst).strip())
            except ValueError:
                errs.append(RowError(n, "installed_on", f"not a date YYYY-MM-DD: {inst!r}"))
        if not errs:
            try:
                CameraCreate.model_validate(out)
            except ValidationError as exc:
                for e in exc.errors():
                    errs.append(RowError(n, str(e["loc"][0]) if e["loc"] else "-", e["msg"]))
        errors.extend(errs)
        clean.append(out)
    return clean, errors


def _threshold_row_errors(n: int, message: str) -> list[RowError]:
    """One RowError per bad key, its column the key path (``picture_thresholds.blurred_ratio``)."""
    out = []
    for part in message.split("; "):
        path, sep, what = part.partition(": ")
        out.append(RowError(n, path, what) if sep else RowError(n, "picture_thresholds", part))
    return out


def import_cameras(
    session: Session, content: bytes | str, fmt: str, *, policy: netpolicy.Policy | None = None
) -> ImportReport:
    """Validate every row, then upsert them all in the caller's transaction. Raises ImportFailed."""
    rows = parse_file(content, fmt)
    clean, errors = validate_rows(rows, fmt, policy)
    if errors:
        raise ImportFailed(errors)
    created = updated = unchanged = 0
    existing = {
        c.id: c
        for c in session.exec(
            select(Camera).where(col(Camera.id).in_([r["id"] for r in clean]), not_deleted())
        )
    }  # a deleted camera's id is created anew: that restores it
    for r in clean:
        cam = existing.get(r["id"])
        if cam is None:
            create_camera(session, CameraCreate.model_validate(r), policy=policy)
            created += 1
            continue
        fields = {k: v for k, v in r.items() if k in Camera.model_fields and k != "id"}
        fields.setdefault("check_interval_s", None)
        fields.setdefault("installed_on", None)
        for f in ("recording_mode", "recording_stream", "retention_days", "picture_thresholds"):
            fields.setdefault(f, None)
        secret = session.get(CameraSecret, cam.id)
        secret_changed = ("username" in r and (secret is None or secret.username != r["username"])) or (
            "password" in r and (secret is None or secret.password != r["password"])
        )
        changed = any(getattr(cam, k) != v for k, v in fields.items())
        if changed or secret_changed:
            update_camera(
                session,
                cam.id,
                CameraUpdate.model_validate(
                    {**fields, **{k: r[k] for k in ("username", "password") if k in r}}
                ),
                policy=policy,
            )
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return ImportReport(created, updated, unchanged)


def export_rows(session: Session, *, include_secrets: bool = False) -> list[dict[str, Any]]:
    secrets = {s.camera_id: s for s in session.exec(select(CameraSecret))} if include_secrets else {}
    out = []
    for cam in session.exec(select(Camera).where(not_deleted()).order_by(Camera.id)):
        d = cam.model_dump()
        row: dict[str, Any] = {}
        for c in ALL_COLUMNS:
            if c in ("username", "password"):
                if not include_secrets:
                    continue
                s = secrets.get(cam.id)
                row[c] = getattr(s, c) if s else ""
            else:
                v = d.get(c)
                row[c] = getattr(v, "value", v)
        out.append(row)
    return out


def export_cameras(session: Session, fmt: str, *, include_secrets: bool = False) -> str:
    rows = export_rows(session, include_secrets=include_secrets)
    cols = ALL_COLUMNS if include_secrets else [c for c in ALL_COLUMNS if c not in ("username", "password")]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(safe_dict({k: ("" if r.get(k) is None else r.get(k)) for k in cols}))
        return buf.getvalue()
    if fmt in ("yaml", "yml"):
        for r in rows:
            if isinstance(r.get("installed_on"), dt.date):
                r["installed_on"] = r["installed_on"].isoformat()
        return yaml.safe_dump({"cameras": rows}, allow_unicode=True, sort_keys=False)
    raise ValueError(f"unknown format {fmt!r}: use csv or yaml")


def credentials(session: Session, camera_id: str) -> tuple[str | None, str | None]:
    s = session.get(CameraSecret, camera_id)
    return (s.username or None, s.password or None) if s else (None, None)


def all_secrets(session: Session) -> list[str]:
    """Every stored password (for scrubbing free text before it is logged or shown)."""
    return [s.password for s in session.exec(select(CameraSecret)) if s.password]


def count_by(session: Session, column: Any) -> dict[str, int]:
    rows = session.execute(sa.select(column, func.count()).group_by(column)).all()
    return {str(getattr(k, "value", k)): int(n) for k, n in rows}
