"""Per-camera depth memory for the scheduler: which depth the next check gets, learned from results.

The rules are :mod:`camsvc.probing.depth` (pure); this keeps one :class:`DepthState` per camera behind a
lock. Use::

    tracker = DepthTracker(settings.probe)
    fut = pool.submit(url, kind=kind, depth=tracker.next(camera_id))
    tracker.watch(camera_id, fut)          # learns from the result when it arrives
    tracker.degraded(camera_id)            # the picture was judged faulty: full checks until healthy again

Only the ``packets`` engine has light checks: with ``decode`` every check is full.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from camsvc.config import ProbeSettings
from camsvc.probing.depth import FULL, DepthState, PacketProfile, ProbeDepth, choose, update
from camsvc.probing.result import ProbeResult


def profile_from_result(result: ProbeResult) -> PacketProfile | None:
    stats = result.packet_stats
    if not stats:
        return None
    return PacketProfile(
        fps=result.fps,
        bitrate_kbps=result.bitrate_kbps,
        key_bytes=stats.get("key_bytes"),
        p_median_bytes=stats.get("p_median_bytes"),
        packets=int(stats.get("packets", 0)),
    )


class DepthTracker:
    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._states: dict[str, DepthState] = {}
        # One token per camera watched since it was last forgotten: a probe that was in flight when its
        # camera was deleted or given another URL finds another token (or none) and teaches nothing.
        self._tokens: dict[str, object] = {}

    def next(self, camera_id: str) -> ProbeDepth:
        if self.settings.engine != "packets":
            return FULL
        with self._lock:
            state = self._states.get(camera_id, DepthState())
        return choose(state, self.settings.light_after_healthy, self.settings.full_every)

    def record(self, camera_id: str, result: ProbeResult) -> None:
        with self._lock:
            self._record(camera_id, result)

    def _record(self, camera_id: str, result: ProbeResult) -> None:
        full = result.depth in (None, "full", "escalated")
        different = result.depth == "escalated" or bool(result.faults)
        state = self._states.get(camera_id, DepthState())
        self._states[camera_id] = update(
            state,
            ok=result.ok,
            full=full,
            different=different,
            profile=profile_from_result(result),
        )

    def degraded(self, camera_id: str) -> None:
        """The camera's picture was judged faulty: its next checks are full."""
        with self._lock:
            state = self._states.get(camera_id, DepthState())
            self._states[camera_id] = update(state, ok=True, full=True, different=False, degraded=True)

    def watch(self, camera_id: str, fut: Future[ProbeResult]) -> None:
        """Record *fut*'s result when it completes, unless the camera was forgotten in the meantime."""
        with self._lock:
            token = self._tokens.setdefault(camera_id, object())

        def done(f: Future[ProbeResult]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            with self._lock:
                if self._tokens.get(camera_id) is token:
                    self._record(camera_id, f.result())

        fut.add_done_callback(done)

    def seed(self, camera_id: str, state: DepthState) -> None:
        """Start a camera from a known history (a restart that kept it, or a benchmark)."""
        with self._lock:
            self._states[camera_id] = state

    def forget(self, camera_id: str) -> None:
        with self._lock:
            self._states.pop(camera_id, None)
            self._tokens.pop(camera_id, None)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._states)
