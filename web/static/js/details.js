/* One camera's details: state and cause, latest picture beside the reference view (issue 4), last checks,
 * outages, and (issue 5, when the alerts API is installed) Acknowledge and the alert delivery history. */
(function () {
  "use strict";
  const CS = window.CS;
  const D = (CS.details = {});
  const h = CS.h;

  let root = null;
  let body = null;
  let current = null; // camera id shown
  let seq = 0; // guards against answers arriving for a camera no longer shown
  let timer = 0;
  let onClose = () => {};
  let getCam = () => null;
  const openDeliveries = new Set(); // outage ids whose delivery history is unfolded
  const RELOAD_MS = 30000;

  // The alerts API (issue 5) is optional: when its routes answer 404 the Acknowledge button and the
  // delivery history are hidden, not shown as errors.
  let alertsAvail = null; // null: not known yet
  const routeMissing = (e) => e && (e.status === 404 || e.status === 405) && /^not found$/i.test(e.message);
  CS.alerts = {
    available: () => alertsAvail,
    ready: null,
    init: function () {
      this.ready = CS.api("/api/alerts/status").then(
        () => (alertsAvail = true),
        (e) => (alertsAvail = routeMissing(e) ? false : null)
      );
      return this.ready;
    },
    /** Acknowledge as the signed-in user (the server records who: never a typed name). */
    ack: async function (outage) {
      const r = await CS.api("/api/outages/" + CS.enc(outage.id) + "/ack", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      return r.body;
    },
    deliveries: async function (outage) {
      try {
        const r = await CS.api("/api/outages/" + CS.enc(outage.id) + "/deliveries");
        alertsAvail = true;
        return r.body || [];
      } catch (e) {
        if (routeMissing(e)) {
          alertsAvail = false;
          return null;
        }
        throw e;
      }
    },
  };

  D.init = function (el, opts) {
    root = el;
    body = el.querySelector(".d-body");
    onClose = opts.onClose;
    getCam = opts.get;
    el.querySelector(".d-close").addEventListener("click", () => onClose(true));
    el.querySelector(".d-back").addEventListener("click", () => onClose(true));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && current) {
        e.preventDefault();
        onClose(true);
      }
    });
  };

  D.current = () => current;

  D.open = function (id) {
    const changed = id !== current;
    current = id;
    if (changed) openDeliveries.clear();
    root.hidden = false;
    if (changed) {
      body.replaceChildren(header(getCam(id) || { id: id, name: id, state: "unknown" }), loading());
      body.scrollTop = 0;
    }
    load();
    const title = root.querySelector("#details-title");
    if (title) title.focus({ preventScroll: true });
  };

  D.close = function () {
    current = null;
    clipBox = null;
    clearTimeout(timer);
    root.hidden = true;
    body.replaceChildren();
  };

  /** The store saw this camera change (state, cause, ack): reload unless someone is typing. */
  D.changed = function (id) {
    if (id === current) load();
  };
  D.relabel = function () {
    if (current) load();
  };

  function loading() {
    return h("p", { class: "muted", role: "status", text: CS.t("details.loading") });
  }

  async function load() {
    const id = current;
    if (!id) return;
    const my = ++seq;
    clearTimeout(timer);
    const base = "/api/cameras/" + CS.enc(id);
    const soft = (p) => p.then((r) => r.body).catch(() => null);
    const picsOk = CS.mayPicture(getCam(id)); // not asked for when the role may not see them
    if (CS.alerts.ready) await CS.alerts.ready; // know whether to offer Acknowledge before drawing
    const [cam, checks, outages, thumbs, pics, rec] = await Promise.all([
      CS.api(base).then(
        (r) => r.body,
        (e) => ({ _error: e })
      ),
      soft(CS.api(base + "/checks?limit=10")),
      soft(CS.api(base + "/outages?limit=10")),
      picsOk ? soft(CS.api(base + "/thumbnails")) : null,
      picsOk ? soft(CS.api("/web/cameras/" + CS.enc(id) + "/pictures")) : null,
      CS.recording ? CS.recording.fetch(id) : null, // issue 10; null when not allowed or not installed
    ]);
    if (my !== seq || id !== current) return;
    if (cam && cam._error) {
      const msg =
        cam._error.status === 404 ? CS.t("details.not_found", { id: id }) : CS.t("error.load", { error: cam._error.message });
      body.replaceChildren(header(getCam(id) || { id: id, name: id, state: "unknown" }), h("p", { class: "error", text: msg }));
    } else {
      render(cam, checks || [], outages || [], thumbs || [], picsOk ? pics || {} : null, rec);
    }
    timer = setTimeout(() => {
      if (!document.hidden) D.changed(id);
      else timer = setTimeout(() => D.changed(id), RELOAD_MS);
    }, RELOAD_MS);
  }

  function header(c) {
    const state = c.enabled === false ? "disabled" : c.state || "unknown";
    return h(
      "div",
      { class: "d-title" },
      h("h2", { id: "details-title", tabindex: "-1", text: c.name }),
      h("div", { class: "d-sub muted" }, [c.id, c.kind ? CS.t("kind." + c.kind) : "", c.hamlet].filter(Boolean).join(" · ")),
      stateBox(state, c.state_since || c.since, c.enabled),
      pageLink(c.id)
    );
  }

  /** Issue 11: the camera's own page (bars, charts, outages), in the language shown now. */
  function pageLink(cid) {
    const lang = CS.cfg.langFromUrl || CS.lang !== CS.cfg.defaultLanguage ? "?lang=" + CS.enc(CS.lang) : "";
    return h("p", { class: "d-page" }, h("a", { href: "/cameras/" + CS.enc(cid) + lang, id: "d-page-link", "data-i18n": "camera.open_page", text: CS.t("camera.open_page") }));
  }

  function stateBox(state, since, enabled) {
    const box = h("div", { class: "d-state st-" + state }, CS.icon(state), h("strong", { text: CS.stateText(state) }));
    if (since) {
      box.appendChild(
        h("span", { class: "d-since" }, CS.t("details.since", { time: CS.fmtTime(since), duration: CS.fmtDuration(CS.age(since)) }))
      );
    }
    if (enabled === false) box.appendChild(h("span", { class: "d-off", text: CS.t("details.enabled_no") }));
    return box;
  }

  function render(c, checks, outages, thumbs, pics, rec) {
    const frag = document.createDocumentFragment();
    frag.appendChild(header(c));
    if (c.cause && (c.state === "down" || c.state === "degraded" || c.state === "maintenance")) {
      frag.appendChild(h("p", { class: "d-cause" }, h("span", { class: "muted", text: CS.t("details.cause") + ": " }), h("strong", { text: CS.causeText(c.cause) })));
    }
    const open = outages.find((o) => o.open);
    if (open) frag.appendChild(ackBox(open));
    if (pics) frag.appendChild(pictures(c, thumbs, pics));
    frag.appendChild(info(c));
    const recSec = CS.recording ? CS.recording.section(rec) : null;
    if (recSec) frag.appendChild(recSec);
    if (CS.mayCases() && CS.clipForm) frag.appendChild(caseBox(c));
    frag.appendChild(checksTable(checks));
    frag.appendChild(outageList(outages));
    // keep keyboard focus in the panel across re-renders (the old title node is replaced)
    const a = document.activeElement;
    const hadFocus = !a || a === document.body || root.contains(a);
    const keepId = a && root.contains(a) ? a.id : "";
    const scroll = body.scrollTop;
    body.replaceChildren(frag);
    body.scrollTop = scroll;
    if (hadFocus) {
      const target = (keepId && document.getElementById(keepId)) || root.querySelector("#details-title");
      if (target) target.focus({ preventScroll: true });
    }
  }

  // ---------------------------------------------------------------------------------- issue 10
  // "Add this camera to a case": one box per camera shown, kept across the panel's reloads (every 30 s and
  // on each change) so a half-typed form is not lost.
  let clipBox = null;
  function caseBox(c) {
    if (clipBox && clipBox.dataset.camera === c.id) return clipBox;
    const sec = h("section", { class: "d-sec case-box", id: "d-case" }, h("h3", { "data-i18n": "clip.camera_title", text: CS.t("clip.camera_title") }));
    sec.dataset.camera = c.id;
    const open = h("button", { type: "button", class: "btn", id: "d-add-case", "data-i18n": "clip.add_camera", text: CS.t("clip.add_camera") });
    const slot = h("div", { class: "case-slot" });
    open.addEventListener("click", () => {
      open.hidden = true;
      const f = CS.clipForm.build({
        cameraIds: [c.id],
        cameraLabel: c.name + " (" + c.id + ")",
        onCancel: () => {
          slot.replaceChildren();
          open.hidden = false;
          open.focus();
        },
      });
      f.el.querySelector(".cf-title").remove();
      slot.replaceChildren(f.el);
      f.focus();
    });
    sec.append(open, slot);
    clipBox = sec;
    return sec;
  }

  // ---------------------------------------------------------------------------------- pictures
  function picture(src, caption, alt) {
    const fig = h("figure", { class: "pic" });
    const none = () => h("div", { class: "pic-none", text: CS.t("pictures.none") });
    if (!src) {
      fig.appendChild(h("div", { class: "pic-frame" }, none()));
    } else {
      const img = h("img", { src: src, alt: alt, decoding: "async" });
      img.addEventListener("error", () => img.replaceWith(none()));
      fig.appendChild(h("div", { class: "pic-frame" }, img));
    }
    fig.appendChild(h("figcaption", null, caption));
    return fig;
  }

  function pictures(c, thumbs, pics) {
    const base = "/api/cameras/" + CS.enc(c.id);
    const sec = h("section", { class: "d-sec" }, h("h3", { text: CS.t("pictures.title") }));
    // the times say how old each picture is (a camera that is down shows its last good picture)
    const latestCap = CS.t("pictures.latest") + (pics.latest_at ? " · " + CS.fmtTime(pics.latest_at, { short: true }) : "");
    const refCap = CS.t("pictures.reference") + (pics.reference_set_at ? " · " + CS.fmtTime(pics.reference_set_at, { short: true }) : "");
    sec.appendChild(
      h(
        "div",
        { class: "pics" },
        picture(
          pics.latest_at === null ? null : base + "/thumbnail.jpg?t=" + CS.enc(pics.latest_at || c.last_check_at || ""),
          latestCap,
          CS.t("pictures.latest") + ": " + c.name
        ),
        picture(
          pics.has_reference === false ? null : base + "/reference.jpg?t=" + CS.enc(pics.reference_set_at || ""),
          refCap,
          CS.t("pictures.reference") + ": " + c.name
        )
      )
    );
    const reset = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("pictures.reset") });
    const note = h("span", { class: "muted small", role: "status" });
    reset.addEventListener("click", async () => {
      if (!window.confirm(CS.t("pictures.reset_confirm"))) return;
      reset.disabled = true;
      try {
        await CS.api(base + "/reference/reset", { method: "POST" });
        note.textContent = CS.t("pictures.reset_done");
      } catch (e) {
        note.textContent = CS.t("error.generic", { error: e.message });
      } finally {
        reset.disabled = false;
      }
    });
    if (pics.has_reference !== false) sec.appendChild(h("div", { class: "d-actions" }, reset, note));
    if (thumbs.length) {
      const strip = h("div", { class: "strip", role: "list", "aria-label": CS.t("pictures.history") });
      for (const t of thumbs.slice(0, 12)) {
        const st = t.state || "unknown";
        const cap = h("span", { class: "strip-cap" }, CS.icon(st), CS.fmtTime(t.at, { short: true }));
        const img = h("img", { src: t.url, alt: CS.stateText(st) + " " + CS.fmtTime(t.at), loading: "lazy" });
        img.addEventListener("error", () => img.remove());
        strip.appendChild(h("a", { class: "strip-item", role: "listitem", href: t.url, target: "_blank", rel: "noopener", title: CS.stateText(st) + " · " + CS.fmtTime(t.at) }, img, cap));
      }
      sec.appendChild(h("h4", { text: CS.t("pictures.history") }));
      sec.appendChild(strip);
    }
    return sec;
  }

  // ---------------------------------------------------------------------------------- facts
  function info(c) {
    const dl = h("dl", { class: "facts" });
    const row = (key, value) => {
      if (value == null || value === "") return;
      dl.appendChild(h("dt", { text: CS.t(key) }));
      dl.appendChild(h("dd", null, value));
    };
    row("details.kind", c.kind ? CS.t("kind." + c.kind) : "");
    row("details.hamlet", c.hamlet);
    row("details.address", c.address);
    if (typeof c.latitude === "number" && typeof c.longitude === "number") {
      const a = h("button", { type: "button", class: "linkish", text: c.latitude.toFixed(5) + ", " + c.longitude.toFixed(5) });
      a.title = CS.t("details.show_on_map");
      a.addEventListener("click", () => CS.app && CS.app.showOnMap(c.id));
      row("details.location", a);
    }
    if (c.kind === "household" && (c.owner_name || c.owner_phone)) {
      const phone = c.owner_phone ? h("a", { href: "tel:" + c.owner_phone.replace(/[^0-9+]/g, ""), text: c.owner_phone }) : null;
      row("details.owner", h("span", null, c.owner_name || "", c.owner_name && phone ? " · " : "", phone));
    }
    row("details.device", [c.vendor, c.model].filter(Boolean).join(" "));
    row("details.stream", c.main_url || c.sub_url || c.snapshot_url ? h("code", { text: c.main_url || c.sub_url || c.snapshot_url }) : "");
    row("details.last_check", c.last_check_at ? CS.fmtTime(c.last_check_at, { seconds: true }) : "");
    row("details.notes", c.notes);
    return h("section", { class: "d-sec" }, dl);
  }

  // ---------------------------------------------------------------------------------- checks
  function checksTable(checks) {
    const sec = h("section", { class: "d-sec" }, h("h3", { text: CS.t("checks.title") }));
    if (!checks.length) {
      sec.appendChild(h("p", { class: "muted", text: CS.t("checks.none") }));
      return sec;
    }
    const tbody = h("tbody");
    for (const k of checks) {
      const faults = k.faults || [];
      const state = !k.ok ? "down" : faults.length ? "degraded" : "up";
      const result = !k.ok ? CS.causeText(k.error) || CS.t("checks.fail") : faults.length ? faults.map(CS.causeText).join(", ") : CS.t("checks.ok");
      const res = [k.width && k.height ? k.width + "×" + k.height : "", k.fps ? k.fps.toFixed(1) + " fps" : "", k.open_ms != null ? Math.round(k.open_ms) + " ms" : ""].filter(Boolean).join(" · ");
      tbody.appendChild(
        h(
          "tr",
          { class: "st-" + state },
          h("td", { class: "nowrap", text: CS.fmtTime(k.at, { seconds: true, short: true }) }),
          h("td", null, h("span", { class: "res txt-" + state }, CS.icon(state), result)),
          h("td", { class: "muted small", title: k.detail || "" }, res || k.detail || "")
        )
      );
    }
    const table = h(
      "table",
      { class: "tbl" },
      h("thead", null, h("tr", null, h("th", { text: CS.t("checks.time") }), h("th", { text: CS.t("checks.result") }), h("th", { text: CS.t("checks.detail") }))),
      tbody
    );
    sec.appendChild(h("div", { class: "table-wrap" }, table));
    return sec;
  }

  // ---------------------------------------------------------------------------------- outages
  function outageList(outages) {
    const sec = h("section", { class: "d-sec" }, h("h3", { text: CS.t("outages.title") }));
    if (!outages.length) {
      sec.appendChild(h("p", { class: "muted", text: CS.t("outages.none") }));
      return sec;
    }
    const ul = h("ul", { class: "outages" });
    for (const o of outages) {
      const state = o.state || "down";
      const li = h("li", { class: "outage st-" + state + (o.open ? " open" : "") });
      li.appendChild(h("div", { class: "o-head" }, CS.icon(state), h("strong", { text: CS.causeText(o.cause) || CS.stateText(state) }), o.open ? h("span", { class: "pill pill-" + state, text: CS.t("outages.ongoing") }) : null));
      const when = CS.fmtTime(o.started_at) + " → " + (o.ended_at ? CS.fmtTime(o.ended_at) : CS.t("outages.ongoing"));
      const dur = o.open ? CS.age(o.started_at) : o.duration_s;
      li.appendChild(h("div", { class: "o-when small" }, when + " · " + CS.fmtDuration(dur)));
      if (o.acknowledged_by) {
        li.appendChild(h("div", { class: "o-ack small" }, CS.icon("up"), CS.t("outages.acked_by", { who: o.acknowledged_by, time: CS.fmtTime(o.acknowledged_at, { short: true }) })));
      }
      if (CS.alerts.available() !== false) li.appendChild(deliveries(o));
      ul.appendChild(li);
    }
    sec.appendChild(ul);
    return sec;
  }

  // ---------------------------------------------------------------------------------- issue 5
  function ackBox(o) {
    const box = h("div", { class: "ack-box", role: "region", "aria-label": CS.t("ack.button") });
    if (o.acknowledged_by) {
      box.appendChild(h("p", { class: "o-ack" }, CS.icon("up"), CS.t("outages.acked_by", { who: o.acknowledged_by, time: CS.fmtTime(o.acknowledged_at, { short: true }) })));
      return box;
    }
    if (CS.alerts.available() === false || !CS.can("alerts.acknowledge")) {
      box.hidden = true;
      return box;
    }
    const btn = h("button", { type: "button", class: "btn btn-primary", text: CS.t("ack.button") });
    const msg = h("p", { class: "small", role: "status" });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        const res = await CS.alerts.ack(o);
        msg.textContent = CS.t("ack.done", { who: (res && res.acknowledged_by) || "" });
        if (CS.app) CS.app.pollSoon();
        setTimeout(() => D.changed(current), 300);
      } catch (err) {
        msg.textContent = CS.t("ack.failed", { error: err.message });
        btn.disabled = false;
        if (err.status === 404 || err.status === 405) box.hidden = true;
      }
    });
    box.appendChild(msg);
    box.appendChild(btn);
    return box;
  }

  function deliveries(o) {
    const det = h("details", { class: "deliveries" });
    const summary = h("summary", { text: CS.t("delivery.title") });
    const content = h("div", { class: "deliv-body" });
    det.append(summary, content);
    const fill = async () => {
      content.replaceChildren(loading());
      let msgs;
      try {
        msgs = await CS.alerts.deliveries(o);
      } catch (e) {
        msgs = null;
      }
      if (msgs == null) {
        det.hidden = true; // no alerts API here: hide the feature, not an error
        return;
      }
      if (!msgs.length) {
        content.replaceChildren(h("p", { class: "muted small", text: CS.t("delivery.none") }));
        return;
      }
      const tbody = h("tbody");
      for (const m of msgs) {
        const kind = CS.has("delivery.kind." + m.kind) ? CS.t("delivery.kind." + m.kind) : m.kind;
        const status = CS.has("delivery.status." + m.status) ? CS.t("delivery.status." + m.status) : m.status;
        const st = m.status === "sent" ? "up" : m.status === "failed" ? "down" : m.status === "cancelled" ? "maintenance" : "unknown";
        tbody.appendChild(
          h(
            "tr",
            null,
            h("td", { class: "nowrap", text: CS.fmtTime(m.sent_at || m.created_at, { short: true }) }),
            h("td", null, h("div", { text: m.contact_name || "" }), h("div", { class: "muted small", text: m.channel || "" })),
            h("td", { text: kind }),
            h("td", { title: m.last_error || "" }, h("span", { class: "res txt-" + st }, CS.icon(st), status + (m.attempts > 1 ? " (" + m.attempts + ")" : "")))
          )
        );
      }
      content.replaceChildren(
        h(
          "div",
          { class: "table-wrap" },
          h("table", { class: "tbl" }, h("thead", null, h("tr", null, h("th", { text: CS.t("checks.time") }), h("th", { text: CS.t("delivery.to") }), h("th", { text: CS.t("delivery.kind") }), h("th", { text: CS.t("delivery.status") }))), tbody)
        )
      );
    };
    det.addEventListener("toggle", () => {
      if (det.open) {
        openDeliveries.add(o.id);
        fill();
      } else openDeliveries.delete(o.id);
    });
    if (openDeliveries.has(o.id)) {
      det.open = true;
    }
    return det;
  }
})();
