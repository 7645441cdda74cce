"""Pure parts: picture faults on a real photograph, frame timing, camera authentication (no sockets)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from camsvc.simulate.camera import CameraFront, Request, _parse_auth_params
from camsvc.simulate.faults import (
    FAULTS,
    PICTURE_FAULTS,
    RTSP_PICTURE_FILTERS,
    apply_picture_fault,
    check_fault,
)
from camsvc.simulate.fleet import generate_fleet
from camsvc.simulate.frames import SceneFrames


def _photo() -> np.ndarray:
    spec = importlib.util.find_spec("skimage")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "motorcycle_left.png"
    img = cv2.imread(str(path))
    assert img is not None
    return cv2.resize(img, (640, 360))


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_every_fault_is_known_and_bad_names_list_the_valid_ones() -> None:
    assert set(PICTURE_FAULTS) == set(RTSP_PICTURE_FILTERS)
    for f in FAULTS:
        assert check_fault(f) == f
    with pytest.raises(ValueError) as err:
        check_fault("foggy")
    assert "unknown fault 'foggy'" in str(err.value)
    assert all(f in str(err.value) for f in FAULTS)


def test_picture_faults_change_the_pixels_like_the_real_thing() -> None:
    img = _photo()
    rng = np.random.default_rng(0)
    base_sharp = _sharpness(img)
    black = apply_picture_fault(img, "black", rng)
    assert black.mean() < 20 and black.shape == img.shape
    blurred = apply_picture_fault(img, "blurred", rng)
    assert _sharpness(blurred) < base_sharp / 20
    covered = apply_picture_fault(img, "covered", rng)
    assert 35 < covered.mean() < 60 and covered.std() < 8
    snow = apply_picture_fault(img, "snow", rng)
    assert snow.std() > 60 and _sharpness(snow) > 10 * base_sharp
    turned = apply_picture_fault(img, "turned", rng)
    assert turned.shape == img.shape and np.abs(turned.astype(int) - img).mean() > 20
    corners = [turned[0, 0], turned[0, -1], turned[-1, 0], turned[-1, -1]]
    assert sum(int(c.max()) == 0 for c in corners) >= 2  # rotated: black corners
    for timing_only in ("frozen", "lowfps", "normal"):
        assert apply_picture_fault(img, timing_only, rng) is img


def test_scene_frames_timing_for_normal_frozen_and_lowfps() -> None:
    frames = SceneFrames([bytes([i]) for i in range(80)], fps=5)
    normal = {frames.index_at(100 + k * 0.2, 3.0, "normal") for k in range(10)}
    assert len(normal) == 10  # a new frame every 0.2 s
    assert len({frames.index_at(100 + k * 0.2, 3.0, "frozen") for k in range(50)}) == 1
    lowfps = [frames.index_at(100 + k * 0.2, 3.0, "lowfps") for k in range(25)]
    assert len(set(lowfps)) == 5  # one new picture per second
    assert frames.index_at(100, 0.0, "normal") != frames.index_at(100, 7.0, "normal")  # phase differs


def test_faulted_jpeg_frames_decode_and_are_cached() -> None:
    ok, buf = cv2.imencode(".jpg", _photo())
    assert ok
    frames = SceneFrames([buf.tobytes()], fps=5)
    black = frames.jpeg(0, "black")
    assert black is frames.jpeg(0, "black")  # deterministic faults are made once
    decoded = cv2.imdecode(np.frombuffer(black, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.mean() < 25
    assert frames.jpeg(0, "snow") != frames.jpeg(0, "snow")  # snow moves


# --- authentication --------------------------------------------------------------------------------------


def _front(protocol: str, with_credentials: bool) -> CameraFront:
    for spec in generate_fleet(10, 60):
        if spec.protocol == protocol and bool(spec.camera.username) == with_credentials:
            return CameraFront(spec, "127.0.0.1", None, None)
    raise AssertionError("fleet lacks such a camera")


def _basic(user: str, pw: str) -> Request:
    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
    return Request("DESCRIBE", "rtsp://x/", "RTSP/1.0", {"authorization": f"Basic {token}"})


def _digest(
    front: CameraFront, user: str, pw: str, method: str = "DESCRIBE", uri: str = "rtsp://h/p"
) -> Request:
    challenge = _parse_auth_params(front.challenge("digest").split(" ", 1)[1])
    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{pw}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    value = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{resp}"'
    return Request(method, uri, "RTSP/1.0", {"authorization": value})


def test_basic_and_digest_accept_only_the_right_password() -> None:
    front = _front("rtsp", True)
    cam = front.spec.camera
    assert front.authorized(_basic(cam.username, cam.password), "basic")
    assert not front.authorized(_basic(cam.username, cam.password + "x"), "basic")
    assert not front.authorized(Request("DESCRIBE", "rtsp://x/", "RTSP/1.0"), "digest")
    assert front.authorized(_digest(front, cam.username, cam.password), "digest")
    assert not front.authorized(_digest(front, cam.username, "wrong"), "digest")
    assert not front.authorized(_digest(front, "other", cam.password), "digest")
    assert 'nonce="' in front.challenge("digest") and front.challenge("basic").startswith("Basic realm=")


def test_auth_fault_refuses_everyone_and_open_cameras_need_nothing() -> None:
    front = _front("http", False)
    assert front.authorized(Request("GET", "/", "HTTP/1.1"), "basic")
    front.fault = "auth"
    assert not front.authorized(Request("GET", "/", "HTTP/1.1"), "basic")
    secured = _front("rtsp", True)
    secured.fault = "auth"
    cam = secured.spec.camera
    assert not secured.authorized(_digest(secured, cam.username, cam.password), "digest")
