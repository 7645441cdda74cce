"""A probe worker process: ``python -m camsvc.probing.worker FD`` (started by :class:`ProbePool`).

It talks to the pool over the socket inherited as file descriptor FD (a
:class:`multiprocessing.connection.Connection`): first ``("init", settings, log_level, postprocess)``, then
``("probe", id, url, kind, budget_s, keep_frames, depth)`` and ``("stop",)``. It answers ``("ready", pid)``,
``("progress", id, stage)``, ``("result", id, ProbeResult)`` and ``("log", level, logger, text)``.

Started as a fresh interpreter (not ``fork``, not ``multiprocessing``'s spawn which re-imports the
caller's main module): OpenCV's process-wide environment is set before ``cv2`` loads, and fd 2 (where FFmpeg
prints) is routed through the secret scrubber into the parent's log. Losing the parent ends the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

Send = Callable[[tuple[Any, ...]], None]
Scrub = Callable[[str], str]


def serve(conn: Connection) -> None:
    """Probe what the parent sends until told to stop or orphaned."""
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C and a group-wide SIGTERM are the parent's to handle:
    signal.signal(
        signal.SIGTERM, signal.SIG_IGN
    )  # it closes its workers; a worker also exits when its pipe closes
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    secrets: dict[int, tuple[str, ...]] = {}

    def scrub(text: str) -> str:
        from camsvc.redact import redact_text

        return redact_text(text, [s for group in list(secrets.values()) for s in group])

    try:
        kind, settings_data, log_level, postprocess_name = conn.recv()
    except (EOFError, OSError):
        return
    if kind != "init":
        raise RuntimeError(f"probe worker: expected init, got {kind!r}")
    from camsvc.config import ProbeSettings
    from camsvc.enums import StreamKind
    from camsvc.probing import stream
    from camsvc.probing.target import InvalidURL, parse_target

    settings = ProbeSettings.model_validate(settings_data)
    stream.configure_opencv_env(settings)  # before anything (the postprocess too) loads cv2
    postprocess = _load(postprocess_name) if postprocess_name else None
    _forward_logs(send, scrub, log_level)
    _capture_stderr(send, scrub)
    cv2 = stream.load_cv2(settings)
    cv2.setNumThreads(1)  # resize/encode of small frames: no OpenCV thread pool per worker
    if settings.engine == "packets":  # load PyAV with the worker, not in its first probes
        from camsvc.probing.packets import load_av

        load_av()

    def run(
        task_id: int,
        url: str,
        kind: StreamKind | None,
        budget_s: float,
        keep_frames: bool,
        depth: Any = None,
    ) -> None:
        try:
            try:
                target = parse_target(url, kind)
            except InvalidURL as exc:
                result = stream.invalid_result(url, str(exc))
            else:
                secrets[task_id] = target.secrets
                result = stream.run_probe(
                    target,
                    kind,
                    settings,
                    budget_s,
                    keep_frames or postprocess is not None,
                    progress=lambda stage: send(("progress", task_id, stage)),
                    depth=depth,
                )
                if postprocess is not None:
                    try:
                        postprocess(result)
                    except Exception:
                        logging.getLogger(__name__).exception("postprocess of %s failed", result.url)
                    if not keep_frames:  # frames are the bulk of a result: ship them only when asked
                        result.frames, result.frame_times = [], []
            send(("result", task_id, result))
        finally:
            secrets.pop(task_id, None)

    executor = ThreadPoolExecutor(max_workers=settings.threads_per_worker, thread_name_prefix="probe")
    send(("ready", os.getpid()))
    while True:  # ends when the parent says stop or goes away
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg[0] == "stop":
            break
        if msg[0] == "probe":
            executor.submit(run, *msg[1:])


def _load(target: str) -> Callable[[Any], None]:
    import importlib

    module, _, attr = target.partition(":")
    fn: Callable[[Any], None] = getattr(importlib.import_module(module), attr)
    return fn


class _PipeHandler(logging.Handler):
    def __init__(self, send: Send, scrub: Scrub) -> None:
        super().__init__()
        self._send = send
        self._scrub = scrub

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(("log", record.levelno, record.name, self._scrub(self.format(record))))
        except Exception:  # never let logging break a probe
            self.handleError(record)


def _forward_logs(send: Send, scrub: Scrub, level: int) -> None:
    handler = _PipeHandler(send, scrub)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _capture_stderr(send: Send, scrub: Scrub) -> None:
    """Route fd 2 (FFmpeg/OpenCV print there directly) through the scrubber into the parent's log."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            buf = b""
            while chunk := pipe.read(4096):  # ends at EOF (process exit)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode("utf-8", "replace").rstrip()
                    if text:
                        send(("log", logging.WARNING, "camsvc.probing.ffmpeg", scrub(text)))

    threading.Thread(target=pump, name="stderr-pump", daemon=True).start()


def main(argv: list[str]) -> None:
    if len(argv) != 1 or not argv[0].isdigit():
        sys.exit("usage: python -m camsvc.probing.worker FD  (started by camsvc.probing.pool.ProbePool)")
    conn = Connection(int(argv[0]))
    code = 0
    try:
        serve(conn)
    except BaseException:
        traceback.print_exc()
        code = 1
    logging.shutdown()
    # Do not wait for wedged probe threads (pool threads are joined at exit): leave at once.
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
