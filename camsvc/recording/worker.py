"""A recorder worker process: ``python -m camsvc.recording.worker``, hosting recorders as threads.

Commands arrive on stdin as JSON lines (the only place a credential-bearing URL travels):
``{"cmd": "start", "camera_id", "session", "url", "stream", "root", "segment_s", "open_timeout_s",
"read_timeout_s", "secrets": [...]}``, ``{"cmd": "stop", "camera_id"}``, ``{"cmd": "exit"}``.
Events go back on stdout as JSON lines, each with the session it belongs to: ``ready``, ``segment``,
``status``, ``stopped`` (with ``error``) and ``log`` (scrubbed here and again in the parent). stdin closing
(the parent died) stops every recorder, closing its segment, and ends the process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from camsvc.recording.writer import Recorder
from camsvc.redact import redact_text

_out_lock = threading.Lock()
_secrets: set[str] = set()


def send(event: dict[str, Any]) -> None:
    line = json.dumps(event, default=str)
    line = redact_text(line, tuple(_secrets))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class _EventLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # logging must never raise
            send({"event": "log", "level": record.levelno, "name": record.name, "text": record.getMessage()})


class _Slot:
    def __init__(self, recorder: Recorder, session: int, thread: threading.Thread) -> None:
        self.recorder = recorder
        self.session = session
        self.thread = thread


def _run(recorder: Recorder, session: int) -> None:
    error = recorder.run()
    send({"event": "stopped", "camera_id": recorder.camera_id, "session": session, "error": error})


def main() -> int:
    # Ctrl-C and a group-wide SIGTERM are the supervisor's to handle: it tells each recorder to close its
    # segment (which is then indexed) and the worker to exit; the worker also exits when stdin closes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root_log = logging.getLogger()
    root_log.handlers[:] = [_EventLog()]
    root_log.setLevel(logging.INFO)
    import av

    av.logging.set_level(None)  # FFmpeg's own log lines can echo the URL: keep them out entirely
    slots: dict[str, _Slot] = {}
    send({"event": "ready"})
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
        except ValueError:
            continue
        what = cmd.get("cmd")
        if what == "exit":
            break
        cid = str(cmd.get("camera_id", ""))
        if what == "stop":
            slot = slots.pop(cid, None)
            if slot is not None:
                slot.recorder.stop.set()
        elif what == "start":
            old = slots.pop(cid, None)
            if old is not None:
                old.recorder.stop.set()
            session = int(cmd["session"])
            secrets = [s for s in cmd.get("secrets", []) if s]
            _secrets.update(secrets)

            def emit(event: dict[str, Any], _s: int = session) -> None:
                send({**event, "session": _s})

            rec = Recorder(
                cid,
                cmd["url"],
                cmd.get("stream", "main"),
                Path(cmd["root"]),
                segment_s=float(cmd["segment_s"]),
                open_timeout_s=float(cmd.get("open_timeout_s", 10)),
                read_timeout_s=float(cmd.get("read_timeout_s", 15)),
                emit=emit,
                secrets=secrets,
            )
            t = threading.Thread(target=_run, args=(rec, session), name=f"rec-{cid}", daemon=True)
            slots[cid] = _Slot(rec, session, t)
            t.start()
    for slot in slots.values():
        slot.recorder.stop.set()
    for slot in slots.values():
        slot.thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
