"""``camsvc probe`` run for real, as a technician would (subprocess): exit codes, output, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from camsvc.cli.probe import format_summary, probe
from camsvc.probing.result import ErrorClass, ProbeResult, StreamKind
from tests.probing import servers as S
from tests.probing.conftest import PASSWORD

Serve = Callable[[S.Handler], S.TinyServer]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")}
    return subprocess.run(
        [sys.executable, "-m", "camsvc", "probe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, **(env or {})},
        check=False,
    )


@pytest.mark.integration
def test_ok_stream_exits_0_with_a_summary(serve: Serve) -> None:
    srv = serve(S.http_camera("mjpeg", auth=S.Auth("admin", PASSWORD)))
    out = run_cli(
        srv.url("http", "/video"),
        "--username",
        "admin",
        "--window",
        "1.5",  # enough frames for a measured fps on a loaded machine
        env={"CAMSVC_PROBE_PASSWORD": PASSWORD},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK (mjpeg)")
    assert "640x480" in out.stdout and "fps (measured)" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr


@pytest.mark.integration
def test_wrong_password_exits_1_and_says_auth_without_echoing_it(serve: Serve) -> None:
    srv = serve(S.rtsp_responder(auth=S.Auth("admin", "right-one")))
    out = run_cli(srv.url("rtsp", "/live", f"admin:{PASSWORD}"), "--json", "--budget", "3")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["error"] == "auth" and data["reachable"] is True and data["ok"] is False
    assert data["url"] == srv.url("rtsp", "/live", "admin:***")
    assert PASSWORD not in out.stdout + out.stderr


@pytest.mark.integration
def test_refused_vs_hung_vs_no_frames(serve: Serve) -> None:
    """What a technician must tell apart: nothing there / no answer / stream up but no frames."""
    hung = serve(S.hang)
    stalled = serve(S.http_camera("mjpeg", frames=0, after="stall"))
    cases = {
        f"rtsp://127.0.0.1:{S.refused_port()}/live": "refused",
        hung.url("rtsp", "/live"): "timeout",
        stalled.url("http", "/video"): "stalled",
    }
    for url, expected in cases.items():
        out = run_cli(url, "--json", "--budget", "2")
        assert out.returncode == 1, out.stderr
        assert json.loads(out.stdout)["error"] == expected


def test_bad_usage_exits_2() -> None:
    runner = CliRunner()
    assert runner.invoke(probe, ["rtsp://x", "--kind", "vhs"]).exit_code == 2
    assert runner.invoke(probe, ["rtsp://x", "--window", "0"]).exit_code == 2
    assert runner.invoke(probe, []).exit_code == 2
    res = runner.invoke(probe, [f"ftp://admin:{PASSWORD}@cam/x", "--json"])
    assert res.exit_code == 2
    assert json.loads(res.output)["error"] == "invalid_url" and PASSWORD not in res.output


def test_summary_lines() -> None:
    ok = ProbeResult(
        url="rtsp://admin:***@cam/live",
        ok=True,
        reachable=True,
        opened=True,
        frames_decoded=8,
        width=640,
        height=360,
        fps=5.0,
        open_ms=250,
        first_frame_ms=300,
        total_ms=1650,
        stream_kind=StreamKind.RTSP,
    )
    text = format_summary(ok)
    assert text.splitlines()[0] == "OK (rtsp)  rtsp://admin:***@cam/live"
    assert "640x360, 5.0 fps (measured)" in text and "first frame 300 ms, total 1.65 s" in text
    bad = ProbeResult(
        url="rtsp://cam/live", ok=False, error=ErrorClass.AUTH, detail="RTSP 401: wrong username or password"
    )
    text = format_summary(bad)
    assert text.startswith("FAILED: auth") and "why:" in text and "hint:" in text
