"""Evidence end to end, read off the picture itself: the real service records a clock camera, and fetches the
same kind of camera's range from its own storage through the Hikvision and the Dahua playback forms; the
exported package verifies, and each clip covers the requested minute by the clock burnt into its frames.

Three simulated roadside cameras show the wall clock (camsvc/simulate/clock.py): cam-001 is recorded by
camsvc (continuous), cam-002 (Dahua) and cam-003 (set to Hikvision) are not, so their clips come from the
device. One module-scoped run (about 3 minutes: 80 s of recording, then 60 s of real-time playback).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest

from camsvc.bench.common import ServiceProcess, free_port, import_fleet
from camsvc.simulate.clock import read_clock
from camsvc.timefmt import parse_utc
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = pytest.mark.slow

sim = simulator_fixture(3, 0, clock_cameras=3)

KEYFRAME_S = 2.0  # the clock camera's keyframe interval (10 frames at 5 fps)
FRAME_S = 0.2
LATENCY_S = 0.3  # a frame's clock vs the moment the recorder received it (tolerance)
RANGE_S = 60


@dataclass
class Run:
    svc: ServiceProcess
    client: Any
    data_dir: Path
    start: dt.datetime
    end: dt.datetime
    case: dict[str, Any]
    package: Path
    key_file: Path


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def run(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("evidence")
    import_fleet(data_dir, sim.fleet_csv)
    env = {
        "CAMSVC_RECORDING__SEGMENT_S": "10",
        "CAMSVC_CASES__EXPORT_WORKERS": "3",
        "CAMSVC_CHECKS__INTERVAL_S": "30",
    }
    with ServiceProcess(data_dir, free_port(), env) as svc, svc.client(timeout=30) as c:
        # cam-002 (Dahua) and cam-003 (as a Hikvision) keep their footage on the device only
        for cam, values in (
            ("cam-001", {"recording_mode": "continuous"}),
            ("cam-002", {"recording_mode": "off", "vendor": "Dahua"}),
            ("cam-003", {"recording_mode": "off", "vendor": "Hikvision"}),
        ):
            r = c.patch(f"/api/cameras/{cam}", json=values)
            assert r.status_code == 200, r.text

        def recorded_s() -> float | None:
            body = c.get("/api/cameras/cam-001/recording").json()
            runs = body["segments"]
            if not runs:
                return None
            span = (parse_utc(runs[-1]["end"]) - parse_utc(runs[0]["start"])).total_seconds()
            return span if span >= RANGE_S + 20 else None

        wait_for(recorded_s, 240, "80 s of cam-001 recorded")
        first = parse_utc(c.get("/api/cameras/cam-001/recording").json()["segments"][0]["start"])
        start = (first + dt.timedelta(seconds=12)).replace(microsecond=0)
        end = start + dt.timedelta(seconds=RANGE_S)

        r = c.post(
            "/api/cases", json={"number": "2026/117", "title": "Bich market crossroads", "reason": "e2e"}
        )
        assert r.status_code == 201, r.text
        case = r.json()
        r = c.post(
            f"/api/cases/{case['id']}/clips",
            json={"camera_ids": ["cam-001", "cam-002", "cam-003"], "start": _iso(start), "end": _iso(end)},
        )
        assert r.status_code == 202, r.text

        def settled() -> list[dict[str, Any]] | None:
            clips = c.get(f"/api/cases/{case['id']}").json()["clips"]
            return None if any(k["status"] in ("pending", "fetching") for k in clips) else clips

        wait_for(settled, RANGE_S + 120, "the three clips materialised")
        clips = settled() or []
        assert {k["camera_id"]: k["status"] for k in clips} == dict.fromkeys(
            ("cam-001", "cam-002", "cam-003"), "ready"
        ), clips

        r = c.post(f"/api/cases/{case['id']}/export")
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]

        def done() -> dict[str, Any] | None:
            job = c.get(f"/api/cases/{case['id']}/exports/{job_id}").json()
            assert job["status"] != "failed", job
            return job if job["status"] == "done" else None

        wait_for(done, 120, "the export job")
        got = c.get(f"/api/cases/{case['id']}/exports/{job_id}/package")
        assert got.status_code == 200 and got.content[:2] == b"PK"
        package = data_dir / "package.zip"
        package.write_bytes(got.content)
        key_file = data_dir / "service-public.pem"
        key_file.write_text(c.get("/api/evidence/key").json()["public_key_pem"])
        yield Run(svc, c, data_dir, start, end, case, package, key_file)


def _verify(package: Path, key_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camsvc", "verify", str(package), "--key", str(key_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _clock_range(path: Path) -> tuple[float, float, int]:
    """The burnt-in clock (epoch s) of the clip's first and last decoded frames, and the frame count."""
    times: list[float] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            ms = read_clock(frame.to_ndarray(format="bgr24"))
            assert ms is not None, f"{path.name}: a frame without a readable clock"
            times.append(ms / 1000)
    assert times, f"{path.name}: no frames"
    return times[0], times[-1], len(times)


def test_package_verifies_with_the_service_key(run: Run) -> None:
    r = _verify(run.package, run.key_file)
    assert r.returncode == 0, r.stdout + r.stderr


def test_each_clip_covers_the_range_by_its_burnt_in_clock(run: Run, tmp_path: Path) -> None:
    with zipfile.ZipFile(run.package) as z:
        manifest = json.loads(z.read("manifest.json"))
        z.extractall(tmp_path)
    by_camera = {c["camera"]["id"]: c for c in manifest["clips"]}
    assert by_camera["cam-001"]["source"] == "recorded"
    assert by_camera["cam-002"]["source"] == "device" and by_camera["cam-003"]["source"] == "device"
    assert by_camera["cam-001"]["gaps"] == []
    start, end = run.start.timestamp(), run.end.timestamp()
    for cam in ("cam-001", "cam-002", "cam-003"):
        entry = by_camera[cam]
        first, last, frames = _clock_range(tmp_path / entry["file"])
        # starts at the keyframe at or before the start, ends at or after the end (read off the picture)
        assert start - KEYFRAME_S - FRAME_S - LATENCY_S <= first <= start + LATENCY_S, (cam, first - start)
        assert last >= end - FRAME_S - LATENCY_S, (cam, last - end)
        assert last <= end + KEYFRAME_S + 1, (cam, last - end)
        assert frames >= RANGE_S * 5 * 0.95, (cam, frames)  # 5 fps, no frame lost on the way
    # the recorded clip names its source segments, each with its SHA-256
    segments = by_camera["cam-001"]["segments"]
    assert segments and all(len(s["sha256"]) == 64 for s in segments)


def test_a_flipped_byte_in_a_clip_is_named(run: Run, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(run.package) as src, zipfile.ZipFile(tampered, "w") as dst:
        victim = next(n for n in src.namelist() if n.endswith(".mp4"))
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == victim:
                data = data[:5000] + bytes([data[5000] ^ 1]) + data[5001:]
            dst.writestr(info, data)
    r = _verify(tampered, run.key_file)
    assert r.returncode != 0
    assert victim in r.stdout + r.stderr


def test_export_and_download_are_in_the_audit_trail(run: Run) -> None:
    rows = run.client.get("/api/audit", params={"action": "case.*", "limit": 200}).json()["items"]
    actions = {e["action"] for e in rows}
    assert {"case.create", "case.clips", "case.export", "case.package_download"} <= actions, actions
