"""Issue 5 on the dashboard: Acknowledge and the delivery history (hidden when the alerts API is absent),
and camera data shown as text, never as markup. A small fleet of its own (this module changes states)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from camsvc.models import CameraStatus, HealthState, Outage
from tests.utils.auth import add_users, headers
from tests.utils.browser import open_dash, wait_js
from tests.web.conftest import NO_TILES, Dash
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser
alerts_models = pytest.importorskip("camsvc.alerts.models")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    from camsvc.app import create_app
    from camsvc.bench.sample import fill
    from camsvc.config import Settings
    from camsvc.db import make_engine, upgrade

    settings = Settings(data_dir=tmp_path_factory.mktemp("small"), tile_url=NO_TILES)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sample = fill(engine, 30, now=now, seed=3, down=0.2, with_pictures=False)
    add_users(engine)
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield Dash(srv.url, engine, sample, settings, now)
    engine.dispose()


def _open_outage(dash: Dash, camera_id: str) -> int:
    with Session(dash.engine) as s:
        st = s.get(CameraStatus, camera_id)
        assert st is not None and st.open_outage_id is not None
        return st.open_outage_id


def test_acknowledge_from_the_details_panel(small: Dash, page_factory: Any) -> None:
    cam = small.sample.ids(HealthState.DOWN)[0]
    page = page_factory()
    open_dash(page, f"{small.url}/?camera={cam}&refresh=1")
    button = page.get_by_role("button", name="Xác nhận đã nhận xử lý")
    button.wait_for()
    button.click()  # one click: the signed-in user acknowledges, no name to type (issue 9)
    wait_js(
        page,
        "document.querySelector('.ack-box') && document.querySelector('.ack-box').innerText.includes('admin')",
    )
    with Session(small.engine) as s:
        o = s.get(Outage, _open_outage(small, cam))
        assert o is not None and o.acknowledged_by == "admin" and o.acknowledged_at
    # the list shows it too, after the next poll (no reload)
    page.locator(".d-close").click()
    wait_js(page, f"camsvc.camera({cam!r}).acknowledged === true", timeout_s=5)
    row = page.locator(f'#cam-list .row[data-id="{cam}"]')
    assert "Đã nhận xử lý" in row.inner_text()


def test_delivery_history_of_an_outage(small: Dash, page_factory: Any) -> None:
    m = alerts_models
    cam = small.sample.ids(HealthState.DOWN)[1]
    outage_id = _open_outage(small, cam)
    now = dt.datetime.now(dt.UTC)
    with Session(small.engine) as s:  # what the dispatcher records when it alerts (issue 5 tables)
        inc = m.Incident(group_key="hamlet:x", hamlet="x", opened_at=now, started_at=now, notify_at=now)
        s.add(inc)
        s.flush()
        s.add(
            m.IncidentMember(
                incident_id=inc.id,
                camera_id=cam,
                outage_id=outage_id,
                state="down",
                started_at=now,
                joined_at=now,
            )
        )
        for n, (status, attempts) in enumerate((("sent", 1), ("failed", 3))):
            msg = m.OutboxMessage(
                dedup_key=f"web-test-{n}",
                incident_id=inc.id,
                contact_name=["Anh Tuấn (kỹ thuật)", "Trực ban CA xã"][n],
                channel_label=["mailto://****@127.0.0.1", "json://127.0.0.1:9/hook"][n],
                kind="alert",
                camera_ids=[cam],
                subject="Camera mất tín hiệu",
                body="...",
                status=status,
                attempts=attempts,
                sent_at=now if status == "sent" else None,
                last_error=None if status == "sent" else "connection refused",
            )
            s.add(msg)
        s.commit()
    page = page_factory()
    open_dash(page, f"{small.url}/?camera={cam}")
    summary = page.locator("#details .deliveries summary").first
    summary.wait_for()
    summary.click()
    table = page.locator("#details .deliveries table").first
    table.wait_for()
    text = table.inner_text()
    assert "Anh Tuấn (kỹ thuật)" in text and "Đã gửi" in text
    assert "Trực ban CA xã" in text and "Gửi lỗi (3)" in text


def test_alert_parts_hidden_when_the_api_is_absent(
    small: Dash, page_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import camsvc.app

    # a service without the alerts router (an older build, or alerts not installed): its paths answer 404
    monkeypatch.setattr(camsvc.app, "ROUTERS", [r for r in camsvc.app.ROUTERS if "alerts" not in r])
    app = camsvc.app.create_app(small.settings, start_runtime=False)
    cam = small.sample.ids(HealthState.DOWN)[2]
    with LiveServer(app) as srv:
        import httpx

        assert (
            httpx.get(f"{srv.url}/api/alerts/status", headers=headers(small.engine), timeout=10).status_code
            == 404
        )
        page = page_factory()
        open_dash(page, f"{srv.url}/?camera={cam}")
        page.locator("#details .outages").wait_for()
        assert page.locator("#details .outage.open").count() == 1  # there is an open outage ...
        assert not page.get_by_role("button", name="Xác nhận đã nhận xử lý").is_visible()  # ... no button
        assert not page.locator("#details .deliveries").first.is_visible()
        assert "404" not in page.locator("#details").inner_text()


def test_camera_data_is_text_never_markup(small: Dash, page_factory: Any) -> None:
    import httpx

    cam = sorted(small.sample.states)[0]
    evil = '<img src=x onerror="window.pwned=1">Cổng <b>UBND</b>'
    r = httpx.patch(
        f"{small.url}/api/cameras/{cam}",
        json={"name": evil, "address": evil},
        headers=headers(small.engine),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    page = page_factory()
    open_dash(page, f"{small.url}/?camera={cam}")
    page.locator("#details-title").wait_for()
    assert page.locator("#details-title").inner_text() == evil
    assert page.locator(f'#cam-list .row[data-id="{cam}"] .row-name').inner_text() == evil
    assert page.evaluate("window.pwned") is None
    assert page.locator("#details img[src='x'], #cam-list img").count() == 0
