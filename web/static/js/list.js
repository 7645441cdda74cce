/* The camera list, worst first, virtualised: only the rows in view exist (about 30 for 10,000 cameras), and
 * a row is rewritten only when its camera, the language or the minute changed. Keyboard: the list is one
 * tab stop (role=listbox); arrows, Page Up/Down, Home/End move, Enter or Space opens the camera. */
(function () {
  "use strict";
  const CS = window.CS;
  const V = (CS.list = {});

  const ROW_H = 68;
  const OVERSCAN = 6;

  let el = null;
  let spacer = null;
  let ids = [];
  let get = () => null;
  let onOpen = () => {};
  let active = -1;
  let activeId = null;
  let selectedId = null;
  let epoch = 0; // bumped each minute and on language switch: durations and words re-render
  let frame = 0;
  const rows = new Map(); // index -> row element
  const free = [];

  V.init = function (container, opts) {
    el = container;
    get = opts.get;
    onOpen = opts.onOpen;
    spacer = CS.h("div", { class: "vlist-spacer", "aria-hidden": "true" });
    el.appendChild(spacer);
    el.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
    el.addEventListener("keydown", onKey);
    el.addEventListener("click", onClick);
    el.addEventListener("focus", () => {
      if (active < 0 && ids.length) setActive(0, false);
      else el.classList.add("kbd");
    });
    el.addEventListener("blur", () => el.classList.remove("kbd"));
  };

  V.setItems = function (newIds) {
    ids = newIds;
    spacer.style.height = ids.length * ROW_H + "px";
    el.setAttribute("aria-setsize", String(ids.length));
    active = activeId ? ids.indexOf(activeId) : -1;
    if (active < 0) el.removeAttribute("aria-activedescendant");
    render(); // a row is rewritten only if its camera, version or position changed
  };
  V.refresh = function () {
    epoch++;
    render();
  };
  V.renderNow = render;
  V.ids = () => ids.slice();
  V.select = function (id) {
    selectedId = id;
    for (const r of rows.values()) r.classList.toggle("sel", r.dataset.id === id);
  };
  V.focus = function () {
    el.focus({ preventScroll: true });
  };
  V.scrollTo = function (id) {
    const i = ids.indexOf(id);
    if (i >= 0) setActive(i, false);
  };

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    if (!el || el.offsetParent === null) return; // hidden (phone map view, details open): later
    const top = el.scrollTop;
    const h = el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(ids.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    for (const [i, r] of rows) {
      if (i < first || i >= last) {
        rows.delete(i);
        r.remove();
        free.push(r);
      }
    }
    for (let i = first; i < last; i++) {
      const cam = get(ids[i]);
      if (!cam) continue;
      let r = rows.get(i);
      if (!r) {
        r = free.pop() || makeRow();
        r.dataset.key = "";
        rows.set(i, r);
        el.appendChild(r);
      }
      const key = cam.id + "|" + cam._v + "|" + CS.lang + "|" + epoch + "|" + i;
      if (r.dataset.key !== key) {
        fill(r, cam, i);
        r.dataset.key = key;
      }
      r.classList.toggle("act", i === active);
      r.classList.toggle("sel", cam.id === selectedId);
      r.setAttribute("aria-selected", i === active ? "true" : "false");
    }
    if (active >= 0 && rows.has(active)) el.setAttribute("aria-activedescendant", rows.get(active).id);
  }

  function makeRow() {
    const r = CS.h("div", { class: "row", role: "option" });
    r.appendChild(CS.h("span", { class: "row-ico" }));
    const body = CS.h("div", { class: "row-body" });
    body.appendChild(
      CS.h("div", { class: "row-l1" }, CS.h("span", { class: "row-name" }), CS.h("span", { class: "row-delayed", hidden: true }), CS.h("span", { class: "row-tag" }))
    );
    body.appendChild(CS.h("div", { class: "row-l2" }));
    body.appendChild(CS.h("div", { class: "row-l3" }));
    r.appendChild(body);
    return r;
  }

  /** The status line: "Mất tín hiệu từ 21:04 22/11 · 2 giờ 5 phút" / "Ống kính bị che từ ..." */
  V.statusLine = function (c) {
    if (c.enabled === false) return CS.t("list.disabled");
    if (c.stale) {
      // the recorded state stays visible, as the last thing known
      return CS.t("list.stale", { state: CS.stateText(c.state || "unknown"), time: CS.fmtTime(c.last_check_at, { short: true }) });
    }
    const when = c.since ? CS.fmtTime(c.since, { short: true }) : "";
    const dur = c.since ? " · " + CS.fmtDuration(CS.age(c.since)) : "";
    switch (c.state) {
      case "down":
        return when ? CS.t("list.down_since", { time: when }) + dur : CS.stateText("down");
      case "degraded": {
        const fault = CS.causeText(c.cause) || CS.stateText("degraded");
        return when ? CS.t("list.degraded_since", { fault: fault, time: when }) + dur : fault;
      }
      case "maintenance":
        return when ? CS.t("list.maintenance_since", { time: when }) + dur : CS.stateText("maintenance");
      case "up":
        return CS.t("list.up");
      default:
        return CS.t("list.unknown");
    }
  };

  function fill(r, c, i) {
    const state = CS.shown(c);
    r.id = "cam-opt-" + i;
    r.dataset.id = c.id;
    r.dataset.state = state;
    r.className = "row st-" + state + (c.enabled === false ? " off" : "");
    r.style.top = i * ROW_H + "px";
    r.setAttribute("aria-posinset", String(i + 1));
    const ico = r.firstChild;
    ico.replaceChildren(CS.icon(state));
    const [l1, l2, l3] = r.lastChild.children;
    l1.firstChild.textContent = c.name;
    const tag = l1.lastChild;
    tag.textContent = c.acknowledged ? CS.t("list.acknowledged") : "";
    tag.className = "row-tag" + (c.acknowledged ? " ack" : "");
    // delayed (issue 12): the camera's probe node holds results not yet in the database
    const late = l1.children[1];
    late.hidden = !c.delayed;
    late.textContent = c.delayed ? CS.t("delayed.badge") : "";
    late.title = c.delayed ? CS.t("delayed.title") : "";
    l2.textContent = V.statusLine(c);
    l2.className = "row-l2 txt-" + state;
    let l3text;
    if (state === "down" && c.cause) l3text = CS.causeText(c.cause);
    else l3text = [c.hamlet, CS.t("kind." + c.kind), c.id].filter(Boolean).join(" · ");
    if (typeof c.lat !== "number") l3text += " · " + CS.t("list.no_location");
    l3.textContent = l3text;
    r.setAttribute("aria-label", c.name + ". " + CS.stateText(state) + ". " + (c.delayed ? CS.t("delayed.title") + ". " : "") + l2.textContent + ". " + l3text);
  }

  function setActive(i, open) {
    if (!ids.length) return;
    active = Math.max(0, Math.min(ids.length - 1, i));
    activeId = ids[active];
    const h = el.clientHeight;
    const y = active * ROW_H;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW_H > el.scrollTop + h) el.scrollTop = y + ROW_H - h;
    el.classList.add("kbd");
    render();
    if (open) onOpen(activeId, "list");
  }

  function onKey(e) {
    const page = Math.max(1, Math.floor(el.clientHeight / ROW_H) - 1);
    let handled = true;
    switch (e.key) {
      case "ArrowDown":
        setActive(active + 1, false);
        break;
      case "ArrowUp":
        setActive(active - 1, false);
        break;
      case "PageDown":
        setActive(active + page, false);
        break;
      case "PageUp":
        setActive(active - page, false);
        break;
      case "Home":
        setActive(0, false);
        break;
      case "End":
        setActive(ids.length - 1, false);
        break;
      case "Enter":
      case " ":
        if (active >= 0) setActive(active, true);
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  }

  function onClick(e) {
    const r = e.target.closest(".row");
    if (!r || !r.dataset.id) return;
    const i = ids.indexOf(r.dataset.id);
    if (i >= 0) {
      active = i;
      activeId = r.dataset.id;
      el.classList.remove("kbd");
      render();
      onOpen(activeId, "list");
    }
  }
})();
