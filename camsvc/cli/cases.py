"""``camsvc cases``: create a case, add clips, export its signed package, list, close, release.

Run on the service's machine (the data directory holds the recordings and the signing key). Clips are
materialised in the foreground here (a device fetch takes the range's length in real time). Times are ISO
(``2026-12-01T14:10:00Z``) or local Asia/Ho_Chi_Minh (``2026-12-01 21:10``). Every change is written to the
audit trail as ``cli:<operating-system user>``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlmodel import Session

from camsvc import timefmt
from camsvc.auth import audit
from camsvc.cases import clips as clipmod
from camsvc.cases import jobs, service, signing
from camsvc.cases.models import CaseClip
from camsvc.cases.service import CaseConflict, CaseInputError
from camsvc.cli import common
from camsvc.cli.users import actor
from camsvc.errors import NotFound
from camsvc.models import utcnow

ERRORS = (CaseInputError, CaseConflict, NotFound)


def parse_cli_time(text: str, name: str) -> dt.datetime:
    """ISO with Z/offset is taken as given; a time without a zone is local (Asia/Ho_Chi_Minh)."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"not a time: {text!r} (e.g. 2026-12-01 21:10 local, or 2026-12-01T14:10Z)", param_hint=name
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(timefmt.DEFAULT_TZ))
    return t.astimezone(dt.UTC)


def _log(s: Session, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    audit.append(s, utcnow(), actor(), "local", action, target, details)


@click.group()
def cases() -> None:
    """Cases and their evidence packages."""


@cases.command("create")
@click.argument("number")
@click.option("--title", default="", help="What the case is about")
@click.option("--reason", default="", help="Why footage is pulled (shown in the manifest)")
def create(number: str, title: str, reason: str) -> None:
    """Open a case (NUMBER e.g. 2026/117)."""
    with common.fail_on(*ERRORS), common.session() as s:
        case = service.create_case(s, number=number, title=title, reason=reason, user=actor())
        _log(s, "case.create", f"case:{case.id}", {"number": case.number})
        click.echo(f"case {case.id}: {case.number}")


@cases.command("add")
@click.argument("case_id", type=int)
@click.option("--camera", "cameras", multiple=True, help="Camera id (repeat)")
@click.option("--near", help="LAT,LON,RADIUS_M: every camera within the radius")
@click.option("--start", required=True, help="ISO time, or local '2026-12-01 21:10'")
@click.option("--end", required=True, help="ISO time, or local '2026-12-01 21:40'")
def add(case_id: int, cameras: tuple[str, ...], near: str | None, start: str, end: str) -> None:
    """Add clips (one per camera) and materialise them now."""
    near_d = None
    if near:
        try:
            lat, lon, radius = (float(x) for x in near.split(","))
        except ValueError:
            raise click.BadParameter(
                "LAT,LON,RADIUS_M, e.g. 21.0123,105.8012,300", param_hint="--near"
            ) from None
        near_d = {"lat": lat, "lon": lon, "radius_m": radius}
    config = common.settings()
    with common.fail_on(*ERRORS), common.database(config) as engine:
        with Session(engine, expire_on_commit=False) as s:
            case = service.get_case(s, case_id)
            added = service.add_clips(
                s,
                config,
                case,
                start=parse_cli_time(start, "--start"),
                end=parse_cli_time(end, "--end"),
                user=actor(),
                camera_ids=list(cameras) or None,
                near=near_d,
            )
            _log(s, "case.clips", f"case:{case_id}", {"clips": [c.id for c in added]})
            s.commit()
            ids = [(int(c.id or 0), c.camera_id) for c in added]
        for cid, cam in ids:
            click.echo(f"clip {cid} ({cam}): materialising ...")
            clipmod.materialise(engine, config, cid)
            with Session(engine) as s:
                clip = s.get(CaseClip, cid)
                assert clip is not None
                click.echo(
                    f"clip {cid} ({cam}): {clip.status} {clip.source}"
                    + (f", {clip.size} bytes" if clip.size else "")
                    + (f": {clip.detail}" if clip.detail else "")
                )


@cases.command("export")
@click.argument("case_id", type=int)
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the package"
)
def export(case_id: int, out: str) -> None:
    """Build, sign and write the case's evidence package (FILE.zip)."""
    config = common.settings()
    with common.fail_on(*ERRORS), common.database(config) as engine:
        with Session(engine, expire_on_commit=False) as s:
            case = service.get_case(s, case_id)
            job = service.new_export(s, case, actor())
            _log(s, "case.export", f"case:{case_id} export:{job.id}", {"number": case.number, "out": out})
            s.commit()
            job_id = int(job.id or 0)
        t0 = time.monotonic()
        done = jobs.run_export(engine, config, job_id)
        took = time.monotonic() - t0
        if done.status != "done" or not done.path:
            raise click.ClickException(f"export {job_id} failed: {done.error}")
        shutil.copyfile(config.cases_dir / done.path, out)
        key = signing.load_or_create(config.signing_key_path)
        click.echo(f"wrote {out}: {done.size} bytes, sha256 {done.sha256} ({took:.2f} s)")
        click.echo(f"signing key fingerprint: {signing.grouped(key.fingerprint)}")


