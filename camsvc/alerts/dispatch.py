"""The dispatcher: state changes in, messages out, nothing lost.

One pass (:meth:`Dispatcher.run_once`, the time passed in) runs three phases, one module each:

1. **Intake** (:mod:`camsvc.alerts.intake`): each pending ``Transition`` is claimed and, in the same
   transaction, turned into incident membership; an incident whose cameras are all back is resolved.
2. **Timers** (:mod:`camsvc.alerts.timers`): per open incident, the first alert after the group wait,
   updates, escalation and reminders, each step guarded by a conditional update.
3. **Delivery** (:mod:`camsvc.alerts.delivery`): per channel, the oldest unfinished message is leased and
   sent in a bounded pool; every attempt is recorded, failures retry with backoff.

Every message the first two decide goes through one routed-notify step (:func:`camsvc.alerts.notify.notify`)
that writes it to the outbox in the transaction deciding it.

Crash safety: everything decided is in the database before anything is sent. A restart re-reads pending
transitions, open incidents and unfinished messages. The one duplicate possible is a message that was
delivered but whose result was not yet recorded when the process died: its lease expires
(``attempt_timeout_s + LEASE_MARGIN_S``) and it is sent again. That window is the few milliseconds between
the channel accepting the message and the commit that marks it sent.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from camsvc.alerts import zalo
from camsvc.alerts.delivery import Delivery, Sender
from camsvc.alerts.intake import Intake
from camsvc.alerts.notify import World, load_world
from camsvc.alerts.signing import signing_key
from camsvc.alerts.timers import Timers
from camsvc.config import Settings


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class PassStats:
    transitions: int = 0
    queued: int = 0
    claimed: int = 0

    def __bool__(self) -> bool:
        return bool(self.transitions or self.queued or self.claimed)


class Dispatcher:
    """The three phases over one database; what the runtime, the CLI and the tests drive."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        pool_size: int = 4,
        attempt_timeout_s: float = 20.0,
        sender: Sender | None = None,
        worker: str | None = None,
    ):
        self.settings = settings
        self.engine = engine
        zalo.use_engine(engine)  # zalo:// channels that refresh their access token keep it in this database
        self.clock = clock
        self._key: bytes | None = None
        self.intake = Intake(settings, engine, self.world)
        self.timers = Timers(settings, engine, self.world)
        self.delivery = Delivery(
            settings,
            engine,
            clock=clock,
            pool_size=pool_size,
            attempt_timeout_s=attempt_timeout_s,
            sender=sender,
            worker=worker,
        )

    @property
    def wake(self) -> threading.Event:
        """Set when an attempt finishes: the next message of its channel is due."""
        return self.delivery.wake

    def run_once(self, now: dt.datetime | None = None) -> PassStats:
        now = now or self.clock()
        # Resolve the signing key before any transaction: creating it opens its own write transaction,
        # which would wait forever (SQLite) on the one a transition's processing holds in this thread.
        self.signing_key()
        stats = PassStats()
        stats.transitions = self.intake.run(now)
        stats.queued = self.timers.run(now)
        stats.claimed = self.delivery.run(now)
        return stats

    def signing_key(self) -> bytes:
        if self._key is None:
            self._key = signing_key(self.settings, self.engine)
        return self._key

    def world(self, s: Session) -> World:
        return load_world(s, self.settings, self.signing_key())

    def in_flight(self) -> int:
        return self.delivery.in_flight()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait (bounded) until no attempt is in flight. True when idle."""
        return self.delivery.wait_idle(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop sending (see :meth:`camsvc.alerts.delivery.Delivery.close`)."""
        self.delivery.close(timeout_s)
