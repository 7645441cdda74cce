"""The simulated Diễn Bích fleet: who the cameras are, where they stand, how they are reached.

Pure and deterministic: the same arguments (seed included) always give the same fleet. The fleet file
(CSV or YAML) holds exactly :data:`FLEET_COLUMNS`; the registry import reads it. URLs never carry
credentials: ``username``/``password`` are separate columns. What only the simulator needs (port, scene,
auth scheme, URL paths) lives in :class:`CameraSpec` beside the public :class:`FleetCamera`.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from camsvc.cameras import COLUMNS as REGISTRY_COLUMNS

# The registry's import columns, less `upstream` (the simulated fleet does not model shared switches) and
# the recording columns (empty in a fleet file: each camera takes its kind's recording defaults).
_NOT_IN_FLEET = ("upstream", "recording_mode", "recording_stream", "retention_days")
FLEET_COLUMNS: tuple[str, ...] = tuple(c for c in REGISTRY_COLUMNS if c not in _NOT_IN_FLEET)

COMMUNE = "xã Diễn Bích, huyện Diễn Châu, Nghệ An"
# The commune's extent (south, west, north, east); every camera stands inside it.
BBOX: tuple[float, float, float, float] = (19.030, 105.605, 19.070, 105.660)
CENTER: tuple[float, float] = (19.050, 105.630)

# Eight hamlets (xóm) with their centres.
HAMLETS: dict[str, tuple[float, float]] = {
    "Bắc Chiến Thắng": (19.0615, 105.6230),
    "Nam Chiến Thắng": (19.0545, 105.6215),
    "Đông Hải": (19.0560, 105.6480),
    "Tây Lộc": (19.0480, 105.6120),
    "Quyết Tiến": (19.0420, 105.6300),
    "Đồng Tâm": (19.0385, 105.6450),
    "Yên Phúc": (19.0640, 105.6390),
    "Tân Thành": (19.0360, 105.6160),
}

# Roads as polylines (lat, lon) through the commune; roadside cameras stand at crossroads along them.
ROADS: dict[str, list[tuple[float, float]]] = {
    "Tỉnh lộ 538": [(19.0500, 105.6070), (19.0510, 105.6250), (19.0495, 105.6420), (19.0505, 105.6580)],
    "Đường ven biển": [(19.0340, 105.6520), (19.0470, 105.6530), (19.0600, 105.6510), (19.0680, 105.6500)],
    "Đường trục xã": [(19.0330, 105.6260), (19.0450, 105.6270), (19.0580, 105.6250), (19.0670, 105.6240)],
    "Đường liên xã Diễn Bích – Diễn Ngọc": [(19.0350, 105.6100), (19.0420, 105.6200), (19.0520, 105.6350)],
}

LANDMARKS = (
    "chợ Bích",
    "UBND xã",
    "trường Tiểu học Diễn Bích",
    "trường THCS Diễn Bích",
    "trạm y tế xã",
    "nhà văn hóa xóm",
    "đình làng",
    "bến cá",
    "cầu Bàu",
    "nhà thờ họ Nguyễn",
    "cây xăng",
    "đền Cờn",
)
DIRECTIONS = ("Bắc", "Nam", "Đông", "Tây")

FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Hồ",
    "Phan",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Cao",
    "Thái",
)
MALE_MIDDLE = ("Văn", "Đình", "Hữu", "Xuân", "Quang", "Minh", "Công", "Đức")
FEMALE_MIDDLE = ("Thị", "Thị", "Ngọc", "Thu", "Minh")
MALE_GIVEN = ("Hùng", "Tuấn", "Dũng", "Nam", "Bình", "Hải", "Sơn", "Cường", "Thắng", "Long", "Phúc", "Vinh")
FEMALE_GIVEN = ("Lan", "Hoa", "Hương", "Thủy", "Linh", "Hạnh", "Mai", "Nga", "Hằng", "Thảo", "Yến", "Loan")
SPOTS = ("cổng", "sân", "ngõ", "vườn", "chuồng trại", "cửa hàng", "đầu hồi", "bể cá")
NOTES = (
    "Lắp trên cột điện trước cổng",
    "Wi-Fi yếu vào buổi tối",
    "Chủ nhà hay rút điện khi đi vắng",
    "Nhìn ra đường chính",
    "Đã thay nguồn 2023",
    "Hộp kỹ thuật ở nhà văn hóa xóm",
)


@dataclass(frozen=True)
class Vendor:
    vendor: str
    model: str
    protocol: str  # rtsp | http
    main_path: str  # RTSP main (rtsp) or MJPEG stream (http)
    sub_path: str
    snapshot_path: str
    rtsp_auth: str  # digest | basic (RTSP); HTTP is always basic
    username: str


ROADSIDE_VENDORS = (
    Vendor(
        "Hikvision",
        "DS-2CD2T43G2-4I",
        "rtsp",
        "/Streaming/Channels/101",
        "/Streaming/Channels/102",
        "/ISAPI/Streaming/channels/101/picture",
        "digest",
        "admin",
    ),
    Vendor(
        "Dahua",
        "IPC-HFW2431S-S-S2",
        "rtsp",
        "/cam/realmonitor?channel=1&subtype=0",
        "/cam/realmonitor?channel=1&subtype=1",
        "/cgi-bin/snapshot.cgi",
        "digest",
        "admin",
    ),
    Vendor(
        "KBVision",
        "KX-C2021S5",
        "rtsp",
        "/cam/realmonitor?channel=1&subtype=0",
        "/cam/realmonitor?channel=1&subtype=1",
        "/cgi-bin/snapshot.cgi",
        "digest",
        "admin",
    ),
)
HOUSEHOLD_RTSP_VENDORS = (
    Vendor(
        "Ezviz", "C6N", "rtsp", "/h264/ch1/main/av_stream", "/h264/ch1/sub/av_stream", "", "digest", "admin"
    ),
    Vendor(
        "Imou",
        "Ranger 2 IPC-A22EP",
        "rtsp",
        "/cam/realmonitor?channel=1&subtype=0",
        "/cam/realmonitor?channel=1&subtype=1",
        "/cgi-bin/snapshot.cgi",
        "digest",
        "admin",
    ),
    Vendor("TP-Link", "Tapo C200", "rtsp", "/stream1", "/stream2", "", "basic", "tapo"),
    Vendor(
        "Hikvision",
        "DS-2CD1023G0E-I",
        "rtsp",
        "/Streaming/Channels/101",
        "/Streaming/Channels/102",
        "/ISAPI/Streaming/channels/101/picture",
        "digest",
        "admin",
    ),
)
HOUSEHOLD_HTTP_VENDORS = (
    Vendor("Vstarcam", "C7824WIP", "http", "/videostream.cgi", "", "/snapshot.cgi", "basic", "admin"),
    Vendor("Axis", "M1011", "http", "/mjpg/video.mjpg", "", "/jpg/image.jpg", "basic", "root"),
    Vendor("Ai-Thinker", "ESP32-CAM", "http", "/stream", "", "/capture", "basic", "esp"),
)

# Scenes (see footage.py): streets for roadside cameras; households see yards, streets and houses.
ROADSIDE_SCENES = ("street-a", "street-b", "street-c")
HOUSEHOLD_SCENES = ("yard-motorbike", "house-leuven-a", "house-leuven-b", "building", "street-b", "street-c")


@dataclass(frozen=True)
class FleetCamera:
    """One row of the fleet file: exactly :data:`FLEET_COLUMNS`."""

    id: str
    name: str
    kind: str  # roadside | household
    hamlet: str
    address: str
    latitude: float
    longitude: float
    owner_name: str
    owner_phone: str
    owner_consent: bool  # household: the owner agreed that officers may view the pictures
    vendor: str
    model: str
    main_url: str
    sub_url: str
    snapshot_url: str
    username: str
    password: str
    check_interval_s: int
    enabled: bool
    notes: str
    installed_on: str  # YYYY-MM-DD

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CameraSpec:
    """What the simulator needs to serve one camera."""

    camera: FleetCamera
    index: int  # 0-based; the camera's port is base_port + index
    port: int
    protocol: str  # rtsp | http
    scene: str
    phase_s: float  # offset into the looped footage, so cameras sharing a scene differ
    main_path: str
    sub_path: str
    snapshot_path: str
    rtsp_auth: str  # digest | basic

    @property
    def id(self) -> str:
        return self.camera.id

    @property
    def has_credentials(self) -> bool:
        return bool(self.camera.username)


def fold(text: str) -> str:
    """Accent- and case-insensitive key: ``fold("Bắc Chiến  Thắng") == fold("bac chien thang")``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def match_hamlet(query: str, hamlets: Iterable[str] = HAMLETS) -> str:
    """The hamlet named by *query* (accents and case ignored); ValueError listing the valid ones."""
    names = list(hamlets)
    key = fold(query)
    for name in names:
        if fold(name) == key:
            return name
    raise ValueError(f"unknown hamlet {query!r}; valid hamlets: {', '.join(names)}")


