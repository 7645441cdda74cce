/* Recording (issue 10): a camera's last 24 h as a timeline (kept, gaps, held by a case), its recorder's
 * status, MB/hour and days kept (GET /api/cameras/{id}/recording), and the recording disk's free space
 * against its floor (GET /api/recording/storage) for technicians and admins.
 * Every value from the API goes into the page as text or as numbers in attributes, never as markup. */
(function () {
  "use strict";
  const CS = window.CS;
  const R = (CS.recording = {});
  const h = CS.h;
  const SVG = "http://www.w3.org/2000/svg";
  const DAY_MS = 24 * 3600 * 1000;
  const TICK_H = 6; // a label every 6 hours: fits a phone (390 px) as well as a desk

  let storageAvail = null; // null: not known yet; false: no such route or refused

  /** The camera's recording over [now - 24 h, now], or null when the user may not see it or the route
   * is not there (403/404 are quiet: the section is simply not shown). */
  R.fetch = async function (id) {
    if (!CS.can("recording.view")) return null;
    const end = new Date(CS.now());
    const start = new Date(end.getTime() - DAY_MS);
    const url = "/api/cameras/" + CS.enc(id) + "/recording?start=" + CS.enc(CS.isoZ(start)) + "&end=" + CS.enc(CS.isoZ(end));
    try {
      const r = await CS.api(url);
      if (!r.body || typeof r.body !== "object") return null;
      return Object.assign({ _start: start, _end: end }, r.body);
    } catch (e) {
      return e.status === 403 || e.status === 404 || e.status === 405 ? null : { _error: e };
    }
  };

  function svgEl(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const k in attrs) el.setAttribute(k, String(attrs[k]));
    return el;
  }

  function clampRange(item, t0, t1) {
    const a = CS.parseTime(item.start);
    const b = CS.parseTime(item.end);
    if (!a || !b) return null;
    const s = Math.max(a.getTime(), t0);
    const e = Math.min(b.getTime(), t1);
    return e > s ? { s: s, e: e, a: a, b: b } : null;
  }

  function rangeText(a, b) {
    return CS.fmtTime(a, { short: true }) + " → " + CS.fmtTime(b, { short: true });
  }

  /** The 24 h bar: grey = nothing kept, green = kept, red = a gap the index knows of, purple band on top =
   * held by a case (evidence lock). Each piece carries a <title> with its times. */
  R.timeline = function (rec) {
    const t0 = rec._start.getTime();
    const t1 = rec._end.getTime();
    const W = 1000;
    const x = (t) => ((t - t0) / (t1 - t0)) * W;
    const svg = svgEl("svg", { class: "tl-bar", viewBox: "0 0 " + W + " 30", preserveAspectRatio: "none", role: "img", focusable: "false" });
    svg.appendChild(svgEl("rect", { class: "tl-none", x: 0, y: 6, width: W, height: 24 }));
    let keptMs = 0;
    const piece = (cls, r, y, height, label) => {
      const rect = svgEl("rect", { class: cls, x: x(r.s).toFixed(2), y: y, width: Math.max(1, x(r.e) - x(r.s)).toFixed(2), height: height });
      const title = svgEl("title", {});
      title.textContent = label;
      rect.appendChild(title);
      svg.appendChild(rect);
    };
    for (const seg of rec.segments || []) {
      const r = clampRange(seg, t0, t1);
      if (!r) continue;
      keptMs += r.e - r.s;
      piece("tl-kept", r, 6, 24, CS.t("rec.kept") + ": " + rangeText(r.a, r.b));
    }
    const gaps = [];
    for (const g of rec.gaps || []) {
      const r = clampRange(g, t0, t1);
      if (!r) continue;
      gaps.push(r);
      piece("tl-gap", r, 6, 24, CS.t("rec.gap") + ": " + rangeText(r.a, r.b) + " · " + CS.fmtDuration((r.b - r.a) / 1000));
    }
    const held = [];
    for (const hd of rec.held || []) {
      const r = clampRange(hd, t0, t1);
      if (!r) continue;
      held.push(Object.assign(r, { case_id: hd.case_id }));
      piece("tl-held", r, 0, 6, CS.t("rec.held_by", { case: hd.case_id }) + ": " + rangeText(r.a, r.b));
    }
    const summary = CS.t("rec.summary", {
      kept: CS.fmtDuration(keptMs / 1000),
      gaps: gaps.length,
      held: held.length,
    });
    svg.setAttribute("aria-label", summary);

    // hour labels every TICK_H hours, on the hour in the commune's zone
    const ticks = h("div", { class: "tl-ticks", "aria-hidden": "true" });
    const firstHour = Math.ceil(t0 / 3600000) * 3600000;
    for (let t = firstHour; t <= t1; t += 3600000) {
      const hh = CS.fmtTime(new Date(t), { timeOnly: true });
      if (Number(hh.slice(0, 2)) % TICK_H !== 0) continue;
      const pct = ((t - t0) / (t1 - t0)) * 100;
      if (pct < 3 || pct > 97) continue; // the ends are labelled on their own line below
      ticks.appendChild(h("span", { class: "tl-tick", style: "left:" + pct.toFixed(2) + "%", text: hh }));
    }
    const ends = h(
      "div",
      { class: "tl-ends small muted" },
      h("span", { text: CS.fmtTime(rec._start, { short: true }) }),
      h("span", { text: CS.t("rec.now") })
    );
    const legend = h(
      "div",
      { class: "tl-legend small" },
      h("span", null, h("i", { class: "sw sw-kept", "aria-hidden": "true" }), CS.t("rec.kept")),
      h("span", null, h("i", { class: "sw sw-gap", "aria-hidden": "true" }), CS.t("rec.gap")),
      h("span", null, h("i", { class: "sw sw-held", "aria-hidden": "true" }), CS.t("rec.held")),
      h("span", null, h("i", { class: "sw sw-none", "aria-hidden": "true" }), CS.t("rec.nothing"))
    );
    const box = h("div", { class: "tl", "data-kept-ms": Math.round(keptMs), "data-gaps": gaps.length, "data-held": held.length }, svg, ticks, ends, legend);
    box.appendChild(h("p", { class: "small tl-summary", text: summary }));
    if (gaps.length) {
      const ul = h("ul", { class: "tl-list small" });
      const longest = gaps.slice().sort((p, q) => q.b - q.a - (p.b - p.a)).slice(0, 5);
      longest.sort((p, q) => p.a - q.a);
      for (const g of longest) ul.appendChild(h("li", { class: "tl-gap-item" }, rangeText(g.a, g.b) + " · " + CS.fmtDuration((g.b - g.a) / 1000)));
      box.appendChild(h("h4", { text: CS.t("rec.gaps_title", { n: gaps.length }) }));
      box.appendChild(ul);
    }
    if (held.length) {
      const ul = h("ul", { class: "tl-list small" });
      for (const hd of held) {
        const link = CS.mayCases()
          ? h("a", { href: "/cases?case=" + CS.enc(hd.case_id), text: CS.t("rec.case", { case: hd.case_id }) })
          : h("span", { text: CS.t("rec.case", { case: hd.case_id }) });
        ul.appendChild(h("li", { class: "tl-held-item" }, link, " · " + rangeText(hd.a, hd.b)));
      }
      box.appendChild(h("h4", { text: CS.t("rec.held_title") }));
      box.appendChild(ul);
    }
    return box;
  };

  /** The "Recording" section of a camera's details (null: nothing to show). */
  R.section = function (rec) {
    if (!rec) return null;
    const sec = h("section", { class: "d-sec rec", id: "d-recording" }, h("h3", { text: CS.t("rec.title") }));
    if (rec._error) {
      sec.appendChild(h("p", { class: "muted small", text: CS.t("error.generic", { error: rec._error.message }) }));
      return sec;
    }
    if (rec.mode === "off") {
      sec.classList.add("rec-off");
      sec.appendChild(h("p", { class: "rec-note", text: CS.t("rec.off") }));
      return sec;
    }
    const st = rec.status || {};
    const dl = h("dl", { class: "facts" });
    const row = (key, value, cls) => {
      if (value == null || value === "") return;
      dl.appendChild(h("dt", { text: CS.t(key) }));
      dl.appendChild(h("dd", cls ? { class: cls } : null, value));
    };
    const mode = CS.has("rec.mode." + rec.mode) ? CS.t("rec.mode." + rec.mode) : String(rec.mode || "");
    const stream = rec.stream ? CS.t("rec.stream", { stream: CS.has("rec.stream." + rec.stream) ? CS.t("rec.stream." + rec.stream) : rec.stream }) : "";
    row("rec.mode", [mode, stream].filter(Boolean).join(" · "));
    const running = st.running
      ? h("span", { class: "res txt-up" }, CS.icon("up"), st.since ? CS.t("rec.running_since", { time: CS.fmtTime(st.since, { short: true }) }) : CS.t("rec.running"))
      : h("span", { class: "res txt-down" }, CS.icon("down"), CS.t("rec.stopped"));
    row("rec.recorder", running, "rec-status");
    row("rec.last_segment", st.last_segment_end ? CS.fmtTime(st.last_segment_end, { seconds: true, short: true }) + " · " + CS.t("rec.ago", { duration: CS.fmtDuration(CS.age(st.last_segment_end)) }) : CS.t("rec.none"));
    row("rec.restarts", st.restarts != null ? String(st.restarts) : "");
    if (st.last_error) row("rec.last_error", h("span", { class: "rec-error", text: st.last_error }));
    row("rec.mb_per_hour", rec.mb_per_hour != null ? CS.t("rec.mb_h", { n: CS.fmtNum(rec.mb_per_hour, 1) }) : "");
    row("rec.days_kept", rec.days_kept != null ? CS.t("rec.days", { n: CS.fmtNum(rec.days_kept, 1) }) : "");
    row("rec.bytes", rec.bytes != null ? CS.fmtBytes(rec.bytes) : "");
    sec.appendChild(R.timeline(rec));
    sec.appendChild(dl);
    return sec;
  };

  // ------------------------------------------------------------------------------ storage (header + tab)
  R.mayStorage = () => CS.can("recording.view") && CS.roleAtLeast("technician");

  let storageTimer = 0;
  let lastStorage = null;
  const STORAGE_MS = 60000;

  R.initStorage = function (opts) {
    const btn = document.getElementById("storage");
    const tab = document.querySelector('[data-tab="storage"]');
    if (!btn || !R.mayStorage()) return;
    btn.addEventListener("click", () => opts.showStorage());
    const load = async () => {
      clearTimeout(storageTimer);
      if (!document.hidden) {
        try {
          const r = await CS.api("/api/recording/storage");
          lastStorage = r.body;
          storageAvail = true;
        } catch (e) {
          if (e.status === 403 || e.status === 404 || e.status === 405) {
            storageAvail = false;
            btn.hidden = true;
            if (tab) tab.hidden = true;
            return; // no storage route here, or not for this user: nothing to show, nothing to retry
          }
        }
        R.renderStorage();
      }
      storageTimer = setTimeout(load, STORAGE_MS);
    };
    load();
  };
  R.storage = () => lastStorage;
  R.storageAvailable = () => storageAvail;

  R.renderStorage = function () {
    const s = lastStorage;
    const btn = document.getElementById("storage");
    const tab = document.querySelector('[data-tab="storage"]');
    if (!btn || !s) return;
    const low = s.floor_ok === false;
    const failing = writeErrors(s) > 0;
    btn.hidden = false;
    if (tab) tab.hidden = false;
    btn.classList.toggle("warn", low || failing);
    // short when all is well (the floor is in the tooltip and the Storage tab), explicit when it is not
    const vars = { free: CS.fmtBytes(s.free_bytes), floor: CS.fmtBytes(s.floor_bytes) };
    const txt = low ? CS.t("storage.line_low", vars) : CS.t("storage.line", vars);
    btn.replaceChildren(
      CS.icon(low || failing ? "degraded" : "up"),
      h("span", { class: "st-txt", text: txt })
    );
    const why = (low ? CS.t("storage.below_floor") + ". " : "") + (failing ? CS.t("storage.write_errors", { n: writeErrors(s) }) + ". " : "");
    btn.title = why + CS.t("storage.floor", vars) + ". " + CS.t("storage.open");
    btn.setAttribute("aria-label", txt + ". " + btn.title);
    const panel = document.getElementById("panel-storage");
    if (panel) fillPanel(panel, s);
  };

  /** write_errors as a count (the contract names the field, not its type: a list counts its items). */
  function writeErrors(s) {
    return Array.isArray(s.write_errors) ? s.write_errors.length : Number(s.write_errors) || 0;
  }

  function fillPanel(panel, s) {
    const low = s.floor_ok === false;
    const pct = s.total_bytes ? Math.round((100 * s.free_bytes) / s.total_bytes) : 0;
    const floorPct = s.total_bytes ? Math.min(100, (100 * s.floor_bytes) / s.total_bytes) : 0;
    const head = h(
      "div",
      { class: "storage-sum" + (low ? " warn" : "") },
      h("p", { class: "storage-free" }, CS.icon(low ? "degraded" : "up"), h("strong", { text: CS.t("storage.free", { free: CS.fmtBytes(s.free_bytes), total: CS.fmtBytes(s.total_bytes), pct: pct }) })),
      h(
        "div",
        { class: "disk", role: "img", "aria-label": CS.t("storage.free", { free: CS.fmtBytes(s.free_bytes), total: CS.fmtBytes(s.total_bytes), pct: pct }) },
        h("span", { class: "disk-used", style: "width:" + (100 - pct) + "%" }),
        h("span", { class: "disk-floor", style: "left:" + (100 - floorPct).toFixed(1) + "%", title: CS.t("storage.floor", { floor: CS.fmtBytes(s.floor_bytes) }) })
      ),
      h("p", { class: "small" }, CS.t("storage.floor", { floor: CS.fmtBytes(s.floor_bytes) }) + " · " + CS.t("storage.used", { used: CS.fmtBytes(s.used_bytes) })),
      low ? h("p", { class: "small error", role: "alert", text: CS.t("storage.below_floor") }) : null,
      writeErrors(s) > 0 ? h("p", { class: "small error", text: CS.t("storage.write_errors", { n: writeErrors(s) }) }) : null,
      s.dir ? h("p", { class: "small muted" }, h("code", { text: s.dir })) : null
    );
    const cams = (s.cameras || []).slice().sort((a, b) => (b.bytes || 0) - (a.bytes || 0));
    const tbody = h("tbody");
    for (const c of cams) {
      const btn = h("button", { type: "button", class: "linkish", text: c.name || c.camera_id });
      btn.addEventListener("click", () => CS.app && CS.app.open(c.camera_id));
      tbody.appendChild(
        h(
          "tr",
          { "data-camera": c.camera_id },
          h("th", { scope: "row" }, btn, h("div", { class: "muted small", text: c.camera_id })),
          h("td", { class: "num", text: c.mb_per_hour != null ? CS.fmtNum(c.mb_per_hour, 1) : "–" }),
          h("td", { class: "num", text: c.days_kept != null ? CS.fmtNum(c.days_kept, 1) : "–" }),
          h("td", { class: "num", text: CS.fmtBytes(c.bytes || 0) })
        )
      );
    }
    const table = cams.length
      ? h(
          "table",
          { class: "tbl storage-cams" },
          h("caption", { class: "sr-only", text: CS.t("storage.cameras") }),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col", text: CS.t("storage.camera") }),
              h("th", { scope: "col", class: "num", text: CS.t("rec.mb_per_hour") }),
              h("th", { scope: "col", class: "num", text: CS.t("rec.days_kept") }),
              h("th", { scope: "col", class: "num", text: CS.t("rec.bytes") })
            )
          ),
          tbody
        )
      : h("p", { class: "muted empty", text: CS.t("storage.no_cameras") });
    panel.replaceChildren(head, table);
  }
})();
