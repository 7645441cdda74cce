"""``camsvc bench alerts``: from a fault switched in the simulator to the message received by an SMTP server.

The real service (``camsvc serve`` subprocess, default settings: 60 s checks, 10 s retry, 10 s probe budget,
30 s group wait) checks the real simulated fleet; one contact hears about every camera by e-mail through a
local aiosmtpd server. Two rounds:

1. single cameras: ``--singles`` cameras, each in a different hamlet, switched to ``down`` at once;
2. power cuts: the ``--cuts`` largest hamlets switched to ``down`` at once (about 30 cameras each at the
   default fleet size): each must give one grouped message.

Each round waits for the recoveries too. Target: alert within check interval + retry + budget + group wait.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from camsvc.bench.common import (
    ServiceProcess,
    free_port,
    import_fleet,
    summary,
    table,
    wait_until,
    write_json,
)


@dataclass
class _Mail:
    at: float  # time.time() when received
    subject: str
    body: str


class _SmtpSink:
    """aiosmtpd on its own event loop thread, recording arrival times."""

    def __init__(self) -> None:
        try:
            from aiosmtpd.smtp import SMTP
        except ImportError as exc:  # pragma: no cover
            raise click.ClickException("camsvc bench alerts needs aiosmtpd (pip install aiosmtpd)") from exc
        self.port = free_port()
        self.mails: list[_Mail] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-smtp", daemon=True)
        self._thread.start()

        async def start() -> Any:
            return await self._loop.create_server(
                lambda: SMTP(self, hostname="localhost"), "127.0.0.1", self.port
            )

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        with self._lock:
            self.mails.append(_Mail(time.time(), str(msg["subject"]), body))
        return "250 OK"

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure&from=camsvc@bench.local&to=tech@bench.local"

    def since(self, t: float) -> list[_Mail]:
        with self._lock:
            return [m for m in self.mails if m.at >= t]

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _states(base: str, headers: dict[str, str]) -> dict[str, str]:
    """State of every enabled camera."""
    items = httpx.get(f"{base}/api/cameras", params={"limit": 1000}, headers=headers, timeout=15).json()[
        "items"
    ]
    return {c["id"]: c["state"] for c in items if c["enabled"]}


def run_alerts(roadside: int, household: int, singles: int, cuts: int, timeout_s: float) -> dict[str, Any]:
    from camsvc.alerts.models import Contact, ContactChannel, RoutingRule
    from camsvc.config import load_settings
    from camsvc.db import make_engine, session_scope
    from camsvc.simulate.harness import Simulator

    defaults = load_settings()  # what the service will run with (no CAMSVC_* variables are passed on)
    c = defaults.checks
    target = c.interval_s + c.retry_interval_s + defaults.probe.budget_s + defaults.alerts.group_wait_s
    tmp = Path(tempfile.mkdtemp(prefix="camsvc-bench-alerts-"))
    smtp = _SmtpSink()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {"target_s": target, "cameras": roadside + household}
    try:
        with Simulator(roadside=roadside, household=household, out_dir=tmp / "sim") as sim:
            import_fleet(tmp / "data", sim.fleet_csv)  # the service's default interval applies
            engine = make_engine(load_settings(data_dir=tmp / "data").db_url)
            with session_scope(engine) as s:
                contact = Contact(name="Bench technician")
                s.add(contact)
                s.flush()
                assert contact.id is not None
                s.add(ContactChannel(contact_id=contact.id, url=smtp.url()))
                s.add(RoutingRule(contact_id=contact.id))
            engine.dispose()
            hamlets: dict[str, list[str]] = {}
            for cam in sim.fleet:
                if cam.enabled:  # a few simulated cameras are disabled: never checked, never alerted
                    hamlets.setdefault(cam.hamlet, []).append(cam.id)
            by_size = sorted(hamlets, key=lambda h: -len(hamlets[h]))
            cut_hamlets = by_size[: max(0, cuts)]
            single_pool = [h for h in by_size if h not in cut_hamlets] or by_size
            env = {"CAMSVC_PUBLIC_URL": base}
            with ServiceProcess(tmp / "data", port, env) as svc:
                click.echo(
                    f"service up; waiting for the {len(sim.fleet)} cameras to be checked ...", err=True
                )
                t_warm = time.monotonic()
                wait_until(
                    lambda: all(v in ("up", "degraded") for v in _states(base, svc.headers).values()),
                    timeout_s,
                    2.0,
                )
                out["warmup_s"] = round(time.monotonic() - t_warm, 1)
                up = {k for k, v in _states(base, svc.headers).items() if v == "up"}

                # round 1: single cameras in distinct hamlets
                victims: list[str] = []
                for h in single_pool:
                    cand = [cid for cid in hamlets[h] if cid in up]
                    if cand and len(victims) < singles:
                        victims.append(cand[0])
                click.echo(f"round 1: {len(victims)} single cameras down", err=True)
                switched = {}
                for cid in victims:
                    switched[cid] = time.time()
                    sim.fault(cid, "down")
                t1 = min(switched.values(), default=time.time())

                def single_mail(cid: str) -> _Mail | None:
                    for m in smtp.since(switched[cid]):
                        if "MẤT TÍN HIỆU" in m.subject and f"({cid})" in m.body:
                            return m
                    return None

                wait_until(lambda: all(single_mail(cid) for cid in victims), timeout_s, 0.5)
                lat = [m.at - switched[cid] for cid in victims if (m := single_mail(cid))]
                out["single"] = {"alert_s": summary(lat), "received": f"{len(lat)}/{len(victims)}"}
                restore = time.time()
                for cid in victims:
                    sim.fault(cid, "normal")
                wait_until(
                    lambda: sum("HOẠT ĐỘNG LẠI" in m.subject for m in smtp.since(restore)) >= len(victims),
                    timeout_s,
                    0.5,
                )
                rec = [m.at - restore for m in smtp.since(restore) if "HOẠT ĐỘNG LẠI" in m.subject]
                out["single"]["recovery_s"] = summary(rec)
                out["single"]["messages"] = len(smtp.since(t1))

                # round 2: whole hamlets lose power
                if cut_hamlets:
                    click.echo(f"round 2: power cut in {', '.join(cut_hamlets)}", err=True)
                    wait_until(
                        lambda: all(v in ("up", "degraded") for v in _states(base, svc.headers).values()),
                        timeout_s,
                        2.0,
                    )
                    t2 = time.time()
                    affected = {
                        h: [x for x in sim.fault_hamlet(h, "down") if x in hamlets[h]] for h in cut_hamlets
                    }

                    def first_for(h: str) -> _Mail | None:
                        for m in smtp.since(t2):
                            if h in m.subject and "MẤT TÍN HIỆU" in m.subject.upper():
                                return m
                        return None

                    wait_until(lambda: all(first_for(h) for h in cut_hamlets), timeout_s, 0.5)
                    # stragglers arrive as one update at most; listen one more check interval for them
                    time.sleep(c.interval_s + 2 * defaults.alerts.dispatch_interval_s)
                    lat2, covered, per_hamlet = [], [], []
                    for h in cut_hamlets:
                        m = first_for(h)
                        if m is None:
                            continue
                        lat2.append(m.at - t2)
                        covered.append(
                            sum(f"({cid})" in m.body for cid in affected[h]) / max(1, len(affected[h]))
                        )
                        per_hamlet.append(sum(h in x.subject for x in smtp.since(t2)))
                    out["power_cut"] = {
                        "hamlets": {h: len(affected[h]) for h in cut_hamlets},
                        "alert_s": summary(lat2),
                        "first_message_covers": [round(x, 2) for x in covered],
                        "messages_per_hamlet": per_hamlet,
                    }
                    restore = time.time()
                    for h in cut_hamlets:
                        sim.fault_hamlet(h, "normal")
                    wait_until(
                        lambda: (
                            sum("hoạt động lại" in m.subject for m in smtp.since(restore)) >= len(cut_hamlets)
                        ),
                        timeout_s,
                        0.5,
                    )
                    rec2 = [m.at - restore for m in smtp.since(restore) if "hoạt động lại" in m.subject]
                    out["power_cut"]["recovery_s"] = summary(rec2)
                out["service_errors"] = svc.log_text().count(" ERROR camsvc.alerts")
    finally:
        smtp.close()
    return out


def _fmt(s: dict[str, Any]) -> tuple[str, str, str]:
    if not s or not s.get("n"):
        return "-", "-", "0"
    return f"{s['median']:.1f}", f"{s['max']:.1f}", str(s["n"])


@click.command()
@click.option("--roadside", type=int, default=40, show_default=True, help="Simulated roadside cameras")
@click.option("--household", type=int, default=200, show_default=True, help="Simulated household cameras")
@click.option("--singles", type=int, default=5, show_default=True, help="Single cameras failed at once")
@click.option("--cuts", type=int, default=2, show_default=True, help="Hamlets losing power at once")
@click.option("--timeout", "timeout_s", type=float, default=300, show_default=True, help="Limit per wait")
def alerts(roadside: int, household: int, singles: int, cuts: int, timeout_s: float) -> None:
    """Fault switched in the simulator -> message received by SMTP, at default settings."""
    res = run_alerts(roadside, household, singles, cuts, timeout_s)
    rows: list[tuple[str, ...]] = [("measure", "median s", "max s", "n")]
    single = res.get("single", {})
    rows.append(("single camera: alert", *_fmt(single.get("alert_s", {}))))
    rows.append(("single camera: recovery notice", *_fmt(single.get("recovery_s", {}))))
    cut = res.get("power_cut", {})
    if cut:
        sizes = "/".join(str(n) for n in cut["hamlets"].values())
        rows.append((f"hamlet power cut ({sizes} cameras): alert", *_fmt(cut.get("alert_s", {}))))
        rows.append(("hamlet power cut: recovery notice", *_fmt(cut.get("recovery_s", {}))))
    click.echo(table(rows))
    worst = max(
        [
            single.get("alert_s", {}).get("max", float("inf")),
            cut.get("alert_s", {}).get("max", 0.0) if cut else 0.0,
        ]
    )
    verdict = "PASS" if worst <= res["target_s"] else "FAIL"
    click.echo(
        f"target: alert within {res['target_s']:.0f} s (interval + retry + budget + group wait): {verdict}"
    )
    if cut:
        click.echo(
            f"power cut: messages per hamlet {cut['messages_per_hamlet']} "
            f"(first message names {cut['first_message_covers']} of the hamlet's cameras)"
        )
    res["verdict"] = verdict
    click.echo(f"written {write_json('alerts', res)}")
