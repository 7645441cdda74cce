"""GStreamer RTSP server for the camera simulator: loops pre-encoded H.264 files, never re-encodes.

Runs under Debian's own ``/usr/bin/python3`` (the only interpreter with the ``gi`` GStreamer bindings), so it
uses the standard library and ``gi`` only and imports nothing from camsvc. The simulator's main process
(camsvc.simulate.gst) starts it and drives it with one JSON object per line on stdin; each command gets one
JSON reply line on stdout (``{"id": ..., "ok": true}``). EOF on stdin, SIGTERM or the parent's death stop it.

Commands (``op``):
  mount  {path, file, fps, phase}   serve ``file`` (Annex-B H.264, one access unit per AUD) at ``path``
  source {path, file, fps}          switch the mount to another file; running sessions follow at a keyframe
  ended  {path, value, after_s}     while set, sessions end (EOS -> RTCP BYE) once they played ``after_s``
  live   {path, fps, keep_s}        serve access units pushed live by the parent (clock camera): they arrive
                                    on the data socket (``--data-fd``) and are kept ``keep_s`` for playback
  playback {path, source, start_ms, end_ms}
                                    a one-off mount at ``path`` replaying what ``source`` served from the
                                    keyframe at or before ``start_ms`` until ``end_ms`` (epoch ms), paced at
                                    real time, then EOS (RTCP BYE); removed when its session ends
  start  {port, threads}            listen (port 0: any free port); replies with the bound ``port``
  stats  {}                         counts of live sessions
  ping   {}

Each client session gets its own media (non-shared): it starts on a keyframe at the camera's "live" position
(wall clock + per-camera phase, so cameras sharing a clip show different moments) and each access unit is
pushed into an ``appsrc`` at the clip's frame rate with fresh timestamps. RTSP is TCP-only (interleaved).
A live mount's sessions start at the next keyframe the parent sends. Data socket frames:
``>IQBH`` (access unit length, wall ms, is keyframe, path length), the path (UTF-8), the access unit.
"""

from __future__ import annotations

import bisect
import ctypes
import json
import os
import signal
import socket
import struct
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
        self.base_clip = clip  # what playback replays (the normal footage, whatever the fault)
        self.phase = phase
        self.ended = False
        self.ended_after_s = 1.0
        self.sessions = 0

    def live_index(self, clip: Clip) -> int:
        pos = int((time.time() + self.phase) * clip.fps) % len(clip.aus)
        return clip.keyframe_at_or_before(pos)


class Ring:
    """Access units of a live mount with their wall times (ms), the last ``keep_s`` seconds of them."""

    def __init__(self, keep_s: float) -> None:
        self.keep_ms = int(keep_s * 1000)
        self.walls: list[int] = []
        self.keys: list[bool] = []
        self.data: list[bytes] = []
        self.first_seq = 0  # sequence number of walls[0]

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.walls)

    def add(self, wall_ms: int, key: bool, au: bytes) -> int:
        self.walls.append(wall_ms)
        self.keys.append(key)
        self.data.append(au)
        # Trim in batches (once a minute's worth is over the limit), always at a keyframe.
        if self.walls[0] < wall_ms - self.keep_ms - 60_000:
            cut = bisect.bisect_left(self.walls, wall_ms - self.keep_ms)
            while cut < len(self.keys) and not self.keys[cut]:
                cut += 1
            del self.walls[:cut], self.keys[:cut], self.data[:cut]
            self.first_seq += cut
        return self.next_seq - 1

    def get(self, seq: int) -> tuple[int, bool, bytes] | None:
        i = seq - self.first_seq
        if 0 <= i < len(self.walls):
            return self.walls[i], self.keys[i], self.data[i]
        return None

    def key_at_or_before(self, wall_ms: int) -> int | None:
        """Sequence number of the keyframe at or before ``wall_ms`` (the oldest keyframe if none)."""
        i = bisect.bisect_right(self.walls, wall_ms) - 1
        for j in range(min(i, len(self.keys) - 1), -1, -1):
            if self.keys[j]:
                return self.first_seq + j
        for j in range(len(self.keys)):
            if self.keys[j]:
                return self.first_seq + j
        return None


class LiveMount:
    """A mount fed live by the parent (the clock camera); sessions start at the next keyframe."""

    def __init__(self, path: str, fps: float, keep_s: float) -> None:
        self.path = path
        self.fps = float(fps)
        self.ring = Ring(keep_s)
        self.feeders: set[LiveFeeder] = set()
        self.ended = False
        self.ended_after_s = 1.0
        self.sessions = 0

    def add(self, wall_ms: int, key: bool, au: bytes) -> None:
        self.ring.add(wall_ms, key, au)
        for f in list(self.feeders):
            f.push(wall_ms, key, au)


