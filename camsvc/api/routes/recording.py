"""Recording: a camera's segment timeline (kept, gaps, held) and the recording storage (issue 10)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["recording"])
