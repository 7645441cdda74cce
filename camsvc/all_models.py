"""Import every module that defines tables, so metadata (Alembic, tests) sees them all."""

from camsvc import models  # noqa: F401

try:  # alert tables (issue 5) live beside their logic
    from camsvc.alerts import models as alert_models  # noqa: F401
except ImportError:  # pragma: no cover - before the alerts package exists
    pass