class LiveFeeder:
    """One session of a live mount: pushes each access unit as it arrives, from a keyframe on."""

    def __init__(self, mount: LiveMount, appsrc: Gst.Element) -> None:
        self.mount = mount
        self.appsrc = appsrc
        self.need_key = True
        self.started = time.monotonic()
        self.done = False
        mount.sessions += 1
        mount.feeders.add(self)

    def stop(self) -> None:
        if not self.done:
            self.done = True
            self.mount.sessions -= 1
            self.mount.feeders.discard(self)

    def push(self, _wall_ms: int, key: bool, au: bytes) -> None:
        if self.done:
            return
        m = self.mount
        if m.ended and time.monotonic() - self.started >= m.ended_after_s:
            self.appsrc.emit("end-of-stream")
            self.stop()
            return
        if self.need_key and not key:
            return
        buf = Gst.Buffer.new_wrapped(au)
        buf.duration = int(Gst.SECOND / m.fps)
        ret = self.appsrc.emit("push-buffer", buf)
        self.need_key = ret != Gst.FlowReturn.OK


class PlaybackFeeder:
    """Replays a range of what a mount served, paced at its frame rate, then ends the stream."""

    def __init__(self, source: Mount | LiveMount, appsrc: Gst.Element, start_ms: int, end_ms: int) -> None:
        self.source = source
        self.appsrc = appsrc
        self.end_ms = end_ms
        self.done = False
        self.timer = 0
        self.fast = True
        self.on_stop: list = []
        # Until the client's PLAY only the first keyframe is pushed (the media needs it to learn its caps while
        # DESCRIBE prepares it). Whether that one reaches the client depends on how soon PLAY follows (a slow
        # client lost it and began at the next keyframe), so at PLAY the replay starts again from the first
        # keyframe: a client may see that keyframe twice, never a replay starting late.
        self.playing = False
        self.primed = False
        if isinstance(source, LiveMount):
            self.fps = source.fps
            seq = source.ring.key_at_or_before(start_ms)
            self.start_pos = seq if seq is not None else source.ring.next_seq
        else:
            clip = source.base_clip
            self.fps = clip.fps
            n = len(clip.aus)
            a = int((start_ms / 1000.0 + source.phase) * clip.fps)
            k = a % n
            self.start_pos = a - (k - clip.keyframe_at_or_before(k)) % n
        self.pos = self.start_pos

    def start(self) -> None:
        self.schedule()  # first pushes every 20 ms until the pipeline takes them, then at the frame rate

    def play(self) -> None:
        """The client sent PLAY: replay from the first keyframe at the frame rate."""
        if not self.playing:
            self.playing = True
            self.pos = self.start_pos

    def schedule(self) -> None:
        interval = 20 if self.fast else max(1, int(round(1000.0 / self.fps)))
        self.timer = GLib.timeout_add(interval, self.tick)

    def stop(self) -> None:
        if self.timer:
            GLib.source_remove(self.timer)
            self.timer = 0
        if not self.done:
            self.done = True
            for cb in self.on_stop:
                cb()

    def _frame(self) -> tuple[int, bytes] | None:
        src = self.source
        if isinstance(src, LiveMount):
            if self.pos < src.ring.first_seq:  # evicted meanwhile (a replay longer than what is kept)
                self.pos = src.ring.key_at_or_before(0) or src.ring.first_seq
            item = src.ring.get(self.pos)
            return None if item is None else (item[0], item[2])
        clip = src.base_clip
        wall_ms = int(round((self.pos / clip.fps - src.phase) * 1000))
        return wall_ms, clip.aus[self.pos % len(clip.aus)]

    def tick(self) -> bool:
        if self.done:
            self.timer = 0
            return False
        if self.primed and not self.playing:
            return True  # the caps are known; wait for PLAY
        frame = self._frame()
        if frame is not None:  # None: caught up with a live source, wait for its next frame
            wall_ms, au = frame
            buf = Gst.Buffer.new_wrapped(au)
            buf.duration = int(Gst.SECOND / self.fps)
            ret = self.appsrc.emit("push-buffer", buf)
            if ret != Gst.FlowReturn.OK:
                self.pos = self.start_pos  # still being set up: start again at the first keyframe
                refused = True
            else:
                refused = False
                self.pos += 1
                self.primed = True
                if wall_ms >= self.end_ms and self.playing:
                    self.appsrc.emit("end-of-stream")
                    self.timer = 0
                    self.stop()
                    return False
            if self.fast != refused:
                self.fast = refused
                self.schedule()
                return False
        return True


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
        self.live: dict[str, LiveMount] = {}
        self.feeders: set[Feeder] = set()
        self.live_feeders: set[LiveFeeder] = set()
        self.playbacks: dict[str, PlaybackFeeder | None] = {}

    def mount(self, path: str, file: str, fps: float, phase: float) -> None:
        clip = _clip(file, fps)
        if path in self.mounts:
            self.mounts[path].clip = clip
            return
        m = self.mounts[path] = Mount(path, clip, phase)
        factory = self._factory()
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

    def _factory(self) -> GstRtspServer.RTSPMediaFactory:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_LAUNCH)
        factory.set_shared(False)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        factory.set_suspend_mode(GstRtspServer.RTSPSuspendMode.NONE)
        return factory

    def mount_live(self, path: str, fps: float, keep_s: float) -> None:
        if path in self.live or path in self.mounts:
            raise ValueError(f"{path} is already mounted")
        m = self.live[path] = LiveMount(path, fps, keep_s)
        factory = self._factory()
        factory.connect("media-configure", self._on_live_configure, m)
        self.server.get_mount_points().add_factory(path, factory)

    def _on_live_configure(self, _factory, media, mount: LiveMount) -> None:
        feeder = LiveFeeder(mount, media.get_element().get_by_name("src"))
        self.live_feeders.add(feeder)

        def unprepared(_media) -> None:
            feeder.stop()
            self.live_feeders.discard(feeder)

        media.connect("unprepared", unprepared)

    def live_au(self, path: str, wall_ms: int, key: bool, au: bytes) -> bool:
        m = self.live.get(path)
        if m is not None:
            m.add(wall_ms, key, au)
        return False

    def mount_playback(self, path: str, source: str, start_ms: int, end_ms: int, ttl_s: float) -> None:
        src: Mount | LiveMount | None = self.live.get(source) or self.mounts.get(source)
        if src is None:
            raise ValueError(f"unknown mount {source!r}")
        if path in self.playbacks or path in self.mounts or path in self.live:
            raise ValueError(f"{path} is already mounted")
        self.playbacks[path] = None
        factory = self._factory()
        factory.connect("media-configure", self._on_playback_configure, path, src, start_ms, end_ms)
        self.server.get_mount_points().add_factory(path, factory)
        # A mount nobody plays is removed after ttl_s; one being played, when its session ends.
        GLib.timeout_add(int(ttl_s * 1000), self._expire_playback, path)

    def _on_playback_configure(self, _factory, media, path: str, src, start_ms: int, end_ms: int) -> None:
        feeder = PlaybackFeeder(src, media.get_element().get_by_name("src"), start_ms, end_ms)
        self.playbacks[path] = feeder

        def unprepared(_media) -> None:
            feeder.stop()
            self._remove_playback(path)

        def new_state(_media, state) -> None:
            if state == Gst.State.PLAYING:
                feeder.play()

        media.connect("unprepared", unprepared)
        media.connect("new-state", new_state)
        feeder.start()

    def _expire_playback(self, path: str) -> bool:
        feeder = self.playbacks.get(path, "gone")
        if feeder is None:
            self._remove_playback(path)
        elif feeder != "gone":
            # Taken: new sessions on this one-off path are refused; the running one plays on.
            self.server.get_mount_points().remove_factory(path)
        return False

    def _remove_playback(self, path: str) -> None:
        if path in self.playbacks:
            feeder = self.playbacks.pop(path)
            if feeder is not None:
                feeder.stop()
            self.server.get_mount_points().remove_factory(path)

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
        if op == "live":
            self.mount_live(cmd["path"], float(cmd["fps"]), float(cmd.get("keep_s", 1800)))
            return {}
        if op == "playback":
            self.mount_playback(
                cmd["path"],
                cmd["source"],
                int(cmd["start_ms"]),
                int(cmd["end_ms"]),
                float(cmd.get("ttl_s", 60.0)),
            )
            return {}
        if op == "source":
            m = self._mount(cmd["path"])
            m.clip = _clip(cmd["file"], cmd["fps"])
            return {}
        if op == "ended":
            m = self.live.get(cmd["path"]) or self._mount(cmd["path"])
            m.ended = bool(cmd["value"])
            m.ended_after_s = float(cmd.get("after_s", 1.0))
            return {}
        if op == "start":
            return {"port": self.start(int(cmd.get("port", 0)), int(cmd.get("threads", 32)))}
        if op == "stats":
            return {
                "sessions": sum(m.sessions for m in self.mounts.values())
                + sum(m.sessions for m in self.live.values()),
                "playbacks": sum(f is not None and not f.done for f in self.playbacks.values()),
                "mounts": len(self.mounts) + len(self.live),
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


def _data_reader(sock: socket.socket, srv: Server) -> None:
    """Access units from the parent (live mounts), handed to the main loop one by one."""
    head = struct.Struct(">IQBH")
    f = sock.makefile("rb")
    while True:
        raw = f.read(head.size)
        if len(raw) < head.size:
            return
        n, wall_ms, key, plen = head.unpack(raw)
        path = f.read(plen).decode("utf-8")
        au = f.read(n)
        if len(au) < n:
            return
        GLib.idle_add(srv.live_au, path, wall_ms, bool(key), au)


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
    if "--data-fd" in sys.argv:
        fd = int(sys.argv[sys.argv.index("--data-fd") + 1])
        data = socket.socket(fileno=fd)
        threading.Thread(target=_data_reader, args=(data, srv), name="data", daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    _emit({"event": "hello", "pid": os.getpid(), "gst": Gst.version_string()})
    loop.run()
    for f in list(srv.feeders):
        f.stop()
    for lf in list(srv.live_feeders):
        lf.stop()
    for pb in list(srv.playbacks.values()):
        if pb is not None:
            pb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
