"""`camsvc nodes list` and `forget` on a real database: states as the pages show them, a live node is
never forgotten, a forgotten one's leases are released and the change is audited."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from camsvc.cli import cli
from camsvc.config import Settings
from camsvc.models import Camera
from camsvc.nodes.models import CameraLease, ProbeNode


def test_list_and_forget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.utils.service import migrated_engine

    data = tmp_path / "data"
    monkeypatch.setenv("CAMSVC_DATA_DIR", str(data))
    now = dt.datetime.now(dt.UTC)
    with migrated_engine(Settings(data_dir=data)) as engine, Session(engine) as s:
        for i in range(3):
            s.add(
                Camera(
                    id=f"c{i}", name=f"c{i}", kind="household", hamlet="H", main_url=f"rtsp://127.0.0.1:9/{i}"
                )
            )
        s.add(ProbeNode(name="bac-1", site="bac", role="probe", last_seen=now, probes_per_min=12.5))
        s.add(ProbeNode(name="nam-1", site="nam", role="probe", last_seen=now - dt.timedelta(minutes=10)))
        s.flush()
        s.add(CameraLease(camera_id="c0", node="bac-1"))
        s.add(CameraLease(camera_id="c1", node="nam-1"))
        s.add(CameraLease(camera_id="c2", node="nam-1"))
        s.commit()
    run = CliRunner()
    res = run.invoke(cli, ["nodes", "list", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in map(json.loads, res.output.splitlines())}
    assert rows["bac-1"]["state"] == "live" and rows["bac-1"]["cameras"] == 1
    assert rows["nam-1"]["state"] == "lost" and rows["nam-1"]["cameras"] == 2
    assert rows["bac-1"]["last_seen"].endswith("Z")
    table = run.invoke(cli, ["nodes", "list"], catch_exceptions=False).output
    assert "bac-1" in table and "lost" in table and "12.5" in table

    res = run.invoke(cli, ["nodes", "forget", "bac-1"])
    assert res.exit_code != 0 and "is live" in res.output
    res = run.invoke(cli, ["nodes", "forget", "nobody"])
    assert res.exit_code != 0 and "no node 'nobody'" in res.output
    res = run.invoke(cli, ["nodes", "forget", "nam-1"], catch_exceptions=False)
    assert res.exit_code == 0 and "2 leases released" in res.output
    with migrated_engine(Settings(data_dir=data)) as engine, Session(engine) as s:
        assert s.get(ProbeNode, "nam-1") is None and s.get(ProbeNode, "bac-1") is not None
        assert [x.camera_id for x in s.exec(select(CameraLease))] == ["c0"]
        from camsvc.auth.models import AuditEvent

        entries = [e for e in s.exec(select(AuditEvent)) if e.action == "node.forget"]
        assert len(entries) == 1 and entries[0].target == "node:nam-1"
