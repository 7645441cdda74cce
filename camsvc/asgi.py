"""ASGI entry for process managers: ``uvicorn camsvc.asgi:app --workers 4``.

Every worker serves the API; only the one that takes the leader lock runs the checks.
"""

from camsvc.app import create_app
from camsvc.logs import setup_logging

setup_logging()
app = create_app()
