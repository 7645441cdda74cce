"""GStreamer RTSP server for the camera simulator: loops pre-encoded H.264 files, never re-encodes.

Runs under Debian's own ``/usr/bin/python3`` (the only interpreter with the ``gi`` GStreamer bindings), so it
uses the standard library and ``gi`` only and imports nothing from camsvc. The simulator's main process
(camsvc.simulate.gst) starts it and drives it with one JSON object per line on stdin; each command gets one
JSON reply line on stdout (``{"id": ..., "ok": true}``). EOF on stdin, SIGTERM or the parent's death stop it.

Commands (``op``):
  mount  {path, file, fps, phase}   serve ``file`` (Annex-B H.264, one access unit per AUD) at ``path``
  source {path, file, fps}          switch the mount to another file; running sessions follow at a keyframe
  ended  {path, value, after_s}     while set, sessions end (EOS -> RTCP BYE) once they played ``after_s``
  start  {port, threads}            listen (port 0: any free port); replies with the bound ``port``
  stats  {}                         counts of live sessions
  ping   {}

Each client session gets its own media (non-shared): it starts on a keyframe at the camera's "live" position
(wall clock + per-camera phase, so cameras sharing a clip show different moments) and each access unit is
pushed into an ``appsrc`` at the clip's frame rate with fresh timestamps. RTSP is TCP-only (interleaved).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

_LAUNCH = (
    "( appsrc name=src is-live=true do-timestamp=true format=time block=false max-bytes=8000000 "
    "caps=video/x-h264,stream-format=byte-stream,alignment=au "
    "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)

_out_lock = threading.Lock()


def _emit(obj: dict) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def _log(msg: str) -> None:
    sys.stderr.write("gst_server: " + msg + "\n")
    sys.stderr.flush()


class Clip:
    """An Annex-B H.264 file split into access units (each starts with an AUD NAL)."""

    def __init__(self, path: str, fps: float) -> None:
        with open(path, "rb") as f:
            data = f.read()
        starts = []
        pos = data.find(b"\x00\x00\x01\x09")
        while pos >= 0:
            s = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
            starts.append(s)
            pos = data.find(b"\x00\x00\x01\x09", pos + 4)
        if not starts:
            raise ValueError(f"{path}: no access unit delimiters (encode with aud=1)")
        starts.append(len(data))
        self.aus = [data[starts[i] : starts[i + 1]] for i in range(len(starts) - 1)]
        self.key = [self._is_key(au) for au in self.aus]
        if not any(self.key):
            raise ValueError(f"{path}: no IDR frame")
        self.fps = float(fps)
        self.path = path

    @staticmethod
    def _is_key(au: bytes) -> bool:
        pos = au.find(b"\x00\x00\x01")
        while 0 <= pos < len(au) - 3:
            if au[pos + 3] & 0x1F == 5:
                return True
            pos = au.find(b"\x00\x00\x01", pos + 3)
        return False

    def keyframe_at_or_before(self, idx: int) -> int:
        n = len(self.aus)
        for k in range(n):
            j = (idx - k) % n
            if self.key[j]:
                return j
        return 0


_clips: dict[tuple[str, float], Clip] = {}


def _clip(path: str, fps: float) -> Clip:
    key = (path, float(fps))
    c = _clips.get(key)
    if c is None:
        c = _clips[key] = Clip(path, fps)
    return c


class Mount:
    def __init__(self, path: str, clip: Clip, phase: float) -> None:
        self.path = path
        self.clip = clip
        self.phase = phase
        self.ended = False
        self.ended_after_s = 1.0
        self.sessions = 0

    def live_index(self, clip: Clip) -> int:
        pos = int((time.time() + self.phase) * clip.fps) % len(clip.aus)
        return clip.keyframe_at_or_before(pos)


class Feeder:
    """Pushes one access unit per frame interval into one session's appsrc."""

    def __init__(self, mount: Mount, appsrc: Gst.Element) -> None:
        self.mount = mount
        self.appsrc = appsrc
        self.clip = mount.clip
        self.idx = mount.live_index(self.clip)
        self.need_key = True
        self.started = time.monotonic()
        self.timer = 0
        self.done = False
        self.fast = False
        mount.sessions += 1

    def schedule(self) -> None:
        # While the session is being set up pushes are refused: retry every 20 ms so the first keyframe
        # is there as soon as the pipeline takes it (faster DESCRIBE), then push at the frame rate.
        self.fast = self.need_key
        interval = 20 if self.fast else max(1, int(round(1000.0 / self.clip.fps)))
        self.timer = GLib.timeout_add(interval, self.tick)

    def stop(self) -> None:
        if not self.done:
            self.done = True
            self.mount.sessions -= 1
        if self.timer:
            GLib.source_remove(self.timer)
            self.timer = 0

    def tick(self) -> bool:
        if self.done:
            self.timer = 0
            return False
        m = self.mount
        if m.ended and time.monotonic() - self.started >= m.ended_after_s:
            self.appsrc.emit("end-of-stream")
            self.timer = 0
            self.stop()
            return False
        if m.clip is not self.clip:
            fps_changed = m.clip.fps != self.clip.fps
            self.clip = m.clip
            self.need_key = True
            if fps_changed:
                self._push()
                self.schedule()  # new interval; this timer ends here
                return False
        self._push()
        if self.fast != self.need_key:  # set-up done (or refused again): change pace
            self.schedule()
            return False
        return True

    def _push(self) -> None:
        clip = self.clip
        if self.need_key:
            self.idx = self.mount.live_index(clip)
        buf = Gst.Buffer.new_wrapped(clip.aus[self.idx])
        buf.duration = int(Gst.SECOND / clip.fps)
        ret = self.appsrc.emit("push-buffer", buf)
        # Not playing yet (or flushing): start again on a keyframe once buffers are accepted.
        self.need_key = ret != Gst.FlowReturn.OK
        self.idx = (self.idx + 1) % len(clip.aus)


