"""The clock picture: drawn and read back exactly, through scaling, noise and real H.264 encodes; the clock
camera serves it live within a second of the wall clock."""

from __future__ import annotations

import json
import subprocess
import time

import av
import cv2
import httpx
import numpy as np
import pytest

from camsvc import paths
from camsvc.simulate.clock import COLS, GRID_X, GRID_Y, crc16, draw_clock, draw_clock_gray, read_clock
from camsvc.simulate.clockcam import GOP, make_encoder
from camsvc.simulate.gst import SERVER_SCRIPT, system_python
from camsvc.simulate.harness import Simulator

NOW_MS = 1_796_173_099_400  # 2026-12-02, a value of the size the camera draws

AV_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "200000", "probesize": "32768"}


# --- pure: draw and read ---------------------------------------------------------------------------------


def test_crc16_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("value", [0, 1, NOW_MS, NOW_MS + 200, 2**48 - 1, 2**63, 2**64 - 1])
@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (320, 180), (1920, 1080), (704, 576)])
def test_draw_then_read_gives_the_value_back(value: int, size: tuple[int, int]) -> None:
    w, h = size
    img = draw_clock(value, w, h)
    assert img.shape == (h, w, 3) and img.dtype == np.uint8
    assert read_clock(img) == value
    assert read_clock(img[:, :, 0]) == value  # a grey frame reads too


@pytest.mark.parametrize(
    ("size", "scaled"),
    [
        ((1280, 720), (640, 360)),
        ((1280, 720), (427, 240)),
        ((640, 360), (1920, 1080)),
        ((640, 360), (200, 112)),
    ],
)
def test_read_survives_scaling(size: tuple[int, int], scaled: tuple[int, int]) -> None:
    img = draw_clock(NOW_MS, *size)
    for interp in (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC):
        assert read_clock(cv2.resize(img, scaled, interpolation=interp)) == NOW_MS


def test_read_survives_noise_and_blur() -> None:
    rng = np.random.default_rng(7)
    img = draw_clock(NOW_MS, 640, 360).astype(np.float32)
    noisy = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert read_clock(noisy) == NOW_MS
    assert read_clock(cv2.GaussianBlur(noisy, (0, 0), 3)) == NOW_MS


def _cell(img: np.ndarray, row: int, col: int) -> tuple[slice, slice]:
    h, w = img.shape[:2]
    cw, ch = (GRID_X[1] - GRID_X[0]) / COLS, (GRID_Y[1] - GRID_Y[0]) / 6
    ys = slice(int((GRID_Y[0] + row * ch) * h) + 2, int((GRID_Y[0] + (row + 1) * ch) * h) - 2)
    xs = slice(int((GRID_X[0] + col * cw) * w) + 2, int((GRID_X[0] + (col + 1) * cw) * w) - 2)
    return ys, xs


def test_a_damaged_or_foreign_picture_reads_as_none() -> None:
    rng = np.random.default_rng(3)
    assert read_clock(np.zeros((360, 640, 3), np.uint8)) is None
    assert read_clock(np.full((360, 640, 3), 255, np.uint8)) is None
    assert read_clock(rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)) is None
    assert read_clock(np.zeros((10, 10, 3), np.uint8)) is None
    img = draw_clock(NOW_MS, 640, 360)
    for row, col in [(1, 0), (3, 7), (5, 15)]:  # one flipped bit anywhere: the CRC refuses it
        bad = img.copy()
        ys, xs = _cell(bad, row, col)
        bad[ys, xs] = 255 - bad[ys, xs]
        assert read_clock(bad) is None, (row, col)
    half = img.copy()
    ys, xs = _cell(half, 2, 4)
    half[ys, xs] = 128  # neither black nor white
    assert read_clock(half) is None
    guard = img.copy()
    ys, xs = _cell(guard, 0, 0)
    guard[ys, xs] = 0  # the guard's first white cell turned black
    assert read_clock(guard) is None


def test_draw_refuses_values_out_of_range() -> None:
    for bad in (-1, 2**64):
        with pytest.raises(ValueError):
            draw_clock_gray(bad, 640, 360)


# --- real encodes ----------------------------------------------------------------------------------------


