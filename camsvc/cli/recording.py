"""``camsvc recording``: recorder status, the segment index and storage."""

from __future__ import annotations

import datetime as dt

import click
from sqlmodel import Session, select

from camsvc.cli import common


@click.group()
def recording() -> None:
    """Recorders, segments and storage."""


def _mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f}"


@recording.command("status")
@click.option("--camera", "camera_id", default=None, help="Only this camera (its last 24 h, with gaps)")
def status_cmd(camera_id: str | None) -> None:
    """Each recorded camera's recorder, MB/hour and days kept, and the disk's free space and floor."""
    from camsvc.models import Camera
    from camsvc.recording.models import RecorderStatus
    from camsvc.recording.report import camera_timeline, storage
    from camsvc.timefmt import local

    config = common.settings()
    tz = config.timezone

    def when(v: str | None) -> str:
        if not v:
            return "-"
        return f"{local(dt.datetime.fromisoformat(v.replace('Z', '+00:00')), tz):%Y-%m-%d %H:%M:%S}"

    with common.database(config) as engine, Session(engine) as s:
        if camera_id:
            cam = s.get(Camera, camera_id)
            if cam is None or cam.deleted_at is not None:
                raise click.ClickException(f"no camera {camera_id!r}")
            now = dt.datetime.now(dt.UTC)
            t = camera_timeline(s, config, cam, now - dt.timedelta(hours=24), now)
            st = t["status"]
            click.echo(f"{cam.id} ({cam.name}): mode {t['mode']}, stream {t['stream']}")
            click.echo(
                f"  recorder: {'running' if st['running'] else 'stopped'} since {when(st['since'])}, "
                f"last segment ends {when(st['last_segment_end'])}, {st['restarts']} restarts"
            )
            if st["last_error"]:
                click.echo(f"  last error: {st['last_error']}")
            click.echo(
                f"  kept {_mb(t['bytes'])} MB, {t['mb_per_hour'] or '-'} MB/hour, {t['days_kept'] or '-'} days"
            )
            click.echo(f"  last 24 h: {len(t['segments'])} runs, {len(t['gaps'])} gaps")
            for g in t["gaps"]:
                click.echo(f"    gap {when(g['start'])} .. {when(g['end'])}")
            for h in t["held"]:
                click.echo(f"    held by case {h['case_id']}: {when(h['start'])} .. {when(h['end'])}")
            return
        rep = storage(s, config)
        statuses = {x.camera_id: x for x in s.exec(select(RecorderStatus))}
        click.echo(
            f"{rep['dir']}: {rep['free_bytes'] / 1e9:.1f} GB free of {rep['total_bytes'] / 1e9:.1f} GB, "
            f"floor {rep['floor_bytes'] / 1e9:.1f} GB ({'kept' if rep['floor_ok'] else 'NOT KEPT'}), "
            f"{rep['used_bytes'] / 1e9:.2f} GB of recordings, {rep['write_errors']} cameras failing writes"
        )
        by_cam = {c["camera_id"]: c for c in rep["cameras"]}
        for cid in sorted(set(by_cam) | set(statuses)):
            c, st = by_cam.get(cid, {}), statuses.get(cid)
            state = "-" if st is None else ("running" if st.running else "stopped")
            click.echo(
                f"  {cid:<16} {state:<8} {_mb(c.get('bytes')):>9} MB  {c.get('mb_per_hour') or '-':>7} MB/h  "
                f"{c.get('days_kept') or '-':>7} days  restarts {st.restarts if st else 0}"
                + (f"  error: {st.last_error}" if st and st.last_error else "")
            )


@recording.command("cleanup")
def cleanup_cmd() -> None:
    """One retention and free-space pass now; prints what it deleted (never a segment held by a case)."""
    from camsvc.recording.retention import cleanup_pass

    config = common.settings()
    with common.database(config) as engine:
        r = cleanup_pass(config, engine)
    for p in r.deleted:
        click.echo(f"deleted {p}")
    click.echo(
        f"{len(r.deleted)} segments deleted ({r.by_retention} past retention, {r.by_pressure} for the "
        f"free-space floor), {r.freed_bytes / 1e6:.1f} MB freed; free {r.free_bytes / 1e9:.1f} GB, "
        f"floor {r.floor_bytes / 1e9:.1f} GB{' NOT KEPT: only held segments are left' if r.floor_unmet else ''}"
    )
    for e in r.errors:
        click.echo(f"error: {e}", err=True)