def _point_on(polyline: Sequence[tuple[float, float]], t: float) -> tuple[float, float]:
    segs = len(polyline) - 1
    pos = min(max(t, 0.0), 1.0) * segs
    i = min(int(pos), segs - 1)
    f = pos - i
    (a_lat, a_lon), (b_lat, b_lon) = polyline[i], polyline[i + 1]
    return a_lat + (b_lat - a_lat) * f, a_lon + (b_lon - a_lon) * f


def _nearest_hamlet(lat: float, lon: float) -> str:
    return min(HAMLETS, key=lambda h: (HAMLETS[h][0] - lat) ** 2 + (HAMLETS[h][1] - lon) ** 2)


def _clamp(lat: float, lon: float) -> tuple[float, float]:
    s, w, n, e = BBOX
    return min(max(lat, s + 0.0005), n - 0.0005), min(max(lon, w + 0.0005), e - 0.0005)


def _password(rng: random.Random, vendor: Vendor) -> str:
    if vendor.vendor == "Ezviz":  # the verification code printed under the camera
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6))
    word = rng.choice(("Camera", "Dienbich", "Anninh", "Xom", "Nhaem", "Baove"))
    return f"{word}@{rng.randint(1000, 9999)}"


def _person(rng: random.Random) -> tuple[str, str, str]:
    """(full name, honorific, given name)."""
    if rng.random() < 0.6:
        given = rng.choice(MALE_GIVEN)
        return f"{rng.choice(FAMILY)} {rng.choice(MALE_MIDDLE)} {given}", "ông", given
    given = rng.choice(FEMALE_GIVEN)
    return f"{rng.choice(FAMILY)} {rng.choice(FEMALE_MIDDLE)} {given}", "bà", given


