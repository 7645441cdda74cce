"""A recorder worker never lets a password out in its events, even when FFmpeg's error echoes the URL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from camsvc.recording.writer import Recorder

PASSWORD = "S3cret-Pw-xyz"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_recorder_error_is_redacted(tmp_path: Path) -> None:
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{_closed_port()}/Streaming/Channels/101"
    events: list[dict[str, object]] = []
    err = Recorder(
        "c1",
        url,
        "main",
        tmp_path,
        segment_s=4,
        open_timeout_s=2,
        read_timeout_s=2,
        emit=events.append,
        secrets=[PASSWORD],
    ).run()
    assert err and PASSWORD not in err


def test_worker_events_are_redacted(tmp_path: Path) -> None:
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{_closed_port()}/Streaming/Channels/101?pwd={PASSWORD}"
    cmd = {
        "cmd": "start",
        "camera_id": "c1",
        "session": 1,
        "url": url,
        "stream": "main",
        "root": str(tmp_path),
        "segment_s": 4,
        "open_timeout_s": 2,
        "read_timeout_s": 2,
        "secrets": [PASSWORD],
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, runpy; sys.argv=['w']; runpy.run_module('camsvc.recording.worker', run_name='__main__')",
        ],
        input=json.dumps(cmd) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert PASSWORD not in proc.stdout and PASSWORD not in proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(e["event"] == "stopped" and e["error"] for e in events), events
    assert not list(tmp_path.rglob("*"))
