"""The Zalo Official Account channel (zalo://), against a real HTTP server on 127.0.0.1 standing in for
Zalo's ``/v3.0/oa/message/cs`` endpoint: the pure parts by table, then sends through channels.send, then the
real dispatcher and outbox (retries, attempt records) and the API (validation, redaction)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc import netpolicy
from camsvc.alerts import channels as chans
from camsvc.alerts import zalo
from camsvc.alerts.delivery import backoff_s
from camsvc.alerts.dispatch import Dispatcher
from camsvc.alerts.models import AlertKV, ContactChannel, DeliveryAttempt
from camsvc.bench.common import free_port
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import Thumbnail
from tests.alerts.conftest import T0, Clock, Fleet, add_cameras, add_contact, messages, pump, settle
from tests.utils.auth import signed_in_client

TOKEN = "zT0k-SECRET_oa-access.token-9f8e7d6c5b4a"
NEW_TOKEN = "nEw-SECRET_token-after-refresh-1a2b3c"
U1, U2 = "2468458835296117922", "5511223344556677889"
PATH = "/v3.0/oa/message/cs"
OAUTH_PATH = "/v4/oa/access_token"
APP_ID, APP_SECRET, R0 = "4291763606161179100", "AppSECRETkey42", "r0-SECRET-refresh-token"
BCT = "Bắc Chiến Thắng"
OK = (200, {"error": 0, "message": "Success", "data": {"message_id": "abc123", "user_id": U1}})
EXPIRED = (200, {"error": -216, "message": "Access token is invalid"})


@dataclass
class Post:
    path: str
    token: str | None
    content_type: str | None
    body: dict[str, Any]


class FakeZalo:
    """Zalo's CS message endpoint on 127.0.0.1: records each POST; ``answer(post)`` gives (status, JSON)."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.answer: Callable[[Post], tuple[int, Any]] = lambda p: OK
        self.refreshes: list[tuple[str | None, dict[str, str]]] = []  # (secret_key header, form)
        self.valid_refresh = R0  # Zalo's OAuth: a refresh token works once, the answer carries the next
        self.valid_access: str | None = None
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                if self.path == OAUTH_PATH:
                    status, payload = sink._oauth(
                        self.headers.get("secret_key"), dict(parse_qsl(raw.decode()))
                    )
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                post = Post(
                    self.path,
                    self.headers.get("access_token"),
                    self.headers.get("Content-Type"),
                    json.loads(raw),
                )
                with sink._lock:
                    sink.posts.append(post)
                status, payload = sink.answer(post)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name="fake-zalo", daemon=True
        )
        self._thread.start()

    def _oauth(self, secret_key: str | None, form: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.refreshes.append((secret_key, form))
            good = (
                secret_key == APP_SECRET
                and form.get("app_id") == APP_ID
                and form.get("grant_type") == "refresh_token"
                and form.get("refresh_token") == self.valid_refresh
            )
            if not good:
                return 200, {"error": -14014, "error_name": "Invalid refresh token", "error_reason": "used"}
            k = len(self.refreshes)
            self.valid_access, self.valid_refresh = f"acc-SECRET-{k}", f"ref-SECRET-{k}"
            return 200, {
                "access_token": self.valid_access,
                "refresh_token": self.valid_refresh,
                "expires_in": "90000",
            }

    def url(self, *users: str, token: str = TOKEN) -> str:
        return f"zalo://{token}@oa/{'/'.join(users)}?endpoint=http://127.0.0.1:{self.port}{PATH}"

    def refreshing_url(self, *users: str, refresh: str = R0) -> str:
        base = f"http://127.0.0.1:{self.port}"
        return (
            f"zalo://{APP_ID}:{APP_SECRET}@oa/{'/'.join(users)}?refresh_token={refresh}"
            f"&endpoint={base}{PATH}&oauth={base}{OAUTH_PATH}"
        )

    def count(self) -> int:
        with self._lock:
            return len(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    z = FakeZalo()
    yield z
    z.close()


@pytest.fixture
def loopback_allowed() -> Iterator[None]:
    netpolicy.configure(netpolicy.DEFAULT_ALLOWED)
    yield
    netpolicy.configure(None)


# ------------------------------------------------------------------------------------------ pure parts
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"zalo://oa/{U1}", "has no access token"),
        (f"zalo://@oa/{U1}", "empty access token"),
        ("zalo://SECRETtok@oa", "names no recipient"),
        ("zalo://SECRETtok@oa/", "names no recipient"),
        ("zalo://SECRETtok@oa/0912345678x", "is not a Zalo user id"),
        (f"zalo://SECRETtok@/{U1}", "nothing after '@'"),
        (f"zalo://SECRETtok@oa/{U1}/{U1}", "same recipient twice"),
        (f"zalo://SECRETtok@oa/{U1}?to=1", "unknown option 'to'"),
        (f"zalo://SECRETtok@oa/{U1}?endpoint=ftp://127.0.0.1/x", "must be an http:// or https:// URL"),
        (f"zalo://SECRETtok@oa/{U1}?endpoint=http://u:p@127.0.0.1/x", "must not hold credentials"),
        (f"zalo://SECRET tok@oa/{U1}", "holds spaces"),
        (f"zalo://app:SECRETkey@oa/{U1}?refresh_token=SECRETr", "the Zalo app id (digits)"),
        (f"zalo://123:SECRETkey@oa/{U1}", "needs ?refresh_token="),
        (f"zalo://SECRETtok@oa/{U1}?refresh_token=SECRETr", "needs the app id and secret key"),
        (f"zalo://123:SECRETkey@oa/{U1}?refresh_token=SECRETr&oauth=file:///x", "oauth must be an http"),
    ],
)
def test_url_errors_name_what_is_wrong_and_never_the_token(url: str, says: str) -> None:
    with pytest.raises(chans.InvalidChannel) as err:
        chans.check_url(url)
    assert says in str(err.value)
    assert "SECRET" not in str(err.value)


