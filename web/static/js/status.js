/* The public status page (/status, off by default): per hamlet, availability over 24 h and 30 days and the
 * open incidents (since when, how many cameras), from GET /api/public/status; refreshed every minute.
 * Nothing else is known to this page: no camera names, owners, locations or pictures. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 60000;
  const MAX_REFRESHES = 24 * 60 * 7; // a week open, then a reload is needed
  let data = null;
  let refreshes = 0;

  function pct(v) {
    if (v == null) return "–";
    const s = (v * 100).toLocaleString(CS.lang === "vi" ? "vi-VN" : "en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return CS.lang === "vi" ? s + " %" : s + "%";
  }

  function render() {
    if (!data) return;
    const tile = (v, label) => h("div", { class: "rp-tile main" }, h("span", { class: "v", text: v }), h("span", { class: "l", text: label }));
    const open = data.hamlets.filter((x) => x.open);
    $("st-tiles").replaceChildren(
      tile(pct(data.availability_24h), CS.t("status.commune") + " · " + CS.t("status.last_24h")),
      tile(pct(data.availability_30d), CS.t("status.commune") + " · " + CS.t("status.last_30d")),
      tile(String(open.length), CS.t("status.open"))
    );
    const head = h(
      "tr",
      null,
      h("th", { text: CS.t("reports.hamlet") }),
      h("th", { class: "n", text: CS.t("reports.cameras") }),
      h("th", { class: "n", text: CS.t("status.last_24h") }),
      h("th", { class: "n", text: CS.t("status.last_30d") }),
      h("th", { text: CS.t("status.open") })
    );
    const rows = data.hamlets.map((x) => {
      const n = x.open ? x.open.cameras_down + x.open.cameras_degraded : 0;
      return h(
        "tr",
        { "data-hamlet": x.hamlet },
        h("td", { text: x.hamlet || "–" }),
        h("td", { class: "n", text: String(x.cameras) }),
        h("td", { class: "n", text: pct(x.availability_24h) }),
        h("td", { class: "n", text: pct(x.availability_30d) }),
        h("td", { class: x.open ? "open" : "muted", text: x.open ? CS.t("status.open_detail", { n: n, since: CS.fmtTime(x.open.since, { short: true }) }) : CS.t("status.all_ok") })
      );
    });
    $("st-hamlets").replaceChildren(h("thead", null, head), h("tbody", null, rows));
    $("st-updated").textContent = CS.t("status.updated") + ": " + CS.fmtTime(data.generated_at) + " · " + CS.t("reports.times_note");
  }

  async function load() {
    try {
      data = (await CS.api("/api/public/status")).body;
      $("load-error").hidden = true;
      render();
    } catch (e) {
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
    if (++refreshes < MAX_REFRESHES) setTimeout(load, REFRESH_MS);
  }

  async function start() {
    CS.languageButtons(() => {
      render();
    });
    await load();
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  window.camsvc = { status: () => (data ? JSON.parse(JSON.stringify(data)) : null) };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
