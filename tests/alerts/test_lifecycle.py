"""Maintenance windows, escalation, reminders and acknowledgement, end to end through the dispatcher, the real
app (signed ack page, API) and a real SMTP server. Time is a fake clock passed to the dispatcher."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from camsvc.alerts.dispatch import Dispatcher
from camsvc.alerts.models import Incident, OutboxMessage
from camsvc.config import Settings
from camsvc.db import session_scope
from camsvc.models import MaintenanceWindow, Outage
from tests.alerts.conftest import T0, Clock, Fleet, add_cameras, add_contact, pump, settle
from tests.alerts.receivers import SmtpSink
from tests.utils.auth import signed_in_client

pytestmark = pytest.mark.integration

BCT = "Bắc Chiến Thắng"
NCT = "Nam Chiến Thắng"
TUAN, DUTY = "tuan@example.org", "duty@example.org"


@pytest.fixture
def client(alert_settings: Settings, alert_engine) -> Iterator[TestClient]:
    from camsvc.app import create_app

    app = create_app(alert_settings, start_runtime=False)
    with signed_in_client(app) as c:
        yield c


def _people(engine, smtp: SmtpSink) -> tuple[int, int]:
    tuan = add_contact(engine, "Anh Tuấn", [smtp.url(TUAN)], [{"hamlets": [BCT, NCT]}])
    duty = add_contact(engine, "Trực ban xã", [smtp.url(DUTY)], [{"level": 1}], role="duty")
    return tuan, duty


def _run_for(d: Dispatcher, clock: Clock, seconds: float, step: float) -> None:
    """Passes every ``step`` fake seconds for ``seconds`` (bounded: seconds / step passes)."""
    for _ in range(int(seconds // step)):
        clock.advance(step)
        d.run_once()
        d.wait_idle(5.0)


def test_maintenance_window_suppresses_alerts_and_its_end_alerts_a_camera_still_down(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink
) -> None:
    bct = add_cameras(alert_engine, 2, BCT, prefix="bct")
    nct = add_cameras(alert_engine, 1, NCT, prefix="nct")
    _people(alert_engine, smtp)
    fleet.up(bct + nct, T0)
    with session_scope(alert_engine) as s:
        s.add(
            MaintenanceWindow(
                hamlet=BCT,
                starts_at=T0 + dt.timedelta(seconds=30),
                ends_at=T0 + dt.timedelta(minutes=30),
                reason="thay nguồn điện",
                created_by="Anh Tuấn",
            )
        )
    # the whole hamlet is switched off for the work, and a camera elsewhere fails too
    t = T0
    for _ in range(25):  # a check per minute for 25 minutes, all failing
        t += dt.timedelta(seconds=60)
        for cid in bct + nct:
            fleet.check(cid, t, False, "refused")
        clock.now = t
        dispatcher.run_once()
        dispatcher.wait_idle(5)
    settle(dispatcher)
    assert [m.subject for m in smtp.to(TUAN)] == [f"[Camera] MẤT TÍN HIỆU: NCT 1 - xóm {NCT}"]

    # the work is done but one camera is still dead when the window ends: it is alerted then, alone
    t = T0 + dt.timedelta(minutes=31)
    fleet.check(bct[0], t, True)
    fleet.check(bct[1], t, False, "refused")
    fleet.check(bct[1], t + dt.timedelta(seconds=10), False, "refused")
    clock.now = t + dt.timedelta(seconds=10)
    dispatcher.run_once()
    clock.advance(31)
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 2)
    settle(dispatcher)
    subjects = [m.subject for m in smtp.to(TUAN)]
    assert subjects[1] == f"[Camera] MẤT TÍN HIỆU: BCT 2 - xóm {BCT}"
    assert len(subjects) == 2 and smtp.to(DUTY) == []


def test_camera_put_under_maintenance_while_down_closes_its_incident(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink
) -> None:
    bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
    _people(alert_engine, smtp)
    fleet.up(bct, T0)
    fleet.down(bct, clock.advance(60), error="timeout")
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 1)
    with session_scope(alert_engine) as s:
        s.add(MaintenanceWindow(camera_id=bct[0], starts_at=clock.now, reason="đổi camera"))
    fleet.check(bct[0], clock.advance(60), False, "timeout")
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 2)
    closing = smtp.to(TUAN)[1]
    assert "chuyển sang bảo trì" in closing.subject
    with Session(alert_engine) as s:
        assert s.exec(select(Incident)).one().status == "resolved"


def test_escalation_reminders_and_acknowledgement_through_the_signed_link(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, client: TestClient
) -> None:
    bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
    _people(alert_engine, smtp)
    fleet.up(bct, T0)
    fleet.down(bct, clock.advance(60), error="refused")
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 1)
    assert smtp.to(DUTY) == []

    # nobody acknowledges within escalate_after_s (1 h): the duty officer hears, once
    _run_for(dispatcher, clock, 3600, 300)
    assert [m.subject.split(":")[0] for m in smtp.to(DUTY)] == ["[Camera] CHUYỂN CẤP"]
    assert "Chưa ai xác nhận sau 1 giờ" in smtp.to(DUTY)[0].body
    assert len(smtp.to(TUAN)) == 1

    # 4 h after the alert: a reminder to both (the escalated contact now hears reminders too)
    _run_for(dispatcher, clock, 3 * 3600, 300)
    assert [m.subject.split(":")[0] for m in smtp.to(TUAN)] == ["[Camera] MẤT TÍN HIỆU", "[Camera] NHẮC LẠI"]
    assert [m.subject.split(":")[0] for m in smtp.to(DUTY)] == ["[Camera] CHUYỂN CẤP", "[Camera] NHẮC LẠI"]

    # the technician follows the link in the message: a page with a button, then the acknowledgement
    link = re.search(r"http://camsvc\.test:8080(/ack/\S+)", smtp.to(TUAN)[-1].body)
    assert link
    page = client.get(link.group(1))
    assert (
        page.status_code == 200 and "<form" in page.text and "Anh Tuấn" in page.text and "BCT 1" in page.text
    )
    assert client.get("/ack/1.1.AAAAAAAAAAAAAAAAAAAAAA").status_code == 404  # forged
    done = client.post(link.group(1), data={"by": "Anh Tuấn"})
    assert done.status_code == 200 and "Đã được Anh Tuấn xác nhận" in done.text
    with Session(alert_engine) as s:
        outage = s.exec(select(Outage)).one()
        assert outage.acknowledged_by == "Anh Tuấn" and outage.acknowledged_at is not None

    # no more reminders, however long it stays down
    before = smtp.count()
    _run_for(dispatcher, clock, 9 * 3600, 900)
    assert smtp.count() == before

    # back up: both who heard about it get the recovery, which says who handled it
    fleet.check(bct[0], clock.advance(60), True)
    assert pump(dispatcher, clock, lambda: smtp.count() == before + 2)
    settle(dispatcher)
    for addr in (TUAN, DUTY):
        rec = smtp.to(addr)[-1]
        assert "ĐÃ HOẠT ĐỘNG LẠI" in rec.subject and "Anh Tuấn" in rec.body
    assert smtp.count() == before + 2


def test_acknowledge_from_the_api_and_delivery_history(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink, client: TestClient
) -> None:
    bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
    tuan, duty = _people(alert_engine, smtp)
    fleet.up(bct, T0)
    fleet.down(bct, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 1)
    with Session(alert_engine) as s:
        outage_id = s.exec(select(Outage)).one().id

    hist = client.get(f"/api/outages/{outage_id}/deliveries").json()
    assert [(h["kind"], h["status"], h["contact_name"]) for h in hist] == [("alert", "sent", "Anh Tuấn")]
    assert hist[0]["attempt_log"][0]["ok"] is True
    assert "127.0.0.1" in hist[0]["channel"] and "mailto" in hist[0]["channel"]
    assert client.get(f"/api/contacts/{tuan}/deliveries").json()[0]["id"] == hist[0]["id"]
    assert client.get(f"/api/contacts/{duty}/deliveries").json() == []

    # the signed-in caller acknowledges (here the admin token's owner); a typed name is ignored (issue 9)
    r = client.post(f"/api/outages/{outage_id}/ack", json={"by": "Chị Hoa (dashboard)"})
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "admin-api"
    again = client.post(f"/api/outages/{outage_id}/ack", json={"by": "someone else"}).json()
    assert again["already"] is True and again["acknowledged_by"] == "admin-api"
    incidents = client.get("/api/incidents", params={"status": "open"}).json()
    assert incidents[0]["acknowledged_by"] == "admin-api"
    assert (
        incidents[0]["members"][0]["cause_text"]
        == "camera từ chối kết nối (camera tắt, mất điện hoặc cổng bị đóng)"
    )

    _run_for(dispatcher, clock, 6 * 3600, 600)
    assert smtp.count() == 1, "acknowledged: no escalation, no reminder"

    # a camera of the same hamlet failing now is a new incident (the acknowledged one takes no one in)
    more = add_cameras(alert_engine, 1, BCT, prefix="bct2")
    fleet.up(more, clock.now)
    fleet.down(more, clock.advance(60))
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: smtp.count() == 2)
    assert "BCT2 1" in smtp.to(TUAN)[1].subject
    assert client.get("/api/alerts/status").json()["open_incidents"] == 2


def test_escalation_waits_for_the_next_levels_hours(
    alert_engine, dispatcher: Dispatcher, clock: Clock, fleet: Fleet, smtp: SmtpSink
) -> None:
    bct = add_cameras(alert_engine, 1, BCT, prefix="bct")
    add_contact(alert_engine, "Anh Tuấn", [smtp.url(TUAN)], [{"hamlets": [BCT]}])
    add_contact(
        alert_engine, "Trực ban ngày", [smtp.url(DUTY)], [{"level": 1, "hour_start": 7, "hour_end": 22}]
    )
    fleet.up(bct, T0)
    fleet.down(bct, clock.advance(60))  # 21:01 local
    clock.advance(45)
    assert pump(dispatcher, clock, lambda: len(smtp.to(TUAN)) == 1)
    _run_for(dispatcher, clock, 9 * 3600, 900)  # escalation due at 22:01, the duty officer starts at 07:00
    assert smtp.to(DUTY) == []
    _run_for(dispatcher, clock, 3600, 900)  # 07:00 passes
    assert [m.subject.split(":")[0] for m in smtp.to(DUTY)] == ["[Camera] CHUYỂN CẤP"]
    with Session(alert_engine) as s:
        esc = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "escalation")).one()
    local = esc.created_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert (local.hour, local.minute) >= (7, 0) and local.hour < 8, local  # the first pass in the duty hours
