"""The dashboard: ``/`` (one Jinja2 page), its static files, Leaflet from the installed wheels, and
``/web/changes`` (what changed on the map since a cursor, so that polling stays cheap).

Nothing here reads a secret: the page gets the same data as the public API.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import select
from starlette.types import Scope

import camsvc
from camsvc import __version__
from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import audit_http, views
from camsvc.auth.http import optional_subject, public
from camsvc.auth.roles import ROLES, actions_for
from camsvc.enums import CameraKind
from camsvc.models import CameraStatus, Thumbnail
from camsvc.web.changes import changes_since
from camsvc.web.tiles import tile_config  # issue 11 (map helper): local MBTiles map tiles

log = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")
DEFAULT_REFRESH_S = 5.0
REFRESH_LIMITS_S = (1.0, 300.0)
LEAFLET_URL = f"/static/vendor/leaflet-{xs_leaflet.VERSION}"
CLUSTER_URL = f"/static/vendor/markercluster-{xs_cluster.VERSION}"
WEB_STATIC_URL = "/static/web"


def find_web_dir() -> Path | None:
    """The dashboard's files, package data: ``camsvc/webui``, which is the repository's ``web/`` (a
    symlink in the checkout, copied into wheels), so every install finds them whatever the cwd."""
    d = resources.files(camsvc).joinpath("webui")
    if isinstance(d, Path) and (d / "templates" / "index.html").is_file():
        return d
    return None


def load_translations(web_dir: Path) -> dict[str, dict[str, str]]:
    """``web/translations/{vi,en}.json`` plus one pair ``<area>.{vi,en}.json`` per screen (reports, alerts...);
    a key may be defined once, and vi and en must hold the same keys."""
    out: dict[str, dict[str, str]] = {}
    folder = web_dir / "translations"
    for lang in LANGUAGES:
        merged: dict[str, str] = {}
        for path in [folder / f"{lang}.json", *sorted(folder.glob(f"*.{lang}.json"))]:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{path}: must be a JSON object of key -> text")
            twice = sorted(set(merged) & set(data))
            if twice:
                raise ValueError(f"{path}: keys already defined in another file: {', '.join(twice)}")
            merged.update({str(k): str(v) for k, v in data.items()})
        out[lang] = merged
    missing = set(out["vi"]) ^ set(out["en"])
    if missing:
        raise ValueError(f"translations differ between vi and en: {', '.join(sorted(missing))}")
    return out


def asset_versions(static_dir: Path) -> dict[str, str]:
    """Content hash per file: URLs carry it, so browsers may cache them for a year and still see updates."""
    out: dict[str, str] = {}
    for p in sorted(static_dir.rglob("*")):
        if p.is_file():
            out[p.relative_to(static_dir).as_posix()] = hashlib.sha1(p.read_bytes()).hexdigest()[:10]
    return out


class CachedStatic(StaticFiles):
    """StaticFiles with a Cache-Control header (ETag/Last-Modified revalidation is built in)."""

    def __init__(self, *, directory: Path | str, cache_control: str):
        super().__init__(directory=directory)
        self.cache_control = cache_control

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Any:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self.cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


IMMUTABLE = "public, max-age=31536000, immutable"


def tile_source(tile_url: str) -> str:
    """The CSP source that allows the tile server: ``https://{s}.tile.x.org/...`` -> ``https://*.tile.x.org``."""
    parts = urlsplit(tile_url.replace("{s}", "SUBDOMAIN"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    host = parts.netloc.replace("SUBDOMAIN", "*")
    if "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str) -> str:
    img = " ".join(x for x in ("'self'", "data:", "blob:", tile_source(tile_url)) if x)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def pick_language(requested: str | None, default: str) -> str:
    if requested and requested.lower() in LANGUAGES:
        return requested.lower()
    return default if default in LANGUAGES else "vi"


def page_config(
    settings: Any,
    translations: dict[str, dict[str, str]],
    lang: str,
    camera: str | None,
    refresh_s: float,
    lang_from_url: bool,
) -> dict[str, Any]:
    """Everything the page's scripts need; nothing secret (the settings object is never sent whole)."""
    return {
        "version": __version__,
        "lang": lang,
        "langFromUrl": lang_from_url,
        "defaultLanguage": settings.default_language,
        "timezone": settings.timezone,
        "tileUrl": settings.tile_url,
        "tileAttribution": (
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
            if "openstreetmap" in settings.tile_url
            else ""
        ),
        "refreshMs": int(refresh_s * 1000),
        "camera": camera,
        "i18n": translations,
        **tile_config(settings),  # issue 11 (map helper): MBTiles URL, zooms, bounds, or tileError
    }


def user_config(subject: Any) -> dict[str, Any]:
    """Who is signed in, for the scripts: role, name and the actions the role allows (the server still
    checks each call; this only hides what would be refused)."""
    roles = [r.value for r in ROLES]  # lowest first: the scripts compare ranks ("technician or above")
    if subject is None:
        return {"actions": [], "role": None, "user": None, "roles": roles}
    return {
        "roles": roles,
        "actions": [a.value for a in actions_for(subject.role)],
        "role": subject.role.value,
        "user": subject.username,
    }


def build_router(web_dir: Path | None) -> APIRouter:
    """The dashboard's routes. Without ``web/`` the API still runs and ``/`` says what is missing (503)."""
    r = APIRouter(tags=["dashboard"])
    # Versioned paths (library version, or ?v=<content hash> added by the page): safe to cache for long.
    r.mount(LEAFLET_URL, CachedStatic(directory=xs_leaflet.BASE_DIR, cache_control=IMMUTABLE))
    r.mount(CLUSTER_URL, CachedStatic(directory=xs_cluster.BASE_DIR, cache_control=IMMUTABLE))
    r.include_router(feed)
    if web_dir is None:
        message = (
            "dashboard files not found: expected web/templates/index.html in the installed package "
            "(camsvc/webui); reinstall camsvc. The API under /api works without them"
        )
        log.error("%s", message)

        @r.get("/", include_in_schema=False)
        def no_dashboard() -> PlainTextResponse:
            return PlainTextResponse(message, status_code=503)

        return r

    translations = load_translations(web_dir)
    versions = asset_versions(web_dir / "static")
    r.mount(WEB_STATIC_URL, CachedStatic(directory=web_dir / "static", cache_control="public, max-age=86400"))
    templates = Jinja2Templates(directory=web_dir / "templates")

    def asset(path: str) -> str:
        v = versions.get(path)
        if v is None:
            raise KeyError(f"no static file web/static/{path}")
        return f"{WEB_STATIC_URL}/{path}?v={v}"

    def render(
        request: Request, settings: Any, template: str, config: dict[str, Any], page: str = "map"
    ) -> HTMLResponse:
        chosen = config["lang"]
        tr = translations[chosen]
        subject = getattr(request.state, "subject", None)
        config.update(user_config(subject))
        response = templates.TemplateResponse(
            request,
            template,
            {
                "lang": chosen,
                "t": lambda key: tr.get(key, key),
                "asset": asset,
                "leaflet_url": LEAFLET_URL,
                "cluster_url": CLUSTER_URL,
                "config": config,
                "states": ["down", "degraded", "unknown", "maintenance", "up"],
                "user": subject,
                "csrf_token": csrf_token(request),
                "page": page,
            },
        )
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = content_security_policy(settings.tile_url)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @r.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(
        request: Request,
        settings: SettingsDep,
        lang: Annotated[str | None, Query(max_length=5, description="vi or en")] = None,
        camera: Annotated[str | None, Query(max_length=64, description="Open this camera")] = None,
        refresh: Annotated[
            float | None, Query(ge=REFRESH_LIMITS_S[0], le=REFRESH_LIMITS_S[1], description="Poll seconds")
        ] = None,
    ) -> HTMLResponse:
        """The map and status dashboard (Vietnamese by default; ``?lang=en``; ``?camera=<id>`` opens one)."""
        chosen = pick_language(lang, settings.default_language)
        config = page_config(
            settings,
            translations,
            chosen,
            camera,
            refresh or DEFAULT_REFRESH_S,
            lang_from_url=lang is not None,
        )
        return render(request, settings, "index.html", config)

    def screen(template: str, page: str, **extra: Any) -> Any:
        """A page of the dashboard other than the map: the same config, its own template and scripts.
        The page is for every signed-in user (the same rule as ``/``); its API calls are checked one by one
        and the page says what the role may not do."""

        def endpoint(
            request: Request,
            settings: SettingsDep,
            lang: Annotated[str | None, Query(max_length=5, description="vi or en")] = None,
        ) -> HTMLResponse:
            chosen = pick_language(lang, settings.default_language)
            config = page_config(
                settings, translations, chosen, None, DEFAULT_REFRESH_S, lang_from_url=lang is not None
            )
            config.update({k: request.query_params.get(k) or request.path_params.get(k) for k in extra})
            return render(request, settings, template, config, page=page)

        return endpoint

    @r.get("/cases", response_class=HTMLResponse, include_in_schema=False)
    def cases_page(
        request: Request,
        settings: SettingsDep,
        lang: Annotated[str | None, Query(max_length=5, description="vi or en")] = None,
        case: Annotated[int | None, Query(ge=1, description="Open this case")] = None,
    ) -> HTMLResponse:
        """Cases, their clips and evidence packages (issue 10). The page is for every signed-in user (the
        same rule as ``/``); the cases API refuses the roles below officer and the page says so."""
        chosen = pick_language(lang, settings.default_language)
        config = page_config(
            settings, translations, chosen, None, DEFAULT_REFRESH_S, lang_from_url=lang is not None
        )
        config["case"] = case
        return render(request, settings, "cases.html", config, page="cases")

    @r.get("/cameras/{camera_id}", response_class=HTMLResponse, include_in_schema=False)
    def camera_page(
        camera_id: str,
        request: Request,
        settings: SettingsDep,
        session: SessionDep,
        lang: Annotated[str | None, Query(max_length=5, description="vi or en")] = None,
    ) -> HTMLResponse:
        """One camera: availability bars, outages, check charts, pictures, recording timeline (issue 11).
        A camera outside the user's hamlets is not found, as in the API."""
        views.camera_or_404(session, optional_subject(request), camera_id)
        chosen = pick_language(lang, settings.default_language)
        config = page_config(
            settings, translations, chosen, camera_id, DEFAULT_REFRESH_S, lang_from_url=lang is not None
        )
        return render(request, settings, "camera.html", config, page="camera")

    # Screens of issue 11; each template and script is its own (web/templates/<name>.html, js/<name>.js).
    r.add_api_route("/reports", screen("reports.html", "reports"), include_in_schema=False)
    r.add_api_route("/alerts", screen("alerts.html", "alerts", incident=True), include_in_schema=False)
    r.add_api_route("/maintenance", screen("maintenance.html", "maintenance"), include_in_schema=False)
    r.add_api_route("/admin/alerting", screen("admin.html", "admin"), include_in_schema=False)
    # issue 12: the probe nodes (its API refuses roles below technician and the page says so)
    r.add_api_route("/nodes", screen("nodes.html", "nodes"), include_in_schema=False)

    @r.get("/status", response_class=HTMLResponse, include_in_schema=False)
    @public
    def public_status_page(
        request: Request,
        settings: SettingsDep,
        lang: Annotated[str | None, Query(max_length=5, description="vi or en")] = None,
    ) -> HTMLResponse:
        """The optional public status page (settings ``dashboard.public_status``, off by default: 404):
        per-hamlet availability and open incidents, no pictures, no household locations, no names."""
        if not settings.dashboard.public_status:
            raise HTTPException(status_code=404, detail="the public status page is not enabled")
        chosen = pick_language(lang, settings.default_language)
        config = page_config(
            settings, translations, chosen, None, DEFAULT_REFRESH_S, lang_from_url=lang is not None
        )
        return render(request, settings, "status.html", config, page="status")

    return r


def csrf_token(request: Request) -> str:
    """The browser session's CSRF token: the page sends it back with every change (header or form)."""
    sess = getattr(request.state, "user_session", None)
    return sess.csrf_token if sess is not None else ""


feed = APIRouter(tags=["dashboard"])


@feed.get("/web/changes", tags=["dashboard"])
def map_changes(
    session: SessionDep,
    settings: SettingsDep,  # issue 11 (map helper): the stale rule's intervals
    request: Request,
    response: Response,
    cursor: Annotated[str | None, Query(max_length=400, description="From the previous answer")] = None,
) -> dict[str, Any]:
    """Cameras whose state, cause or acknowledgement changed since ``cursor`` (``full``: reload /api/map)."""
    response.headers["Cache-Control"] = "no-store"
    return changes_since(
        session, cursor, views.scope_condition(session, optional_subject(request)), settings=settings
    )


@feed.get("/web/cameras/{camera_id}/pictures", tags=["dashboard"])
def picture_times(camera_id: str, session: SessionDep, request: Request) -> dict[str, Any]:
    """When the latest picture was taken and the reference view set (captions; cache-busting image URLs)."""
    cam = views.picture_or_403(session, optional_subject(request), camera_id)
    if cam.kind == CameraKind.HOUSEHOLD:  # the dashboard opened a household camera's pictures
        audit_http.record(session, request, "picture.open", f"camera:{camera_id}", {"from": "dashboard"})
    latest = session.exec(
        select(Thumbnail.at, Thumbnail.state).where(
            Thumbnail.camera_id == camera_id,
            Thumbnail.at_transition == False,  # noqa: E712
        )
    ).first()
    status = session.get(CameraStatus, camera_id)
    return {
        "latest_at": latest[0] if latest else None,
        "latest_state": str(latest[1]) if latest and latest[1] else None,
        "reference_set_at": status.reference_set_at if status else None,
        "has_reference": bool(status and status.reference_jpeg),
    }


WEB_DIR = find_web_dir()
router = build_router(WEB_DIR)
