/* The probe nodes page (/nodes, issue 12): every node with its state (lost: red, delayed: amber), site,
 * host, cameras held, load and last heartbeat; the sites no node covers; per site the nodes that check it.
 * From GET /api/nodes (technicians and above), refreshed every REFRESH_MS; a node's cameras from
 * GET /api/nodes/{name} (within the user's hamlets). No URL or secret is ever shown: the API has none. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 5000;
  const MAX_REFRESHES = 12 * 60 * 24; // a day open, then a reload is needed
  let data = null;
  let refreshes = 0;
  let openNode = null;

  const siteText = (s) => (s ? s : CS.t("nodes.no_site"));
  const nodeSite = (s) => (s ? s : CS.t("nodes.any_site"));
  const ago = (s) => (s < 1 ? CS.t("duration.now") : CS.t("nodes.ago", { ago: CS.fmtDuration(s) }));

  function tiles() {
    const c = data.counts;
    const tile = (cls, n, key) =>
      h("div", { class: "nd-tile " + cls + (n ? " on" : ""), "data-count": key }, h("span", { class: "v", text: String(n) }), h("span", { class: "l", text: CS.t(key) }));
    $("nd-tiles").replaceChildren(
      tile("live", c.live, "nodes.live"),
      tile("lost", c.lost, "nodes.lost"),
      tile("delayed", c.delayed, "nodes.delayed"),
      tile("stopped", c.stopped, "nodes.stopped"),
      tile("uncovered", c.uncovered_cameras, "nodes.uncovered_cameras")
    );
  }

  function uncovered() {
    const list = data.sites.filter((s) => s.uncovered > 0);
    $("nd-unc-card").classList.toggle("bad", list.length > 0);
    $("nd-uncovered").replaceChildren(
      ...(list.length
        ? list.map((s) => h("li", { class: "nd-unc", "data-site": s.site, text: CS.t("nodes.uncovered_item", { site: siteText(s.site), n: s.uncovered }) }))
        : [h("li", { class: "muted", text: CS.t("nodes.all_covered") })])
    );
  }

  function nodeCard(n) {
    const cls = "nd-node st-" + n.state + (n.delayed ? " delayed" : "");
    const badges = [h("span", { class: "nd-badge b-" + n.state, text: CS.t("nodes." + n.state) })];
    if (n.delayed) badges.push(h("span", { class: "nd-badge b-delayed", text: CS.t("nodes.delayed") }));
    const facts = [
      [CS.t("nodes.site"), nodeSite(n.site)],
      [CS.t("nodes.role"), CS.t("nodes.role." + n.role)],
      [CS.t("nodes.host"), n.host || "–"],
      [CS.t("nodes.last_seen"), CS.fmtTime(n.last_seen, { short: true }) + " (" + ago(n.seen_ago_s) + ")"],
      [CS.t("nodes.cameras"), String(n.cameras)],
      [CS.t("nodes.load"), CS.fmtNum(n.probes_per_min, 1)],
      [CS.t("nodes.saturation"), Math.round((n.saturation || 0) * 100) + " %"],
    ];
    if (n.spooled > 0) facts.push([CS.t("nodes.spooled"), CS.t("nodes.spooled_since", { n: n.spooled, time: CS.fmtTime(n.oldest_spooled_at, { short: true }) })]);
    const dl = h("dl", { class: "nd-facts" });
    for (const [k, v] of facts) dl.append(h("dt", { text: k }), h("dd", { text: v }));
    const btn = n.cameras
      ? h("button", { type: "button", class: "btn btn-quiet nd-show", "data-node": n.name, text: CS.t("nodes.show_cameras"), onclick: () => showCameras(n.name) })
      : null;
    return h("article", { class: cls, "data-node": n.name, "data-state": n.state }, h("header", { class: "nd-head" }, h("h3", { text: n.name }), badges), dl, btn);
  }

  function sites() {
    const head = h(
      "tr",
      null,
      h("th", { text: CS.t("nodes.site") }),
      h("th", { class: "n", text: CS.t("nodes.cameras") }),
      h("th", { text: CS.t("nodes.covered_by") }),
      h("th", { class: "n", text: CS.t("nodes.uncovered") })
    );
    const rows = data.sites.map((s) =>
      h(
        "tr",
        { "data-site": s.site, class: s.uncovered ? "bad" : "" },
        h("td", { text: siteText(s.site) }),
        h("td", { class: "n", text: String(s.cameras) }),
        h("td", { text: s.covered_by.length ? s.covered_by.join(", ") : CS.t("nodes.nobody") }),
        h("td", { class: "n", text: String(s.uncovered) })
      )
    );
    $("nd-sites").replaceChildren(h("thead", null, head), h("tbody", null, rows));
  }

  function render() {
    if (!data) return;
    tiles();
    uncovered();
    $("nd-nodes").replaceChildren(...(data.nodes.length ? data.nodes.map(nodeCard) : [h("p", { class: "muted", text: CS.t("nodes.none") })]));
    sites();
    $("nd-updated").textContent = CS.t("nodes.updated") + ": " + CS.fmtTime(data.at);
  }

  async function showCameras(name) {
    openNode = name;
    try {
      const n = (await CS.api("/api/nodes/" + CS.enc(name))).body;
      $("nd-cams-h").textContent = CS.t("nodes.cameras_of", { name: n.name });
      $("nd-cams").replaceChildren(
        ...n.camera_list.map((c) =>
          h(
            "li",
            { "data-camera": c.id, class: "st-" + c.state },
            CS.icon(c.state),
            h("a", { href: "/cameras/" + CS.enc(c.id), text: c.name }),
            h("span", { class: "muted", text: " · " + [c.hamlet, c.id].filter(Boolean).join(" · ") }),
            c.delayed ? h("span", { class: "row-delayed", title: CS.t("delayed.title"), text: CS.t("delayed.badge") }) : null
          )
        )
      );
      $("nd-cams-card").hidden = false;
    } catch (e) {
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
  }

  async function load() {
    try {
      data = (await CS.api("/api/nodes")).body;
      $("load-error").hidden = true;
      render();
    } catch (e) {
      if (e.status === 403) {
        $("nd-role-note").hidden = false;
        return; // nothing to refresh
      }
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
    if (++refreshes < MAX_REFRESHES) setTimeout(load, REFRESH_MS);
  }

  async function start() {
    CS.languageButtons(() => {
      render();
      if (openNode) showCameras(openNode);
    });
    await load();
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  window.camsvc = { nodes: () => (data ? JSON.parse(JSON.stringify(data)) : null), loads: () => refreshes };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
