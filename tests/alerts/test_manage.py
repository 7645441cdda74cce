"""Contacts, channels, rules and maintenance through the API and the CLI: validation, all-or-nothing YAML import,
the "send test" action against real receivers, and secrets that never come back out."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc.alerts.models import Contact, ContactChannel, RoutingRule
from camsvc.cli.alerts import alerts, contacts
from camsvc.config import Settings
from tests.alerts.conftest import add_cameras
from tests.alerts.receivers import SmtpSink, free_port
from tests.utils.auth import signed_in_client

SECRET = "Zq8-very-secret-pw"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(alert_settings: Settings, alert_engine) -> Iterator[TestClient]:
    from camsvc.app import create_app

    app = create_app(alert_settings, start_runtime=False)
    with signed_in_client(app) as c:
        yield c


def _secret_url(port: int) -> str:
    return f"mailto://camsvc:{SECRET}@127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure&from=a@example.org&to=b@example.org"


def test_contact_api_never_returns_channel_secrets(client: TestClient, alert_engine) -> None:
    r = client.post(
        "/api/contacts",
        json={
            "name": "Anh Tuấn",
            "role": "technician",
            "channels": [{"url": _secret_url(2525), "label": ""}],
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r2 = client.post(
        f"/api/contacts/{cid}/channels", json={"url": "tgram://123456789:AAsecretBotToken/987654"}
    )
    assert r2.status_code == 201
    rule = client.post(
        "/api/routing-rules", json={"contact_id": cid, "hamlets": ["Bắc Chiến Thắng"], "level": 0}
    )
    assert rule.status_code == 201
    for text in (
        client.get("/api/contacts").text,
        client.get(f"/api/contacts/{cid}").text,
        client.get("/api/contacts/export").text,
        r.text,
        r2.text,
    ):
        assert SECRET not in text and "AAsecretBotToken" not in text
    ch = client.get(f"/api/contacts/{cid}").json()["channels"]
    assert ch[0]["url"].startswith("mailto://camsvc:****@127.0.0.1") and ch[0]["service"] == "E-Mail"
    assert ch[1]["url"].startswith("tgram://") and ch[1]["attachments"] is True
    assert client.get(f"/api/contacts/{cid}").json()["rules"][0]["hamlets"] == ["Bắc Chiến Thắng"]
    with Session(alert_engine) as s:  # stored intact, of course
        assert SECRET in s.exec(select(ContactChannel)).first().url  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "X", "role": "boss"}, "role"),
        ({"name": "X", "language": "fr"}, "language"),
        ({"name": "X", "channels": [{"url": "bogus://nothing"}]}, "Apprise cannot use this bogus://"),
        ({"name": "X", "channels": [{"url": "not a url"}]}, "must be an Apprise URL"),
        ({"name": ""}, "name"),
    ],
)
def test_contact_validation_errors_name_the_problem(client: TestClient, body: dict, where: str) -> None:
    r = client.post("/api/contacts", json=body)
    assert r.status_code == 422 and where in r.text


def test_rule_and_duplicate_validation(client: TestClient) -> None:
    cid = client.post("/api/contacts", json={"name": "A"}).json()["id"]
    assert client.post("/api/contacts", json={"name": "A"}).status_code == 409
    bad = client.post("/api/routing-rules", json={"contact_id": cid, "states": ["dead"]})
    assert bad.status_code == 422 and "unknown state 'dead'" in bad.text
    assert client.post("/api/routing-rules", json={"contact_id": 999}).status_code == 404
    rid = client.post("/api/routing-rules", json={"contact_id": cid, "hour_start": 22, "hour_end": 6}).json()[
        "id"
    ]
    upd = client.patch(f"/api/routing-rules/{rid}", json={"level": 1})
    assert upd.json()["level"] == 1 and upd.json()["hour_start"] == 22
    assert client.delete(f"/api/routing-rules/{rid}").status_code == 204
    assert client.delete(f"/api/contacts/{cid}").status_code == 204
    assert client.get(f"/api/contacts/{cid}").status_code == 404


@pytest.mark.integration
def test_send_test_reports_success_or_the_channels_error_without_secrets(
    client: TestClient, smtp: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cid = client.post(
        "/api/contacts",
        json={"name": "T", "language": "en", "channels": [{"url": smtp.url("t@example.org")}]},
    ).json()["id"]
    dead = client.post(f"/api/contacts/{cid}/channels", json={"url": _secret_url(free_port())}).json()["id"]
    good = client.get(f"/api/contacts/{cid}").json()["channels"][0]["id"]
    ok = client.post(f"/api/channels/{good}/test").json()
    assert ok["ok"] is True and ok["error"] is None
    assert smtp.to("t@example.org")[0].subject == "[Camera] Test message"
    bad = client.post(f"/api/channels/{dead}/test").json()
    assert bad["ok"] is False and "127.0.0.1" in bad["error"]
    assert SECRET not in str(bad) and SECRET not in caplog.text


def test_maintenance_api_crud_and_validation(client: TestClient, alert_engine) -> None:
    add_cameras(alert_engine, 2, "Đông Hải", prefix="dh")
    r = client.post(
        "/api/maintenance",
        json={
            "hamlet": "Đông Hải",
            "weekdays": "t2-t6",
            "daily_start": "22:00",
            "daily_end": "6:00",
            "ends_at": "2030-01-01T00:00:00",
            "reason": "x",
            "created_by": "Tuấn",
        },
    )
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["weekdays"] == "0,1,2,3,4" and w["daily_end"] == "06:00" and w["recurring"] is True
    assert "hamlet Đông Hải" in w["description"]
    one_off = client.post(
        "/api/maintenance",
        json={
            "camera_id": "dh-001",
            "starts_at": "2026-03-02T08:00:00",
            "ends_at": "2026-03-02T10:00:00",
            "reason": "thay camera",
        },
    ).json()
    assert one_off["starts_at"].startswith("2026-03-02T01:00:00")  # naive times are local (UTC+7)
    assert client.post("/api/maintenance", json={"camera_id": "nope"}).status_code == 422
    assert client.post("/api/maintenance", json={"hamlet": "Atlantis"}).status_code == 422
    both = {"camera_id": "dh-001", "hamlet": "Đông Hải", "reason": "x", "ends_at": "2030-01-01T00:00:00"}
    assert "not both" in client.post("/api/maintenance", json=both).text
    # through the API nothing is silenced for ever, nor without saying why (issue 9)
    no_end = client.post("/api/maintenance", json={"reason": "đổi cáp quang"})
    assert no_end.status_code == 422 and "needs an end" in no_end.text
    no_reason = client.post("/api/maintenance", json={"ends_at": "2030-01-01T00:00:00"})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    silence = client.post(
        "/api/maintenance",
        json={"reason": "đổi cáp quang", "created_by": "Hoa", "ends_at": "2030-01-01T00:00:00"},
    ).json()
    assert silence["active_now"] is True and silence["description"].startswith("all cameras")
    assert [x["id"] for x in client.get("/api/maintenance", params={"camera_id": "dh-002"}).json()] == [
        w["id"],
        silence["id"],
    ]
    put = client.put(
        f"/api/maintenance/{w['id']}",
        json={"hamlet": "Đông Hải", "reason": "changed", "ends_at": "2030-01-01T00:00:00"},
    )
    assert put.status_code == 200 and put.json()["recurring"] is False
    assert client.delete(f"/api/maintenance/{w['id']}").status_code == 204
    assert client.get(f"/api/maintenance/{w['id']}").status_code == 404


def _cli(args: list[str], settings: Settings, group=contacts) -> object:
    env = {"CAMSVC_DATA_DIR": str(settings.data_dir)}
    return CliRunner().invoke(group, args, env=env, catch_exceptions=False)


def test_yaml_import_is_all_or_nothing_with_key_paths(
    tmp_path: Path, alert_settings: Settings, alert_engine
) -> None:
    example = REPO / "config" / "contacts.example.yaml"
    r = _cli(["import", str(example)], alert_settings)
    assert r.exit_code == 0, r.output
    assert "5 contacts created, 0 updated, 0 removed" in r.output
    with Session(alert_engine) as s:
        assert len(s.exec(select(Contact)).all()) == 5
        duty = s.exec(select(Contact).where(Contact.name == "Trực ban Công an xã")).one()
        assert s.exec(select(RoutingRule).where(RoutingRule.contact_id == duty.id)).one().level == 1

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "contacts:\n"
        "  - name: Anh Tuấn (kỹ thuật Chiến Thắng)\n"
        "    channels: [json://127.0.0.1:9/new]\n"
        "  - name: Người mới\n"
        f"    channels: ['mailto://u:{SECRET}@', {{url: 'json://127.0.0.1:9/x', colour: red}}]\n"
        "    routes: [{hours: '7-7'}, {kinds: [tower]}]\n",
        encoding="utf-8",
    )
    r = _cli(["import", str(broken)], alert_settings)
    assert r.exit_code != 0
    out = r.output
    assert "nothing imported" in out
    assert "contacts[1].channels[0]: Apprise cannot use this mailto:// URL" in out
    assert "contacts[1].channels[1].colour: Extra inputs are not permitted" in out
    assert "contacts[1].routes[0].hours" in out and "contacts[1].routes[1].kinds" in out
    assert SECRET not in out
    with Session(alert_engine) as s:  # nothing changed: the first contact kept its channels
        assert len(s.exec(select(Contact)).all()) == 5
        assert not any("/new" in c.url for c in s.exec(select(ContactChannel)).all())

    small = tmp_path / "small.yaml"
    small.write_text(
        "contacts:\n  - name: Chị Lan\n    language: en\n    channels: [json://127.0.0.1:9/lan]\n",
        encoding="utf-8",
    )
    assert "dry run" in _cli(["import", "--prune", "--dry-run", str(small)], alert_settings).output
    r = _cli(["import", "--prune", str(small)], alert_settings)
    assert "1 contacts created, 0 updated, 5 removed" in r.output
    assert "no channel" not in r.output
    listing = _cli(["list"], alert_settings).output
    assert "Chị Lan" in listing and "Trực ban" not in listing


def test_cli_maintenance_and_silence(alert_settings: Settings, alert_engine) -> None:
    add_cameras(alert_engine, 1, "Tây Lộc", prefix="tl")
    r = _cli(
        [
            "maintenance",
            "add",
            "--hamlet",
            "Tây Lộc",
            "--daily",
            "22:00-06:00",
            "--weekdays",
            "mon-fri",
            "--by",
            "Tuấn",
        ],
        alert_settings,
        alerts,
    )
    assert r.exit_code == 0 and "hamlet Tây Lộc" in r.output and "22:00-06:00" in r.output
    r = _cli(
        ["silence", "--camera", "tl-001", "--for", "2h", "--reason", "thay camera"], alert_settings, alerts
    )
    assert r.exit_code == 0, r.output
    active = _cli(["maintenance", "list", "--active"], alert_settings, alerts).output
    assert "camera tl-001" in active and "thay camera" in active
    bad = CliRunner().invoke(
        alerts,
        ["maintenance", "add", "--camera", "tl-001", "--hamlet", "Tây Lộc"],
        env={"CAMSVC_DATA_DIR": str(alert_settings.data_dir)},
    )
    assert bad.exit_code != 0 and "exactly one of" in bad.output
    bad = CliRunner().invoke(
        alerts,
        ["silence", "--camera", "tl-404", "--for", "1h", "--reason", "x"],
        env={"CAMSVC_DATA_DIR": str(alert_settings.data_dir)},
    )
    assert bad.exit_code != 0 and "not registered" in bad.output
