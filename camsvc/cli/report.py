"""``camsvc report``: the service report for a period (issue 11), as PDF, CSV or text, from the command line.

``camsvc report --month 2026-11 --pdf out.pdf`` writes the same PDF as the dashboard's "Download PDF";
``--csv FILE`` the CSV; with neither, a text summary is printed. The period is a month in Asia/Ho_Chi_Minh
(``--month``), or ``--start``/``--end`` (local dates, the end day included, or ISO datetimes), by default the
last calendar month. The whole commune unless ``--hamlet``/``--kind``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from camsvc.cli import common


@click.command("report")
@click.option("--month", help="YYYY-MM: a calendar month in Asia/Ho_Chi_Minh (default: last month)")
@click.option("--start", help="Start: local date YYYY-MM-DD or ISO datetime (with --end)")
@click.option("--end", help="End: local date YYYY-MM-DD (included) or ISO datetime (excluded)")
@click.option("--hamlet", help="Only this hamlet")
@click.option("--kind", type=click.Choice(["roadside", "household"]), help="Only this kind of camera")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), help="Write the PDF here")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the CSV here")
@click.option(
    "--lang", type=click.Choice(["vi", "en"]), help="Language of the PDF/CSV/summary (default: settings)"
)
def report(
    month: str | None,
    start: str | None,
    end: str | None,
    hamlet: str | None,
    kind: str | None,
    pdf: Path | None,
    csv_path: Path | None,
    lang: str | None,
) -> None:
    """The service report (availability, outages, repair times) for a month or period."""
    from camsvc.reports import render
    from camsvc.reports.availability import PeriodError, resolve_period
    from camsvc.reports.build import build_report

    config = common.settings()
    tz = config.timezone
    now = dt.datetime.now(dt.UTC)
    try:
        a, b = resolve_period(month, start, end, now, tz)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.param}") from None
    language = lang or (config.default_language if config.default_language in render.LANGUAGES else "vi")
    with common.session(config) as s:
        rep = build_report(s, a, b, now=now, hamlet=hamlet, kind=kind, tz=tz)
    if pdf is not None:
        pdf.write_bytes(render.to_pdf(rep, language))
        click.echo(f"wrote {pdf} ({pdf.stat().st_size:,} bytes)")
    if csv_path is not None:
        csv_path.write_text("\ufeff" + render.to_csv(rep), encoding="utf-8")
        click.echo(f"wrote {csv_path}")
    if pdf is None and csv_path is None:
        click.echo(render.to_text(rep, lang or "en"), nl=False)
