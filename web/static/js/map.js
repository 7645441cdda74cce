/* The map: one marker per camera coloured AND shaped by what the dashboard shows (CS.shown: a state, "stale"
 * or "disabled"), clustered when zoomed out (a cluster takes the worst state of the enabled cameras inside
 * it; disabled ones never colour it). Tiles from the local MBTiles file (/tiles/..., cfg.tileMinZoom/
 * tileMaxZoom/tileBounds/mapCenter) or Settings.tile_url; with no tiles, each hamlet is drawn as an outline
 * around its cameras with its name (/api/hamlets/outlines, fetched only then). Updates touch only the
 * markers that changed (setIcon + refreshClusters). */
(function () {
  "use strict";
  const CS = window.CS;
  const M = (CS.map = {});

  const Z_OFFSET = { down: 5000, degraded: 4000, stale: 3000, unknown: 2000, maintenance: 1000, up: 0, disabled: -500 };
  const SIZE = { down: 28, degraded: 26, stale: 24, unknown: 22, maintenance: 22, up: 22, disabled: 20 };

  let map = null;
  let cluster = null;
  let tiles = null;
  let tileLoaded = false;
  let tileErrors = 0;
  let noTiles = false;
  let hamletLabels = null;
  let outlineLayer = null;
  let outlineSeq = 0;
  let outlinesWanted = false;
  let selectedId = null;
  let moving = false;
  let onSelect = () => {};
  const markers = new Map(); // camera id -> L.Marker (options.state, options.camId)
  const inCluster = new Set(); // ids whose marker is in the cluster group (passes the filters)
  const icons = {};

  function hasCoords(c) {
    return typeof c.lat === "number" && typeof c.lon === "number" && isFinite(c.lat) && isFinite(c.lon);
  }

  function markerIcon(state, selected, disabled, delayed) {
    // delayed (issue 12): the camera's probe node has results not yet in the database (an amber ring)
    const key = state + (selected ? ":sel" : "") + (disabled ? ":off" : "") + (delayed ? ":late" : "");
    if (!icons[key]) {
      const size = SIZE[state] + (selected ? 8 : 0);
      icons[key] = L.divIcon({
        className: "cm cm-" + state + (selected ? " cm-sel" : "") + (disabled ? " cm-off" : "") + (delayed ? " cm-delayed" : ""),
        html: CS.iconHtml(state),
        iconSize: [size, size],
      });
    }
    return icons[key];
  }

  function markerTitle(c) {
    const shown = CS.shown(c);
    const late = c.delayed ? " — " + CS.t("delayed.badge") : "";
    if (shown === "stale") return c.name + " — " + CS.t("stale.title", { state: CS.stateText(c.state || "unknown") }) + late;
    return c.name + " — " + CS.stateText(shown) + late;
  }

  function clusterIcon(cl) {
    const kids = cl.getAllChildMarkers();
    const n = {};
    for (const s of CS.SHOWN) n[s] = 0;
    for (let i = 0; i < kids.length; i++) n[kids[i].options.state]++;
    // the worst of the monitored cameras; "disabled" only for a cluster of nothing but disabled cameras
    let worst = "disabled";
    for (const s of CS.SHOWN) {
      if (n[s]) {
        worst = s;
        break;
      }
    }
    const total = kids.length;
    const size = total < 10 ? 36 : total < 100 ? 42 : total < 1000 ? 48 : 54;
    const parts = CS.SHOWN.filter((s) => n[s]).map((s) => n[s] + " " + CS.stateText(s));
    const label = CS.t("map.cluster", { n: total, detail: parts.join(", ") });
    // Only numbers and our own translated words go into this markup, never camera data.
    let badge = "";
    if (n.down && worst === "down") badge = '<span class="cl-badge">' + n.down + "</span>";
    else if (n.degraded && worst === "degraded") badge = '<span class="cl-badge">' + n.degraded + "</span>";
    const html =
      '<div class="cl-in" role="img" aria-label="' + label + '" title="' + label + '">' +
      CS.iconHtml(worst) + "<b>" + total + "</b></div>" + badge;
    return L.divIcon({ html: html, className: "cl cl-" + worst, iconSize: L.point(size, size) });
  }

  function noteText() {
    const note = document.getElementById("map-note");
    if (!note) return;
    // the configured MBTiles file cannot be used: say which and why (the server's words name the path)
    if (CS.cfg.tileError) note.textContent = CS.t("map.tiles_error", { error: CS.cfg.tileError });
    else note.textContent = CS.t("map.no_tiles");
  }

  function setNoTiles(on) {
    if (on === noTiles) return;
    noTiles = on;
    map.getContainer().classList.toggle("no-tiles", on);
    const note = document.getElementById("map-note");
    if (note) {
      note.removeAttribute("data-i18n"); // worded here (relabel), not by applyTranslations
      noteText();
      note.hidden = !on;
    }
    if (on) loadOutlines();
    const layers = [hamletLabels, outlineLayer];
    for (const l of layers) {
      if (!l) continue;
      if (on) l.addTo(map);
      else l.remove();
    }
  }

  M.init = function (el, opts) {
    onSelect = opts.onSelect || onSelect;
    const cfg = CS.cfg;
    const local = cfg.tileSource === "mbtiles" && !!cfg.tileUrl;
    const minZoom = local && typeof cfg.tileMinZoom === "number" ? Math.max(3, cfg.tileMinZoom - 2) : 3;
    map = L.map(el, { minZoom: minZoom, maxZoom: 19, zoomSnap: 0.5, worldCopyJump: false });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.createPane("outlines").style.zIndex = 350; // above the tiles, below markers
    // until the cameras are known: the MBTiles file's centre (or bounds), else Viet Nam
    if (Array.isArray(cfg.mapCenter)) map.setView([cfg.mapCenter[0], cfg.mapCenter[1]], Math.max(minZoom, cfg.mapCenter[2] || 14));
    else if (Array.isArray(cfg.tileBounds)) map.fitBounds(cfg.tileBounds, { animate: false });
    else map.setView([16.0, 106.0], 6);
    if (cfg.tileUrl) {
      const tileOpts = { maxZoom: 19, attribution: cfg.tileAttribution || "", crossOrigin: false };
      if (local) {
        // the file's own zooms: beyond them Leaflet scales the nearest level (no request for missing tiles)
        if (typeof cfg.tileMinZoom === "number") tileOpts.minNativeZoom = cfg.tileMinZoom;
        if (typeof cfg.tileMaxZoom === "number") tileOpts.maxNativeZoom = cfg.tileMaxZoom;
        if (Array.isArray(cfg.tileBounds)) tileOpts.bounds = cfg.tileBounds;
      }
      tiles = L.tileLayer(cfg.tileUrl, tileOpts);
      tiles.on("tileload", () => {
        tileLoaded = true;
        setNoTiles(false);
      });
      tiles.on("tileerror", () => {
        tileErrors++;
        if (!tileLoaded && tileErrors >= 2) setNoTiles(true);
      });
      tiles.addTo(map);
      // Tiles that never answer (no internet, no DNS) leave a plain background too: say so after a while.
      setTimeout(() => {
        if (!tileLoaded) setNoTiles(true);
      }, 8000);
    } else {
      setTimeout(() => setNoTiles(true), 0); // the MBTiles file is missing or broken (cfg.tileError)
    }

    cluster = L.markerClusterGroup({
      chunkedLoading: true,
      chunkInterval: 150,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      removeOutsideVisibleBounds: true,
      maxClusterRadius: (z) => (z >= 17 ? 35 : 60),
      disableClusteringAtZoom: 19,
      iconCreateFunction: clusterIcon,
    });
    map.addLayer(cluster);
    // hamlet names only where they have room (they overlap the clusters when zoomed far out)
    const zoomClass = () => map.getContainer().classList.toggle("z-far", map.getZoom() < 13);
    map.on("zoomend", zoomClass);
    zoomClass();

    const legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      const box = CS.h("div", { class: "legend", role: "list" });
      for (const s of CS.SHOWN) {
        box.appendChild(
          CS.h(
            "div",
            { class: "legend-item", role: "listitem" },
            CS.icon(s, "legend-ico"),
            CS.h("span", { "data-i18n": "state." + s, text: CS.stateText(s) })
          )
        );
      }
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    legend.addTo(map);
  };

  /** Changed (or new, or removed) cameras; `matches` says whether a camera passes the filters. */
  M.update = function (cams, removedIds, matches) {
    const toAdd = [];
    const toRemove = [];
    const toRefresh = [];
    for (const id of removedIds || []) {
      const m = markers.get(id);
      if (!m) continue;
      if (inCluster.has(id)) toRemove.push(m);
      inCluster.delete(id);
      markers.delete(id);
    }
    for (const c of cams) {
      let m = markers.get(c.id);
      if (!hasCoords(c)) {
        if (m) {
          if (inCluster.has(c.id)) toRemove.push(m);
          inCluster.delete(c.id);
          markers.delete(c.id);
        }
        continue;
      }
      const disabled = c.enabled === false;
      const shown = CS.shown(c);
      if (!m) {
        m = L.marker([c.lat, c.lon], {
          icon: markerIcon(shown, c.id === selectedId, disabled, !!c.delayed),
          title: markerTitle(c),
          delayed: !!c.delayed,
          keyboard: true,
          riseOnHover: true,
          zIndexOffset: Z_OFFSET[shown],
          state: shown,
          disabled: disabled,
          camId: c.id,
        });
        m.on("click", () => onSelect(c.id, "map"));
        m.on("keypress", (e) => {
          if (e.originalEvent && (e.originalEvent.key === "Enter" || e.originalEvent.key === " ")) {
            onSelect(c.id, "map");
          }
        });
        markers.set(c.id, m);
      } else {
        const ll = m.getLatLng();
        if (ll.lat !== c.lat || ll.lng !== c.lon) m.setLatLng([c.lat, c.lon]);
        if (m.options.state !== shown || m.options.disabled !== disabled || m.options.title !== markerTitle(c)) {
          m.options.state = shown;
          m.options.disabled = disabled;
          m.options.delayed = !!c.delayed;
          m.options.title = markerTitle(c);
          m.setZIndexOffset(Z_OFFSET[shown]);
          m.setIcon(markerIcon(shown, c.id === selectedId, disabled, !!c.delayed));
          const el = m.getElement();
          if (el) el.title = m.options.title;
          if (inCluster.has(c.id)) toRefresh.push(m);
        }
      }
      const want = matches(c);
      if (want && !inCluster.has(c.id)) {
        toAdd.push(m);
        inCluster.add(c.id);
      } else if (!want && inCluster.has(c.id)) {
        toRemove.push(m);
        inCluster.delete(c.id);
      }
    }
    if (toRemove.length) cluster.removeLayers(toRemove);
    if (toAdd.length) cluster.addLayers(toAdd);
    if (toRefresh.length) cluster.refreshClusters(toRefresh);
  };

  /** Filters changed: add/remove only the markers whose visibility changed. */
  M.refilter = function (cams, matches) {
    const toAdd = [];
    const toRemove = [];
    for (const c of cams) {
      const m = markers.get(c.id);
      if (!m) continue;
      const want = matches(c);
      if (want && !inCluster.has(c.id)) {
        toAdd.push(m);
        inCluster.add(c.id);
      } else if (!want && inCluster.has(c.id)) {
        toRemove.push(m);
        inCluster.delete(c.id);
      }
    }
    if (toRemove.length) cluster.removeLayers(toRemove);
    if (toAdd.length) cluster.addLayers(toAdd);
  };

  /** Re-label clusters and markers after a language switch. */
  M.relabel = function (cams) {
    for (const c of cams) {
      const m = markers.get(c.id);
      if (m) {
        m.options.title = markerTitle(c);
        const el = m.getElement();
        if (el) el.title = m.options.title;
      }
    }
    cluster.refreshClusters();
    const legend = map.getContainer().querySelector(".legend");
    if (legend) CS.applyTranslations(legend);
    noteText();
  };

  M.select = function (id, cam, pan) {
    const prev = selectedId && markers.get(selectedId);
    if (prev) prev.setIcon(markerIcon(prev.options.state, false, prev.options.disabled, prev.options.delayed));
    selectedId = id;
    const m = id && markers.get(id);
    if (!m) return;
    m.setIcon(markerIcon(m.options.state, true, m.options.disabled, m.options.delayed));
    if (!pan) return;
    if (inCluster.has(id)) {
      moving = true;
      cluster.zoomToShowLayer(m, () => (moving = false));
      setTimeout(() => (moving = false), 3000); // never stuck if Leaflet skips the callback
    } else {
      map.setView(m.getLatLng(), Math.max(map.getZoom(), 17));
    }
  };

  M.fit = function (cams) {
    const pts = cams.filter(hasCoords).map((c) => [c.lat, c.lon]);
    if (!pts.length) return;
    const b = L.latLngBounds(pts);
    map.fitBounds(b.pad(0.05), { maxZoom: 17, animate: false });
  };

  /** The registry changed: outlines are re-read the next time they are shown (now, if shown). */
  M.setHamlets = function () {
    outlinesWanted = true;
    if (noTiles) loadOutlines();
  };

  /** Each hamlet as an outline around its cameras with its name (from the server, the caller's hamlets
   * only): orientation when there are no tiles. Asked for only when the map has no tiles. */
  async function loadOutlines() {
    if (!outlinesWanted && outlineLayer) return;
    outlinesWanted = false;
    const my = ++outlineSeq;
    let body;
    try {
      body = (await CS.api("/api/hamlets/outlines")).body;
    } catch (e) {
      outlinesWanted = true; // the next registry change or no-tiles moment tries again
      return;
    }
    if (my !== outlineSeq) return;
    const polys = L.layerGroup();
    const labels = L.layerGroup();
    for (const o of body.outlines || []) {
      polys.addLayer(
        L.polygon(o.polygon, { pane: "outlines", className: "hamlet-outline", interactive: false, weight: 2, fillOpacity: 0.08 })
      );
      const mk = L.marker(o.label, {
        icon: L.divIcon({ className: "hamlet-label", html: "", iconSize: null }),
        interactive: false,
        keyboard: false,
        zIndexOffset: -1000,
      });
      mk.on("add", () => {
        const el = mk.getElement();
        if (el) el.textContent = o.hamlet; // text, never HTML
      });
      labels.addLayer(mk);
    }
    if (outlineLayer) outlineLayer.remove();
    if (hamletLabels) hamletLabels.remove();
    outlineLayer = polys;
    hamletLabels = labels;
    if (noTiles) {
      outlineLayer.addTo(map);
      hamletLabels.addTo(map);
    }
  }

  /** The page lost the server: markers are drawn as not current (greyed), not as stale. */
  M.setLost = (on) => map && map.getContainer().classList.toggle("lost", !!on);
  M.outlines = () => {
    const out = [];
    if (outlineLayer && noTiles) outlineLayer.eachLayer((l) => out.push(l.getLatLngs()[0].length));
    return out;
  };
  M.tileCount = () => (tiles ? Object.keys(tiles._tiles || {}).length : 0);

  M.invalidate = () => map && map.invalidateSize();
  M.count = () => (cluster ? cluster.getLayers().length : 0);
  M.markerState = (id) => (markers.has(id) ? markers.get(id).options.state : null);
  M.noTiles = () => noTiles;
  M.moving = () => moving;
  M.leaflet = () => map;
  M.cluster = () => cluster;
})();
