"""The dead-man heartbeat, and the pipeline jobs every process runs (monitor + heartbeat).

While checks run, camsvc POSTs ``settings.pipeline.heartbeat_url`` every ``heartbeat_interval_s``
(healthchecks-style: the receiver alerts someone when pings stop, so a camsvc that is dead, frozen or cut
off is noticed from outside). When the pipeline is failing it POSTs ``<url>/fail`` instead (when
``heartbeat_fail``), or stays silent. The body is a small JSON summary: status and reason codes, no camera
names, no secrets. The URL itself is secret-ish (the ping key is the credential): logs show only its
scheme and host.

The request goes through the outbound allow-list (camsvc/netpolicy.py: the host must resolve into
``network.allowed_networks`` right before each ping), has a bounded timeout, and runs on its own thread:
it never delays a check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from camsvc import netpolicy
from camsvc.runtime.pipeline import FAILING, Health, PipelineMonitor, PipelineProbe

log = logging.getLogger(__name__)


def target(url: str, status: str, fail_enabled: bool) -> str | None:
    """Pure: where this heartbeat goes: the URL while checks run, ``<url>/fail`` when failing (or nothing
    when /fail is off), nothing without a URL."""
    if not url:
        return None
    if status != FAILING:
        return url
    if not fail_enabled:
        return None
    parts = urlsplit(url)
    return parts._replace(path=parts.path.rstrip("/") + "/fail").geturl()


def redacted(url: str) -> str:
    """Pure: scheme and host only (the path of a ping URL is its key)."""
    try:
        p = urlsplit(url)
        return f"{p.scheme}://{p.hostname or '?'}{':' + str(p.port) if p.port else ''}/…"
    except ValueError:
        return "(unparsable URL)"


class Heartbeat:
    """Pings on its own thread. ``beat(health)`` sends one ping now (tests, and the loop)."""

    def __init__(self, settings: Any, health: Callable[[], Health]):
        self.settings = settings
        self.health = health
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    @property
    def url(self) -> str:
        return str(self.settings.pipeline.heartbeat_url or "")

    def start(self) -> None:
        if self.url and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
            self._thread.start()
            log.info("dead-man heartbeat to %s every %.0f s", redacted(self.url), self.interval_s)

    @property
    def interval_s(self) -> float:
        return float(self.settings.pipeline.heartbeat_interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.beat(self.health())
            except Exception:
                log.exception("heartbeat failed")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def beat(self, h: Health) -> bool:
        p = self.settings.pipeline
        to = target(self.url, h.status, p.heartbeat_fail)
        if to is None:
            return False
        try:
            netpolicy.check_url(to, unresolvable_ok=False)
            r = httpx.post(
                to,
                json={"status": h.status, "reasons": h.reasons},
                timeout=p.heartbeat_timeout_s,
                follow_redirects=False,
            )
            r.raise_for_status()
        except (netpolicy.Refused, httpx.HTTPError) as exc:
            self.failed += 1
            # the exception text may hold the URL: only its class, and the redacted target
            self.last_error = type(exc).__name__
            if not self._warned:
                log.warning("heartbeat to %s failed: %s", redacted(to), self.last_error)
                self._warned = True
            if isinstance(exc, netpolicy.Refused):
                log.warning("heartbeat host refused by network.allowed_networks: %s", redacted(to))
            return False
        self.sent += 1
        self._warned = False
        return True


class PipelineJobs:
    """What every process runs for the pipeline: the monitor (admin alert once) and the heartbeat.
    ``start()``/``stop()`` from the Runtime (NOTES: request to the lead) or a test."""

    def __init__(
        self, settings: Any, engine: Any, metrics: Any = None, runtime: Callable[[], Any] | None = None
    ):
        self.probe = PipelineProbe(settings, engine, metrics, runtime)
        self.monitor = PipelineMonitor(self.probe, settings.pipeline.monitor_interval_s)
        # the heartbeat reuses a fresh-enough evaluation instead of querying again
        self.heartbeat = Heartbeat(settings, lambda: self.probe.health(max_age_s=5.0))

    def start(self) -> None:
        self.monitor.start()
        self.heartbeat.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.heartbeat.stop(timeout)
        self.monitor.stop(timeout)
