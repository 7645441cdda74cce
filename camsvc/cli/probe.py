"""``camsvc probe URL``: check one camera stream now, the way the service checks it.

Exit code 0 when the probe succeeded, 1 when it failed (the error class says why), 2 for bad usage
(an invalid URL included).
"""

from __future__ import annotations

import json
import logging
import sys
from urllib.parse import unquote, urlsplit

import click

from camsvc.cli import common
from camsvc.config import ProbeSettings
from camsvc.probing.result import ErrorClass, ProbeResult, StreamKind

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

HINTS: dict[ErrorClass, str] = {
    ErrorClass.REFUSED: "nothing listens there: camera off, power cut, or wrong port",
    ErrorClass.TIMEOUT: "no answer: no route to the camera, or the camera is hung",
    ErrorClass.AUTH: "the camera refused the username/password",
    ErrorClass.NOT_FOUND: "the camera answers but has no stream at that path/channel",
    ErrorClass.NO_VIDEO: "connected, but there is no video in what the camera sends",
    ErrorClass.STALLED: "the stream is up but frames stopped (or never came)",
    ErrorClass.ENDED: "the camera ended the stream",
    ErrorClass.DECODE_ERROR: "data arrived but could not be decoded as video",
    ErrorClass.INVALID_URL: "fix the URL (rtsp, rtsps, http or https)",
}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def format_summary(r: ProbeResult) -> str:
    """A readable multi-line summary of a probe for a technician."""
    kind = f" ({r.stream_kind.value})" if r.stream_kind else ""
    if r.ok:
        head = f"OK{kind}  {r.url}"
    else:
        err = r.error.value if r.error else "failed"
        head = f"FAILED: {err}{kind}  {r.url}"
    lines = [head]
    if not r.ok and r.detail:
        lines.append(f"  why:        {r.detail}")
    if not r.ok and r.error in HINTS:
        lines.append(f"  hint:       {HINTS[r.error]}")
    yes = {True: "yes", False: "no"}
    lines.append(f"  reachable:  {yes[r.reachable]}    opened: {yes[r.opened]}")
    size = f"{r.width}x{r.height}" if r.width and r.height else "-"
    fps = f"{r.fps:.1f} fps (measured)" if r.fps else "fps -"
    lines.append(f"  frames:     {r.frames_decoded} decoded, {size}, {fps}")
    lines.append(
        f"  timing:     open {_ms(r.open_ms)}, first frame {_ms(r.first_frame_ms)}, total {_ms(r.total_ms)}"
    )
    if r.faults:
        lines.append(f"  picture:    {', '.join(r.faults)}")
    return "\n".join(lines)


@click.command("probe")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (ProbeResult.to_dict()).")
@click.option(
    "--window",
    type=click.FloatRange(min=0, min_open=True, max=60),
    help="Seconds to read frames after the first one (default: probe.window_s).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True, max=120),
    help="Hard upper bound for the whole probe in seconds (default: probe.budget_s).",
)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in StreamKind]),
    help="Stream kind; guessed when omitted (rtsp scheme, else the HTTP Content-Type).",
)
@click.option("--username", help="Camera username (instead of putting it in the URL).")
@click.option(
    "--password",
    envvar="CAMSVC_PROBE_PASSWORD",
    help="Camera password (or set CAMSVC_PROBE_PASSWORD, which keeps it out of the process list).",
)
def probe(
    url: str,
    as_json: bool,
    window: float | None,
    budget: float | None,
    kind: str | None,
    username: str | None,
    password: str | None,
) -> None:
    """Probe one camera stream URL: reachability, frames, size, measured fps, and why it fails."""
    from camsvc.probing.stream import probe as run_probe
    from camsvc.redact import with_credentials

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _probe_settings()
    if window is not None:
        settings = settings.model_copy(update={"window_s": window})
    if username is not None or password is not None:
        try:
            parts = urlsplit(url)
            url_user = unquote(parts.username) if parts.username else None
        except ValueError:
            url_user = None
        url = with_credentials(url, username if username is not None else url_user, password)
    result = run_probe(
        url,
        kind=StreamKind(kind) if kind else None,
        settings=settings,
        keep_frames=True,
        budget_s=budget,
    )
    _judge_picture(result)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_summary(result))
    if result.error == ErrorClass.INVALID_URL:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


def _judge_picture(result: ProbeResult) -> None:
    """Picture metrics and the faults visible without the camera's history (black, snow, covered, colour
    lost...); the service also judges against each camera's learned normal and reference view."""
    if not result.ok or not result.frames:
        return
    import datetime as dt

    from camsvc.picture import judge as picture
    from camsvc.picture import measure as analysis
    from camsvc.timefmt import local

    metrics = analysis.measure(result.frames, result.frame_times)
    hour = local(dt.datetime.now(dt.UTC)).hour  # type: ignore[union-attr]
    faults = picture.judge(
        metrics, baseline=None, reference=None, frame=result.frames[-1], hour=hour,
        fps=result.fps, width=result.width, height=result.height,
    )  # fmt: skip
    result.metrics = metrics.flat()
    result.faults = [f.code for f in faults]
    result.frames = []


def _probe_settings() -> ProbeSettings:
    """An invalid configuration is bad usage here: exit code 2, as documented above."""
    try:
        return common.settings().probe
    except click.ClickException as exc:
        raise click.UsageError(exc.message) from None
