"""End to end: the real service (`camsvc serve` subprocess) checking the real simulator, contacts configured
through its API, messages arriving at a real SMTP server: a camera fault, a hamlet power cut (one grouped
message), the recoveries, and an acknowledgement through the signed link served by the service itself."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from camsvc.bench.common import ServiceProcess, free_port, wait_until
from tests.alerts.receivers import SmtpSink
from tests.utils.service import fleet_service, quick_checks_env
from tests.utils.simulator import simulator_fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERVAL, RETRY, BUDGET = 3.0, 1.0, 5.0
# long enough for every camera of the hamlet to be confirmed down on a busy 2-core machine: one message
GROUP_WAIT = 15.0
# interval + retry + two probe budgets + group wait + generous slack (this is a correctness test, timing is
# measured by `camsvc bench alerts`)
ALERT_S = INTERVAL + RETRY + 2 * BUDGET + GROUP_WAIT + 60
ENV = {
    **quick_checks_env(INTERVAL, RETRY, BUDGET),
    "CAMSVC_PROBE__WINDOW_S": "0.6",
    "CAMSVC_ALERTS__GROUP_WAIT_S": str(GROUP_WAIT),
    "CAMSVC_ALERTS__DISPATCH_INTERVAL_S": "0.5",
}


@pytest.fixture(scope="module")
def smtp_mod() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.close()


sim = simulator_fixture(2, 14)


@pytest.fixture(scope="module")
def svc(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    port = free_port()  # the short test interval applies (the cameras' own ones are cleared)
    env = {**ENV, "CAMSVC_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with fleet_service(sim, tmp_path_factory.mktemp("svc"), env, port) as proc:
        yield proc


def _api(svc: ServiceProcess, method: str, path: str, **kw: Any) -> Any:
    r = httpx.request(method, svc.base + path, headers=svc.headers, timeout=15, **kw)
    assert r.status_code < 400, r.text
    return r.json() if "json" in r.headers.get("content-type", "") else r.text


def _all_up(svc: ServiceProcess) -> bool:
    cams = [c for c in _api(svc, "GET", "/api/cameras", params={"limit": 1000})["items"] if c["enabled"]]
    return bool(cams) and all(c["state"] == "up" for c in cams)


def test_faults_reach_the_technician_grouped_and_recovered(
    sim: Any, svc: ServiceProcess, smtp_mod: SmtpSink
) -> None:
    smtp = smtp_mod
    hamlets: dict[str, list[str]] = {}
    for c in sim.fleet:
        if c.enabled:  # the simulated fleet has a few disabled cameras, never checked
            hamlets.setdefault(c.hamlet, []).append(c.id)
    big = max(hamlets, key=lambda h: len(hamlets[h]))
    lone = next(cid for h, ids in hamlets.items() if h != big for cid in ids)
    tech = _api(
        svc,
        "POST",
        "/api/contacts",
        json={"name": "Kỹ thuật", "channels": [{"url": smtp.url("kt@example.org")}]},
    )
    _api(svc, "POST", "/api/routing-rules", json={"contact_id": tech["id"]})
    assert wait_until(lambda: _all_up(svc), 240, 1.0), "fleet never came up"
    assert smtp.count() == 0

    t0 = time.monotonic()
    sim.fault(lone, "auth")
    affected = [cid for cid in sim.fault_hamlet(big, "down") if cid in hamlets[big]]
    assert len(affected) >= 2

    def got(n: int) -> bool:
        return len(smtp.to("kt@example.org")) >= n

    assert wait_until(lambda: got(2), ALERT_S, 0.5), [m.subject for m in smtp.mails]
    took = time.monotonic() - t0
    time.sleep(INTERVAL + 2 * BUDGET)  # nothing more may come: no update, no duplicate
    mails = smtp.to("kt@example.org")
    single = [m for m in mails if lone in m.body]
    group = [m for m in mails if f"{len(affected)} camera" in m.subject]
    assert len(single) == 1 and "sai mật khẩu" in single[0].body, [m.subject for m in mails]
    assert len(group) == 1 and big in group[0].subject and "mất điện hoặc mất mạng" in group[0].body
    assert all(cid in group[0].body for cid in affected)
    assert took < ALERT_S

    # acknowledge the single camera through the link, served by the service itself
    link = re.search(r"(http://127\.0\.0\.1:\d+/ack/\S+)", single[0].body)
    assert link
    assert "<form" in httpx.get(link.group(1), timeout=10).text
    done = httpx.post(link.group(1), data={"by": "Kỹ thuật viên"}, timeout=10)
    assert done.status_code == 200 and "Kỹ thuật viên" in done.text
    incidents = _api(svc, "GET", "/api/incidents", params={"status": "open"})
    assert {i["acknowledged_by"] for i in incidents if any(m["camera_id"] == lone for m in i["members"])} == {
        "Kỹ thuật viên"
    }

    # power back, password fixed: one recovery for the hamlet, one for the camera
    before = len(smtp.to("kt@example.org"))
    sim.fault(lone, "normal")
    for cid in affected:
        sim.fault(cid, "normal")
    assert wait_until(lambda: got(before + 2), INTERVAL + 2 * BUDGET + 60, 0.5), [
        m.subject for m in smtp.mails
    ]
    time.sleep(2)
    new = smtp.to("kt@example.org")[before:]
    assert len(new) == 2 and all("hoạt động lại" in m.subject.lower() for m in new), [m.subject for m in new]
    hist = _api(svc, "GET", f"/api/contacts/{tech['id']}/deliveries")
    assert {h["status"] for h in hist} == {"sent"} and len(hist) == 4