def test_a_good_url_parses_and_shows_without_its_token() -> None:
    url = f"zalo://{TOKEN}@4183011960101540000/{U1}/{U2}"
    assert chans.check_url(url) == url
    t = zalo.parse(url)
    assert (t.token, t.oa, t.users, t.endpoint) == (
        TOKEN,
        "4183011960101540000",
        (U1, U2),
        zalo.DEFAULT_ENDPOINT,
    )
    assert chans.redacted(url) == f"zalo://****@4183011960101540000/{U1}/{U2}"
    assert chans.service_name(url) == "Zalo OA" and chans.supports_attachments(url) is False
    assert chans.secrets_of(url) == (TOKEN,)
    relay = f"zalo://{TOKEN}@oa/{U1}?endpoint=http://192.168.1.5:8081/zalo/cs"
    assert chans.redacted(relay) == f"zalo://****@oa/{U1}?endpoint=http://192.168.1.5:8081/zalo/cs"
    assert chans.redacted("zalo://garbage") == "zalo://****"


def test_zalo_public_api_is_not_checked_but_an_endpoint_outside_the_allowed_networks_is_refused(
    loopback_allowed: None,
) -> None:
    assert chans.check_url(f"zalo://{TOKEN}@oa/{U1}")  # Zalo's own API: a fixed public service
    assert chans.check_url(f"zalo://{TOKEN}@oa/{U1}?endpoint=http://127.0.0.1:9/x")
    for host, why in (("8.8.8.8", "outside the allowed networks"), ("169.254.169.254", "cloud metadata")):
        with pytest.raises(chans.InvalidChannel) as err:
            chans.check_url(f"zalo://{TOKEN}@oa/{U1}?endpoint=http://{host}/v3.0/oa/message/cs")
        assert why in str(err.value) and TOKEN not in str(err.value)


def test_compose_is_plain_text_without_the_attachment_line() -> None:
    body = "Camera Cổng chợ (bct-012) mất tín hiệu.\nẢnh chụp gần nhất đính kèm.\nXác nhận: http://x/ack/1"
    out = zalo.compose("[Camera] MẤT TÍN HIỆU: Cổng chợ", body, ("Ảnh chụp gần nhất đính kèm.",))
    assert (
        out
        == "[Camera] MẤT TÍN HIỆU: Cổng chợ\n\nCamera Cổng chợ (bct-012) mất tín hiệu.\nXác nhận: http://x/ack/1"
    )
    assert zalo.compose("", "only body") == "only body" and zalo.compose("only title", "") == "only title"


