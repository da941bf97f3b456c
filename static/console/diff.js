// The console's line diff (longest common subsequence) and the dialog that shows one,
// with the actions offered under it (publish, publish and activate).
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, clear } = C;


  /** Line diff (longest common subsequence), as [{op: "same"|"add"|"del", text}]. */
  function lineDiff(a, b) {
    const x = a === "" ? [] : a.replace(/\n$/, "").split("\n");
    const y = b === "" ? [] : b.replace(/\n$/, "").split("\n");
    if (x.length * y.length > 4_000_000) {
      return [...x.map((text) => ({ op: "del", text })), ...y.map((text) => ({ op: "add", text }))];
    }
    const n = x.length, m = y.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    const out = [];
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { out.push({ op: "same", text: x[i] }); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: "del", text: x[i++] });
      else out.push({ op: "add", text: y[j++] });
    }
    while (i < n) out.push({ op: "del", text: x[i++] });
    while (j < m) out.push({ op: "add", text: y[j++] });
    return out;
  }

  /** Renders a diff keeping 2 lines of context around changes. */
  function renderDiff(ops) {
    const keep = ops.map(() => false);
    ops.forEach((o, i) => {
      if (o.op !== "same") for (let k = Math.max(0, i - 2); k <= Math.min(ops.length - 1, i + 2); k++) keep[k] = true;
    });
    const box = h("div", { class: "diff", id: "diff" });
    let skipped = 0;
    ops.forEach((o, i) => {
      if (!keep[i]) { skipped++; return; }
      if (skipped) { box.appendChild(h("div", { class: "gap" }, `… ${skipped} unchanged line${skipped === 1 ? "" : "s"}`)); skipped = 0; }
      box.appendChild(h("div", { class: o.op }, o.text));
    });
    if (skipped) box.appendChild(h("div", { class: "gap" }, `… ${skipped} unchanged line${skipped === 1 ? "" : "s"}`));
    return box;
  }

  function diffDialog(title, before, after, actions, message) {
    const ops = lineDiff(before, after);
    const added = ops.filter((o) => o.op === "add").length, removed = ops.filter((o) => o.op === "del").length;
    const dialog = h("dialog", { id: "diff-dialog", "aria-labelledby": "diff-title" },
      h("div", { class: "head" }, h("h2", { id: "diff-title" }, title), h("span", { class: "spacer" }),
        h("span", { class: "badge ok" }, `+${added}`), h("span", { class: "badge err" }, `−${removed}`)),
      h("div", { class: "body" },
        message ? h("p", { class: actions.length ? "note" : "error-banner", id: "publish-message" }, message) : null,
        added + removed ? renderDiff(ops) : h("p", { class: "muted" }, "No differences.")),
      h("div", { class: "foot" },
        h("button", { type: "button", onclick: () => dialog.close() }, actions.length ? "Cancel" : "Close"),
        actions.map(([label, fn, domId, cls]) => h("button", { type: "button", id: domId, class: cls, dataset: { write: "" }, onclick: async () => {
          if (await fn()) dialog.close();
        } }, label))));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.appendChild(dialog);
    dialog.showModal();
  }
  Object.assign(C, { lineDiff, renderDiff, diffDialog });
})();
