"""``camsvc nodes``: the probe nodes as the database sees them (docs/nodes.md).

``list`` shows each node's state (live, lost, stopped), site, cameras held and load, like the /nodes page;
``forget`` removes the row of a node that is gone for good (a lost or stopped one; a live node is refused),
releasing its leases, and is recorded in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import json

import click
import sqlalchemy as sa
from sqlmodel import col, func, select

from camsvc.cli import common
from camsvc.cli.users import log_change
from camsvc.models import utcnow
from camsvc.nodes.coverage import node_state
from camsvc.nodes.models import CameraLease, ProbeNode
from camsvc.timefmt import local_str


@click.group()
def nodes() -> None:
    """Probe nodes: which node checks which cameras."""


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


@nodes.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per node")
def list_nodes(as_json: bool) -> None:
    """Every node: state, role, site, cameras held, probes per minute, pool saturation, spooled results."""
    settings = common.settings()
    now = utcnow()
    with common.session(settings) as s:
        held = dict(s.exec(select(CameraLease.node, func.count()).group_by(col(CameraLease.node))).all())
        rows = s.exec(select(ProbeNode).order_by(col(ProbeNode.site), col(ProbeNode.name))).all()
        out = []
        for n in rows:
            seen = _aware(n.last_seen) or now
            out.append(
                {
                    "name": n.name,
                    "state": node_state(_aware(n.stopped_at), seen, now, settings.node.dead_after_s),
                    "role": n.role,
                    "site": n.site,
                    "host": n.host,
                    "cameras": int(held.get(n.name, 0)),
                    "probes_per_min": n.probes_per_min,
                    "saturation": n.saturation,
                    "spooled": n.spooled,
                    "last_seen": seen.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                    "seen": local_str(seen, settings.timezone),
                }
            )
    if as_json:
        for o in out:
            o.pop("seen")
            click.echo(json.dumps(o, ensure_ascii=False))
        return
    if not out:
        click.echo("no nodes yet (a node registers when it starts: camsvc serve)")
        return
    click.echo(
        f"{'name':24} {'state':8} {'role':6} {'site':12} {'cameras':>7} {'probes/min':>10} "
        f"{'busy':>5} {'spooled':>7}  last seen ({settings.timezone})"
    )
    for o in out:
        click.echo(
            f"{o['name']:24} {o['state']:8} {o['role']:6} {o['site'] or '-':12} {o['cameras']:>7} "
            f"{o['probes_per_min']:>10.1f} {o['saturation']:>5.0%} {o['spooled']:>7}  {o['seen']}"
        )


@nodes.command("forget")
@click.argument("name")
def forget(name: str) -> None:
    """Remove a lost or stopped node's row and release its leases (a live node is refused)."""
    settings = common.settings()
    now = utcnow()
    with common.session(settings) as s:
        row = s.get(ProbeNode, name)
        if row is None:
            raise click.ClickException(f"no node {name!r} (see: camsvc nodes list)")
        state = node_state(
            _aware(row.stopped_at), _aware(row.last_seen) or now, now, settings.node.dead_after_s
        )
        if state == "live":
            raise click.ClickException(
                f"node {name!r} is live (seen within {settings.node.dead_after_s:.0f} s): stop it first"
            )
        n = s.execute(sa.delete(CameraLease).where(col(CameraLease.node) == name)).rowcount  # type: ignore[attr-defined]
        s.delete(row)
        log_change(s, "node.forget", f"node:{name}", {"state": state, "leases": n})
    click.echo(f"node {name} forgotten ({state}; {n} leases released)")