def _lines(n: int, width: int = 60) -> str:
    return "\n".join(f"{i:03d} " + "x" * (width - 4) for i in range(n))


@pytest.mark.parametrize(
    ("text", "parts", "complete"),
    [
        ("ngắn", 1, True),
        ("x" * 2000, 1, True),  # exactly the limit: one message, unmarked
        (_lines(70), 3, True),  # 4269 chars at line ends
        ("y" * 4500, 3, True),  # one overlong line: cut inside
        (_lines(200), 4, False),  # 12 KB: four parts, the rest left out with "…"
    ],
)
def test_split_text_keeps_every_part_under_zalo_s_limit(text: str, parts: int, complete: bool) -> None:
    out = zalo.split_text(text)
    assert len(out) == parts
    assert all(len(p) <= zalo.TEXT_LIMIT for p in out)
    if parts == 1:
        assert out == [text]
        return
    assert [p.split(" ", 1)[0] for p in out] == [f"({i}/{parts})" for i in range(1, parts + 1)]
    rejoined = "".join(p.split(" ", 1)[1].replace("\n", "") for p in out)
    if complete:
        assert rejoined == text.replace("\n", "")
    else:
        assert out[-1].endswith("\n…") and text.replace("\n", "").startswith(rejoined[:-1])


@pytest.mark.parametrize(
    ("status", "payload", "says"),
    [
        (200, {"error": 0, "message": "Success", "data": {}}, None),
        (
            200,
            {"error": -216, "message": "Access token is invalid"},
            "Zalo error -216: Access token is invalid",
        ),
        (200, {"error": -124, "message": "Access token has expired"}, "about 25 hours"),
        (200, {"error": -32, "message": "Exceeded rate limit"}, "rate limit"),
        (
            200,
            {"error": -213, "message": "User has not followed OA"},
            "Zalo error -213: User has not followed",
        ),
        (200, {"message": "Success"}, "no 'error' field"),
        (200, "plain text", "not Zalo's JSON"),
        (502, {"error": 0}, "HTTP 502"),
        (200, {"error": "x"}, "unexpected 'error' value"),
    ],
)
def test_zalo_answers_are_judged_by_their_error_code(status: int, payload: Any, says: str | None) -> None:
    got = zalo.describe_answer(status, payload)
    assert got == says if says is None else (got is not None and says in got)


# ---------------------------------------------------------------------------------- sends (real HTTP)
@pytest.mark.integration
def test_one_message_per_recipient_with_the_token_header_and_plain_text(
    fake: FakeZalo, loopback_allowed: None
) -> None:
    out = chans.send(
        fake.url(U1, U2),
        "[Camera] Tin nhắn thử",
        "Dòng một\nẢnh chụp gần nhất đính kèm.\nDòng hai",
        timeout_s=5,
    )
    assert out.ok and out.error is None
    assert [p.body["recipient"] for p in fake.posts] == [{"user_id": U1}, {"user_id": U2}]
    for p in fake.posts:
        assert p.path == PATH and p.token == TOKEN and p.content_type == "application/json"
        assert p.body["message"] == {"text": "[Camera] Tin nhắn thử\n\nDòng một\nDòng hai"}


