"""Login throttling: growing delays after failed sign-ins, per username and per client address.

Policy (pure, ``lock_seconds``): the first ``free_failures`` failures cost nothing; from then on every failure
locks the key for ``base_s * 2 ** (failures - free_failures)`` seconds, capped at ``max_s``. With the user
policy: 5th failure 30 s, 6th 60 s, 7th 120 s ... 10th and after 15 min. A key's count is forgotten
``forget_after_s`` after its last failure. Client addresses get more free failures (a police station signs in
from one NAT address), usernames fewer.

A successful sign-in clears the username's count, not the address's (a valid account must not be a way to
reset the counter of an address guessing other accounts' passwords); the address's count fades with time.

While a key is locked the sign-in route answers "try again in N s" without checking the password (and
without counting a failure). The state is in the database (``LoginThrottle``), so a restart does not reset
it. DB functions only flush; the caller commits, also when it then refuses the sign-in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from camsvc.auth._hashing import lock_for_write
from camsvc.auth.models import LoginThrottle


@dataclass(frozen=True)
class Policy:
    free_failures: int = 5
    base_s: float = 30.0
    max_s: float = 900.0
    forget_after_s: float = 3600.0


USER_POLICY = Policy()
ADDR_POLICY = Policy(free_failures=20)


def policy_for(key: str) -> Policy:
    return ADDR_POLICY if key.startswith("ip:") else USER_POLICY


def lock_seconds(failures: int, policy: Policy = USER_POLICY) -> float:
    """How long a key is locked right after its *failures*-th consecutive failure."""
    if failures < policy.free_failures:
        return 0.0
    exp = failures - policy.free_failures
    if exp >= 32:  # 2**32 * anything is past any cap
        return policy.max_s
    return float(min(policy.base_s * (2**exp), policy.max_s))


@dataclass(frozen=True)
class State:
    failures: int = 0
    first_failure_at: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


def after_failure(state: State, now: dt.datetime, policy: Policy = USER_POLICY) -> State:
    """The state after one more failure at *now* (a stale count starts over)."""
    if state.last_failure_at is None or (now - state.last_failure_at).total_seconds() > policy.forget_after_s:
        state = State()
    failures = state.failures + 1
    lock = lock_seconds(failures, policy)
    return State(
        failures=failures,
        first_failure_at=state.first_failure_at or now,
        last_failure_at=now,
        locked_until=now + dt.timedelta(seconds=lock) if lock > 0 else None,
    )


def remaining_s(locked_until: dt.datetime | None, now: dt.datetime) -> float:
    if locked_until is None:
        return 0.0
    return max(0.0, (locked_until - now).total_seconds())


def _norm_user(username: str) -> str:
    return username.strip().casefold()[:250]


def keys_for(username: str | None, client_addr: str | None) -> list[str]:
    """The throttle keys of one sign-in attempt: ``user:<name>`` and ``ip:<address>``."""
    keys: list[str] = []
    if username and username.strip():
        keys.append(f"user:{_norm_user(username)}")
    if client_addr:
        keys.append(f"ip:{client_addr.strip()[:250]}")
    return keys


# ---------------------------------------------------------------------------------------------- database
def _rows(db: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    if not keys:
        return {}
    stmt = select(LoginThrottle).where(col(LoginThrottle.key).in_(keys))
    # fresh values even if this session loaded the rows before the write lock was taken
    rows = db.exec(stmt.execution_options(populate_existing=True)).all()
    return {r.key: r for r in rows}


def check_locked(db: Session, keys: Iterable[str], now: dt.datetime) -> float:
    """Seconds until every key is free again (0.0: the attempt may go ahead)."""
    return max((remaining_s(r.locked_until, now) for r in _rows(db, list(keys)).values()), default=0.0)


def record_failure(db: Session, keys: Iterable[str], now: dt.datetime) -> float:
    """Count a failed sign-in against every key; returns the lock now in force (seconds, 0.0 = none)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return 0.0
    dialect = db.get_bind().dialect.name
    lock_for_write(db, "loginthrottle", 0x63736C54)  # serialise concurrent failures for one key
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(LoginThrottle)
        db.execute(ins.values([{"key": k, "failures": 0} for k in keys]).on_conflict_do_nothing())
        rows = _rows(db, keys)
    else:  # pragma: no cover - other databases: plain insert of the missing keys
        rows = _rows(db, keys)
        for k in keys:
            if k not in rows:
                rows[k] = LoginThrottle(key=k)
                db.add(rows[k])
    locked = 0.0
    for k in keys:
        row = rows[k]
        new = after_failure(
            State(row.failures, row.first_failure_at, row.last_failure_at, row.locked_until),
            now,
            policy_for(k),
        )
        row.failures = new.failures
        row.first_failure_at = new.first_failure_at
        row.last_failure_at = new.last_failure_at
        row.locked_until = new.locked_until
        db.add(row)
        locked = max(locked, remaining_s(new.locked_until, now))
    db.flush()
    return locked


def record_success(db: Session, keys: Iterable[str], now: dt.datetime) -> None:
    """A good sign-in clears the username keys (``user:...``); address keys fade with time."""
    for row in _rows(db, [k for k in keys if k.startswith("user:")]).values():
        db.delete(row)
    db.flush()


def purge(db: Session, now: dt.datetime) -> int:
    """Delete rows whose count is forgotten and whose lock is over (housekeeping)."""
    n = 0
    for row in db.exec(select(LoginThrottle)).all():
        pol = policy_for(row.key)
        stale = (
            row.last_failure_at is None or (now - row.last_failure_at).total_seconds() > pol.forget_after_s
        )
        if stale and remaining_s(row.locked_until, now) == 0:
            db.delete(row)
            n += 1
    db.flush()
    return n
