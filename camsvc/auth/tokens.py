"""API tokens for scripts and integrations (``Authorization: Bearer cs_...``).

A token is ``cs_`` + 43 URL-safe random characters (256 bits), shown once by ``create_token``; the database
keeps its SHA-256 and a short ``prefix`` for lists. Its role is at most its owner's when created, and the
role in effect is re-checked on every use against the owner's current role and state: demoting the owner
demotes the token, disabling the owner stops the token at once.

``last_used_at`` is written at most every ``TOUCH_EVERY_S`` seconds. Functions only flush; the caller
commits.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select, update

from camsvc.auth._hashing import digest, new_secret
from camsvc.auth.models import ApiToken, User
from camsvc.auth.roles import Role, min_role, parse_role
from camsvc.models import utcnow

PREFIX = "cs_"
PREFIX_SHOWN = 11  # "cs_" + 8 characters
TOUCH_EVERY_S = 60.0


class TokenError(ValueError):
    pass


def looks_like_token(raw: str | None) -> bool:
    return raw is not None and raw.startswith(PREFIX) and 20 <= len(raw) <= 200


def create_token(
    db: Session,
    user: User,
    name: str,
    role: str | Role | None = None,
    *,
    now: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[str, ApiToken]:
    """A new token for *user*: (raw token to show once, its row). ``role`` None = the owner's role, always;
    a role above the owner's is refused."""
    name = name.strip()
    if not name:
        raise TokenError("a token needs a name (what uses it)")
    if user.id is None or not user.active:
        raise TokenError(f"user {user.username!r} is disabled or not saved: no token")
    owner = parse_role(user.role)
    wanted = parse_role(role) if role is not None else None
    if wanted is not None and wanted > owner:
        raise TokenError(f"a token of {user.username!r} ({owner}) cannot have the role {wanted}")
    raw = PREFIX + new_secret()
    row = ApiToken(
        user_id=user.id,
        name=name[:100],
        role=wanted.value if wanted is not None else None,
        token_hash=digest(raw),
        prefix=raw[:PREFIX_SHOWN],
        created_at=now or utcnow(),
        expires_at=expires_at,
    )
    db.add(row)
    db.flush()
    return raw, row


def authenticate(db: Session, raw: str | None, now: dt.datetime) -> tuple[User, Role] | None:
    """(owner, role in effect) for a live token, else None (unknown, revoked, expired, owner disabled)."""
    if not looks_like_token(raw):
        return None
    assert raw is not None
    tok = db.exec(select(ApiToken).where(ApiToken.token_hash == digest(raw))).first()
    if tok is None or tok.revoked_at is not None:
        return None
    if tok.expires_at is not None and now >= tok.expires_at:
        return None
    user = db.get(User, tok.user_id)
    if user is None or not user.active:
        return None
    role = min_role(user.role, tok.role or user.role)
    if tok.last_used_at is None or (now - tok.last_used_at).total_seconds() >= TOUCH_EVERY_S:
        tok.last_used_at = now
        db.add(tok)
        db.flush()
    return user, role


def revoke(db: Session, token_id: int, now: dt.datetime) -> bool:
    """Revoke one token by id; False if unknown or already revoked."""
    tok = db.get(ApiToken, token_id)
    if tok is None or tok.revoked_at is not None:
        return False
    tok.revoked_at = now
    db.add(tok)
    db.flush()
    return True


def find(db: Session, ref: str) -> ApiToken | None:
    """A token by id (``"12"``) or by its shown prefix (``"cs_AbCd1234"``; None if the prefix is ambiguous)."""
    ref = ref.strip()
    if ref.isdigit():
        return db.get(ApiToken, int(ref))
    rows = db.exec(select(ApiToken).where(ApiToken.prefix == ref[:PREFIX_SHOWN])).all()
    return rows[0] if len(rows) == 1 else None


def revoke_all_for_user(db: Session, user_id: int, now: dt.datetime) -> int:
    result = db.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    db.flush()
    return int(result.rowcount or 0)


def list_tokens(db: Session, user_id: int | None = None, *, include_revoked: bool = False) -> list[ApiToken]:
    stmt = select(ApiToken).order_by(col(ApiToken.id))
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    if not include_revoked:
        stmt = stmt.where(col(ApiToken.revoked_at).is_(None))
    return list(db.exec(stmt).all())
