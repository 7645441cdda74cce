"""Many probes at once, each bounded in time, none able to take the caller down.

Process model (measured choice, see docs/probing.md): ``workers`` worker processes, each running up to
``threads_per_worker`` probes in threads. Threads are cheap and OpenCV releases the GIL while it waits and
decodes, so one process holds many probes; processes contain what threads cannot: a decoder that crashes
(segfault) or a probe that wedges. Workers are started with ``spawn`` (no fork of a threaded parent) and set
OpenCV's process-wide environment before ``cv2`` loads.

The parent enforces the hard budget. A probe still running at ``budget + grace`` gets a ``timeout``
(``stalled`` once its stream had opened) result at once; its worker is retired: it takes no new probes, a
fresh worker replaces it, and it is stopped as soon as its other probes are done. A worker that dies
is restarted and its in-flight probes return ``decode_error`` ("decoder crashed"): which one of them
crashed it cannot be known.

Credentials: the URL (with its password) goes to the worker through a pipe and is never logged; what
workers print on stderr (FFmpeg, tracebacks) and log is scrubbed before it reaches the parent's logs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from camsvc.config import ProbeSettings
from camsvc.enums import ErrorClass, StreamKind
from camsvc.probing.depth import ProbeDepth
from camsvc.probing.result import ProbeResult
from camsvc.probing.target import InvalidURL, parse_target
from camsvc.redact import redact_text

log = logging.getLogger(__name__)

GRACE_S = 2.0  # past its budget a probe is given up
START_TIMEOUT_S = 30.0  # a worker must report ready within this
_POLL_S = 0.05  # manager loop tick (deadlines are checked at this resolution)
_MAX_FAILED_STARTS = 3


@dataclass(eq=False)
class _Task:
    id: int
    url: str  # with credentials: only ever sent to a worker
    redacted: str
    kind: StreamKind | None
    budget_s: float
    keep_frames: bool
    secrets: tuple[str, ...]
    depth: ProbeDepth | None = None
    future: Future[ProbeResult] = field(default_factory=Future)
    deadline: float = 0.0
    dispatched_at: float = 0.0
    stage: str = "start"


class _Worker:
    def __init__(self, slot: int, process: Any, conn: Connection, threads: int) -> None:
        self.slot = slot
        self.process = process
        self.conn = conn
        self.threads = threads
        self.tasks: dict[int, _Task] = {}
        self.abandoned: set[int] = set()  # overran tasks whose threads may still be busy
        self.ready = False
        self.retiring = False
        self.started_at = time.monotonic()
        self.pid: int | None = process.pid

    @property
    def busy(self) -> int:
        return len(self.tasks) + len(self.abandoned)

    @property
    def accepting(self) -> bool:
        return self.ready and not self.retiring and self.busy < self.threads


class ProbePool:
    """A bounded pool of probe worker processes; ``submit`` returns a Future of a :class:`ProbeResult`."""

    def __init__(
        self, settings: ProbeSettings, *, grace_s: float = GRACE_S, postprocess: str | None = None
    ) -> None:
        """*postprocess*: optional ``"module:function"`` run in the worker on each result while its frames
        are still there (e.g. picture analysis filling ``metrics``/``faults``); frames then cross the
        process boundary only for ``keep_frames=True`` submissions. It runs in the worker's probe threads
        (so it must be thread-safe); if it raises, the error is logged and the result sent unchanged."""
        if postprocess is not None and (postprocess.count(":") != 1 or not all(postprocess.split(":"))):
            raise ValueError(f"postprocess must be 'module:function', got {postprocess!r}")
        self.settings = settings
        self.grace_s = grace_s
        self.postprocess = postprocess
        self._lock = threading.RLock()
        self._workers: list[_Worker] = []
        self._pending: deque[_Task] = deque()
        self._ids = itertools.count(1)
        self._manager: threading.Thread | None = None
        self._stop = threading.Event()
        self._closing = False
        self._started = False
        self._failed_starts = 0
        self._broken: str | None = None
        self._restart_at: dict[int, float] = {}  # slot -> when to start its replacement
        self._counts = {"submitted": 0, "completed": 0, "timeouts": 0, "crashes": 0, "worker_restarts": 0}

    # --- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and wait (bounded) until they are ready to probe."""
        with self._lock:
            if self._started:
                raise RuntimeError("ProbePool already started")
            self._started = True
            for slot in range(self.settings.workers):
                self._workers.append(self._spawn(slot))
        self._manager = threading.Thread(target=self._run, name="camsvc-probe-pool", daemon=True)
        self._manager.start()
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            with self._lock:
                if all(w.ready for w in self._workers) or self._broken:
                    break
            time.sleep(0.02)
        with self._lock:
            if self._broken:
                raise RuntimeError(f"probe workers cannot start: {self._broken}")
        log.info(
            "probe pool started: %d workers x %d threads",
            self.settings.workers,
            self.settings.threads_per_worker,
        )

    def close(self, timeout_s: float = 5) -> None:
        """Stop taking probes; wait up to *timeout_s* for running ones, then stop the workers.

        Probes still queued or running at the end are cancelled (their futures raise CancelledError).
        """
        with self._lock:
            if not self._started or self._closing:
                self._closing = True
                return
            self._closing = True
            for task in self._pending:
                task.future.cancel()
            self._pending.clear()
        end = time.monotonic() + max(0.0, timeout_s)
        while time.monotonic() < end:
            with self._lock:
                if not any(w.tasks for w in self._workers):
                    break
            time.sleep(0.02)
        self._stop.set()
        if self._manager is not None:
            self._manager.join(5)
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for w in workers:
            for task in w.tasks.values():
                task.future.cancel()
            self._stop_worker(w)
        log.info("probe pool closed: %s", self._counts)

    def __enter__(self) -> ProbePool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- API -----------------------------------------------------------------------------------------

    def submit(
        self,
        url: str,
        *,
        kind: StreamKind | str | None = None,
        budget_s: float | None = None,
        keep_frames: bool = True,
        depth: ProbeDepth | None = None,
    ) -> Future[ProbeResult]:
        """Queue one probe. Invalid URLs resolve at once (``invalid_url``) without touching a worker.
        *depth*: full (the default) or light (:mod:`camsvc.probing.depth`)."""
        kind = StreamKind(kind) if kind is not None else None
        budget = self.settings.budget_s if budget_s is None else float(budget_s)
        if not budget > 0:
            raise ValueError(f"budget_s must be > 0, got {budget_s!r}")
        from camsvc.probing.stream import invalid_result

        with self._lock:
            if not self._started or self._closing:
                raise RuntimeError("ProbePool is not running (call start(), or it was closed)")
            self._counts["submitted"] += 1
        try:
            target = parse_target(url, kind)
        except InvalidURL as exc:
            fut: Future[ProbeResult] = Future()
            fut.set_result(invalid_result(url, str(exc)))
            with self._lock:
                self._counts["completed"] += 1
            return fut
        task = _Task(
            id=next(self._ids),
            url=url,
            redacted=target.redacted,
            kind=kind,
            budget_s=budget,
            keep_frames=keep_frames,
            secrets=target.secrets,
            depth=depth,
        )
        with self._lock:
            if self._broken:
                self._finish(task, self._failure(task, ErrorClass.DECODE_ERROR, self._broken))
                return task.future
            self._pending.append(task)
            self._dispatch()
        return task.future

    def stats(self) -> dict[str, Any]:
        """Saturation and health counters (for /metrics)."""
        with self._lock:
            active = [w for w in self._workers if not w.retiring]
            return {
                "workers": len(active),
                "capacity": sum(w.threads for w in active),
                "in_flight": sum(len(w.tasks) for w in self._workers),
                "wedged": sum(len(w.abandoned) for w in self._workers),
                "queued": len(self._pending),
                **self._counts,
            }

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None and w.process.is_alive()]

    # --- internals (the lock is held by callers of the underscore methods unless said otherwise) ------

    def _spawn(self, slot: int) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "camsvc.probing.worker", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            child_sock.close()
        conn = Connection(parent_sock.detach())
        level = logging.getLogger("camsvc").getEffectiveLevel()
        conn.send(("init", self.settings.model_dump(mode="json"), level, self.postprocess))
        return _Worker(slot, _Process(process), conn, self.settings.threads_per_worker)

    def _dispatch(self) -> None:
        while self._pending:
            candidates = [w for w in self._workers if w.accepting]
            if not candidates:
                return
            worker = min(candidates, key=lambda w: w.busy)
            task = self._pending.popleft()
            if task.future.done():  # cancelled by the caller while queued
                continue
            now = time.monotonic()
            task.dispatched_at = now
            task.deadline = now + task.budget_s + self.grace_s
            try:
                worker.conn.send(
                    ("probe", task.id, task.url, task.kind, task.budget_s, task.keep_frames, task.depth)
                )
            except (OSError, ValueError):
                self._pending.appendleft(task)
                worker.ready = False  # its death will be noticed by the manager loop
                continue
            worker.tasks[task.id] = task

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the manager must survive its own bugs
                log.exception("probe pool manager error")
                time.sleep(_POLL_S)

    def _tick(self) -> None:
        with self._lock:
            by_conn = {w.conn: w for w in self._workers}
        ready: list[Any] = []
        if by_conn:
            ready = wait(list(by_conn), timeout=_POLL_S)
        else:
            time.sleep(_POLL_S)
        dead: list[_Worker] = []
        for obj in ready:
            worker = by_conn[obj]  # type: ignore[index]
            try:
                while worker.conn.poll():
                    self._on_message(worker, worker.conn.recv())
            except (EOFError, OSError):  # the worker's end closed: it died
                dead.append(worker)
        with self._lock:
            for worker in dict.fromkeys(dead):
                if worker in self._workers:
                    self._on_death(worker)
            self._check_deadlines()
            self._reap_retired()
            self._restart_due()
            self._dispatch()

    def _on_message(self, worker: _Worker, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "result":
            _, task_id, result = msg
            with self._lock:
                worker.abandoned.discard(task_id)
                task = worker.tasks.pop(task_id, None)
                if task is not None:
                    self._finish(task, result)
                self._dispatch()
        elif kind == "progress":
            _, task_id, stage = msg
            with self._lock:
                task = worker.tasks.get(task_id)
                if task is not None:
                    task.stage = stage
        elif kind == "log":
            _, level, name, text = msg
            with self._lock:
                secrets = [s for t in worker.tasks.values() for s in t.secrets]
            logging.getLogger(name).log(level, "[worker %s] %s", worker.pid, redact_text(text, secrets))
        elif kind == "ready":
            with self._lock:
                worker.ready = True
                self._failed_starts = 0
                self._dispatch()

    def _finish(self, task: _Task, result: ProbeResult) -> None:
        self._counts["completed"] += 1
        if not task.future.done():
            task.future.set_result(result)

    def _failure(self, task: _Task, error: ErrorClass, detail: str) -> ProbeResult:
        elapsed = time.monotonic() - task.dispatched_at if task.dispatched_at else 0.0
        return ProbeResult(
            url=task.redacted,
            ok=False,
            error=error,
            detail=detail,
            total_ms=elapsed * 1000,
            stream_kind=task.kind,
            started_at=time.time() - elapsed,
        )

    def _on_death(self, worker: _Worker) -> None:
        with contextlib.suppress(EOFError, OSError):  # results sent just before it died still count
            while worker.conn.poll():
                self._on_message(worker, worker.conn.recv())
        worker.process.join(0.5)
        code = worker.process.exitcode
        how = _describe_exit(code)
        self._workers.remove(worker)
        with contextlib.suppress(OSError):
            worker.conn.close()
        if worker.tasks:
            self._counts["crashes"] += 1
            log.warning(
                "probe worker %s died (%s) with %d probes in flight", worker.pid, how, len(worker.tasks)
            )
        for task in worker.tasks.values():
            self._finish(task, self._failure(task, ErrorClass.DECODE_ERROR, f"decoder crashed ({how})"))
        worker.tasks.clear()
        if self._stop.is_set() or self._closing:
            return
        if worker.retiring:
            return  # its replacement already runs
        if not worker.ready:
            self._failed_starts += 1
            if self._failed_starts >= _MAX_FAILED_STARTS:
                self._broken = f"worker exited at start-up ({how})"
                for task in self._pending:
                    self._finish(task, self._failure(task, ErrorClass.DECODE_ERROR, self._broken))
                self._pending.clear()
        delay = min(5.0, 0.5 * 2**self._failed_starts) if self._failed_starts else 0.0
        self._restart_at[worker.slot] = time.monotonic() + delay

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot, when in list(self._restart_at.items()):
            if now >= when:
                del self._restart_at[slot]
                self._workers.append(self._spawn(slot))
                self._counts["worker_restarts"] += 1
                log.info("probe worker slot %d restarted", slot)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            for task in [t for t in worker.tasks.values() if now > t.deadline]:
                del worker.tasks[task.id]
                worker.abandoned.add(task.id)
                self._counts["timeouts"] += 1
                from camsvc.probing.stream import overrun_result

                self._finish(
                    task,
                    overrun_result(
                        task.redacted, task.stage, task.budget_s, now - task.dispatched_at, task.kind
                    ),
                )
                log.warning(
                    "probe of %s overran its %.1f s budget; worker %s retired",
                    task.redacted,
                    task.budget_s,
                    worker.pid,
                )
                if not worker.retiring and not self._closing:
                    worker.retiring = True
                    self._workers.append(self._spawn(worker.slot))
                    self._counts["worker_restarts"] += 1
            if not worker.ready and now - worker.started_at > START_TIMEOUT_S and worker.process.is_alive():
                log.warning("probe worker %s did not start in time; killed", worker.pid)
                worker.process.kill()

    def _reap_retired(self) -> None:
        for worker in [w for w in self._workers if w.retiring and not w.tasks]:
            self._workers.remove(worker)
            self._stop_worker(worker)

    def _stop_worker(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError, ValueError):
            worker.conn.send(("stop",))
        worker.process.join(0.5)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(2)
        with contextlib.suppress(OSError):
            worker.conn.close()


class _Process:
    """The few things the pool needs from a worker process."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
