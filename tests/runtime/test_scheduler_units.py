"""Which stream a routine check decodes."""

import pytest

from camsvc.models import Camera, CameraKind
from camsvc.runtime.scheduler import pick_stream


def cam(main: str = "", sub: str = "", snap: str = "") -> Camera:
    return Camera(id="c", name="c", kind=CameraKind.ROADSIDE, main_url=main, sub_url=sub, snapshot_url=snap)


@pytest.mark.parametrize(
    ("c", "prefer", "which"),
    [
        (cam("rtsp://h/main", "rtsp://h/sub", "http://h/s.jpg"), "sub", "sub"),
        (cam("rtsp://h/main", "rtsp://h/sub"), "main", "main"),
        (cam("rtsp://h/main"), "sub", "main"),
        (cam(sub="rtsp://h/sub"), "main", "sub"),
        (cam(snap="http://h/s.jpg"), "sub", "snapshot"),
        (cam(), "sub", None),
    ],
)
def test_pick_stream(c: Camera, prefer: str, which: str | None) -> None:
    got = pick_stream(c, prefer)
    assert (got[1] if got else None) == which
    if which == "snapshot":
        assert got is not None and got[2] == "snapshot"
