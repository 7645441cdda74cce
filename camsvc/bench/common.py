"""Helpers shared by the benchmarks: process-tree CPU, a service subprocess, percentiles, output."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

RESULTS_DIR = Path("bench-results")
# Debian's chromium, driven by Playwright (the web benchmark and the browser tests; never a downloaded one).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 1: ppid, 11-14: utime stime cutime cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _processes() -> dict[int, tuple[int, float]]:
    """Every process now: pid -> (parent pid, CPU seconds of it and of its reaped descendants)."""
    out: dict[int, tuple[int, float]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        fields = _stat(int(d))
        try:
            if fields is not None:
                ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
                out[int(d)] = (int(fields[1]), ticks / _TICK)
        except (IndexError, ValueError):
            continue
    return out


def descendants(pid: int, exclude: Iterable[int] = ()) -> list[int]:
    """*pid* and every live process below it, leaving out the subtrees rooted at *exclude*."""
    return _walk(pid, _processes(), set(exclude))


def _walk(pid: int, procs: dict[int, tuple[int, float]], exclude: set[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for p, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(p)
    out: list[int] = []
    stack = [pid]
    while stack and len(out) < 100_000:
        p = stack.pop()
        if p in exclude:
            continue
        out.append(p)
        stack.extend(children.get(p, ()))
    return out


def tree_cpu_seconds(pid: int, exclude: Iterable[int] = ()) -> float:
    """User+system CPU seconds of process *pid* and all its descendants: those alive now (threads included)
    and those that ended and were reaped (counted in their parent's cutime/cstime). Live subtrees rooted at
    *exclude* are left out (e.g. the simulator, when the measured tree is the benchmark itself).

    The one measure of a process tree's CPU for every benchmark: take it before and after, subtract.
    """
    procs = _processes()
    return sum(procs[p][1] for p in _walk(pid, procs, set(exclude)) if p in procs)


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of *pid* alone (its threads, not its children); 0.0 if it is gone."""
    fields = _stat(pid)
    try:
        return (int(fields[11]) + int(fields[12])) / _TICK if fields else 0.0
    except (IndexError, ValueError):
        return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of *pid* and its live descendants, in MB."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e6


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium through a started Playwright (``sync_playwright()``): a Browser, close it after."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": pct(values, 95),
        "max": max(values),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


class _CamsvcChild:
    """A `camsvc` subprocess in its own process group, with a clean CAMSVC_* environment and its log in a
    file: what ServiceProcess and NodeProcess share."""

    log_path: Path
    proc: subprocess.Popen[bytes] | None

    def _environ(self, data_dir: Path, extra: dict[str, str] | None, **own: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSVC_")}
        env.update({"CAMSVC_DATA_DIR": str(data_dir), **own})
        env.update(extra or {})
        return env

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.proc

    def start(self, timeout_s: float = 60) -> Self:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the whole process group (its probe workers too): a crash, nothing cleaned up or released."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServiceProcess(_CamsvcChild):
    """`camsvc serve` as a subprocess on 127.0.0.1:port (benchmarks and end-to-end tests)."""

    def __init__(
        self, data_dir: Path, port: int, env: dict[str, str] | None = None, log_path: Path | None = None
    ):
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = self._environ(data_dir, env, CAMSVC_PORT=str(port), CAMSVC_HOST="127.0.0.1")
        self.log_path = log_path or (data_dir / "service.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}

    def start(self, timeout_s: float = 60) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        proc = self._spawn([sys.executable, "-m", "camsvc", "serve"], self.env)
        wait_http(f"{self.base}/healthz", timeout_s, proc)
        if not self.headers:  # the API needs a signed-in caller: an admin token, made as any script would
            self.headers = {"Authorization": f"Bearer {admin_token(self.data_dir)}"}
        return self

    def client(self, **kw: Any) -> httpx.Client:
        """An HTTP client on the service, signed in with the admin token."""
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=kw.pop("timeout", 15), **kw)


@contextlib.contextmanager
def service(data_dir: Path, port: int, env: dict[str, str] | None = None) -> Iterator[ServiceProcess]:
    with ServiceProcess(data_dir, port, env) as svc:
        yield svc


def wait_until(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll *predicate* every *interval_s* until it is truthy or *timeout_s* have passed (then once more)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def admin_token(data_dir: Path, username: str = "bench-admin") -> str:
    """An API token of an admin in *data_dir*'s database (the user is created on first use)."""
    from camsvc.auth.bootstrap import api_token
    from camsvc.config import Settings
    from camsvc.db import make_engine, upgrade

    engine = make_engine(Settings(data_dir=data_dir).db_url)
    try:
        upgrade(engine)
        return api_token(engine, username, "admin")
    finally:
        engine.dispose()


def import_fleet(data_dir: Path, fleet_csv: Path, **camera_values: Any) -> None:
    """A migrated database in *data_dir* holding the simulator's fleet (*fleet_csv*), every camera's own
    check interval cleared so the service default applies, and *camera_values* set on every camera."""
    import sqlalchemy as sa

    from camsvc.cameras import import_cameras
    from camsvc.config import Settings
    from camsvc.db import make_engine, session_scope, upgrade
    from camsvc.models import Camera

    engine = make_engine(Settings(data_dir=data_dir).db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            import_cameras(s, fleet_csv.read_bytes(), "csv")
            s.execute(sa.update(Camera).values(check_interval_s=None, **camera_values))
    finally:
        engine.dispose()


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s ({last})")


class NodeProcess(_CamsvcChild):
    """`camsvc serve --role probe` as a subprocess (no HTTP): ready once it prints that it checks."""

    READY = "camsvc probe node"

    def __init__(
        self,
        data_dir: Path,
        name: str,
        site: str = "",
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ):
        self.data_dir, self.name, self.site = data_dir, name, site
        self.env = self._environ(data_dir, env)
        self.log_path = log_path or (data_dir / f"node-{name}.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "camsvc", "serve", "--role", "probe", "--node-name", self.name]
        argv += ["--site", self.site]
        proc = self._spawn(argv, self.env)
        deadline = time.monotonic() + timeout_s
        while self.READY not in self.log_text():
            if proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited ({proc.returncode}): {self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"node {self.name} not ready after {timeout_s:.0f} s: {self.log_text()[-2000:]}"
                )
            time.sleep(0.2)
        return self


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
