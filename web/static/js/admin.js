/* Alerting administration (/admin/alerting, issue 11): contacts (name, role, message language, notes,
 * enabled), each with its channels and routing rules; add / edit / delete each; "Send a test" per channel
 * with its result. A channel URL holds secrets: it is typed once, sent, and the input emptied; the page only
 * ever shows the API's redacted form (ChannelPublic.url) and "set". Admins only: everyone else sees a
 * notice (and the API refuses them too). Everything from the API goes in as text. */
(function () {
  "use strict";
  const CS = window.CS;
  const h = CS.h;
  const $ = (id) => document.getElementById(id);

  const ROLES = ["technician", "duty", "owner", "other"];
  const LANGS = ["vi", "en"];
  const KINDS = ["roadside", "household"];
  const STATES = ["down", "degraded"];

  let contacts = [];
  let hamlets = [];
  const testResults = new Map(); // channel id -> {ok, text}
  const openForms = new Map(); // "channel:<cid>" | "rule:<cid>" | "rule-edit:<rid>" | "contact-edit:<cid>" -> true
  const messages = new Map(); // contact id -> {text, bad}

  const isAdmin = () => CS.can("contacts.manage") && CS.can("channels.manage") && CS.can("rules.manage");
  const json = (method, body) => ({ method: method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  async function load() {
    const r = await CS.api("/api/contacts");
    contacts = Array.isArray(r.body) ? r.body : [];
    render();
  }

  function option(value, text, selected) {
    return h("option", { value: value, text: text, selected: selected || null });
  }

  function render() {
    const box = $("adm-contacts");
    box.replaceChildren();
    if (!contacts.length) box.appendChild(h("p", { class: "muted empty", text: CS.t("adm.none") }));
    for (const c of contacts) box.appendChild(contactCard(c));
  }

  function contactCard(c) {
    const el = h("article", { class: "contact" + (c.enabled ? "" : " off"), "data-contact": String(c.id) });
    const head = h(
      "header",
      { class: "c-head" },
      h("h3", { text: c.name }),
      h("span", { class: "pill pill-closed", text: CS.t("adm.role." + c.role) }),
      h("span", { class: "pill pill-closed", text: CS.t("adm.lang." + c.language) }),
      c.enabled ? null : h("span", { class: "pill pill-down", text: CS.t("adm.disabled") })
    );
    const edit = h("button", { type: "button", class: "btn btn-quiet", "data-edit-contact": String(c.id), text: CS.t("adm.edit") });
    edit.addEventListener("click", () => toggle("contact-edit:" + c.id));
    const del = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("adm.delete") });
    del.addEventListener("click", () => {
      if (window.confirm(CS.t("adm.confirm_delete", { what: c.name }))) run(c.id, () => CS.api("/api/contacts/" + c.id, { method: "DELETE" }));
    });
    head.append(h("span", { class: "c-acts" }, edit, del));
    el.appendChild(head);
    if (c.notes) el.appendChild(h("p", { class: "muted small", text: c.notes }));
    if (openForms.has("contact-edit:" + c.id)) el.appendChild(contactForm(c));
    const msg = messages.get(c.id);
    if (msg) el.appendChild(h("p", { class: "f-msg" + (msg.bad ? " error" : ""), role: "status", text: msg.text }));

    // channels
    el.appendChild(h("h4", { text: CS.t("adm.channels") }));
    const chs = h("ul", { class: "channels" });
    for (const ch of c.channels || []) chs.appendChild(channelRow(ch));
    el.appendChild(chs);
    if (!(c.channels || []).length) el.appendChild(h("p", { class: "muted small", text: CS.t("adm.no_channels") }));
    if (openForms.has("channel:" + c.id)) el.appendChild(channelForm(c));
    else {
      const add = h("button", { type: "button", class: "btn", "data-add-channel": String(c.id), text: CS.t("adm.add_channel") });
      add.addEventListener("click", () => toggle("channel:" + c.id));
      el.appendChild(add);
    }

    // rules
    el.appendChild(h("h4", { text: CS.t("adm.rules") }));
    const rules = h("ul", { class: "rules" });
    for (const r of c.rules || []) {
      rules.appendChild(ruleRow(c, r));
      if (openForms.has("rule-edit:" + r.id)) rules.appendChild(h("li", null, ruleForm(c, r)));
    }
    el.appendChild(rules);
    if (!(c.rules || []).length) el.appendChild(h("p", { class: "muted small", text: CS.t("adm.no_rules") }));
    if (openForms.has("rule:" + c.id)) el.appendChild(ruleForm(c, null));
    else {
      const add = h("button", { type: "button", class: "btn", "data-add-rule": String(c.id), text: CS.t("adm.add_rule") });
      add.addEventListener("click", () => toggle("rule:" + c.id));
      el.appendChild(add);
    }
    return el;
  }

  function toggle(key) {
    if (openForms.has(key)) openForms.delete(key);
    else openForms.set(key, true);
    render();
  }

  async function run(contactId, fn, closeKey) {
    try {
      await fn();
      messages.set(contactId, { text: CS.t("adm.saved"), bad: false });
      if (closeKey) openForms.delete(closeKey);
    } catch (e) {
      messages.set(contactId, { text: CS.t("adm.err.server", { error: e.message }), bad: true });
    }
    await load();
  }

  // ------------------------------------------------------------------------------------ channels
  function channelRow(ch) {
    const li = h("li", { class: "channel", "data-channel": String(ch.id) });
    li.appendChild(
      h(
        "p",
        { class: "ch-l1" },
        h("strong", { text: ch.label || ch.service || "" }),
        " ",
        h("span", { class: "pill pill-open", text: CS.t("adm.url_set") }),
        ch.enabled ? null : h("span", { class: "pill pill-down", text: CS.t("adm.disabled") })
      )
    );
    li.appendChild(h("p", null, h("code", { class: "ch-url", text: ch.url })));
    const test = h("button", { type: "button", class: "btn ch-test", "data-test": String(ch.id), text: CS.t("adm.test") });
    test.addEventListener("click", () => sendTest(ch, test));
    const del = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("adm.delete") });
    del.addEventListener("click", () => {
      if (window.confirm(CS.t("adm.confirm_delete", { what: ch.url }))) run(ch.contact_id, () => CS.api("/api/channels/" + ch.id, { method: "DELETE" }));
    });
    li.appendChild(h("p", { class: "ch-acts" }, test, del));
    const res = testResults.get(ch.id);
    if (res) li.appendChild(h("p", { class: "test-result " + (res.ok ? "ok" : "error"), role: "status", "data-ok": String(res.ok), text: res.text }));
    return li;
  }

  async function sendTest(ch, button) {
    button.disabled = true;
    button.textContent = CS.t("adm.testing");
    let res;
    try {
      const r = await CS.api("/api/channels/" + ch.id + "/test", { method: "POST" });
      const b = r.body || {};
      res = b.ok ? { ok: true, text: CS.t("adm.test_ok", { ms: Math.round(b.duration_ms || 0) }) } : { ok: false, text: CS.t("adm.test_failed", { error: b.error || "?" }) };
    } catch (e) {
      res = { ok: false, text: CS.t("adm.test_failed", { error: e.message }) };
    }
    testResults.set(ch.id, res);
    render();
  }

  function channelForm(c) {
    const url = h("input", { type: "password", id: "ch-url-" + c.id, class: "ch-url-input", maxlength: "2000", autocomplete: "off", spellcheck: "false", placeholder: "json://host:port/path" });
    const label = h("input", { type: "text", id: "ch-label-" + c.id, maxlength: "200", autocomplete: "off" });
    const err = h("p", { class: "f-err", role: "alert" });
    const form = h(
      "form",
      { class: "sform inline", novalidate: true, "data-channel-form": String(c.id) },
      h("div", { class: "f-field" }, h("label", { for: url.id, text: CS.t("adm.url") }), url, err),
      h("div", { class: "f-field" }, h("label", { for: label.id, text: CS.t("adm.label") }), label),
      formActions("channel:" + c.id)
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = url.value.trim();
      if (!value) {
        err.textContent = CS.t("adm.err.url");
        url.focus();
        return;
      }
      url.value = ""; // the secret leaves the page at once
      run(c.id, () => CS.api("/api/contacts/" + c.id + "/channels", json("POST", { url: value, label: label.value.trim() })), "channel:" + c.id);
    });
    return form;
  }

  function formActions(key) {
    const cancel = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("adm.cancel") });
    cancel.addEventListener("click", () => toggle(key));
    return h("div", { class: "f-actions" }, h("button", { type: "submit", class: "btn btn-primary", text: CS.t("adm.save") }), cancel);
  }

  // ------------------------------------------------------------------------------------ contacts
  function contactForm(c) {
    const id = "ce-" + c.id;
    const name = h("input", { type: "text", id: id + "-name", value: c.name, maxlength: "200", required: true });
    const role = h("select", { id: id + "-role" }, ROLES.map((r) => option(r, CS.t("adm.role." + r), r === c.role)));
    const lang = h("select", { id: id + "-lang" }, LANGS.map((l) => option(l, CS.t("adm.lang." + l), l === c.language)));
    const notes = h("input", { type: "text", id: id + "-notes", value: c.notes || "", maxlength: "2000" });
    const enabled = h("input", { type: "checkbox", id: id + "-enabled", checked: c.enabled });
    const err = h("p", { class: "f-err", role: "alert" });
    const form = h(
      "form",
      { class: "sform inline", novalidate: true },
      h("div", { class: "f-row" },
        h("div", { class: "f-field" }, h("label", { for: name.id, text: CS.t("adm.name") }), name, err),
        h("div", { class: "f-field" }, h("label", { for: role.id, text: CS.t("adm.role") }), role),
        h("div", { class: "f-field" }, h("label", { for: lang.id, text: CS.t("adm.language") }), lang)),
      h("div", { class: "f-field" }, h("label", { for: notes.id, text: CS.t("adm.notes") }), notes),
      h("label", { class: "check" }, enabled, " ", CS.t("adm.enabled")),
      formActions("contact-edit:" + c.id)
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!name.value.trim()) {
        err.textContent = CS.t("adm.err.name");
        name.focus();
        return;
      }
      const body = { name: name.value.trim(), role: role.value, language: lang.value, notes: notes.value, enabled: enabled.checked };
      run(c.id, () => CS.api("/api/contacts/" + c.id, json("PATCH", body)), "contact-edit:" + c.id);
    });
    return form;
  }

  function initNewContact() {
    $("an-role").replaceChildren(...ROLES.map((r) => option(r, CS.t("adm.role." + r), r === "technician")));
    $("an-lang").replaceChildren(...LANGS.map((l) => option(l, CS.t("adm.lang." + l), l === "vi")));
    $("adm-new-open").addEventListener("click", () => {
      $("adm-new").hidden = !$("adm-new").hidden;
      if (!$("adm-new").hidden) $("an-name").focus();
    });
    $("adm-new-cancel").addEventListener("click", () => ($("adm-new").hidden = true));
    $("adm-new").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = $("an-name").value.trim();
      $("an-name-err").textContent = name ? "" : CS.t("adm.err.name");
      if (!name) {
        $("an-name").focus();
        return;
      }
      try {
        const r = await CS.api("/api/contacts", json("POST", { name: name, role: $("an-role").value, language: $("an-lang").value, notes: $("an-notes").value }));
        $("an-msg").textContent = CS.t("adm.saved");
        $("an-msg").classList.remove("error");
        $("an-name").value = "";
        $("an-notes").value = "";
        $("adm-new").hidden = true;
        if (r.body && r.body.id != null) openForms.set("channel:" + r.body.id, true);
      } catch (e) {
        $("an-msg").textContent = CS.t("adm.err.server", { error: e.message });
        $("an-msg").classList.add("error");
      }
      await load();
    });
  }

  // ------------------------------------------------------------------------------------ rules
  const listText = (xs, fn) => (xs && xs.length ? xs.map(fn || String).join(", ") : CS.t("adm.any"));

  function ruleRow(c, r) {
    const hours = r.hour_start == null && r.hour_end == null ? CS.t("adm.every_hour") : (r.hour_start || 0) + "–" + (r.hour_end == null ? 24 : r.hour_end) + "h";
    const li = h("li", { class: "rule" + (r.enabled ? "" : " off"), "data-rule": String(r.id) });
    li.appendChild(h("p", { class: "r-l1" }, h("strong", { text: r.name || "#" + r.id }), r.enabled ? null : h("span", { class: "pill pill-down", text: CS.t("adm.disabled") })));
    li.appendChild(
      h("p", {
        class: "small",
        text: CS.t("adm.rule_summary", {
          hamlets: listText(r.hamlets),
          kinds: listText(r.kinds, (k) => CS.t("kind." + k)),
          states: listText(r.states, (s) => CS.t("adm.state." + s)),
          hours: hours,
          level: r.level,
        }),
      })
    );
    const extra = [];
    if (r.camera_ids && r.camera_ids.length) extra.push(CS.t("adm.camera_ids") + ": " + r.camera_ids.join(", "));
    if (r.causes && r.causes.length) extra.push(CS.t("adm.causes") + ": " + r.causes.join(", "));
    if (!r.recovery) extra.push(CS.t("adm.recovery") + ": ✗");
    if (!r.reminders) extra.push(CS.t("adm.reminders_opt") + ": ✗");
    if (extra.length) li.appendChild(h("p", { class: "muted small", text: extra.join(" · ") }));
    const edit = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("adm.edit") });
    edit.addEventListener("click", () => toggle("rule-edit:" + r.id));
    const del = h("button", { type: "button", class: "btn btn-quiet", text: CS.t("adm.delete") });
    del.addEventListener("click", () => {
      if (window.confirm(CS.t("adm.confirm_delete", { what: r.name || "#" + r.id }))) run(c.id, () => CS.api("/api/routing-rules/" + r.id, { method: "DELETE" }));
    });
    li.appendChild(h("p", { class: "r-acts" }, edit, del));
    return li;
  }

  function checks(name, values, chosen, label) {
    return h(
      "fieldset",
      { class: "f-checks" },
      h("legend", { text: label }),
      values.map((v) => h("label", null, h("input", { type: "checkbox", name: name, value: v, checked: (chosen || []).includes(v) }), " ", v in LABELS ? LABELS[v]() : v))
    );
  }
  const LABELS = {
    roadside: () => CS.t("kind.roadside"),
    household: () => CS.t("kind.household"),
    down: () => CS.t("adm.state.down"),
    degraded: () => CS.t("adm.state.degraded"),
  };
  const splitList = (s) =>
    String(s || "")
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);

  function ruleForm(c, r) {
    const id = "rf-" + c.id + "-" + (r ? r.id : "new");
    const key = r ? "rule-edit:" + r.id : "rule:" + c.id;
    const name = h("input", { type: "text", id: id + "-name", maxlength: "200", value: r ? r.name : "" });
    const hamletBox = h(
      "fieldset",
      { class: "f-checks" },
      h("legend", { text: CS.t("adm.hamlets") }),
      hamlets.map((n) => h("label", null, h("input", { type: "checkbox", name: "hamlets", value: n, checked: r && r.hamlets.includes(n) }), " ", n))
    );
    const cams = h("input", { type: "text", id: id + "-cams", value: r ? r.camera_ids.join(", ") : "" });
    const causes = h("input", { type: "text", id: id + "-causes", value: r ? r.causes.join(", ") : "" });
    const hs = h("input", { type: "number", id: id + "-hs", min: "0", max: "23", value: r && r.hour_start != null ? r.hour_start : "" });
    const he = h("input", { type: "number", id: id + "-he", min: "0", max: "24", value: r && r.hour_end != null ? r.hour_end : "" });
    const level = h("input", { type: "number", id: id + "-level", min: "0", max: "10", value: r ? r.level : 0 });
    const box = (n, on, text) => h("label", { class: "check" }, h("input", { type: "checkbox", name: n, checked: on }), " ", text);
    const form = h(
      "form",
      { class: "sform inline rule-form", novalidate: true, "data-rule-form": String(c.id) },
      h("div", { class: "f-field" }, h("label", { for: name.id, text: CS.t("adm.rule_name") }), name),
      hamletBox,
      h("div", { class: "f-row" }, checks("kinds", KINDS, r && r.kinds, CS.t("adm.kinds")), checks("states", STATES, r && r.states, CS.t("adm.states"))),
      h("div", { class: "f-field" }, h("label", { for: cams.id, text: CS.t("adm.camera_ids") }), cams),
      h("div", { class: "f-field" }, h("label", { for: causes.id, text: CS.t("adm.causes") }), causes),
      h("div", { class: "f-row" },
        h("div", { class: "f-field" }, h("label", { for: hs.id, text: CS.t("adm.hour_start") }), hs),
        h("div", { class: "f-field" }, h("label", { for: he.id, text: CS.t("adm.hour_end") }), he),
        h("div", { class: "f-field" }, h("label", { for: level.id, text: CS.t("adm.level") }), level)),
      h("div", { class: "f-row" }, box("recovery", r ? r.recovery : true, CS.t("adm.recovery")), box("reminders", r ? r.reminders : true, CS.t("adm.reminders_opt")), box("enabled", r ? r.enabled : true, CS.t("adm.enabled"))),
      formActions(key)
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const picked = (n) => Array.from(form.querySelectorAll('input[name="' + n + '"]:checked')).map((x) => x.value);
      const flag = (n) => !!form.querySelector('input[name="' + n + '"]:checked');
      const num = (el) => (el.value === "" ? null : Number(el.value));
      const body = {
        name: name.value.trim(),
        hamlets: picked("hamlets"),
        kinds: picked("kinds"),
        states: picked("states"),
        camera_ids: splitList(cams.value),
        causes: splitList(causes.value),
        hour_start: num(hs),
        hour_end: num(he),
        level: num(level) || 0,
        recovery: flag("recovery"),
        reminders: flag("reminders"),
        enabled: flag("enabled"),
      };
      if (r) run(c.id, () => CS.api("/api/routing-rules/" + r.id, json("PATCH", body)), key);
      else run(c.id, () => CS.api("/api/routing-rules", json("POST", Object.assign({ contact_id: c.id }, body))), key);
    });
    return form;
  }

  async function start() {
    CS.languageButtons(() => {
      if (isAdmin()) render();
    });
    if (!isAdmin()) {
      $("adm-only").hidden = false;
    } else {
      $("adm-card").hidden = false;
      initNewContact();
      try {
        const hr = await CS.api("/api/hamlets");
        hamlets = Array.isArray(hr.body) ? hr.body : [];
      } catch (e) {
        hamlets = [];
      }
      try {
        await load();
      } catch (e) {
        $("load-error").hidden = false;
        $("load-error").textContent = e.status === 403 ? CS.t("adm.only") : CS.t("error.load", { error: e.message });
      }
    }
    document.body.classList.remove("loading");
    document.body.dataset.ready = "1";
  }

  window.camsvc = {
    contacts: () => JSON.parse(JSON.stringify(contacts)),
    refresh: load,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
