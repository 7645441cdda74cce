"""Import every module that defines tables, so metadata (Alembic, tests) sees them all."""

from camsvc import models  # noqa: F401
from camsvc.alerts import models as alert_models  # noqa: F401
from camsvc.auth import models as auth_models  # noqa: F401
