"""Running the service in the foreground: the schema, the log's secrets, the app under uvicorn."""

from __future__ import annotations

import logging

from camsvc.config import Settings
from camsvc.logs import add_secrets, setup_logging

log = logging.getLogger(__name__)


def run_server(settings: Settings) -> None:
    """Upgrade the schema, teach the log filter every camera secret, then serve until stopped."""
    import uvicorn
    from sqlmodel import Session

    from camsvc.app import create_app
    from camsvc.cameras import all_secrets
    from camsvc.crypto import SecretKeyError, check_readable, encrypted_columns
    from camsvc.db import make_engine, table_metadata, upgrade

    setup_logging(settings.log_level)
    engine = make_engine(settings.db_url, settings.data_dir)  # installs the secret keyring
    upgrade(engine)
    try:  # a missing or wrong key stops here, naming the column, before anything is served
        check_readable(engine, encrypted_columns(table_metadata()))
    except SecretKeyError as exc:
        raise SystemExit(f"camsvc: {exc}") from None
    with Session(engine) as s:
        add_secrets(all_secrets(s))
    engine.dispose()
    app = create_app(settings)
    print(f"camsvc dashboard: {settings.base_url}/   (API docs: {settings.base_url}/docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=5)
