"""Vendor playback on the simulated cameras: URL parsing (tables), then real fetches through the Hikvision
and Dahua forms, checked against the burnt-in clock; 404 outside what was kept, 400 for bad times, 401 for
wrong credentials."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import av
import pytest

from camsvc.simulate.clock import read_clock
from camsvc.simulate.harness import Simulator
from camsvc.simulate.playback import PlaybackError, PlaybackRequest, kept_overlap, parse_playback
from tests.utils.waiting import wait_for

AV_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "200000", "probesize": "32768"}
KEYFRAME_S = 2.0
FRAME_MS = 200


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


# --- pure: parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "expect"),
    [
        ("/Streaming/tracks/101", "starttime=20261201T121000Z&endtime=20261201T124000Z",
         PlaybackRequest("hikvision", "main", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 40))),
        ("/Streaming/tracks/102/", "starttime=20261201T121000Z&endtime=20261201T121001Z",
         PlaybackRequest("hikvision", "sub", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 10, 1))),
        # Hikvision without Z: device local time (UTC+7)
        ("/Streaming/tracks/101", "starttime=20261201T191000&endtime=20261201T194000",
         PlaybackRequest("hikvision", "main", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 40))),
        ("/cam/playback", "channel=1&subtype=0&starttime=2026_12_01_19_10_00&endtime=2026_12_01_19_40_00",
         PlaybackRequest("dahua", "main", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 40))),
        ("/cam/playback", "channel=1&subtype=1&starttime=2026_12_02_00_00_00&endtime=2026_12_02_06_59_59",
         PlaybackRequest("dahua", "sub", utc(2026, 12, 1, 17), utc(2026, 12, 1, 23, 59, 59))),
        ("/cam/playback", "channel=1&starttime=2026_12_01_19_10_00&endtime=2026_12_01_19_40_00",
         PlaybackRequest("dahua", "main", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 40))),
        ("/Streaming/Channels/101", "", None),
        ("/cam/realmonitor", "channel=1&subtype=0", None),
        ("/cam-001/main/pb3", "", None),
    ],
)  # fmt: skip
def test_parse_playback(path: str, query: str, expect: PlaybackRequest | None) -> None:
    assert parse_playback(path, query) == expect


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/Streaming/tracks/101", "starttime=20261201T121000Z"),  # no end
        ("/Streaming/tracks/101", "starttime=2026-12-01T12:10:00Z&endtime=20261201T124000Z"),
        ("/Streaming/tracks/101", "starttime=20261341T121000Z&endtime=20261201T124000Z"),  # month 13
        ("/Streaming/tracks/101", "starttime=20261201T124000Z&endtime=20261201T121000Z"),  # end before start
        ("/Streaming/tracks/103", "starttime=20261201T121000Z&endtime=20261201T124000Z"),  # no such track
        ("/cam/playback", "channel=1&subtype=0&starttime=2026_12_01_19_10&endtime=2026_12_01_19_40_00"),
        ("/cam/playback", "channel=2&subtype=0&starttime=2026_12_01_19_10_00&endtime=2026_12_01_19_40_00"),
        ("/cam/playback", "channel=1&subtype=5&starttime=2026_12_01_19_10_00&endtime=2026_12_01_19_40_00"),
        ("/cam/playback", "subtype=0&starttime=2026_12_01_19_10_00&endtime=2026_12_01_19_40_00"),
        ("/cam/playback", "channel=1&starttime=2026_12_01_25_10_00&endtime=2026_12_01_19_40_00"),
    ],
)
def test_malformed_playback_urls_are_refused(path: str, query: str) -> None:
    with pytest.raises(PlaybackError):
        parse_playback(path, query)


def test_kept_overlap() -> None:
    req = PlaybackRequest("hikvision", "main", utc(2026, 12, 1, 12, 10), utc(2026, 12, 1, 12, 11))
    ms = req.start_ms
    assert kept_overlap(req, ms - 1000, ms + 120_000)  # wholly inside
    assert kept_overlap(req, ms + 30_000, ms + 120_000)  # starts before what was kept: still served
    assert kept_overlap(req, ms - 60_000, ms + 1)  # ends after now: served
    assert not kept_overlap(req, req.end_ms, ms + 120_000)  # wholly before what was kept
    assert not kept_overlap(req, ms - 60_000, ms)  # wholly in the future


# --- a raw RTSP client, for exact status codes -------------------------------------------------------------


def _read_reply(sock: socket.socket) -> tuple[int, dict[str, str]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(head[0].split()[1]), headers


def _params(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(" ", 1)[1].split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v.strip('"')
    return out


def describe_status(url_with_credentials: str) -> int:
    """DESCRIBE the URL (credentials taken out of it, answered to the camera's Basic/Digest challenge)."""
    u = urlsplit(url_with_credentials)
    assert u.port is not None
    user, pw = u.username or "", u.password or ""
    user, pw = unquote(user), unquote(pw)
    uri = f"rtsp://127.0.0.1:{u.port}{u.path}" + (f"?{u.query}" if u.query else "")
    with socket.create_connection(("127.0.0.1", u.port), timeout=5) as s:
        s.sendall(f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        status, headers = _read_reply(s)
        if status != 401 or not user:
            return status
        challenge = headers["www-authenticate"]
        if challenge.lower().startswith("digest"):
            p = _params(challenge)
            ha1 = hashlib.md5(f"{user}:{p['realm']}:{pw}".encode()).hexdigest()
            ha2 = hashlib.md5(f"DESCRIBE:{uri}".encode()).hexdigest()
            resp = hashlib.md5(f"{ha1}:{p['nonce']}:{ha2}".encode()).hexdigest()
            auth = (
                f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
                f'response="{resp}"'
            )
        else:
            auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        s.sendall(f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {auth}\r\n\r\n".encode())
        return _read_reply(s)[0]


# --- real fetches ------------------------------------------------------------------------------------------


def fetch(url: str) -> dict[str, Any]:
    """Play a playback URL to its end with PyAV; clock value, time and keyframe flag of every frame."""
    t0 = time.monotonic()
    frames: list[tuple[int | None, float | None, bool]] = []
    with av.open(url, options=AV_OPTIONS, timeout=10) as container:
        for frame in container.decode(video=0):
            frames.append((read_clock(frame.to_ndarray(format="bgr24")), frame.time, frame.key_frame))
            assert len(frames) < 1000, "playback never ended"
    return {"frames": frames, "took_s": time.monotonic() - t0}


def _range(sim: Simulator, seconds: float) -> tuple[datetime, datetime]:
    """A range of whole seconds (the URL forms have no fractions), ended a second ago, wholly kept."""
    assert sim.started_at is not None
    started = sim.started_at
    wait_for(lambda: time.time() - started > seconds + 4, seconds + 30, "the simulator to keep enough")
    end = datetime.fromtimestamp(int(time.time()) - 1, UTC)
    return end - timedelta(seconds=seconds), end


@pytest.mark.integration
@pytest.mark.slow
def test_hikvision_and_dahua_playback_replay_the_range(clock_sim: Simulator) -> None:
    sim = clock_sim
    start, end = _range(sim, 10)
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    urls = {
        "hikvision main": sim.playback_url("cam-001", start, end, vendor="hikvision", stream="main"),
        "dahua sub": sim.playback_url("cam-001", start, end, vendor="dahua", stream="sub"),
        "looped hikvision sub": sim.playback_url("cam-002", start, end, vendor="hikvision", stream="sub"),
        "looped dahua main": sim.playback_url("cam-002", start, end, vendor="dahua", stream="main"),
    }
    with ThreadPoolExecutor(len(urls)) as pool:
        results = dict(zip(urls, pool.map(fetch, urls.values()), strict=True))
    for name in ("hikvision main", "dahua sub"):
        frames = results[name]["frames"]
        clocks = [c for c, _, _ in frames]
        assert None not in clocks, (name, clocks)
        first, last = clocks[0], clocks[-1]
        assert first is not None and last is not None
        # starts at the keyframe at or before the start, ends at or after the end
        assert start_ms - KEYFRAME_S * 1000 - FRAME_MS <= first <= start_ms, (name, first - start_ms)
        assert last >= end_ms - FRAME_MS, (name, last - end_ms)
        assert frames[0][2], f"{name}: the first frame is a keyframe"
        assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks), name
        # real-time pace; timestamps start at 0
        span_s = (last - first) / 1000
        assert results[name]["took_s"] >= span_s - 1.0, (name, results[name]["took_s"], span_s)
        times = [t for _, t, _ in frames if t is not None]
        assert times[0] < 0.5 and abs((times[-1] - times[0]) - span_s) < 1.0, (name, times[:3], times[-1])
    for name in ("looped hikvision sub", "looped dahua main"):
        frames = results[name]["frames"]
        assert frames[0][2], f"{name}: the first frame is a keyframe"
        # from the keyframe at or before the start (<= 2 s) to the end, 5 fps
        assert 10 * 5 <= len(frames) <= (10 + KEYFRAME_S) * 5 + 2, (name, len(frames))


@pytest.mark.integration
def test_ranges_outside_what_was_kept_are_404_and_bad_times_400(clock_sim: Simulator) -> None:
    sim = clock_sim
    now = datetime.now(UTC)
    minutes = sim.info["playback_minutes"]
    old = now - timedelta(minutes=minutes + 5)
    for cam in ("cam-001", "cam-002"):
        for vendor in ("hikvision", "dahua"):
            past = sim.playback_url(cam, old, old + timedelta(seconds=30), vendor=vendor)
            assert describe_status(past) == 404, (cam, vendor)
            future = sim.playback_url(
                cam, now + timedelta(minutes=5), now + timedelta(minutes=6), vendor=vendor
            )
            assert describe_status(future) == 404, (cam, vendor)
        with pytest.raises(av.error.HTTPNotFoundError):
            av.open(sim.playback_url(cam, old, old + timedelta(seconds=30)), options=AV_OPTIONS, timeout=10)
        good = sim.playback_url(cam, now - timedelta(seconds=5), now, vendor="dahua")
        for bad in (good.replace("starttime=", "starttime=9"), good.replace("endtime=", "endtime=x")):
            assert describe_status(bad) == 400, bad
        hik = sim.playback_url(cam, now - timedelta(seconds=5), now)
        assert describe_status(hik.replace("tracks/101", "tracks/109")) == 400


@pytest.mark.integration
def test_playback_needs_the_cameras_credentials(clock_sim: Simulator) -> None:
    sim = clock_sim
    now = datetime.now(UTC)
    for cam_id in ("cam-001", "cam-002"):
        cam = sim.camera(cam_id)
        assert cam.username, "roadside cameras have credentials"
        url = sim.playback_url(cam_id, now - timedelta(seconds=5), now)
        wrong = url.replace(cam.password.replace("@", "%40"), "wrong", 1)
        assert wrong != url
        bare = sim.playback_url(cam_id, now - timedelta(seconds=5), now, credentials=False)
        assert describe_status(bare) == 401
        assert describe_status(wrong) == 401
        assert describe_status(url) == 200
        with pytest.raises(av.error.HTTPUnauthorizedError):
            av.open(wrong, options=AV_OPTIONS, timeout=10)