@cases.command("list")
def list_() -> None:
    """Cases, newest first."""
    with common.session() as s:
        for c in service.list_cases(s):
            created = timefmt.local_str(timefmt.parse_utc(c["created_at"]))
            held = "held" if c["held"] else "released"
            click.echo(
                f"{c['id']:>4}  {c['number']:<16} {c['status']:<7} {held:<9} {c['clips']:>3} clips  "
                f"{created}  {c['created_by']}  {c['title']}"
            )


@cases.command("show")
@click.argument("case_id", type=int)
def show(case_id: int) -> None:
    """A case's clips and exports."""
    with common.fail_on(*ERRORS), common.session() as s:
        d = service.case_detail(s, service.get_case(s, case_id))
    click.echo(
        f"case {d['id']} {d['number']} ({d['status']}, {'held' if d['held'] else 'released'}): {d['title']}"
    )
    for c in d["clips"]:
        click.echo(
            f"  clip {c['id']} {c['camera_id']} {c['start']} -> {c['end']} {c['source']} {c['status']}"
            + (f": {c['detail']}" if c["detail"] else "")
        )
    for e in d["exports"]:
        click.echo(
            f"  export {e['id']} {e['status']} {e['requested_by']} {e['sha256'] or ''} {e['error'] or ''}"
        )


@cases.command("close")
@click.argument("case_id", type=int)
def close(case_id: int) -> None:
    """Close a case (its hold stays until released)."""
    with common.fail_on(*ERRORS), common.session() as s:
        case = service.close_case(s, service.get_case(s, case_id), actor())
        _log(s, "case.close", f"case:{case_id}", {"number": case.number})
        click.echo(f"case {case.number} closed; its recordings stay held until released")


@cases.command("release")
@click.argument("case_id", type=int)
def release(case_id: int) -> None:
    """Release a closed case's hold: its recordings follow retention again."""
    with common.fail_on(*ERRORS), common.session() as s:
        case = service.release_hold(s, service.get_case(s, case_id), actor())
        _log(s, "case.release", f"case:{case_id}", {"number": case.number})
        click.echo(f"case {case.number}: hold released")


@cases.command("key")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the public key (PEM) to this file")
def key(out: str | None) -> None:
    """The service's public signing key and its fingerprint (give them to whoever verifies packages)."""
    config = common.settings()
    from camsvc import crypto

    crypto.ensure_keyring(config.data_dir)
    k = signing.load_or_create(config.signing_key_path)
    if out:
        Path(out).write_text(k.public_pem, encoding="ascii")
        click.echo(f"wrote {out}")
    else:
        click.echo(k.public_pem, nl=False)
    click.echo(f"fingerprint: {signing.grouped(k.fingerprint)}")
