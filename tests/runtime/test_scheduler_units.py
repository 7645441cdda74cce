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


@pytest.mark.parametrize(
    ("last", "pending", "due"),
    [
        (None, False, None),  # never checked: spread like a new camera
        (None, True, None),
        (1000.0, False, 1060.0),  # one interval after the last recorded check
        (1000.0, True, 1010.0),  # a failure awaiting confirmation: the retry interval
        (0.0, False, 60.0),
    ],
)
def test_resume_due(last: float | None, pending: bool, due: float | None) -> None:
    """After a restart or a takeover a camera is due when its last recorded check says, not at once (a check
    twice for one due time) and not after a fresh spread (a check skipped)."""
    from camsvc.runtime.scheduler import resume_due

    assert resume_due(last, pending, 60.0, 10.0) == due
