/* The reports screen (/reports, issue 11): a month (default: last month in Asia/Ho_Chi_Minh) or a custom
 * range of local dates, a scope (whole commune, a hamlet, a kind); summary tiles, per hamlet, the worst 10
 * cameras, causes by share (a bar each) and every camera (sortable). The numbers come from GET /api/reports
 * (the same ones as the PDF, CSV and print page linked from here). Data goes into the page as text only. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);

  let report = null;
  let seq = 0;
  let loads = 0;
  let sortKey = "availability";
  let sortDir = 1;

  // ------------------------------------------------------------------------------------ formatting
  /** 0.99523 -> "99,52 %" (vi) / "99.52%" (en), as the PDF prints it. */
  function pct(v, digits) {
    if (v == null) return "–";
    const d = digits == null ? 2 : digits;
    const s = (v * 100).toLocaleString(CS.lang === "vi" ? "vi-VN" : "en-GB", { minimumFractionDigits: d, maximumFractionDigits: d });
    return CS.lang === "vi" ? s + " %" : s + "%";
  }
  function num(v) {
    return v == null ? "–" : Number(v).toLocaleString(CS.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 0 });
  }
  /** Two units at most, the same as the PDF: "1 ngày 11 giờ", "8 giờ 30 phút", "0". */
  function dur(seconds) {
    if (seconds == null) return "–";
    const sec = Math.max(0, Math.floor(Number(seconds) || 0));
    const d = Math.floor(sec / 86400);
    const hh = Math.floor((sec % 86400) / 3600);
    const m = Math.floor((sec % 3600) / 60);
    const s = sec % 60;
    const t = CS.t;
    if (d) return [t("duration.day", { n: d })].concat(hh ? [t("duration.hour", { n: hh })] : []).join(" ");
    if (hh) return [t("duration.hour", { n: hh })].concat(m ? [t("duration.minute", { n: m })] : []).join(" ");
    if (m) return t("duration.minute", { n: m });
    return s ? t("duration.second", { n: s }) : "0";
  }
  const kindText = (k) => (CS.has("kind." + k) ? CS.t("kind." + k) : k || "");
  function localDate(iso) {
    return CS.fmtTime(iso).split(" ")[1] || "";
  }

  // ------------------------------------------------------------------------------------ the form
  function lastMonth() {
    const z = CS.dateToZoned(new Date(CS.now())); // "YYYY-MM-DDTHH:MM" in the commune's zone
    let y = +z.slice(0, 4);
    let m = +z.slice(5, 7) - 1;
    if (m === 0) {
      m = 12;
      y -= 1;
    }
    return y + "-" + String(m).padStart(2, "0");
  }
  function mode() {
    return document.querySelector('input[name="mode"]:checked').value;
  }
  function showMode() {
    const custom = mode() === "custom";
    $("rp-month-field").hidden = custom;
    $("rp-start-field").hidden = !custom;
    $("rp-end-field").hidden = !custom;
  }
  function params() {
    const p = new URLSearchParams();
    if (mode() === "custom") {
      p.set("start", $("rp-start").value);
      p.set("end", $("rp-end").value);
    } else {
      p.set("month", $("rp-month").value);
    }
    if ($("rp-hamlet").value) p.set("hamlet", $("rp-hamlet").value);
    if ($("rp-kind").value) p.set("kind", $("rp-kind").value);
    return p;
  }
  function links() {
    const p = params();
    p.set("lang", CS.lang);
    for (const [id, fmt] of [
      ["rp-pdf", "pdf"],
      ["rp-csv", "csv"],
      ["rp-print", "html"],
    ]) {
      p.set("format", fmt);
      $(id).href = "/api/reports?" + p.toString();
    }
  }
  function fromUrl() {
    const q = new URLSearchParams(location.search);
    $("rp-month").value = q.get("month") || lastMonth();
    if (q.get("start") && q.get("end")) {
      document.querySelector('input[name="mode"][value="custom"]').checked = true;
      $("rp-start").value = q.get("start");
      $("rp-end").value = q.get("end");
    } else {
      const [y, m] = $("rp-month").value.split("-");
      $("rp-start").value = y + "-" + m + "-01";
      $("rp-end").value = y + "-" + m + "-" + String(new Date(Date.UTC(+y, +m, 0)).getUTCDate()).padStart(2, "0");
    }
    $("rp-kind").value = q.get("kind") || "";
    showMode();
    return q.get("hamlet") || "";
  }

  async function loadHamlets(wanted) {
    let list = [];
    try {
      list = (await CS.api("/api/hamlets")).body || [];
    } catch (e) {
      list = [];
    }
    const sel = $("rp-hamlet");
    for (const name of list) sel.appendChild(h("option", { value: name, text: name }));
    if (wanted && !list.includes(wanted)) sel.appendChild(h("option", { value: wanted, text: wanted }));
    sel.value = wanted;
  }

  async function load() {
    const my = ++seq;
    const msg = $("rp-msg");
    msg.className = "rp-msg";
    msg.textContent = CS.t("reports.loading");
    const p = params();
    links();
    const url = new URL(location.href);
    url.search = "";
    p.forEach((v, k) => url.searchParams.set(k, v));
    if (CS.cfg.langFromUrl) url.searchParams.set("lang", CS.lang);
    history.replaceState(null, "", url);
    try {
      const r = await CS.api("/api/reports?" + p.toString());
      if (my !== seq) return;
      report = r.body;
      msg.textContent = "";
      render();
    } catch (e) {
      if (my !== seq) return;
      msg.className = "rp-msg err";
      msg.textContent = CS.t("reports.error", { msg: e.message });
    }
    loads++;
    document.body.dataset.reportLoads = String(loads);
  }

  // ------------------------------------------------------------------------------------ rendering
  function render() {
    if (!report) return;
    links();
    const r = report;
    const tot = r.total;
    const per = r.period;
    const last = new Date(CS.parseTime(per.end).getTime() - 1000);
    $("rp-period-text").textContent =
      CS.t("reports.period") + ": " + (per.month ? per.month.slice(5) + "/" + per.month.slice(0, 4) : localDate(per.start) + " – " + localDate(last)) +
      " (" + CS.fmtTime(per.start) + " – " + CS.fmtTime(per.end) + ") · " +
      (r.scope.hamlet ? CS.t("reports.hamlet") + " " + r.scope.hamlet : CS.t("reports.scope_commune")) +
      (r.scope.kind ? " · " + kindText(r.scope.kind) : "") +
      " · " + CS.t("reports.times_note");
    const tile = (id, v, label, main) =>
      h("div", { class: "rp-tile" + (main ? " main" : ""), id: id }, h("span", { class: "v", text: v }), h("span", { class: "l", text: CS.t(label) }));
    $("rp-tiles").replaceChildren(
      tile("rp-t-availability", pct(tot.availability), "reports.availability", true),
      tile("rp-t-good", pct(tot.good_picture), "reports.good_picture", true),
      tile("rp-t-cameras", num(tot.cameras), "reports.cameras"),
      tile("rp-t-outages", num(tot.outages), "reports.outages"),
      tile("rp-t-downtime", dur(tot.downtime_s), "reports.downtime"),
      tile("rp-t-longest", dur(tot.longest_downtime_s), "reports.longest"),
      tile("rp-t-mttr", dur(tot.mttr_s), "reports.mttr"),
      tile("rp-t-mtta", dur(tot.mtta_s), "reports.mtta"),
      tile("rp-t-maintenance", dur(tot.maintenance_s), "reports.maintenance")
    );
    const dis = $("rp-disabled");
    dis.hidden = !r.disabled_left_out;
    dis.textContent = r.disabled_left_out ? CS.t("reports.note_disabled", { n: r.disabled_left_out }) : "";

    const groupHead = () =>
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { text: CS.t("reports.hamlet") }),
          ["reports.cameras", "reports.availability", "reports.good_picture", "reports.outages", "reports.downtime", "reports.longest"].map((k) => h("th", { class: "n", text: CS.t(k) })),
          h("th", { class: "n", text: "MTTR" }),
          h("th", { class: "n", text: "MTTA" }),
          h("th", { class: "n", text: CS.t("reports.maintenance") })
        )
      );
    const groupRow = (label, st, cls) =>
      h(
        "tr",
        { class: cls || null, "data-hamlet": cls ? null : label },
        h("td", { text: label || "–" }),
        h("td", { class: "n", text: num(st.cameras) }),
        h("td", { class: "n avail", text: pct(st.availability) }),
        h("td", { class: "n", text: pct(st.good_picture) }),
        h("td", { class: "n", text: num(st.outages) }),
        h("td", { class: "n", text: dur(st.downtime_s) }),
        h("td", { class: "n", text: dur(st.longest_downtime_s) }),
        h("td", { class: "n", text: dur(st.mttr_s) }),
        h("td", { class: "n", text: dur(st.mtta_s) }),
        h("td", { class: "n", text: dur(st.maintenance_s) })
      );
    $("rp-hamlets").replaceChildren(groupHead(), h("tbody", null, r.hamlets.map((x) => groupRow(x.hamlet, x)), groupRow(CS.t("reports.total"), tot, "total")));

    $("rp-worst-none").hidden = r.worst.length > 0;
    $("rp-worst").hidden = !r.worst.length;
    $("rp-worst").replaceChildren(
      h(
        "thead",
        null,
        h("tr", null, h("th", { text: "#" }), h("th", { text: CS.t("reports.camera") }), h("th", { text: CS.t("reports.hamlet") }), h("th", { class: "n", text: CS.t("reports.availability") }), h("th", { class: "n", text: CS.t("reports.downtime") }))
      ),
      h(
        "tbody",
        null,
        r.worst.map((c, i) =>
          h(
            "tr",
            { "data-camera": c.id },
            h("td", { class: "n", text: String(i + 1) }),
            h("td", null, h("a", { href: "/cameras/" + CS.enc(c.id), text: c.name }), " ", h("span", { class: "sub", text: c.id })),
            h("td", { text: c.hamlet }),
            h("td", { class: "n avail", text: pct(c.availability) }),
            h("td", { class: "n", text: dur(c.downtime_s) })
          )
        )
      )
    );

    const causes = tot.causes || [];
    $("rp-causes").replaceChildren(
      ...(causes.length
        ? causes.map((c) =>
            h(
              "div",
              { class: "rp-cause", "data-cause": c.cause },
              h("span", { class: "name", text: CS.causeText(c.cause) + " (" + num(c.outages) + ")" }),
              h("span", { class: "share", text: pct(c.share, 1) }),
              h("span", { class: "rp-bar", "aria-hidden": "true" }, h("span", { style: "width:" + (c.share * 100).toFixed(1) + "%" }))
            )
          )
        : [h("p", { class: "muted", text: CS.t("reports.no_outages") })])
    );
    renderCameras();
  }

  const CAM_COLS = [
    ["name", "reports.camera", false],
    ["hamlet", "reports.hamlet", false],
    ["kind", "reports.kind", false],
    ["availability", "reports.availability", true],
    ["good_picture", "reports.good_picture", true],
    ["outages", "reports.outages", true],
    ["downtime_s", "reports.downtime", true],
    ["mttr_s", "MTTR", true],
    ["maintenance_s", "reports.maintenance", true],
  ];
  function renderCameras() {
    const cams = (report.cameras || []).slice();
    cams.sort((a, b) => {
      let x = a[sortKey];
      let y = b[sortKey];
      if (x == null) x = sortKey === "availability" || sortKey === "good_picture" ? 2 : -1;
      if (y == null) y = sortKey === "availability" || sortKey === "good_picture" ? 2 : -1;
      const c = typeof x === "string" ? x.localeCompare(y, CS.lang) : x - y;
      return c * sortDir || a.id.localeCompare(b.id);
    });
    const head = h(
      "tr",
      null,
      CAM_COLS.map(([key, label, numeric]) => {
        const th = h("th", {
          class: numeric ? "n" : null,
          "data-key": key,
          tabindex: "0",
          "aria-sort": key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : null,
          text: label.startsWith("reports.") ? CS.t(label) : label,
        });
        const go = () => {
          sortDir = key === sortKey ? -sortDir : 1;
          sortKey = key;
          renderCameras();
        };
        th.addEventListener("click", go);
        th.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " " ? (e.preventDefault(), go()) : null));
        return th;
      })
    );
    $("rp-cameras").replaceChildren(
      h("thead", null, head),
      h(
        "tbody",
        null,
        cams.map((c) =>
          h(
            "tr",
            { "data-camera": c.id },
            h("td", null, h("a", { href: "/cameras/" + CS.enc(c.id), text: c.name }), " ", h("span", { class: "sub", text: c.id })),
            h("td", { text: c.hamlet }),
            h("td", { text: kindText(c.kind) }),
            h("td", { class: "n avail", text: pct(c.availability) }),
            h("td", { class: "n", text: pct(c.good_picture) }),
            h("td", { class: "n", text: num(c.outages) }),
            h("td", { class: "n", text: dur(c.downtime_s) }),
            h("td", { class: "n", text: dur(c.mttr_s) }),
            h("td", { class: "n", text: dur(c.maintenance_s) })
          )
        )
      )
    );
  }

  // ------------------------------------------------------------------------------------ start
  function redraw(lang) {
    document.title = CS.t("reports.title") + " · " + CS.t("app.title");
    render();
    links();
  }

  async function start() {
    CS.languageButtons(redraw);
    const wantedHamlet = fromUrl();
    document.querySelectorAll('input[name="mode"]').forEach((el) => el.addEventListener("change", () => (showMode(), links())));
    for (const id of ["rp-month", "rp-start", "rp-end", "rp-hamlet", "rp-kind"]) $(id).addEventListener("change", links);
    $("rp-form").addEventListener("submit", (e) => {
      e.preventDefault();
      load();
    });
    await loadHamlets(wantedHamlet);
    await load();
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  window.camsvc = {
    report: () => (report ? JSON.parse(JSON.stringify(report)) : null),
    loads: () => loads,
    reload: load,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
