"""What a probe returns. Plain data, no I/O: shared by the prober, the scheduler, the CLI and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from camsvc.enums import ErrorClass, StreamKind


@dataclass
class ProbeResult:
    """Outcome of one probe. ``url`` is always the redacted URL."""

    url: str
    ok: bool
    reachable: bool = False
    opened: bool = False
    frames_decoded: int = 0
    width: int | None = None
    height: int | None = None
    fps: float | None = None  # measured from frame arrival times, never CAP_PROP_FPS
    open_ms: float | None = None
    first_frame_ms: float | None = None
    total_ms: float = 0.0
    error: ErrorClass | None = None
    detail: str | None = None  # redacted, human-readable
    stream_kind: StreamKind | None = None
    started_at: float | None = None  # unix time (UTC) the probe started
    # Packet-level probe (probe.engine: packets): what the packets showed, and how deep the check looked:
    # "full", "light" (liveness + one keyframe) or "escalated" (light asked, packets looked different).
    bitrate_kbps: float | None = None
    packet_stats: dict[str, float] = field(default_factory=dict)
    depth: str | None = None
    depth_reason: str | None = None
    # Picture analysis (issue 4): per-check metrics and faults found; filled by the analysis step.
    metrics: dict[str, float] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    # Small JPEG of the last frame decoded (for thumbnails); not serialised to JSON.
    thumbnail_jpeg: bytes | None = field(default=None, repr=False)
    # Downscaled frames (BGR uint8 numpy arrays, at most 640 px wide) and their arrival times (s, monotonic
    # relative to the first frame) for picture analysis; not serialised to JSON.
    frames: list[Any] = field(default_factory=list, repr=False)
    frame_times: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("thumbnail_jpeg", "frames", "frame_times"):
            d.pop(k, None)
        d["error"] = self.error.value if self.error else None
        d["stream_kind"] = self.stream_kind.value if self.stream_kind else None
        return d
