"""Running the service in the foreground: the schema, the log's secrets, the app under uvicorn.

Secure by default: a fresh database has no users, and nobody could sign in to a service reachable from the
network. ``run_server`` therefore refuses to bind anything but a loopback address while no active admin
exists (``BindRefused``, whose message says how to make one). ``ensure_demo_admin`` is the demo's way out:
an ``admin`` with a random password, returned to be printed (on stdout only, never logged).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from camsvc.config import Settings
from camsvc.logs import add_secrets, setup_logging

log = logging.getLogger(__name__)

DEMO_ADMIN = "admin"


class BindRefused(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost" (a wildcard like 0.0.0.0 or :: is every interface: not loopback)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def has_active_admin(engine: Engine) -> bool:
    from camsvc.auth.bootstrap import has_admin

    with Session(engine) as s:
        return has_admin(s)


def check_bind(settings: Settings, engine: Engine) -> None:
    """Raise ``BindRefused`` for a non-loopback bind while no active admin exists."""
    if is_loopback(settings.host) or has_active_admin(engine):
        return
    raise BindRefused(
        f"refusing to listen on {settings.host}: no active admin exists yet, so nobody could sign in and "
        "the service would be reachable from the network. Make one first:\n"
        "    camsvc users add NAME --role admin\n"
        "(or serve on 127.0.0.1 only, e.g. --host 127.0.0.1)"
    )


def ensure_demo_admin(engine: Engine) -> tuple[str, str] | None:
    """If no active admin exists: create one with a random password and return (username, password) to
    print once. None when an admin already exists (their password is theirs). Made the same way as
    ``camsvc users add`` (camsvc.auth.bootstrap), and audited."""
    from camsvc.auth import audit
    from camsvc.auth.bootstrap import ensure_user, has_admin, new_password
    from camsvc.auth.models import User
    from camsvc.db import session_scope
    from camsvc.models import utcnow

    with session_scope(engine) as s:
        if has_admin(s):
            return None
        name = DEMO_ADMIN
        while s.exec(select(User.id).where(User.username == name)).first() is not None:
            name = f"{DEMO_ADMIN}-{secrets.token_hex(2)}"
        password = new_password()
        ensure_user(s, name, "admin", password=password, display_name="Demo admin")
        audit.append(
            s, utcnow(), "cli:demo", "local", "user.create", f"user:{name}", {"role": "admin", "demo": True}
        )
    return name, password


def run_server(settings: Settings) -> None:
    """Upgrade the schema, refuse an unsafe bind, teach the log filter every camera secret, then serve."""
    import uvicorn

    from camsvc.app import create_app
    from camsvc.cameras import all_secrets
    from camsvc.crypto import SecretKeyError, check_readable, encrypted_columns
    from camsvc.db import make_engine, table_metadata, upgrade

    setup_logging(settings.log_level)
    engine = make_engine(settings.db_url, settings.data_dir)  # installs the secret keyring
    try:
        upgrade(engine)
        check_bind(settings, engine)
        try:  # a missing or wrong key stops here, naming the column, before anything is served
            check_readable(engine, encrypted_columns(table_metadata()))
        except SecretKeyError as exc:
            raise SystemExit(f"camsvc: {exc}") from None
        with Session(engine) as s:
            add_secrets(all_secrets(s))
    finally:
        engine.dispose()
    app = create_app(settings)
    print(f"camsvc dashboard: {settings.base_url}/   (API docs: {settings.base_url}/docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=5)


SCHEMA_WAIT_S = 120.0


def wait_for_schema(engine: Engine, timeout_s: float = SCHEMA_WAIT_S) -> None:
    """A probe node does not migrate (the API node does, once): it waits, bounded, until the database
    answers with the newest schema, so a stack started all at once comes up in any order."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from camsvc.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            last = f"schema at {current or 'nothing'}, this camsvc needs {head}"
        except Exception as exc:
            last = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if time.monotonic() > deadline:
            raise SystemExit(
                f"camsvc: the database is not ready after {timeout_s:.0f} s ({last}); start the API node "
                "(camsvc serve --role api) or run `camsvc db upgrade` first"
            )
        time.sleep(2.0)


def run_node(settings: Settings) -> None:
    """A probe node in the foreground: no API; its checks (and recorders) until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from camsvc.cameras import all_secrets
    from camsvc.db import make_engine
    from camsvc.metrics import Metrics
    from camsvc.runtime.service import Runtime

    setup_logging(settings.log_level)
    from camsvc.crypto import SecretKeyError, check_readable, encrypted_columns
    from camsvc.db import table_metadata

    engine = make_engine(settings.db_url, settings.data_dir)
    wait_for_schema(engine)
    try:  # a node needs the central service's secret key (the key file or $CAMSVC_SECRET_KEY)
        check_readable(engine, encrypted_columns(table_metadata()))
    except SecretKeyError as exc:
        raise SystemExit(f"camsvc: {exc} (copy the API node's secret key to this node)") from None
    with Session(engine) as s:
        add_secrets(all_secrets(s))
    stop = threading.Event()

    def _term(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    runtime = Runtime(settings, engine, Metrics())
    print(f"camsvc probe node (site {settings.node.site or 'any'}): checking", flush=True)
    runtime.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        log.info("probe node stopping")
        runtime.stop()
        engine.dispose()
        log.info("probe node stopped")