class Server:
    def __init__(self) -> None:
        self.server = GstRtspServer.RTSPServer()
        self.mounts: dict[str, Mount] = {}
        self.feeders: set[Feeder] = set()

    def mount(self, path: str, file: str, fps: float, phase: float) -> None:
        clip = _clip(file, fps)
        if path in self.mounts:
            self.mounts[path].clip = clip
            return
        m = self.mounts[path] = Mount(path, clip, phase)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_LAUNCH)
        factory.set_shared(False)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
        factory.connect("media-configure", self._on_media_configure, m)
        self.server.get_mount_points().add_factory(path, factory)

    def _on_media_configure(self, _factory, media, mount: Mount) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder = Feeder(mount, appsrc)
        self.feeders.add(feeder)

        def unprepared(_media) -> None:
            feeder.stop()
            self.feeders.discard(feeder)

        media.connect("unprepared", unprepared)
        # Start pushing at once: a live pipeline needs data to finish preparing (SDP needs the SPS).
        feeder._push()
        feeder.schedule()

    def start(self, port: int, threads: int) -> int:
        self.server.set_address("127.0.0.1")
        self.server.set_service(str(port))
        self.server.set_backlog(256)
        self.server.get_thread_pool().set_max_threads(threads)
        if self.server.attach(None) == 0:
            raise RuntimeError(f"cannot listen on port {port}")
        return self.server.get_bound_port()

    def handle(self, cmd: dict) -> dict:
        op = cmd.get("op")
        if op == "ping":
            return {}
        if op == "mount":
            self.mount(cmd["path"], cmd["file"], cmd["fps"], float(cmd.get("phase", 0.0)))
            return {}
        if op == "source":
            m = self._mount(cmd["path"])
            m.clip = _clip(cmd["file"], cmd["fps"])
            return {}
        if op == "ended":
            m = self._mount(cmd["path"])
            m.ended = bool(cmd["value"])
            m.ended_after_s = float(cmd.get("after_s", 1.0))
            return {}
        if op == "start":
            return {"port": self.start(int(cmd.get("port", 0)), int(cmd.get("threads", 32)))}
        if op == "stats":
            return {
                "sessions": sum(m.sessions for m in self.mounts.values()),
                "mounts": len(self.mounts),
                "clips": len(_clips),
            }
        raise ValueError(f"unknown op {op!r}")

    def _mount(self, path: str) -> Mount:
        try:
            return self.mounts[path]
        except KeyError:
            raise ValueError(f"unknown mount {path!r}") from None


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main() -> int:
    _die_with_parent()
    Gst.init(None)
    loop = GLib.MainLoop()
    srv = Server()

    def run(cmd: dict) -> bool:
        try:
            reply = srv.handle(cmd)
            reply.update({"id": cmd.get("id"), "ok": True})
        except Exception as exc:  # reported to the controller, never fatal
            reply = {"id": cmd.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        _emit(reply)
        return False

    def reader() -> None:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                cmd = json.loads(line)
            except ValueError:
                _emit({"id": None, "ok": False, "error": "bad json"})
                continue
            GLib.idle_add(run, cmd)
        GLib.idle_add(loop.quit)

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    _emit({"event": "hello", "pid": os.getpid(), "gst": Gst.version_string()})
    loop.run()
    for f in list(srv.feeders):
        f.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
