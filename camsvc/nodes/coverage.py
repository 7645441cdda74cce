# SQLModel types table columns as their Python values, which SQLAlchemy's select() overloads reject; the
# queries are checked by tests/nodes/test_coverage.py on SQLite and PostgreSQL.
# mypy: disable-error-code="call-overload, arg-type, operator, misc, attr-defined"
"""The coverage watch: cameras that no live probe node may check turn ``unknown/no_probe_node`` (not down),
and admins hear once per site and episode, and once when the site is covered again.

- A node is *live* when it has not stopped (``stopped_at`` NULL), was seen within ``node.dead_after_s`` and
  its role checks cameras (``all`` or ``probe``). Which live node may check which site is
  :func:`camsvc.nodes.pools.pool_for`; a site with an empty pool is *uncovered*.
- Each pass (:func:`coverage_pass`, every ``node.heartbeat_s`` in the leader: :class:`CoverageWorker`) turns
  the enabled cameras of uncovered sites ``unknown`` with cause ``no_probe_node``: a conditional update on
  ``camera_status.version`` (a check recorded meanwhile wins; the camera is looked at again next pass), a
  ``Transition`` row (the change feed and the audit trail), no outage opened; an open outage is closed at
  that time, as a maintenance window does (what happens next is not known).
- When the site is covered again its cameras stay ``unknown`` until their next check decides.
- No ``probe_node`` row at all (a single-process deployment from before nodes): nothing is done.

The episodes being alerted live in ``AlertKV`` (key ``nodes.coverage``), so a new leader neither repeats an
alert nor forgets a recovery; each message's dedup key names the site and the episode's start.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from camsvc.enums import HealthState
from camsvc.models import Camera, CameraStatus, Outage, Transition
from camsvc.nodes.leases import PROBING_ROLES, live_nodes
from camsvc.nodes.models import CameraLease, ProbeNode
from camsvc.nodes.pools import LiveNode, pool_for, uncovered_sites

log = logging.getLogger(__name__)

CAUSE = "no_probe_node"
STATE_KEY = "nodes.coverage"
BATCH = 500  # cameras turned per statement batch


# ----------------------------------------------------------------------------------------- pure rules
def node_state(
    stopped_at: dt.datetime | None, last_seen: dt.datetime, now: dt.datetime, dead_after_s: float
) -> str:
    """``stopped`` (a clean stop), ``lost`` (not seen within *dead_after_s*) or ``live``."""
    if stopped_at is not None:
        return "stopped"
    return "live" if last_seen > now - dt.timedelta(seconds=dead_after_s) else "lost"


def is_live(
    role: str, stopped_at: dt.datetime | None, last_seen: dt.datetime, now: dt.datetime, dead_after_s: float
) -> bool:
    """A node that counts for coverage: live and of a role that checks cameras."""
    return role in PROBING_ROLES and node_state(stopped_at, last_seen, now, dead_after_s) == "live"


@dataclass(frozen=True)
class Plan:
    uncovered: frozenset[str]
    newly_uncovered: tuple[str, ...]  # alert: no node for this site (an episode starts)
    recovered: tuple[str, ...]  # alert: covered again (the episode ends)
    dropped: tuple[str, ...]  # episodes forgotten without a message (the site has no cameras any more)


def plan(sites: Iterable[str], nodes: Iterable[LiveNode], alerted: Iterable[str]) -> Plan:
    """What one pass must do, from the sites of the enabled cameras, the live nodes and the sites whose
    episode was alerted and not yet answered. Pure: table-tested."""
    sites, nodes, alerted = set(sites), list(nodes), set(alerted)
    uncovered = uncovered_sites(sites, nodes)
    recovered = sorted(s for s in alerted - uncovered if s in sites and pool_for(s, nodes))
    dropped = sorted(alerted - uncovered - set(recovered))
    return Plan(frozenset(uncovered), tuple(sorted(uncovered - alerted)), tuple(recovered), tuple(dropped))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _site_label(site: str, lang: str) -> str:
    if site:
        return site
    return "(không có khu vực)" if lang == "vi" else "(no site)"


def alert_texts(site: str, cameras: int, since: dt.datetime, tz: str) -> tuple[str, str]:
    try:
        zone: dt.tzinfo = ZoneInfo(tz)
    except Exception:
        zone = dt.UTC
    hhmm = since.astimezone(zone).strftime("%H:%M %d/%m")
    vi = (
        f"Khu vực {_site_label(site, 'vi')}: không còn máy kiểm tra (probe node) nào hoạt động từ {hhmm}; "
        f"{cameras} camera không được kiểm tra và hiển thị 'Chưa rõ' (không phải mất tín hiệu)."
    )
    en = (
        f"Site {_site_label(site, 'en')}: no probe node is running since {hhmm}; {cameras} cameras are not "
        "being checked and show as unknown (not down)."
    )
    return vi, en


def recovery_texts(site: str) -> tuple[str, str]:
    vi = f"Khu vực {_site_label(site, 'vi')}: đã có máy kiểm tra hoạt động trở lại; camera được kiểm tra lại."
    en = (
        f"Site {_site_label(site, 'en')}: a probe node is running again; its cameras are being checked again."
    )
    return vi, en


# ----------------------------------------------------------------------------------------- queries
def any_node(session: Session) -> bool:
    """Whether the nodes table has a row at all (an old single-process deployment has none)."""
    return session.exec(select(ProbeNode.name).limit(1)).first() is not None


def cameras_per_site(session: Session) -> dict[str, int]:
    """Enabled, not deleted cameras per site ("": no site)."""
    rows = session.execute(
        sa.select(col(Camera.site), sa.func.count())
        .where(col(Camera.enabled) == True, col(Camera.deleted_at).is_(None))  # noqa: E712
        .group_by(col(Camera.site))
    ).all()
    out: dict[str, int] = {}
    for site, n in rows:
        out[site or ""] = out.get(site or "", 0) + int(n)
    return out


def delayed_cameras(
    session: Session, now: dt.datetime, dead_after_s: float, where: Any = None
) -> dict[str, str]:
    """Cameras whose latest results may not be in the database yet: leased by a node with results queued
    on its disk (``spooled > 0``) or by a node that is lost. ``{camera_id: node name}``; *where* is a
    condition on Camera (the caller's hamlet scope). No nodes table rows: nothing is delayed."""
    cut = now - dt.timedelta(seconds=dead_after_s)
    stmt = (
        sa.select(col(CameraLease.camera_id), col(CameraLease.node))
        .join(ProbeNode, col(ProbeNode.name) == col(CameraLease.node))
        .join(Camera, col(Camera.id) == col(CameraLease.camera_id))
        .where(
            col(Camera.deleted_at).is_(None),
            sa.or_(
                col(ProbeNode.spooled) > 0,
                sa.and_(col(ProbeNode.stopped_at).is_(None), col(ProbeNode.last_seen) <= cut),
            ),
        )
    )
    if where is not None:
        stmt = stmt.where(where)
    return {cid: node for cid, node in session.execute(stmt).all()}


# ----------------------------------------------------------------------------------------- one pass
@dataclass
class PassResult:
    skipped: bool = False  # no probe_node row: an old single-process deployment
    uncovered: set[str] = field(default_factory=set)
    turned: list[str] = field(default_factory=list)  # cameras turned unknown/no_probe_node this pass
    raced: list[str] = field(default_factory=list)  # a check changed them meanwhile: next pass
    alerted: list[str] = field(default_factory=list)  # sites whose "no node" alert was queued
    recovered: list[str] = field(default_factory=list)  # sites whose "covered again" message was queued


def _read_state(session: Session) -> dict[str, str]:
    from camsvc.alerts.models import AlertKV

    row = session.get(AlertKV, STATE_KEY)
    if row is None:
        return {}
    try:
        value = json.loads(row.value)
    except ValueError:
        return {}
    sites = value.get("uncovered") if isinstance(value, dict) else None
    return {str(k): str(v) for k, v in sites.items()} if isinstance(sites, dict) else {}


def _write_state(session: Session, episodes: Mapping[str, str]) -> None:
    from camsvc.alerts.models import AlertKV

    row = session.get(AlertKV, STATE_KEY) or AlertKV(key=STATE_KEY, value="")
    row.value = json.dumps({"uncovered": dict(sorted(episodes.items()))})
    session.add(row)


def _turn_unknown(session: Session, sites: set[str], now: dt.datetime) -> tuple[list[str], list[str]]:
    """Turn the enabled cameras of *sites* unknown/no_probe_node (those not already so). The caller commits."""
    if not sites:
        return [], []
    ids = (
        session.execute(
            sa.select(col(Camera.id))
            .join(CameraStatus, col(CameraStatus.camera_id) == col(Camera.id), isouter=True)
            .where(
                col(Camera.enabled) == True,  # noqa: E712
                col(Camera.deleted_at).is_(None),
                col(Camera.site).in_(sorted(sites)),
                sa.or_(
                    col(CameraStatus.camera_id).is_(None),
                    col(CameraStatus.state) != HealthState.UNKNOWN,
                    col(CameraStatus.cause).is_(None),
                    col(CameraStatus.cause) != CAUSE,
                ),
            )
            .order_by(col(Camera.id))
        )
        .scalars()
        .all()
    )
    site_of = (
        dict(
            session.execute(sa.select(col(Camera.id), col(Camera.site)).where(col(Camera.id).in_(ids))).all()
        )
        if ids
        else {}
    )
    turned: list[str] = []
    raced: list[str] = []
    for cid in ids:
        status = session.get(CameraStatus, cid)
        if status is None:
            status = CameraStatus(camera_id=cid)
            session.add(status)
            session.flush()
        version, old, open_id = status.version, HealthState(status.state), status.open_outage_id
        res = session.execute(
            sa.update(CameraStatus)
            .where(col(CameraStatus.camera_id) == cid, col(CameraStatus.version) == version)
            .values(
                state=HealthState.UNKNOWN,
                since=now,
                cause=CAUSE,
                fail_streak=0,
                ok_streak=0,
                fault_streak=0,
                fault=None,
                first_fail_at=None,
                first_fault_at=None,
                open_outage_id=None,
                version=version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        session.expire(status)
        if res.rowcount != 1:
            raced.append(cid)
            continue
        if open_id is not None:
            outage = session.get(Outage, open_id)
            if outage is not None and outage.ended_at is None:
                outage.ended_at = max(now, outage.started_at)
                session.add(outage)
        site = site_of.get(cid) or ""
        session.add(
            Transition(
                camera_id=cid,
                at=now,
                old_state=old,
                new_state=HealthState.UNKNOWN,
                cause=CAUSE,
                detail=f"no live probe node for site {site!r}"[:1000],
                outage_id=open_id,
            )
        )
        turned.append(cid)
    return turned, raced


def coverage_pass(
    engine: Engine, settings: Any, now: dt.datetime, watching: dict[str, dt.datetime] | None = None
) -> PassResult:
    """One pass of the coverage watch at time *now* (see the module's docstring).

    *watching* (the worker's memory: site -> when this watch first saw it uncovered): a site is acted on
    only once it has looked uncovered for ``node.dead_after_s`` of this watch's own passes. After the
    database was away every node looks lost at once (none could renew its row); the grace gives them
    time to renew before their cameras are called unreachable. None: act at once (tests of one pass)."""
    from camsvc.alerts.system import queue_system_alert

    dead_after_s = float(settings.node.dead_after_s)
    with Session(engine, expire_on_commit=False) as s:
        if not any_node(s):
            return PassResult(skipped=True)
        nodes = live_nodes(s, now, dead_after_s)
        per_site = cameras_per_site(s)
        episodes = _read_state(s)
        sites = set(per_site)
        if watching is not None:
            raw = uncovered_sites(sites, nodes)
            for site in list(watching):
                if site not in raw:
                    del watching[site]
            for site in raw:
                watching.setdefault(site, now)
            # not yet: uncovered for less than the grace, and not already an alerted episode
            sites -= {
                x for x in raw if x not in episodes and (now - watching[x]).total_seconds() < dead_after_s
            }
        p = plan(sites, nodes, episodes)
        turned, raced = _turn_unknown(s, set(p.uncovered), now)
        s.commit()
    result = PassResult(uncovered=set(p.uncovered), turned=turned, raced=raced)
    if turned:
        log.warning(
            "no live probe node for sites %s: %d cameras turned unknown", sorted(p.uncovered), len(turned)
        )
    tz = getattr(settings, "timezone", "Asia/Ho_Chi_Minh")
    for site in p.newly_uncovered:
        episode = _iso(now)
        vi, en = alert_texts(site, per_site.get(site, 0), now, tz)
        queue_system_alert(
            engine,
            settings,
            problem=f"no-probe-node:{site}:{episode}",
            text_vi=vi,
            text_en=en,
            now=now,
            once=True,
        )
        episodes[site] = episode
        result.alerted.append(site)
    for site in p.recovered:
        episode = episodes.pop(site)
        vi, en = recovery_texts(site)
        queue_system_alert(
            engine,
            settings,
            problem=f"probe-node-back:{site}:{episode}",
            text_vi=vi,
            text_en=en,
            now=now,
            once=True,
            answering=f"no-probe-node:{site}:{episode}",
        )
        result.recovered.append(site)
        log.info("site %r covered again by a probe node (episode since %s)", site, episode)
    for site in p.dropped:
        episodes.pop(site, None)
    if p.newly_uncovered or p.recovered or p.dropped:
        with Session(engine) as s:
            _write_state(s, episodes)
            try:
                s.commit()
            except sa.exc.IntegrityError:  # another process wrote it first: the dedup keys still hold
                s.rollback()
    return result


# ----------------------------------------------------------------------------------------- the worker
class CoverageWorker:
    """Runs :func:`coverage_pass` every ``node.heartbeat_s`` in a thread (the leader's worker)."""

    name = "coverage"

    def __init__(self, settings: Any, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.interval_s = float(settings.node.heartbeat_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.last: PassResult | None = None
        self._watching: dict[str, dt.datetime] = {}  # site -> first seen uncovered (coverage_pass)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="coverage", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def run_once(self, now: dt.datetime | None = None) -> PassResult:
        try:
            result = coverage_pass(self.engine, self.settings, now or dt.datetime.now(dt.UTC), self._watching)
        except Exception:
            self._watching.clear()  # the database was away: the nodes get a full grace once it is back
            raise
        self.last = result
        self.passes += 1
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the watch must outlive a database hiccup
                log.exception("coverage watch: pass failed")
            self._stop.wait(self.interval_s)
