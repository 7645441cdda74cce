"""The offline map (issue 11): raster tiles read from a local MBTiles file (settings ``dashboard.mbtiles``)
and, for maps without tiles, an outline per hamlet drawn around its cameras.

``GET /tiles/{z}/{x}/{y}.{ext}`` (``ext``: png, jpg, jpeg or webp; the content type always comes from the
file's ``metadata.format``, else from the tile's own bytes): the tile at XYZ ``z/x/y`` (the web-map scheme
Leaflet asks for; MBTiles stores TMS rows, so ``tile_row = 2^z - 1 - y``). A tile the file does not hold
is 404 (Leaflet then leaves that square empty; the layer is limited to the file's bounds and zooms so it
rarely asks). Tiles are cached by the browser (``Cache-Control: private, max-age=86400``) and revalidated
with an ETag (the tile's SHA-1: 304 when unchanged). Signed-in users only, like every route (``map.view``).
The file is opened read-only for each request (SQLite URI ``mode=ro``): replacing it takes effect at once.

``GET /api/hamlets/outlines``: per hamlet, the padded convex hull of its cameras (``camsvc.web.outlines``),
from the cameras the caller may see (hamlet scope), so no household location is given beyond what
``/api/map`` already gives that user.

``tile_config(settings)`` is what the page config needs: the local tile URL, zooms, bounds and centre, or
the error naming the file when it is missing or not an MBTiles file.
"""

from __future__ import annotations

import hashlib
import html
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sqlmodel import col, select

from camsvc.api.deps import SessionDep, SettingsDep
from camsvc.auth import views
from camsvc.auth.http import optional_subject, require
from camsvc.auth.roles import Action
from camsvc.models import Camera
from camsvc.web.outlines import DEFAULT_PAD_M, hamlet_outlines

log = logging.getLogger(__name__)

router = APIRouter(tags=["dashboard"])

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
TILE_CACHE = "private, max-age=86400"
MAX_ZOOM = 24


class MBTilesError(Exception):
    """The configured file cannot serve tiles; the message names the file and what is wrong."""


@dataclass(frozen=True)
class TileSet:
    path: Path
    content_type: str | None  # None: the format is not in the metadata (each tile's bytes tell)
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north
    center: tuple[float, float, float] | None  # lon, lat, zoom
    attribution: str
    name: str


def _connect(path: Path) -> sqlite3.Connection:
    # read-only, and never created: a missing file is an error, not a new empty database
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def _floats(text: str | None, n: int) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        return None
    return vals if len(vals) == n else None


def sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def read_tileset(path: Path) -> TileSet:
    """The file's description from its ``metadata`` (zooms from the tiles when the metadata lacks them);
    MBTilesError when the file is missing or not an MBTiles file."""
    if not path.is_file():
        raise MBTilesError(f"map tiles file {path} (dashboard.mbtiles): not found")
    try:
        conn = _connect(path)
        try:
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            }
            missing = [t for t in ("tiles", "metadata") if t not in names]
            if missing:
                raise MBTilesError(
                    f"map tiles file {path} (dashboard.mbtiles): not an MBTiles file "
                    f"(no {' or '.join(missing)} table)"
                )
            meta = {str(k): str(v) for k, v in conn.execute("SELECT name, value FROM metadata")}
            zooms = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MBTilesError(
            f"map tiles file {path} (dashboard.mbtiles): not an MBTiles file ({exc})"
        ) from None
    fmt = meta.get("format", "").strip().lower()
    if fmt and fmt not in CONTENT_TYPES:
        raise MBTilesError(
            f"map tiles file {path} (dashboard.mbtiles): format {fmt!r} is not a raster format "
            f"({', '.join(CONTENT_TYPES)}); vector tiles (pbf) are not supported"
        )
    if zooms is None or zooms[0] is None:
        raise MBTilesError(f"map tiles file {path} (dashboard.mbtiles): holds no tiles")

    def zoom(key: str, found: int) -> int:
        try:
            return max(0, min(MAX_ZOOM, int(float(meta[key]))))
        except (KeyError, ValueError):
            return int(found)

    b = _floats(meta.get("bounds"), 4)
    c = _floats(meta.get("center"), 3)
    return TileSet(
        path=path,
        content_type=CONTENT_TYPES.get(fmt),
        minzoom=zoom("minzoom", zooms[0]),
        maxzoom=zoom("maxzoom", zooms[1]),
        bounds=(b[0], b[1], b[2], b[3]) if b else None,
        center=(c[0], c[1], c[2]) if c else None,
        attribution=meta.get("attribution", ""),
        name=meta.get("name", path.stem),
    )


_cache: dict[tuple[str, int, int], TileSet | MBTilesError] = {}
_lock = threading.Lock()


