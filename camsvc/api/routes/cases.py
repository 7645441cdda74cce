"""Cases, their clips and export jobs, the evidence package and the signing key (issue 10)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["cases"])
