"""All settings in one place: environment (``CAMSVC_*``, nested with ``__``) over an optional YAML file.

The YAML file is ``$CAMSVC_CONFIG`` if set, else ``config/camsvc.yaml`` if it exists. Every field has a
description: ``camsvc check-config`` prints errors with their key path, and docs/configuration.md and
config/camsvc.example.yaml are generated from these declarations (camsvc/config_docs.py, ``make docs``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from camsvc.netpolicy import DEFAULT_ALLOWED, parse_network
from camsvc.safeyaml import safe_load

DEFAULT_CONFIG_FILE = Path("config/camsvc.yaml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSettings(Section):
    budget_s: float = Field(
        10.0, gt=0, le=120, description="Hard upper bound on one probe, whatever the camera does"
    )
    open_timeout_s: float = Field(
        5.0, gt=0, description="Limit for opening a stream (TCP + RTSP set-up + analysis)"
    )
    read_timeout_s: float = Field(
        3.0, gt=0, description="Limit for one frame read; a read near it counts as stalled"
    )
    window_s: float = Field(1.5, gt=0, description="How long a probe reads frames after the first one")
    max_frames: int = Field(8, ge=1, le=100, description="Frames read per probe at most")
    workers: int = Field(
        2, ge=1, le=32, description="Probe worker processes (isolation from decoder crashes)"
    )
    threads_per_worker: int = Field(16, ge=1, le=128, description="Concurrent probes per worker process")
    rtsp_transport: str = Field("tcp", description="RTSP lower transport: tcp or udp")
    engine: Literal["packets", "decode"] = Field(
        "packets",
        description="How RTSP and MJPEG streams are read: packets (PyAV: liveness, fps, bitrate and stalls "
        "from the packets, only the frames the picture checks need decoded, with adaptive depth; the "
        "default) or decode (OpenCV decodes every frame of every window: no light checks; "
        "docs/probing.md)",
    )
    light_after_healthy: int = Field(
        5,
        ge=1,
        description="Consecutive healthy full checks before a camera may get light checks (liveness + one "
        "keyframe; engine packets only)",
    )
    full_every: int = Field(
        5,
        ge=1,
        le=1000,
        description="A camera on light checks still gets the full picture check every this many checks "
        "(1: always full)",
    )


class CheckSettings(Section):
    interval_s: float = Field(
        60.0, gt=0, description="Default check interval per camera; a camera's own check_interval_s wins"
    )
    retry_interval_s: float = Field(10.0, gt=0, description="Interval while a failure awaits confirmation")
    jitter_fraction: float = Field(
        0.2, ge=0, le=1, description="Spread first checks over this fraction of the interval"
    )
    fail_threshold: int = Field(2, ge=1, description="Consecutive failed checks before a camera is down")
    recover_threshold: int = Field(1, ge=1, description="Consecutive good checks before a camera is up again")
    degrade_threshold: int = Field(
        2, ge=1, description="Consecutive checks with a picture fault before degraded"
    )
    retention_days: int = Field(
        7,
        ge=1,
        description="Keep raw check rows this many days; hourly rollups (checks.rollup_retention_days) "
        "keep the history for uptime, reports and charts",
    )
    rollup_retention_days: int = Field(
        3650, ge=30, description="Keep the hourly rollup of checks per camera this many days"
    )
    thumbnail_refresh_s: float = Field(
        300.0,
        ge=0,
        description="Replace a camera's latest thumbnail at most this often (0: at every check); a state "
        "change always stores the picture: at 10,000 cameras a 15 KB picture per check is most of the "
        "database's writes (docs/scale.md)",
    )
    prefer_stream: Literal["sub", "main"] = Field(
        "sub",
        description="Which RTSP stream routine checks decode when a camera has both: the sub-stream costs "
        "about a third of the CPU (docs/probing.md); a camera with only one is checked on that one",
    )


class AlertSettings(Section):
    group_wait_s: float = Field(
        30.0, ge=0, description="Wait this long to group failures of one hamlet/upstream"
    )
    reminder_interval_s: float = Field(4 * 3600, gt=0, description="Remind while an incident stays open")
    escalate_after_s: float = Field(
        3600, gt=0, description="Escalate when nobody acknowledges within this time"
    )
    dispatch_interval_s: float = Field(2.0, gt=0, description="How often the outbox is polled")
    max_attempts: int = Field(50, ge=1, description="Attempts per message before it is marked failed")
    backoff_max_s: float = Field(300.0, gt=0, description="Longest wait between two attempts")
    signing_key: str = Field("", description="Key for signed acknowledge links (generated if empty)")
    outbox_retention_days: int = Field(
        180,
        ge=7,
        description="Delivered (or finally failed) alert messages and their attempts are deleted after this "
        "many days; incidents, outages and transitions are kept (they are the record)",
    )


class SimulatorSettings(Section):
    host: str = Field("127.0.0.1", description="Address the simulator serves on")
    rtsp_port: int = Field(8554, description="Internal GStreamer RTSP server port")
    base_port: int = Field(20000, description="First per-camera port")
    control_port: int = Field(8560, description="Simulator control API port")
    roadside: int = Field(40, ge=0, description="Roadside cameras in the simulated fleet")
    household: int = Field(200, ge=0, description="Household cameras in the simulated fleet")
    cache_dir: Path = Field(Path.home() / ".cache" / "camsvc", description="Encoded footage cache")
    playback_minutes: float = Field(
        30.0, gt=0, le=24 * 60, description="Minutes each simulated camera keeps and can replay (playback)"
    )

    @field_validator("cache_dir")
    @classmethod
    def _expand_home(cls, v: Path) -> Path:
        return v.expanduser()


# Vendor playback over RTSP (the camera's own storage). Placeholders: {scheme} {host} {port} (of the camera's
# main URL), {channel} (1), {track} (Hikvision: 101 main, 102 sub), {subtype} (Dahua: 0 main, 1 sub),
# {start}/{end} formatted with {time_format} in UTC ("utc") or the device's local time ("local").
DEFAULT_PLAYBACK: dict[str, dict[str, str]] = {
    "hikvision": {
        "template": "{scheme}://{host}:{port}/Streaming/tracks/{track}?starttime={start}&endtime={end}",
        "time_format": "%Y%m%dT%H%M%SZ",
        "clock": "utc",
    },
    "dahua": {
        "template": "{scheme}://{host}:{port}/cam/playback?channel={channel}&subtype={subtype}"
        "&starttime={start}&endtime={end}",
        "time_format": "%Y_%m_%d_%H_%M_%S",
        "clock": "local",
    },
}


class RecordingSettings(Section):
    enabled: bool = Field(True, description="Run recorders for cameras whose recording mode is continuous")
    dir: Path | None = Field(
        None, description="Where segments are written (camera/UTC hour); empty: data_dir/recordings"
    )
    segment_s: float = Field(
        60.0,
        ge=2,
        le=600,
        description="Target segment length (cut at the first keyframe after it): fewer index rows and files "
        "than 10 s; a crash loses at most one fragment (one keyframe interval), not a segment",
    )
    stream: Literal["main", "sub"] = Field("main", description="Stream recorded when a camera names none")
    retention_days: dict[str, float] = Field(
        default_factory=lambda: {"roadside": 14.0, "household": 7.0},
        description="Days recordings are kept, per camera kind (a camera's retention_days wins)",
    )
    min_free_bytes: int = Field(
        5 * 1024**3, ge=0, description="Free-space floor: the oldest unheld segments go first to keep it"
    )
    min_free_fraction: float = Field(
        0.05, ge=0, le=0.9, description="Free-space floor as a fraction of the disk (the larger floor wins)"
    )
    cleanup_interval_s: float = Field(
        60.0, gt=0, description="How often retention and the floor are enforced"
    )
    stall_s: float = Field(
        0.0,
        ge=0,
        description="A recorder with no new segment for this long is restarted and the camera is "
        "not_recording; 0: max(120 s, 2 x segment_s + 30 s) (Frigate's rule)",
    )
    packet_timeout_s: float = Field(15.0, gt=0, description="A recorder with no packet this long reconnects")
    cameras_per_worker: int = Field(
        64, ge=1, le=512, description="Recorders per worker process (one thread each, packets copied)"
    )
    restart_backoff_max_s: float = Field(60.0, gt=0, description="Longest wait before a recorder restarts")
    playback: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_PLAYBACK.items()},
        description="Vendor playback templates by lower-case vendor name (keys template, time_format, "
        "clock utc|local); add a vendor here to fetch clips from its cameras' own storage",
    )


class CaseSettings(Section):
    dir: Path | None = Field(None, description="Case clips and packages; empty: data_dir/cases")
    max_range_s: float = Field(6 * 3600, gt=0, description="Longest time range of one clip")
    max_cameras: int = Field(50, ge=1, description="Most cameras one clip request may add")
    export_workers: int = Field(2, ge=1, le=8, description="Export and device-fetch jobs run at once")
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing evidence manifests (PEM, encrypted with the secret key); "
        "empty: data_dir/evidence-signing.key, created on first use",
    )


class RuntimeSettings(Section):
    takeover_s: float = Field(
        30.0,
        gt=0,
        description="A running process that is not the leader takes over the checks and alerts within this "
        "many seconds of the leader dying (it retries the leader lock every takeover_s / 3, at most 5 s)",
    )
    watchdog_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the watchdog looks at the leader's workers"
    )
    restart_backoff_max_s: float = Field(
        60.0,
        gt=0,
        description="A worker that keeps dying is restarted after 1, 2, 4 ... seconds, at most this long",
    )


class NodeSettings(Section):
    role: Literal["all", "probe", "api"] = Field(
        "all",
        description="all: API, dashboard, checks and alerts in one process; probe: checks (and recorders) "
        "of this node's site, no API; api: API, dashboard, alerts, no checks (`camsvc serve --role`)",
    )
    name: str = Field(
        "",
        max_length=100,
        description="This node's name in the nodes table (unique per running process); empty: "
        "<host>-<role>-<site>",
    )
    site: str = Field(
        "",
        max_length=100,
        description="The site (network) this node reaches: it checks only cameras of this site; empty: "
        "any camera (`camsvc serve --site`)",
    )
    heartbeat_s: float = Field(5.0, gt=0, le=60, description="How often a node renews its row and leases")
    dead_after_s: float = Field(
        30.0,
        gt=0,
        description="A node not seen for this long is lost: another node of its site (or one with no "
        "site) takes over its cameras",
    )
    spool_dir: Path | None = Field(
        None,
        description="Where a node queues check results while the database is away; empty: data_dir/spool",
    )
    spool_max_mb: float = Field(
        64.0, gt=0, description="Largest local queue; beyond it the oldest results are summarised first"
    )


class DashboardSettings(Section):
    mbtiles: Path | None = Field(
        None,
        description="Raster map tiles from a local MBTiles file (SQLite), served at /tiles/{z}/{x}/{y}; "
        "set, it replaces tile_url, so the map works with no internet",
    )
    stale_after_intervals: float = Field(
        3.0,
        gt=1,
        description="A camera whose last check is older than this many check intervals shows 'stale'",
    )
    public_status: bool = Field(
        False,
        description="Serve /status without signing in: per-hamlet availability and open incidents, "
        "no pictures, no household locations, no names",
    )


class PipelineSettings(Section):
    window_intervals: float = Field(
        3.0, gt=0, le=100, description="Checks recorded are counted over this many check intervals"
    )
    degraded_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Fewer checks recorded in the window than this share of the expected: degraded",
    )
    stopped_intervals: float = Field(
        3.0,
        gt=0,
        le=100,
        description="No check recorded for this many check intervals: checks are not running (failing: "
        "/healthz 503, the red banner, the admin alert)",
    )
    grace_s: float = Field(
        120.0, ge=0, description="After a process starts, no recent check is 'starting' for this long"
    )
    backlog_age_s: float = Field(
        600.0, gt=0, description="An alert message pending longer than this: the pipeline is degraded"
    )
    backlog_max: int = Field(1000, ge=1, description="More pending alert messages than this: degraded")
    monitor_interval_s: float = Field(
        30.0, gt=0, le=3600, description="How often every process evaluates the pipeline (alerts, heartbeat)"
    )
    heartbeat_url: str = Field(
        "",
        description="Dead-man heartbeat: POSTed every heartbeat_interval_s while checks run, e.g. a "
        "healthchecks ping URL (its host must be in network.allowed_networks); never logged in full",
    )
    heartbeat_interval_s: float = Field(60.0, ge=5, le=3600, description="Seconds between two heartbeats")
    heartbeat_fail: bool = Field(
        True,
        description="When checks are not running, POST to heartbeat_url + '/fail' (healthchecks style) "
        "instead of staying silent",
    )
    heartbeat_timeout_s: float = Field(5.0, gt=0, le=30, description="Limit for one heartbeat request")

    @field_validator("heartbeat_url")
    @classmethod
    def _hb_url(cls, v: str) -> str:
        v = v.strip()
        if v and not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v


class NetworkSettings(Section):
    allowed_networks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED),
        description="Networks cameras and webhook alert channels may be on (CIDR; default: private ranges, "
        "CGNAT 100.64/10 and loopback). Host names are resolved when saved and before each probe or "
        "delivery; link-local and metadata addresses (169.254.0.0/16, fe80::/10) are always refused",
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return [str(parse_network(n)) for n in v]


class AuthSettings(Section):
    session_idle_s: float = Field(
        8 * 3600, ge=60, description="A browser session ends after this long without a request (seconds)"
    )
    session_absolute_s: float = Field(
        24 * 3600, ge=300, description="A browser session ends this long after sign-in, whatever its use"
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Host names the service answers to (Host header; against DNS rebinding). The host of "
        "public_url is always added; '*' allows any (only behind a proxy that checks it)",
    )
    ack_link_days: float = Field(
        7, gt=0, description="An acknowledge link in an alert message stops working after this many days"
    )


class LimitSettings(Section):
    max_body_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted (uploads included); larger ones get 413 before they "
        "are read",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAMSVC_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path("data"), description="Database, thumbnails, clips")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL, e.g. postgresql+psycopg://camsvc:secret@127.0.0.1:5432/camsvc; "
        "empty: the SQLite file camsvc.db in data_dir",
    )
    host: str = Field("127.0.0.1", description="HTTP bind address")
    port: int = Field(8080, description="HTTP port")
    public_url: str = Field(
        "",
        description="Dashboard address used in alert links, e.g. http://10.0.0.5:8080; empty: host and port",
    )
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Zone times are shown in (stored in UTC)")
    default_language: str = Field("vi", description="Dashboard and message language: vi or en")
    tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template (OpenStreetMap, or a local tile server)",
    )
    run_scheduler: bool = Field(True, description="Run checks in this process (disable on extra API workers)")
    log_level: str = Field("INFO", description="Logging level")
    picture_thresholds: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Picture-fault thresholds per camera kind, e.g. {household: {blurred_ratio: 0.25}} "
        "(keys of camsvc.picture.judge.Thresholds); a camera's own picture_thresholds win",
    )
    probe: ProbeSettings = Field(
        default_factory=ProbeSettings,  # type: ignore[arg-type]
        description="How one camera stream is probed (the same for `camsvc probe`)",
    )
    checks: CheckSettings = Field(
        default_factory=CheckSettings,  # type: ignore[arg-type]
        description="When cameras are checked and how many results change their state",
    )
    alerts: AlertSettings = Field(
        default_factory=AlertSettings,  # type: ignore[arg-type]
        description="Grouping, reminders, escalation and delivery of alert messages",
    )
    simulator: SimulatorSettings = Field(
        default_factory=SimulatorSettings,  # type: ignore[arg-type]
        description="The simulated camera fleet (`camsvc simulate`, `camsvc demo`, the tests)",
    )
    network: NetworkSettings = Field(
        default_factory=NetworkSettings,  # type: ignore[arg-type]
        description="Where cameras and webhook channels may be (outbound allow-list)",
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,  # type: ignore[arg-type]
        description="Sign-in sessions, the Host allow-list and acknowledge links",
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings,  # type: ignore[arg-type]
        description="Request size limits",
    )
    recording: RecordingSettings = Field(
        default_factory=RecordingSettings,  # type: ignore[arg-type]
        description="Recorders, segments, retention, the free-space floor and vendor playback",
    )
    cases: CaseSettings = Field(
        default_factory=CaseSettings,  # type: ignore[arg-type]
        description="Case clips, export jobs and the evidence signing key",
    )
    runtime: RuntimeSettings = Field(
        default_factory=RuntimeSettings,  # type: ignore[arg-type]
        description="Leader takeover and the watchdog restarting the leader's workers",
    )
    dashboard: DashboardSettings = Field(
        default_factory=DashboardSettings,  # type: ignore[arg-type]
        description="Offline map tiles, the stale rule and the optional public status page",
    )
    node: NodeSettings = Field(
        default_factory=NodeSettings,  # type: ignore[arg-type]
        description="This process's role, node name and site (probe nodes on PostgreSQL: docs/nodes.md)",
    )
    pipeline: PipelineSettings = Field(
        default_factory=PipelineSettings,  # type: ignore[arg-type]
        description="Is the check pipeline running: /healthz, the banner, the admin alert, the heartbeat",
    )

    @field_validator("picture_thresholds")
    @classmethod
    def _picture_thresholds(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # refused at start, naming each bad key, rather than failing every check of a kind later
        from camsvc.enums import CameraKind
        from camsvc.picture.judge import per_kind_threshold_errors

        errors = per_kind_threshold_errors(v, tuple(k.value for k in CameraKind))
        if errors:
            raise ValueError("; ".join(errors))
        return v

    @field_validator("default_language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v not in ("vi", "en"):
            raise ValueError("must be 'vi' or 'en'")
        return v

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'camsvc.db').resolve()}"

    @property
    def recording_dir(self) -> Path:
        return self.recording.dir or self.data_dir / "recordings"

    @property
    def spool_dir(self) -> Path:
        return self.node.spool_dir or self.data_dir / "spool"

    @property
    def cases_dir(self) -> Path:
        return self.cases.dir or self.data_dir / "cases"

    @property
    def signing_key_path(self) -> Path:
        return self.cases.signing_key_file or self.data_dir / "evidence-signing.key"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_file()
        if path is None:
            return {}
        data = safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: top level must be a mapping")
        return data


def config_file() -> Path | None:
    env = os.environ.get("CAMSVC_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


def format_errors(exc: ValidationError) -> str:
    """Every error of an invalid configuration with its key path, and where the configuration came from."""
    src = config_file()
    lines = [f"invalid configuration ({src or 'environment'}):"]
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"])
        lines.append(f"  {key}: {e['msg']}")
    return "\n".join(lines)
