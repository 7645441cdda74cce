"""The dashboard's server side without a browser: the page, its assets, /web/changes, no secrets, words."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from camsvc.bench.sample import write_check
from camsvc.models import HealthState, Outage
from camsvc.web.routes import (
    LEAFLET_URL,
    WEB_DIR,
    build_router,
    content_security_policy,
    load_translations,
    pick_language,
    tile_source,
)
from tests.utils.auth import headers, signed_in_client

CSV = """id,name,kind,hamlet,address,latitude,longitude,main_url,username,password,enabled
cam-001,Ngã tư chợ <b>Bích</b>,roadside,Bắc Chiến Thắng,QL1A,19.051,105.631,rtsp://127.0.0.1:20001/main,admin,Pa55-Secret-Word,true
cam-002,Nhà ông Hùng,household,Nam Chiến Thắng,Xóm 2,19.047,105.628,rtsp://u:Other-Secret-9@127.0.0.1:20002/main,,,true
"""
SECRETS = ("Pa55-Secret-Word", "Other-Secret-9")


def _import(client: Any) -> None:
    r = client.post("/api/cameras/import", files={"file": ("fleet.csv", CSV.encode(), "text/csv")})
    assert r.status_code == 200, r.text


def _config(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="camsvc-config">(.*?)</script>', html, re.S)
    assert m, "page config missing"
    return dict(json.loads(m.group(1)))


def test_page_vietnamese_by_default_english_on_request(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in r.text and "Giám sát camera an ninh" in r.text
    cfg = _config(r.text)
    assert cfg["lang"] == "vi" and cfg["timezone"] == "Asia/Ho_Chi_Minh"
    assert cfg["tileUrl"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert set(cfg["i18n"]) == {"vi", "en"}
    en = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in en.text and "Security camera monitor" in en.text
    assert _config(en.text)["langFromUrl"] is True
    assert '<html lang="vi">' in client.get("/", params={"lang": "fr"}).text  # unknown: the default
    assert client.get("/", params={"refresh": 0.01}).status_code == 422
    assert _config(client.get("/", params={"refresh": 2}).text)["refreshMs"] == 2000
    cfg = _config(client.get("/", params={"camera": "cam-017"}).text)
    assert cfg["camera"] == "cam-017"
    # the camera id is data for the script, never markup
    evil = client.get("/", params={"camera": "</script><script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in evil


def test_page_headers_and_every_asset_is_local(client: Any) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "https://tile.openstreetmap.org" in csp
    assert r.headers["cache-control"] == "no-cache"
    # what the page loads (scripts, styles, images, icons), apart from links the user may follow
    urls = re.findall(r'<(?!a\b)[a-z]+\b[^>]*?\b(?:src|href)="([^"]+)"', r.text)
    assets = [u for u in urls if not u.startswith("#")]
    assert assets and all(u.startswith("/static/") for u in assets), assets  # no CDN
    links = re.findall(r'<a\b[^>]*?\bhref="([^"]+)"', r.text)
    assert all(u.startswith(("/", "#")) and not u.startswith("//") for u in links), links  # this service
    for u in assets:
        a = client.get(u)
        assert a.status_code == 200, u
        assert "max-age" in a.headers["cache-control"], u
    assert any("leaflet.js" in u for u in assets) and any("markercluster" in u for u in assets)
    # revalidation is cheap: an unchanged file answers 304
    js = next(u for u in assets if u.endswith(".js") or ".js?" in u)
    etag = client.get(js).headers["etag"]
    assert client.get(js, headers={"If-None-Match": etag}).status_code == 304


def test_tile_url_from_settings(tmp_path: Path) -> None:

    from camsvc.app import create_app
    from camsvc.config import Settings

    s = Settings(data_dir=tmp_path, tile_url="https://{s}.tiles.example.vn/{z}/{x}/{y}.png")
    with signed_in_client(create_app(s, start_runtime=False)) as c:
        r = c.get("/")
    assert _config(r.text)["tileUrl"] == "https://{s}.tiles.example.vn/{z}/{x}/{y}.png"
    assert "img-src 'self' data: blob: https://*.tiles.example.vn;" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.osm.vn/{z}/{x}/{y}.png", "https://*.tile.osm.vn"),
        ("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8081"),
        ("/tiles/{z}/{x}/{y}.png", ""),  # same origin: 'self' covers it
        ("https://{tilehost}/{z}/{x}/{y}.png", "https:"),
    ],
)
def test_tile_source(url: str, source: str) -> None:
    assert tile_source(url) == source
    assert "img-src 'self' data: blob:" in content_security_policy(url)


def test_without_web_files_the_api_still_runs(settings: Any) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.state.settings = settings
    app.include_router(build_router(None))
    with TestClient(app) as c:
        r = c.get("/")
        assert r.status_code == 503 and "web/templates/index.html" in r.text
        assert c.get(f"{LEAFLET_URL}/leaflet.js").status_code == 200


def test_pick_language() -> None:
    assert pick_language(None, "vi") == "vi"
    assert pick_language("EN", "vi") == "en"
    assert pick_language("de", "en") == "en"


def test_changes_feed(client: Any, engine: Any) -> None:
    _import(client)
    first = client.get("/web/changes").json()
    assert first["full"] is True and first["cameras"] == []
    cursor = first["cursor"]
    nothing = client.get("/web/changes", params={"cursor": cursor}).json()
    assert nothing == {"cursor": cursor, "full": False, "cameras": []}
    assert client.get("/web/changes").headers["cache-control"] == "no-store"

    # a check that changes nothing visible (still unknown->up is a change; a second ok check is not)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s:
        write_check(s, "cam-001", now)
        s.commit()
    r = client.get("/web/changes", params={"cursor": cursor}).json()
    assert [c["id"] for c in r["cameras"]] == ["cam-001"] and r["cameras"][0]["state"] == "up"
    cursor = r["cursor"]
    with Session(engine) as s:
        write_check(s, "cam-001", now + dt.timedelta(seconds=60))
        s.commit()
    assert client.get("/web/changes", params={"cursor": cursor}).json()["cameras"] == []
    # ... and /api/map's ETag does not move for a check that changes no state either: a poller gets 304
    etag = client.get("/api/map").headers["etag"]
    with Session(engine) as s:
        write_check(s, "cam-001", now + dt.timedelta(seconds=120))
        s.commit()
    assert client.get("/api/map", headers={"If-None-Match": etag}).status_code == 304

    # down: the camera comes back with state, since and cause, same shape as /api/map
    with Session(engine) as s:
        write_check(s, "cam-002", now, ok=False, error="auth")
        write_check(s, "cam-002", now + dt.timedelta(seconds=10), ok=False, error="auth")
        s.commit()
    r = client.get("/web/changes", params={"cursor": cursor}).json()
    row = next(c for c in r["cameras"] if c["id"] == "cam-002")
    full = next(c for c in client.get("/api/map").json()["cameras"] if c["id"] == "cam-002")
    assert row == full
    assert row["state"] == "down" and row["cause"] == "auth" and row["acknowledged"] is False
    cursor = r["cursor"]

    # an acknowledgement is a change too
    with Session(engine) as s:
        o = s.get(Outage, full_outage_id(s, "cam-002"))
        assert o is not None
        o.acknowledged_by, o.acknowledged_at = "Trực ban", now + dt.timedelta(seconds=30)
        s.add(o)
        s.commit()
    r = client.get("/web/changes", params={"cursor": cursor}).json()
    assert [c["id"] for c in r["cameras"] if c["acknowledged"]] == ["cam-002"]
    cursor = r["cursor"]

    # a registry edit: reload everything
    assert client.patch("/api/cameras/cam-001", json={"name": "Ngã tư chợ Bích"}).status_code == 200
    assert client.get("/web/changes", params={"cursor": cursor}).json()["full"] is True
    # a bad cursor is not an error: the client reloads
    for bad in ("garbage", "1.2", "-5.a.b", "9" * 30 + ".a.b"):
        assert client.get("/web/changes", params={"cursor": bad}).json()["full"] is True


def test_changes_feed_sees_a_transition_committed_late(client: Any, engine: Any) -> None:
    """With concurrent writers (PostgreSQL) id 11 can commit before id 10: 10 must still be reported."""
    from camsvc.models import Transition

    _import(client)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s:
        write_check(s, "cam-001", now)
        s.commit()
    cursor = client.get("/web/changes").json()["cursor"]
    base = int(cursor.split(".")[0])

    def transition(tid: int, cam: str) -> None:
        with Session(engine) as s:
            s.add(
                Transition(
                    id=tid, camera_id=cam, at=now, old_state=HealthState.UNKNOWN, new_state=HealthState.UP
                )
            )
            s.commit()

    transition(base + 2, "cam-001")  # the later transaction commits first
    r = client.get("/web/changes", params={"cursor": cursor}).json()
    assert [c["id"] for c in r["cameras"]] == ["cam-001"]
    assert r["cursor"].endswith(f".{base + 1}")  # the gap rides along in the cursor
    transition(base + 1, "cam-002")
    r = client.get("/web/changes", params={"cursor": r["cursor"]}).json()
    assert [c["id"] for c in r["cameras"]] == ["cam-002"]
    assert r["cursor"].count(".") == 2  # no hole left
    assert client.get("/web/changes", params={"cursor": r["cursor"]}).json()["cameras"] == []


def full_outage_id(s: Session, camera_id: str) -> int:
    from camsvc.models import CameraStatus

    st = s.get(CameraStatus, camera_id)
    assert st is not None and st.state is HealthState.DOWN and st.open_outage_id is not None
    return st.open_outage_id


def test_picture_times(client: Any, engine: Any) -> None:
    _import(client)
    assert client.get("/web/cameras/nope/pictures").status_code == 404
    assert client.get("/web/cameras/cam-001/pictures").json() == {
        "latest_at": None,
        "latest_state": None,
        "reference_set_at": None,
        "has_reference": False,
    }
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with Session(engine) as s:
        write_check(s, "cam-001", at, jpeg=b"\xff\xd8 not really a jpeg \xff\xd9")
        s.commit()
    got = client.get("/web/cameras/cam-001/pictures").json()
    assert got["latest_at"].startswith("2026-01-02T03:04:05") and got["latest_state"] == "up"


def test_no_secret_reaches_the_dashboard(client: Any, engine: Any) -> None:
    _import(client)
    with Session(engine) as s:
        write_check(s, "cam-001", dt.datetime.now(dt.UTC))
        s.commit()
    texts = [
        client.get("/").text,
        client.get("/api/map").text,
        client.get("/web/changes", params={"cursor": "0.x.y"}).text,
        client.get("/web/changes").text,
        client.get("/web/cameras/cam-001/pictures").text,
        client.get("/api/cameras/cam-001").text,
    ]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# Keys the issue-10 scripts build from API values or pass through helpers (row("rec.mode", ...)), which the
# CS.t("...") scan above cannot see.
ISSUE10_KEYS = (
    {f"rec.mode.{m}" for m in ("continuous", "off")}
    | {f"rec.stream.{s}" for s in ("main", "sub")}
    | {f"role.{r}" for r in ("viewer", "technician", "officer", "admin")}
    | {f"case.status.{s}" for s in ("open", "closed")}
    | {f"clip.status.{s}" for s in ("pending", "fetching", "ready", "no_source", "failed")}
    | {f"clip.source.{s}" for s in ("recorded", "device")}
    | {f"export.status.{s}" for s in ("queued", "running", "done", "failed")}
    | {
        "rec.mode",
        "rec.recorder",
        "rec.last_segment",
        "rec.restarts",
        "rec.last_error",
        "rec.mb_per_hour",
        "rec.days_kept",
        "rec.bytes",
        "about.version",
        "about.timezone",
        "about.user",
        "case.reason",
        "case.created",
        "case.closed",
        "case.close_confirm",
        "case.release_confirm",
        "clips.camera",
        "clips.range",
        "clips.source",
        "clips.status",
        "clips.gaps",
        "clips.file",
        "storage.line_low",
        "clip.radius",
        "clip.start",
        "clip.end",
        "clip.case",
    }
)


def test_issue10_values_have_words() -> None:
    """Every status, source, mode and role the issue-10 API and roles can answer with has words in both
    languages (the scripts fall back to the raw code, which would be English in a Vietnamese page)."""
    from camsvc.auth.roles import ROLES
    from camsvc.enums import ClipSource, RecordingMode

    assert WEB_DIR is not None
    vi = load_translations(WEB_DIR)["vi"]
    want = {f"rec.mode.{m.value}" for m in RecordingMode} | {f"clip.source.{s.value}" for s in ClipSource}
    want |= {f"role.{r.value}" for r in ROLES}
    assert not sorted(want - set(vi)), sorted(want - set(vi))
    # statuses written in camsvc/cases/models.py's comments: pending | fetching | ready | no_source | failed
    # and queued | running | done | failed
    assert {k for k in ISSUE10_KEYS if k.startswith(("clip.status.", "export.status."))} <= set(vi)


def test_page_config_carries_what_the_scripts_need(settings: Any) -> None:
    """The role decides what the page offers (storage line: technician and above; case clips: officers
    and admins); the scripts read cfg.role, cfg.roles (lowest first), cfg.actions and cfg.user."""
    from camsvc.app import create_app
    from camsvc.auth.roles import ROLES, Action, actions_for

    with signed_in_client(create_app(settings, start_runtime=False), "viewer") as c:
        engine = c.app.state.engine
        for role in ("viewer", "technician", "officer", "admin"):
            c.headers.update(headers(engine, role))
            html = c.get("/").text
            cfg = _config(html)
            assert cfg["role"] == role and cfg["roles"] == [r.value for r in ROLES]
            assert cfg["user"] == f"{role}-api"
            assert cfg["actions"] == [a.value for a in actions_for(role)]
            assert Action.RECORDING_VIEW.value in cfg["actions"]  # every role sees recording status
            officer = role in ("officer", "admin")
            assert (Action.CASES.value in cfg["actions"]) is officer
            assert ('id="cases-link"' in html) is officer
            assert ('id="storage"' in html) is (role != "viewer")
            assert ('id="panel-storage"' in html) is (role != "viewer")
            assert 'id="about-open"' in html and 'id="clip-panel"' in html
            for script in ("recording.js", "clipform.js", "about.js"):
                assert f"/static/web/js/{script}?v=" in html
            # the cases page: same sign-in rule, same config, plus the case to open
            page = c.get("/cases", params={"case": 7, "lang": "en"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            pc = _config(page.text)
            assert pc["case"] == 7 and pc["role"] == role and pc["lang"] == "en"
            assert "/static/web/js/cases.js?v=" in page.text
            assert page.headers["cache-control"] == "no-cache"
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert '<meta name="csrf-token"' in page.text
        assert c.get("/cases", params={"case": "x"}).status_code == 422
        # without signing in: the sign-in page, as for the dashboard
        c.headers.pop("Authorization")
        r = c.get("/cases", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code in (302, 303, 307) and "/login" in r.headers["location"]


def test_every_word_the_page_uses_is_translated() -> None:
    from camsvc.picture.judge import FAULT_CODES
    from camsvc.probing.result import ErrorClass

    assert WEB_DIR is not None
    translations = load_translations(WEB_DIR)
    vi, en = translations["vi"], translations["en"]
    assert set(vi) == set(en)
    assert all(v.strip() for v in [*vi.values(), *en.values()])
    used: set[str] = set()
    for js in (WEB_DIR / "static" / "js").glob("*.js"):
        used |= set(re.findall(r'CS\.t\("([\w.]+)"', js.read_text(encoding="utf-8")))
    html = (WEB_DIR / "templates" / "index.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', html))
    used |= set(re.findall(r"t\('([\w.]+)'\)", html))
    used |= {f"state.{s.value}" for s in HealthState} | {"state.disabled"}
    used |= {f"cause.{e.value}" for e in ErrorClass} | {f"cause.{f}" for f in FAULT_CODES}
    used |= {"kind.roadside", "kind.household"}
    try:
        from camsvc.alerts.models import KINDS, MESSAGE_STATUSES
    except ImportError:  # pragma: no cover - alerts not installed
        KINDS, MESSAGE_STATUSES = (), ()
    used |= {f"delivery.kind.{k}" for k in KINDS} | {f"delivery.status.{s}" for s in MESSAGE_STATUSES}
    used |= ISSUE10_KEYS  # recording, storage, case clips, cases page, signing key (built in code too)
    for path in (WEB_DIR / "templates").glob("*.html"):  # every screen (issue 11: one template each)
        page = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', page)) | set(
            re.findall(r"t\('([\w.]+)'\)", page)
        )
    used = {k for k in used if not k.endswith(".")}  # prefixes of keys built in code, covered above
    missing = sorted(k for k in used if k not in vi)
    assert not missing, f"untranslated keys: {missing}"
    # durations read naturally: "2 giờ 5 phút"
    assert vi["duration.hour"].format(n=2) + " " + vi["duration.minute"].format(n=5) == "2 giờ 5 phút"


def test_translations_merge_per_screen_files(tmp_path: Path) -> None:
    """vi.json/en.json plus one <area>.{vi,en}.json pair per screen; a key defined twice, or present in one
    language only, is refused with the file and key named."""
    folder = tmp_path / "translations"
    folder.mkdir()

    def write(name: str, data: dict[str, str]) -> None:
        (folder / name).write_text(json.dumps(data), encoding="utf-8")

    write("vi.json", {"a": "Một"})
    write("en.json", {"a": "One"})
    write("reports.vi.json", {"r.x": "Báo cáo"})
    write("reports.en.json", {"r.x": "Report"})
    merged = load_translations(tmp_path)
    assert merged == {"vi": {"a": "Một", "r.x": "Báo cáo"}, "en": {"a": "One", "r.x": "Report"}}

    write("alerts.vi.json", {"a": "Lại"})
    write("alerts.en.json", {"a": "Again"})
    with pytest.raises(ValueError, match=r"alerts\.vi\.json: keys already defined in another file: a"):
        load_translations(tmp_path)

    write("alerts.vi.json", {"s.y": "Sự cố"})
    write("alerts.en.json", {})
    with pytest.raises(ValueError, match="differ between vi and en: s.y"):
        load_translations(tmp_path)