def _unique(name: str, seen: set[str]) -> str:
    out, n = name, 1
    while out in seen:
        n += 1
        out = f"{name} ({n})"
    seen.add(out)
    return out


def _phone(rng: random.Random) -> str:
    return f"09{rng.randint(0, 8)}{rng.randint(0, 9_999_999):07d}"


def _installed(rng: random.Random) -> str:
    return (date(2019, 1, 1) + timedelta(days=rng.randint(0, 6 * 365))).isoformat()


def _url(scheme: str, host: str, port: int, path: str) -> str:
    return f"{scheme}://{host}:{port}{path}" if path else ""


def generate_fleet(
    roadside: int = 40,
    household: int = 200,
    *,
    seed: int = 1,
    host: str = "127.0.0.1",
    base_port: int = 20000,
) -> list[CameraSpec]:
    """The fleet: ``roadside`` RTSP cameras at crossroads, then ``household`` RTSP/HTTP cameras."""
    if roadside < 0 or household < 0:
        raise ValueError("camera counts must be >= 0")
    rng = random.Random(seed)
    width = max(3, len(str(roadside + household)))
    specs: list[CameraSpec] = []
    road_names = list(ROADS)

    # Roadside: two cameras per crossroads (facing both ways), crossroads spread along the roads.
    crossings = (roadside + 1) // 2
    per_road = [
        crossings // len(road_names) + (1 if r < crossings % len(road_names) else 0)
        for r in range(len(road_names))
    ]
    points: list[tuple[str, float]] = []
    for r, road in enumerate(road_names):
        n = per_road[r]
        points += [(road, (k + 0.5) / n + rng.uniform(-0.15, 0.15) / n) for k in range(n)]
    for i in range(roadside):
        road, t = points[i // 2]
        lat, lon = _point_on(ROADS[road], t)
        lat, lon = _clamp(lat + rng.uniform(-0.0002, 0.0002), lon + rng.uniform(-0.0002, 0.0002))
        hamlet = _nearest_hamlet(lat, lon)
        landmark = LANDMARKS[(i // 2) % len(LANDMARKS)]
        if landmark == "nhà văn hóa xóm":
            landmark += f" {hamlet}"
        facing = DIRECTIONS[(i % 2) + (2 if road in ("Tỉnh lộ 538",) else 0)]
        junction = "Ngã tư" if (i // 2) % 3 else "Ngã ba"
        vendor = ROADSIDE_VENDORS[i % len(ROADSIDE_VENDORS)]
        km = int(t * 6)
        specs.append(
            _spec(
                i,
                width,
                host,
                base_port,
                vendor,
                kind="roadside",
                name=f"{junction} {road} – {landmark}, hướng {facing}",
                hamlet=hamlet,
                address=f"Km{km}+{rng.randint(0, 999):03d} {road}, xóm {hamlet}, {COMMUNE}",
                lat=lat,
                lon=lon,
                owner=("", ""),
                username=vendor.username,
                password=_password(rng, vendor),
                interval=60,
                enabled=True,
                notes=rng.choice(("", "", "Cột đèn tín hiệu", "Tủ điện chung với đèn đường")),
                installed=_installed(rng),
                scene=ROADSIDE_SCENES[i % len(ROADSIDE_SCENES)],
                phase=rng.uniform(0, 60),
            )
        )

    # Household: spread evenly over the hamlets, scattered around each hamlet's centre.
    hamlet_names = list(HAMLETS)
    names: set[str] = set()
    order = [hamlet_names[k % len(hamlet_names)] for k in range(household)]
    rng.shuffle(order)
    for k in range(household):
        i = roadside + k
        hamlet = order[k]
        c_lat, c_lon = HAMLETS[hamlet]
        lat, lon = _clamp(c_lat + rng.gauss(0, 0.0018), c_lon + rng.gauss(0, 0.0022))
        if rng.random() < 0.55:
            vendor = rng.choice(HOUSEHOLD_RTSP_VENDORS)
            creds = rng.random() < 0.75
        else:
            vendor = rng.choice(HOUSEHOLD_HTTP_VENDORS)
            creds = rng.random() < 0.5
        full, title, _given = _person(rng)
        spot = rng.choice(SPOTS)
        specs.append(
            _spec(
                i,
                width,
                host,
                base_port,
                vendor,
                kind="household",
                name=_unique(f"Camera {spot} – nhà {title} {full}", names),
                hamlet=hamlet,
                address=f"Nhà {title} {full}, số {rng.randint(1, 180)}, xóm {hamlet}, {COMMUNE}",
                lat=lat,
                lon=lon,
                owner=(full, _phone(rng)),
                username=vendor.username if creds else "",
                password=_password(rng, vendor) if creds else "",
                interval=rng.choice((120, 120, 300)),
                enabled=rng.random() > 0.03,
                notes=rng.choice(("",) * 6 + NOTES),
                installed=_installed(rng),
                scene=rng.choice(HOUSEHOLD_SCENES),
                phase=rng.uniform(0, 60),
            )
        )
    return specs


def _spec(
    index: int,
    width: int,
    host: str,
    base_port: int,
    vendor: Vendor,
    *,
    kind: str,
    name: str,
    hamlet: str,
    address: str,
    lat: float,
    lon: float,
    owner: tuple[str, str],
    username: str,
    password: str,
    interval: int,
    enabled: bool,
    notes: str,
    installed: str,
    scene: str,
    phase: float,
) -> CameraSpec:
    port = base_port + index
    main_scheme = "rtsp" if vendor.protocol == "rtsp" else "http"
    cam = FleetCamera(
        id=f"cam-{index + 1:0{width}d}",
        name=name,
        kind=kind,
        hamlet=hamlet,
        address=address,
        latitude=round(lat, 6),
        longitude=round(lon, 6),
        owner_name=owner[0],
        owner_phone=owner[1],
        # about a third of households consent; derived from the index so the random draws stay the same
        owner_consent=kind == "household" and index % 3 == 0,
        vendor=vendor.vendor,
        model=vendor.model,
        main_url=_url(main_scheme, host, port, vendor.main_path),
        sub_url=_url(main_scheme, host, port, vendor.sub_path),
        snapshot_url=_url("http", host, port, vendor.snapshot_path),
        username=username,
        password=password,
        check_interval_s=interval,
        enabled=enabled,
        notes=notes,
        installed_on=installed,
    )
    return CameraSpec(
        camera=cam,
        index=index,
        port=port,
        protocol=vendor.protocol,
        scene=scene,
        phase_s=round(phase, 3),
        main_path=vendor.main_path,
        sub_path=vendor.sub_path,
        snapshot_path=vendor.snapshot_path,
        rtsp_auth=vendor.rtsp_auth,
    )


# --- fleet files ---------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fleet_csv_text(cameras: Iterable[FleetCamera]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FLEET_COLUMNS, lineterminator="\n")
    w.writeheader()
    for cam in cameras:
        w.writerow({k: _cell(v) for k, v in cam.row().items()})
    return buf.getvalue()


def fleet_yaml_text(cameras: Iterable[FleetCamera]) -> str:
    rows = [cam.row() for cam in cameras]
    return yaml.safe_dump({"cameras": rows}, allow_unicode=True, sort_keys=False, width=200)


def write_fleet(cameras: Sequence[FleetCamera], out_dir: Path) -> tuple[Path, Path]:
    """Write ``fleet.csv`` and ``fleet.yaml`` into *out_dir* (atomically); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "fleet.csv", out_dir / "fleet.yaml")
    for path, text in zip(paths, (fleet_csv_text(cameras), fleet_yaml_text(cameras)), strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return paths


_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "": True}


def _coerce(row: dict[str, Any]) -> FleetCamera:
    row = {"owner_consent": False, **row}  # fleet files written before the consent column
    missing = [c for c in FLEET_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"fleet row {row.get('id', '?')}: missing columns {', '.join(missing)}")
    values: dict[str, Any] = {}
    for f in fields(FleetCamera):
        v = row[f.name]
        if f.name in ("latitude", "longitude"):
            values[f.name] = float(v)
        elif f.name == "check_interval_s":
            values[f.name] = int(v)
        elif f.name == "enabled":
            values[f.name] = v if isinstance(v, bool) else _BOOL[str(v).strip().lower()]
        elif f.name == "owner_consent":
            values[f.name] = v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes")
        else:
            values[f.name] = "" if v is None else str(v)
    return FleetCamera(**values)


def read_fleet(path: Path) -> list[FleetCamera]:
    """Read a fleet file written by :func:`write_fleet` (``.csv`` or ``.yaml``/``.yml``)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [_coerce(r) for r in csv.DictReader(io.StringIO(text))]
    data = yaml.safe_load(text) or {}
    rows = data.get("cameras", []) if isinstance(data, dict) else data
    return [_coerce(r) for r in rows]
