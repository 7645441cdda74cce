"""Cameras' site (issue 12) in the registry's CSV and YAML/JSON import and export (camsvc/cameras.py), on a
real SQLite database: written and read back, an old file without the column still imports (and leaves the
sites set since untouched), an empty cell clears a site, a bad value is refused naming row and column."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from camsvc.cameras import ImportFailed, export_cameras, import_cameras
from camsvc.config import Settings
from camsvc.db import make_engine, upgrade
from camsvc.models import Camera

OLD_CSV = (  # a file from before sites: no site column
    "id,name,kind,hamlet,main_url\n"
    "c1,Cổng chợ,roadside,Thôn Một,rtsp://10.0.0.1/s\n"
    "c2,Nhà ông A,household,Thôn Hai,rtsp://10.0.0.2/s\n"
)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.db_url, settings.data_dir)
    upgrade(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _sites(s: Session) -> dict[str, str]:
    s.expire_all()
    return {c.id: c.site for c in s.query(Camera).order_by(Camera.id)}  # type: ignore[attr-defined]


def test_old_file_without_site_imports_and_keeps_sites(session: Session) -> None:
    rep = import_cameras(session, OLD_CSV, "csv")
    session.commit()
    assert (rep.created, rep.updated) == (2, 0)
    assert _sites(session) == {"c1": "", "c2": ""}
    # sites given later (the API or a newer file) survive a re-import of the old file
    import_cameras(
        session, OLD_CSV.replace("main_url\n", "main_url,site\n", 1).replace("/s\n", "/s,xa-a\n"), "csv"
    )
    session.commit()
    assert _sites(session) == {"c1": "xa-a", "c2": "xa-a"}
    rep = import_cameras(session, OLD_CSV, "csv")
    session.commit()
    assert rep.unchanged == 2 and _sites(session) == {"c1": "xa-a", "c2": "xa-a"}


def test_csv_site_round_trip_and_empty_cell_clears(session: Session) -> None:
    text = (
        "id,name,kind,hamlet,main_url,site\n"
        "c1,Cổng chợ,roadside,Thôn Một,rtsp://10.0.0.1/s, Xã Tân Phú \n"
        "c2,Nhà ông A,household,Thôn Hai,rtsp://10.0.0.2/s,\n"
    )
    import_cameras(session, text, "csv")
    session.commit()
    assert _sites(session) == {"c1": "Xã Tân Phú", "c2": ""}
    out = export_cameras(session, "csv")
    header = out.splitlines()[0].split(",")
    assert header[-1] == "site"
    assert out.splitlines()[1].endswith(",Xã Tân Phú")
    # the exported file imports back unchanged
    assert import_cameras(session, out, "csv").unchanged == 2
    cleared = out.replace(",Xã Tân Phú", ",")
    assert import_cameras(session, cleared, "csv").updated == 1
    session.commit()
    assert _sites(session) == {"c1": "", "c2": ""}


def test_yaml_and_json_carry_site(session: Session) -> None:
    doc = {
        "cameras": [
            {"id": "c1", "kind": "roadside", "main_url": "rtsp://10.0.0.1/s", "site": "xa-b"},
            {"id": "c2", "kind": "roadside", "main_url": "rtsp://10.0.0.2/s"},
        ]
    }
    import_cameras(session, json.dumps(doc), "yaml")  # JSON is YAML: the same reader
    session.commit()
    assert _sites(session) == {"c1": "xa-b", "c2": ""}
    out = export_cameras(session, "yaml")
    assert "site: xa-b" in out
    assert import_cameras(session, out, "yaml").unchanged == 2


def test_bad_site_is_refused_naming_row_and_column(session: Session) -> None:
    text = "id,kind,main_url,site\nc1,roadside,rtsp://10.0.0.1/s," + "x" * 101 + "\n"
    with pytest.raises(ImportFailed) as exc:
        import_cameras(session, text, "csv")
    errs = [(e.row, e.column) for e in exc.value.errors]
    assert errs == [(2, "site")]
    assert "100 characters" in exc.value.errors[0].message
    session.rollback()
    assert _sites(session) == {}
