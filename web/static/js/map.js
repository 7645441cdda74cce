/* The map: one marker per camera coloured AND shaped by state, clustered when zoomed out (a cluster takes
 * the worst state inside it), tiles from Settings.tile_url; with no tiles the markers stay on a plain
 * background. Updates touch only the markers that changed (setIcon + refreshClusters). */
(function () {
  "use strict";
  const CS = window.CS;
  const M = (CS.map = {});

  const Z_OFFSET = { down: 4000, degraded: 3000, unknown: 2000, maintenance: 1000, up: 0 };
  const SIZE = { down: 28, degraded: 26, unknown: 22, maintenance: 22, up: 22 };

  let map = null;
  let cluster = null;
  let tiles = null;
  let tileLoaded = false;
  let tileErrors = 0;
  let noTiles = false;
  let hamletLabels = null;
  let selectedId = null;
  let moving = false;
  let onSelect = () => {};
  const markers = new Map(); // camera id -> L.Marker (options.state, options.camId)
  const inCluster = new Set(); // ids whose marker is in the cluster group (passes the filters)
  const icons = {};

  function hasCoords(c) {
    return typeof c.lat === "number" && typeof c.lon === "number" && isFinite(c.lat) && isFinite(c.lon);
  }

  function markerIcon(state, selected, disabled) {
    const key = state + (selected ? ":sel" : "") + (disabled ? ":off" : "");
    if (!icons[key]) {
      const size = SIZE[state] + (selected ? 8 : 0);
      icons[key] = L.divIcon({
        className: "cm cm-" + state + (selected ? " cm-sel" : "") + (disabled ? " cm-off" : ""),
        html: CS.iconHtml(state),
        iconSize: [size, size],
      });
    }
    return icons[key];
  }

  function markerTitle(c) {
    return c.name + " — " + CS.stateText(c.enabled === false ? "disabled" : c.state);
  }

  function clusterIcon(cl) {
    const kids = cl.getAllChildMarkers();
    const n = { down: 0, degraded: 0, unknown: 0, maintenance: 0, up: 0 };
    for (let i = 0; i < kids.length; i++) n[kids[i].options.state]++;
    let worst = "up";
    for (const s of CS.STATES) {
      if (n[s]) {
        worst = s;
        break;
      }
    }
    const total = kids.length;
    const size = total < 10 ? 36 : total < 100 ? 42 : total < 1000 ? 48 : 54;
    const parts = CS.STATES.filter((s) => n[s]).map((s) => n[s] + " " + CS.stateText(s));
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

  function setNoTiles(on) {
    if (on === noTiles) return;
    noTiles = on;
    map.getContainer().classList.toggle("no-tiles", on);
    const note = document.getElementById("map-note");
    if (note) note.hidden = !on;
    if (hamletLabels) {
      if (on) hamletLabels.addTo(map);
      else hamletLabels.remove();
    }
  }

  M.init = function (el, opts) {
    onSelect = opts.onSelect || onSelect;
    map = L.map(el, { minZoom: 3, maxZoom: 19, zoomSnap: 0.5, worldCopyJump: false });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.setView([16.0, 106.0], 6); // until the cameras are known
    tiles = L.tileLayer(CS.cfg.tileUrl, {
      maxZoom: 19,
      attribution: CS.cfg.tileAttribution || "",
      crossOrigin: false,
    });
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
    const zoomClass = () => map.getContainer().classList.toggle("z-far", map.getZoom() < 15);
    map.on("zoomend", zoomClass);
    zoomClass();

    const legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      const box = CS.h("div", { class: "legend", role: "list" });
      for (const s of CS.STATES) {
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
      if (!m) {
        m = L.marker([c.lat, c.lon], {
          icon: markerIcon(c.state, c.id === selectedId, disabled),
          title: markerTitle(c),
          keyboard: true,
          riseOnHover: true,
          zIndexOffset: Z_OFFSET[c.state],
          state: c.state,
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
        if (m.options.state !== c.state || m.options.disabled !== disabled || m.options.title !== markerTitle(c)) {
          m.options.state = c.state;
          m.options.disabled = disabled;
          m.options.title = markerTitle(c);
          m.setZIndexOffset(Z_OFFSET[c.state]);
          m.setIcon(markerIcon(c.state, c.id === selectedId, disabled));
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
  };

  M.select = function (id, cam, pan) {
    const prev = selectedId && markers.get(selectedId);
    if (prev) prev.setIcon(markerIcon(prev.options.state, false, prev.options.disabled));
    selectedId = id;
    const m = id && markers.get(id);
    if (!m) return;
    m.setIcon(markerIcon(m.options.state, true, m.options.disabled));
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

  /** Hamlet names at the centre of their cameras: orientation when there are no tiles. */
  M.setHamlets = function (cams) {
    const sums = new Map();
    for (const c of cams) {
      if (!hasCoords(c) || !c.hamlet) continue;
      const s = sums.get(c.hamlet) || { lat: 0, lon: 0, n: 0 };
      s.lat += c.lat;
      s.lon += c.lon;
      s.n++;
      sums.set(c.hamlet, s);
    }
    if (hamletLabels) hamletLabels.remove();
    hamletLabels = L.layerGroup();
    for (const [name, s] of sums) {
      const label = L.divIcon({ className: "hamlet-label", html: "", iconSize: null });
      const mk = L.marker([s.lat / s.n, s.lon / s.n], {
        icon: label,
        interactive: false,
        keyboard: false,
        zIndexOffset: -1000,
      });
      mk.on("add", () => {
        const el = mk.getElement();
        if (el) el.textContent = name; // text, never HTML
      });
      hamletLabels.addLayer(mk);
    }
    if (noTiles) hamletLabels.addTo(map);
  };

  M.invalidate = () => map && map.invalidateSize();
  M.count = () => (cluster ? cluster.getLayers().length : 0);
  M.markerState = (id) => (markers.has(id) ? markers.get(id).options.state : null);
  M.noTiles = () => noTiles;
  M.moving = () => moving;
  M.leaflet = () => map;
  M.cluster = () => cluster;
})();
