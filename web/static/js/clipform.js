/* "Create a case clip" (issue 10), for officers and admins: a time range (typed in Asia/Ho_Chi_Minh time,
 * sent as UTC), a case (an open one, or a new one with number/title/reason), then
 * POST /api/cases/{id}/clips with either {near: {lat, lon, radius_m}} (a point picked on the map and a
 * radius drawn as a circle) or {camera_ids: [id]} (from a camera's details). */
(function () {
  "use strict";
  const CS = window.CS;
  const F = (CS.clipForm = {});
  const h = CS.h;
  const DEFAULT_RADIUS_M = 100;
  const DEFAULT_SPAN_MIN = 30;
  const NEW = "__new__";
  let formSeq = 0;

  /** Open cases, newest first ([] when the user may not list them). */
  F.openCases = async function () {
    const r = await CS.api("/api/cases");
    const list = Array.isArray(r.body) ? r.body : [];
    return list.filter((c) => c.status === "open").sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  };

  /** A labelled input; the label carries its key, so a language switch re-words an open form. */
  function field(id, key, input) {
    return h("div", { class: "cf-field" }, h("label", { for: id, "data-i18n": key, text: CS.t(key) }), input);
  }

  /**
   * The form. opts: {near: {lat, lon} | null, cameraIds: [...] | null, onRadius(r), countNear(r) -> cameras,
   *                  onCancel(), title}
   * Returns {el, setPoint(lat, lon), radius()}.
   */
  F.build = function (opts) {
    const n = ++formSeq;
    const id = (s) => "cf" + n + "-" + s;
    const form = h("form", { class: "clipform", novalidate: true, "data-form": opts.near !== undefined ? "near" : "cameras" });
    form.appendChild(h("h3", { class: "cf-title", "data-i18n": "clip.title", text: CS.t("clip.title") }));

    // --- where
    let point = opts.near || null;
    const where = h("p", { class: "cf-where small", role: "status" });
    const radius = h("input", { id: id("radius"), name: "radius", type: "number", min: 10, max: 5000, step: 10, value: DEFAULT_RADIUS_M, inputmode: "numeric", required: true });
    const near = h("ul", { class: "cf-near small" });
    const showWhere = () => {
      if (opts.cameraIds) return;
      if (!point) {
        where.textContent = CS.t("clip.pick_hint");
        near.replaceChildren();
        return;
      }
      const r = Number(radius.value) || DEFAULT_RADIUS_M;
      const cams = opts.countNear ? opts.countNear(point, r) : [];
      where.textContent = CS.t("clip.point", { lat: point.lat.toFixed(5), lon: point.lon.toFixed(5) }) + " · " + CS.t("clip.cameras_within", { n: cams.length, r: r });
      near.replaceChildren();
      for (const c of cams.slice(0, 8)) near.appendChild(h("li", { text: c.name + " (" + c.id + ")" }));
      if (cams.length > 8) near.appendChild(h("li", { class: "muted", text: CS.t("clip.and_more", { n: cams.length - 8 }) }));
    };
    if (opts.cameraIds) {
      form.appendChild(h("p", { class: "cf-where small", text: CS.t("clip.for_cameras", { names: opts.cameraLabel || opts.cameraIds.join(", ") }) }));
    } else {
      form.appendChild(where);
      if (opts.useCentre) {
        // for the keyboard, and for a thumb that cannot hit the spot: the point under the map's centre
        const centreBtn = h("button", { type: "button", class: "btn btn-quiet cf-centre", "data-i18n": "clip.use_centre", text: CS.t("clip.use_centre") });
        centreBtn.addEventListener("click", () => opts.useCentre());
        form.appendChild(centreBtn);
      }
      form.appendChild(field(id("radius"), "clip.radius", radius));
      form.appendChild(near);
      radius.addEventListener("input", () => {
        const r = Number(radius.value);
        if (r > 0 && opts.onRadius) opts.onRadius(r);
        showWhere();
      });
    }

    // --- when (the commune's local time)
    const end0 = new Date(Math.floor(CS.now() / 60000) * 60000);
    const start0 = new Date(end0.getTime() - DEFAULT_SPAN_MIN * 60000);
    const start = h("input", { id: id("start"), name: "start", type: "datetime-local", step: 60, value: CS.dateToZoned(start0), required: true });
    const end = h("input", { id: id("end"), name: "end", type: "datetime-local", step: 60, value: CS.dateToZoned(end0), required: true });
    const tzHint = CS.t("clip.tz_hint", { tz: CS.cfg.timezone });
    form.appendChild(h("div", { class: "cf-row" }, field(id("start"), "clip.start", start), field(id("end"), "clip.end", end)));
    form.appendChild(h("p", { class: "muted small cf-hint", text: tzHint })); // the zone's name: no words to switch

    // --- which case
    const sel = h("select", { id: id("case"), name: "case", required: true }, h("option", { value: "", text: CS.t("clip.cases_loading") }));
    const number = h("input", { id: id("number"), name: "number", type: "text", maxlength: 100, autocomplete: "off", placeholder: "2026/117" });
    const title = h("input", { id: id("ctitle"), name: "title", type: "text", maxlength: 300, autocomplete: "off" });
    const reason = h("textarea", { id: id("reason"), name: "reason", rows: 2, maxlength: 2000 });
    const newBox = h(
      "fieldset",
      { class: "cf-new", hidden: true },
      h("legend", { "data-i18n": "case.new", text: CS.t("case.new") }),
      field(id("number"), "case.number", number),
      field(id("ctitle"), "case.title_label", title),
      field(id("reason"), "case.reason", reason)
    );
    form.appendChild(field(id("case"), "clip.case", sel));
    form.appendChild(newBox);
    let cases = [];
    const fillCases = async (selectId) => {
      try {
        cases = await F.openCases();
      } catch (e) {
        cases = [];
        msg.textContent = CS.t("error.generic", { error: e.message });
      }
      sel.replaceChildren();
      for (const c of cases) sel.appendChild(h("option", { value: String(c.id), text: c.number + (c.title ? " — " + c.title : "") }));
      sel.appendChild(h("option", { value: NEW, text: CS.t("case.new_option") }));
      sel.value = selectId != null ? String(selectId) : cases.length ? String(cases[0].id) : NEW;
      newBox.hidden = sel.value !== NEW;
    };
    sel.addEventListener("change", () => {
      newBox.hidden = sel.value !== NEW;
      if (!newBox.hidden) number.focus();
    });

    // --- go
    const submit = h("button", { type: "submit", class: "btn btn-primary", "data-i18n": "clip.submit", text: CS.t("clip.submit") });
    const cancel = opts.onCancel ? h("button", { type: "button", class: "btn btn-quiet", "data-i18n": "clip.cancel", text: CS.t("clip.cancel") }) : null;
    if (cancel) cancel.addEventListener("click", () => opts.onCancel());
    const msg = h("p", { class: "cf-msg small", role: "status", "aria-live": "polite" });
    form.appendChild(h("div", { class: "d-actions" }, submit, cancel));
    form.appendChild(msg);

    const fail = (text) => {
      msg.className = "cf-msg small error";
      msg.textContent = text;
    };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      msg.className = "cf-msg small";
      msg.textContent = "";
      const s = CS.zonedToDate(start.value);
      const t = CS.zonedToDate(end.value);
      if (!s || !t) return fail(CS.t("clip.bad_time"));
      if (t <= s) return fail(CS.t("clip.end_before_start"));
      if (!opts.cameraIds && !point) return fail(CS.t("clip.pick_hint"));
      const r = Math.round(Number(radius.value));
      if (!opts.cameraIds && !(r > 0)) return fail(CS.t("clip.bad_radius"));
      if (sel.value === NEW && !number.value.trim()) {
        number.focus();
        return fail(CS.t("case.number_needed"));
      }
      submit.disabled = true;
      let caseId = sel.value;
      try {
        if (caseId === NEW) {
          const made = await CS.api("/api/cases", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ number: number.value.trim(), title: title.value.trim(), reason: reason.value.trim() }),
          });
          caseId = String(made.body.id);
          await fillCases(caseId); // a retry after a failed clip request must not make the case twice
          number.value = title.value = reason.value = "";
        }
        const body = { start: CS.isoZ(s), end: CS.isoZ(t) };
        if (opts.cameraIds) body.camera_ids = opts.cameraIds.slice();
        else body.near = { lat: point.lat, lon: point.lon, radius_m: r };
        const res = await CS.api("/api/cases/" + CS.enc(caseId) + "/clips", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        const clips = (res.body && res.body.clips) || [];
        const skipped = (res.body && res.body.skipped) || [];
        const c = cases.find((x) => String(x.id) === String(caseId));
        msg.className = "cf-msg small ok";
        const done = CS.t("clip.done", { n: clips.length, case: c ? c.number : caseId });
        const left = skipped.length ? " " + CS.t("clip.skipped", { n: skipped.length }) : "";
        msg.replaceChildren(
          document.createTextNode(done + left + " "),
          h("a", { href: "/cases?case=" + CS.enc(caseId), class: "cf-open", text: CS.t("clip.open_case") })
        );
      } catch (err) {
        fail(CS.t("clip.failed", { error: err.message }));
      } finally {
        submit.disabled = false;
      }
    });

    fillCases();
    showWhere();
    return {
      el: form,
      setPoint: (lat, lon) => {
        point = { lat: lat, lon: lon };
        showWhere();
      },
      radius: () => Number(radius.value) || DEFAULT_RADIUS_M,
      focus: () => (opts.cameraIds ? start : radius).focus(),
    };
  };

  // ----------------------------------------------------------------------------- picking on the map
  const P = (CS.clipPick = {});
  let map = null;
  let panel = null;
  let circle = null;
  let centre = null;
  let form = null;
  let active = false;
  let getCams = () => [];

  function distanceM(a, b) {
    const R = 6371008.8;
    const rad = Math.PI / 180;
    const dLat = (b.lat - a.lat) * rad;
    const dLon = (b.lon - a.lon) * rad;
    const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.min(1, Math.sqrt(s)));
  }
  /** Cameras with coordinates within r metres of p (what the server will pick; it decides). */
  P.near = function (p, r) {
    return getCams()
      .filter((c) => typeof c.lat === "number" && typeof c.lon === "number" && distanceM(p, { lat: c.lat, lon: c.lon }) <= r)
      .sort((a, b) => distanceM(p, a) - distanceM(p, b));
  };

  P.init = function (leafletMap, opts) {
    if (!CS.mayCases()) return;
    map = leafletMap;
    getCams = opts.cameras;
    panel = document.getElementById("clip-panel");
    const ctl = L.control({ position: "topleft" }); // under the zoom buttons: clear of the map notes
    ctl.onAdd = function () {
      const btn = CS.h("button", { type: "button", id: "clip-start", class: "map-btn", "data-i18n": "clip.create", text: CS.t("clip.create") });
      btn.addEventListener("click", () => (active ? P.stop() : P.start()));
      L.DomEvent.disableClickPropagation(btn);
      return btn;
    };
    ctl.addTo(map);
    map.on("click", (e) => {
      if (active) P.setPoint(e.latlng.lat, e.latlng.lng);
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && active && !document.body.classList.contains("details-open")) P.stop();
    });
  };

  P.active = () => active;

  P.start = function () {
    if (!map || !panel) return;
    active = true;
    document.body.classList.add("picking");
    map.getContainer().classList.add("picking");
    const btn = document.getElementById("clip-start");
    if (btn) btn.setAttribute("aria-pressed", "true");
    form = F.build({
      near: null,
      countNear: P.near,
      onRadius: (r) => circle && circle.setRadius(r),
      onCancel: () => P.stop(),
      useCentre: () => {
        const c = map.getCenter();
        P.setPoint(c.lat, c.lng);
      },
    });
    panel.replaceChildren(form.el);
    panel.hidden = false;
    form.focus();
  };

  P.setPoint = function (lat, lon) {
    if (!active) return;
    const r = form.radius();
    if (!circle) {
      circle = L.circle([lat, lon], { radius: r, color: "#5b2a86", weight: 2, fillColor: "#8e5cc2", fillOpacity: 0.15, interactive: false }).addTo(map);
      centre = L.circleMarker([lat, lon], { radius: 5, color: "#fff", weight: 2, fillColor: "#5b2a86", fillOpacity: 1, interactive: false }).addTo(map);
    } else {
      circle.setLatLng([lat, lon]);
      centre.setLatLng([lat, lon]);
    }
    form.setPoint(lat, lon);
  };

  P.stop = function () {
    active = false;
    document.body.classList.remove("picking");
    if (map) map.getContainer().classList.remove("picking");
    const btn = document.getElementById("clip-start");
    if (btn) btn.setAttribute("aria-pressed", "false");
    if (circle) circle.remove();
    if (centre) centre.remove();
    circle = centre = null;
    form = null;
    if (panel) {
      panel.hidden = true;
      panel.replaceChildren();
    }
  };
  /** The circle drawn, for tests: {lat, lon, radius} or null. */
  P.circle = () => (circle ? { lat: circle.getLatLng().lat, lon: circle.getLatLng().lng, radius: circle.getRadius() } : null);
})();
