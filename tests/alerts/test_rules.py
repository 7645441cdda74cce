"""Table tests for the pure parts: maintenance windows, routing, grouping, message texts, signed tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from camsvc.alerts import messages as msgs
from camsvc.alerts.grouping import group_key, likely_shared_cause
from camsvc.alerts.models import RoutingRule
from camsvc.alerts.routing import Subject, hour_ok, route
from camsvc.alerts.signing import make_token, read_token
from camsvc.health.maintenance import WindowCreate, active_for, parse_weekdays
from camsvc.models import MaintenanceWindow

TZ = "Asia/Ho_Chi_Minh"
HCM = dt.timezone(dt.timedelta(hours=7))


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    """A local (UTC+7) wall-clock time as aware UTC."""
    return dt.datetime(y, mo, d, h, mi, tzinfo=HCM).astimezone(dt.UTC)


MON = (2026, 3, 2)  # a Monday
SAT = (2026, 3, 7)
SUN = (2026, 3, 8)


def w(**kw: object) -> MaintenanceWindow:
    base: dict[str, object] = {"id": 1, "starts_at": local(2026, 1, 1, 0)}
    base.update(kw)
    return MaintenanceWindow(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("window", "camera", "hamlet", "at", "active"),
    [
        # one-off, scope camera / hamlet / all
        (w(camera_id="c1", ends_at=local(*MON, 12)), "c1", "A", local(*MON, 11), True),
        (w(camera_id="c1", ends_at=local(*MON, 12)), "c1", "A", local(*MON, 12), False),  # end is exclusive
        (w(camera_id="c1", ends_at=local(*MON, 12)), "c2", "A", local(*MON, 11), False),
        (w(hamlet="A", ends_at=local(*MON, 12)), "c9", "A", local(*MON, 11), True),
        (w(hamlet="A", ends_at=local(*MON, 12)), "c9", "B", local(*MON, 11), False),
        (w(hamlet="A", ends_at=local(*MON, 12)), "c9", "", local(*MON, 11), False),
        (w(ends_at=local(*MON, 12)), "c9", "B", local(*MON, 11), True),  # all cameras
        (w(starts_at=local(*MON, 10)), "c1", "A", local(*MON, 9, 59), False),  # not started
        (w(starts_at=local(*MON, 10)), "c1", "A", local(2030, 1, 1, 0), True),  # open-ended
        # recurring: weekdays and a daily range in local time
        (w(weekdays="0,1,2,3,4", daily_start="08:00", daily_end="10:00"), "c", "A", local(*MON, 8), True),
        (w(weekdays="0,1,2,3,4", daily_start="08:00", daily_end="10:00"), "c", "A", local(*MON, 10), False),
        (w(weekdays="0,1,2,3,4", daily_start="08:00", daily_end="10:00"), "c", "A", local(*SAT, 9), False),
        # past midnight: the part after midnight belongs to the day the range started
        (
            w(weekdays="4", daily_start="22:00", daily_end="06:00"),
            "c",
            "A",
            local(2026, 3, 6, 23),
            True,
        ),  # Fri
        (w(weekdays="4", daily_start="22:00", daily_end="06:00"), "c", "A", local(*SAT, 5, 59), True),
        (w(weekdays="4", daily_start="22:00", daily_end="06:00"), "c", "A", local(*SAT, 22, 30), False),
        (w(weekdays="4", daily_start="22:00", daily_end="06:00"), "c", "A", local(*MON, 3), False),
        # whole days
        (w(weekdays="6"), "c", "A", local(*SUN, 13), True),
        (w(weekdays="6"), "c", "A", local(*SAT, 23, 59), False),
        # recurring inside its own bounds only
        (
            w(daily_start="01:00", daily_end="02:00", ends_at=local(*MON, 0)),
            "c",
            "A",
            local(*MON, 1, 30),
            False,
        ),
    ],
)
def test_active_for(
    window: MaintenanceWindow, camera: str, hamlet: str, at: dt.datetime, active: bool
) -> None:
    assert (active_for([window], camera, hamlet, at, TZ) is not None) is active


def test_active_for_returns_the_oldest_matching_window() -> None:
    a = w(id=7, hamlet="A")
    b = w(id=3, camera_id="c1")
    assert active_for([a, b], "c1", "A", local(*MON, 9), TZ) is b
    assert active_for([], "c1", "A", local(*MON, 9), TZ) is None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("0,1,2", [0, 1, 2]),
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("t2-t6", [0, 1, 2, 3, 4]),
        ("cn", [6]),
        ("sat-mon", [0, 5, 6]),
    ],
)
def test_parse_weekdays(text: str, days: list[int]) -> None:
    assert parse_weekdays(text) == days


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"camera_id": "c1", "hamlet": "A"}, "not both"),
        ({"daily_start": "22:00"}, "go together"),
        ({"daily_start": "25:00", "daily_end": "06:00"}, "HH:MM"),
        ({"weekdays": "funday"}, "unknown weekday"),
        ({"starts_at": local(*MON, 10), "ends_at": local(*MON, 9)}, "after starts_at"),
        ({"daily_start": "06:00", "daily_end": "06:00"}, "equals"),
    ],
)
def test_window_validation_names_the_problem(kw: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        WindowCreate(**kw)  # type: ignore[arg-type]


def rule(**kw: object) -> RoutingRule:
    base: dict[str, object] = {
        "contact_id": 1,
        "hamlets": [],
        "kinds": [],
        "camera_ids": [],
        "states": [],
        "causes": [],
    }
    base.update(kw)
    return RoutingRule(**base)  # type: ignore[arg-type]


S1 = Subject("c1", "A", "roadside", "down", "refused")
S2 = Subject("c2", "B", "household", "degraded", "covered")


@pytest.mark.parametrize(
    ("r", "hour", "expected"),
    [
        (rule(), 10, {1: [0, 1]}),
        (rule(hamlets=["A"]), 10, {1: [0]}),
        (rule(kinds=["household"]), 10, {1: [1]}),
        (rule(camera_ids=["c2"]), 10, {1: [1]}),
        (rule(states=["degraded"]), 10, {1: [1]}),
        (rule(causes=["refused", "timeout"]), 10, {1: [0]}),
        (rule(hour_start=7, hour_end=22), 6, {}),
        (rule(hour_start=22, hour_end=6), 23, {1: [0, 1]}),
        (rule(hour_start=22, hour_end=6), 12, {}),
        (rule(level=1), 10, {}),  # escalation only
        (rule(enabled=False), 10, {}),
    ],
)
def test_route(r: RoutingRule, hour: int, expected: dict[int, list[int]]) -> None:
    assert route([r], [S1, S2], levels={0}, hour=hour) == expected


def test_route_purposes_and_hours_ignored_for_recovery() -> None:
    quiet = rule(hour_start=7, hour_end=22, reminders=False)
    assert route([quiet], [S1], levels={0}, hour=3, purpose="recovery") == {}
    assert route([quiet], [S1], levels={0}, hour=None, purpose="recovery") == {1: [0]}
    assert route([quiet], [S1], levels={0}, hour=10, purpose="reminder") == {}
    assert hour_ok(rule(hour_start=7), 23) and not hour_ok(rule(hour_end=7), 7)


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("c1", "A", "", "down"), "hamlet:A"),
        (("c1", "A", "sw-3", "down"), "upstream:sw-3"),
        (("c1", "A", "sw-3", "degraded"), "camera:c1"),  # a covered lens is never a shared cause
        (("c1", "", "", "down"), "camera:c1"),
    ],
)
def test_group_key(args: tuple[str, str, str, str], key: str) -> None:
    assert group_key(*args).key == key


def test_likely_shared_cause() -> None:
    assert likely_shared_cause("hamlet:A", ["down", "down"])
    assert not likely_shared_cause("hamlet:A", ["down"])
    assert not likely_shared_cause("camera:c1", ["down", "down"])


T = dt.datetime(2026, 3, 2, 14, 4, tzinfo=dt.UTC)  # 21:04 local


def line(i: int, **kw: object) -> msgs.CameraLine:
    base: dict[str, object] = {
        "camera_id": f"bct-{i:03d}",
        "name": f"Cổng {i}",
        "hamlet": "Bắc Chiến Thắng",
        "address": f"{i} đường Chợ",
        "started_at": T,
        "cause": "refused",
    }
    base.update(kw)
    return msgs.CameraLine(**base)  # type: ignore[arg-type]


def ctx(kind: str, cams: list[msgs.CameraLine], lang: str = "vi", **kw: object) -> msgs.MessageContext:
    base: dict[str, object] = {
        "kind": kind,
        "lang": lang,
        "tz": TZ,
        "base_url": "https://cam.dienbich.vn/",
        "now": T + dt.timedelta(minutes=5),
        "group_key": "hamlet:Bắc Chiến Thắng",
        "hamlet": "Bắc Chiến Thắng",
        "cameras": tuple(cams),
        "ack_url": "https://cam.dienbich.vn/ack/1.2.x",
    }
    base.update(kw)
    return msgs.MessageContext(**base)  # type: ignore[arg-type]


def test_grouped_alert_text_vi_and_en() -> None:
    cams = [line(i) for i in range(1, 24)]
    vi = msgs.render(ctx("alert", cams))
    assert vi.subject == "[Camera] 23 camera ở xóm Bắc Chiến Thắng mất tín hiệu từ 21:04"
    assert vi.body.startswith(
        "23 camera ở xóm Bắc Chiến Thắng mất tín hiệu từ 21:04 (21:04 02/03/2026), có thể do mất điện hoặc mất mạng."
    )
    assert "https://cam.dienbich.vn/?camera=bct-023" in vi.body
    assert vi.body.rstrip().endswith("Xác nhận đã nhận xử lý: https://cam.dienbich.vn/ack/1.2.x")
    en = msgs.render(ctx("alert", cams, lang="en"))
    assert en.subject == "[Camera] 23 cameras in Bắc Chiến Thắng down since 21:04"
    assert "likely power or network" in en.body


def test_household_alert_names_owner_and_cause_in_plain_words() -> None:
    cam = line(1, kind="household", owner_name="Ông Bình", owner_phone="0912 345 678", cause="auth")
    en = msgs.render(ctx("alert", [cam], lang="en", has_thumbnail=True))
    assert en.subject == "[Camera] DOWN: Cổng 1 - hamlet Bắc Chiến Thắng"
    assert "Cause: wrong password" in en.body
    assert "Owner: Ông Bình - 0912 345 678" in en.body
    assert "Latest picture attached." in en.body
    covered = msgs.render(ctx("alert", [line(2, state="degraded", cause="covered")], lang="en"))
    assert (
        covered.subject.startswith("[Camera] PICTURE PROBLEM: Cổng 2") and "picture covered" in covered.body
    )


def test_recovery_reminder_escalation_texts() -> None:
    ended = [line(i, ended_at=T + dt.timedelta(hours=2, minutes=5), end_reason="recovered") for i in (1, 2)]
    rec = msgs.render(ctx("recovery", ended, ack_url=None))
    assert rec.subject == "[Camera] 2 camera ở xóm Bắc Chiến Thắng đã hoạt động lại (2 giờ 5 phút)"
    assert "Xác nhận" not in rec.body
    rem = msgs.render(ctx("reminder", [line(1)], now=T + dt.timedelta(hours=4)))
    assert rem.subject.startswith("[Camera] NHẮC LẠI: MẤT TÍN HIỆU: Cổng 1") and "sau 4 giờ" in rem.body
    esc = msgs.render(ctx("escalation", [line(1)], lang="en", waited_s=3600))
    assert esc.subject.startswith("[Camera] ESCALATION: DOWN") and "within 1 h" in esc.body


@pytest.mark.parametrize(
    ("seconds", "vi", "en"),
    [
        (42, "42 giây", "42 s"),
        (125, "2 phút", "2 min"),
        (7500, "2 giờ 5 phút", "2 h 5 min"),
        (90000, "1 ngày 1 giờ", "1 d 1 h"),
    ],
)
def test_durations(seconds: float, vi: str, en: str) -> None:
    assert msgs.fmt_duration(seconds, "vi") == vi and msgs.fmt_duration(seconds, "en") == en


def test_unknown_cause_falls_back_to_its_code() -> None:
    assert msgs.cause_text("lens_fogged", "en") == "lens fogged"
    assert msgs.cause_text(None, "vi") == "không rõ nguyên nhân"


def test_signed_tokens() -> None:
    key = b"k" * 32
    tok = make_token(key, 12, 3)
    assert read_token(key, tok) == (12, 3)
    assert read_token(b"other", tok) is None
    assert read_token(key, tok.replace("12.", "13.", 1)) is None
    assert read_token(key, "nonsense") is None
