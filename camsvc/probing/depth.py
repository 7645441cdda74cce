"""How deep one check looks: pure rules (no I/O, no clock), tested with tables (tests/probing/test_depth.py).

A *light* check proves liveness, frame rate, bitrate and stalls from the packets and decodes one keyframe
(enough for black, dark, overexposed, blurred, covered, snow, turned: they are judged on one picture).
A *full* check also decodes the window's frames, which ``frozen`` needs (change within the check).

- A camera gets light checks only after ``light_after_healthy`` consecutive healthy checks; a new camera,
  one that just failed or was degraded, always gets full checks.
- Even then every ``full_every``-th check is full.
- "Whenever anything looks different": the probe compares the packets it saw with the camera's usual
  packets (:func:`looks_different`) and turns a light check into a full one on the spot (it buffered the
  window's packets, so nothing is read twice); the next check is full too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import median

# An encoder repeating one picture sends P-frames of a few dozen bytes (all macroblocks skipped).
MIN_P_BYTES = 96
MIN_P_SHARE = 0.004  # ... or a tiny share of the keyframe
P_DROP = 0.4  # P-frames below this share of the camera's usual: the picture stopped changing as before
KEY_RANGE = (0.6, 1.6)  # keyframe size outside this range of the usual: the picture itself changed
FPS_DROP = 0.7  # measured fps below this share of the usual
BITRATE_RANGE = (0.5, 2.0)
USUAL_ALPHA = 0.2  # the usual profile is an EWMA over about the last 5 healthy checks


@dataclass(frozen=True)
class PacketProfile:
    """What one check's packets looked like."""

    fps: float | None = None
    bitrate_kbps: float | None = None
    key_bytes: float | None = None  # size of the (first) keyframe
    p_median_bytes: float | None = None  # median size of the other frames
    packets: int = 0


@dataclass(frozen=True)
class ProbeDepth:
    """What the scheduler asks of one probe. ``usual`` lets the probe escalate a light check by itself."""

    full: bool = True
    reason: str = "full check"
    usual: PacketProfile | None = None


FULL = ProbeDepth()


@dataclass(frozen=True)
class DepthState:
    """One camera's history as far as depth is concerned."""

    healthy_streak: int = 0  # consecutive healthy checks (ok, no escalation, not degraded)
    since_full: int = 0  # checks since the last full one
    last_bad: bool = True  # the last check failed, was degraded or looked different (a new camera: True)
    usual: PacketProfile | None = None


def profile_of(
    sizes: Sequence[int], keyflags: Sequence[bool], fps: float | None, span_s: float
) -> PacketProfile:
    """The profile of one window's packets (sizes in bytes, keyframe flags, measured fps, span in s)."""
    keys = [s for s, k in zip(sizes, keyflags, strict=True) if k]
    others = [s for s, k in zip(sizes, keyflags, strict=True) if not k]
    bitrate = 8 * sum(sizes) / span_s / 1000 if span_s > 0 and sizes else None
    return PacketProfile(
        fps=fps,
        bitrate_kbps=bitrate,
        key_bytes=float(keys[0]) if keys else None,
        p_median_bytes=float(median(others)) if others else None,
        packets=len(sizes),
    )


def _outside(value: float | None, usual: float | None, lo: float, hi: float) -> bool:
    if value is None or usual is None or usual <= 0:
        return False
    return not lo * usual <= value <= hi * usual


def looks_different(now: PacketProfile, usual: PacketProfile | None) -> str | None:
    """Why this check's packets call for the full picture check; ``None`` when they look as usual."""
    p, key = now.p_median_bytes, now.key_bytes
    if p is not None and (p < MIN_P_BYTES or (key and p < MIN_P_SHARE * key)):
        return f"near-minimal P-frames ({p:.0f} bytes): the picture may be frozen"
    if usual is None:
        return None
    if p is not None and usual.p_median_bytes and p < P_DROP * usual.p_median_bytes:
        return f"P-frames {p:.0f} bytes, usually {usual.p_median_bytes:.0f}"
    if _outside(key, usual.key_bytes, *KEY_RANGE):
        return f"keyframe {key:.0f} bytes, usually {usual.key_bytes:.0f}"
    if now.fps is not None and usual.fps and now.fps < FPS_DROP * usual.fps:
        return f"{now.fps:.1f} fps, usually {usual.fps:.1f}"
    if _outside(now.bitrate_kbps, usual.bitrate_kbps, *BITRATE_RANGE):
        return f"{now.bitrate_kbps:.0f} kbit/s, usually {usual.bitrate_kbps:.0f}"
    return None


def choose(state: DepthState, light_after_healthy: int, full_every: int) -> ProbeDepth:
    """The depth of a camera's next check."""
    if state.last_bad:
        return ProbeDepth(True, "last check failed, was degraded or looked different", state.usual)
    if state.healthy_streak < light_after_healthy:
        return ProbeDepth(True, f"healthy for {state.healthy_streak} checks only", state.usual)
    if state.since_full + 1 >= full_every:
        return ProbeDepth(True, f"every {full_every}th check is full", state.usual)
    return ProbeDepth(False, "healthy for long: liveness + one keyframe", state.usual)


def _ewma(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    if old is None:
        return new
    return (1 - USUAL_ALPHA) * old + USUAL_ALPHA * new


def learn_usual(usual: PacketProfile | None, now: PacketProfile) -> PacketProfile:
    if usual is None:
        return now
    return PacketProfile(
        fps=_ewma(usual.fps, now.fps),
        bitrate_kbps=_ewma(usual.bitrate_kbps, now.bitrate_kbps),
        key_bytes=_ewma(usual.key_bytes, now.key_bytes),
        p_median_bytes=_ewma(usual.p_median_bytes, now.p_median_bytes),
        packets=now.packets,
    )


def update(
    state: DepthState,
    *,
    ok: bool,
    full: bool,
    different: bool,
    degraded: bool = False,
    profile: PacketProfile | None = None,
) -> DepthState:
    """The state after one check: *full* says whether it was full (asked for or escalated), *different*
    whether its packets looked different, *degraded* whether its picture was judged faulty."""
    if not ok or degraded or different:
        return replace(state, healthy_streak=0, since_full=0 if full else state.since_full + 1, last_bad=True)
    usual = learn_usual(state.usual, profile) if profile is not None else state.usual
    return DepthState(
        healthy_streak=state.healthy_streak + 1,
        since_full=0 if full else state.since_full + 1,
        last_bad=False,
        usual=usual,
    )
