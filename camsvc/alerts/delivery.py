"""Delivery: the outbox out through the channels, every attempt recorded, nothing lost.

Per channel, the oldest unfinished message (FIFO per channel: a recovery never overtakes its alert) is
claimed with a lease and sent in a bounded thread pool with a per-attempt timeout; at most one message per
channel is in flight, so a slow or broken channel holds up only itself. Every attempt is a
``DeliveryAttempt`` row; failures retry with exponential backoff (:func:`backoff_s`, capped at
``backoff_max_s``) until ``max_attempts``. A message whose lease expired (its sender died before recording a
result) is claimed again, its lost attempt recorded as interrupted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.alerts import channels as chans
from camsvc.alerts.models import (
    CANCELLED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Contact,
    ContactChannel,
    DeliveryAttempt,
    OutboxMessage,
)
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.logs import add_secrets
from camsvc.models import Thumbnail

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 30.0
BACKOFF_BASE_S = 2.0

Sender = Callable[..., chans.SendOutcome]


def backoff_s(attempts: int, max_s: float) -> float:
    """Wait before the next attempt after ``attempts`` failed ones: 2, 4, 8 ... seconds, capped."""
    return float(min(max_s, BACKOFF_BASE_S * 2 ** max(0, min(attempts - 1, 20))))


class Delivery:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime],
        pool_size: int = 4,
        attempt_timeout_s: float = 20.0,
        sender: Sender | None = None,
        worker: str | None = None,
    ):
        self.cfg = settings.alerts
        self.engine = engine
        self.clock = clock
        self.pool_size = max(1, pool_size)
        self.attempt_timeout_s = attempt_timeout_s
        self.lease_s = attempt_timeout_s + LEASE_MARGIN_S
        self.sender: Sender = sender or chans.send
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = threading.Event()  # set when an attempt finishes: the next message of its channel is due
        self._pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="camsvc-alert-send")
        self._inflight: dict[
            int, tuple[int, str, Future[None]]
        ] = {}  # channel id -> (message id, claim, future)
        self._started: set[str] = set()  # claims whose attempt has begun
        self._lock = threading.Lock()
        self._closed = False

    def run(self, now: dt.datetime) -> int:
        """Claim the due head message of each idle channel and start sending it. Returns claims made."""
        if self._closed:
            return 0
        with session_scope(self.engine) as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.channel_id).is_(None), col(OutboxMessage.status) == PENDING)
                .values(status=CANCELLED, last_error="channel removed")
                .execution_options(synchronize_session=False)
            )
            heads = s.exec(
                select(OutboxMessage.channel_id, sa.func.min(OutboxMessage.id))
                .where(
                    col(OutboxMessage.status).in_([PENDING, SENDING]),
                    col(OutboxMessage.channel_id).is_not(None),
                )
                .group_by(col(OutboxMessage.channel_id))
            ).all()
        claimed = 0
        for channel_id, mid in sorted(
            ((c, m) for c, m in heads if c is not None and m is not None), key=lambda r: r[1]
        ):
            with self._lock:
                if len(self._inflight) >= self.pool_size:
                    break
                if channel_id in self._inflight:
                    continue
            claim = self._claim(mid, now)
            if claim is None:
                continue
            with self._lock:
                fut = self._pool.submit(self._attempt, mid, claim, channel_id)
                self._inflight[channel_id] = (mid, claim, fut)
            claimed += 1
        return claimed

    def _claim(self, mid: int, now: dt.datetime) -> str | None:
        claim = uuid.uuid4().hex
        with session_scope(self.engine) as s:
            msg = s.get(OutboxMessage, mid)
            if msg is None:
                return None
            was_leased = msg.status == SENDING
            due = (msg.status == PENDING and msg.next_attempt_at <= now) or (
                msg.status == SENDING and msg.lease_until is not None and msg.lease_until < now
            )
            if not due:
                return None
            cond = (
                sa.and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now)
                if not was_leased
                else sa.and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.lease_until) < now)
            )
            res = s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, cond)
                .values(
                    status=SENDING,
                    claim=claim,
                    lease_until=now + dt.timedelta(seconds=self.lease_s),
                    attempts=col(OutboxMessage.attempts) + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return None
            if was_leased:
                # the process that held it stopped before recording a result: it may or may not have gone out
                s.add(
                    DeliveryAttempt(
                        message_id=mid,
                        at=now,
                        ok=False,
                        error="interrupted: no result recorded (process stopped while sending?)",
                        worker=self.worker[:100],
                    )
                )
                log.warning("message %s: previous attempt never finished (lease expired); sending again", mid)
        return claim

    def _attempt(self, mid: int, claim: str, channel_id: int) -> None:
        with self._lock:
            self._started.add(claim)
        try:
            with Session(self.engine) as s:
                msg = s.get(OutboxMessage, mid)
                ch = s.get(ContactChannel, channel_id)
                contact = s.get(Contact, msg.contact_id) if msg is not None and msg.contact_id else None
                thumb = s.get(Thumbnail, msg.thumbnail_id) if msg is not None and msg.thumbnail_id else None
                if msg is None:
                    return
                subject, body = msg.subject, msg.body
                camera = (msg.camera_ids or ["camera"])[0]
                url = ch.url if ch is not None else None
                usable = ch is not None and ch.enabled and (contact is None or contact.enabled)
                jpeg = thumb.jpeg if thumb is not None else None
            if not usable or url is None:
                self._finish(mid, claim, None, cancel="channel or contact disabled or removed")
                return
            _register_secrets(url)
            attachments = [chans.Attachment(f"{camera}.jpg", jpeg)] if jpeg else []
            outcome = self.sender(
                url, subject, body, attachments=attachments, timeout_s=self.attempt_timeout_s
            )
            self._finish(mid, claim, outcome)
        except Exception as exc:
            log.exception("message %s: attempt crashed", mid)
            try:
                self._finish(mid, claim, chans.SendOutcome(False, f"internal error: {type(exc).__name__}"))
            except Exception:
                log.exception("message %s: could not record the failed attempt (lease will expire)", mid)
        finally:
            with self._lock:
                self._inflight.pop(channel_id, None)
                self._started.discard(claim)
            self.wake.set()

    def _finish(
        self, mid: int, claim: str, outcome: chans.SendOutcome | None, *, cancel: str | None = None
    ) -> None:
        now = self.clock()
        with session_scope(self.engine) as s:
            msg = s.get(OutboxMessage, mid)
            if msg is None:
                return
            if outcome is not None:
                s.add(
                    DeliveryAttempt(
                        message_id=mid,
                        at=now,
                        duration_ms=round(outcome.duration_ms, 1),
                        ok=outcome.ok,
                        error=outcome.error,
                        worker=self.worker[:100],
                    )
                )
            if cancel is not None:
                values: dict[str, Any] = {"status": CANCELLED, "last_error": cancel}
            elif outcome is not None and outcome.ok:
                values = {"status": SENT, "sent_at": now, "last_error": None}
            elif msg.attempts >= self.cfg.max_attempts:
                values = {"status": FAILED, "last_error": outcome.error if outcome else "failed"}
                log.error(
                    "message %s to %s: giving up after %d attempts", mid, msg.contact_name, msg.attempts
                )
            else:
                wait = backoff_s(msg.attempts, self.cfg.backoff_max_s)
                values = {
                    "status": PENDING,
                    "next_attempt_at": now + dt.timedelta(seconds=wait),
                    "last_error": outcome.error if outcome else "failed",
                }
                log.warning(
                    "message %s to %s (%s): attempt %d failed (%s); next in %.0f s",
                    mid,
                    msg.contact_name,
                    msg.channel_label,
                    msg.attempts,
                    outcome.error if outcome else "?",
                    wait,
                )
            values.update(claim=None, lease_until=None)
            res = s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, col(OutboxMessage.claim) == claim)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                log.warning(
                    "message %s: lease lost while sending; attempt recorded, status left to its new owner",
                    mid,
                )
            elif outcome is not None and outcome.ok:
                log.info(
                    "message %s (%s) sent to %s via %s", mid, msg.kind, msg.contact_name, msg.channel_label
                )

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait (bounded) until no attempt is in flight. True when idle."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.in_flight() == 0:
                return True
            time.sleep(0.02)
        return self.in_flight() == 0

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop sending: attempts not begun are released at once (sent by the next start), running ones get
        ``timeout_s`` to finish; an attempt still running after that keeps its lease until it expires."""
        self._closed = True
        with self._lock:
            queued = [(cid, mid, claim, fut) for cid, (mid, claim, fut) in self._inflight.items()]
        for _cid, mid, claim, fut in queued:
            if fut.cancel():
                self._release(mid, claim)
                with self._lock:
                    self._inflight.pop(_cid, None)
        self.wait_idle(timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _release(self, mid: int, claim: str) -> None:
        with session_scope(self.engine) as s:
            s.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id) == mid, col(OutboxMessage.claim) == claim)
                .values(
                    status=PENDING, claim=None, lease_until=None, attempts=col(OutboxMessage.attempts) - 1
                )
                .execution_options(synchronize_session=False)
            )


def _register_secrets(url: str) -> None:
    """Teach the process-wide log filter this channel's secrets, so no log line can carry them."""
    add_secrets(chans.secrets_of(url))
