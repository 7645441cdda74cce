"""Reference views: what a camera looks at, to tell when it was turned. Pure (no I/O, no clock).

A view is the ORB keypoints and descriptors of a 320 px grey frame (:func:`view_of`). A camera keeps up to
four, one per lighting mode (colour day, greyscale/IR night), as bytes (:func:`encode_views`,
:func:`add_reference_view`). :func:`match_reference` compares the current frame with them;
:mod:`camsvc.picture.judge` decides from that match whether the camera was turned.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from camsvc.picture.measure import GREY_CHROMA, WORK_WIDTH, FrameMetrics, check_frame, downscale, to_grey

SIGNATURE_MAGIC = b"VQS1"
SIGNATURE_FEATURES = 200
SIGNATURE_WIDTH = 320


def _signature_grey(frame: np.ndarray) -> np.ndarray:
    g = to_grey(downscale(frame, SIGNATURE_WIDTH))
    # equalise locally so that day and night (IR) pictures of one place give comparable corners
    return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(g)


def _orb() -> Any:
    # one scale (the camera does not zoom between checks), FAST scores: a third of the default cost
    return cv2.ORB.create(
        nfeatures=SIGNATURE_FEATURES,
        nlevels=1,
        edgeThreshold=15,
        patchSize=15,
        fastThreshold=12,
        scoreType=cv2.ORB_FAST_SCORE,
    )


@dataclass
class View:
    """One reference view: ORB keypoints (x, y at SIGNATURE_WIDTH px wide) and their descriptors."""

    width: int
    height: int
    greyscale: bool
    brightness: float
    points: np.ndarray  # float32 (n, 2)
    descriptors: np.ndarray  # uint8 (n, 32)


def view_of(frame: np.ndarray, metrics: FrameMetrics | None = None) -> View:
    """Keypoints and descriptors of a frame (what signature() stores, also used to judge `turned`).
    ``metrics`` (of the same frame's check) saves measuring its greyscale flag and brightness again."""
    frame = check_frame(frame, "frame")
    g = _signature_grey(frame)
    kps, desc = _orb().detectAndCompute(g, None)
    if desc is None or not kps:
        pts = np.zeros((0, 2), np.float32)
        desc = np.zeros((0, 32), np.uint8)
    else:
        pts = np.array([k.pt for k in kps], dtype=np.float32)
    if metrics is not None:
        grey_flag, bright = metrics.is_greyscale, metrics.brightness
    elif frame.ndim == 3:
        small = downscale(frame, WORK_WIDTH // 4)
        ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb).astype(np.float32) - 128.0
        grey_flag = float(cv2.mean(cv2.magnitude(ycc[:, :, 1], ycc[:, :, 2]))[0]) < GREY_CHROMA
        bright = float(ycc[:, :, 0].mean() + 128.0)
    else:
        grey_flag, bright = True, float(to_grey(downscale(frame, WORK_WIDTH // 4)).mean())
    return View(g.shape[1], g.shape[0], grey_flag, bright, pts, desc)


def encode_views(views: list[View]) -> bytes:
    """Serialise views: magic, count, then per view a header and n x (x, y as uint16 1/8 px, 32 B desc)."""
    out = [SIGNATURE_MAGIC, struct.pack("<B", len(views))]
    for v in views:
        n = len(v.points)
        out.append(struct.pack("<HHBfH", v.width, v.height, int(v.greyscale), v.brightness, n))
        xy = np.clip(np.round(v.points * 8.0), 0, 65535).astype("<u2")
        out.append(xy.tobytes())
        out.append(np.ascontiguousarray(v.descriptors, dtype=np.uint8).tobytes())
    return b"".join(out)


def decode_views(data: bytes) -> list[View]:
    """Inverse of :func:`encode_views`; raises ValueError on anything that is not a signature."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a signature must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(SIGNATURE_MAGIC) or len(data) < 5:
        raise ValueError("not a camsvc view signature (bad magic)")
    count = data[4]
    pos = 5
    views: list[View] = []
    hdr = struct.Struct("<HHBfH")
    for _ in range(count):
        if pos + hdr.size > len(data):
            raise ValueError("truncated view signature")
        w, h, grey, bright, n = hdr.unpack_from(data, pos)
        pos += hdr.size
        end = pos + n * 4 + n * 32
        if end > len(data):
            raise ValueError("truncated view signature")
        xy = np.frombuffer(data, dtype="<u2", count=n * 2, offset=pos).reshape(n, 2).astype(np.float32) / 8.0
        pos += n * 4
        desc = np.frombuffer(data, dtype=np.uint8, count=n * 32, offset=pos).reshape(n, 32).copy()
        pos += n * 32
        views.append(View(w, h, bool(grey), float(bright), xy, desc))
    if pos != len(data):
        raise ValueError("view signature has trailing bytes")
    return views


def signature(frame: np.ndarray) -> bytes:
    """Compact descriptor of what the camera looks at (about 14 kB): ORB features of a 320 px grey frame.

    Store it as the camera's reference view; :func:`camsvc.picture.judge.judge` matches the current frame
    against it to detect ``turned``. Several views (day, night) can be combined with
    :func:`add_reference_view`.
    """
    return encode_views([view_of(frame)])


@dataclass
class ViewMatch:
    """How the current frame matches one reference view."""

    keypoints: int  # in the current frame
    matches: int
    inliers: int
    shift: float  # translation of the frame centre, fraction of the width
    rotation_deg: float
    scale: float


def match_view(ref: View, cur: View, *, max_inlier_px: float = 4.0) -> ViewMatch:
    """Match ORB features (ratio test) and fit a similarity transform with RANSAC."""
    n = len(cur.points)
    if len(ref.points) < 4 or n < 4:
        return ViewMatch(n, 0, 0, 0.0, 0.0, 1.0)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(cur.descriptors, ref.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and p[0].distance < 64]
    if len(good) < 4:
        return ViewMatch(n, len(good), 0, 0.0, 0.0, 1.0)
    src = cur.points[[g.queryIdx for g in good]].astype(np.float32)
    dst = ref.points[[g.trainIdx for g in good]].astype(np.float32)
    # the two views may have been taken at different sizes: compare in reference coordinates
    if cur.width != ref.width:
        src = src * (ref.width / cur.width)
    mat, inl = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=max_inlier_px, maxIters=500, confidence=0.99
    )
    if mat is None or inl is None:
        return ViewMatch(n, len(good), 0, 0.0, 0.0, 1.0)
    inliers = int(inl.sum())
    a, b = float(mat[0, 0]), float(mat[1, 0])
    scale = math.hypot(a, b)
    rot = math.degrees(math.atan2(b, a))
    cx, cy = ref.width / 2.0, ref.height / 2.0
    tx = a * cx - b * cy + float(mat[0, 2]) - cx
    ty = b * cx + a * cy + float(mat[1, 2]) - cy
    return ViewMatch(n, len(good), inliers, math.hypot(tx, ty) / ref.width, rot, scale)


def add_reference_view(
    reference: bytes | None, frame: np.ndarray, metrics: FrameMetrics, *, replace_all: bool = False
) -> bytes:
    """Reference view(s) for ``turned``, updated from a good check's last frame.

    With no reference (or ``replace_all``, when a technician re-sets the view) the frame becomes the only
    view. Otherwise a view is added only for a lighting mode not yet covered (colour vs greyscale/IR, or
    a brightness far from every view's), at most 4 views; an already covered mode leaves it unchanged.
    Call it only for checks that had no fault.
    """
    new = view_of(frame, metrics)
    if reference is None or replace_all:
        return encode_views([new])
    views = decode_views(reference)
    if _mode_view(views, metrics.is_greyscale, metrics.brightness) is not None or len(views) >= 4:
        return reference
    return encode_views([*views, new])


def _mode_view(views: list[View], greyscale: bool, brightness: float) -> View | None:
    same = [v for v in views if v.greyscale == greyscale and _bright_close(v.brightness, brightness)]
    return same[0] if same else None


def _bright_close(a: float, b: float) -> bool:
    return max(a, b) <= 2.5 * max(min(a, b), 10.0)


@dataclass
class ReferenceMatch:
    """The current frame against a camera's reference views."""

    best: ViewMatch  # the view it matches best (most inliers)
    same_mode: bool  # a view of the current lighting mode (colour/greyscale, brightness) exists


def match_reference(reference: bytes, frame: np.ndarray, metrics: FrameMetrics) -> ReferenceMatch | None:
    """Match the check's last frame against every stored view; None when no view is stored."""
    views = decode_views(reference)
    if not views:
        return None
    cur = view_of(frame, metrics)
    best: ViewMatch | None = None
    for v in views:
        mt = match_view(v, cur)
        if best is None or mt.inliers > best.inliers:
            best = mt
    assert best is not None
    return ReferenceMatch(best, _mode_view(views, metrics.is_greyscale, metrics.brightness) is not None)
