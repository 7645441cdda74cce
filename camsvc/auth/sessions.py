"""Browser sessions: an opaque random cookie value, only its SHA-256 in the database.

A session ends at the first of: ``revoke`` (sign-out), ``revoke_all_for_user`` (password change, user
disabled), ``idle_s`` without a request (sliding), ``expires_at`` (absolute, set at sign-in), or its user
being disabled (checked on every request, so disabling someone signs them out at once).

``last_seen_at`` is written at most every ``TOUCH_EVERY_S`` seconds, not on every request; the idle limit is
measured from it, so a session may end up to that much sooner than ``idle_s``, never later.

Functions take the caller's ``Session`` and ``now`` and only flush: the caller commits (the request's
session does).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select, update

from camsvc.auth._hashing import digest, new_secret
from camsvc.auth.models import User, UserSession

TOUCH_EVERY_S = 60.0


def create_session(
    db: Session,
    user: User,
    client_addr: str,
    user_agent: str,
    now: dt.datetime,
    idle_s: float,
    absolute_s: float,
) -> str:
    """Open a session for an active user; returns the raw cookie value (never stored)."""
    if user.id is None or not user.active:
        raise ValueError(f"user {user.username!r} is disabled or not saved: no session")
    if idle_s <= 0 or absolute_s <= 0:
        raise ValueError("idle_s and absolute_s must be positive")
    raw = new_secret()
    db.add(
        UserSession(
            token_hash=digest(raw),
            user_id=user.id,
            csrf_token=new_secret(),
            created_at=now,
            last_seen_at=now,
            idle_s=int(idle_s),
            expires_at=now + dt.timedelta(seconds=absolute_s),
            client_addr=(client_addr or "")[:100],
            user_agent=(user_agent or "")[:300],
        )
    )
    db.flush()
    return raw


def _live(sess: UserSession, now: dt.datetime) -> bool:
    if sess.revoked_at is not None or now >= sess.expires_at:
        return False
    return now < sess.last_seen_at + dt.timedelta(seconds=sess.idle_s)


def validate(db: Session, raw: str | None, now: dt.datetime) -> tuple[User, UserSession] | None:
    """The user and session behind a cookie value, or None (unknown, revoked, expired, user disabled)."""
    if not raw or len(raw) > 200:
        return None
    sess = db.exec(select(UserSession).where(UserSession.token_hash == digest(raw))).first()
    if sess is None or not _live(sess, now):
        return None
    user = db.get(User, sess.user_id)
    if user is None or not user.active:
        return None
    if (now - sess.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
        sess.last_seen_at = now
        db.add(sess)
        db.flush()
    return user, sess


def revoke(db: Session, raw: str | None, now: dt.datetime) -> bool:
    """Sign-out: the session stops working at once. False if there was no such live session."""
    if not raw:
        return False
    sess = db.exec(select(UserSession).where(UserSession.token_hash == digest(raw))).first()
    if sess is None or sess.revoked_at is not None:
        return False
    sess.revoked_at = now
    db.add(sess)
    db.flush()
    return True


def revoke_all_for_user(db: Session, user_id: int, now: dt.datetime) -> int:
    """End every session of a user (password changed, user disabled, "sign out everywhere")."""
    result = db.exec(
        update(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    db.flush()
    return int(result.rowcount or 0)


def list_sessions(db: Session, user_id: int, now: dt.datetime) -> list[UserSession]:
    """The live sessions of a user, newest first (a "where am I signed in" page)."""
    rows = db.exec(
        select(UserSession)
        .where(UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None))
        .order_by(col(UserSession.created_at).desc())
    ).all()
    return [s for s in rows if _live(s, now)]


def purge(db: Session, now: dt.datetime, keep_s: float = 7 * 86400) -> int:
    """Delete sessions that ended (revoked or past their absolute expiry) more than *keep_s* ago."""
    cutoff = now - dt.timedelta(seconds=keep_s)
    rows = db.exec(
        select(UserSession).where(
            (col(UserSession.expires_at) < cutoff) | (col(UserSession.revoked_at) < cutoff)
        )
    ).all()
    for s in rows:
        db.delete(s)
    db.flush()
    return len(rows)
