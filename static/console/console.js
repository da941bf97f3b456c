// The Switchboard admin console: a single page over the admin API (/v1/admin), served by
// the binary at /console (docs/console.md). No framework and no build step; the editor
// is the vendored CodeMirror bundle (editor.js, window.SwitchboardEditor).
//
// Rules this file keeps:
// - The API key lives in sessionStorage only: never in a URL, never in localStorage.
// - Every text that comes from the server (flow source, state names, transcripts,
//   diagnostics, audit details) reaches the page through text nodes (`h()` below), never
//   innerHTML. The page's CSP (no inline script) is the second wall.
// - Write controls are created only for roles that may use them; the server checks
//   every request anyway.
"use strict";

(() => {
  const KEY_SLOT = "switchboard.console.key";
  const TENANT_SLOT = "switchboard.console.tenant";
  const ROLES = { viewer: 1, editor: 2, owner: 3 };

  // ---------------------------------------------------------------- DOM helpers

  /** Creates an element. `attrs` keys starting with "on" are listeners; children that
   *  are strings become text nodes. */
  function h(tag, attrs, ...children) {
    const el = tag === "svg" || SVG_TAGS.has(tag)
      ? document.createElementNS("http://www.w3.org/2000/svg", tag)
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }
  const SVG_TAGS = new Set(["g", "rect", "text", "path", "title", "defs", "marker", "tspan"]);
  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }
  function time(ms) {
    if (!ms) return "—";
    const d = new Date(ms);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function toast(text, isError) {
    document.querySelector(".toast")?.remove();
    const el = h("div", { class: isError ? "toast err" : "toast", role: isError ? "alert" : "status" }, text);
    document.body.appendChild(el);
    setTimeout(() => el.remove(), isError ? 6000 : 2500);
  }

  // ---------------------------------------------------------------- API client

  const session = {
    get key() { return sessionStorage.getItem(KEY_SLOT); },
    set key(v) { v ? sessionStorage.setItem(KEY_SLOT, v) : sessionStorage.removeItem(KEY_SLOT); },
    get tenant() { return sessionStorage.getItem(TENANT_SLOT); },
    set tenant(v) { v ? sessionStorage.setItem(TENANT_SLOT, v) : sessionStorage.removeItem(TENANT_SLOT); },
    me: null, // whoami
  };

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || `HTTP ${status}`);
      this.status = status;
      this.code = body?.error?.code || "http_error";
      this.details = body?.error?.details;
    }
  }

  /** Calls the admin API. `body`: a string is sent as YAML, anything else as JSON. */
  async function api(method, path, body, headers = {}) {
    const init = { method, headers: { authorization: `Bearer ${session.key}`, ...headers } };
    if (typeof body === "string") {
      init.headers["content-type"] = "application/yaml";
      init.body = body;
    } else if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`/v1/admin${path}`, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
    if (response.status === 401 && path !== "/whoami") {
      signOut("Your key is no longer valid. Sign in again.");
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return { data, etag: response.headers.get("etag")?.replace(/^W\//, "").replace(/"/g, "") || null };
  }
  const t = (path) => `/tenants/${encodeURIComponent(session.tenant)}${path}`;
  const can = (role) => (ROLES[session.me?.role] || 0) >= ROLES[role];

  // ---------------------------------------------------------------- sign-in and shell

  const app = document.getElementById("app");
  let leaveGuard = null; // a function returning true when the current view has unsaved work

  function signOut(message) {
    session.key = null;
    session.tenant = null;
    session.me = null;
    leaveGuard = null;
    renderSignIn(message);
  }

  function renderSignIn(message) {
    clear(app);
    const input = h("input", { type: "password", id: "key", name: "key", autocomplete: "off", spellcheck: "false", required: true, placeholder: "sbk_…" });
    const error = h("p", { class: "error-banner", role: "alert", hidden: !message }, message || "");
    const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
      h("div", { class: "brand" }, "Switchboard"),
      h("h1", { id: "signin-title" }, "Sign in to the console"),
      h("p", {}, "Use an admin API key. It stays in this tab only (session storage) and is forgotten when you close it."),
      error,
      h("label", { for: "key" }, "API key", input),
      h("button", { class: "primary", type: "submit" }, "Sign in"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      session.key = input.value.trim();
      try {
        await start();
      } catch (err) {
        session.key = null;
        error.hidden = false;
        error.textContent = err.status === 401 ? "That key is not valid (unknown or revoked)." : `Sign-in failed: ${err.message}`;
        input.focus();
      }
    });
    app.appendChild(form);
    input.focus();
  }

  async function start() {
    const { data } = await api("GET", "/whoami");
    session.me = data;
    if (!data.operator) session.tenant = data.tenant;
    if (data.operator && !session.tenant) {
      const tenants = (await api("GET", "/tenants")).data;
      session.tenant = tenants[0]?.id || null;
    }
    if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/flows";
    await route();
  }

  const NAV = [
    ["Build", [["#/flows", "Flows"]]],
    ["Operate", [["#/transcripts", "Transcripts"]]],
    ["Settings", [["#/settings/tenant", "Tenant"], ["#/settings/keys", "API keys", "owner"], ["#/settings/channels", "Channels"],
      ["#/settings/adaptors", "Adaptors"], ["#/settings/audit", "Audit log", "owner"]]],
  ];

  /** Renders the frame (header, navigation) and returns its empty <main>; null when a
   *  newer route started meanwhile (that one renders). */
  async function shell(seq) {
    const me = session.me;
    let tenantControl;
    if (me.operator) {
      let tenants = [];
      try { tenants = (await api("GET", "/tenants")).data; } catch { /* shown as empty */ }
      if (seq !== routeSeq) return null;
      tenantControl = h("select", {
        id: "tenant-switch", "aria-label": "Tenant",
        onchange: (e) => { session.tenant = e.target.value; location.hash = "#/flows"; route(); },
      }, tenants.map((tn) => h("option", { value: tn.id, selected: tn.id === session.tenant }, `${tn.name} (${tn.id})`)));
    } else {
      tenantControl = h("span", { class: "mono", id: "tenant-name" }, session.tenant);
    }
    const main = h("main", { id: "main", tabindex: "-1" });
    const nav = h("nav", { class: "side", "aria-label": "Sections" });
    for (const [group, links] of NAV) {
      nav.appendChild(h("div", { class: "group" }, group));
      for (const [href, label, needs] of links) {
        if (needs && !can(needs)) continue;
        const current = location.hash === href || location.hash.startsWith(`${href}/`);
        nav.appendChild(h("a", { href, "aria-current": current ? "page" : null }, label));
      }
    }
    clear(app).appendChild(h("div", { class: "shell" },
      h("header", { class: "top" },
        h("span", { class: "brand" }, "Switchboard"),
        h("span", { class: "muted hide-narrow" }, "tenant"), tenantControl,
        h("span", { class: "spacer" }),
        h("span", { class: "badge", id: "role", title: me.operator ? "the operator's bootstrap key" : `key ${me.key_id}` },
          me.operator ? "operator" : me.role),
        h("button", { type: "button", onclick: () => signOut() }, "Sign out")),
      nav, main));
    return main;
  }

  // ---------------------------------------------------------------- router

  let routeSeq = 0;
  async function route() {
    if (!session.key) return renderSignIn();
    if (!session.me) return start().catch(() => signOut("Sign in again."));
    const seq = ++routeSeq;
    shownHash = location.hash;
    document.querySelector(".toast")?.remove();
    const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
    const main = await shell(seq);
    if (!main || seq !== routeSeq) return;
    if (!session.tenant) {
      main.appendChild(empty("No tenant yet", "Create a tenant with the admin API (POST /v1/admin/tenants) or the CLI, then come back."));
      return;
    }
    const views = {
      flows: () => (parts[1] ? flowEditor(main, parts[1], location.hash.includes("?new")) : flowList(main)),
      transcripts: () => (parts[1] ? transcriptView(main, parts[1]) : transcriptList(main)),
      settings: () => settings(main, parts[1] || "tenant"),
    };
    try {
      await (views[parts[0]] || views.flows)();
    } catch (err) {
      main.appendChild(banner(err));
    }
    main.focus({ preventScroll: true });
  }
  let shownHash = location.hash;
  window.addEventListener("hashchange", () => {
    if (leaveGuard && leaveGuard() && !confirm("You have unsaved changes. Leave anyway?")) {
      history.replaceState(null, "", shownHash); // stay, and say where we are
      return;
    }
    leaveGuard = null;
    route();
  });
  window.addEventListener("beforeunload", (e) => {
    if (leaveGuard && leaveGuard()) e.preventDefault();
  });

  function empty(title, text, ...actions) {
    return h("div", { class: "empty card" }, h("h2", {}, title), h("p", {}, text), actions);
  }
  function banner(err, ...actions) {
    const what = err.status === 403 ? "Your key's role may not do this." : err.status === 404 ? "Not found." : "";
    return h("div", { class: "error-banner", role: "alert" },
      h("strong", {}, err.status ? `${err.status} ${err.code}` : "Error"), h("span", {}, `${err.message} ${what}`),
      h("span", { class: "spacer" }), actions);
  }

  // ---------------------------------------------------------------- flow schema

  /** Completion words from GET /v1/schemas/flow.json (fetched once): the top-level keys,
   *  a state's keys, every other key, and the slot types. Until it arrives (or if it
   *  cannot be fetched) completion offers state and slot names only. */
  let schemaWords = { top: [], state: [], nested: [], slotTypes: [] };
  let schemaRequested = false;
  function schemaKeys() {
    if (!schemaRequested) {
      schemaRequested = true;
      fetch("/v1/schemas/flow.json").then((r) => (r.ok ? r.json() : null)).then((schema) => {
        if (schema) schemaWords = wordsOf(schema);
      }).catch(() => {});
    }
    return schemaWords;
  }
  function wordsOf(schema) {
    const all = new Map();
    let state = null;
    const slotTypes = new Set();
    const walk = (node) => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== "object") return;
      if (node.properties && typeof node.properties === "object") {
        const names = Object.keys(node.properties);
        if (names.includes("say") && names.includes("collect")) state = names;
        for (const [name, sub] of Object.entries(node.properties)) {
          if (!all.has(name) || (!all.get(name) && sub?.description)) all.set(name, sub?.description || "");
          if (name === "type" && sub?.const) slotTypes.add(sub.const);
          if (name === "type" && Array.isArray(sub?.enum)) sub.enum.forEach((v) => slotTypes.add(v));
        }
      }
      for (const value of Object.values(node)) walk(value);
    };
    walk(schema);
    const top = Object.keys(schema.properties || {});
    const pick = (names) => names.map((n) => [n, all.get(n) || ""]);
    const stateKeys = state || [];
    return {
      top: pick(top),
      state: pick(stateKeys),
      nested: pick([...all.keys()].filter((k) => !top.includes(k) && !stateKeys.includes(k))),
      slotTypes: [...slotTypes].filter((v) => typeof v === "string"),
    };
  }

  // ---------------------------------------------------------------- flows

  async function flowList(main) {
    const flows = (await api("GET", t("/flows"))).data;
    const toolbar = h("div", { class: "toolbar" }, h("h1", {}, "Flows"), h("span", { class: "spacer" }));
    if (can("editor")) {
      toolbar.appendChild(h("button", { class: "primary", type: "button", dataset: { write: "" }, onclick: newFlow }, "New flow"));
    }
    main.appendChild(toolbar);
    if (!flows.length) {
      main.appendChild(empty("No flows yet", can("editor")
        ? "A flow is the state machine your bot runs. Create one, then publish and activate it."
        : "An editor of this tenant has not created any flow yet."));
      return;
    }
    const rows = flows.map((f) => h("tr", { class: "clickable", onclick: () => (location.hash = `#/flows/${encodeURIComponent(f.id)}`) },
      h("td", {}, h("a", { href: `#/flows/${encodeURIComponent(f.id)}` }, f.id)),
      h("td", {}, f.active_version ? h("span", { class: "badge ok" }, `v${f.active_version}`) : h("span", { class: "badge" }, "none")),
      h("td", { class: "hide-narrow" }, f.latest_version ? `v${f.latest_version}` : "—"),
      h("td", {}, draftState(f)),
      h("td", { class: "hide-narrow" }, time(f.updated_at))));
    main.appendChild(h("table", { id: "flow-list" },
      h("thead", {}, h("tr", {}, h("th", {}, "Flow"), h("th", {}, "Active"), h("th", { class: "hide-narrow" }, "Latest"),
        h("th", {}, "Draft"), h("th", { class: "hide-narrow" }, "Updated"))),
      h("tbody", {}, rows)));
  }
  function draftState(f) {
    if (!f.has_draft) return h("span", { class: "muted" }, "no draft");
    if (!f.latest_version) return h("span", { class: "badge warn" }, "unpublished");
    return h("span", { class: "badge" }, "draft saved");
  }
  function newFlow() {
    const id = prompt("Flow id (lowercase letters, digits, - and _):");
    if (!id) return;
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(id)) return toast("A flow id is lowercase letters, digits, - and _.", true);
    location.hash = `#/flows/${encodeURIComponent(id)}?new`;
  }
  const NEW_FLOW = (id) => `id: ${id}\nstart: hello\nstates:\n  hello:\n    say: "Hello!"\n    next: bye\n  bye:\n    end: "Goodbye."\n`;

  async function flowEditor(main, id, isNew) {
    const flag = isNew ? "new" : null;
    let flow = null;
    try {
      flow = (await api("GET", t(`/flows/${encodeURIComponent(id)}`))).data;
    } catch (err) {
      if (err.status !== 404 || flag !== "new") throw err;
    }
    const state = {
      id,
      etag: flow?.draft?.etag || null,
      saved: flow?.draft?.source ?? "",
      diagnostics: [],
      outline: null,
      activeVersion: flow?.active_version || null,
    };
    const writable = can("editor");
    if (!flow && flag === "new") state.saved = "";
    const initial = flow?.draft?.source ?? (flow ? "" : NEW_FLOW(id));

    const status = h("span", { class: "status muted", id: "save-status", role: "status" }, "");
    const conflict = h("div", { id: "conflict" });
    const toolbar = h("div", { class: "toolbar" },
      h("a", { href: "#/flows" }, "Flows"), h("span", { class: "muted" }, "/"), h("h1", { id: "flow-title" }, id),
      state.activeVersion ? h("span", { class: "badge ok", id: "active-badge" }, `active v${state.activeVersion}`) : h("span", { class: "badge", id: "active-badge" }, "not active"),
      status, h("span", { class: "spacer" }));
    if (writable) {
      toolbar.append(
        h("button", { type: "button", id: "save", dataset: { write: "" }, title: "Ctrl+S", onclick: () => save() }, "Save draft"),
        h("button", { type: "button", id: "publish", class: "primary", dataset: { write: "" }, onclick: () => openPublish() }, "Publish…"));
    } else {
      toolbar.append(h("span", { class: "badge" }, "read only"));
    }
    main.append(toolbar, conflict);

    const editorBox = h("div", { class: "editor-box", id: "editor" });
    const tabs = [["problems", "Problems"], ["graph", "Graph"], ["chat", "Test chat"], ["versions", "Versions"]];
    const tabBar = h("div", { class: "tabs", role: "tablist", "aria-label": "Flow tools" });
    const panels = {};
    for (const [name, label] of tabs) {
      tabBar.appendChild(h("button", { type: "button", role: "tab", id: `tab-${name}`, "aria-controls": `panel-${name}`, "aria-selected": "false", onclick: () => show(name) }, label));
      panels[name] = h("div", { class: "tabpanel", role: "tabpanel", id: `panel-${name}`, "aria-labelledby": `tab-${name}`, hidden: true });
    }
    tabBar.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const names = tabs.map(([n]) => n);
      const next = names[(names.indexOf(current) + (e.key === "ArrowRight" ? 1 : names.length - 1)) % names.length];
      show(next);
      document.getElementById(`tab-${next}`).focus();
    });
    main.appendChild(h("div", { class: "editor-layout" }, editorBox,
      h("div", { class: "side-panel" }, tabBar, Object.values(panels))));

    const editor = window.SwitchboardEditor.create(editorBox, {
      doc: initial,
      readOnly: !writable,
      onChange: () => { markDirty(); scheduleValidate(); },
      complete: completions,
      nonce: document.querySelector('meta[name="csp-nonce"]')?.content,
    });
    state.editor = editor;
    // Keyboard users can scroll the source even when it is read-only (a viewer's key),
    // where the content itself takes no focus.
    const scroller = editorBox.querySelector(".cm-scroller");
    scroller?.setAttribute("tabindex", "0");
    scroller?.setAttribute("aria-label", `Source of ${id}`);
    schemaKeys(); // prefetch the completion words
    leaveGuard = () => writable && editor.getText() !== state.saved;
    editorBox.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); if (writable) save(); }
    });

    let current = "problems";
    function show(name) {
      current = name;
      for (const [n] of tabs) {
        document.getElementById(`tab-${n}`).setAttribute("aria-selected", String(n === name));
        panels[n].hidden = n !== name;
      }
      if (name === "graph") drawGraph();
      if (name === "versions") loadVersions();
      if (name === "chat" && !panels.chat.firstChild) buildChat();
    }

    function markDirty() {
      const dirty = editor.getText() !== state.saved;
      status.textContent = dirty ? "Unsaved changes" : (state.etag ? "Saved" : "");
    }

    // -- live diagnostics: the server's validator, debounced, stale answers dropped
    let validateTimer = null, validateSeq = 0;
    function scheduleValidate() {
      clearTimeout(validateTimer);
      validateTimer = setTimeout(validate, 250);
    }
    async function validate() {
      const seq = ++validateSeq;
      const text = editor.getText();
      if (!text.trim()) { applyDiagnostics([], seq); return; }
      try {
        const { data } = await api("POST", t(`/flows/${encodeURIComponent(id)}/validate`), text);
        applyDiagnostics(data.diagnostics, seq);
      } catch (err) {
        if (seq === validateSeq) renderProblemsError(err);
      }
      if (current === "graph") drawGraph();
    }
    function applyDiagnostics(list, seq) {
      if (seq !== validateSeq) return;
      state.diagnostics = list;
      editor.setDiagnostics(list.filter((d) => d.line));
      renderProblems();
    }
    function renderProblems() {
      const list = state.diagnostics;
      const errors = list.filter((d) => d.severity === "error").length;
      const warnings = list.length - errors;
      const tab = document.getElementById("tab-problems");
      tab.textContent = list.length ? `Problems (${list.length})` : "Problems";
      const panel = clear(panels.problems);
      panel.appendChild(h("p", { class: "muted", id: "problem-summary" },
        list.length ? `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"} — from the server's compiler, as the CLI prints them.`
          : "No problems: the flow compiles."));
      panel.appendChild(h("ul", { class: "problems", id: "problems" }, list.map((d) => h("li", {},
        h("button", { type: "button", class: `sev-${d.severity}`, onclick: () => d.line && editor.gotoLine(d.line, d.column) },
          h("strong", {}, `${d.severity}[${d.code}]`), " ", d.message,
          h("div", { class: "where" }, `${d.file}:${d.line ?? "?"}:${d.column ?? "?"}${d.pointer ? ` (${d.pointer})` : ""}`),
          d.hint ? h("div", { class: "hint" }, `hint: ${d.hint}`) : null)))));
    }
    function renderProblemsError(err) {
      clear(panels.problems).appendChild(banner(err));
    }

    // -- completion: the flow JSON Schema's keys (by indentation), state and slot names
    function completions(before, text) {
      const states = [...text.matchAll(/^ {2}([A-Za-z_][\w-]*):\s*$/gm)].map((m) => m[1]);
      const slots = [...text.matchAll(/^ {2}([A-Za-z_]\w*):\s*\{/gm)].map((m) => m[1]);
      const target = /\b(next|then|else|on_fail|on_error|goto|start):\s*[\w-]*$/.test(before);
      if (target) return states.map((s) => ({ label: s, type: "variable", detail: "state" }));
      if (/\bslot:\s*\w*$/.test(before)) return slots.map((s) => ({ label: s, type: "variable", detail: "slot" }));
      const keys = schemaKeys();
      if (/\btype:\s*\w*$/.test(before)) return keys.slotTypes.map((k) => ({ label: k, type: "type", detail: "slot type" }));
      if (/:\s/.test(before)) return [];
      const indent = before.match(/^ */)[0].length;
      const list = indent === 0 ? keys.top : indent === 4 ? keys.state : keys.nested;
      return list.map(([label, info]) => ({ label, type: "keyword", detail: "flow schema", info: info || undefined }));
    }

    // -- save with If-Match
    async function save(overwrite) {
      const text = editor.getText();
      if (!text.trim()) return toast("The flow is empty.", true);
      status.textContent = "Saving…";
      const headers = {};
      if (state.etag) headers["if-match"] = `"${overwrite || state.etag}"`;
      try {
        const { data, etag } = await api("PUT", t(`/flows/${encodeURIComponent(id)}`), text, headers);
        state.etag = data.etag || etag;
        state.saved = text;
        clear(conflict);
        markDirty();
        status.textContent = data.valid ? "Saved" : "Saved, with errors";
        return true;
      } catch (err) {
        status.textContent = "Not saved";
        if (err.status === 412) showConflict(err);
        else clear(conflict).appendChild(banner(err));
        return false;
      }
    }
    function showConflict(err) {
      const theirs = err.details?.current;
      clear(conflict).appendChild(h("div", { class: "error-banner", role: "alert", id: "conflict-banner" },
        h("strong", {}, "Not saved: someone else saved this flow since you opened it."),
        h("span", {}, "Your text is still here. Compare, then choose."),
        h("span", { class: "spacer" }),
        h("button", { type: "button", id: "conflict-diff", onclick: async () => {
          const { data } = await api("GET", t(`/flows/${encodeURIComponent(id)}`));
          diffDialog("Their draft → yours", data.draft?.source || "", editor.getText(), []);
        } }, "Show differences"),
        h("button", { type: "button", id: "conflict-load", onclick: async () => {
          if (!confirm("Discard your changes and load their draft?")) return;
          const { data } = await api("GET", t(`/flows/${encodeURIComponent(id)}`));
          state.etag = data.draft?.etag || null;
          state.saved = data.draft?.source || "";
          editor.setText(state.saved);
          clear(conflict);
          markDirty();
        } }, "Load theirs"),
        h("button", { type: "button", class: "danger", id: "conflict-overwrite", onclick: async () => {
          const { data } = await api("GET", t(`/flows/${encodeURIComponent(id)}`));
          await save(data.draft?.etag || theirs);
        } }, "Overwrite with mine")));
    }

    // -- graph
    let graphSeq = 0;
    async function drawGraph() {
      const seq = ++graphSeq;
      const panel = panels.graph;
      const text = editor.getText();
      if (!text.trim()) { clear(panel).appendChild(empty("Nothing to draw", "Write some states first.")); return; }
      try {
        const { data } = await api("POST", t(`/flows/${encodeURIComponent(id)}/graph`), text);
        if (seq !== graphSeq) return;
        state.outline = data;
        clear(panel).append(
          h("div", { class: "legend" },
            h("span", {}, "Click a state to jump to it."),
            h("span", {}, "Blue outline: start."),
            h("span", {}, "Red dashes: unreachable."),
            data.interrupts.length ? h("span", {}, `Interrupts: ${data.interrupts.map((i) => `${i.label} → ${i.to}`).join("; ")}`) : null),
          h("div", { class: "graph-wrap" }, renderGraph(data, (node) => node.line && editor.gotoLine(node.line, node.column))));
      } catch (err) {
        if (seq !== graphSeq) return;
        clear(panel).appendChild(err.status === 422
          ? empty("The flow does not parse", "Fix the syntax error shown in Problems and the graph comes back.")
          : banner(err));
      }
    }

    // -- test chat: the editor's text through the simulator (nothing stored)
    function buildChat() {
      const turns = [];
      const log = h("div", { class: "log", id: "chat-log", "aria-live": "polite" });
      const inspector = h("div", { class: "inspector", id: "inspector" });
      const input = h("input", { type: "text", id: "chat-input", "aria-label": "Message", placeholder: "Type a message and press Enter", autocomplete: "off" });
      async function run() {
        try {
          const { data } = await api("POST", t("/simulate"), { source: editor.getText(), turns });
          append(clear(log), data.transcript.map((m) => h("div", { class: `msg ${m.role}` },
            h("span", { class: "who" }, m.role), m.text)));
          log.scrollTop = log.scrollHeight;
          append(clear(inspector), [
            h("div", {}, h("strong", {}, "Status: "), h("span", { id: "chat-status" }, data.status)),
            h("div", {}, h("strong", {}, "Slots")), h("pre", { id: "chat-slots" }, JSON.stringify(data.slots, null, 2)),
            data.warnings.length ? [h("div", {}, h("strong", {}, "Warnings")), h("pre", {}, data.warnings.join("\n"))] : null]);
        } catch (err) {
          clear(inspector).appendChild(err.status === 422
            ? h("p", { class: "error-banner", role: "alert" }, "The flow does not compile; fix the errors in Problems to chat with it.")
            : banner(err));
        }
      }
      const form = h("form", { class: "row", id: "chat-form" }, input, h("button", { type: "submit", class: "primary" }, "Send"),
        h("button", { type: "button", id: "chat-restart", onclick: () => { turns.length = 0; run(); } }, "Restart"));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (!input.value.trim()) return;
        turns.push(input.value);
        input.value = "";
        run();
      });
      panels.chat.append(
        h("p", { class: "note", id: "preview-note" }, "Preview of the editor's text (the draft, even unsaved): it runs in the server's simulator with the offline model and stubbed adaptors. Nothing is stored, so preview chats never appear in transcripts or analytics."),
        h("div", { class: "chat" }, log, form, inspector),
        liveWidget());
      run();
    }

    // -- versions, publish, activate, roll back
    async function loadVersions() {
      const panel = panels.versions;
      let versions = [];
      try {
        versions = (await api("GET", t(`/flows/${encodeURIComponent(id)}/versions`))).data;
      } catch (err) {
        if (err.status !== 404) { clear(panel).appendChild(banner(err)); return; }
      }
      clear(panel);
      if (writable && versions.length > 1) {
        panel.appendChild(h("div", { class: "toolbar" }, h("span", { class: "spacer" }),
          h("button", { type: "button", id: "rollback", dataset: { write: "" }, onclick: async () => {
            try {
              await api("POST", t(`/flows/${encodeURIComponent(id)}/rollback`), {});
              toast("Rolled back to the previous version.");
              await refreshActive();
              loadVersions();
            } catch (err) { toast(err.message, true); }
          } }, "Roll back")));
      }
      if (!versions.length) {
        panel.appendChild(empty("No versions yet", "Publishing the draft makes version 1. Versions never change once published."));
        return;
      }
      panel.appendChild(h("table", { id: "versions" },
        h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Author"), h("th", {}, "Published"), h("th", {}, "Hash"), h("th", {}, ""))),
        h("tbody", {}, versions.slice().sort((a, b) => b.version - a.version).map((v) => h("tr", { dataset: { version: v.version } },
          h("td", {}, `v${v.version} `, v.active ? h("span", { class: "badge ok" }, "active") : null),
          h("td", { title: v.author }, v.author.length > 16 ? `${v.author.slice(0, 14)}…` : v.author), h("td", {}, time(v.created_at)),
          h("td", {}, h("code", { title: v.content_hash }, v.content_hash.slice(0, 12))),
          h("td", { class: "actions" },
            h("button", { type: "button", onclick: async () => {
              const { data } = await api("GET", t(`/flows/${encodeURIComponent(id)}/versions/${v.version}`));
              diffDialog(`v${v.version} → editor`, data.source, editor.getText(), []);
            } }, "Diff"),
            writable && !v.active ? h("button", { type: "button", class: "activate", dataset: { write: "" }, onclick: async () => {
              try {
                await api("POST", t(`/flows/${encodeURIComponent(id)}/activate`), { version: v.version });
                toast(`v${v.version} is active.`);
                await refreshActive();
                loadVersions();
              } catch (err) { toast(err.message, true); }
            } }, "Activate") : null))))));
    }
    async function refreshActive() {
      const { data } = await api("GET", t(`/flows/${encodeURIComponent(id)}`));
      state.activeVersion = data.active_version;
      const badge = document.getElementById("active-badge");
      badge.className = data.active_version ? "badge ok" : "badge";
      badge.textContent = data.active_version ? `active v${data.active_version}` : "not active";
    }
    async function openPublish() {
      if (editor.getText() !== state.saved || !state.etag) {
        if (!(await save())) return;
      }
      await validate();
      const errors = state.diagnostics.filter((d) => d.severity === "error");
      let before = "";
      if (state.activeVersion) {
        before = (await api("GET", t(`/flows/${encodeURIComponent(id)}/versions/${state.activeVersion}`))).data.source;
      }
      const publish = async (activate) => {
        try {
          const { data } = await api("POST", t(`/flows/${encodeURIComponent(id)}/publish`), { activate });
          toast(`Published v${data.version}${activate ? " and activated it" : ""}.`);
          await refreshActive();
          if (current === "versions") loadVersions();
          return true;
        } catch (err) {
          toast(err.message, true);
          return false;
        }
      };
      const actions = errors.length ? [] : [
        ["Publish", () => publish(false), "publish-only"],
        ["Publish and activate", () => publish(true), "publish-activate", "primary"]];
      diffDialog(state.activeVersion ? `Publish: active v${state.activeVersion} → draft` : "Publish: first version",
        before, editor.getText(), actions,
        errors.length ? `${errors.length} error${errors.length === 1 ? "" : "s"} must be fixed before publishing (warnings do not block).`
          : state.diagnostics.length ? `${state.diagnostics.length} warning(s); they do not block publishing.` : "");
    }

    renderProblems();
    markDirty();
    show("problems");
    validate();
    editor.gotoLine(1);
  }

  // ---------------------------------------------------------------- live widget

  /** The real web widget (/widget.js, inline mode) on the tenant's active version. The
   *  widget loads once per page, so its container is kept and moved between views. */
  let liveBox = null, liveTenant = null;
  function liveWidget() {
    const section = h("div", { class: "live" }, h("h3", {}, "Live widget"));
    if (liveTenant && liveTenant !== session.tenant) {
      section.appendChild(h("p", { class: "muted" }, `The live widget on this page talks to ${liveTenant}; reload the page to open it for ${session.tenant}.`));
      return section;
    }
    section.appendChild(h("p", { class: "muted", id: "live-note" },
      "The real widget, as visitors see it. It runs the tenant's entry flow at its active version, not this draft, and its conversations are real: stored, in transcripts and usage. The tenant's allowed origins must include this console's origin."));
    if (liveBox) {
      section.appendChild(liveBox);
      return section;
    }
    const button = h("button", { type: "button", id: "open-live", onclick: () => {
      liveTenant = session.tenant;
      liveBox = h("div", { id: "live-widget", class: "live-box" });
      button.replaceWith(liveBox);
      const script = document.createElement("script");
      script.src = "/widget.js";
      script.dataset.tenant = session.tenant;
      script.dataset.mode = "inline";
      script.dataset.target = "#live-widget";
      document.body.appendChild(script);
    } }, "Open the live widget");
    section.appendChild(button);
    return section;
  }

  // ---------------------------------------------------------------- diff

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

  // ---------------------------------------------------------------- graph layout

  /** A layered drawing (top to bottom): layers by breadth-first depth from the roots,
   *  order within a layer by the barycentre of the parents, edges as curves with their
   *  conditions as labels. Small flows only: no crossing minimisation beyond that. */
  function renderGraph(data, onPick) {
    const nodes = data.nodes;
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const out = new Map(nodes.map((n) => [n.name, []]));
    for (const e of data.edges) if (byName.has(e.to)) out.get(e.from).push(e.to);
    const layer = new Map();
    const visit = (roots, base) => {
      const queue = roots.filter((r) => byName.has(r) && !layer.has(r)).map((r) => [r, base]);
      for (const [r] of queue) layer.set(r, base);
      while (queue.length) {
        const [name, depth] = queue.shift();
        for (const next of out.get(name)) {
          if (!layer.has(next)) { layer.set(next, depth + 1); queue.push([next, depth + 1]); }
        }
      }
    };
    visit([data.start, ...nodes.filter((n) => n.interrupt).map((n) => n.name)].filter(Boolean), 0);
    for (const n of nodes) if (!layer.has(n.name)) visit([n.name], 0);
    const layers = [];
    for (const n of nodes) (layers[layer.get(n.name)] ||= []).push(n);
    const width = (n) => Math.max(120, n.name.length * 8 + 36);
    const pos = new Map();
    const GAP_X = 36, GAP_Y = 96, H = 46;
    // Order each layer by the mean x of the nodes that lead into it.
    layers.forEach((row, depth) => {
      if (depth > 0) {
        const parentX = (n) => {
          const xs = data.edges.filter((e) => e.to === n.name && pos.has(e.from)).map((e) => pos.get(e.from).cx);
          return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
        };
        row.sort((a, b) => parentX(a) - parentX(b));
      }
      let x = 20;
      for (const n of row) {
        const w = width(n);
        pos.set(n.name, { x, y: 20 + depth * (H + GAP_Y), w, h: H, cx: x + w / 2, layer: depth });
        x += w + GAP_X;
      }
    });
    const totalW = Math.max(...[...pos.values()].map((p) => p.x + p.w)) + 200;
    const totalH = layers.length * (H + GAP_Y) + 20;
    // Centre each row.
    for (const row of layers) {
      const right = Math.max(...row.map((n) => pos.get(n.name).x + pos.get(n.name).w));
      const shift = (totalW - 200 - right) / 2;
      for (const n of row) { const p = pos.get(n.name); p.x += shift; p.cx += shift; }
    }
    const svg = h("svg", { class: "graph", id: "graph", width: totalW, height: totalH, viewBox: `0 0 ${totalW} ${totalH}`, role: "group", "aria-label": `States of ${data.id}` },
      h("defs", {}, h("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        h("path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
    const edgeLayer = h("g", {}), labelLayer = h("g", {}), nodeLayer = h("g", {});
    svg.append(edgeLayer, nodeLayer, labelLayer);
    const pairCount = new Map();
    for (const e of data.edges) {
      const a = pos.get(e.from);
      let b = pos.get(e.to);
      let ghost = null;
      if (!b) {
        // A target that does not exist: a dashed stub ending at a red name.
        b = { x: a.x + a.w + 40, y: a.y, w: 10, h: H, cx: a.x + a.w + 60, layer: a.layer };
        ghost = h("text", { x: b.cx, y: a.y + H / 2 + 4, class: "missing", fill: "#c62828", "font-size": "12" }, `${e.to}?`);
      }
      const key = `${e.from}->${e.to}`;
      const k = pairCount.get(key) || 0;
      pairCount.set(key, k + 1);
      let d, lx, ly;
      if (ghost) {
        d = `M ${a.x + a.w} ${a.y + H / 2} L ${b.x + 8} ${a.y + H / 2}`;
        lx = a.x + a.w + 20; ly = a.y + H / 2 - 8;
      } else if (b.layer > a.layer) {
        const x1 = a.cx + k * 10, y1 = a.y + H, x2 = b.cx + k * 10, y2 = b.y;
        const my = (y1 + y2) / 2;
        d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
        lx = (x1 + x2) / 2; ly = my + k * 14;
      } else if (e.from === e.to) {
        const x = a.x + a.w, y = a.y + H / 2;
        d = `M ${x} ${y - 10} C ${x + 40} ${y - 30}, ${x + 40} ${y + 30}, ${x} ${y + 10}`;
        lx = x + 44; ly = y;
      } else {
        // Back or sideways edge: around the right side.
        const x1 = a.x + a.w, y1 = a.y + H / 2 + k * 6, x2 = b.x + b.w, y2 = b.y + H / 2 - k * 6;
        const bend = Math.max(x1, x2) + 50 + k * 18;
        d = `M ${x1} ${y1} C ${bend} ${y1}, ${bend} ${y2}, ${x2} ${y2}`;
        lx = bend - 10; ly = (y1 + y2) / 2;
      }
      edgeLayer.appendChild(h("path", { class: e.known ? "edge" : "edge unknown", d, "marker-end": "url(#arrow)" },
        h("title", {}, `${e.from} → ${e.to}${e.label ? ` (${e.label})` : ""}`)));
      if (ghost) edgeLayer.appendChild(ghost);
      if (e.label) {
        const text = e.label.length > 30 ? `${e.label.slice(0, 29)}…` : e.label;
        const w = text.length * 6.7 + 8;
        labelLayer.appendChild(h("g", { class: "edge-label" },
          h("title", {}, e.label),
          h("rect", { x: lx - w / 2, y: ly - 9, width: w, height: 16, rx: 3 }),
          h("text", { x: lx, y: ly + 3, "text-anchor": "middle" }, text)));
      }
    }
    for (const n of nodes) {
      const p = pos.get(n.name);
      const classes = ["node", n.start && "start", !n.reachable && "unreachable", (n.kind === "end" || n.kind === "handoff") && "terminal"].filter(Boolean).join(" ");
      const kindText = `${n.kind}${n.start ? " · start" : ""}${n.interrupt ? " · interrupt" : ""}${n.reachable ? "" : " · unreachable"}`;
      const g = h("g", { class: classes, tabindex: "0", role: "button", "data-state": n.name,
        // The accessible name (the <title>) starts with the visible text (WCAG 2.5.3).
        onclick: () => onPick(n), onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onPick(n); } } },
        h("title", {}, `${n.name} ${kindText}${n.line ? `, line ${n.line}` : ""}${n.reachable ? "" : " — never reached from the start state"}`),
        h("rect", { x: p.x, y: p.y, width: p.w, height: H }),
        h("text", { class: "name", x: p.cx, y: p.y + 19, "text-anchor": "middle" }, n.name),
        h("text", { class: "kind", x: p.cx, y: p.y + 35, "text-anchor": "middle" }, kindText));
      nodeLayer.appendChild(g);
    }
    return svg;
  }

  // ---------------------------------------------------------------- transcripts

  const detailCache = new Map();
  async function transcriptList(main) {
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const [flows, channels] = await Promise.all([
      api("GET", t("/flows")).then((r) => r.data).catch(() => []),
      api("GET", t("/channels")).then((r) => r.data).catch(() => []),
    ]);
    const status = h("select", { id: "filter-status", "aria-label": "Status" },
      ["", "active", "handoff", "ended"].map((s) => h("option", { value: s, selected: params.get("status") === s }, s || "any status")));
    const channelOptions = ["", "webchat", ...channels.map((c) => c.id)];
    const channel = h("select", { id: "filter-channel", "aria-label": "Channel" },
      [...new Set(channelOptions)].map((c) => h("option", { value: c, selected: params.get("channel") === c }, c || "any channel")));
    const flow = h("select", { id: "filter-flow", "aria-label": "Flow" },
      ["", ...flows.map((f) => f.id)].map((f) => h("option", { value: f, selected: params.get("flow") === f }, f || "any flow")));
    const version = h("input", { type: "number", min: "1", id: "filter-version", "aria-label": "Flow version", placeholder: "version", value: params.get("version") || "", class: "narrow-input" });
    const since = h("input", { type: "date", id: "filter-since", "aria-label": "Started on or after", value: params.get("since") || "" });
    const q = h("input", { type: "search", id: "filter-q", "aria-label": "Search text", placeholder: "Search messages…", value: params.get("q") || "" });
    const results = h("div", { id: "transcript-results" });
    const apply = () => {
      const next = new URLSearchParams();
      for (const [k, el] of [["status", status], ["channel", channel], ["flow", flow], ["version", version], ["since", since], ["q", q]]) if (el.value) next.set(k, el.value);
      history.replaceState(null, "", `#/transcripts${next.toString() ? `?${next}` : ""}`);
      load();
    };
    for (const el of [status, channel, flow, version, since]) el.addEventListener("change", apply);
    let qTimer;
    q.addEventListener("input", () => { clearTimeout(qTimer); qTimer = setTimeout(apply, 300); });
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Transcripts")),
      h("div", { class: "toolbar", role: "search" }, status, channel, flow, version, since, q),
      h("p", { class: "muted" }, "Status, channel and flow filter on the server. Version, date and text filter the 50 most recent of those in your browser (the text search reads their transcripts): the API has no such filters yet."),
      results);
    let loadSeq = 0;
    async function load() {
      const seq = ++loadSeq;
      const query = new URLSearchParams({ limit: "50" });
      if (status.value) query.set("status", status.value);
      if (channel.value) query.set("channel", channel.value);
      if (flow.value) query.set("flow", flow.value);
      let list;
      try {
        list = (await api("GET", t(`/conversations?${query}`))).data;
      } catch (err) {
        clear(results).appendChild(banner(err));
        return;
      }
      if (version.value) list = list.filter((c) => c.flow_version === Number(version.value));
      if (since.value) list = list.filter((c) => c.created_at >= new Date(`${since.value}T00:00:00`).getTime());
      const needle = q.value.trim().toLowerCase();
      if (needle) {
        const details = await Promise.all(list.map(async (c) => {
          const key = `${c.id}:${c.last_seq}`;
          if (!detailCache.has(key)) detailCache.set(key, api("GET", t(`/conversations/${encodeURIComponent(c.id)}`)).then((r) => r.data).catch(() => null));
          return detailCache.get(key);
        }));
        list = list.filter((c, i) => c.id.includes(needle) || c.external_user.toLowerCase().includes(needle)
          || details[i]?.messages.some((m) => m.text.toLowerCase().includes(needle)));
      }
      if (seq !== loadSeq) return;
      clear(results);
      if (!list.length) {
        results.appendChild(empty("No conversations match",
          status.value || channel.value || flow.value || version.value || since.value || needle ? "Change or clear the filters." : "Conversations appear here once visitors chat through the widget or a channel."));
        return;
      }
      results.appendChild(h("table", { id: "transcripts" },
        h("thead", {}, h("tr", {}, h("th", {}, "Conversation"), h("th", {}, "Status"), h("th", {}, "Channel"), h("th", { class: "hide-narrow" }, "Flow"),
          h("th", { class: "hide-narrow" }, "Events"), h("th", {}, "Updated"))),
        h("tbody", {}, list.map((c) => h("tr", { class: "clickable", dataset: { id: c.id }, onclick: () => (location.hash = `#/transcripts/${encodeURIComponent(c.id)}`) },
          h("td", {}, h("a", { href: `#/transcripts/${encodeURIComponent(c.id)}`, class: "mono" }, c.id.slice(0, 12)), h("div", { class: "muted" }, c.external_user)),
          h("td", {}, h("span", { class: `badge ${c.status === "active" ? "ok" : c.status === "handoff" ? "warn" : ""}` }, c.status)),
          h("td", {}, c.channel), h("td", { class: "hide-narrow" }, `${c.flow_id} v${c.flow_version}`),
          h("td", { class: "hide-narrow" }, String(c.last_seq)), h("td", {}, time(c.updated_at)))))));
    }
    await load();
  }

  async function transcriptView(main, id) {
    const { data } = await api("GET", t(`/conversations/${encodeURIComponent(id)}`));
    const c = data.conversation || data; // the API flattens the conversation beside `messages`
    main.append(
      h("div", { class: "toolbar" }, h("a", { href: "#/transcripts" }, "Transcripts"), h("span", { class: "muted" }, "/"),
        h("h1", { class: "mono" }, c.id.slice(0, 12)), h("span", { class: "badge" }, c.status)),
      h("p", { class: "muted" }, `${c.channel} · ${c.external_user} · flow ${c.flow_id} v${c.flow_version} · started ${time(c.created_at)}`),
      h("div", { class: "chat card" }, h("div", { class: "log", id: "transcript" },
        data.messages.length ? data.messages.map((m) => h("div", { class: `msg ${m.role}`, dataset: { seq: m.seq } },
          h("span", { class: "who" }, `${m.role} · #${m.seq} · ${time(m.created_at)}`), m.text))
          : h("p", { class: "muted" }, "No messages yet."))));
    main.appendChild(replayBox(c, data.messages));
    if (c.status === "handoff" && can("editor")) {
      const input = h("input", { type: "text", "aria-label": "Reply as an agent", placeholder: "Reply as a human agent…" });
      const form = h("form", { class: "row" }, input, h("button", { type: "submit", class: "primary", dataset: { write: "" } }, "Send"),
        h("button", { type: "button", dataset: { write: "" }, onclick: async () => {
          await api("POST", t(`/conversations/${encodeURIComponent(id)}/release`), {}).catch((err) => toast(err.message, true));
          route();
        } }, "Give back to the bot"));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!input.value.trim()) return;
        await api("POST", t(`/conversations/${encodeURIComponent(id)}/messages`), { text: input.value }).catch((err) => toast(err.message, true));
        route();
      });
      main.appendChild(form);
    }
  }

  /** Replays a conversation's user turns through the simulator (nothing stored) and
   *  compares the bot's messages with the stored ones. */
  function replayBox(c, messages) {
    const turns = messages.filter((m) => m.role === "user").map((m) => m.text);
    const stored = messages.filter((m) => m.role === "bot").map((m) => m.text);
    const target = h("select", { id: "replay-target", "aria-label": "Replay against" },
      h("option", { value: "same" }, `its version (v${c.flow_version})`),
      h("option", { value: "active" }, "the active version"),
      h("option", { value: "draft" }, "the draft"));
    const result = h("div", { id: "replay-result" });
    const run = async () => {
      clear(result).appendChild(h("p", { class: "muted" }, "Replaying…"));
      try {
        let body = { flow: c.flow_id, turns };
        if (target.value === "same") body.version = c.flow_version;
        if (target.value === "draft") {
          const source = (await api("GET", t(`/flows/${encodeURIComponent(c.flow_id)}`))).data.draft?.source;
          if (!source) throw new Error("this flow has no draft");
          body = { source, turns };
        }
        const { data } = await api("POST", t("/simulate"), body);
        const replayed = data.transcript.filter((m) => m.role === "bot").map((m) => m.text);
        const rows = [];
        for (let i = 0; i < Math.max(stored.length, replayed.length); i++) {
          if (stored[i] !== replayed[i]) rows.push(h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, stored[i] ?? "—"), h("td", {}, replayed[i] ?? "—")));
        }
        clear(result).append(rows.length
          ? h("div", {}, h("p", { class: "error-banner", id: "replay-verdict" }, `The outcome differs: ${rows.length} of ${Math.max(stored.length, replayed.length)} bot messages.`),
            append(h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Stored"), h("th", {}, "Replayed")))), [h("tbody", {}, rows)]))
          : h("p", { class: "note", id: "replay-verdict" }, `The outcome matches: the same ${stored.length} bot messages for the same ${turns.length} user turns (simulator status: ${data.status}).`));
      } catch (err) {
        clear(result).appendChild(banner(err));
      }
    };
    return h("div", { class: "card replay" },
      h("h3", {}, "Replay"),
      h("p", { class: "muted" }, "Runs this conversation's user messages through the simulator (offline model, stubbed adaptors; nothing stored) and compares the bot's messages. Saving replays as named test cases is not there yet."),
      h("div", { class: "row" }, h("label", {}, "Against", target), h("button", { type: "button", id: "replay", onclick: run }, "Replay")),
      result);
  }

  // ---------------------------------------------------------------- settings

  async function settings(main, section) {
    const views = { tenant: tenantSettings, keys: keySettings, channels: channelSettings, adaptors: adaptorSettings, audit: auditLog };
    await (views[section] || tenantSettings)(main);
  }

  async function tenantSettings(main) {
    const { data } = await api("GET", t(""));
    const widget = await api("GET", t("/widget")).then((r) => r.data).catch(() => null);
    const rows = [["Id", data.id], ["Display name", data.name], ["Entry flow", data.entry_flow],
      ["Allowed origins", data.allowed_origins.length ? data.allowed_origins.join(", ") : "any (none configured)"],
      ["Model", data.llm_model || "the server's default"], ["Private adaptor addresses", data.allow_private_adaptors ? "allowed" : "refused"],
      ["Widget identity secret", widget ? (widget.identity_secret_set ? `set ${time(widget.identity_secret_updated_at)}` : "not set") : "—"],
      ["Created", time(data.created_at)]];
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Tenant")),
      h("p", { class: "note" }, "Read only: the admin API has no route to change a tenant's settings yet."),
      h("table", { id: "tenant-settings" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))));
  }

  async function keySettings(main) {
    main.appendChild(h("div", { class: "toolbar" }, h("h1", {}, "API keys")));
    if (!can("owner")) { main.appendChild(empty("Owners only", "Only an owner key can list and create keys.")); return; }
    const shown = h("div", { id: "new-key" });
    const name = h("input", { type: "text", id: "key-name", required: true, placeholder: "e.g. CI deploy" });
    const role = h("select", { id: "key-role" }, ["viewer", "editor", "owner"].map((r) => h("option", { value: r }, r)));
    const form = h("form", { class: "row card" }, h("label", {}, "Name", name), h("label", {}, "Role", role),
      h("button", { type: "submit", class: "primary", dataset: { write: "" } }, "Create key"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const { data } = await api("POST", t("/keys"), { name: name.value, role: role.value });
        clear(shown).appendChild(h("div", { class: "card", role: "status" },
          h("h3", {}, `Key “${data.name}” (${data.role}) — copy it now, it is shown only once`),
          h("div", { class: "secret-once", id: "new-key-value" }, data.key),
          h("div", { class: "row" }, h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(data.key).then(() => toast("Copied.")) }, "Copy"),
            h("button", { type: "button", onclick: () => clear(shown) }, "I have stored it"))));
        name.value = "";
        list();
      } catch (err) { toast(err.message, true); }
    });
    const table = h("div", { id: "keys" });
    main.append(form, shown, table);
    async function list() {
      const keys = (await api("GET", t("/keys"))).data;
      clear(table).appendChild(keys.length ? h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Role"), h("th", {}, "Prefix"), h("th", { class: "hide-narrow" }, "Created"), h("th", {}, ""))),
        h("tbody", {}, keys.map((k) => h("tr", { dataset: { key: k.id } }, h("td", {}, k.name), h("td", {}, k.role), h("td", {}, h("code", {}, `${k.prefix}…`)),
          h("td", { class: "hide-narrow" }, `${time(k.created_at)} by ${k.created_by}`),
          h("td", {}, k.revoked_at ? h("span", { class: "badge err" }, `revoked ${time(k.revoked_at)}`)
            : h("button", { type: "button", class: "danger", dataset: { write: "" }, onclick: async () => {
              if (!confirm(`Revoke “${k.name}”? Anything using it stops working at once.`)) return;
              await api("DELETE", t(`/keys/${encodeURIComponent(k.id)}`)).catch((err) => toast(err.message, true));
              list();
            } }, "Revoke"))))))
        : empty("No keys", "Create a key for each person or system that uses the admin API."));
    }
    await list();
  }

  /** A JSON textarea's value, or throws with a readable message. */
  function parseJson(text, what) {
    if (!text.trim()) return undefined;
    try { return JSON.parse(text); } catch (e) { throw new Error(`${what} is not valid JSON: ${e.message}`); }
  }

  async function channelSettings(main) {
    const channels = (await api("GET", t("/channels"))).data;
    main.appendChild(h("div", { class: "toolbar" }, h("h1", {}, "Channel accounts")));
    if (can("owner")) main.appendChild(channelForm(null));
    if (!channels.length) {
      main.appendChild(empty("No channel accounts", "The web widget needs none. Add a WhatsApp, Slack or Teams account to answer there."));
      return;
    }
    main.appendChild(h("table", { id: "channels" },
      h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", {}, "Provider"), h("th", {}, "Webhook"), h("th", {}, "Config"), h("th", {}, ""))),
      h("tbody", {}, channels.map((c) => h("tr", {}, h("td", {}, c.id), h("td", {}, c.provider), h("td", {}, h("code", {}, c.webhook_path)),
        h("td", {}, h("code", {}, JSON.stringify(c.config))),
        h("td", {}, can("owner") ? [
          h("button", { type: "button", dataset: { write: "" }, onclick: (e) => e.target.closest("tr").after(h("tr", {}, h("td", { colspan: 5 }, channelForm(c)))) }, "Edit"),
          h("button", { type: "button", class: "danger", dataset: { write: "" }, onclick: async () => {
            if (!confirm(`Delete channel account ${c.id}?`)) return;
            await api("DELETE", t(`/channels/${encodeURIComponent(c.id)}`)).catch((err) => toast(err.message, true));
            route();
          } }, "Delete")] : null))))));
  }
  function channelForm(existing) {
    const id = h("input", { type: "text", required: true, value: existing?.id || "", readonly: !!existing });
    const provider = h("select", {}, ["whatsapp", "slack", "teams"].map((p) => h("option", { value: p, selected: existing?.provider === p }, p)));
    const config = h("textarea", {}, existing ? JSON.stringify(existing.config, null, 2) : "{}");
    const secrets = h("textarea", { placeholder: existing ? "leave empty to keep the stored secrets" : '{"app_secret": "…", "access_token": "…"}' });
    const form = h("form", { class: "form card" }, h("h3", {}, existing ? `Edit ${existing.id}` : "Add a channel account"),
      h("div", { class: "row" }, h("label", {}, "Id", id), h("label", {}, "Provider", provider)),
      h("label", {}, "Config (JSON)", config),
      h("label", {}, "Secrets (JSON)", h("small", {}, "Write-only: never shown again, not even to owners. See docs/channels.md for each provider's fields."), secrets),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary", dataset: { write: "" } }, "Save")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const body = { provider: provider.value, config: parseJson(config.value, "Config") || {} };
        const s = parseJson(secrets.value, "Secrets");
        if (s !== undefined) body.secrets = s;
        await api("PUT", t(`/channels/${encodeURIComponent(id.value)}`), body);
        toast("Saved.");
        route();
      } catch (err) { toast(err.message, true); }
    });
    return form;
  }

  async function adaptorSettings(main) {
    const adaptors = (await api("GET", t("/adaptors"))).data;
    main.appendChild(h("div", { class: "toolbar" }, h("h1", {}, "Adaptors")));
    if (can("editor")) main.appendChild(adaptorForm(null));
    if (!adaptors.length) {
      main.appendChild(empty("No adaptors", "An adaptor is one of your HTTP APIs that a flow's `call` state can use."));
      return;
    }
    main.appendChild(h("table", { id: "adaptors" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Request"), h("th", {}, "Secret"), h("th", {}, ""))),
      h("tbody", {}, adaptors.map((a) => h("tr", {}, h("td", {}, a.name), h("td", {}, h("code", {}, `${a.spec.method || "GET"} ${a.spec.url || ""}`)),
        h("td", {}, a.has_secret ? h("span", { class: "badge ok" }, "set") : h("span", { class: "muted" }, "none")),
        h("td", {}, can("editor") ? [
          h("button", { type: "button", dataset: { write: "" }, onclick: (e) => e.target.closest("tr").after(h("tr", {}, h("td", { colspan: 4 }, adaptorForm(a)))) }, "Edit"),
          h("button", { type: "button", class: "danger", dataset: { write: "" }, onclick: async () => {
            if (!confirm(`Delete adaptor ${a.name}?`)) return;
            await api("DELETE", t(`/adaptors/${encodeURIComponent(a.name)}`)).catch((err) => toast(err.message, true));
            route();
          } }, "Delete")] : null))))));
  }
  function adaptorForm(existing) {
    const name = h("input", { type: "text", required: true, value: existing?.name || "", readonly: !!existing });
    const spec = h("textarea", {}, JSON.stringify(existing?.spec || { method: "GET", url: "https://api.example.com/orders/{{ order_id }}", auth: { type: "bearer" }, timeout_ms: 3000 }, null, 2));
    const secret = h("input", { type: "password", autocomplete: "new-password", placeholder: existing?.has_secret ? "leave empty to keep the stored secret" : "optional" });
    const remove = h("input", { type: "checkbox" });
    const form = h("form", { class: "form card" }, h("h3", {}, existing ? `Edit ${existing.name}` : "Add an adaptor"),
      h("label", {}, "Name", name), h("label", {}, "Spec (JSON)", h("small", {}, "See docs/admin-api.md#adaptors."), spec),
      h("label", {}, "Secret", h("small", {}, "Write-only: stored encrypted and never shown again."), secret),
      existing?.has_secret ? h("label", { class: "row" }, remove, "Remove the stored secret") : null,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary", dataset: { write: "" } }, "Save")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const body = { spec: parseJson(spec.value, "Spec") || {} };
        if (remove.checked) body.secret = null;
        else if (secret.value) body.secret = secret.value;
        await api("PUT", t(`/adaptors/${encodeURIComponent(name.value)}`), body);
        toast("Saved.");
        route();
      } catch (err) { toast(err.message, true); }
    });
    return form;
  }

  async function auditLog(main) {
    main.appendChild(h("div", { class: "toolbar" }, h("h1", {}, "Audit log")));
    if (!can("owner")) { main.appendChild(empty("Owners only", "Only an owner key can read the audit log.")); return; }
    const entries = (await api("GET", t("/audit?limit=200"))).data;
    if (!entries.length) { main.appendChild(empty("Nothing yet", "Every write through the admin API is recorded here.")); return; }
    main.appendChild(h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Who"), h("th", {}, "What"), h("th", {}, "Target"), h("th", { class: "hide-narrow" }, "Details"))),
      h("tbody", {}, entries.map((a) => h("tr", {}, h("td", {}, time(a.created_at)), h("td", {}, h("code", {}, a.actor)), h("td", {}, a.action),
        h("td", {}, a.target), h("td", { class: "hide-narrow" }, h("code", {}, JSON.stringify(a.details))))))));
  }

  // ---------------------------------------------------------------- boot

  if (session.key) start().catch(() => signOut("Sign in again."));
  else renderSignIn();
})();
