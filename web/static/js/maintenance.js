/* The maintenance screen (/maintenance, issue 11): windows active now, upcoming and past; a form to create
 * one (scope: every camera, one hamlet, or chosen cameras — one window each; reason and end required,
 * start defaults to now; times typed in Asia/Ho_Chi_Minh), "End now" on an active window (the server's
 * clock ends it), delete an upcoming one. Technicians and above change; others only read.
 * Errors name the field. Everything from the API goes in as text. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);

  const REFRESH_S = 30;
  let windows = [];
  let cameras = [];
  const picked = new Set();
  let timer = 0;
  let busy = false;

  const mayChange = () => CS.can("maintenance.manage");

  let loadSeq = 0; // the newest load wins: a slower, older answer (a timer's, racing an End now) is dropped
  async function loadWindows() {
    clearTimeout(timer);
    const seq = ++loadSeq;
    try {
      const r = await CS.api("/api/maintenance");
      if (seq !== loadSeq) return;
      windows = Array.isArray(r.body) ? r.body : [];
      $("load-error").hidden = true;
      renderLists();
    } catch (e) {
      if (seq !== loadSeq) return;
      $("load-error").hidden = false;
      $("load-error").textContent = CS.t("error.load", { error: e.message });
    }
    timer = setTimeout(loadWindows, REFRESH_S * 1000);
  }

  async function loadCameras() {
    const out = [];
    for (let offset = 0, i = 0; i < 20; i++) {
      const r = await CS.api("/api/cameras?limit=1000&offset=" + offset);
      const items = (r.body && r.body.items) || [];
      out.push(...items);
      offset += items.length;
      if (!items.length || offset >= (r.body.total || 0)) break;
    }
    cameras = out;
  }

  function phase(w) {
    if (w.active_now) return "active";
    const now = CS.now();
    const ends = CS.parseTime(w.ends_at);
    if (ends && ends.getTime() <= now) return "past";
    return "upcoming"; // not started yet, or recurring and outside its hours now
  }

  function scopeText(w) {
    if (w.camera_id) {
      const c = cameras.find((x) => x.id === w.camera_id);
      return CS.t("mnt.camera_scope", { name: c ? c.name + " (" + c.id + ")" : w.camera_id });
    }
    if (w.hamlet) return CS.t("mnt.hamlet_scope", { name: w.hamlet });
    return CS.t("mnt.scope.all");
  }

  function renderLists() {
    const groups = { active: [], upcoming: [], past: [] };
    for (const w of windows) groups[phase(w)].push(w);
    groups.upcoming.sort((a, b) => (a.starts_at < b.starts_at ? -1 : 1));
    groups.past.sort((a, b) => (a.ends_at < b.ends_at ? 1 : -1));
    for (const k of Object.keys(groups)) {
      const box = $("mnt-" + k);
      box.replaceChildren();
      if (!groups[k].length) box.appendChild(h("p", { class: "muted empty", text: CS.t("mnt.none") }));
      for (const w of groups[k].slice(0, k === "past" ? 30 : 500)) box.appendChild(windowRow(w, k));
    }
  }

  function windowRow(w, ph) {
    const state = ph === "active" ? "maintenance" : ph === "upcoming" ? "unknown" : "up";
    const el = h("article", { class: "win st-" + state, "data-window": String(w.id) });
    el.appendChild(h("p", { class: "w-l1" }, CS.icon("maintenance"), h("strong", { class: "w-scope", text: scopeText(w) }), h("span", { class: "muted small", text: "#" + w.id })));
    el.appendChild(h("p", { class: "w-reason", text: w.reason || "" }));
    const span = CS.t("mnt.span", { start: CS.fmtTime(w.starts_at, { short: true }), end: w.ends_at ? CS.fmtTime(w.ends_at, { short: true }) : CS.t("mnt.no_end") });
    el.appendChild(
      h(
        "p",
        { class: "w-meta small" },
        h("span", { class: "w-span", text: span }),
        w.recurring ? h("span", { class: "muted", text: CS.t("mnt.recurring", { desc: w.description }) }) : null,
        w.created_by ? h("span", { class: "muted", text: CS.t("mnt.by", { who: w.created_by }) }) : null
      )
    );
    if (mayChange() && ph !== "past") {
      const acts = h("p", { class: "w-actions" });
      if (ph === "active") {
        const b = h("button", { type: "button", class: "btn end-now", "data-end": String(w.id), text: CS.t("mnt.end_now") });
        b.addEventListener("click", () => act(b, "/api/maintenance/" + CS.enc(w.id) + "/end", "POST", "mnt.ended"));
        acts.appendChild(b);
      } else {
        const b = h("button", { type: "button", class: "btn btn-quiet w-delete", "data-delete": String(w.id), text: CS.t("mnt.delete") });
        b.addEventListener("click", () => {
          if (window.confirm(CS.t("mnt.confirm_delete"))) act(b, "/api/maintenance/" + CS.enc(w.id), "DELETE", "mnt.deleted");
        });
        acts.appendChild(b);
      }
      el.appendChild(acts);
    }
    return el;
  }

  async function act(button, url, method, doneKey) {
    button.disabled = true;
    try {
      await CS.api(url, { method: method });
      say(CS.t(doneKey), false);
    } catch (e) {
      say(CS.t("mnt.err.server", { error: e.message }), true);
    }
    await loadWindows();
  }

  function say(text, bad) {
    const m = $("mnt-msg");
    m.textContent = text;
    m.classList.toggle("error", !!bad);
  }

  // ------------------------------------------------------------------------------------ form
  const scope = () => (document.querySelector('input[name="scope"]:checked') || {}).value || "all";

  function showScope() {
    $("mnt-hamlet-f").hidden = scope() !== "hamlet";
    $("mnt-cameras-f").hidden = scope() !== "cameras";
  }

  function renderHamlets() {
    const names = Array.from(new Set(cameras.map((c) => c.hamlet).filter(Boolean))).sort((a, b) => a.localeCompare(b, "vi"));
    $("mnt-hamlet").replaceChildren(h("option", { value: "", text: "—" }), ...names.map((n) => h("option", { value: n, text: n })));
  }

  function renderCameras() {
    const q = CS.fold($("mnt-filter").value);
    const box = $("mnt-cams");
    box.replaceChildren();
    let shown = 0;
    for (const c of cameras) {
      if (q && !CS.fold(c.name + " " + c.id + " " + (c.hamlet || "")).includes(q)) continue;
      if (++shown > 200) break;
      const cb = h("input", { type: "checkbox", value: c.id, checked: picked.has(c.id) });
      cb.addEventListener("change", () => {
        if (cb.checked) picked.add(c.id);
        else picked.delete(c.id);
        $("mnt-picked").textContent = CS.t("mnt.picked", { n: picked.size });
      });
      box.appendChild(h("label", { class: "cam-opt" }, cb, " ", h("span", { text: c.name }), " ", h("span", { class: "muted small", text: c.id + (c.hamlet ? " · " + c.hamlet : "") })));
    }
    $("mnt-picked").textContent = CS.t("mnt.picked", { n: picked.size });
  }

  function fieldError(id, text) {
    const p = $(id + "-err");
    if (p) p.textContent = text || "";
    const input = $(id === "mnt-cameras" ? "mnt-filter" : id);
    if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  function setDefaults() {
    const now = new Date(CS.now());
    $("mnt-start").value = CS.dateToZoned(now);
    $("mnt-end").value = CS.dateToZoned(new Date(now.getTime() + 2 * 3600 * 1000));
  }

  function validate() {
    const errs = {};
    const reason = $("mnt-reason").value.trim();
    if (!reason) errs["mnt-reason"] = CS.t("mnt.err.reason");
    const startText = $("mnt-start").value;
    const start = startText ? CS.zonedToDate(startText) : new Date(CS.now());
    if (startText && !start) errs["mnt-start"] = CS.t("mnt.err.start");
    const endText = $("mnt-end").value;
    const end = endText ? CS.zonedToDate(endText) : null;
    if (!end) errs["mnt-end"] = CS.t("mnt.err.end");
    else if (start && end <= start) errs["mnt-end"] = CS.t("mnt.err.end_before");
    else if (end.getTime() <= CS.now()) errs["mnt-end"] = CS.t("mnt.err.end_past");
    if (scope() === "hamlet" && !$("mnt-hamlet").value) errs["mnt-hamlet"] = CS.t("mnt.err.hamlet");
    if (scope() === "cameras" && !picked.size) errs["mnt-cameras"] = CS.t("mnt.err.cameras");
    for (const id of ["mnt-reason", "mnt-start", "mnt-end", "mnt-hamlet", "mnt-cameras"]) fieldError(id, errs[id]);
    return { errs, reason, start, end };
  }

  // The server's field name -> the form's field (its 422 details start "reason: ...", "ends_at: ...")
  const SERVER_FIELD = { reason: "mnt-reason", ends_at: "mnt-end", starts_at: "mnt-start", hamlet: "mnt-hamlet", camera_id: "mnt-cameras" };

  async function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    const v = validate();
    const first = Object.keys(v.errs)[0];
    if (first) {
      say("", false);
      const el = $(first === "mnt-cameras" ? "mnt-filter" : first);
      if (el) el.focus();
      return;
    }
    const base = { reason: v.reason, starts_at: CS.isoZ(v.start), ends_at: CS.isoZ(v.end) };
    // a start typed as "now" (this minute) means now: not a minute in the past
    if (Math.abs(v.start.getTime() - CS.now()) < 60000) delete base.starts_at;
    const bodies =
      scope() === "hamlet" ? [Object.assign({ hamlet: $("mnt-hamlet").value }, base)] : scope() === "cameras" ? Array.from(picked).map((id) => Object.assign({ camera_id: id }, base)) : [base];
    busy = true;
    $("mnt-create").disabled = true;
    let made = 0;
    try {
      for (const b of bodies) {
        await CS.api("/api/maintenance", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(b) });
        made++;
      }
      say(CS.t("mnt.created", { n: made }), false);
      $("mnt-reason").value = "";
      picked.clear();
      renderCameras();
      setDefaults();
    } catch (e) {
      const m = /^(\w+):/.exec(e.message || "");
      if (m && SERVER_FIELD[m[1]]) fieldError(SERVER_FIELD[m[1]], e.message);
      say((made ? CS.t("mnt.created", { n: made }) + " " : "") + CS.t("mnt.err.server", { error: e.message }), true);
    }
    busy = false;
    $("mnt-create").disabled = false;
    await loadWindows();
  }

  function initForm() {
    $("mnt-form").hidden = false;
    document.querySelectorAll('input[name="scope"]').forEach((r) => r.addEventListener("change", showScope));
    $("mnt-filter").addEventListener("input", renderCameras);
    document.querySelectorAll("[data-hours]").forEach((b) => {
      b.textContent = CS.t("mnt.hours", { n: b.dataset.hours });
      b.addEventListener("click", () => {
        const s = CS.zonedToDate($("mnt-start").value) || new Date(CS.now());
        $("mnt-end").value = CS.dateToZoned(new Date(s.getTime() + Number(b.dataset.hours) * 3600 * 1000));
        fieldError("mnt-end", "");
      });
    });
    $("mnt-form").addEventListener("submit", submit);
    setDefaults();
    showScope();
  }

  async function start() {
    CS.languageButtons(() => {
      document.querySelectorAll("[data-hours]").forEach((x) => (x.textContent = CS.t("mnt.hours", { n: x.dataset.hours })));
      renderLists();
      renderCameras();
    });
    try {
      await loadCameras();
    } catch (e) {
      cameras = [];
    }
    if (mayChange()) {
      initForm();
      renderHamlets();
      renderCameras();
    } else {
      $("mnt-role-note").hidden = false;
    }
    await loadWindows();
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  window.camsvc = {
    windows: () => JSON.parse(JSON.stringify(windows)),
    refresh: loadWindows,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
