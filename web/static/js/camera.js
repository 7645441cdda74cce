/* The camera page (/cameras/{id}, issue 11): the camera's state, availability bars for 24 h / 7 d / 30 d
 * (GET /api/cameras/{id}/bars: one bar per hour or Hanoi day, the worst state in it), the latest picture
 * beside the reference view (only when the role may see them), charts of its checks drawn with uPlot
 * (GET /api/cameras/{id}/series, served by camsvc itself), its outages with causes and durations, and the
 * recording timeline (js/recording.js, reused as it is). Everything refreshes every 30 s (?refresh=5..300 s)
 * without reloading the page. Data from the API goes into the page as text or numbers, never as markup. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);
  const id = String(CS.cfg.camera || "");
  const base = "/api/cameras/" + CS.enc(id);
  const RANGES = ["24h", "7d", "30d"];
  const FIELDS = ["open_ms", "fps", "brightness", "sharpness"];
  const BAR_STATES = ["down", "degraded", "unknown", "maintenance", "up", "none"];
  const REFRESH_MS = (() => {
    const q = Number(new URLSearchParams(location.search).get("refresh"));
    return isFinite(q) && q >= 5 && q <= 300 ? q * 1000 : 30000; // bounded: never faster than 5 s
  })();
  const COLOURS = { line: "#1a73e8", fail: "#d93025", grid: "#e3e8ee" };

  let cam = null;
  let barsData = {}; // range -> body
  let series = null;
  let outages = [];
  let rec = null;
  let pics = null; // {latest_at, reference_set_at, has_reference} or null when not allowed / not asked
  let picsAsked = false;
  let hours = 24;
  let timer = 0;
  let seq = 0;
  let loads = 0;
  let lastOk = null;
  const charts = {}; // field -> uPlot
  const picked = {}; // range -> bar index shown in the detail line

  // ------------------------------------------------------------------------------------ header
  // What the map shows for the camera: the map's own rule when core.js has it (disabled, stale), else
  // disabled or the recorded state.
  function shownState(c) {
    if (typeof CS.shown === "function") return CS.shown(c);
    if (c.enabled === false) return "disabled";
    return c.state || "unknown";
  }
  function glyph(state) {
    // disabled and stale have their own glyphs when the page's glyph set has them
    const fallback = { disabled: "maintenance", stale: "unknown" };
    return CS.icon(fallback[state] && !document.getElementById("g-" + state) ? fallback[state] : state);
  }

  function renderHead() {
    const box = $("cam-head");
    if (!cam) return;
    if (cam._error) {
      box.replaceChildren(h("h2", { id: "cam-name", text: id }), h("p", { class: "error", text: cam._error.status === 404 ? CS.t("camera.not_found", { id: id }) : CS.t("error.load", { error: cam._error.message }) }));
      return;
    }
    const st = shownState(cam);
    document.title = cam.name + " · " + CS.t("camera.title") + " · " + CS.t("app.title");
    const since = cam.state_since;
    const state = h(
      "div",
      { class: "d-state st-" + st, id: "cam-state", "data-state": st },
      glyph(st),
      h("strong", { text: CS.t("state." + st) }),
      since && st !== "disabled" ? h("span", { class: "d-since" }, CS.t("details.since", { time: CS.fmtTime(since), duration: CS.fmtDuration(CS.age(since)) })) : null
    );
    const lines = [];
    if (cam.cause && (st === "down" || st === "degraded" || st === "maintenance")) lines.push(h("p", { class: "d-cause", id: "cam-cause" }, CS.t("camera.cause", { cause: CS.causeText(cam.cause) })));
    if (cam.enabled === false) lines.push(h("p", { class: "muted small", text: CS.t("details.enabled_no") }));
    if (cam.last_check_at) lines.push(h("p", { class: "muted small", text: CS.t("camera.last_check", { time: CS.fmtTime(cam.last_check_at, { seconds: true }) }) }));
    const sub = [h("code", { text: cam.id }), cam.kind ? CS.t("kind." + cam.kind) : "", cam.hamlet || "", cam.address || ""].filter(Boolean);
    const subEl = h("p", { class: "d-sub muted" });
    sub.forEach((x, i) => {
      if (i) subEl.appendChild(document.createTextNode(" · "));
      subEl.appendChild(x instanceof Node ? x : document.createTextNode(x));
    });
    box.replaceChildren(h("div", { class: "head-main" }, h("h2", { id: "cam-name", text: cam.name }), subEl), state, ...lines);
  }

  // ------------------------------------------------------------------------------------ bars
  function pctText(x) {
    return x == null ? "–" : CS.fmtNum(Math.floor(x * 10000) / 100, 2) + "%";
  }
  function barLabel(range, b) {
    const s = CS.parseTime(b.start);
    const e = CS.parseTime(b.end);
    const when = range === "24h" ? CS.fmtTime(s, { timeOnly: true }) + "–" + (e.getTime() - s.getTime() < 3600000 ? CS.t("camera.bar_ongoing") : CS.fmtTime(e, { timeOnly: true })) + " " + CS.fmtTime(s, { short: true }).split(" ")[1] : CS.fmtTime(s, { short: true }).split(" ")[1];
    const parts = BAR_STATES.filter((k) => (b.seconds || {})[k] > 0)
      .map((k) => stateWord(k) + " " + CS.fmtDuration(b.seconds[k]));
    return when + " · " + stateWord(b.state) + (parts.length ? " — " + parts.join(", ") : "");
  }
  const stateWord = (s) => (s === "none" ? CS.t("camera.state.none") : CS.t("state." + s));

  function renderBars(range) {
    const body = barsData[range];
    const box = $("bars-" + range);
    const pct = $("pct-" + range);
    if (!body || body._error) {
      box.replaceChildren(h("p", { class: "muted small", text: body && body._error ? CS.t("error.load", { error: body._error.message }) : CS.t("details.loading") }));
      return;
    }
    const items = body.bars || [];
    const frag = document.createDocumentFragment();
    items.forEach((b, i) => {
      const label = barLabel(range, b);
      const el = h("span", { class: "b b-" + b.state, role: "listitem", tabindex: "0", title: label, "aria-label": label, "data-state": b.state, "data-i": i });
      const show = () => {
        picked[range] = i;
        $("detail-" + range).textContent = label;
        box.querySelectorAll(".b.sel").forEach((x) => x.classList.remove("sel"));
        el.classList.add("sel");
      };
      el.addEventListener("mouseenter", show);
      el.addEventListener("focus", show);
      el.addEventListener("click", show);
      frag.appendChild(el);
    });
    box.replaceChildren(frag);
    const t = body.totals || {};
    pct.replaceChildren(
      t.availability == null
        ? h("span", { class: "muted", text: CS.t("camera.no_data") })
        : h("span", null, h("strong", { class: "pct-main", text: CS.t("camera.availability", { pct: pctText(t.availability) }) }), h("span", { class: "muted small" }, " · " + CS.t("camera.good_picture", { pct: pctText(t.uptime) })))
    );
    const first = items[0];
    const last = items[items.length - 1];
    if (first && last) {
      const fmt = (iso) => (range === "24h" ? CS.fmtTime(iso, { short: true }) : CS.fmtTime(iso, { short: true }).split(" ")[1]);
      $("ends-" + range).replaceChildren(h("span", { text: fmt(first.start) }), h("span", { text: CS.t("rec.now") }));
    }
    const p = picked[range];
    const detail = $("detail-" + range);
    if (p != null && items[p]) {
      detail.textContent = barLabel(range, items[p]);
      box.children[p].classList.add("sel");
    } else {
      // say where the trouble was, in words: the worst bars, so the colours are never the only clue
      const bad = items.filter((b) => b.state === "down" || b.state === "degraded");
      detail.textContent = bad.length ? bad.slice(-3).map((b) => barLabel(range, b)).join(" | ") : CS.t("camera.bar_pick");
    }
  }

  function renderLegend() {
    const box = $("bars-legend");
    box.replaceChildren(
      h("span", { class: "muted", text: CS.t("camera.legend") + ":" }),
      ...BAR_STATES.map((s) => h("span", { class: "lg" }, h("i", { class: "b b-" + s, "aria-hidden": "true" }), stateWord(s)))
    );
  }

  // ------------------------------------------------------------------------------------ pictures
  function mayPictures() {
    // the rule of details.js (roles.may_see_picture); the page itself is not found outside the hamlets
    if (!cam || cam._error) return false;
    return CS.mayPicture(cam);
  }
  // Household pictures are looked at on purpose (each view is in the audit trail): loaded once when the
  // page opens and on "Reload pictures", not at every refresh. Roadside ones follow the refresh.
  const autoPictures = () => cam && cam.kind !== "household";

  async function loadPictures() {
    if (!mayPictures()) return;
    try {
      pics = (await CS.api("/web/cameras/" + CS.enc(id) + "/pictures")).body || {};
    } catch (e) {
      pics = { _error: e };
    }
    picsAsked = true;
  }

  function picture(src, caption, alt) {
    const none = () => h("div", { class: "pic-none", text: CS.t("pictures.none") });
    const frame = h("div", { class: "pic-frame" });
    if (src) {
      const img = h("img", { src: src, alt: alt, decoding: "async" });
      img.addEventListener("error", () => img.replaceWith(none()));
      frame.appendChild(img);
    } else frame.appendChild(none());
    return h("figure", { class: "pic" }, frame, h("figcaption", null, caption));
  }

  function renderPictures() {
    const box = $("pics-body");
    if (!cam || cam._error) return box.replaceChildren();
    if (!mayPictures()) {
      box.replaceChildren(h("p", { class: "muted small", id: "pics-refused", text: CS.t("camera.pictures_refused") }));
      return;
    }
    if (!pics) return box.replaceChildren(h("p", { class: "muted small", text: CS.t("details.loading") }));
    if (pics._error) return box.replaceChildren(h("p", { class: "error small", text: CS.t("error.load", { error: pics._error.message }) }));
    const latestCap = CS.t("pictures.latest") + (pics.latest_at ? " · " + CS.fmtTime(pics.latest_at, { short: true, seconds: true }) : "");
    const refCap = CS.t("pictures.reference") + (pics.reference_set_at ? " · " + CS.fmtTime(pics.reference_set_at, { short: true }) : "");
    const reload = h("button", { type: "button", class: "btn btn-quiet", id: "pics-reload", text: CS.t("camera.pictures_refresh") });
    reload.addEventListener("click", async () => {
      reload.disabled = true;
      await loadPictures();
      renderPictures();
    });
    box.replaceChildren(
      h(
        "div",
        { class: "pics" },
        picture(pics.latest_at ? base + "/thumbnail.jpg?t=" + CS.enc(pics.latest_at) : null, latestCap, CS.t("pictures.latest") + ": " + cam.name),
        picture(pics.has_reference ? base + "/reference.jpg?t=" + CS.enc(pics.reference_set_at || "") : null, refCap, CS.t("pictures.reference") + ": " + cam.name)
      ),
      h("div", { class: "d-actions" }, reload, cam.kind === "household" ? h("span", { class: "muted small", text: CS.t("camera.pictures_manual") }) : null)
    );
  }

  // ------------------------------------------------------------------------------------ charts
  function chartWidth(el) {
    return Math.max(200, Math.floor(el.getBoundingClientRect().width || 300));
  }
  const chartHeight = () => (window.innerWidth < 600 ? 150 : 180);

  function chartData(field) {
    const s = series || { t: [] };
    const ys = s[field] || [];
    if (field !== "open_ms") return [s.t, ys];
    // failed checks as red dots at the bottom of the open-time chart
    return [s.t, ys, (s.ok || []).map((ok) => (ok ? null : 0))];
  }

  /** Axis labels in the commune's zone and the page's format: hours within two days, else day/month. */
  function timeTicks(u, splits) {
    const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map((s) => {
      const d = new Date(s * 1000);
      if (span > 2 * 86400) return CS.fmtTime(d, { short: true }).split(" ")[1];
      return CS.fmtTime(d, { timeOnly: true, seconds: span < 600 });
    });
  }

  function makeChart(field, el) {
    const fmt = (v) => (v == null ? "–" : CS.fmtNum(v, field === "fps" ? 1 : 0));
    const ser = [
      { label: CS.t("checks.time"), value: (u, v) => (v == null ? "–" : CS.fmtTime(new Date(v * 1000), { short: true, seconds: true })) },
      { label: CS.t("camera.chart." + field), stroke: COLOURS.line, width: 1.5, value: (u, v) => fmt(v), points: { size: 4 } },
    ];
    if (field === "open_ms") ser.push({ label: CS.t("camera.chart.failed"), stroke: COLOURS.fail, paths: () => null, points: { show: true, size: 7, stroke: COLOURS.fail, fill: COLOURS.fail }, value: (u, v) => (v == null ? "" : "✕") });
    const opts = {
      width: chartWidth(el),
      height: chartHeight(),
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), CS.cfg.timezone),
      scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min || 0), max > 0 ? max * 1.1 : 1] } },
      series: ser,
      axes: [{ grid: { stroke: COLOURS.grid }, values: timeTicks }, { grid: { stroke: COLOURS.grid }, size: 48, values: (u, vals) => vals.map((v) => CS.fmtNum(v, 0)) }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    };
    return new window.uPlot(opts, chartData(field), el);
  }

  function renderCharts() {
    const note = $("charts-note");
    const s = series;
    if (!window.uPlot) return (note.textContent = CS.t("error.load", { error: "uPlot" }));
    if (!s || s._error) {
      note.textContent = s && s._error ? CS.t("error.load", { error: s._error.message }) : CS.t("details.loading");
      return;
    }
    const failed = (s.ok || []).filter((x) => !x).length;
    note.textContent = !s.checks
      ? CS.t("camera.chart.none")
      : (s.downsampled ? CS.t("camera.chart.downsampled", { checks: s.checks, n: s.points }) : CS.t("camera.chart.points", { checks: s.checks })) + (failed ? " · " + CS.t("camera.chart.failed_n", { n: failed }) : "");
    for (const f of FIELDS) {
      const el = document.querySelector("#chart-" + f + " .chart-plot");
      if (charts[f]) charts[f].setData(chartData(f));
      else charts[f] = makeChart(f, el);
    }
  }

  function rebuildCharts() {
    for (const f of FIELDS) {
      if (charts[f]) charts[f].destroy();
      delete charts[f];
    }
    renderCharts();
  }

  let resizeTimer = 0;
  function resizeCharts() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const f of FIELDS) {
        const el = document.querySelector("#chart-" + f + " .chart-plot");
        if (charts[f] && el) charts[f].setSize({ width: chartWidth(el), height: chartHeight() });
      }
    }, 100);
  }

  // ------------------------------------------------------------------------------------ outages
  function renderOutages() {
    const box = $("outages-body");
    if (outages && outages._error) return box.replaceChildren(h("p", { class: "error small", text: CS.t("error.load", { error: outages._error.message }) }));
    if (!outages.length) return box.replaceChildren(h("p", { class: "muted", text: CS.t("outages.none") }));
    const tbody = h("tbody");
    for (const o of outages) {
      const st = o.state || "down";
      const dur = o.open ? CS.age(o.started_at) : o.duration_s;
      tbody.appendChild(
        h(
          "tr",
          { class: "st-" + st + (o.open ? " open" : ""), "data-outage": o.id, "data-state": st },
          h("td", { class: "nowrap" }, CS.fmtTime(o.started_at, { short: true }), h("div", { class: "muted small", text: "→ " + (o.ended_at ? CS.fmtTime(o.ended_at, { short: true }) : CS.t("outages.ongoing")) })),
          h(
            "td",
            null,
            h("span", { class: "res txt-" + st }, CS.icon(st), h("strong", { text: CS.causeText(o.cause) || CS.stateText(st) })),
            h("div", { class: "muted small", text: CS.stateText(st) + (o.acknowledged_by ? " · " + CS.t("outages.acked_by", { who: o.acknowledged_by, time: CS.fmtTime(o.acknowledged_at, { short: true }) }) : "") })
          ),
          h("td", { class: "nowrap" }, CS.fmtDuration(dur), o.open ? h("div", null, h("span", { class: "pill pill-" + st, text: CS.t("outages.ongoing") })) : null)
        )
      );
    }
    box.replaceChildren(
      h("p", { class: "muted small", text: CS.t("camera.outages_total", { n: outages.length }) }),
      h(
        "div",
        { class: "table-wrap" },
        h("table", { class: "tbl cam-outages" }, h("thead", null, h("tr", null, h("th", { text: CS.t("camera.outage_time") }), h("th", { text: CS.t("camera.outage_cause") }), h("th", { text: CS.t("camera.outage_duration") }))), tbody)
      )
    );
  }

  // ------------------------------------------------------------------------------------ recording
  function renderRecording() {
    const box = $("cam-rec");
    const sec = CS.recording ? CS.recording.section(rec) : null;
    box.hidden = !sec;
    box.replaceChildren(...(sec ? [sec] : []));
  }

  // ------------------------------------------------------------------------------------ load
  const soft = (p) => p.then((r) => r.body, (e) => ({ _error: e }));

  async function load() {
    const my = ++seq;
    clearTimeout(timer);
    const first = cam == null;
    // a 7- or 30-day series costs the server more (up to 43,200 checks): refreshed every 10th time only
    const seriesDue = first || hours <= 24 || loads % 10 === 0 || !series || series._error;
    const [c, b24, b7, b30, s, outs, r] = await Promise.all([
      soft(CS.api(base)),
      soft(CS.api(base + "/bars?range=24h")),
      soft(CS.api(base + "/bars?range=7d")),
      soft(CS.api(base + "/bars?range=30d")),
      seriesDue ? soft(CS.api(base + "/series?hours=" + hours)) : series,
      soft(CS.api(base + "/outages?limit=50")),
      CS.recording ? CS.recording.fetch(id) : null,
    ]);
    if (my !== seq) return;
    cam = c;
    barsData = { "24h": b24, "7d": b7, "30d": b30 };
    series = s;
    outages = Array.isArray(outs) ? outs : outs || [];
    rec = r;
    if (mayPictures() && (first || !picsAsked || autoPictures())) await loadPictures();
    if (my !== seq) return;
    loads++;
    lastOk = new Date(CS.now());
    renderAll();
    timer = setTimeout(tick, REFRESH_MS);
  }

  function tick() {
    if (document.hidden) timer = setTimeout(tick, REFRESH_MS);
    else load().catch(() => (timer = setTimeout(tick, REFRESH_MS)));
  }

  function renderAll() {
    renderHead();
    RANGES.forEach(renderBars);
    renderLegend();
    renderPictures();
    renderCharts();
    renderOutages();
    renderRecording();
    if (lastOk) $("cam-updated").textContent = CS.t("camera.updated", { time: CS.fmtTime(lastOk, { timeOnly: true, seconds: true }) });
    const back = $("cam-back");
    back.href = "/?camera=" + CS.enc(id) + (CS.cfg.langFromUrl || CS.lang !== CS.cfg.defaultLanguage ? "&lang=" + CS.lang : "");
  }

  function redraw(lang) {
    renderAll();
    rebuildCharts(); // the series labels are in the chart
  }

  async function start() {
    CS.languageButtons(redraw);
    document.querySelectorAll("#cam-charts [data-hours]").forEach((b) =>
      b.addEventListener("click", async () => {
        hours = Number(b.dataset.hours);
        document.querySelectorAll("#cam-charts [data-hours]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
        series = (await soft(CS.api(base + "/series?hours=" + hours))) || null;
        renderCharts();
      })
    );
    window.addEventListener("resize", resizeCharts);
    if (window.ResizeObserver) new ResizeObserver(resizeCharts).observe($("charts"));
    try {
      await load();
    } catch (e) {
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  // hooks for tests and the curious in the console
  window.camsvc = {
    camera: () => id,
    loads: () => loads,
    refresh: () => load(),
    bars: (range) => ((barsData[range] || {}).bars || []).map((b) => b.state),
    barsShown: (range) => Array.from(document.querySelectorAll("#bars-" + range + " .b")).map((el) => el.dataset.state),
    totals: (range) => JSON.parse(JSON.stringify((barsData[range] || {}).totals || null)),
    charts: () =>
      Object.fromEntries(
        FIELDS.map((f) => [f, charts[f] ? { points: charts[f].data[0].length, values: charts[f].data[1].filter((v) => v != null).length, canvas: !!document.querySelector("#chart-" + f + " canvas"), width: charts[f].width } : null])
      ),
    picturesRequested: () => picsAsked,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
