"""``create_app(settings)``: the API, the dashboard and (in the leader process) the runtime."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import Session, func, select

from camsvc import __version__
from camsvc.alerts import zalo
from camsvc.api.limits import BodyLimitMiddleware
from camsvc.auth.audit_http import AuditMiddleware
from camsvc.auth.http import NotAuthenticated, enforce, public
from camsvc.auth.routes import unauthenticated_response
from camsvc.config import Settings, load_settings
from camsvc.db import make_engine, upgrade
from camsvc.errors import NotFound
from camsvc.metrics import Metrics
from camsvc.models import CameraStatus, HealthState

log = logging.getLogger(__name__)

# Routers are listed here, one module per resource. Every route requires a signed-in user (the app-wide
# ``enforce`` dependency) unless its endpoint is marked ``@public`` (camsvc/auth/http.py).
ROUTERS = [
    "camsvc.auth.routes:router",
    "camsvc.api.routes.cameras:router",
    "camsvc.api.routes.status:router",
    "camsvc.api.routes.alerts:router",
    "camsvc.api.routes.audit:router",
    "camsvc.api.routes.recording:router",
    "camsvc.api.routes.cases:router",
    "camsvc.api.routes.reports:router",  # issue 11: reports (JSON, CSV, PDF) and the public status data
    "camsvc.api.routes.history:router",  # issue 11: a camera's availability bars and check series
    "camsvc.api.routes.nodes:router",  # issue 12: probe nodes, their load and the sites no node covers
    "camsvc.web.tiles:router",  # issue 11: offline map tiles (MBTiles) and hamlet outlines
    "camsvc.web.routes:router",
]


def allowed_hosts(settings: Settings) -> list[str]:
    """The Host header values served: settings ``auth.allowed_hosts``, the public URL's host and a specific
    bind address."""
    hosts = list(settings.auth.allowed_hosts)
    for url_host in (urlsplit(settings.base_url).hostname, settings.host):
        if url_host and url_host not in ("0.0.0.0", "::") and url_host not in hosts:
            hosts.append(url_host)
    return hosts


def create_app(settings: Settings | None = None, *, start_runtime: bool = True) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.db_url, settings.data_dir)  # installs the secret keyring
    zalo.use_engine(engine)  # "send a test" of a zalo:// channel that refreshes its token
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(engine)
        runtime = None
        if start_runtime:
            from camsvc.runtime.service import Runtime

            runtime = Runtime(settings, engine, metrics)
            app.state.runtime = runtime
            runtime.start()
        from camsvc.cases.jobs import runner_for

        # case clip and export jobs run in the process that took the request; started here so that a job
        # left running by a previous process is marked interrupted at once
        case_jobs = runner_for(app.state)
        log.info("camsvc %s serving on %s", __version__, settings.base_url)
        try:
            yield
        finally:
            case_jobs.stop(wait=False)
            if runtime is not None:
                runtime.stop()
            engine.dispose()

    app = FastAPI(
        title="camsvc",
        version=__version__,
        lifespan=lifespan,
        description="Camera-network monitoring for commune security. Every route needs a signed-in user "
        "(session cookie from /login) or an API token (`Authorization: Bearer cs_...`; `camsvc tokens create`).",
        dependencies=[Depends(enforce)],
        # the schema and its pages are routes of our own (below), so they need a signed-in user too
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    # the dashboard's first load at 10,000 cameras: 4.6 MB -> 0.44 MB (docs/dashboard.md)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(AuditMiddleware)  # every authenticated state change -> the audit trail
    # against DNS rebinding: answer only to the names this service is known by (outermost: checked first)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings))
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.runtime = None

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        """Domain code raises NotFound; every route answers it the same way: 404, the message as detail."""
        return JSONResponse({"detail": str(exc.args[0]) if exc.args else "not found"}, status_code=404)

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
        """An id or number beyond what the database stores (64-bit) can name nothing: the caller's error."""
        return JSONResponse({"detail": f"a number in the request is out of range: {exc}"}, status_code=422)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        """Anonymous: a redirect to the sign-in page for a page, 401 for the API, feeds and files."""
        return unauthenticated_response(request, exc.reason)

    for target in ROUTERS:
        module, attr = target.split(":")
        app.include_router(getattr(importlib.import_module(module), attr))

    def cameras_by_state() -> dict[tuple[str, ...], float]:
        with Session(engine) as s:
            rows = s.exec(select(CameraStatus.state, func.count()).group_by(CameraStatus.state)).all()
        counts = {st.value: 0.0 for st in HealthState}
        for st, n in rows:
            counts[HealthState(st).value] = float(n)
        return {(k,): v for k, v in counts.items()}

    def pool() -> dict[tuple[str, ...], float]:
        rt = app.state.runtime
        stats = rt.pool_stats() if rt is not None else {}
        if rt is not None and rt.scheduler is not None:
            stats.update({f"scheduler_{k}": float(v) for k, v in rt.scheduler.stats().items()})
        return {(k,): v for k, v in stats.items()}

    metrics.add_gauges("camsvc_cameras", "Cameras by health state", ["state"], cameras_by_state)
    metrics.add_gauges(
        "camsvc_probe_pool", "Probe pool and scheduler: in_flight, capacity, ...", ["stat"], pool
    )

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="camsvc API")

    from camsvc.runtime.pipeline import FAILING, PipelineProbe

    # the pipeline (checks recorded, writer errors, leader, alert backlog): /healthz and the metrics
    pipeline = PipelineProbe(settings, engine, metrics, runtime=lambda: app.state.runtime)
    app.state.pipeline = pipeline
    metrics.add_pipeline(lambda: pipeline.health(max_age_s=2.0))

    @app.get("/healthz", tags=["service"], responses={503: {"description": "checks are not running"}})
    @public
    def healthz() -> JSONResponse:
        """The service itself: database reachable and the check pipeline running (docs/operations.md).
        200 while checks are recorded (``status`` ok or degraded, with reasons); 503 when they have stopped
        (``status`` failing, ``reasons``, ``checks_stopped_since``). No camera names, no secrets."""
        h = pipeline.health(max_age_s=1.0)
        rt = app.state.runtime
        try:
            scheduler = rt.scheduler.stats() if rt and rt.scheduler else None
        except Exception:
            scheduler = None
        body = {
            "status": h.status,
            "version": __version__,
            "leader": bool(rt and rt.is_leader),
            "scheduler": scheduler,
            "reasons": h.reasons,
            "checks_stopped_since": h.as_dict()["stopped_since"],
            "pipeline": h.as_dict(),
        }
        return JSONResponse(body, status_code=503 if h.status == FAILING else 200)

    @app.get("/metrics", tags=["service"])
    def prometheus_metrics() -> Response:
        """Prometheus metrics: like every route, for a signed-in user or an API token (``bearer_token`` in
        the scrape config: ``camsvc tokens create USER --name prometheus --role viewer``)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
