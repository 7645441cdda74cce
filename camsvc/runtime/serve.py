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
