"""A :class:`~camsvc.reports.build.Report` as CSV, as the print page (web/templates/report_print.html) and as
PDF (WeasyPrint, from that same page). Vietnamese by default; times in Asia/Ho_Chi_Minh; numbers in the
language's style (``99,52 %`` in Vietnamese, ``99.52%`` in English).

CSV layout (one table, so a spreadsheet filters it): a ``level`` column says what a row is: ``camera``
(one per camera), ``hamlet`` (one per hamlet), ``kind`` (one per kind) and ``total`` (the commune or the
chosen scope). Percentages are fractions with a dot (0.995234), durations in seconds: the numbers, not their
display. Every cell goes through camsvc.csvsafe (no spreadsheet formulas).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import camsvc
from camsvc import csvsafe
from camsvc.reports.availability import Stats
from camsvc.reports.build import Report

LANGUAGES = ("vi", "en")


def web_dir() -> Path:
    d = resources.files(camsvc).joinpath("webui")
    if not isinstance(d, Path) or not (d / "templates" / "report_print.html").is_file():
        raise RuntimeError("web/templates/report_print.html not found in the installed package")
    return d


@lru_cache(maxsize=4)
def translations(lang: str) -> dict[str, str]:
    """Every translation of ``lang`` (the base file and each screen's), merged as the dashboard does."""
    folder = web_dir() / "translations"
    out: dict[str, str] = {}
    for p in [folder / f"{lang}.json", *sorted(folder.glob(f"*.{lang}.json"))]:
        out.update(json.loads(p.read_text(encoding="utf-8")))
    return out


# ---------------------------------------------------------------------------------------------- formatting
class Fmt:
    """Numbers, durations and times for one language, in the commune's zone."""

    def __init__(self, lang: str, tz: str):
        self.lang = lang if lang in LANGUAGES else "vi"
        self.zone = ZoneInfo(tz)
        self.tr = translations(self.lang)

    def t(self, key: str, **kw: Any) -> str:
        s = self.tr.get(key) or translations("vi").get(key) or key
        for k, v in kw.items():
            s = s.replace("{" + k + "}", str(v))
        return s

    def num(self, v: float, digits: int = 0) -> str:
        s = f"{v:,.{digits}f}"
        if self.lang == "vi":
            s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return s

    def pct(self, v: float | None, digits: int = 2) -> str:
        if v is None:
            return "–"
        s = self.num(v * 100, digits)
        return f"{s} %" if self.lang == "vi" else f"{s}%"

    def dur(self, seconds: float | None) -> str:
        """Two units at most, like the dashboard (CS.fmtDuration): '2 giờ 5 phút', '3 ngày 4 giờ'."""
        if seconds is None:
            return "–"
        sec = max(0, int(seconds))
        d, h, m, s = sec // 86400, sec % 86400 // 3600, sec % 3600 // 60, sec % 60
        t = self.t
        if d:
            return " ".join([t("duration.day", n=d)] + ([t("duration.hour", n=h)] if h else []))
        if h:
            return " ".join([t("duration.hour", n=h)] + ([t("duration.minute", n=m)] if m else []))
        if m:
            return t("duration.minute", n=m)
        return t("duration.second", n=s) if s else "0"

    def time(self, t: dt.datetime) -> str:
        return t.astimezone(self.zone).strftime("%H:%M %d/%m/%Y")

    def date(self, t: dt.datetime) -> str:
        return t.astimezone(self.zone).strftime("%d/%m/%Y")

    def cause(self, code: str) -> str:
        return self.t(f"cause.{code}") if f"cause.{code}" in self.tr else code.replace("_", " ")

    def kind(self, code: str) -> str:
        return self.t(f"kind.{code}") if f"kind.{code}" in self.tr else code

    def period(self, r: Report) -> str:
        """'11/2026' for a month, else 'dd/mm/yyyy – dd/mm/yyyy' (last day inclusive when on midnight)."""
        if r.month:
            return f"{r.month[5:]}/{r.month[:4]}"
        last = r.end - dt.timedelta(seconds=1)
        if r.end.astimezone(self.zone).time() == dt.time(0) and r.start.astimezone(
            self.zone
        ).time() == dt.time(0):
            return f"{self.date(r.start)} – {self.date(last)}"
        return f"{self.time(r.start)} – {self.time(r.end)}"


def filename(r: Report, ext: str) -> str:
    """camsvc-report-2026-11.pdf, or camsvc-report-2026-11-01_2026-11-15.csv for a range."""
    if r.month:
        stem = r.month
    else:
        zone = ZoneInfo(r.timezone)
        stem = f"{r.start.astimezone(zone):%Y-%m-%d}_{(r.end - dt.timedelta(seconds=1)).astimezone(zone):%Y-%m-%d}"
    extra = "".join(f"-{x}" for x in (r.hamlet, r.kind) if x)
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in extra)
    return f"camsvc-report-{stem}{safe}.{ext}"


