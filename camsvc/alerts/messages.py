"""Message texts, Vietnamese by default and English per contact: pure rendering (no I/O; ``now`` passed in).

Every message names the camera(s), hamlet, location with a map link to the dashboard
(``{base_url}/?camera=<id>``), the cause in words a technician acts on, since when (local time,
Asia/Ho_Chi_Minh by default), the owner's contact for household cameras, and a signed acknowledge link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import quote
from zoneinfo import ZoneInfo

from camsvc.alerts.grouping import likely_shared_cause

MAX_LINES = 40  # cameras listed in one message; the rest are counted

# cause code -> (Vietnamese, English). Codes: camsvc.probing.result.ErrorClass and picture faults.
CAUSES: dict[str, tuple[str, str]] = {
    "refused": (
        "camera từ chối kết nối (camera tắt, mất điện hoặc cổng bị đóng)",
        "connection refused (camera off, no power, or port closed)",
    ),
    "timeout": ("không có phản hồi từ địa chỉ của camera", "no answer from the camera's address"),
    "auth": ("sai mật khẩu", "wrong password"),
    "not_found": ("sai đường dẫn luồng video hoặc kênh", "wrong stream path or channel"),
    "no_video": ("kết nối được nhưng không có hình", "connected, but the stream has no video"),
    "stalled": ("hình bị dừng giữa chừng", "video started, then stopped"),
    "ended": ("camera tự ngắt luồng video", "the camera ended the stream"),
    "decode_error": ("hình bị hỏng, không giải mã được", "video arrives but cannot be decoded"),
    "invalid_url": ("địa chỉ camera trong danh sách bị sai", "the camera's address in the registry is wrong"),
    "covered": ("ống kính bị che", "picture covered"),
    "partly_covered": ("ống kính bị che một phần", "picture partly covered"),
    "partially_covered": ("ống kính bị che một phần", "picture partly covered"),
    "black": ("hình đen", "black picture"),
    "dark": ("hình quá tối", "picture too dark"),
    "too_dark": ("hình quá tối", "picture too dark"),
    "bright": ("hình quá sáng, bị chói", "picture washed out (too bright)"),
    "overexposed": ("hình quá sáng, bị chói", "picture washed out (too bright)"),
    "frozen": ("hình bị đứng, không thay đổi", "picture frozen"),
    "not_recording": ("hình vẫn xem được nhưng không được ghi lại", "live picture fine but not recording"),
    "blurred": ("hình bị mờ (mất nét hoặc ống kính bẩn)", "picture blurred (out of focus or dirty lens)"),
    "blur": ("hình bị mờ (mất nét hoặc ống kính bẩn)", "picture blurred (out of focus or dirty lens)"),
    "blurry": ("hình bị mờ (mất nét hoặc ống kính bẩn)", "picture blurred (out of focus or dirty lens)"),
    "noisy": ("hình bị nhiễu", "picture noisy (snow)"),
    "noise": ("hình bị nhiễu", "picture noisy (snow)"),
    "snow": ("hình bị nhiễu", "picture noisy (snow)"),
    "turned": ("camera bị xoay lệch khỏi góc nhìn", "camera turned away from its view"),
    "moved": ("camera bị xoay lệch khỏi góc nhìn", "camera turned away from its view"),
    "shifted": ("camera bị xoay lệch khỏi góc nhìn", "camera turned away from its view"),
    "rotated": ("camera bị xoay lệch khỏi góc nhìn", "camera turned away from its view"),
    "view_changed": ("camera bị xoay lệch khỏi góc nhìn", "camera turned away from its view"),
    "low_fps": ("quá ít khung hình mỗi giây", "too few frames per second"),
    "greyscale": ("hình mất màu", "picture has lost its colour"),
    "colour_cast": ("màu hình bị lệch", "wrong colours (colour cast)"),
    "resolution_changed": ("độ phân giải thay đổi so với bình thường", "resolution changed from usual"),
    "low_resolution": ("độ phân giải thấp hơn bình thường", "lower resolution than usual"),
    "unknown": ("không rõ nguyên nhân", "cause unknown"),
}

_T: dict[str, tuple[str, str]] = {
    "down": ("mất tín hiệu", "down"),
    "degraded": ("hình ảnh có vấn đề", "picture problem"),
    "DOWN": ("MẤT TÍN HIỆU", "DOWN"),
    "DEGRADED": ("HÌNH ẢNH CÓ VẤN ĐỀ", "PICTURE PROBLEM"),
    "trouble": ("gặp sự cố", "in trouble"),
    "since": ("từ", "since"),
    "cause": ("Nguyên nhân", "Cause"),
    "hamlet": ("Xóm", "Hamlet"),
    "in_hamlet": ("ở xóm", "in"),
    "location": ("Vị trí", "Location"),
    "map": ("Bản đồ", "Map"),
    "owner": ("Chủ camera", "Owner"),
    "detail": ("Chi tiết kỹ thuật", "Technical detail"),
    "ack": ("Xác nhận đã nhận xử lý", "Acknowledge (stops reminders)"),
    "acked": ("Đã được {by} xác nhận lúc {at}.", "Acknowledged by {by} at {at}."),
    "likely": ("có thể do mất điện hoặc mất mạng", "likely power or network"),
    "likely_up": (
        "có thể do thiết bị dùng chung {up} mất điện hoặc mất mạng",
        "likely power or network at the shared {up}",
    ),
    "behind": ("dùng chung {up}", "behind {up}"),
    "list": ("Danh sách", "Cameras"),
    "more": ("... và {n} camera khác", "... and {n} more"),
    "RECOVERED": ("ĐÃ HOẠT ĐỘNG LẠI", "BACK UP"),
    "recovered_one": (
        "Camera {cam} đã hoạt động lại lúc {at}. Thời gian gián đoạn: {dur} (từ {since}).",
        "Camera {cam} is back up at {at}. Outage lasted {dur} (since {since}).",
    ),
    "recovered_group": (
        "{n} camera {where} đã hoạt động lại. Thời gian gián đoạn: {dur} (từ {since} đến {at}).",
        "{n} cameras {where} are back up. Outage lasted {dur} (from {since} to {at}).",
    ),
    "line_recovered": ("hoạt động lại lúc {at}, gián đoạn {dur}", "back at {at} after {dur}"),
    "line_maintenance": ("chuyển sang bảo trì lúc {at}", "put under maintenance at {at}"),
    "line_changed": (
        "chuyển sang trạng thái {state} lúc {at}, xem cảnh báo mới",
        "now {state} since {at}, see the new alert",
    ),
    "line_removed": ("ngừng theo dõi lúc {at}", "no longer monitored since {at}"),
    "REMINDER": ("NHẮC LẠI", "REMINDER"),
    "reminder_lead": (
        "Vẫn chưa khắc phục sau {dur}, chưa ai xác nhận.",
        "Still not fixed after {dur}, and nobody has acknowledged.",
    ),
    "ESCALATION": ("CHUYỂN CẤP", "ESCALATION"),
    "escalation_lead": (
        "Chưa ai xác nhận sau {dur}: bạn nhận tin này vì sự cố chưa được xử lý.",
        "Nobody acknowledged within {dur}: you receive this because it is still unhandled.",
    ),
    "MORE": ("THÊM", "MORE"),
    "total": ("tổng {n}", "{n} in all"),
    "update_lead": (
        "Thêm {n} camera {where} {what} (tổng cộng {total} camera đang gặp sự cố).",
        "{n} more cameras {where} {what} ({total} cameras in trouble in all).",
    ),
    "still_open": ("Vẫn còn {n} camera chưa hoạt động lại.", "{n} cameras are still not back."),
    "thumb": ("Ảnh chụp gần nhất đính kèm.", "Latest picture attached."),
}

_STATE_WORD: dict[str, tuple[str, str]] = {
    "up": ("hoạt động", "up"),
    "down": ("mất tín hiệu", "down"),
    "degraded": ("hình ảnh có vấn đề", "picture problem"),
    "maintenance": ("bảo trì", "maintenance"),
    "unknown": ("chưa rõ", "unknown"),
}


def _i(lang: str) -> int:
    return 1 if lang == "en" else 0


def t(key: str, lang: str, **kw: object) -> str:
    text = _T[key][_i(lang)]
    return text.format(**kw) if kw else text


def cause_text(cause: str | None, lang: str) -> str:
    """Words a technician understands for an error class or picture fault code."""
    if not cause:
        return CAUSES["unknown"][_i(lang)]
    pair = CAUSES.get(cause.strip().lower())
    return pair[_i(lang)] if pair else cause.replace("_", " ")


def state_word(state: str, lang: str) -> str:
    pair = _STATE_WORD.get(state)
    return pair[_i(lang)] if pair else state


def fmt_time(t_utc: dt.datetime, tz: str, lang: str, *, full: bool = True) -> str:
    """'21:04 22/11/2026' (full) or '21:04' in local time."""
    local = t_utc.astimezone(ZoneInfo(tz))
    if not full:
        return local.strftime("%H:%M")
    return local.strftime("%H:%M %d/%m/%Y")


def fmt_duration(seconds: float, lang: str) -> str:
    """'2 giờ 5 phút' / '2 h 5 min'; seconds only under a minute."""
    s = max(0, int(round(seconds)))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    units = ("ngày", "giờ", "phút", "giây") if lang != "en" else ("d", "h", "min", "s")
    parts: list[str] = []
    if d:
        parts.append(f"{d} {units[0]}")
    if h:
        parts.append(f"{h} {units[1]}")
    if m and not d:
        parts.append(f"{m} {units[2]}")
    if not parts:
        parts.append(f"{sec} {units[3]}")
    return " ".join(parts)


def map_link(base_url: str, camera_id: str) -> str:
    return f"{base_url.rstrip('/')}/?camera={quote(camera_id, safe='')}"


@dataclass(frozen=True)
class CameraLine:
    """One camera in a message."""

    camera_id: str
    name: str
    hamlet: str = ""
    address: str = ""
    kind: str = "roadside"
    latitude: float | None = None
    longitude: float | None = None
    owner_name: str = ""
    owner_phone: str = ""
    state: str = "down"
    cause: str | None = None
    detail: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    end_reason: str | None = None
    end_state: str | None = None


@dataclass(frozen=True)
class MessageContext:
    kind: str  # alert | update | reminder | escalation | recovery
    lang: str
    tz: str
    base_url: str
    now: dt.datetime
    group_key: str
    hamlet: str = ""
    upstream: str = ""
    cameras: tuple[CameraLine, ...] = ()
    total_open: int = 0  # cameras of the incident still failing (update, reminder, recovery)
    ack_url: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    waited_s: float = 0.0  # escalation: time without acknowledgement
    has_thumbnail: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


PREFIX = "[Camera]"


def _name(c: CameraLine) -> str:
    return f"{c.name} ({c.camera_id})" if c.name and c.name != c.camera_id else c.camera_id


def _where(ctx: MessageContext) -> str:
    lang = ctx.lang
    if ctx.upstream:
        w = t("behind", lang, up=ctx.upstream)
        hamlets = sorted({c.hamlet for c in ctx.cameras if c.hamlet}) or ([ctx.hamlet] if ctx.hamlet else [])
        if hamlets:
            w += f" ({'xóm ' if lang != 'en' else ''}{', '.join(hamlets)})"
        return w
    if ctx.hamlet:
        return f"{t('in_hamlet', lang)} {ctx.hamlet}"
    return ""


def _since(cams: tuple[CameraLine, ...], now: dt.datetime) -> dt.datetime:
    return min((c.started_at for c in cams if c.started_at), default=now)


def _what(cams: tuple[CameraLine, ...], lang: str) -> str:
    states = {c.state for c in cams}
    if states == {"down"}:
        return t("down", lang)
    if states == {"degraded"}:
        return t("degraded", lang)
    return t("trouble", lang)


def _camera_block(c: CameraLine, ctx: MessageContext) -> list[str]:
    lang = ctx.lang
    lines = [f"{t('cause', lang)}: {cause_text(c.cause, lang)}"]
    if c.hamlet:
        lines.append(f"{t('hamlet', lang)}: {c.hamlet}")
    loc = c.address
    if c.latitude is not None and c.longitude is not None:
        loc = (
            f"{loc} ({c.latitude:.5f}, {c.longitude:.5f})" if loc else f"{c.latitude:.5f}, {c.longitude:.5f}"
        )
    if loc:
        lines.append(f"{t('location', lang)}: {loc}")
    lines.append(f"{t('map', lang)}: {map_link(ctx.base_url, c.camera_id)}")
    if c.kind == "household" and (c.owner_name or c.owner_phone):
        lines.append(f"{t('owner', lang)}: {' - '.join(x for x in (c.owner_name, c.owner_phone) if x)}")
    if c.detail:
        lines.append(f"{t('detail', lang)}: {c.detail[:300]}")
    return lines


def _camera_line(c: CameraLine, ctx: MessageContext) -> str:
    lang = ctx.lang
    parts = [f"- {_name(c)}: {cause_text(c.cause, lang)}"]
    if c.address:
        parts.append(c.address)
    if c.kind == "household" and (c.owner_name or c.owner_phone):
        parts.append(f"{t('owner', lang).lower()} {' '.join(x for x in (c.owner_name, c.owner_phone) if x)}")
    parts.append(map_link(ctx.base_url, c.camera_id))
    return " - ".join(parts)


def _list(cams: tuple[CameraLine, ...], ctx: MessageContext, line: object = None) -> list[str]:
    fn = line if callable(line) else _camera_line
    out = [f"{t('list', ctx.lang)}:"]
    out += [fn(c, ctx) for c in cams[:MAX_LINES]]
    if len(cams) > MAX_LINES:
        out.append(t("more", ctx.lang, n=len(cams) - MAX_LINES))
    return out


def _headline(ctx: MessageContext) -> tuple[str, str]:
    """(subject tail, first body line) describing the failing cameras of an alert-like message."""
    lang, cams = ctx.lang, ctx.cameras
    since = _since(cams, ctx.now)
    if len(cams) == 1:
        c = cams[0]
        where = f" - {t('hamlet', lang).lower()} {c.hamlet}" if c.hamlet else ""
        subj = f"{t(c.state.upper(), lang) if c.state in ('down', 'degraded') else c.state}: {c.name or c.camera_id}{where}"
        first = (
            f"Camera {_name(c)} {t(c.state, lang) if c.state in ('down', 'degraded') else c.state} "
            f"{t('since', lang)} {fmt_time(since, ctx.tz, lang)}."
        )
        return subj, first
    where = _where(ctx)
    what = _what(cams, lang)
    n = len(cams)
    subj = f"{n} camera {where} {what} {t('since', lang)} {fmt_time(since, ctx.tz, lang, full=False)}"
    if lang == "en":
        subj = f"{n} cameras {where} {what} {t('since', lang)} {fmt_time(since, ctx.tz, lang, full=False)}"
    first = f"{subj.rstrip()} ({fmt_time(since, ctx.tz, lang)})"
    if likely_shared_cause(ctx.group_key, [c.state for c in cams]):
        first += ", " + (t("likely_up", lang, up=ctx.upstream) if ctx.upstream else t("likely", lang))
    return " ".join(subj.split()), " ".join(first.split()) + "."


def _footer(ctx: MessageContext) -> list[str]:
    out: list[str] = []
    if ctx.has_thumbnail:
        out.append(t("thumb", ctx.lang))
    if ctx.acknowledged_by and ctx.acknowledged_at:
        out.append(
            t("acked", ctx.lang, by=ctx.acknowledged_by, at=fmt_time(ctx.acknowledged_at, ctx.tz, ctx.lang))
        )
    elif ctx.ack_url:
        out.append(f"{t('ack', ctx.lang)}: {ctx.ack_url}")
    return out


def _alert_body(ctx: MessageContext) -> tuple[str, list[str]]:
    subj, first = _headline(ctx)
    body = [first]
    if len(ctx.cameras) == 1:
        body += _camera_block(ctx.cameras[0], ctx)
    else:
        body += _list(ctx.cameras, ctx)
    return subj, body


def render(ctx: MessageContext) -> Rendered:
    """The subject and plain-text body of one message."""
    if not ctx.cameras:
        raise ValueError("a message needs at least one camera")
    lang = ctx.lang
    if ctx.kind == "recovery":
        return _render_recovery(ctx)
    if ctx.kind == "update":
        where, what = _where(ctx), _what(ctx.cameras, lang)
        n = len(ctx.cameras)
        subj = f"{t('MORE', lang)} {n} camera {where} {what} ({t('total', lang, n=ctx.total_open)})"
        lead = t("update_lead", lang, n=n, where=where, what=what, total=ctx.total_open)
        body = [" ".join(lead.split())]
        if n == 1:
            body += [f"Camera: {_name(ctx.cameras[0])}", *_camera_block(ctx.cameras[0], ctx)]
        else:
            body += _list(ctx.cameras, ctx)
        return Rendered(f"{PREFIX} {' '.join(subj.split())}", "\n".join(body + [""] + _footer(ctx)))
    subj, body = _alert_body(ctx)
    if ctx.kind == "reminder":
        dur = fmt_duration((ctx.now - _since(ctx.cameras, ctx.now)).total_seconds(), lang)
        subj = f"{t('REMINDER', lang)}: {subj}"
        body = [t("reminder_lead", lang, dur=dur), *body]
    elif ctx.kind == "escalation":
        subj = f"{t('ESCALATION', lang)}: {subj}"
        body = [t("escalation_lead", lang, dur=fmt_duration(ctx.waited_s, lang)), *body]
    elif ctx.kind != "alert":
        raise ValueError(f"unknown message kind {ctx.kind!r}")
    return Rendered(f"{PREFIX} {subj}", "\n".join(body + [""] + _footer(ctx)))


def _end_what(c: CameraLine, ctx: MessageContext) -> str:
    lang = ctx.lang
    at = fmt_time(c.ended_at or ctx.now, ctx.tz, lang, full=False)
    if c.end_reason == "maintenance":
        what = t("line_maintenance", lang, at=at)
    elif c.end_reason == "changed":
        what = t("line_changed", lang, state=state_word(c.end_state or "", lang), at=at)
    elif c.end_reason == "removed":
        what = t("line_removed", lang, at=at)
    else:
        dur = fmt_duration(((c.ended_at or ctx.now) - (c.started_at or ctx.now)).total_seconds(), lang)
        what = t("line_recovered", lang, at=at, dur=dur)
    return what


def _end_line(c: CameraLine, ctx: MessageContext) -> str:
    return f"- {_name(c)}: {_end_what(c, ctx)}"


def _render_recovery(ctx: MessageContext) -> Rendered:
    lang, cams = ctx.lang, ctx.cameras
    since = _since(cams, ctx.now)
    end = max((c.ended_at for c in cams if c.ended_at), default=ctx.now)
    dur = fmt_duration((end - since).total_seconds(), lang)
    if len(cams) == 1:
        c = cams[0]
        where = f" - {t('hamlet', lang).lower()} {c.hamlet}" if c.hamlet else ""
        if c.end_reason in (None, "recovered"):
            subj = f"{t('RECOVERED', lang)}: {c.name or c.camera_id}{where} ({dur})"
            first = t(
                "recovered_one",
                lang,
                cam=_name(c),
                at=fmt_time(end, ctx.tz, lang),
                dur=dur,
                since=fmt_time(since, ctx.tz, lang),
            )
        else:
            subj = f"{c.name or c.camera_id}{where}: {_end_what(c, ctx)}"
            first = f"Camera {_name(c)}: {_end_what(c, ctx)}."
        body = [first, f"{t('map', lang)}: {map_link(ctx.base_url, c.camera_id)}"]
    else:
        where = _where(ctx)
        n = len(cams)
        if lang == "en":
            subj = f"{n} cameras {where} {t('RECOVERED', lang).lower()} ({dur})"
        else:
            subj = f"{n} camera {where} {t('RECOVERED', lang).lower()} ({dur})"
        first = t(
            "recovered_group",
            lang,
            n=n,
            where=where,
            dur=dur,
            since=fmt_time(since, ctx.tz, lang),
            at=fmt_time(end, ctx.tz, lang),
        )
        body = [" ".join(first.split()), *_list(cams, ctx, _end_line)]
    if ctx.total_open:
        body.append(t("still_open", lang, n=ctx.total_open))
    if ctx.acknowledged_by and ctx.acknowledged_at:
        body.append(t("acked", lang, by=ctx.acknowledged_by, at=fmt_time(ctx.acknowledged_at, ctx.tz, lang)))
    return Rendered(f"{PREFIX} {' '.join(subj.split())}", "\n".join(body))