@pytest.mark.integration
def test_a_long_message_goes_in_ordered_parts(fake: FakeZalo, loopback_allowed: None) -> None:
    assert chans.send(fake.url(U1), "[Camera] 40 camera", _lines(70), timeout_s=5).ok
    texts = [p.body["message"]["text"] for p in fake.posts]
    assert len(texts) == 3 and [t[:5] for t in texts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert texts[0].startswith("(1/3) [Camera] 40 camera\n\n000 ")


@pytest.mark.integration
def test_an_error_answer_with_http_200_is_a_failure_naming_zalo_s_error_not_the_token(
    fake: FakeZalo, loopback_allowed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.answer = lambda p: EXPIRED
    out = chans.send(fake.url(U1, U2), "t", "b", timeout_s=5)
    assert not out.ok and out.error is not None
    assert out.error.startswith(f"user {U1}: Zalo error -216: Access token is invalid (the OA access token")
    assert fake.count() == 1, "a dead token is the same for every recipient: stop at the first"
    assert TOKEN not in out.error and TOKEN not in caplog.text


@pytest.mark.integration
def test_one_recipient_refused_by_zalo_fails_the_attempt_but_the_others_still_get_it(
    fake: FakeZalo, loopback_allowed: None
) -> None:
    fake.answer = lambda p: (
        (200, {"error": -213, "message": "User has not followed OA"})
        if p.body["recipient"]["user_id"] == U1
        else OK
    )
    out = chans.send(fake.url(U1, U2), "t", "b", timeout_s=5)
    assert not out.ok and out.error == f"user {U1}: Zalo error -213: User has not followed OA"
    assert [p.body["recipient"]["user_id"] for p in fake.posts] == [U1, U2]


@pytest.mark.integration
def test_unreachable_or_refused_endpoints_fail_without_the_token(loopback_allowed: None) -> None:
    port = free_port()  # nothing listens there
    out = chans.send(f"zalo://{TOKEN}@oa/{U1}?endpoint=http://127.0.0.1:{port}{PATH}", "t", "b", timeout_s=5)
    assert not out.ok and out.error is not None
    assert (
        out.error.startswith(f"user {U1}: cannot reach 127.0.0.1:{port} (ConnectError")
        and TOKEN not in out.error
    )
    # a name that does not resolve at delivery is refused before connecting (as for webhooks)
    gone = chans.send(f"zalo://{TOKEN}@oa/{U1}?endpoint=http://zalo-relay.invalid/cs", "t", "b", timeout_s=5)
    assert not gone.ok and "does not resolve" in (gone.error or "")


@pytest.mark.integration
def test_the_network_policy_is_applied_again_at_delivery(fake: FakeZalo) -> None:
    url = fake.url(U1)
    netpolicy.configure(["10.0.0.0/8"])  # loopback no longer allowed (e.g. the setting changed)
    try:
        out = chans.send(url, "t", "b", timeout_s=5)
    finally:
        netpolicy.configure(None)
    assert not out.ok and "outside the allowed networks" in (out.error or "")
    assert fake.count() == 0


# ------------------------------------------------------------------ through the dispatcher and outbox
def _attempts(engine: Any) -> list[DeliveryAttempt]:
    with Session(engine) as s:
        return list(s.exec(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all())  # type: ignore[arg-type]


@pytest.mark.integration
def test_an_incident_alert_and_its_recovery_reach_zalo_through_the_outbox(
    alert_engine: Any,
    dispatcher: Dispatcher,
    clock: Clock,
    fleet: Fleet,
    fake: FakeZalo,
    loopback_allowed: None,
) -> None:
    cams = add_cameras(alert_engine, 2, BCT, prefix="bct")
    add_contact(alert_engine, "Anh Tuấn", [fake.url(U1, U2)], [{"hamlets": [BCT]}])
    with session_scope(alert_engine) as s:
        s.add(Thumbnail(camera_id=cams[0], at=T0, jpeg=b"\xff\xd8\xff\xe0fake-jpeg", state=None))
    fleet.up(cams, T0)
    settle(dispatcher)
    fleet.down([cams[0]], clock.advance(60), error="auth")
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: fake.count() >= 2)
    settle(dispatcher)
    assert fake.count() == 2
    text = fake.posts[0].body["message"]["text"]
    assert text.startswith(
        f"[Camera] MẤT TÍN HIỆU: BCT 1 - xóm {BCT}\n\nCamera BCT 1 (bct-001) mất tín hiệu từ 21:01"
    )
    assert "Nguyên nhân: sai mật khẩu" in text and "http://camsvc.test:8080/?camera=bct-001" in text
    assert "http://camsvc.test:8080/ack/" in text
    assert "đính kèm" not in text, "no picture goes to Zalo, so the text does not promise one"
    assert "<" not in text and "**" not in text  # plain text: Zalo renders no markup
    assert {p.token for p in fake.posts} == {TOKEN}

    fleet.check(cams[0], clock.advance(30), True)
    clock.advance(5)
    assert pump(dispatcher, clock, lambda: fake.count() >= 4, step_s=1.0)
    assert fake.posts[2].body["message"]["text"].startswith("[Camera] ĐÃ HOẠT ĐỘNG LẠI: BCT 1")
    msgs = messages(alert_engine)
    assert [m.status for m in msgs] == ["sent", "sent"]
    assert all(a.ok for a in _attempts(alert_engine)) and len(_attempts(alert_engine)) == 2
    assert msgs[0].channel_label == f"zalo://****@oa/{U1}/{U2}?endpoint=http://127.0.0.1:{fake.port}{PATH}"


@pytest.fixture
def client(alert_settings: Settings, alert_engine: Any) -> Iterator[TestClient]:
    from camsvc.app import create_app

    app = create_app(alert_settings, start_runtime=False)
    with signed_in_client(app) as c:
        yield c


@pytest.mark.integration
def test_expired_token_keeps_the_message_queued_with_a_clear_error_until_the_token_is_replaced(
    alert_engine: Any,
    dispatcher: Dispatcher,
    clock: Clock,
    fleet: Fleet,
    fake: FakeZalo,
    client: TestClient,
    loopback_allowed: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.answer = lambda p: OK if p.token == NEW_TOKEN else EXPIRED
    cams = add_cameras(alert_engine, 1, BCT, prefix="bct")
    cid = add_contact(alert_engine, "Anh Tuấn", [fake.url(U1)], [{}])
    fleet.up(cams, T0)
    fleet.down(cams, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: fake.count() >= 2, step_s=1.5)
    [msg] = messages(alert_engine)
    assert msg.status == "pending" and msg.attempts >= 2
    failed = _attempts(alert_engine)
    assert failed and not any(a.ok for a in failed)
    assert all(
        a.error and a.error.startswith(f"user {U1}: Zalo error -216: Access token is invalid") for a in failed
    )
    assert "expired" in (msg.last_error or "")

    # nothing the API, the attempts or the logs show holds the token
    pages = [
        client.get("/api/contacts").text,
        client.get(f"/api/contacts/{cid}").text,
        client.get(f"/api/contacts/{cid}/deliveries").text,
        client.get("/api/alerts/messages").text,
        client.get("/api/contacts/export").text,
    ]
    ch = client.get(f"/api/contacts/{cid}").json()["channels"][0]
    pages.append(client.post(f"/api/channels/{ch['id']}/test").text)  # "send a test" hits the dead token too
    assert "Zalo error -216" in pages[-1]
    for text in [
        *pages,
        caplog.text,
        *(a.error or "" for a in failed),
        msg.last_error or "",
        msg.channel_label,
    ]:
        assert TOKEN not in text
    assert (
        ch["url"].startswith("zalo://****@oa/") and ch["service"] == "Zalo OA" and ch["attachments"] is False
    )

    # a fresh token put in the channel: the queued message goes out at its next attempt
    r = client.patch(f"/api/channels/{ch['id']}", json={"url": fake.url(U1, token=NEW_TOKEN)})
    assert r.status_code == 200 and NEW_TOKEN not in r.text
    assert pump(dispatcher, clock, lambda: messages(alert_engine)[0].status == "sent", step_s=1.5)
    assert fake.posts[-1].token == NEW_TOKEN
    assert NEW_TOKEN not in caplog.text


@pytest.mark.integration
def test_5xx_and_refused_connections_are_retried_with_backoff(
    alert_engine: Any,
    alert_settings: Settings,
    dispatcher: Dispatcher,
    clock: Clock,
    fleet: Fleet,
    fake: FakeZalo,
    loopback_allowed: None,
) -> None:
    fake.answer = lambda p: (503, "<html>Service Unavailable</html>")
    cams = add_cameras(alert_engine, 1, BCT, prefix="bct")
    add_contact(alert_engine, "Anh Tuấn", [fake.url(U1)], [{}])
    fleet.up(cams, T0)
    fleet.down(cams, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: fake.count() >= 1)
    [msg] = messages(alert_engine)
    [a] = _attempts(alert_engine)
    assert (
        msg.status == "pending" and not a.ok and a.error == f"user {U1}: HTTP 503 from 127.0.0.1:{fake.port}"
    )
    wait = backoff_s(1, alert_settings.alerts.backoff_max_s)
    assert msg.next_attempt_at.replace(tzinfo=dt.UTC) == a.at.replace(tzinfo=dt.UTC) + dt.timedelta(
        seconds=wait
    )
    settle(dispatcher)  # not due yet: no new attempt
    assert fake.count() == 1 and len(_attempts(alert_engine)) == 1

    # the receiver goes away entirely: connection refused, recorded, still queued
    port = fake.port
    fake.close()
    clock.advance(wait)
    settle(dispatcher, passes=1)
    attempts = _attempts(alert_engine)
    assert len(attempts) == 2 and attempts[1].error is not None
    assert attempts[1].error.startswith(f"user {U1}: cannot reach 127.0.0.1:{port}")
    assert messages(alert_engine)[0].status == "pending"

    # Zalo is back (a new receiver; the channel is pointed at it): delivered once
    again = FakeZalo()
    try:
        with session_scope(alert_engine) as s:
            row = s.exec(select(ContactChannel)).one()
            row.url = again.url(U1)
            s.add(row)
        assert pump(dispatcher, clock, lambda: again.count() >= 1, step_s=1.0)
        settle(dispatcher)
        assert again.count() == 1 and messages(alert_engine)[0].status == "sent"
        assert [x.ok for x in _attempts(alert_engine)] == [False, False, True]
    finally:
        again.close()


@pytest.mark.integration
def test_channel_api_validates_zalo_urls(client: TestClient, loopback_allowed: None) -> None:
    cid = client.post("/api/contacts", json={"name": "Chị Lan"}).json()["id"]
    ok = client.post(f"/api/contacts/{cid}/channels", json={"url": f"zalo://{TOKEN}@oa/{U1}"})
    assert ok.status_code == 201 and ok.json()["url"] == f"zalo://****@oa/{U1}" and TOKEN not in ok.text
    for url, says in (
        (f"zalo://{TOKEN}@oa", "names no recipient"),
        (f"zalo://oa/{U1}", "has no access token"),
        (f"zalo://{TOKEN}@oa/{U1}?endpoint=http://8.8.8.8/cs", "outside the allowed networks"),
    ):
        r = client.post(f"/api/contacts/{cid}/channels", json={"url": url})
        assert r.status_code == 422 and says in r.text, r.text
    bad_import = client.post(
        "/api/contacts/import",
        json={"yaml": f"contacts:\n  - name: X\n    channels: ['zalo://{TOKEN}@oa/abc']\n", "dry_run": True},
    )
    assert bad_import.status_code == 422 and "contacts[0].channels[0]" in bad_import.text
    assert "is not a Zalo user id" in bad_import.text


# ------------------------------------------------------------------ access token refresh (Zalo OAuth v4)
@pytest.fixture
def token_db(alert_engine: Any) -> Iterator[Any]:
    zalo.use_engine(alert_engine)
    yield alert_engine
    zalo.use_engine(None)


def test_a_refreshing_url_shows_neither_the_secret_key_nor_the_refresh_token() -> None:
    url = f"zalo://{APP_ID}:{APP_SECRET}@oa/{U1}?refresh_token={R0}"
    assert chans.check_url(url) == url
    assert chans.redacted(url) == f"zalo://{APP_ID}:****@oa/{U1}?refresh_token=****"
    assert set(chans.secrets_of(url)) == {APP_SECRET, R0}


@pytest.mark.parametrize(
    ("status", "payload", "says"),
    [
        (
            200,
            {"error": -14014, "error_name": "Invalid refresh token"},
            "Zalo error -14014: Invalid refresh token",
        ),
        (500, {"message": "oops"}, "HTTP 500: oops"),
        (200, [], "not Zalo's JSON"),
    ],
)
def test_oauth_refusals_are_explained(status: int, payload: Any, says: str) -> None:
    with pytest.raises(zalo.RefreshFailed) as err:
        zalo.parse_refresh_answer(status, payload)
    assert says in str(err.value)
    if isinstance(payload, dict):
        assert "get a new one from the Zalo app" in str(err.value)
    assert zalo.parse_refresh_answer(
        200, {"access_token": "a", "refresh_token": "r", "expires_in": "90000"}
    ) == (
        "a",
        "r",
        90000.0,
    )


@pytest.mark.integration
def test_camsvc_refreshes_the_access_token_keeps_the_new_pair_and_survives_a_restart(
    fake: FakeZalo, token_db: Any, loopback_allowed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.answer = lambda p: OK if p.token and p.token == fake.valid_access else EXPIRED
    url = fake.refreshing_url(U1, U2)
    first = chans.send(url, "t", "b", timeout_s=5)
    assert first.ok, first.error
    assert fake.refreshes == [
        (APP_SECRET, {"app_id": APP_ID, "grant_type": "refresh_token", "refresh_token": R0})
    ]
    assert [p.token for p in fake.posts] == ["acc-SECRET-1", "acc-SECRET-1"]
    assert chans.send(url, "t", "b", timeout_s=5).ok and len(fake.refreshes) == 1, "a valid token is reused"
    with Session(token_db) as s:
        row = s.get(AlertKV, f"zalo:{APP_ID}")
        assert row is not None and json.loads(row.value)["refresh"] == "ref-SECRET-1"

    # a restart (the store read afresh); Zalo then calls the token invalid early: refreshed once, with the
    # stored refresh token (the URL's R0 is used up), and the message goes out
    zalo.use_engine(token_db)
    fake.valid_access = "revoked"
    again = chans.send(url, "t", "b", timeout_s=5)
    assert again.ok, again.error
    assert [f["refresh_token"] for _, f in fake.refreshes] == [R0, "ref-SECRET-1"]
    assert fake.posts[-1].token == "acc-SECRET-2"
    for secret in (APP_SECRET, R0, "acc-SECRET", "ref-SECRET"):
        assert secret not in caplog.text


@pytest.mark.integration
def test_a_used_up_refresh_token_fails_the_attempt_with_a_clear_error(
    fake: FakeZalo, token_db: Any, loopback_allowed: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.valid_refresh = "some-other-token"
    out = chans.send(fake.refreshing_url(U1), "t", "b", timeout_s=5)
    assert not out.ok and out.error is not None
    assert out.error.startswith("access token refresh failed: Zalo error -14014: Invalid refresh token")
    assert fake.posts == [], "nothing sent without a token"
    for secret in (APP_SECRET, R0):
        assert secret not in out.error and secret not in caplog.text
    # a new refresh token pasted into the URL (PATCH the channel) seeds the store again
    fake.valid_refresh = "r1-SECRET-new"
    assert chans.send(fake.refreshing_url(U1, refresh="r1-SECRET-new"), "t", "b", timeout_s=5).ok


@pytest.mark.integration
def test_refreshing_without_the_service_database_is_refused_plainly(
    fake: FakeZalo, loopback_allowed: None
) -> None:
    zalo.use_engine(None)
    out = chans.send(fake.refreshing_url(U1), "t", "b", timeout_s=5)
    assert not out.ok and "needs the service's database" in (out.error or "")
    assert fake.refreshes == [] and fake.posts == []


@pytest.mark.integration
def test_an_answer_echoing_the_token_is_scrubbed_from_the_attempt_error(
    fake: FakeZalo, token_db: Any, loopback_allowed: None
) -> None:
    fake.answer = lambda p: (200, {"error": -5, "message": f"relay says: header was {p.token}"})
    plain = chans.send(fake.url(U1), "t", "b", timeout_s=5)
    refreshed = chans.send(fake.refreshing_url(U1), "t", "b", timeout_s=5)
    assert fake.posts[0].token == TOKEN and fake.posts[1].token == "acc-SECRET-1"
    assert plain.error == f"user {U1}: Zalo error -5: relay says: header was ***"
    assert refreshed.error == f"user {U1}: Zalo error -5: relay says: header was ***"


@pytest.mark.integration
def test_a_freshly_refreshed_token_that_zalo_still_refuses_is_explained(
    fake: FakeZalo, token_db: Any, loopback_allowed: None
) -> None:
    fake.answer = lambda p: EXPIRED  # e.g. the app lost the OA's message permission
    out = chans.send(fake.refreshing_url(U1), "t", "b", timeout_s=5)
    assert [f["refresh_token"] for _, f in fake.refreshes] == [R0, "ref-SECRET-1"], (
        "refreshed once more, not forever"
    )
    assert not out.ok and "Zalo refused an access token camsvc had just refreshed" in (out.error or "")
    assert len(fake.posts) == 2
