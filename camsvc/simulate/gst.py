"""Drive the GStreamer RTSP server process (gst_server.py under Debian's /usr/bin/python3) from asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import socket
import struct
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SERVER_SCRIPT = Path(__file__).with_name("gst_server.py")


def system_python() -> str:
    """The interpreter that has the ``gi`` GStreamer bindings (Debian's own python3)."""
    env = os.environ.get("CAMSVC_GST_PYTHON")
    if env:
        return env
    for cand in ("/usr/bin/python3", shutil.which("python3") or ""):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise RuntimeError("no system python3 found for the GStreamer RTSP server (set CAMSVC_GST_PYTHON)")


class GstError(RuntimeError):
    pass


class GstServer:
    """One ``gst_server.py`` child; commands are JSON lines, each answered by one line."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port: int | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._stderr: asyncio.Task[None] | None = None
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self._data: socket.socket | None = None  # access units for live mounts (see gst_server.py)
        self._data_lock = threading.Lock()

    async def start(self, timeout_s: float = 30.0) -> None:
        self._hello = asyncio.get_running_loop().create_future()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                system_python(),
                "-u",
                str(SERVER_SCRIPT),
                "--data-fd",
                str(theirs.fileno()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=1 << 20,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._data = ours
        self._reader = asyncio.create_task(self._read_stdout(), name="gst-stdout")
        self._stderr = asyncio.create_task(self._read_stderr(), name="gst-stderr")
        try:
            hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            await self.stop()
            raise
        log.info("GStreamer RTSP server pid %s (%s)", hello.get("pid"), hello.get("gst"))

    async def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                log.warning("gst_server: %s", line.decode(errors="replace").rstrip())
                continue
            if msg.get("event") == "hello":
                if self._hello is not None and not self._hello.done():
                    self._hello.set_result(msg)
                continue
            fut = self._pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        err = GstError("GStreamer RTSP server exited")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(err)

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                break
            log.warning("gst: %s", line.decode(errors="replace").rstrip())

    async def call(self, op: str, timeout_s: float = 30.0, **args: Any) -> dict[str, Any]:
        if self.proc is None or self.proc.stdin is None or self.proc.returncode is not None:
            raise GstError("GStreamer RTSP server is not running")
        cmd_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = fut
        async with self._lock:
            self.proc.stdin.write((json.dumps({"id": cmd_id, "op": op, **args}) + "\n").encode())
            await self.proc.stdin.drain()
        try:
            reply = await asyncio.wait_for(fut, timeout_s)
        finally:
            self._pending.pop(cmd_id, None)
        if not reply.get("ok"):
            raise GstError(f"gst_server {op}: {reply.get('error')}")
        return reply

    def send_au(self, path: str, wall_ms: int, key: bool, au: bytes) -> None:
        """Hand one access unit to the live mount *path* (any thread; blocks while the child is busy)."""
        sock = self._data
        if sock is None:
            raise GstError("GStreamer RTSP server is not running")
        p = path.encode()
        with self._data_lock:
            sock.sendall(struct.pack(">IQBH", len(au), wall_ms, int(key), len(p)) + p + au)

    async def listen(self, port: int, threads: int = 32) -> int:
        reply = await self.call("start", port=port, threads=threads)
        self.port = int(reply["port"])
        return self.port

    async def stop(self, timeout_s: float = 5.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()  # EOF: the server quits its main loop
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 2.0)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        if self._data is not None:
            with self._data_lock:
                self._data.close()
            self._data = None
        for task in (self._reader, self._stderr):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.proc = None
