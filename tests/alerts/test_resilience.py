"""Delivery that loses nothing: a slow channel does not hold up the others, secrets stay out of errors and
logs, and a dispatcher process killed with SIGKILL loses no alert (and sends none twice) after a restart."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.alerts.dispatch import Dispatcher
from camsvc.alerts.models import DeliveryAttempt, Incident, OutboxMessage
from camsvc.bench.common import free_port, wait_until
from camsvc.config import Settings
from camsvc.models import Transition
from tests.alerts.conftest import T0, Clock, Fleet, add_cameras, add_contact, messages, pump
from tests.alerts.receivers import SmtpSink

pytestmark = pytest.mark.integration

BCT = "Bắc Chiến Thắng"
SECRET = "Pw-4f9d-do-not-leak"


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung receiver)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield int(srv.getsockname()[1])
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_a_hung_channel_does_not_hold_up_the_others(
    alert_settings: Settings, alert_engine: Engine, clock: Clock, fleet: Fleet, smtp: SmtpSink, blackhole: int
) -> None:
    d = Dispatcher(alert_settings, alert_engine, clock=clock, pool_size=2, attempt_timeout_s=2.0)
    try:
        bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
        # the hung webhook is first in line, and the pool has only two workers
        add_contact(
            alert_engine, "Hung", [f"json://127.0.0.1:{blackhole}/a", f"json://127.0.0.1:{blackhole}/b"], [{}]
        )
        add_contact(alert_engine, "Mail", [smtp.url("m@example.org")], [{}])
        fleet.up(bct, T0)
        fleet.down(bct, clock.advance(60))
        clock.advance(45)
        d.run_once()
        assert d.in_flight() == 2  # both hung channels took a worker...
        # ...and the mail still goes out once the attempt timeout (2 s) frees one: a hung attempt that
        # was never cut off would hold both workers for good, and the mail would never leave. The loop
        # is bounded by count (50 rounds, at least 10 s), not by a deadline on a shared machine.
        for _ in range(50):
            d.run_once()
            if smtp.count():
                break
            time.sleep(0.2)
        assert smtp.to("m@example.org"), "mail held up by the hung webhook"
        assert d.wait_idle(10)
        with Session(alert_engine) as s:
            hung = s.exec(select(DeliveryAttempt).where(DeliveryAttempt.ok == False)).all()  # noqa: E712
            assert len(hung) == 2 and all("timed out" in (a.error or "") for a in hung)
            assert all(a.duration_ms < 10_000 for a in hung)  # cut off, not left to hang
            pending = s.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
            assert len(pending) == 2  # retried later, not lost
            sent = s.exec(select(DeliveryAttempt).where(DeliveryAttempt.ok == True)).all()  # noqa: E712
            assert len(sent) == 1  # the mail, on its first attempt
    finally:
        d.close(5)


def test_channel_secrets_never_reach_errors_logs_or_history(
    dispatcher: Dispatcher, alert_engine: Engine, clock: Clock, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
    port = free_port()  # nothing listens
    add_contact(
        alert_engine,
        "Tuấn",
        [
            f"mailto://tuan:{SECRET}@127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure&from=a@example.org&to=t@example.org"
        ],
        [{}],
    )
    fleet.up(bct, T0)
    fleet.down(bct, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: len(_attempts(alert_engine)) >= 2, step_s=1.0)
    errors = [a.error or "" for a in _attempts(alert_engine)]
    assert all("127.0.0.1" in e for e in errors)
    history = " ".join(f"{m.channel_label} {m.last_error} {m.body}" for m in messages(alert_engine))
    assert "tuan:****@127.0.0.1" in history
    for text in (*errors, history, caplog.text):
        assert SECRET not in text


def _attempts(engine: Engine) -> list[DeliveryAttempt]:
    with Session(engine) as s:
        return list(s.exec(select(DeliveryAttempt)).all())


# ---------------------------------------------------------------------------------------------- SIGKILL
class DispatcherProcess:
    """``camsvc alerts run`` as a real process, with its log lines collected (bounded waits only)."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "camsvc.cli", "alerts", "run"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def ready(self, timeout_s: float = 30) -> bool:
        return wait_until(lambda: any("alert dispatcher running" in x for x in self.lines), timeout_s)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(5)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(5)


@pytest.mark.slow
def test_dispatcher_killed_with_sigkill_loses_and_duplicates_nothing(
    tmp_path: Path, alert_engine: Engine, alert_settings: Settings, smtp: SmtpSink
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")}
    env.update(
        CAMSVC_DATA_DIR=str(alert_settings.data_dir),
        CAMSVC_PUBLIC_URL="http://camsvc.test:8080",
        CAMSVC_ALERTS__GROUP_WAIT_S="4",
        CAMSVC_ALERTS__DISPATCH_INTERVAL_S="0.1",
        CAMSVC_ALERTS__BACKOFF_MAX_S="0.5",
        CAMSVC_CHECKS__INTERVAL_S="5",  # updates wait max(group wait, check interval)
        CAMSVC_LOG_LEVEL="INFO",
    )
    bct = add_cameras(alert_engine, 2, BCT, prefix="bct")
    add_contact(alert_engine, "Tuấn", [smtp.url("t@example.org")], [{}])
    fleet = Fleet(alert_engine, alert_settings)
    now = dt.datetime.now(dt.UTC)
    fleet.up(bct, now - dt.timedelta(minutes=5))

    # 1. killed during the group wait: the state change was taken, nothing was sent yet
    p = DispatcherProcess(tmp_path, env)
    try:
        assert p.ready(), "".join(p.lines)
        fleet.down([bct[0]], dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10), retry_s=10)
        assert wait_until(lambda: _processed(alert_engine) == 1, 10), "".join(p.lines)
    finally:
        p.kill()
    with Session(alert_engine) as s:
        assert s.exec(select(Incident)).one().alerted_at is None
    assert smtp.count() == 0

    # 2. the mail server is down; restarted, it queues the alert and fails to send it; killed again
    smtp.stop()
    p = DispatcherProcess(tmp_path, env)
    try:
        assert p.ready(), "".join(p.lines)
        assert wait_until(lambda: len(_attempts(alert_engine)) >= 2, 20), "".join(p.lines)
    finally:
        p.kill()
    assert [m.status for m in messages(alert_engine)] in (["pending"], ["sending"])
    assert smtp.count() == 0

    # 3. a second camera fails while no dispatcher runs; mail is back; one more restart delivers everything once
    fleet.down([bct[1]], dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10), retry_s=10)
    smtp.start()
    p = DispatcherProcess(tmp_path, env)
    try:
        assert p.ready(), "".join(p.lines)
        assert wait_until(lambda: smtp.count() >= 2, 30), "".join(p.lines)
        time.sleep(1.5)  # a little longer: nothing more may come
    finally:
        assert p.stop() == 0
    mails = smtp.to("t@example.org")
    assert len(mails) == 2, [m.subject for m in mails]
    assert "BCT 1" in mails[0].subject and "THÊM 1 camera" in mails[1].subject
    assert all(m.status == "sent" for m in messages(alert_engine))


def _processed(engine: Engine) -> int:
    with Session(engine) as s:
        return sum(
            1
            for t in s.exec(select(Transition)).all()
            if t.processed_at is not None and t.new_state.value == "down"
        )