def tileset(path: Path) -> TileSet:
    """``read_tileset`` remembered per file version (path, size, mtime); the error is logged once."""
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = (str(path), -1, -1)
    with _lock:
        got = _cache.get(key)
    if got is None:
        try:
            got = read_tileset(path)
        except MBTilesError as exc:
            log.error("%s; the map shows hamlet outlines instead", exc)
            got = exc
        with _lock:
            _cache.clear()  # one file at a time in practice
            _cache[key] = got
    if isinstance(got, MBTilesError):
        raise got
    return got


def read_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ z/x/y (TMS row flipped), or None."""
    conn = _connect(path)
    try:
        row = conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
    finally:
        conn.close()
    return bytes(row[0]) if row and row[0] is not None else None


def tile_config(settings: Any) -> dict[str, Any]:
    """Page-config entries for the map: nothing without ``dashboard.mbtiles`` (the page keeps ``tile_url``);
    else the local tile URL with its zooms, bounds (``[[south, west], [north, east]]``) and centre
    (``[lat, lon, zoom]``), or ``tileError`` naming the file when it cannot be used (the page says so and
    draws the hamlet outlines)."""
    path = settings.dashboard.mbtiles
    if path is None:
        return {}
    try:
        ts = tileset(Path(path))
    except MBTilesError as exc:
        return {"tileUrl": "", "tileAttribution": "", "tileSource": "mbtiles", "tileError": str(exc)}
    ext = EXTENSIONS.get(ts.content_type or "", "png")
    out: dict[str, Any] = {
        "tileUrl": f"/tiles/{{z}}/{{x}}/{{y}}.{ext}",
        "tileSource": "mbtiles",
        # Leaflet writes attribution as HTML: the file's text goes in escaped
        "tileAttribution": html.escape(ts.attribution),
        "tileMinZoom": ts.minzoom,
        "tileMaxZoom": ts.maxzoom,
    }
    if ts.bounds:
        w, s, e, n = ts.bounds
        out["tileBounds"] = [[s, w], [n, e]]
    if ts.center:
        lon, lat, z = ts.center
        out["mapCenter"] = [lat, lon, z]
    elif ts.bounds:
        w, s, e, n = ts.bounds
        out["mapCenter"] = [(s + n) / 2, (w + e) / 2, ts.minzoom]
    return out


@router.get("/tiles/{z}/{x}/{y}.{ext}", dependencies=[require(Action.MAP_VIEW)])
def tile(z: int, x: int, y: int, ext: str, request: Request, settings: SettingsDep) -> Response:
    """One map tile from the MBTiles file (404 when the file lacks it; 503 naming the file when it cannot
    be read; 404 when no file is configured)."""
    if settings.dashboard.mbtiles is None:
        raise HTTPException(404, "no map tiles file is configured (dashboard.mbtiles)")
    if (
        ext.lower() not in CONTENT_TYPES
        or not (0 <= z <= MAX_ZOOM)
        or not (0 <= x < 1 << z and 0 <= y < 1 << z)
    ):
        raise HTTPException(404, "no such tile")
    path = Path(settings.dashboard.mbtiles)
    try:
        ts = tileset(path)
        data = read_tile(path, z, x, y)
    except MBTilesError as exc:
        raise HTTPException(503, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise HTTPException(503, f"map tiles file {path}: {exc}") from None
    if data is None:
        return Response(status_code=404, headers={"Cache-Control": "private, max-age=3600"})
    etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": TILE_CACHE, "X-Content-Type-Options": "nosniff"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=ts.content_type or sniff(data), headers=headers)


@router.get("/api/hamlets/outlines", tags=["status"], dependencies=[require(Action.MAP_VIEW)])
def outlines(session: SessionDep, request: Request, response: Response) -> dict[str, Any]:
    """Each hamlet as an outline around its cameras (padded convex hull; a circle for one or two cameras)
    with a place for its name: the map's orientation when no tiles load. Only the caller's hamlets."""
    stmt = select(Camera.hamlet, Camera.latitude, Camera.longitude).where(
        col(Camera.deleted_at).is_(None),
        col(Camera.latitude).is_not(None),
        col(Camera.longitude).is_not(None),
    )
    scope = views.scope_condition(session, optional_subject(request))
    if scope is not None:
        stmt = stmt.where(scope)
    by: dict[str, list[tuple[float, float]]] = {}
    for hamlet, lat, lon in session.exec(stmt).all():
        if hamlet and lat is not None and lon is not None:
            by.setdefault(hamlet, []).append((lat, lon))
    response.headers["Cache-Control"] = "private, no-cache"
    return {"pad_m": DEFAULT_PAD_M, "outlines": hamlet_outlines(by)}
