"""Logging set-up: one format, and a filter that scrubs secrets from every record, whoever logs it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from camsvc.redact import redact_text


class RedactFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        clean = redact_text(msg, self.secrets)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


_filter = RedactFilter()


def setup_logging(level: str = "INFO") -> RedactFilter:
    root = logging.getLogger()
    if not any(getattr(h, "_camsvc", False) for h in root.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        h.addFilter(_filter)
        h._camsvc = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin at every start otherwise
    return _filter


def add_secrets(secrets: Iterable[str]) -> None:
    _filter.secrets.update(s for s in secrets if s)
