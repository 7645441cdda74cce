/* The incidents screen (/alerts, issue 11): open incidents with their cameras (name, hamlet, state, cause,
 * each linked to its camera page), since when, reminders, acknowledged or not; one-click Acknowledge for
 * technicians and above (the server records the signed-in user; CS.api adds the CSRF header); the delivery
 * history of each incident (message texts only for roles with messages.view); recently closed incidents.
 * Refreshes itself every REFRESH_S seconds (?refresh=N, bounded). Everything from the API goes in as text. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);

  const REFRESH_LIMITS = [2, 300];
  const asked = Number(new URLSearchParams(location.search).get("refresh"));
  const REFRESH_S = isFinite(asked) && asked > 0 ? Math.min(REFRESH_LIMITS[1], Math.max(REFRESH_LIMITS[0], asked)) : 15;
  const CLOSED_LIMIT = 20;

  let open = [];
  let closed = [];
  const expanded = new Set(); // incident ids whose deliveries are shown
  const deliveries = new Map(); // incident id -> list (or Error)
  const acking = new Set();
  const ackErrors = new Map();
  let timer = 0;
  let loads = 0;

  const mayAck = () => CS.can("alerts.acknowledge");

  let loadSeq = 0; // the newest load wins: an older answer (a timer's, racing an Acknowledge) is dropped
  async function load() {
    clearTimeout(timer);
    const seq = ++loadSeq;
    try {
      const [o, c] = await Promise.all([
        CS.api("/api/incidents?status=open&limit=200"),
        CS.api("/api/incidents?status=resolved&limit=" + CLOSED_LIMIT),
      ]);
      if (seq !== loadSeq) return;
      open = Array.isArray(o.body) ? o.body : [];
      closed = Array.isArray(c.body) ? c.body : [];
      $("load-error").hidden = true;
      await Promise.all(Array.from(expanded).map(loadDeliveries));
      if (seq !== loadSeq) return;
      render();
      $("inc-updated").textContent = CS.t("inc.updated", { time: CS.fmtTime(new Date(CS.now()), { timeOnly: true, seconds: true }) });
    } catch (e) {
      if (seq !== loadSeq) return;
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
    loads++;
    timer = setTimeout(load, REFRESH_S * 1000);
  }

  async function loadDeliveries(id) {
    try {
      const r = await CS.api("/api/incidents/" + CS.enc(id) + "/deliveries");
      deliveries.set(id, Array.isArray(r.body) ? r.body : []);
    } catch (e) {
      deliveries.set(id, e);
    }
  }

  function render() {
    $("inc-open-n").textContent = open.length ? String(open.length) : "";
    const box = $("inc-open");
    box.replaceChildren();
    if (!open.length) box.appendChild(h("p", { class: "muted empty", id: "inc-none", text: CS.t("inc.none_open") }));
    for (const inc of open) box.appendChild(card(inc, true));
    const cbox = $("inc-closed");
    cbox.replaceChildren();
    if (!closed.length) cbox.appendChild(h("p", { class: "muted empty", text: CS.t("inc.none_closed") }));
    for (const inc of closed) cbox.appendChild(card(inc, false));
  }

  function worstState(inc) {
    const live = (inc.members || []).filter((m) => !m.ended_at);
    return live.some((m) => m.state === "down") ? "down" : live.length ? "degraded" : "up";
  }

  function card(inc, isOpen) {
    const state = isOpen ? worstState(inc) : "up";
    const members = inc.members || [];
    const title = inc.hamlet ? inc.hamlet : inc.upstream || CS.t("inc.number", { id: inc.id });
    const el = h("article", { class: "inc st-" + state + (inc.acknowledged_at ? " acked" : ""), "data-incident": String(inc.id) });
    el.appendChild(
      h(
        "header",
        { class: "inc-head" },
        CS.icon(state),
        h("h3", null, h("span", { class: "inc-title", text: title }), " ", h("span", { class: "muted small", text: CS.t("inc.number", { id: inc.id }) })),
        h("span", { class: "pill pill-" + (isOpen ? state : "closed"), text: CS.t("inc.cameras_n", { n: isOpen ? inc.cameras_open : members.length }) })
      )
    );
    const facts = h("p", { class: "inc-facts small" });
    const add = (text, cls) => facts.appendChild(h("span", { class: cls || "", text: text }));
    add(CS.t("inc.since", { time: CS.fmtTime(inc.started_at, { short: true }), ago: CS.fmtDuration(CS.age(inc.started_at)) }));
    if (!isOpen && inc.resolved_at) {
      add(CS.t("inc.ended", { time: CS.fmtTime(inc.resolved_at, { short: true }) }));
      const secs = (CS.parseTime(inc.resolved_at) - CS.parseTime(inc.started_at)) / 1000;
      add(CS.t("inc.duration", { d: CS.fmtDuration(secs) }));
    }
    if (!inc.alerted_at && isOpen) add(CS.t("inc.not_alerted"), "muted");
    add(inc.reminders_sent ? CS.t("inc.reminders", { n: inc.reminders_sent }) : CS.t("inc.no_reminders"), "inc-reminders");
    if (inc.escalation_level) add(CS.t("inc.level", { n: inc.escalation_level }));
    if (inc.upstream) add(CS.t("inc.upstream") + ": " + inc.upstream, "muted");
    el.appendChild(facts);

    el.appendChild(memberList(members));
    el.appendChild(ackBox(inc, isOpen));
    el.appendChild(deliveryBox(inc));
    return el;
  }

  function memberList(members) {
    const ul = h("ul", { class: "members" });
    for (const m of members) {
      const st = m.ended_at ? "up" : m.state;
      const name = m.camera_name || m.camera_id;
      const link = h("a", { href: "/cameras/" + CS.enc(m.camera_id), class: "cam-link", title: CS.t("inc.open_camera", { name: name }) }, name);
      const endText = m.ended_at
        ? (CS.has("inc.end." + m.end_reason) ? CS.t("inc.end." + m.end_reason) : CS.t("inc.end.recovered")) + " " + CS.fmtTime(m.ended_at, { short: true })
        : "";
      ul.appendChild(
        h(
          "li",
          { class: "member st-" + st, "data-camera": m.camera_id },
          CS.icon(st),
          h(
            "span",
            { class: "m-main" },
            link,
            " ",
            h("span", { class: "muted small", text: "(" + m.camera_id + ")" }),
            h("span", { class: "m-sub small" },
              m.camera_hamlet ? h("span", { text: CS.t("inc.hamlet") + ": " + m.camera_hamlet }) : null,
              h("span", { class: "m-state", text: CS.stateText(m.state) }),
              m.cause ? h("span", { class: "m-cause", text: CS.causeText(m.cause) }) : null,
              h("span", { class: "muted", text: CS.fmtTime(m.started_at, { short: true }) }),
              endText ? h("span", { class: "m-end", text: endText }) : null
            )
          )
        )
      );
    }
    return ul;
  }

  function ackBox(inc, isOpen) {
    const box = h("div", { class: "inc-ack" });
    if (inc.acknowledged_at) {
      box.appendChild(h("p", { class: "ack-done", text: CS.t("inc.acked", { who: inc.acknowledged_by || "?", time: CS.fmtTime(inc.acknowledged_at, { short: true }) }) }));
      return box;
    }
    box.appendChild(h("p", { class: "ack-none", text: CS.t("inc.unacked") }));
    if (isOpen && mayAck()) {
      const busy = acking.has(inc.id);
      const b = h("button", { type: "button", class: "btn btn-primary ack-btn", "data-ack": String(inc.id), disabled: busy, text: busy ? CS.t("inc.ack_busy") : CS.t("inc.ack") });
      b.addEventListener("click", () => acknowledge(inc));
      box.appendChild(b);
    }
    const err = ackErrors.get(inc.id);
    if (err) box.appendChild(h("p", { class: "error small", role: "alert", text: CS.t("inc.ack_failed", { error: err }) }));
    return box;
  }

  async function acknowledge(inc) {
    if (acking.has(inc.id)) return;
    acking.add(inc.id);
    ackErrors.delete(inc.id);
    render();
    try {
      const r = await CS.api("/api/incidents/" + CS.enc(inc.id) + "/ack", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      const got = open.find((x) => x.id === inc.id);
      if (got && r.body) {
        got.acknowledged_by = r.body.acknowledged_by;
        got.acknowledged_at = r.body.acknowledged_at;
      }
    } catch (e) {
      ackErrors.set(inc.id, e.message);
    }
    acking.delete(inc.id);
    render();
    const focus = document.querySelector('[data-incident="' + CSS.escape(String(inc.id)) + '"] .inc-ack');
    if (focus) focus.setAttribute("tabindex", "-1"), focus.focus();
  }

  function deliveryBox(inc) {
    const id = inc.id;
    const box = h("div", { class: "inc-deliv" });
    const shown = expanded.has(id);
    const b = h("button", { type: "button", class: "linkish deliv-toggle", "aria-expanded": String(shown), text: shown ? CS.t("inc.deliveries_hide") : CS.t("inc.deliveries") });
    b.addEventListener("click", async () => {
      if (expanded.has(id)) expanded.delete(id);
      else {
        expanded.add(id);
        if (!deliveries.has(id)) {
          render();
          await loadDeliveries(id);
        }
      }
      render();
    });
    box.appendChild(b);
    if (!shown) return box;
    const rows = deliveries.get(id);
    if (rows == null) box.appendChild(h("p", { class: "muted small", text: CS.t("details.loading") }));
    else if (rows instanceof Error) box.appendChild(h("p", { class: "error small", text: CS.t("error.load", { error: rows.message }) }));
    else if (!rows.length) box.appendChild(h("p", { class: "muted small", text: CS.t("delivery.none") }));
    else {
      if (rows.some((m) => m.body_hidden)) box.appendChild(h("p", { class: "muted small", text: CS.t("inc.body_hidden") }));
      const list = h("ul", { class: "deliveries" });
      for (const m of rows.slice().reverse()) list.appendChild(deliveryRow(m)); // newest first
      box.appendChild(list);
    }
    return box;
  }

  function deliveryRow(m) {
    const st = { sent: "up", failed: "down", cancelled: "maintenance" }[m.status] || "unknown";
    const li = h("li", { class: "deliv st-" + st, "data-message": String(m.id) });
    li.appendChild(
      h(
        "p",
        { class: "d-l1" },
        h("strong", { text: CS.has("delivery.kind." + m.kind) ? CS.t("delivery.kind." + m.kind) : m.kind }),
        h("span", { class: "pill pill-" + (st === "up" ? "open" : st === "down" ? "down" : "closed"), text: CS.has("delivery.status." + m.status) ? CS.t("delivery.status." + m.status) : m.status }),
        h("span", { class: "small", text: CS.t("delivery.to") + ": " + (m.contact_name || "?") })
      )
    );
    const dl = h("dl", { class: "facts small" });
    const row = (k, v) => {
      if (v == null || v === "") return;
      dl.append(h("dt", { text: CS.t(k) }), h("dd", { text: String(v) }));
    };
    row("inc.attempts", m.attempts);
    row("inc.queued", CS.fmtTime(m.created_at, { short: true, seconds: true }));
    if (m.sent_at) row("inc.sent_at", CS.fmtTime(m.sent_at, { short: true, seconds: true }));
    if (m.last_error) row("inc.error", m.last_error);
    li.appendChild(dl);
    if (m.channel) li.appendChild(h("p", { class: "d-ch small muted", title: m.channel, text: CS.t("inc.channel") + ": " + m.channel }));
    if (!m.body_hidden && (m.subject || m.body)) {
      li.appendChild(h("details", { class: "d-body" }, h("summary", { text: CS.t("inc.message") }), h("p", { class: "d-subject", text: m.subject || "" }), h("pre", { text: m.body || "" })));
    }
    return li;
  }

  function start() {
    CS.languageButtons(() => {
      render();
    });
    $("inc-role-note").hidden = mayAck();
    $("inc-refresh").addEventListener("click", load);
    load().then(() => {
      document.body.classList.remove("loading");
      document.body.dataset.ready = "1";
    });
  }

  window.camsvc = {
    openIncidents: () => JSON.parse(JSON.stringify(open)),
    closedIncidents: () => JSON.parse(JSON.stringify(closed)),
    loads: () => loads,
    refreshSeconds: REFRESH_S,
    refresh: load,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
