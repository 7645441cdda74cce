/* camsvc dashboard: shared helpers (configuration, translations, times, durations, DOM, fetch).
 * Plain JS, no build step. Everything hangs off window.CS; window.camsvc is the small public hook object.
 * Data from the API is only ever put into the page as text (textContent / attributes), never as HTML. */
(function () {
  "use strict";
  const CS = (window.CS = window.CS || {});
  const cfg = JSON.parse(document.getElementById("camsvc-config").textContent);
  CS.cfg = cfg;
  // What the signed-in user may do (the server decides; this only hides what would be refused).
  const actions = new Set(cfg.actions || []);
  CS.can = (action) => actions.has(action);
  /** Whether the user may see this camera's pictures (roles.may_see_picture, scope aside). */
  CS.mayPicture = (c) => {
    if (!c) return CS.can("pictures.camera"); // not known yet: ask if the role sees any pictures
    if (c.kind === "household") return c.owner_consent ? CS.can("pictures.household") : CS.can("pictures.household_no_consent");
    return CS.can("pictures.camera");
  };

  /** The signed-in user's role is at least *role* (roles in cfg.roles, lowest first). */
  CS.roleAtLeast = function (role) {
    const order = cfg.roles || [];
    const mine = order.indexOf(cfg.role);
    const need = order.indexOf(role);
    return mine >= 0 && need >= 0 && mine >= need;
  };
  /** Officers and admins: cases and their clips. */
  CS.mayCases = () => CS.can("cases.manage") && CS.can("clips.manage");
  /** An API route that is not there (not built on this installation): 404 with FastAPI's "Not Found". */
  CS.routeMissing = (e) => !!e && (e.status === 404 || e.status === 405) && /^not found$/i.test(e.message || "");

  // Worst first: the list order, and the colour a cluster takes from the worst camera inside it.
  CS.STATES = ["down", "degraded", "unknown", "maintenance", "up"]; // the states the service records
  // What the dashboard shows: a recorded state, or "stale" (an enabled camera not checked for N check
  // intervals: its recorded state may be out of date; the server decides, /api/map "stale") or "disabled"
  // (not monitored; never colours a cluster, listed last).
  CS.SHOWN = ["down", "degraded", "stale", "unknown", "maintenance", "up", "disabled"];
  CS.RANK = { down: 0, degraded: 1, stale: 2, unknown: 3, maintenance: 4, up: 5, disabled: 6 };
  CS.shown = (c) => (!c ? "unknown" : c.enabled === false ? "disabled" : c.stale ? "stale" : c.state || "unknown");

  // ------------------------------------------------------------------------------------ language
  const LANGS = ["vi", "en"];
  const STORE_KEY = "camsvc.lang";

  function initialLanguage() {
    if (cfg.langFromUrl) return cfg.lang; // ?lang=en wins, and is remembered below
    try {
      const saved = window.localStorage.getItem(STORE_KEY);
      if (LANGS.includes(saved)) return saved;
    } catch (e) {
      /* storage disabled: fall back to the service default */
    }
    return cfg.lang;
  }
  CS.lang = initialLanguage();

  CS.setLanguage = function (lang, remember) {
    if (!LANGS.includes(lang)) return;
    CS.lang = lang;
    if (remember) {
      try {
        window.localStorage.setItem(STORE_KEY, lang);
      } catch (e) {
        /* ignore */
      }
    }
    document.documentElement.lang = lang;
    CS.applyTranslations(document);
    document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  };

  /** The page's vi/en buttons: the language from the URL (remembered) or the stored choice now; a click
   * switches, remembers it and calls onChange(lang) so the page redraws what it built in code. */
  CS.languageButtons = function (onChange) {
    CS.setLanguage(CS.lang, cfg.langFromUrl);
    document.querySelectorAll("[data-lang]").forEach((b) =>
      b.addEventListener("click", () => {
        CS.setLanguage(b.dataset.lang, true);
        if (onChange) onChange(b.dataset.lang);
      })
    );
  };

  CS.t = function (key, vars) {
    let s = (cfg.i18n[CS.lang] || {})[key];
    if (s == null) s = (cfg.i18n.vi || {})[key];
    if (s == null) return key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] != null ? String(vars[k]) : m));
    return s;
  };
  CS.has = (key) => key in (cfg.i18n[CS.lang] || {});

  /** Elements carrying data-i18n (text), data-i18n-title, data-i18n-label (aria-label), data-i18n-ph. */
  CS.applyTranslations = function (root) {
    root.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = CS.t(el.dataset.i18n)));
    root.querySelectorAll("[data-i18n-title]").forEach((el) => (el.title = CS.t(el.dataset.i18nTitle)));
    root
      .querySelectorAll("[data-i18n-label]")
      .forEach((el) => el.setAttribute("aria-label", CS.t(el.dataset.i18nLabel)));
    root
      .querySelectorAll("[data-i18n-ph]")
      .forEach((el) => el.setAttribute("placeholder", CS.t(el.dataset.i18nPh)));
  };

  CS.causeText = function (code) {
    if (!code) return "";
    return CS.has("cause." + code) ? CS.t("cause." + code) : String(code).replace(/_/g, " ");
  };
  CS.stateText = (state) => CS.t("state." + state);

  // --------------------------------------------------------------------------------- clock, times
  // The server's Date header corrects a wrong clock on the desk PC or phone (durations stay right).
  let skewMs = 0;
  CS.now = () => Date.now() + skewMs;
  function noteServerDate(response) {
    const d = response.headers.get("date");
    if (!d) return;
    const server = Date.parse(d);
    if (!isNaN(server)) {
      const skew = server - Date.now();
      // the header has 1 s resolution: ignore sub-2 s differences
      skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
  }

  CS.parseTime = function (iso) {
    if (!iso) return null;
    const s = String(iso);
    const d = new Date(/[zZ]$|[+-]\d\d:?\d\d$/.test(s) ? s : s + "Z"); // naive = UTC (as stored)
    return isNaN(d.getTime()) ? null : d;
  };

  // Always the commune's zone (Asia/Ho_Chi_Minh), whatever zone the browser is in.
  const partsFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: cfg.timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  function parts(date) {
    const o = {};
    for (const p of partsFormat.formatToParts(date)) o[p.type] = p.value;
    if (o.hour === "24") o.hour = "00";
    return o;
  }

  /** "21:04 22/11/2025"; {short: true} drops the year when it is this year; {seconds: true} adds them. */
  CS.fmtTime = function (iso, opts) {
    const d = iso instanceof Date ? iso : CS.parseTime(iso);
    if (!d) return "";
    const o = opts || {};
    const p = parts(d);
    let s = p.hour + ":" + p.minute + (o.seconds ? ":" + p.second : "");
    if (o.timeOnly) return s;
    s += " " + p.day + "/" + p.month;
    if (!o.short || p.year !== parts(new Date(CS.now())).year) s += "/" + p.year;
    return s;
  };

  /** A wall-clock time typed in the commune's zone ("2026-12-01T21:10", a datetime-local value) -> Date.
   * Works for any zone (Asia/Ho_Chi_Minh has no DST, but the offset is still taken from Intl). */
  CS.zonedToDate = function (local) {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/.exec(String(local || ""));
    if (!m) return null;
    const wanted = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    let t = wanted;
    for (let i = 0; i < 3; i++) {
      const p = parts(new Date(t));
      const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
      if (shown === wanted) break;
      t += wanted - shown;
    }
    return new Date(t);
  };
  /** Date -> "YYYY-MM-DDTHH:MM" in the commune's zone (a datetime-local input's value). */
  CS.dateToZoned = function (date) {
    const p = parts(date);
    return p.year + "-" + p.month + "-" + p.day + "T" + p.hour + ":" + p.minute;
  };
  /** ISO-8601 UTC with Z and whole seconds, as the API expects. */
  CS.isoZ = (date) => new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");

  /** Bytes in decimal units (as disks are sold): "412 GB", "3.4 MB". */
  CS.fmtBytes = function (n) {
    const v = Number(n);
    if (!isFinite(v) || v < 0) return "";
    const units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let i = 0;
    let x = v;
    while (x >= 1000 && i < units.length - 1) {
      x /= 1000;
      i++;
    }
    return (i === 0 ? String(Math.round(x)) : CS.fmtNum(x, x < 10 ? 1 : 0)) + " " + units[i];
  };
  /** A number with the page language's separators ("1.234,5" in Vietnamese). */
  CS.fmtNum = function (n, digits) {
    const v = Number(n);
    if (n == null || !isFinite(v)) return "";
    return v.toLocaleString(CS.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits == null ? 1 : digits });
  };
  /** A key fingerprint grouped for reading aloud and comparing: "ab12 cd34 ...". */
  CS.fmtFingerprint = (hex) =>
    String(hex || "")
      .toLowerCase()
      .replace(/[^0-9a-f]/g, "")
      .replace(/(.{4})(?=.)/g, "$1 ");

  /** Human duration, two units at most: "2 giờ 5 phút", "3 ngày 4 giờ", "45 giây". */
  CS.fmtDuration = function (seconds) {
    let sec = Math.max(0, Math.floor(Number(seconds) || 0));
    const d = Math.floor(sec / 86400);
    const h = Math.floor((sec % 86400) / 3600);
    const m = Math.floor((sec % 3600) / 60);
    sec = sec % 60;
    const t = CS.t;
    if (d) return [t("duration.day", { n: d })].concat(h ? [t("duration.hour", { n: h })] : []).join(" ");
    if (h) return [t("duration.hour", { n: h })].concat(m ? [t("duration.minute", { n: m })] : []).join(" ");
    if (m) return t("duration.minute", { n: m });
    if (sec) return t("duration.second", { n: sec });
    return t("duration.now");
  };
  CS.age = function (iso) {
    const d = CS.parseTime(iso);
    return d ? (CS.now() - d.getTime()) / 1000 : 0;
  };

  /** Accent- and case-insensitive search key, like the server's: "Bắc Chiến Thắng" -> "bac chien thang". */
  CS.fold = (s) =>
    String(s || "")
      .replace(/đ/g, "d")
      .replace(/Đ/g, "D")
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/\s+/g, " ")
      .trim();

  // ---------------------------------------------------------------------------------------- DOM
  /** h("div", {class: "x", onclick: fn}, "text", child...) — text children become text nodes. */
  CS.h = function (tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  };
  function append(el, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) c.forEach((x) => append(el, x));
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  const SVG = "http://www.w3.org/2000/svg";
  /** The state's glyph (shape + symbol), so state never relies on colour alone. */
  CS.icon = function (state, cls) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "ico ico-" + state + (cls ? " " + cls : ""));
    svg.setAttribute("viewBox", "0 0 20 20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const use = document.createElementNS(SVG, "use");
    use.setAttribute("href", "#g-" + state);
    svg.appendChild(use);
    return svg;
  };
  /** The same glyph as markup, for Leaflet divIcons (state is one of CS.STATES: no data inside). */
  CS.iconHtml = (state) =>
    '<svg class="ico ico-' + state + '" viewBox="0 0 20 20" aria-hidden="true" focusable="false">' +
    '<use href="#g-' + state + '"></use></svg>';

  // ---------------------------------------------------------------------------------------- fetch
  CS.api = async function (url, opts) {
    const o = Object.assign({ credentials: "same-origin" }, opts || {});
    o.headers = Object.assign({ Accept: "application/json" }, o.headers || {});
    const method = (o.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      const meta = document.querySelector('meta[name="csrf-token"]');
      if (meta && meta.content) o.headers["X-CSRF-Token"] = meta.content;
    }
    const r = await fetch(url, o);
    if (r.status === 401) {
      // the session ended (expired, signed out elsewhere, user disabled): back to the sign-in page
      const here = location.pathname + location.search;
      location.assign("/login?next=" + encodeURIComponent(here));
      const err = new Error("sign-in required");
      err.status = 401;
      throw err;
    }
    noteServerDate(r);
    if (r.status === 304) return { status: 304, headers: r.headers, body: null };
    if (!r.ok) {
      let msg = r.status + " " + (r.statusText || "");
      try {
        const b = await r.json();
        if (b && b.detail) msg = typeof b.detail === "string" ? b.detail : JSON.stringify(b.detail);
      } catch (e) {
        /* not JSON */
      }
      const err = new Error(msg.trim());
      err.status = r.status;
      throw err;
    }
    const ct = r.headers.get("content-type") || "";
    const body = r.status === 204 ? null : ct.includes("json") ? await r.json() : await r.text();
    return { status: r.status, headers: r.headers, body: body };
  };

  CS.enc = encodeURIComponent;
  // ------------------------------------------------------------------------------- the pipeline banner
  /* Every screen (core.js is on every page): when /healthz says checks are not running, a red banner
   * "Kiểm tra camera đã ngừng từ HH:MM" under the top bar; it goes at the first answer that they run again.
   * Not the "lost the server" banner: a page that cannot reach the server keeps what it showed last. */
  const PIPELINE_POLL_MS = 10000;
  CS.pipeline = { failing: false, since: null, polls: 0 };
  function pipelineBanner() {
    let el = document.getElementById("pipeline-banner");
    if (!el) {
      el = CS.h("div", { id: "pipeline-banner", class: "pipeline-banner", role: "alert", hidden: "" });
      const header = document.querySelector("body > header");
      if (header) header.after(el);
      else document.body.prepend(el);
    }
    return el;
  }
  function renderPipeline() {
    const p = CS.pipeline;
    const el = pipelineBanner();
    document.body.classList.toggle("pipeline-failing", p.failing);
    el.hidden = !p.failing;
    if (!p.failing) return;
    const d = CS.parseTime(p.since);
    const sameDay = d && CS.fmtTime(d).slice(6) === CS.fmtTime(new Date(CS.now())).slice(6);
    el.textContent = d
      ? CS.t("pipeline.stopped", { time: CS.fmtTime(d, sameDay ? { timeOnly: true } : { short: true }) })
      : CS.t("pipeline.stopped_unknown");
  }
  CS.pipeline.check = async function () {
    let body;
    try {
      const r = await fetch("/healthz", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.status !== 200 && r.status !== 503) return; // lost or a proxy error: the lost banner's business
      body = await r.json();
    } catch (e) {
      return;
    }
    CS.pipeline.polls += 1;
    CS.pipeline.failing = body.status === "failing";
    CS.pipeline.since = body.checks_stopped_since || null;
    CS.pipeline.reasons = body.reasons || [];
    renderPipeline();
  };
  function pipelineLoop() {
    if (!document.hidden) CS.pipeline.check();
    setTimeout(pipelineLoop, PIPELINE_POLL_MS);
  }
  if (cfg.role) {
    // signed-in screens only (not the sign-in page)
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pipelineLoop);
    else pipelineLoop();
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) CS.pipeline.check();
    });
  }
})();
