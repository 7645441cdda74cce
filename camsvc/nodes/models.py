"""The nodes table (one row per running node, renewed every ``node.heartbeat_s``) and camera leases (which
node checks which camera). A lease lives as long as its node is seen: a node renews its row, not each lease,
so 10,000 leases cost one UPDATE per heartbeat."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from camsvc.models import _ts, utcnow


class ProbeNode(SQLModel, table=True):
    __tablename__ = "probe_node"

    name: str = Field(primary_key=True, max_length=100)
    site: str = Field(default="", max_length=100, index=True)  # "": any site
    role: str = Field(default="all", max_length=20)  # all | probe | api
    host: str = Field(default="", max_length=200)
    pid: int = 0
    version: str = Field(default="", max_length=50)
    started_at: dt.datetime = _ts(default_factory=utcnow)
    last_seen: dt.datetime = _ts(default_factory=utcnow, index=True)
    stopped_at: dt.datetime | None = _ts(default=None)  # a clean stop: its leases were released
    cameras: int = 0  # cameras it holds leases for
    capacity: int = 0  # probe pool slots
    in_flight: int = 0
    probes_per_min: float = 0.0
    saturation: float = 0.0  # in_flight / capacity, averaged over the last minute
    spooled: int = 0  # results queued on its disk, not yet in the database
    oldest_spooled_at: dt.datetime | None = _ts(default=None)
    detail: str | None = Field(default=None, max_length=2000)


class CameraLease(SQLModel, table=True):
    __tablename__ = "camera_lease"

    camera_id: str = Field(primary_key=True, foreign_key="camera.id", ondelete="CASCADE")
    node: str = Field(max_length=100, index=True)
    claimed_at: dt.datetime = _ts(default_factory=utcnow)
