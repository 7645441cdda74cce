"""Issue 11's alert screens against the real service (`camsvc serve` subprocess checking the real simulator),
messages arriving at a real JSON webhook on 127.0.0.1, driven through Debian's chromium at desktop
(1400x900) and phone (390x844) sizes:

- /alerts: a camera switched down in the simulator opens an incident, its alert and reminders reach the
  receiver; one click on Acknowledge (as the technician) and no further reminder arrives over three more
  reminder intervals; the incident shows who acknowledged. A viewer sees no Acknowledge button.
- /maintenance: a window made from the screen turns its cameras ``maintenance`` (grey) in the API the map
  and list read; "End now" returns them.
- /admin/alerting: a contact and a channel pointing at the local receiver, "Send a test" reaches it and the
  screen says so; the channel's secret never appears in the page; viewers and technicians see no controls.

Screenshots go to the test's tmp directory and docs/img/alerts-{incidents,maintenance,admin}-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess, free_port
from tests.alerts.receivers import WebhookSink
from tests.utils.auth import PASSWORD, add_users_in
from tests.utils.browser import doc_shot, wait_js
from tests.utils.service import fleet_service, quick_checks_env
from tests.utils.simulator import simulator_fixture
from tests.utils.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 2.0, 1.0, 4.0
REMINDER_S = 4.0
ENV = {
    **quick_checks_env(INTERVAL, RETRY, BUDGET),
    "CAMSVC_PROBE__WINDOW_S": "0.6",
    "CAMSVC_ALERTS__GROUP_WAIT_S": "1",
    "CAMSVC_ALERTS__DISPATCH_INTERVAL_S": "0.3",
    "CAMSVC_ALERTS__REMINDER_INTERVAL_S": str(REMINDER_S),
}
DESKTOP = (1400, 900)
PHONE = (390, 844)
SECRET = "S3cretHookPass"

sim = simulator_fixture(4, 4)


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def svc(sim: Any, hook: WebhookSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    port = free_port()
    data = tmp_path_factory.mktemp("svc")
    env = {**ENV, "CAMSVC_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with fleet_service(sim, data, env, port) as proc:
        add_users_in(data)  # viewer / technician / officer / admin, tests.utils.auth.PASSWORD
        tech = _api(
            proc, "POST", "/api/contacts", json={"name": "Kỹ thuật xóm", "channels": [{"url": hook.url()}]}
        )
        _api(proc, "POST", "/api/routing-rules", json={"contact_id": tech["id"]})
        wait_for(lambda: _all_up(proc), 120, "every enabled camera up", lambda: _states(proc))
        yield proc


def _api(svc: ServiceProcess, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, svc.base + path, headers=svc.headers, timeout=15, **kw)
    assert r.status_code < 400, r.text
    return r.json() if "json" in r.headers.get("content-type", "") else r.text


def _cams(svc: ServiceProcess) -> list[dict[str, Any]]:
    return [c for c in _api(svc, "GET", "/api/cameras", params={"limit": 1000})["items"] if c["enabled"]]


def _states(svc: ServiceProcess) -> dict[str, str]:
    return {c["id"]: c["state"] for c in _cams(svc)}


def _all_up(svc: ServiceProcess) -> bool:
    st = _states(svc)
    return bool(st) and all(s == "up" for s in st.values())


def open_dash(page: Any, url: str, username: str) -> None:
    """Sign in on the page's own context, wait until the new session is accepted (the busy service may
    answer the sign-in a moment before its session row is visible to the next request), open *url*."""
    origin = "/".join(url.split("/", 3)[:3])
    r = page.context.request.post(
        origin + "/api/auth/login",
        data={"username": username, "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert r.ok, f"sign-in as {username} failed: {r.status} {r.text()[:200]}"
    wait_for(
        lambda: page.context.request.get(origin + "/api/alerts/status").status == 200,
        10,
        f"the session of {username} accepted",
        interval_s=0.2,
    )
    page.goto(url)
    page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=20000)


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0); document.body.scrollTop = 0")
    page.screenshot(path=str(out), full_page=False)
    doc_shot(out, f"{name}.png")


def _open_incident(svc: ServiceProcess, camera_id: str) -> dict[str, Any] | None:
    for inc in _api(svc, "GET", "/api/incidents", params={"status": "open"}):
        if any(m["camera_id"] == camera_id for m in inc["members"]):
            return inc  # type: ignore[no-any-return]
    return None


def test_acknowledging_on_the_incident_screen_stops_reminders(
    sim: Any, svc: ServiceProcess, hook: WebhookSink, page_factory: Any, tmp_path: Path
) -> None:
    cam = next(c for c in _cams(svc) if c["kind"] == "roadside")
    sim.fault(cam["id"], "down")
    posts = lambda: len(hook.at("hook"))  # noqa: E731
    # the alert, then at least one reminder (every REMINDER_S while nobody acknowledges)
    wait_for(lambda: _open_incident(svc, cam["id"]), 60, "an incident for the camera switched down")
    wait_for(
        lambda: posts() >= 2 and (_open_incident(svc, cam["id"]) or {}).get("reminders_sent", 0) >= 1,
        60,
        "the alert and a reminder at the receiver",
        lambda: [p.get("title") for p in hook.posts],
    )
    inc = _open_incident(svc, cam["id"])
    assert inc is not None and inc["acknowledged_at"] is None

    # a viewer sees the incident and its cameras, but no Acknowledge button
    viewer = page_factory(*PHONE)
    open_dash(viewer, f"{svc.base}/alerts", "viewer")
    viewer.wait_for_selector(f'[data-incident="{inc["id"]}"]')
    assert viewer.locator(".ack-btn").count() == 0
    assert viewer.locator("#inc-role-note").is_visible()

    # the phone, as the technician: the incident with its camera (linked to its page) and the button
    phone = page_factory(*PHONE)
    open_dash(phone, f"{svc.base}/alerts?refresh=2", "technician")
    card = phone.locator(f'[data-incident="{inc["id"]}"]')
    card.wait_for()
    link = card.locator(f'a[href="/cameras/{cam["id"]}"]')
    assert link.inner_text() == cam["name"]
    assert cam["hamlet"] in card.inner_text() and "Mất tín hiệu" in card.inner_text()
    assert card.locator(f'button[data-ack="{inc["id"]}"]').is_visible()
    card.locator(".deliv-toggle").click()
    card.locator(".deliv").first.wait_for()
    assert "Nhắc lại" in card.inner_text()  # the reminder in the delivery history
    _shot(phone, tmp_path, "alerts-incidents-phone")

    # desktop, one click
    page = page_factory(*DESKTOP)
    open_dash(page, f"{svc.base}/alerts?refresh=2", "technician")
    page.locator(f'button[data-ack="{inc["id"]}"]').click()
    wait_js(
        page,
        f"document.querySelector('[data-incident=\"{inc['id']}\"] .ack-done') !== null",
    )
    assert "technician" in page.locator(f'[data-incident="{inc["id"]}"] .ack-done').inner_text()
    acked = _open_incident(svc, cam["id"])
    assert acked is not None and acked["acknowledged_by"] == "technician"

    # nothing queued for the incident is still to go (a reminder queued before the click is cancelled)
    def settled() -> bool:
        msgs = _api(svc, "GET", f"/api/incidents/{inc['id']}/deliveries")
        return all(m["status"] not in ("pending", "sending") for m in msgs)

    wait_for(settled, 15, "the incident's outbox settled")
    before = posts()
    reminders_before = acked["reminders_sent"]
    # absence: over three more reminder intervals the receiver's count must stay where it is
    t0 = time.monotonic()
    quiet = 3 * REMINDER_S + 1

    def time_passed_quietly() -> bool:
        assert posts() == before, [p.get("title") for p in hook.posts[before:]]
        return time.monotonic() - t0 >= quiet

    wait_for(time_passed_quietly, quiet + 5, "three reminder intervals without a message", interval_s=0.25)
    assert (_open_incident(svc, cam["id"]) or {}).get("reminders_sent") == reminders_before
    # the phone page, refreshing itself, shows the acknowledgement too
    wait_js(phone, f"document.querySelector('[data-incident=\"{inc['id']}\"] .ack-done') !== null", 10)
    page.locator(f'[data-incident="{inc["id"]}"] .deliv-toggle').click()
    page.locator(f'[data-incident="{inc["id"]}"] .deliv').first.wait_for()
    _shot(page, tmp_path, "alerts-incidents-desktop")

    # English, times in Asia/Ho_Chi_Minh whatever the browser's zone (New York)
    en = page
    en.goto(f"{svc.base}/alerts?lang=en")
    en.wait_for_selector('body[data-ready="1"]', state="attached")
    text = en.locator(f'[data-incident="{inc["id"]}"]').inner_text()
    assert "Acknowledged by technician" in text
    shown = en.evaluate(f"CS.fmtTime({acked['acknowledged_at']!r}, {{short: true}})")
    assert shown in text
    sim.fault(cam["id"], "normal")


def test_maintenance_from_the_screen_greys_the_cameras_and_end_now_returns_them(
    svc: ServiceProcess, page_factory: Any, tmp_path: Path
) -> None:
    wait_for(
        lambda: sum(1 for s in _states(svc).values() if s == "up") >= 3,
        60,
        "cameras up",
        lambda: _states(svc),
    )
    targets = [c for c in _cams(svc) if c["state"] == "up"][:2]
    ids = [c["id"] for c in targets]
    page = page_factory(*DESKTOP)
    open_dash(page, f"{svc.base}/maintenance", "technician")
    page.locator('input[name="scope"][value="cameras"]').check()
    # the reason is required, and the screen says so naming the field, before anything is sent
    page.locator("#mnt-create").click()
    assert "Lý do" in page.locator("#mnt-reason-err").inner_text()
    page.locator("#mnt-end").fill("")
    page.locator("#mnt-reason").fill("thay nguồn cột điện")
    page.locator("#mnt-create").click()
    assert "Kết thúc" in page.locator("#mnt-end-err").inner_text()
    assert "Camera" in page.locator("#mnt-cameras-err").inner_text()
    assert _api(svc, "GET", "/api/maintenance") == []
    page.locator('[data-hours="2"]').click()
    for cid in ids:
        page.locator("#mnt-filter").fill(cid)
        page.locator(f'#mnt-cams input[value="{cid}"]').check()
    page.locator("#mnt-create").click()
    page.locator("#mnt-active [data-window]").nth(1).wait_for()
    windows = _api(svc, "GET", "/api/maintenance", params={"active": "true"})
    assert sorted(w["camera_id"] for w in windows) == sorted(ids)
    assert {w["created_by"] for w in windows} == {"technician"} and all(w["ends_at"] for w in windows)

    # grey on the map and list: the states the dashboard reads
    wait_for(
        lambda: all(_states(svc)[cid] == "maintenance" for cid in ids),
        60,
        "the chosen cameras in maintenance",
        lambda: _states(svc),
    )
    counts = _api(svc, "GET", "/api/status")
    assert counts["by_state"]["maintenance"] >= 2
    _shot(page, tmp_path, "alerts-maintenance-desktop")

    phone = page_factory(*PHONE)
    open_dash(phone, f"{svc.base}/maintenance", "technician")
    phone.locator("#mnt-active [data-window]").first.wait_for()
    _shot(phone, tmp_path, "alerts-maintenance-phone")

    # a viewer reads the list but has no form and no End now
    viewer = page_factory(*PHONE)
    open_dash(viewer, f"{svc.base}/maintenance", "viewer")
    viewer.locator("#mnt-active [data-window]").first.wait_for()
    assert viewer.locator("#mnt-form").is_hidden() and viewer.locator(".end-now").count() == 0

    for w in windows:
        page.locator(f'button[data-end="{w["id"]}"]').click()
        page.locator(f'#mnt-past [data-window="{w["id"]}"]').wait_for()
    wait_for(
        lambda: all(_states(svc)[cid] == "up" for cid in ids),
        60,
        "the cameras back up after End now",
        lambda: _states(svc),
    )
    assert _api(svc, "GET", "/api/maintenance", params={"active": "true"}) == []


def test_admin_screen_adds_a_contact_and_channel_and_sends_a_test(
    svc: ServiceProcess, hook: WebhookSink, page_factory: Any, tmp_path: Path
) -> None:
    for role in ("viewer", "technician"):
        p = page_factory(*PHONE)
        open_dash(p, f"{svc.base}/admin/alerting", role)
        assert p.locator("#adm-only").is_visible()
        assert p.locator("#adm-card").is_hidden()
        assert p.locator("[data-test], #adm-new-open:visible, .ch-url").count() == 0
        assert "Kỹ thuật xóm" not in p.content()  # no contact reaches them

    page = page_factory(*DESKTOP)
    open_dash(page, f"{svc.base}/admin/alerting", "admin")
    page.locator("#adm-new-open").click()
    page.locator("#adm-new button[type=submit]").click()
    assert "Tên" in page.locator("#an-name-err").inner_text()  # the field named
    page.locator("#an-name").fill("Trực ban công an xã")
    page.locator("#an-role").select_option("duty")
    page.locator("#adm-new button[type=submit]").click()
    card = page.locator('[data-contact]:has(h3:text-is("Trực ban công an xã"))')
    card.wait_for()
    contact_id = card.get_attribute("data-contact")
    url = f"json://camsvc:{SECRET}@127.0.0.1:{hook.port}/test-hook"
    form = page.locator(f'[data-channel-form="{contact_id}"]')
    form.locator("input[type=password]").fill(url)
    form.locator("input[type=text]").fill("Zalo nhóm trực")
    form.locator("button[type=submit]").click()
    channel = card.locator("[data-channel]")
    channel.wait_for()
    assert "****" in channel.locator(".ch-url").inner_text() or SECRET not in channel.inner_text()
    channel.locator("[data-test]").click()
    result = card.locator(".test-result")
    result.wait_for()
    assert result.get_attribute("data-ok") == "true", result.inner_text()
    wait_for(lambda: hook.at("test-hook"), 10, "the test message at the receiver")
    assert "Test" in str(hook.at("test-hook")[0]) or "thử" in str(hook.at("test-hook")[0])

    # a rule from the screen: down cameras only, level 1
    card.locator(f'[data-add-rule="{contact_id}"]').click()
    rf = card.locator(f'[data-rule-form="{contact_id}"]')
    rf.locator('input[name="states"][value="down"]').check()
    rf.locator('input[type="number"]').nth(2).fill("1")
    rf.locator("button[type=submit]").click()
    card.locator("[data-rule]").first.wait_for()
    rules = _api(svc, "GET", "/api/routing-rules", params={"contact_id": contact_id})
    assert [(r["states"], r["level"]) for r in rules] == [(["down"], 1)]
    html = page.content()
    assert SECRET not in html and url not in html
    _shot(page, tmp_path, "alerts-admin-desktop")

    phone = page_factory(*PHONE)
    open_dash(phone, f"{svc.base}/admin/alerting", "admin")
    phone.locator("[data-channel]").first.wait_for()
    assert SECRET not in phone.content()
    _shot(phone, tmp_path, "alerts-admin-phone")