def test_ffmpeg_libx264_encode_decode_round_trip(tmp_path: object) -> None:
    """Raw frames into the imageio-ffmpeg binary at a low bit rate, scaled down on the way; PyAV decodes."""
    out = f"{tmp_path}/clock.mp4"
    values = [NOW_MS + i * 200 for i in range(20)]
    raw = b"".join(draw_clock(v, 1280, 720).tobytes() for v in values)
    cmd = [paths.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", "1280x720", "-r", "5", "-i", "-", "-vf", "scale=480:270", "-c:v", "libx264",
           "-preset", "veryfast", "-b:v", "60k", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-y", out]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True, timeout=60)
    with av.open(out) as container:
        got = [read_clock(f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]
    assert got == values


def test_the_clock_encoder_makes_annexb_access_units_with_a_keyframe_every_2_s() -> None:
    enc = make_encoder(640, 360)
    dec = av.CodecContext.create("h264", "r")
    chroma = np.full((180, 640), 128, np.uint8)
    keys, read, aud = [], [], True
    for i in range(3 * GOP):
        frame = av.VideoFrame.from_ndarray(
            np.concatenate([draw_clock_gray(NOW_MS + 200 * i, 640, 360), chroma]), format="yuv420p"
        )
        frame.pts = i
        packets = enc.encode(frame)  # type: ignore[attr-defined]
        assert len(packets) == 1  # zero latency, no B-frames: one access unit out per frame in
        pkt = packets[0]
        data = bytes(pkt)
        aud = aud and data.startswith((b"\x00\x00\x00\x01\x09", b"\x00\x00\x01\x09"))
        keys.append(bool(pkt.is_keyframe))
        for f in dec.decode(pkt):
            read.append(read_clock(f.to_ndarray(format="bgr24")))
    assert aud
    assert [i for i, k in enumerate(keys) if k] == [0, GOP, 2 * GOP]
    assert read == [NOW_MS + 200 * i for i in range(3 * GOP)]


# --- the clock camera, live ------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("which", "size"), [("main", (1280, 720)), ("sub", (640, 360))])
def test_clock_camera_shows_the_wall_clock_live(
    clock_sim: Simulator, which: str, size: tuple[int, int]
) -> None:
    assert clock_sim.clock_camera_ids == ["cam-001"]
    seen: list[tuple[int | None, float]] = []
    keyframe_first = None
    with av.open(clock_sim.url("cam-001", which), options=AV_OPTIONS, timeout=10) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        for frame in container.decode(stream):
            if keyframe_first is None:
                keyframe_first = frame.key_frame
                assert (frame.width, frame.height) == size
            seen.append((read_clock(frame.to_ndarray(format="bgr24")), time.time() * 1000))
            if len(seen) >= 15:
                break
    assert keyframe_first, "a joining viewer starts at a keyframe"
    values = [v for v, _ in seen]
    assert None not in values
    steps = [b - a for a, b in zip(values, values[1:], strict=False) if a is not None and b is not None]
    # 5 fps: 200 ms apart (a busy machine may make the encoder skip one), never back or repeated
    assert all(s % 200 == 0 and 200 <= s <= 600 for s in steps), steps
    assert steps.count(200) >= len(steps) // 2, steps
    value, at = seen[-1]
    assert value is not None and abs(at - value) < 1000, f"clock {value} read at {at:.0f}"


@pytest.mark.integration
def test_clock_camera_snapshot_and_opencv_read_the_same_clock(clock_sim: Simulator) -> None:
    cam = clock_sim.camera("cam-001")
    assert cam.snapshot_url, "roadside cameras have a snapshot URL"
    resp = httpx.get(clock_sim.url("cam-001", "snapshot"), timeout=5)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_COLOR)
    value = read_clock(img)
    assert value is not None and abs(time.time() * 1000 - value) < 1000
    # OpenCV, as the prober opens it (conftest sets its FFmpeg options): a joining reader waits <= 2 s
    t0 = time.monotonic()
    cap = cv2.VideoCapture(
        clock_sim.url("cam-001", "sub"),
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 6000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 3000],
    )
    try:
        assert cap.isOpened()
        opened_s = time.monotonic() - t0
        last = None
        for _ in range(10):
            ok, frame = cap.read()
            assert ok
            last = read_clock(frame), time.time() * 1000
    finally:
        cap.release()
    assert opened_s < 4.0, opened_s
    assert last is not None and last[0] is not None and abs(last[1] - last[0]) < 1000, last


RING_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import gst_server
ring = gst_server.Ring(keep_s=60)
t0 = 1_796_173_000_000
for i in range(5 * 600):  # ten minutes at 5 fps, a keyframe every 10 frames
    ring.add(t0 + 200 * i, i % 10 == 0, bytes([i % 256]))
out = {
    "first_seq": ring.first_seq, "next_seq": ring.next_seq, "len": len(ring.walls),
    "first_is_key": ring.keys[0], "oldest_ms": ring.walls[0] - t0,
    "key_at_mid": ring.key_at_or_before(t0 + 200 * 2995 + 50),
    "key_at_exact": ring.key_at_or_before(t0 + 200 * 2990),
    "key_before_all": ring.key_at_or_before(t0),
    "get_last": list(ring.get(ring.next_seq - 1)[:2]), "get_next": ring.get(ring.next_seq),
    "get_evicted": ring.get(0),
}
print(json.dumps(out))
"""


def test_the_playback_ring_keeps_the_last_minutes_from_a_keyframe() -> None:
    """The GStreamer child's ring buffer (gst_server.Ring), run under the system python it lives in."""
    res = subprocess.run(
        [system_python(), "-c", RING_SCRIPT, str(SERVER_SCRIPT.parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(res.stdout)
    assert out["next_seq"] == 3000
    assert out["first_is_key"] and out["first_seq"] % 10 == 0
    # keeps at least the last 60 s (trimmed in batches: at most a minute more)
    assert 60_000 <= (2999 * 200 - out["oldest_ms"]) <= 120_000 + 2000, out
    assert out["len"] == 3000 - out["first_seq"]
    assert out["key_at_mid"] == 2990 and out["key_at_exact"] == 2990
    assert out["key_before_all"] == out["first_seq"]  # older than kept: the oldest keyframe
    assert out["get_last"] == [1_796_173_000_000 + 200 * 2999, False]
    assert out["get_next"] is None and out["get_evicted"] is None
