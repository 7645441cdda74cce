"""The offline map (issue 11): tiles from a local MBTiles file the test generates (sqlite3 + PNG tiles drawn
with OpenCV, each a colour with its z/x/y written on it, covering the simulated commune's cameras at three
zooms), served by /tiles/{z}/{x}/{y}.png to signed-in users; and, without tiles, each hamlet drawn as an
outline around its cameras with its name. Real app on 127.0.0.1, real SQLite fleet, Debian's chromium.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from sqlmodel import Session, select

from camsvc.config import DashboardSettings
from camsvc.models import Camera
from camsvc.web.outlines import hamlet_outlines
from tests.utils.auth import headers
from tests.utils.browser import doc_shot, open_dash, wait_js
from tests.web.conftest import Dash, _fleet
from tests.web.live import LiveServer

ZOOMS = (14, 15, 16)
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def tile_png(z: int, x: int, y: int) -> bytes:
    img = np.full((256, 256, 3), ((x * 47) % 120 + 120, (y * 83) % 120 + 120, (z * 37) % 120 + 110), np.uint8)
    cv2.rectangle(img, (0, 0), (255, 255), (90, 90, 90), 1)
    cv2.putText(img, f"{z}/{x}/{y}", (20, 135), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (40, 40, 40), 2, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def make_mbtiles(
    path: Path, bounds: tuple[float, float, float, float], zooms: tuple[int, ...] = ZOOMS, fmt: str = "png"
) -> dict[tuple[int, int, int], bytes]:
    """An MBTiles 1.3 file covering bounds (west, south, east, north); returns {(z, x, y_xyz): bytes}."""
    w, s, e, n = bounds
    tiles: dict[tuple[int, int, int], bytes] = {}
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.execute(
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
    )
    con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    meta = {
        "name": "Xã thử nghiệm",
        "format": fmt,
        "minzoom": str(min(zooms)),
        "maxzoom": str(max(zooms)),
        "bounds": f"{w},{s},{e},{n}",
        "center": f"{(w + e) / 2},{(s + n) / 2},{zooms[1] if len(zooms) > 1 else zooms[0]}",
        "attribution": "Test tiles <script>not markup</script>",
        "type": "baselayer",
    }
    con.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
    for z in zooms:
        x0, y0 = lonlat_to_tile(w, n, z)
        x1, y1 = lonlat_to_tile(e, s, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = tile_png(z, x, y)
                if fmt == "jpg":
                    ok, buf = cv2.imencode(
                        ".jpg", cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                    )
                    data = buf.tobytes()
                tiles[(z, x, y)] = data
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
    con.commit()
    con.close()
    return tiles


def fleet_bounds(engine: Any) -> tuple[float, float, float, float]:
    with Session(engine) as s:
        pts = [(c.longitude, c.latitude) for c in s.exec(select(Camera)).all() if c.latitude is not None]
    lons = [p[0] for p in pts]
    lats = [p[1] for p in pts]
    pad = 0.004
    return min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad


class Offline:
    def __init__(self, dash: Dash, path: Path, tiles: dict[tuple[int, int, int], bytes]) -> None:
        self.dash, self.path, self.tiles = dash, path, tiles
        self.url = dash.url


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offline]:
    from camsvc.app import create_app

    tmp = tmp_path_factory.mktemp("offline")
    settings, engine, sample, now = _fleet(tmp)
    path = tmp / "commune.mbtiles"
    tiles = make_mbtiles(path, fleet_bounds(engine))
    settings = settings.model_copy(update={"dashboard": DashboardSettings(mbtiles=path)})
    with LiveServer(create_app(settings, start_runtime=False)) as srv:
        yield Offline(Dash(srv.url, engine, sample, settings, now), path, tiles)
    engine.dispose()


def _client(o: Offline, role: str | None = "viewer") -> httpx.Client:
    h = headers(o.dash.engine, role) if role else {}
    return httpx.Client(base_url=o.url, headers=h, timeout=10)


# ------------------------------------------------------------------------------------------ the route
def test_tile_route_flips_tms_rows_and_sets_type_and_cache(offline: Offline) -> None:
    (z, x, y), data = next(iter(sorted(offline.tiles.items())))
    with _client(offline) as c:
        r = c.get(f"/tiles/{z}/{x}/{y}.png")
        assert r.status_code == 200, r.text
        assert r.content == data  # the XYZ row asked for, stored as TMS row 2^z-1-y
        assert r.headers["content-type"] == "image/png"
        assert "max-age" in r.headers["cache-control"] and "private" in r.headers["cache-control"]
        etag = r.headers["etag"]
        again = c.get(f"/tiles/{z}/{x}/{y}.png", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        # the row as TMS numbers it is another tile (or none): proof the route flips
        flipped = c.get(f"/tiles/{z}/{x}/{(1 << z) - 1 - y}.png")
        assert flipped.status_code == 404 or flipped.content != data
        assert c.get(f"/tiles/{z}/{x + 500}/{y}.png").status_code == 404  # not in the file
        assert c.get("/tiles/3/9/1.png").status_code == 404  # x beyond 2^z
        assert c.get(f"/tiles/{z}/{x}/{y}.gif").status_code == 404
    with _client(offline, None) as anon:
        assert anon.get(f"/tiles/{z}/{x}/{y}.png").status_code == 401


def test_page_config_points_at_local_tiles(offline: Offline) -> None:
    import json
    import re

    with _client(offline) as c:
        html = c.get("/").text
    cfg = json.loads(
        re.search(r'<script type="application/json" id="camsvc-config">(.*?)</script>', html, re.S)[1]
    )
    assert cfg["tileUrl"] == "/tiles/{z}/{x}/{y}.png" and cfg["tileSource"] == "mbtiles"
    assert (cfg["tileMinZoom"], cfg["tileMaxZoom"]) == (min(ZOOMS), max(ZOOMS))
    (s, w), (n, e) = cfg["tileBounds"]
    assert s < n and w < e and len(cfg["mapCenter"]) == 3
    assert "<script>" not in cfg["tileAttribution"]  # the file's text, escaped (Leaflet writes it as HTML)


def test_content_type_from_metadata_and_broken_files(tmp_path: Path) -> None:
    from camsvc.web.tiles import MBTilesError, read_tile, read_tileset, tile_config

    jpg = tmp_path / "j.mbtiles"
    tiles = make_mbtiles(jpg, (105.80, 21.00, 105.81, 21.01), zooms=(15,), fmt="jpg")
    ts = read_tileset(jpg)
    assert ts.content_type == "image/jpeg" and ts.minzoom == ts.maxzoom == 15
    (z, x, y), data = next(iter(tiles.items()))
    assert read_tile(jpg, z, x, y) == data

    class S:  # the two settings tile_config reads
        class dashboard:
            mbtiles: Path | None = None

    S.dashboard.mbtiles = jpg
    assert tile_config(S)["tileUrl"] == "/tiles/{z}/{x}/{y}.jpg"
    not_db = tmp_path / "notes.mbtiles"
    not_db.write_text("this is not SQLite")
    empty = tmp_path / "empty.mbtiles"
    sqlite3.connect(empty).execute("CREATE TABLE other (a)").connection.close()
    for bad, words in (
        (tmp_path / "missing.mbtiles", "not found"),
        (not_db, "not an MBTiles file"),
        (empty, "no tiles or metadata table"),
    ):
        with pytest.raises(MBTilesError) as err:
            read_tileset(bad)
        assert str(bad) in str(err.value) and words in str(err.value)
        S.dashboard.mbtiles = bad
        cfg = tile_config(S)
        assert cfg["tileUrl"] == "" and str(bad) in cfg["tileError"]


def test_a_broken_file_is_named_on_the_page_and_the_route_says_503(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from camsvc.app import create_app
    from camsvc.config import Settings

    bad = tmp_path / "broken.mbtiles"
    bad.write_bytes(b"\x00" * 300)
    settings = Settings(data_dir=tmp_path / "d", dashboard=DashboardSettings(mbtiles=bad))
    from camsvc.db import make_engine, upgrade
    from tests.utils.auth import add_users

    engine = make_engine(settings.db_url)
    upgrade(engine)
    add_users(engine)
    with TestClient(create_app(settings, start_runtime=False), base_url="http://127.0.0.1") as c:
        h = headers(engine, "viewer")
        page = c.get("/", headers=h)
        assert page.status_code == 200 and str(bad) in page.text and "tileError" in page.text
        r = c.get("/tiles/15/1/1.png", headers=h)
        assert r.status_code == 503 and str(bad) in r.json()["detail"]
    engine.dispose()


def test_outlines_route_in_scope_only(offline: Offline) -> None:
    with Session(offline.dash.engine) as s:
        cams = [c for c in s.exec(select(Camera)).all() if c.latitude is not None and c.hamlet]
    by: dict[str, list[tuple[float, float]]] = {}
    for c in cams:
        by.setdefault(c.hamlet, []).append((c.latitude, c.longitude))
    with _client(offline) as c:
        got = c.get("/api/hamlets/outlines").json()
    assert got["outlines"] == hamlet_outlines(by)  # the pure function over the caller's cameras
    assert {o["hamlet"] for o in got["outlines"]} == set(by)
    with _client(offline, None) as anon:
        assert anon.get("/api/hamlets/outlines").status_code == 401


# ------------------------------------------------------------------------------------------ in the browser
@pytest.mark.browser
@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_the_map_shows_the_generated_tiles(
    offline: Offline, page_factory: Any, tmp_path: Path, size: str
) -> None:
    w, h = SIZES[size]
    extra = {"is_mobile": True, "has_touch": True} if size == "phone" else {}
    page = page_factory(w, h, **extra)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_dash(page, offline.url)
    wait_js(
        page, "camsvc.tileCount() > 0 && document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0"
    )
    page.wait_for_timeout(300)  # the tiles' fade-in
    tiles = page.evaluate(
        """() => Array.from(document.querySelectorAll('#map img.leaflet-tile-loaded'))
             .map((i) => ({src: i.src, w: i.naturalWidth, h: i.naturalHeight}))"""
    )
    assert tiles and all(t["w"] == 256 and t["h"] == 256 for t in tiles), tiles
    assert all(t["src"].startswith(offline.url + "/tiles/") for t in tiles)
    assert not page.evaluate("camsvc.noTiles()")
    assert page.locator("#map-note").is_hidden()
    assert any("/tiles/" in u for u in requests)
    off = [u for u in requests if not u.startswith(offline.url) and not u.startswith("data:")]
    assert off == [], off  # nothing leaves 127.0.0.1
    zoom = page.evaluate("camsvc.map().getZoom()")
    assert zoom >= min(ZOOMS) - 2
    shot = tmp_path / f"map-offline-{size}.png"
    page.screenshot(path=str(shot))
    doc_shot(shot, f"map-offline-{size}.png")


@pytest.mark.browser
def test_without_tiles_hamlets_are_outlined_with_names(dash: Dash, page_factory: Any, tmp_path: Path) -> None:
    page = page_factory(1400, 900)
    open_dash(page, dash.url)  # the shared fleet: its tile URL never answers
    wait_js(page, "camsvc.noTiles() && camsvc.outlines().length > 0")
    with httpx.Client(base_url=dash.url, headers=headers(dash.engine, "viewer"), timeout=10) as c:
        names = {o["hamlet"] for o in c.get("/api/hamlets/outlines").json()["outlines"]}
    assert page.evaluate("camsvc.outlines().length") == len(names)
    assert page.locator("#map path.hamlet-outline").count() == len(names)
    page.evaluate("camsvc.map().setZoom(15, {animate: false})")
    labels = set(
        page.evaluate("Array.from(document.querySelectorAll('#map .hamlet-label')).map((e) => e.textContent)")
    )
    assert labels == names
    page.evaluate(
        "(() => { const m = camsvc.map(); m.fitBounds(CS.map.cluster().getBounds(), {animate: false}); })()"
    )
    page.wait_for_timeout(400)
    shot = tmp_path / "map-outlines-desktop.png"
    page.screenshot(path=str(shot))
    doc_shot(shot, "map-outlines-desktop.png")
