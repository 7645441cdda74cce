"""Component tests: real SQLite, checks recorded by the real check-recording code, the real dispatcher, and
real receivers (aiosmtpd, a JSON webhook) on 127.0.0.1 reached through Apprise."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlmodel import Session, select

from camsvc.alerts.dispatch import Dispatcher
from camsvc.alerts.models import DeliveryAttempt, Incident, OutboxMessage
from camsvc.db import session_scope
from camsvc.models import Outage, Thumbnail, Transition
from tests.alerts.conftest import T0, Clock, Fleet, add_cameras, add_contact, messages, pump, settle
from tests.alerts.receivers import SmtpSink, WebhookSink

pytestmark = pytest.mark.integration

BCT = "Bắc Chiến Thắng"
NCT = "Nam Chiến Thắng"


def _setup_people(engine, smtp: SmtpSink, webhook: WebhookSink) -> None:
    add_contact(engine, "Anh Tuấn", [smtp.url("tuan@example.org")], [{"hamlets": [BCT]}])
    add_contact(
        engine,
        "Chị Lan",
        [smtp.url("lan@example.org"), webhook.url("lan")],
        [{"hamlets": [NCT]}],
        language="en",
    )
    add_contact(engine, "Trực ban", [smtp.url("duty@example.org")], [{"level": 1}], role="duty")


def test_one_camera_down_one_alert_per_routed_contact_and_one_recovery(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    bct = add_cameras(alert_engine, 3, BCT, prefix="bct")
    nct = add_cameras(alert_engine, 2, NCT, prefix="nct")
    _setup_people(alert_engine, smtp, webhook)
    with session_scope(alert_engine) as s:
        s.add(Thumbnail(camera_id=bct[0], at=T0, jpeg=b"\xff\xd8\xff\xe0fake-jpeg", state=None))
    fleet.up(bct + nct, T0)
    settle(dispatcher)  # UNKNOWN -> UP: nothing to say
    assert smtp.count() == 0

    fleet.down([bct[0]], clock.advance(60), error="auth")
    clock.advance(10)
    settle(dispatcher)
    assert smtp.count() == 0, "nothing before the group wait is over"

    clock.advance(30)
    assert pump(dispatcher, clock, lambda: len(smtp.to("tuan@example.org")) == 1)
    settle(dispatcher)
    mail = smtp.to("tuan@example.org")[0]
    assert "MẤT TÍN HIỆU" in mail.subject and "BCT 1" in mail.subject and BCT in mail.subject
    assert "sai mật khẩu" in mail.body  # the cause in a technician's words
    assert "http://camsvc.test:8080/?camera=bct-001" in mail.body
    assert "1 đường Chợ" in mail.body
    assert "21:01 02/03/2026" in mail.body  # local time (UTC+7) of the first failed check
    assert "http://camsvc.test:8080/ack/" in mail.body
    assert mail.attachments and mail.attachments[0][1] == b"\xff\xd8\xff\xe0fake-jpeg"
    assert smtp.count() == 1, "only the hamlet's technician hears; the duty officer waits for escalation"
    assert webhook.posts == []

    # comes back: one recovery, with the outage's duration, to the same contact
    fleet.check(bct[0], clock.advance(600), True)
    assert pump(dispatcher, clock, lambda: len(smtp.to("tuan@example.org")) == 2)
    settle(dispatcher)
    rec = smtp.to("tuan@example.org")[1]
    assert "ĐÃ HOẠT ĐỘNG LẠI" in rec.subject
    assert "10 phút" in rec.body  # first failed check 21:01:00 -> back at 21:11:40
    assert smtp.count() == 2
    with Session(alert_engine) as s:
        assert all(m.status == "sent" for m in s.exec(select(OutboxMessage)).all())
        assert len(s.exec(select(DeliveryAttempt)).all()) == 2
        inc = s.exec(select(Incident)).one()
        assert inc.status == "resolved"
        assert all(t.processed_at is not None for t in s.exec(select(Transition)).all())


def test_english_contact_and_webhook_get_the_same_alert(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    nct = add_cameras(
        alert_engine,
        2,
        NCT,
        prefix="nct",
        kind="household",
        owner_name="Ông Bình",
        owner_phone="0912 345 678",
    )
    _setup_people(alert_engine, smtp, webhook)
    with session_scope(alert_engine) as s:
        s.add(Thumbnail(camera_id=nct[1], at=T0, jpeg=b"\xff\xd8thumb", state=None))
    fleet.up(nct, T0)
    fleet.down([nct[1]], clock.advance(60), error="timeout")
    clock.advance(45)
    assert pump(
        dispatcher, clock, lambda: len(webhook.at("lan")) == 1 and len(smtp.to("lan@example.org")) == 1
    )
    post = webhook.at("lan")[0]
    assert post["title"].startswith("[Camera] DOWN: NCT 2")
    assert "no answer from the camera's address" in post["message"]
    assert "Owner: Ông Bình - 0912 345 678" in post["message"]
    assert "http://camsvc.test:8080/?camera=nct-002" in post["message"]
    assert base64.b64decode(post["attachments"][0]["base64"]) == b"\xff\xd8thumb"
    mail = smtp.to("lan@example.org")[0]
    assert mail.subject == post["title"]


def test_hamlet_power_cut_of_30_cameras_is_one_grouped_alert_and_one_recovery(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    bct = add_cameras(alert_engine, 30, BCT, prefix="bct")
    _setup_people(alert_engine, smtp, webhook)
    add_contact(alert_engine, "Trưởng xóm", [webhook.url("head")], [{"hamlets": [BCT]}])
    add_contact(
        alert_engine,
        "Chủ nhà 7",
        [smtp.url("owner7@example.org")],
        [{"camera_ids": ["bct-007"]}],
        role="owner",
    )
    fleet.up(bct, T0)
    clock.advance(60)
    # the checks of the 30 cameras are spread over a few seconds, as the scheduler spreads them
    for i, cid in enumerate(bct):
        fleet.down([cid], T0 + dt.timedelta(seconds=60 + i * 0.5))
    clock.advance(10 + 15)
    dispatcher.run_once()  # transitions taken, the group wait runs
    clock.advance(30)
    assert pump(dispatcher, clock, lambda: smtp.count() >= 2 and len(webhook.posts) >= 1)
    settle(dispatcher)
    # one message per contact: the hamlet's technician and its head get the group, the owner their camera
    assert len(smtp.to("tuan@example.org")) == 1 and len(webhook.at("head")) == 1 and len(webhook.posts) == 1
    own = smtp.to("owner7@example.org")
    assert len(own) == 1 and own[0].subject == f"[Camera] MẤT TÍN HIỆU: BCT 7 - xóm {BCT}"
    assert smtp.count() == 2
    assert webhook.at("head")[0]["title"].startswith(f"[Camera] 30 camera ở xóm {BCT}")
    mail = smtp.to("tuan@example.org")[0]
    assert mail.subject.startswith(f"[Camera] 30 camera ở xóm {BCT} mất tín hiệu từ 21:01")
    assert "có thể do mất điện hoặc mất mạng" in mail.body
    assert all(f"bct-{i:03d}" in mail.body for i in range(1, 31))
    assert mail.attachments == []  # no single picture for a group

    # power is back: every camera recovers within a minute -> one recovery message
    for i, cid in enumerate(bct):
        fleet.check(cid, clock.now + dt.timedelta(seconds=i), True)
    clock.advance(40)
    assert pump(dispatcher, clock, lambda: smtp.count() == 4 and len(webhook.posts) == 2)
    settle(dispatcher)
    assert smtp.count() == 4 and len(webhook.posts) == 2
    assert "ĐÃ HOẠT ĐỘNG LẠI: BCT 7" in smtp.to("owner7@example.org")[1].subject
    rec = smtp.to("tuan@example.org")[1]
    assert rec.subject.startswith(f"[Camera] 30 camera ở xóm {BCT} đã hoạt động lại")
    with Session(alert_engine) as s:
        assert len(s.exec(select(Incident)).all()) == 1


def test_camera_failing_later_joins_the_open_incident_with_one_update(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    bct = add_cameras(alert_engine, 5, BCT, prefix="bct")
    _setup_people(alert_engine, smtp, webhook)
    fleet.up(bct, T0)
    fleet.down(bct[:3], clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: smtp.count() == 1)
    # two more fail 20 s apart, after the alert went out: one update carries both
    fleet.down([bct[3]], clock.advance(5))
    fleet.down([bct[4]], clock.advance(20))
    clock.advance(10)
    settle(dispatcher)
    assert smtp.count() == 1, "updates wait for the stragglers"
    clock.advance(60)
    assert pump(dispatcher, clock, lambda: smtp.count() == 2)
    settle(dispatcher)
    upd = smtp.to("tuan@example.org")[1]
    assert upd.subject.startswith(f"[Camera] THÊM 2 camera ở xóm {BCT}")
    assert "bct-004" in upd.body and "bct-005" in upd.body and "bct-001" not in upd.body
    assert "tổng cộng 5 camera" in upd.body
    with Session(alert_engine) as s:
        assert len(s.exec(select(Incident)).all()) == 1
        outages = s.exec(select(Outage)).all()
        assert len(outages) == 5


def test_smtp_down_for_a_while_delays_but_loses_and_duplicates_nothing(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    bct = add_cameras(alert_engine, 2, BCT, prefix="bct")
    nct = add_cameras(alert_engine, 2, NCT, prefix="nct")
    _setup_people(alert_engine, smtp, webhook)
    fleet.up(bct + nct, T0)
    smtp.stop()
    fleet.down([bct[0]], clock.advance(60))
    fleet.down([nct[0]], clock.advance(1))
    clock.advance(45)
    # several passes with the mail server gone: attempts fail and are recorded; the webhook is not held up
    assert pump(dispatcher, clock, lambda: len(webhook.at("lan")) == 1, step_s=0.5)
    for _ in range(6):
        clock.advance(1.5)
        dispatcher.run_once()
        dispatcher.wait_idle(5)
    fleet.check(bct[0], clock.advance(1), True)  # recovers while mail is still down: queued behind the alert
    for _ in range(3):
        clock.advance(1.5)
        dispatcher.run_once()
        dispatcher.wait_idle(5)
    with Session(alert_engine) as s:
        failed = s.exec(select(DeliveryAttempt).where(DeliveryAttempt.ok == False)).all()  # noqa: E712
        assert len(failed) >= 3
        assert all("127.0.0.1" in (a.error or "") for a in failed)
    assert smtp.count() == 0

    smtp.start()
    want = {"tuan@example.org": 2, "lan@example.org": 1}
    assert pump(
        dispatcher,
        clock,
        lambda: all(len(smtp.to(a)) == n for a, n in want.items()),
        timeout_s=15,
        step_s=1.0,
    )
    settle(dispatcher)
    clock.advance(5)
    settle(dispatcher)
    assert {a: len(smtp.to(a)) for a in want} == want
    tuan = smtp.to("tuan@example.org")
    assert "MẤT TÍN HIỆU" in tuan[0].subject and "ĐÃ HOẠT ĐỘNG LẠI" in tuan[1].subject, (
        "order kept per channel"
    )
    assert all(m.status == "sent" for m in messages(alert_engine))


def test_cameras_behind_one_upstream_group_across_hamlets(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink
) -> None:
    a = add_cameras(alert_engine, 3, BCT, prefix="bct", upstream="Switch chợ Bích")
    b = add_cameras(alert_engine, 2, NCT, prefix="nct", upstream="Switch chợ Bích")
    c = add_cameras(alert_engine, 1, NCT, prefix="oth")
    add_contact(alert_engine, "Kỹ thuật xã", [smtp.url("kt@example.org")], [{}])
    fleet.up(a + b + c, T0)
    fleet.down(a + b + c, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: smtp.count() >= 2)
    settle(dispatcher)
    subjects = sorted(m.subject for m in smtp.mails)
    assert subjects == [
        f"[Camera] 5 camera dùng chung Switch chợ Bích (xóm {BCT}, {NCT}) mất tín hiệu từ 21:01",
        f"[Camera] MẤT TÍN HIỆU: OTH 1 - xóm {NCT}",
    ]
    group = next(m for m in smtp.mails if "Switch" in m.subject)
    assert "có thể do thiết bị dùng chung Switch chợ Bích mất điện hoặc mất mạng" in group.body


def test_group_alert_waits_briefly_for_cameras_still_being_confirmed(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    bct = add_cameras(alert_engine, 11, BCT, prefix="bct")
    _setup_people(alert_engine, smtp, webhook)
    fleet.up(bct, T0)
    early, late, flaky = bct[:6], bct[6:10], bct[10]
    fleet.down(early, T0 + dt.timedelta(seconds=60))  # confirmed at +70: the group wait ends at +100
    fleet.check(flaky, T0 + dt.timedelta(seconds=90), False, "refused")  # one failed check, never confirmed
    for cid in late:  # their first failed check comes just before the group wait ends, the second after it
        fleet.check(cid, T0 + dt.timedelta(seconds=95), False, "refused")
    sent_at = None
    for step in range(20):  # passes every 5 s from +70 to +165
        clock.now = T0 + dt.timedelta(seconds=70 + 5 * step)
        if clock.now == T0 + dt.timedelta(seconds=105):
            for cid in late:
                fleet.check(cid, clock.now, False, "refused")
        dispatcher.run_once()
        dispatcher.wait_idle(5)
        if smtp.count() and sent_at is None:
            sent_at = clock.now
    assert smtp.count() == 1
    mail = smtp.to("tuan@example.org")[0]
    assert mail.subject.startswith(f"[Camera] 10 camera ở xóm {BCT}")
    # held past +100 for the late ones, but not beyond the bound (retry x threshold + budget = 30 s) for the flaky one
    assert sent_at is not None and T0 + dt.timedelta(seconds=105) <= sent_at <= T0 + dt.timedelta(seconds=130)
