/* "About this service": version, time zone, who is signed in, and the evidence signing key's fingerprint
 * (GET /api/evidence/key), so an investigator can compare it with the one printed in a package. Used by the
 * dashboard (a dialog from the header) and the cases page (a section). */
(function () {
  "use strict";
  const CS = window.CS;
  const A = (CS.about = {});
  const h = CS.h;
  let keyPromise = null;

  /** {public_key_pem, fingerprint}, or {missing: true} / {refused: true} / {error} (never throws). */
  A.key = function (fresh) {
    if (!keyPromise || fresh) {
      keyPromise = CS.api("/api/evidence/key").then(
        (r) => r.body || { missing: true },
        (e) => (e.status === 403 ? { refused: true } : e.status === 404 || e.status === 405 ? { missing: true } : { error: e })
      );
    }
    return keyPromise;
  };

  /** The fingerprint block: grouped hex, and the public key to download (a PEM text file). */
  A.keyBlock = function (key) {
    const box = h("div", { class: "keybox" });
    if (!key || key.missing) {
      box.appendChild(h("p", { class: "muted small", text: CS.t("key.missing") }));
      return box;
    }
    if (key.refused) {
      box.appendChild(h("p", { class: "muted small", text: CS.t("key.refused") }));
      return box;
    }
    if (key.error) {
      box.appendChild(h("p", { class: "error small", text: CS.t("error.generic", { error: key.error.message }) }));
      return box;
    }
    box.appendChild(h("p", { class: "small", text: CS.t("key.explain") }));
    box.appendChild(h("code", { class: "fingerprint", text: CS.fmtFingerprint(key.fingerprint) }));
    if (key.public_key_pem) {
      const a = h("a", { class: "small", download: "camsvc-evidence-public-key.pem", text: CS.t("key.download") });
      a.href = URL.createObjectURL(new Blob([String(key.public_key_pem)], { type: "application/x-pem-file" }));
      box.appendChild(h("p", null, a));
    }
    return box;
  };

  A.init = function () {
    const btn = document.getElementById("about-open");
    const dlg = document.getElementById("about");
    if (!btn || !dlg) return;
    const body = dlg.querySelector(".about-body");
    btn.addEventListener("click", async () => {
      const dl = h("dl", { class: "facts" });
      const row = (k, v) => {
        if (v == null || v === "") return;
        dl.append(h("dt", { text: CS.t(k) }), h("dd", null, v));
      };
      row("about.version", CS.cfg.version);
      row("about.timezone", CS.cfg.timezone);
      if (CS.cfg.user) row("about.user", CS.cfg.user + (CS.cfg.role ? " (" + CS.t("role." + CS.cfg.role) + ")" : ""));
      const keySec = h("section", { class: "d-sec" }, h("h3", { text: CS.t("key.title") }), h("p", { class: "muted small", text: CS.t("details.loading") }));
      body.replaceChildren(dl, keySec);
      if (typeof dlg.showModal === "function") dlg.showModal();
      else dlg.setAttribute("open", "");
      const key = await A.key(true);
      keySec.replaceChildren(h("h3", { text: CS.t("key.title") }), A.keyBlock(key));
    });
    dlg.querySelector(".about-close").addEventListener("click", () => dlg.close());
  };
})();
