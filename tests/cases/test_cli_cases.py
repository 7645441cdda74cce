"""``camsvc cases`` and ``camsvc verify`` on a real data directory with recorded segments."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc import timefmt
from camsvc.auth.models import AuditEvent
from camsvc.cli import cli
from camsvc.config import Settings
from tests.cases.conftest import Recorded


def run(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"CAMSVC_DATA_DIR": str(settings.data_dir)}
    res = CliRunner().invoke(cli, list(args), env=env, prog_name="camsvc")
    return res.exit_code, res.output + (
        str(res.exception) if res.exception and res.exit_code not in (0, 1) else ""
    )


def test_cases_cli_end_to_end(settings: Settings, engine: Engine, recorded: Recorded, tmp_path: Path) -> None:
    code, out = run(settings, "cases", "create", "2026/118", "--title", "Va chạm", "--reason", "tai nạn")
    assert code == 0 and out.startswith("case 1:"), out
    assert run(settings, "cases", "create", "2026/118")[0] != 0  # the number is taken
    start = timefmt.local_str(recorded.t0 + dt.timedelta(seconds=3), fmt="%Y-%m-%d %H:%M:%S")  # local time
    end = (recorded.t0 + dt.timedelta(seconds=12)).isoformat().replace("+00:00", "Z")
    code, out = run(
        settings, "cases", "add", "1", "--camera", recorded.camera_id, "--start", start, "--end", end
    )
    assert code == 0 and "ready recorded" in out, out
    code, out = run(settings, "cases", "add", "1", "--near", "21.0,105.8", "--start", start, "--end", end)
    assert code == 2 and "--near" in out
    pkg = tmp_path / "out.zip"
    code, out = run(settings, "cases", "export", "1", "--out", str(pkg))
    assert code == 0 and "sha256" in out, out
    with zipfile.ZipFile(pkg) as zf:
        assert any(n.startswith("clips/") for n in zf.namelist())
    code, out = run(settings, "verify", str(pkg))  # the local service key is found in the data dir
    assert code == 0 and "service key" in out, out
    code, out = run(settings, "cases", "key", "--out", str(tmp_path / "key.pem"))
    assert code == 0 and "fingerprint:" in out, out
    code, out = run(settings, "verify", str(pkg), "--key", str(tmp_path / "key.pem"))
    assert code == 0 and "key file" in out, out
    code, out = run(settings, "cases", "release", "1")
    assert code != 0 and "close it before" in out
    assert run(settings, "cases", "close", "1")[0] == 0
    assert run(settings, "cases", "release", "1")[0] == 0
    code, out = run(settings, "cases", "list")
    assert code == 0 and "2026/118" in out and "released" in out
    code, out = run(settings, "cases", "show", "1")
    assert code == 0 and "ready" in out and "export 1 done" in out
    with Session(engine) as s:
        rows = s.exec(select(AuditEvent.action, AuditEvent.username)).all()
    acts = {a for a, u in rows if u.startswith("cli:")}
    assert {"case.create", "case.clips", "case.export", "case.close", "case.release"} <= acts
