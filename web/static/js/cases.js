/* The cases page (/cases, issue 10): the list of cases, one case's clips (camera, range, source, status
 * with its detail, gaps), "Export package" as a job whose progress is polled (bounded) until its package
 * can be downloaded, and the service's signing key fingerprint to compare with a package's.
 * Everything from the API goes in as text; every POST carries the CSRF token (CS.api adds it). */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);

  const CLIP_POLL_MS = 3000;
  const CLIP_POLL_MAX = 200; // ~10 min of refreshing while clips are still being fetched
  const JOB_POLL_MS = [1000, 1000, 1000, 2000, 2000, 3000]; // then 3 s
  const JOB_POLL_MAX = 600; // ~30 min: a long export still ends the polling
  const ACTIVE_CLIP = new Set(["pending", "fetching"]);
  const JOB_DONE = new Set(["done", "failed"]);
  const CLIP_STATE = { ready: "up", pending: "unknown", fetching: "unknown", no_source: "maintenance", failed: "down" };
  const JOB_STATE = { done: "up", queued: "unknown", running: "unknown", failed: "down" };

  let cases = [];
  let currentId = CS.cfg.case != null ? String(CS.cfg.case) : null;
  let current = null; // the case shown (GET /api/cases/{id})
  let caseSeq = 0;
  let clipTimer = 0;
  let clipPolls = 0;
  const jobs = new Map(); // job id -> {job, polls, timer, caseId}
  let key = null;

  // ------------------------------------------------------------------------------------ list
  async function loadList() {
    const r = await CS.api("/api/cases");
    cases = Array.isArray(r.body) ? r.body : [];
    cases.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    renderList();
  }

  function statusPill(c) {
    const open = c.status === "open";
    return h("span", { class: "pill " + (open ? "pill-open" : "pill-closed"), text: CS.has("case.status." + c.status) ? CS.t("case.status." + c.status) : String(c.status || "") });
  }

  function renderList() {
    const box = $("case-rows");
    box.replaceChildren();
    for (const c of cases) {
      const btn = h(
        "button",
        { type: "button", class: "case-row" + (String(c.id) === currentId ? " sel" : ""), role: "listitem", "data-case": String(c.id), "aria-current": String(c.id) === currentId ? "true" : null },
        h("span", { class: "cr-l1" }, h("strong", { class: "cr-number", text: c.number }), statusPill(c), c.held ? h("span", { class: "pill pill-held", text: CS.t("case.held") }) : null),
        h("span", { class: "cr-title", text: c.title || "" }),
        h("span", { class: "cr-meta muted small", text: CS.t("case.row_meta", { n: Array.isArray(c.clips) ? c.clips.length : c.clips || 0, who: c.created_by || "", time: CS.fmtTime(c.created_at, { short: true }) }) })
      );
      btn.addEventListener("click", () => select(String(c.id)));
      box.appendChild(btn);
    }
    $("cases-empty").hidden = cases.length > 0;
  }

  // ------------------------------------------------------------------------------------ one case
  function select(id) {
    currentId = id;
    clipPolls = 0;
    const url = new URL(window.location.href);
    url.searchParams.set("case", id);
    window.history.replaceState(null, "", url);
    renderList();
    $("case").replaceChildren(h("p", { class: "muted", role: "status", text: CS.t("details.loading") }));
    document.body.classList.add("case-open");
    loadCase();
  }

  async function loadCase() {
    const id = currentId;
    if (!id) return;
    const my = ++caseSeq;
    clearTimeout(clipTimer);
    let body;
    try {
      body = (await CS.api("/api/cases/" + CS.enc(id))).body;
    } catch (e) {
      if (my !== caseSeq) return;
      $("case").replaceChildren(h("p", { class: "error", text: e.status === 404 ? CS.t("case.not_found", { id: id }) : CS.t("error.load", { error: e.message }) }));
      return;
    }
    if (my !== caseSeq || id !== currentId) return;
    current = body;
    renderCase();
    const busy = (body.clips || []).some((c) => ACTIVE_CLIP.has(c.status));
    if (busy && clipPolls < CLIP_POLL_MAX) {
      clipPolls++;
      clipTimer = setTimeout(loadCase, CLIP_POLL_MS);
    }
  }

  function renderCase() {
    const c = current;
    if (!c) return;
    const sec = $("case");
    const frag = document.createDocumentFragment();
    const back = h("button", { type: "button", class: "linkish case-back", text: CS.t("cases.back_list") });
    back.addEventListener("click", () => {
      document.body.classList.remove("case-open");
      const row = document.querySelector('.case-row[data-case="' + CSS.escape(String(c.id)) + '"]');
      if (row) row.focus();
    });
    frag.appendChild(back);
    frag.appendChild(h("h2", { id: "case-title", tabindex: "-1" }, h("span", { class: "case-number", text: c.number }), c.title ? " · " + c.title : ""));
    frag.appendChild(h("p", { class: "case-pills" }, statusPill(c), c.held ? h("span", { class: "pill pill-held", text: CS.t("case.held") }) : h("span", { class: "pill pill-closed", text: CS.t("case.released") })));
    const dl = h("dl", { class: "facts" });
    const row = (k, v) => {
      if (v == null || v === "") return;
      dl.append(h("dt", { text: CS.t(k) }), h("dd", null, v));
    };
    row("case.reason", c.reason);
    row("case.created", CS.t("case.by_at", { who: c.created_by || "", time: CS.fmtTime(c.created_at) }));
    if (c.closed_at) row("case.closed", CS.fmtTime(c.closed_at));
    frag.appendChild(dl);
    frag.appendChild(actions(c));
    frag.appendChild(clipsSection(c));
    frag.appendChild(exportsSection(c));
    const keySec = h("section", { class: "d-sec case-key" }, h("h3", { text: CS.t("key.title") }));
    keySec.appendChild(key ? CS.about.keyBlock(key) : h("p", { class: "muted small", text: CS.t("details.loading") }));
    frag.appendChild(keySec);
    const scroll = sec.scrollTop;
    sec.replaceChildren(frag);
    sec.scrollTop = scroll;
  }

  function actions(c) {
    const box = h("div", { class: "d-actions case-actions" });
    const msg = h("span", { class: "small", role: "status" });
    const post = async (path, confirmKey) => {
      if (!window.confirm(CS.t(confirmKey, { case: c.number }))) return;
      try {
        await CS.api("/api/cases/" + CS.enc(c.id) + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
        await Promise.all([loadList(), loadCase()]);
      } catch (e) {
        msg.textContent = CS.t("error.generic", { error: e.message });
      }
    };
    if (c.status === "open") {
      const close = h("button", { type: "button", class: "btn", id: "case-close", text: CS.t("case.close") });
      close.addEventListener("click", () => post("/close", "case.close_confirm"));
      box.appendChild(close);
    } else if (c.held && CS.can("evidence.release")) {
      const rel = h("button", { type: "button", class: "btn", id: "case-release", text: CS.t("case.release") });
      rel.addEventListener("click", () => post("/release", "case.release_confirm"));
      box.appendChild(rel);
    }
    box.appendChild(msg);
    return box;
  }

  function gapsCell(gaps) {
    const list = Array.isArray(gaps) ? gaps : [];
    if (!list.length) return h("td", { class: "muted", text: typeof gaps === "number" && gaps ? String(gaps) : CS.t("clip.no_gaps") });
    const td = h("td", { class: "clip-gaps" }, h("span", { text: CS.t("clip.gaps_n", { n: list.length }) }));
    const ul = h("ul", { class: "tl-list small" });
    for (const g of list.slice(0, 3)) {
      const a = CS.parseTime(g.start);
      const b = CS.parseTime(g.end);
      if (!a || !b) continue;
      ul.appendChild(h("li", { text: CS.fmtTime(a, { seconds: true, timeOnly: true }) + " → " + CS.fmtTime(b, { seconds: true, timeOnly: true }) + " · " + CS.fmtDuration((b - a) / 1000) }));
    }
    if (list.length > 3) ul.appendChild(h("li", { class: "muted", text: CS.t("clip.and_more", { n: list.length - 3 }) }));
    td.appendChild(ul);
    return td;
  }

  function clipsSection(c) {
    const clips = c.clips || [];
    const sec = h("section", { class: "d-sec case-clips" }, h("h3", { text: CS.t("clips.title", { n: clips.length }) }));
    if (!clips.length) {
      sec.appendChild(h("p", { class: "muted", text: CS.t("clips.none") }));
      sec.appendChild(h("p", { class: "small" }, h("a", { href: "/", text: CS.t("clips.add_hint") })));
      return sec;
    }
    const tbody = h("tbody");
    for (const k of clips) {
      const st = CLIP_STATE[k.status] || "unknown";
      const statusText = CS.has("clip.status." + k.status) ? CS.t("clip.status." + k.status) : String(k.status || "");
      const source = CS.has("clip.source." + k.source) ? CS.t("clip.source." + k.source) : String(k.source || "");
      const req = CS.fmtTime(k.start, { seconds: true, short: true }) + " → " + CS.fmtTime(k.end, { seconds: true, timeOnly: true });
      const act = k.actual_start ? CS.t("clip.actual", { range: CS.fmtTime(k.actual_start, { seconds: true, timeOnly: true }) + " → " + CS.fmtTime(k.actual_end, { seconds: true, timeOnly: true }) }) : "";
      tbody.appendChild(
        h(
          "tr",
          { class: "clip st-" + st, "data-clip": String(k.id), "data-status": String(k.status || "") },
          h("th", { scope: "row" }, h("div", { text: k.camera_name || k.camera_id }), h("div", { class: "muted small", text: k.camera_id })),
          h("td", null, h("div", { class: "nowrap", text: req }), act ? h("div", { class: "muted small", text: act }) : null),
          h("td", { class: "clip-source", text: source }),
          h(
            "td",
            { class: "clip-status" },
            h("span", { class: "res txt-" + st }, CS.icon(st), statusText),
            k.detail ? h("div", { class: "small clip-detail", text: k.detail }) : null
          ),
          gapsCell(k.gaps),
          h(
            "td",
            { class: "small" },
            k.size != null ? h("div", { class: "nowrap", text: CS.fmtBytes(k.size) }) : null,
            k.sha256 ? h("code", { class: "hash", title: k.sha256, text: String(k.sha256).slice(0, 12) + "…" }) : null
          )
        )
      );
    }
    const head = ["clips.camera", "clips.range", "clips.source", "clips.status", "clips.gaps", "clips.file"].map((k) => h("th", { scope: "col", text: CS.t(k) }));
    sec.appendChild(h("div", { class: "table-wrap" }, h("table", { class: "tbl clips" }, h("thead", null, h("tr", null, head)), tbody)));
    if (clips.some((k) => ACTIVE_CLIP.has(k.status)) && clipPolls >= CLIP_POLL_MAX) {
      const again = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("clips.refresh") });
      again.addEventListener("click", () => {
        clipPolls = 0;
        loadCase();
      });
      sec.appendChild(h("p", { class: "small" }, CS.t("clips.stopped") + " ", again));
    }
    return sec;
  }

  // ------------------------------------------------------------------------------------ exports
  function packageUrl(caseId, job) {
    return job.package_url || "/api/cases/" + CS.enc(caseId) + "/exports/" + CS.enc(job.id) + "/package";
  }

  function jobView(caseId, job) {
    const st = JOB_STATE[job.status] || "unknown";
    const pct = Math.max(0, Math.min(100, Math.round(100 * (Number(job.progress) || 0))));
    const li = h("li", { class: "job st-" + st, "data-job": String(job.id), "data-status": String(job.status || "") });
    const statusText = CS.has("export.status." + job.status) ? CS.t("export.status." + job.status) : String(job.status || "");
    li.appendChild(
      h(
        "div",
        { class: "o-head" },
        CS.icon(st),
        h("strong", { text: statusText }),
        h("span", { class: "muted small", text: CS.t("export.by_at", { who: job.requested_by || "", time: CS.fmtTime(job.created_at, { short: true }) }) })
      )
    );
    if (!JOB_DONE.has(job.status)) {
      const bar = h("progress", { class: "job-progress", max: 100, value: pct, "aria-label": CS.t("export.progress", { pct: pct }) });
      li.appendChild(h("div", { class: "job-bar" }, bar, h("span", { class: "small job-pct", text: pct + "%" })));
      if (job.step) li.appendChild(h("div", { class: "small muted job-step", text: job.step }));
    }
    if (job.status === "done") {
      li.appendChild(
        h(
          "p",
          { class: "small" },
          h("a", { class: "btn btn-primary job-download", href: packageUrl(caseId, job), download: "", text: CS.t("export.download") }),
          " ",
          job.size != null ? CS.fmtBytes(job.size) : ""
        )
      );
      if (job.sha256) li.appendChild(h("p", { class: "small" }, CS.t("export.sha256") + " ", h("code", { class: "hash-full", text: job.sha256 })));
    }
    if (job.status === "failed") li.appendChild(h("p", { class: "small error job-error", text: job.error || CS.t("export.failed") }));
    return li;
  }

  function exportsSection(c) {
    const sec = h("section", { class: "d-sec case-exports" }, h("h3", { text: CS.t("export.title") }));
    const btn = h("button", { type: "button", class: "btn btn-primary", id: "export-start", text: CS.t("export.start") });
    const msg = h("span", { class: "small", role: "status" });
    const clips = c.clips || [];
    btn.disabled = !clips.length;
    if (!clips.length) msg.textContent = CS.t("export.no_clips");
    else if (clips.some((k) => ACTIVE_CLIP.has(k.status))) msg.textContent = CS.t("export.clips_busy");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      msg.textContent = "";
      try {
        const r = await CS.api("/api/cases/" + CS.enc(c.id) + "/export", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
        const b = r.body || {};
        const job = Object.assign({ id: b.job_id != null ? b.job_id : b.id, status: b.status || "queued", progress: 0 }, b);
        if (job.id == null) throw new Error("no job id in the answer");
        trackJob(c.id, job);
        renderCase();
      } catch (e) {
        msg.textContent = CS.t("export.failed_start", { error: e.message });
        btn.disabled = false;
      }
    });
    sec.appendChild(h("div", { class: "d-actions" }, btn, msg));
    // jobs: those polled here (freshest) first, then the case's others
    const seen = new Set();
    const ul = h("ul", { class: "outages jobs" });
    const mine = Array.from(jobs.values()).filter((j) => String(j.caseId) === String(c.id));
    for (const j of mine.reverse()) {
      seen.add(String(j.job.id));
      ul.appendChild(jobView(c.id, j.job));
    }
    for (const job of (c.exports || []).slice().sort((a, b) => (a.created_at < b.created_at ? 1 : -1))) {
      if (seen.has(String(job.id))) continue;
      ul.appendChild(jobView(c.id, job));
      if (!JOB_DONE.has(job.status) && !jobs.has(String(job.id))) trackJob(c.id, job); // started elsewhere
    }
    if (ul.childNodes.length) sec.appendChild(ul);
    else sec.appendChild(h("p", { class: "muted small", text: CS.t("export.none") }));
    return sec;
  }

  /** Poll one export job until it is done or failed, or JOB_POLL_MAX polls (never forever). */
  function trackJob(caseId, job) {
    const k = String(job.id);
    const old = jobs.get(k);
    if (old) clearTimeout(old.timer);
    const t = { job: job, polls: 0, timer: 0, caseId: caseId };
    jobs.set(k, t);
    const tick = async () => {
      t.polls++;
      try {
        const r = await CS.api("/api/cases/" + CS.enc(caseId) + "/exports/" + CS.enc(job.id));
        t.job = Object.assign({ id: job.id }, r.body || {});
      } catch (e) {
        if (e.status === 404) {
          t.job = Object.assign({}, t.job, { status: "failed", error: e.message });
        }
      }
      if (current && String(current.id) === String(caseId)) renderCase();
      if (JOB_DONE.has(t.job.status)) return;
      if (t.polls >= JOB_POLL_MAX) {
        t.job = Object.assign({}, t.job, { step: CS.t("export.stopped") });
        if (current && String(current.id) === String(caseId)) renderCase();
        return;
      }
      t.timer = setTimeout(tick, JOB_POLL_MS[Math.min(t.polls, JOB_POLL_MS.length - 1)]);
    };
    t.timer = setTimeout(tick, JOB_POLL_MS[0]);
  }

  // ------------------------------------------------------------------------------------ new case
  function initNewCase() {
    const form = $("case-new");
    const open = $("case-new-open");
    open.addEventListener("click", () => {
      form.hidden = false;
      open.hidden = true;
      $("cn-number").focus();
    });
    $("case-new-cancel").addEventListener("click", () => {
      form.hidden = true;
      open.hidden = false;
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const msg = $("case-new-msg");
      const number = $("cn-number").value.trim();
      if (!number) {
        msg.className = "cf-msg small error";
        msg.textContent = CS.t("case.number_needed");
        return;
      }
      try {
        const r = await CS.api("/api/cases", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ number: number, title: $("cn-title").value.trim(), reason: $("cn-reason").value.trim() }),
        });
        $("cn-number").value = $("cn-title").value = $("cn-reason").value = "";
        msg.textContent = "";
        form.hidden = true;
        open.hidden = false;
        await loadList();
        if (r.body && r.body.id != null) select(String(r.body.id));
      } catch (err) {
        msg.className = "cf-msg small error";
        msg.textContent = CS.t("error.generic", { error: err.message });
      }
    });
  }

  // ------------------------------------------------------------------------------------ start
  function redraw(lang) {
    document.title = CS.t("cases.title") + " · " + CS.t("app.title");
    renderList();
    renderCase();
    renderKeyFoot();
  }

  function renderKeyFoot() {
    $("key-foot").replaceChildren(key ? CS.about.keyBlock(key) : h("p", { class: "muted small", text: CS.t("details.loading") }));
  }

  async function start() {
    CS.languageButtons(redraw);
    renderKeyFoot();
    CS.about.key().then((k) => {
      key = k;
      renderKeyFoot();
      renderCase();
    });
    if (!CS.mayCases()) {
      $("case-new-open").hidden = true;
      $("case").replaceChildren(h("p", { class: "muted notice", id: "cases-refused", text: CS.t("cases.refused") }));
      document.body.classList.remove("loading");
      document.body.dataset.ready = "1";
      return;
    }
    initNewCase();
    try {
      await loadList();
    } catch (e) {
      $("load-error").hidden = false;
      $("load-error").textContent =
        e.status === 404 && CS.routeMissing(e) ? CS.t("cases.unavailable") : e.status === 403 ? CS.t("cases.refused") : CS.t("error.load", { error: e.message });
    }
    document.body.classList.remove("loading");
    if (currentId) select(currentId);
    document.body.dataset.ready = "1";
  }

  // hooks for tests and curious investigators in the console
  window.camsvc = {
    caseCount: () => cases.length,
    currentCase: () => (current ? JSON.parse(JSON.stringify(current)) : null),
    jobs: () => Array.from(jobs.values()).map((j) => Object.assign({ polls: j.polls }, j.job)),
    refresh: () => Promise.all([loadList(), loadCase()]),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
