"""Outbound targets: cameras and webhooks only on allowed networks; link-local/metadata always refused;
names resolved when saved and again before each probe or delivery."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from camsvc import netpolicy
from camsvc.alerts import channels
from camsvc.alerts.contacts import ConfigError, parse_contacts_yaml
from camsvc.config import Settings
from camsvc.models import Camera
from camsvc.probing.result import ErrorClass
from camsvc.probing.stream import probe
from tests.alerts.receivers import WebhookSink
from tests.probing import servers as S
from tests.security.conftest import Serve

DEFAULT = netpolicy.Policy.from_strings(netpolicy.DEFAULT_ALLOWED)
EVERYTHING = netpolicy.Policy.from_strings(["0.0.0.0/0", "::/0"])


@pytest.mark.parametrize(
    "addr", ["10.1.2.3", "172.31.0.9", "192.168.1.64", "100.64.0.7", "127.0.0.1", "::1", "fd12::5"]
)
def test_lan_addresses_pass(addr: str) -> None:
    netpolicy.check_addresses(addr, [addr], DEFAULT)


@pytest.mark.parametrize(
    ("addr", "why"),
    [
        ("169.254.169.254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),  # IPv4-mapped: the same address
        ("169.254.10.20", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_link_local_and_metadata_are_refused_whatever_the_setting(addr: str, why: str) -> None:
    for policy in (DEFAULT, EVERYTHING):
        with pytest.raises(netpolicy.Refused, match=why):
            netpolicy.check_addresses("cam.example", [addr], policy)


def test_public_addresses_are_outside_the_default() -> None:
    with pytest.raises(netpolicy.Refused, match=r"'cam\.example' refused: 8\.8\.8\.8 is outside"):
        netpolicy.check_addresses("cam.example", ["192.168.1.2", "8.8.8.8"], DEFAULT)  # every address
    netpolicy.check_addresses("cam.example", ["8.8.8.8"], EVERYTHING)


def test_names_are_resolved() -> None:
    assert "127.0.0.1" in netpolicy.check_host("localhost", 80, DEFAULT)
    with pytest.raises(netpolicy.Refused, match="'localhost' refused: 127.0.0.1 is outside"):
        netpolicy.check_host("localhost", 80, netpolicy.Policy.from_strings(["10.0.0.0/8"]))
    assert netpolicy.check_host("no-such-camera.invalid", 80, DEFAULT) == []  # offline: checked at probe
    with pytest.raises(netpolicy.Refused, match="does not resolve"):
        netpolicy.check_host("no-such-camera.invalid", 80, DEFAULT, unresolvable_ok=False)


def test_setting_is_validated_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().network.allowed_networks == list(netpolicy.DEFAULT_ALLOWED)
    with pytest.raises(ValueError, match="not an IP network"):
        Settings(network={"allowed_networks": ["192.168.1.0/33"]})  # type: ignore[arg-type]
    monkeypatch.setenv("CAMSVC_NETWORK__ALLOWED_NETWORKS", '["10.20.0.0/16"]')
    netpolicy.configure(None)
    assert netpolicy.current().allowed == (netpolicy.parse_network("10.20.0.0/16"),)


def test_api_refuses_metadata_camera_naming_host_and_reason(client: Any) -> None:
    r = client.post(
        "/api/cameras",
        json={"id": "evil", "name": "x", "kind": "roadside", "main_url": "rtsp://169.254.169.254/latest"},
    )
    assert r.status_code == 409 and "169.254.169.254" in r.text and "metadata" in r.text
    client.post(
        "/api/cameras",
        json={"id": "ok", "name": "x", "kind": "roadside", "main_url": "rtsp://192.168.1.10/live"},
    )
    r = client.patch("/api/cameras/ok", json={"snapshot_url": "http://[fe80::1]/snap.jpg"})
    assert r.status_code == 409 and "link-local" in r.text
    assert client.get("/api/cameras/ok").json()["snapshot_url"] == ""


def test_import_names_every_bad_row_and_changes_nothing(client: Any) -> None:
    text = (
        "id,name,kind,main_url,snapshot_url\n"
        "a,A,roadside,rtsp://192.168.1.10/live,\n"
        "b,B,roadside,rtsp://169.254.169.254/live,\n"
        "c,C,household,,http://8.8.8.8/snap.jpg\n"
    )
    r = client.post("/api/cameras/import", files={"file": ("f.csv", text.encode(), "text/csv")})
    assert r.status_code == 422
    errors = {(e["row"], e["column"]): e["message"] for e in r.json()["detail"]["errors"]}
    assert set(errors) == {(3, "main_url"), (4, "snapshot_url")}
    assert "metadata" in errors[(3, "main_url")] and "8.8.8.8" in errors[(4, "snapshot_url")]
    with Session(client.app.state.engine) as s:
        assert s.exec(select(Camera)).all() == []


def test_probe_checks_again_at_probe_time(serve: Serve) -> None:
    """A camera saved while its name pointed at the LAN is refused once it resolves elsewhere (here the
    resolution stays, the allowed networks change: the same check, at probe time, before any packet)."""
    srv = serve(S.http_camera("snapshot"))
    url = f"http://localhost:{srv.port}/snap.jpg"
    assert probe(url).ok
    netpolicy.configure(["10.0.0.0/8"])
    seen = len(srv.requests)
    r = probe(url)
    assert (r.ok, r.error) == (False, ErrorClass.INVALID_URL)
    assert r.detail and "localhost" in r.detail and "outside the allowed networks" in r.detail
    assert len(srv.requests) == seen  # nothing was sent


def test_webhook_channels_are_checked_when_saved(client: Any) -> None:
    r = client.post(
        "/api/contacts", json={"name": "X", "channels": [{"url": "json://169.254.169.254/latest/meta-data"}]}
    )
    assert r.status_code == 422 and "169.254.169.254" in r.text and "metadata" in r.text
    with pytest.raises(ConfigError, match="outside the allowed networks"):
        parse_contacts_yaml("contacts:\n  - name: A\n    channels: ['jsons://8.8.8.8/hook']\n")
    parse_contacts_yaml("contacts:\n  - name: A\n    channels: ['json://192.168.1.5/hook']\n")
    assert channels.check_url("tgram://123456789:AAbotToken/987654")  # a public service: not a webhook


def test_webhook_delivery_checks_again() -> None:
    sink = WebhookSink()
    try:
        url = sink.url("hook")
        assert channels.send(url, "t", "b", timeout_s=5).ok
        netpolicy.configure(["10.0.0.0/8"])
        out = channels.send(url, "t", "b", timeout_s=5)
        assert not out.ok and out.error and "outside the allowed networks" in out.error
        assert len(sink.at("hook")) == 1
    finally:
        sink.close()