# ---------------------------------------------------------------------------------------------- CSV
CSV_COLUMNS = (
    "level",
    "hamlet",
    "kind",
    "camera_id",
    "camera_name",
    "cameras",
    "availability",
    "good_picture",
    "monitored_s",
    "maintenance_s",
    "downtime_s",
    "picture_fault_s",
    "outages",
    "longest_downtime_s",
    "mttr_s",
    "mtta_s",
    "acknowledged",
    "unacknowledged",
    "top_cause",
    "period_start_utc",
    "period_end_utc",
)


def _csv_values(st: Stats) -> list[Any]:
    d = st.to_dict()
    causes = st.cause_shares()
    return [
        st.cameras,
        d["availability"],
        d["good_picture"],
        d["monitored_s"],
        d["maintenance_s"],
        d["downtime_s"],
        d["picture_fault_s"],
        st.outages,
        d["longest_downtime_s"],
        d["mttr_s"],
        d["mtta_s"],
        st.acknowledged,
        st.unacknowledged,
        causes[0][0] if causes else "",
    ]


def to_csv(r: Report) -> str:
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    period = [r.start.isoformat().replace("+00:00", "Z"), r.end.isoformat().replace("+00:00", "Z")]
    w.writerow(list(CSV_COLUMNS))
    s = r.summary
    for c in s.cameras:
        w.writerow(["camera", c.hamlet, c.kind, c.id, c.name, *_csv_values(c.stats), *period])
    for h, st in s.hamlets.items():
        w.writerow(["hamlet", h, "", "", "", *_csv_values(st), *period])
    for k, st in s.kinds.items():
        w.writerow(["kind", "", k, "", "", *_csv_values(st), *period])
    w.writerow(["total", r.hamlet or "", r.kind or "", "", "", *_csv_values(s.total), *period])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- HTML / PDF
@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(web_dir() / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# WeasyPrint lays out a table row in ~5 ms (1,000 cameras: ~5 s of a 2-core machine) but a line of text in
# ~0.3 ms; above this many cameras the PDF lists them as one line each (every number kept; the CSV is the
# table). Measured side by side: 1,000 rows as a table 4.3 s, as lines 0.33 s.
PDF_TABLE_MAX_CAMERAS = 300


def to_html(
    r: Report, lang: str = "vi", *, for_pdf: bool = False, table_max: int = PDF_TABLE_MAX_CAMERAS
) -> str:
    """The standalone print page (also the PDF's source)."""
    f = Fmt(lang, r.timezone)
    s = r.summary
    total_cause_s = sum(sec for _, sec in s.total.causes.values())
    return str(
        _env()
        .get_template("report_print.html")
        .render(
            r=r,
            s=s,
            f=f,
            t=f.t,
            lang=f.lang,
            for_pdf=for_pdf,
            camera_lines=for_pdf and len(s.cameras) > table_max,
            causes=s.total.cause_shares(),
            total_cause_s=total_cause_s,
            in_progress=r.generated_at < r.end,
        )
    )


def to_pdf(r: Report, lang: str = "vi", *, table_max: int = PDF_TABLE_MAX_CAMERAS) -> bytes:
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    out = weasyprint.HTML(
        string=to_html(r, lang, for_pdf=True, table_max=table_max), base_url=None
    ).write_pdf()
    assert out is not None
    return bytes(out)


def to_text(r: Report, lang: str = "en") -> str:
    """A short summary for the terminal."""
    f = Fmt(lang, r.timezone)
    t = r.summary.total
    lines = [
        f"{f.t('reports.heading')} · {f.period(r)}"
        + (f" · {r.hamlet}" if r.hamlet else "")
        + (f" · {f.kind(r.kind)}" if r.kind else ""),
        f"{r.start.isoformat()} .. {r.end.isoformat()} (UTC)",
        f"{f.t('reports.cameras')}: {t.cameras}",
        f"{f.t('reports.availability')}: {f.pct(t.availability)}",
        f"{f.t('reports.good_picture')}: {f.pct(t.good_picture)}",
        f"{f.t('reports.outages')}: {t.outages}",
        f"{f.t('reports.downtime')}: {f.dur(t.down_s)}",
        f"{f.t('reports.longest')}: {f.dur(t.longest_down_s)}",
        f"{f.t('reports.mttr')}: {f.dur(t.mttr_s)}",
        f"{f.t('reports.mtta')}: {f.dur(t.mtta_s)}",
        f"{f.t('reports.maintenance')}: {f.dur(t.maintenance_s)}",
        "",
        f"{f.t('reports.by_hamlet')}:",
    ]
    for h, st in r.summary.hamlets.items():
        lines.append(f"  {h or '-':<24} {f.pct(st.availability):>9}  {st.outages:>5}  {f.dur(st.down_s)}")
    if r.summary.worst:
        lines += ["", f"{f.t('reports.worst')}:"]
        for c in r.summary.worst:
            lines.append(f"  {c.id:<20} {f.pct(c.stats.availability):>9}  {c.hamlet}")
    lines += ["", f.t("reports.note_maintenance")]
    return "\n".join(lines) + "\n"
