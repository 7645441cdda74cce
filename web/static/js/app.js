/* The dashboard's state and wiring: the camera store, the refresh loop, filters, counts, hamlet summary,
 * language switch, phone view toggle, ?camera=<id>.
 *
 * Refresh: one full /api/map at start (and every 10 minutes, and when the registry changes), then a poll of
 * /web/changes?cursor=... every few seconds that returns only the cameras whose state, cause or
 * acknowledgement changed (usually nothing: ~100 bytes). /api/status (counts, hamlets) is re-read only when
 * something changed. Polling pauses while the tab is hidden. */
(function () {
  "use strict";
  const CS = window.CS;
  const A = (CS.app = {});
  const h = CS.h;

  const FULL_RESYNC_MS = 10 * 60 * 1000;
  const MAX_BACKOFF_MS = 15000; // while the server is lost: retry at least this often

  const cams = new Map(); // id -> camera (the /api/map item + _v, _key, _rank)
  let order = []; // ids, filtered and sorted
  let cursor = null;
  let mapEtag = null;
  let lastFull = 0;
  let pollTimer = 0;
  let failures = 0;
  let offlineSince = null;
  let lastOk = null;
  let status = null;
  let firstLoad = true;
  let selected = null;
  let pollCount = 0;
  const filters = { q: "", hamlet: "", kind: "", state: "" };
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------- the store
  function searchKey(c) {
    return CS.fold([c.id, c.name, c.address, c.hamlet].join(" "));
  }
  function sameCam(a, b) {
    return (
      a.state === b.state && a.since === b.since && a.cause === b.cause && a.acknowledged === b.acknowledged &&
      !!a.stale === !!b.stale && !!a.delayed === !!b.delayed &&
      a.name === b.name && a.enabled === b.enabled && a.lat === b.lat && a.lon === b.lon &&
      a.hamlet === b.hamlet && a.kind === b.kind && a.address === b.address
    );
  }
  /** Put cameras into the store; returns the ones that really changed (new or different). */
  function upsert(items) {
    const changed = [];
    for (const c of items) {
      const old = cams.get(c.id);
      if (old && sameCam(old, c)) {
        old.last_check_at = c.last_check_at;
        continue;
      }
      c._v = old ? old._v + 1 : 1;
      c._key = searchKey(c);
      c._since = c.since ? (CS.parseTime(c.since) || new Date(0)).getTime() : Infinity;
      cams.set(c.id, c);
      changed.push(c);
    }
    return changed;
  }

  /** The feed says which cameras are stale now (the whole set, with their last check): others are not. */
  function applyStale(set) {
    const changed = [];
    for (const c of cams.values()) {
      const now = Object.prototype.hasOwnProperty.call(set, c.id);
      if (now) c.last_check_at = set[c.id] || c.last_check_at;
      if (!!c.stale !== now) {
        c.stale = now;
        c._v++;
        changed.push(c);
      }
    }
    return changed;
  }

  /** The feed says which cameras are delayed now (issue 12: the whole set, ids): others are not. */
  function applyDelayed(list) {
    const set = new Set(list);
    const changed = [];
    for (const c of cams.values()) {
      const now = set.has(c.id);
      if (!!c.delayed !== now) {
        c.delayed = now;
        c._v++;
        changed.push(c);
      }
    }
    return changed;
  }

  function matches(c) {
    if (filters.state && CS.shown(c) !== filters.state) return false;
    if (filters.kind && c.kind !== filters.kind) return false;
    if (filters.hamlet && c.hamlet !== filters.hamlet) return false;
    if (filters.q && !c._key.includes(filters.q)) return false;
    return true;
  }

  const collator = new Intl.Collator("vi", { numeric: true });
  function compare(a, b) {
    const as = CS.shown(a);
    const bs = CS.shown(b);
    const r = CS.RANK[as] - CS.RANK[bs]; // disabled last
    if (r) return r;
    if ((as === "down" || as === "degraded" || as === "maintenance") && a._since !== b._since) {
      return a._since - b._since; // longest first
    }
    if (as === "stale" && a.last_check_at !== b.last_check_at) return a.last_check_at < b.last_check_at ? -1 : 1; // oldest check first
    return collator.compare(a.name, b.name) || (a.id < b.id ? -1 : 1);
  }

  function rebuildList() {
    const list = [];
    for (const c of cams.values()) if (matches(c)) list.push(c);
    list.sort(compare);
    order = list.map((c) => c.id);
    CS.list.setItems(order);
    $("shown").textContent = CS.t("filter.shown", { n: order.length, total: cams.size });
    $("list-empty").hidden = order.length > 0;
  }

  // ---------------------------------------------------------------------------------- loading
  async function loadFull() {
    const r = await CS.api("/api/map", mapEtag ? { headers: { "If-None-Match": mapEtag } } : undefined);
    lastFull = Date.now();
    if (r.status === 304) return [];
    mapEtag = r.headers.get("etag");
    const items = r.body.cameras || [];
    const seen = new Set(items.map((c) => c.id));
    const removed = [];
    for (const id of cams.keys()) if (!seen.has(id)) removed.push(id);
    for (const id of removed) cams.delete(id);
    const changed = upsert(items);
    CS.map.update(changed, removed, matches);
    if (changed.length || removed.length) CS.map.setHamlets(Array.from(cams.values()));
    if (changed.length || removed.length) rebuildHamletOptions();
    return changed.map((c) => c.id).concat(removed);
  }

  async function loadStatus() {
    try {
      const r = await CS.api("/api/status");
      status = r.body;
      renderCounts();
      renderHamlets();
    } catch (e) {
      /* counts stay as they were; the next change retries */
    }
  }

  let inFlight = false;
  let again = false;
  async function poll() {
    clearTimeout(pollTimer);
    pollTimer = 0;
    if (inFlight) {
      again = true; // one poll at a time: the cursor moves in order
      return;
    }
    inFlight = true;
    let changedIds = [];
    try {
      if (!cursor || Date.now() - lastFull > FULL_RESYNC_MS) {
        // the cursor first: a change landing during the full load is then seen by the next poll
        const c = await CS.api("/web/changes");
        cursor = c.body.cursor;
        changedIds = await loadFull();
      } else {
        const r = await CS.api("/web/changes?cursor=" + CS.enc(cursor));
        cursor = r.body.cursor;
        if (r.body.full) {
          changedIds = await loadFull();
        } else {
          const changed = r.body.cameras.length ? upsert(r.body.cameras) : [];
          if (r.body.stale) for (const c of applyStale(r.body.stale)) if (!changed.includes(c)) changed.push(c);
          if (r.body.delayed) for (const c of applyDelayed(r.body.delayed)) if (!changed.includes(c)) changed.push(c);
          if (changed.length) CS.map.update(changed, [], matches);
          changedIds = changed.map((c) => c.id);
        }
      }
      pollCount++;
      const wasLost = !!offlineSince;
      failures = 0;
      offlineSince = null;
      lastOk = new Date(CS.now());
      if (wasLost) setLost(false);
      if (changedIds.length || firstLoad || wasLost) {
        rebuildList();
        await loadStatus();
        const cur = CS.details.current();
        if (cur && (wasLost || changedIds.includes(cur))) CS.details.changed(cur);
        renderShown();
      }
      if (firstLoad) {
        firstLoad = false;
        document.body.classList.remove("loading");
        CS.map.fit(Array.from(cams.values()));
        if (CS.cfg.camera) openCamera(CS.cfg.camera, "url");
        document.body.dataset.ready = "1";
      }
    } catch (e) {
      failures++;
      if (!offlineSince) {
        offlineSince = new Date(CS.now());
        // after this the page resyncs everything: what happened meanwhile is not in one change answer
        lastFull = 0;
      }
      if (firstLoad) $("load-error").textContent = CS.t("error.load", { error: e.message });
      $("load-error").hidden = !firstLoad;
      if (!firstLoad) setLost(true);
    } finally {
      inFlight = false;
    }
    renderUpdated();
    if (again) {
      again = false;
      A.pollSoon();
    } else schedule();
  }

  function schedule() {
    clearTimeout(pollTimer);
    if (document.hidden) return; // resumes on visibilitychange
    const base = CS.cfg.refreshMs;
    const wait = failures ? Math.min(MAX_BACKOFF_MS, base * Math.pow(2, Math.min(failures, 6))) : base;
    pollTimer = setTimeout(poll, wait);
  }
  A.pollSoon = function () {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, 200);
  };

  // ---------------------------------------------------------------------------------- rendering
  /** The banner for a page that lost the server (not a camera problem: no stale colours, markers greyed
   * as "not current"); it goes, and everything is re-read, at the first answer. */
  function setLost(on) {
    const el = $("lost");
    document.body.classList.toggle("lost", on);
    CS.map.setLost(on);
    if (!el) return;
    el.hidden = !on;
    if (on) {
      el.querySelector(".lost-text").textContent = CS.t("lost.banner", {
        time: CS.fmtTime(offlineSince, { timeOnly: true }),
      });
    }
  }
  A.lost = () => !!offlineSince;

  function renderCounts() {
    if (!status) return;
    const shown = status.shown || status.by_state; // "shown": stale cameras counted apart
    for (const s of CS.STATES.concat(["stale"])) {
      const n = shown[s] || 0;
      const num = $("count-" + s);
      if (!num) continue;
      num.textContent = String(n);
      const btn = document.querySelector('.count[data-state="' + s + '"]');
      btn.classList.toggle("zero", n === 0);
      if (s === "stale") btn.hidden = n === 0 && filters.state !== "stale";
      btn.setAttribute("aria-label", n + " " + CS.stateText(s) + ". " + CS.t("counts.filter_hint"));
    }
    $("count-total").textContent = String(status.total);
    const dis = $("count-disabled");
    dis.hidden = !status.disabled && filters.state !== "disabled";
    $("count-disabled-n").textContent = String(status.disabled || 0);
    dis.setAttribute("aria-label", CS.t("counts.disabled", { n: status.disabled || 0 }) + ". " + CS.t("counts.filter_hint"));
    document.title = (status.by_state.down ? "(" + status.by_state.down + ") " : "") + CS.t("app.title");
  }

  /** Above the open camera's details: what the dashboard shows when it is not the recorded state
   * ("Stale — last known: Up, checked 14:02"; "Disabled — not monitored"). */
  function renderShown() {
    const el = $("d-shown");
    if (!el) return;
    const c = selected ? cams.get(selected) : null;
    const shown = CS.shown(c);
    if (c && c.delayed && shown !== "stale" && shown !== "disabled") {
      // issue 12: the camera's probe node has results not yet in the database
      el.className = "d-shown st-delayed";
      el.replaceChildren(h("strong", { text: CS.t("delayed.badge") }), h("span", { text: " — " + CS.t("delayed.details") }));
      el.hidden = false;
      return;
    }
    if (!c || (shown !== "stale" && shown !== "disabled")) {
      el.hidden = true;
      el.replaceChildren();
      return;
    }
    const text =
      shown === "stale"
        ? CS.t("stale.details", {
            state: CS.stateText(c.state || "unknown"),
            time: CS.fmtTime(c.last_check_at, { short: true }),
            ago: CS.fmtDuration(CS.age(c.last_check_at)),
          })
        : CS.t("disabled.details");
    el.className = "d-shown st-" + shown;
    el.replaceChildren(CS.icon(shown), h("strong", { text: CS.stateText(shown) }), h("span", { text: " — " + text }));
    el.hidden = false;
  }

  function renderUpdated() {
    const el = $("updated");
    el.classList.toggle("offline", !!offlineSince);
    if (offlineSince) {
      el.textContent = CS.t("updated.offline_since", { time: CS.fmtTime(offlineSince, { seconds: true, timeOnly: true }) });
    } else if (lastOk) {
      el.replaceChildren(
        h("span", { class: "upd-lbl", text: CS.t("updated.label") + " " }),
        h("span", { class: "upd-time", text: CS.fmtTime(lastOk, { seconds: true, timeOnly: true }) })
      );
    } else {
      el.textContent = CS.t("updated.never");
    }
  }

  function renderHamlets() {
    const tbody = $("hamlet-rows");
    if (!status) return;
    const rows = [];
    for (const name of Object.keys(status.by_hamlet)) {
      const c = status.by_hamlet[name];
      const total = CS.STATES.reduce((a, s) => a + (c[s] || 0), 0);
      rows.push({ name: name, c: c, total: total });
    }
    rows.sort(
      (a, b) => b.c.down - a.c.down || b.c.degraded - a.c.degraded || (b.c.stale || 0) - (a.c.stale || 0) || a.name.localeCompare(b.name, "vi")
    );
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const label = r.name || CS.t("hamlets.none");
      const btn = h("button", { type: "button", class: "linkish", text: label, title: CS.t("hamlets.show", { hamlet: label }) });
      btn.addEventListener("click", () => {
        setFilter("hamlet", r.name);
        showTab("cameras");
        CS.map.fit(Array.from(cams.values()).filter((c) => c.hamlet === r.name));
      });
      const pct = r.total ? Math.round((100 * (r.c.up || 0)) / r.total) : 0;
      const cells = ["down", "degraded", "stale", "maintenance", "unknown"].map((s) =>
        h("td", { class: "num" + (r.c[s] ? " txt-" + s : " zero") }, r.c[s] ? [CS.icon(s), " " + r.c[s]] : "0")
      );
      frag.appendChild(
        h(
          "tr",
          { class: r.c.down ? "st-down" : r.c.degraded ? "st-degraded" : "" },
          h("th", { scope: "row" }, btn),
          h("td", { class: "num" }, String(r.total)),
          cells,
          h("td", { class: "num" }, h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: "width:" + pct + "%" })), pct + "%")
        )
      );
    }
    tbody.replaceChildren(frag);
  }

  function rebuildHamletOptions() {
    const sel = $("f-hamlet");
    const names = Array.from(new Set(Array.from(cams.values()).map((c) => c.hamlet).filter(Boolean))).sort((a, b) =>
      a.localeCompare(b, "vi")
    );
    const keep = sel.value;
    sel.replaceChildren(h("option", { value: "", "data-i18n": "filter.all_hamlets", text: CS.t("filter.all_hamlets") }));
    for (const n of names) sel.appendChild(h("option", { value: n, text: n }));
    sel.value = names.includes(keep) ? keep : "";
  }

  // ---------------------------------------------------------------------------------- filters
  function setFilter(name, value) {
    filters[name] = value;
    const input = { q: "f-q", hamlet: "f-hamlet", kind: "f-kind", state: "f-state" }[name];
    if (name !== "q" && $(input).value !== value) $(input).value = value;
    applyFilters();
  }
  function applyFilters() {
    const retry = $("lost-retry");
    if (retry) retry.addEventListener("click", () => A.pollSoon());
    window.addEventListener("online", () => A.pollSoon());
    document.querySelectorAll(".count[data-state]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.state === filters.state)));
    $("f-clear").hidden = !(filters.q || filters.hamlet || filters.kind || filters.state);
    CS.map.refilter(Array.from(cams.values()), matches);
    rebuildList();
  }

  // ---------------------------------------------------------------------------------- selection
  function openCamera(id, from) {
    const cam = cams.get(id);
    if (from === "map" && CS.clipPick && CS.clipPick.active() && cam && typeof cam.lat === "number") {
      CS.clipPick.setPoint(cam.lat, cam.lon); // picking a place for a case clip: a camera is a place too
      return;
    }
    selected = id;
    CS.list.select(id);
    CS.map.select(id, cam, from !== "map");
    CS.details.open(id);
    document.body.classList.add("details-open");
    renderShown();
    const url = new URL(window.location.href);
    url.searchParams.set("camera", id);
    window.history.replaceState(null, "", url);
    CS.map.invalidate();
  }
  function closeCamera(focusList) {
    selected = null;
    CS.details.close();
    renderShown();
    CS.list.select(null);
    CS.map.select(null);
    document.body.classList.remove("details-open");
    const url = new URL(window.location.href);
    url.searchParams.delete("camera");
    window.history.replaceState(null, "", url);
    CS.list.renderNow();
    CS.map.invalidate();
    if (focusList) CS.list.focus();
  }
  A.open = (id) => openCamera(id, "api");
  A.cameras = () => Array.from(cams.values());
  A.showStorage = function () {
    if (selected) closeCamera(false);
    setView("list");
    showTab("storage");
  };
  A.showOnMap = function (id) {
    setView("map");
    CS.map.select(id, cams.get(id), true);
  };

  // ---------------------------------------------------------------------------------- views
  function setView(v) {
    document.body.classList.toggle("view-map", v === "map");
    document.body.classList.toggle("view-list", v === "list");
    document.querySelectorAll("[data-view]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === v)));
    CS.map.invalidate();
    CS.list.renderNow();
  }
  function showTab(tab) {
    document.querySelectorAll("[data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
    $("panel-cameras").hidden = tab !== "cameras";
    $("panel-hamlets").hidden = tab !== "hamlets";
    const st = $("panel-storage");
    if (st) st.hidden = tab !== "storage";
    if (tab === "cameras") CS.list.renderNow();
  }
  function redraw(lang) {
    const url = new URL(window.location.href);
    if (url.searchParams.has("lang")) {
      url.searchParams.set("lang", lang);
      window.history.replaceState(null, "", url);
    }
    renderCounts();
    renderHamlets();
    renderUpdated();
    $("shown").textContent = CS.t("filter.shown", { n: order.length, total: cams.size });
    CS.list.refresh();
    CS.map.relabel(Array.from(cams.values()));
    CS.details.relabel();
    renderShown();
    if (offlineSince) setLost(true);
    if (CS.recording) CS.recording.renderStorage();
  }

  // ---------------------------------------------------------------------------------- start
  function start() {
    CS.languageButtons(redraw);
    CS.map.init($("map"), { onSelect: openCamera });
    CS.list.init($("cam-list"), { get: (id) => cams.get(id), onOpen: openCamera });
    CS.details.init($("details"), { onClose: closeCamera, get: (id) => cams.get(id) });
    CS.alerts.init();
    if (CS.clipPick) CS.clipPick.init(CS.map.leaflet(), { cameras: A.cameras });
    if (CS.recording) CS.recording.initStorage({ showStorage: A.showStorage });
    if (CS.about) CS.about.init();

    $("filters").addEventListener("submit", (e) => e.preventDefault());
    let qTimer = 0;
    $("f-q").addEventListener("input", (e) => {
      clearTimeout(qTimer);
      qTimer = setTimeout(() => setFilter("q", CS.fold(e.target.value)), 150);
    });
    $("f-hamlet").addEventListener("change", (e) => setFilter("hamlet", e.target.value));
    $("f-kind").addEventListener("change", (e) => setFilter("kind", e.target.value));
    $("f-state").addEventListener("change", (e) => setFilter("state", e.target.value));
    $("f-clear").addEventListener("click", () => {
      $("f-q").value = "";
      filters.q = filters.hamlet = filters.kind = filters.state = "";
      $("f-hamlet").value = $("f-kind").value = $("f-state").value = "";
      applyFilters();
    });
    const retry = $("lost-retry");
    if (retry) retry.addEventListener("click", () => A.pollSoon());
    window.addEventListener("online", () => A.pollSoon());
    document.querySelectorAll(".count[data-state]").forEach((b) =>
      b.addEventListener("click", () => setFilter("state", filters.state === b.dataset.state ? "" : b.dataset.state))
    );
    document.querySelectorAll("[data-view]").forEach((b) => b.addEventListener("click", () => setView(b.dataset.view)));
    document.querySelectorAll("[data-tab]").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) A.pollSoon();
    });
    window.addEventListener("resize", () => CS.map.invalidate());
    // durations ("2 giờ 5 phút") move on by themselves
    setInterval(() => {
      if (document.hidden) return;
      CS.list.refresh();
      renderUpdated();
      renderShown();
    }, 60000);
    setView("map");
    poll();
  }

  // Small public hooks (tests, the lead's end-to-end checks, curious technicians in the console).
  window.camsvc = {
    markerCount: () => CS.map.count(),
    markerState: (id) => CS.map.markerState(id),
    camera: (id) => (cams.has(id) ? Object.assign({}, cams.get(id)) : null),
    cameraCount: () => cams.size,
    listOrder: () => CS.list.ids(),
    open: (id) => openCamera(id, "api"),
    close: () => closeCamera(false),
    selected: () => selected,
    lang: () => CS.lang,
    noTiles: () => CS.map.noTiles(),
    lost: () => A.lost(),
    shown: (id) => (cams.has(id) ? CS.shown(cams.get(id)) : null),
    outlines: () => CS.map.outlines(),
    tileCount: () => CS.map.tileCount(),
    mapMoving: () => CS.map.moving(),
    polls: () => pollCount,
    refresh: () => poll(),
    map: () => CS.map.leaflet(),
    clipCircle: () => (CS.clipPick ? CS.clipPick.circle() : null),
    pickPoint: (lat, lon) => CS.clipPick && CS.clipPick.setPoint(lat, lon),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
