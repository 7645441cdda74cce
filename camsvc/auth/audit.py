"""The audit trail: append-only, hash-chained.

Each row holds ``prev_hash`` (the previous row's ``hash``; 64 zeros for the first row) and
``hash = sha256(prev_hash + canonical JSON of its content)``, the content being time, user, client address,
action, target and details (``details`` exactly as stored: canonical JSON text). Changing a row's content
breaks its hash; removing a row breaks the next row's link; moving rows breaks links where they moved from
and to. ``verify`` names the rows.

Appends are serialised (``lock_for_write``: an advisory lock on PostgreSQL, the write lock on SQLite) so two
writers never both chain onto the same row. ``append`` only flushes: in the caller's transaction, the audit
row is committed with the change it describes, or not at all.

The database refuses UPDATE and DELETE on the table (triggers, migration 0004). What remains possible to
someone with full database rights: dropping the triggers and rewriting every later row, or cutting the
newest rows. The first is caught if the head (``head()``: id and hash of the newest row) was kept elsewhere
(pass it as ``expected_head``); the second on SQLite by AUTOINCREMENT's counter (``sqlite_sequence``).

Details never hold secrets: ``clean_details`` drops values under secret-looking keys (listing the keys under
``"redacted"``, so "the password was changed" stays visible) and scrubs URLs and free text with
``camsvc.redact``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from camsvc.auth._hashing import lock_for_write
from camsvc.auth.models import AuditEvent
from camsvc.redact import redact_text, redact_url

GENESIS = "0" * 64
MAX_TEXT = 2000
_SECRET_KEY_RE = re.compile(
    r"(?i)(pass|pwd|secret|token|apikey|api_key|auth|cookie|credential|signing|private|session|csrf)"
)
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ADVISORY_KEY = 0x63734155  # "csAU"


# ---------------------------------------------------------------------------------------------- content
def _scrub(value: Any, secrets: Sequence[str], redacted: list[str], path: str) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            where = f"{path}.{key}" if path else key
            if _SECRET_KEY_RE.search(key):
                redacted.append(where)
                continue
            out[key] = _scrub(v, secrets, redacted, where)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_scrub(v, secrets, redacted, path) for v in items]
    if isinstance(value, str):
        text = redact_url(value) if _URL_RE.match(value) else value
        text = redact_text(text, secrets)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return _scrub(str(value), secrets, redacted, path)


def clean_details(details: dict[str, Any] | None, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """*details* without secrets: see the module docstring. Extra *secrets* (strings) are scrubbed too."""
    redacted: list[str] = []
    out = _scrub(dict(details or {}), list(secrets), redacted, "")
    if redacted:
        out["redacted"] = sorted(set(redacted))
    return out  # type: ignore[no-any-return]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _time(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime in the audit trail")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RowLike(Protocol):
    id: int | None
    at: dt.datetime
    username: str
    client_addr: str
    action: str
    target: str
    details: str
    prev_hash: str
    hash: str


@dataclass
class Row:
    """A plain audit row (the pure functions take anything shaped like it, ``AuditEvent`` included)."""

    id: int | None
    at: dt.datetime
    username: str
    client_addr: str
    action: str
    target: str
    details: str
    prev_hash: str
    hash: str


def row_hash(
    prev_hash: str, at: dt.datetime, username: str, client_addr: str, action: str, target: str, details: str
) -> str:
    content = canonical_json(
        {
            "at": _time(at),
            "username": username,
            "client_addr": client_addr,
            "action": action,
            "target": target,
            "details": details,
        }
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def hash_of(row: RowLike) -> str:
    """The hash *row* should have, from its content and its ``prev_hash``."""
    return row_hash(row.prev_hash, row.at, row.username, row.client_addr, row.action, row.target, row.details)


def chain(rows: Iterable[RowLike]) -> None:
    """Set ``prev_hash`` and ``hash`` of rows in order, as ``append`` would (tests, imports)."""
    prev = GENESIS
    for r in rows:
        r.prev_hash = prev
        r.hash = hash_of(r)
        prev = r.hash


# ---------------------------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Problem:
    row_id: int
    kind: str  # changed | removed | reordered | truncated
    message: str

    def __str__(self) -> str:
        return f"row {self.row_id}: {self.kind}: {self.message}"


def verify_rows(
    rows: Sequence[RowLike],
    *,
    expected_head: tuple[int, str] | None = None,
    last_id_issued: int | None = None,
) -> list[Problem]:
    """Every problem of a chain given in id order (empty list: intact).

    - ``changed``: a row's content (or stored hash) is not what was hashed when it was written;
    - ``removed``: a row's predecessor is missing (a gap in ids, or its link points to no row);
    - ``reordered``: a row's link points to another row than the one before it;
    - ``truncated``: newer rows than the last one existed (``expected_head`` from elsewhere, or
      ``last_id_issued``, the highest id the database ever gave out).
    """
    problems: list[Problem] = []
    by_hash: dict[str, int] = {}
    position: dict[int, int] = {}
    for i, r in enumerate(rows):
        by_hash.setdefault(r.hash, int(r.id or 0))
        position[int(r.id or 0)] = i
    prev_hash, prev_id = GENESIS, None
    for r in rows:
        rid = int(r.id or 0)
        if hash_of(r) != r.hash:
            problems.append(
                Problem(rid, "changed", "its content does not match its hash (edited after writing)")
            )
        if r.prev_hash != prev_hash:
            if prev_id is not None and rid > prev_id + 1 and r.prev_hash not in by_hash:
                missing = f"{prev_id + 1}" if rid == prev_id + 2 else f"{prev_id + 1}..{rid - 1}"
                problems.append(Problem(rid, "removed", f"row(s) {missing} before it are missing"))
            elif r.prev_hash in by_hash and by_hash[r.prev_hash] != prev_id:
                other = by_hash[r.prev_hash]
                where = "after" if position[other] > position[rid] else "before"
                problems.append(
                    Problem(
                        rid,
                        "reordered",
                        f"it was written after row {other} (which now comes {where} it), "
                        f"not after {'the start' if prev_id is None else f'row {prev_id}'}",
                    )
                )
            elif prev_id is None:
                problems.append(
                    Problem(
                        rid, "removed", "it is the first row but was chained onto an earlier one (removed)"
                    )
                )
            else:  # no gap, and the link points to no row: the row before was rewritten hash and all
                assert prev_id is not None
                problems.append(
                    Problem(
                        prev_id,
                        "changed",
                        f"it was rewritten with a new hash: row {rid} was chained onto another version of it",
                    )
                )
        prev_hash, prev_id = r.hash, rid
    last_id = int(rows[-1].id or 0) if rows else 0
    if expected_head is not None:
        head_id, head_hash = expected_head
        if head_id not in position:
            problems.append(
                Problem(
                    head_id, "truncated", f"the recorded head row {head_id} is gone (newest is {last_id})"
                )
            )
        elif rows[position[head_id]].hash != head_hash:
            problems.append(Problem(head_id, "changed", "its hash differs from the recorded head"))
    if last_id_issued is not None and last_id_issued > last_id:
        gone = f"{last_id + 1}" if last_id_issued == last_id + 1 else f"{last_id + 1}..{last_id_issued}"
        problems.append(Problem(last_id + 1, "truncated", f"the newest row(s) {gone} were removed"))
    return problems


# ---------------------------------------------------------------------------------------------- database
def append(
    db: Session,
    now: dt.datetime,
    username: str,
    client_addr: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    *,
    secrets: Iterable[str] = (),
) -> AuditEvent:
    """Write one audit row chained onto the newest one (in the caller's transaction; flushed, not committed)."""
    if not action:
        raise ValueError("an audit event needs an action")
    lock_for_write(db, "auditevent", _ADVISORY_KEY)
    last = db.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    prev = last or GENESIS
    ev = AuditEvent(
        at=now,
        username=(username or "")[:100],
        client_addr=(client_addr or "")[:100],
        action=action[:100],
        target=redact_text(target or "", list(secrets))[:300],
        details=canonical_json(clean_details(details, secrets)),
        prev_hash=prev,
        hash="",
    )
    ev.hash = hash_of(ev)
    db.add(ev)
    db.flush()
    return ev


def head(db: Session) -> tuple[int, str] | None:
    """(id, hash) of the newest row: keep it outside the database (a log, a printout) to detect rewriting."""
    row = db.exec(select(AuditEvent.id, AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    return (int(row[0]), row[1]) if row and row[0] is not None else None


def _last_id_issued(db: Session) -> int | None:
    if db.get_bind().dialect.name != "sqlite":
        return None  # PostgreSQL sequences skip ids on rollback: no reliable trace of cut rows
    seq = db.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'auditevent'")).first()
    return int(seq[0]) if seq else None


def verify(db: Session, *, expected_head: tuple[int, str] | None = None) -> list[Problem]:
    """Check the whole chain stored in the database; an empty list means intact."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    c = table.c
    stmt = sa.select(
        c.id, c.at, c.username, c.client_addr, c.action, c.target, c.details, c.prev_hash, c.hash
    ).order_by(c.id)
    rows = [Row(*r) for r in db.execute(stmt.execution_options(yield_per=5000))]
    return verify_rows(rows, expected_head=expected_head, last_id_issued=_last_id_issued(db))


def list_events(
    db: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    username: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[AuditEvent]:
    """Newest first, filtered (``action`` ending in ``.*`` matches a prefix, e.g. ``camera.*``)."""
    stmt = select(AuditEvent).order_by(col(AuditEvent.id).desc())
    if since is not None:
        stmt = stmt.where(col(AuditEvent.at) >= since)
    if until is not None:
        stmt = stmt.where(col(AuditEvent.at) < until)
    if username:
        stmt = stmt.where(AuditEvent.username == username)
    if action:
        if action.endswith(".*"):
            stmt = stmt.where(col(AuditEvent.action).startswith(action[:-1], autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if target:
        stmt = stmt.where(AuditEvent.target == target)
    return list(db.exec(stmt.offset(max(0, offset)).limit(max(1, min(limit, 10000)))).all())
