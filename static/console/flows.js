// The console's flows: the list, and the editor with its tools (live diagnostics,
// completion from the flow schema, the graph, the test chat and live widget, versions,
// publish, activate, roll back).
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, append, clear, time, toast, session, api, t, can, empty, banner, diffDialog, renderGraph } = C;

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
    if (!f.has_draft) return h("span", { class: "muted" }, f.latest_version ? "published" : "no draft");
    if (!f.latest_version) return h("span", { class: "badge warn" }, "unpublished");
    return h("span", { class: "badge" }, "unpublished changes");
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
    const tabs = [["problems", "Problems"], ["graph", "Graph"], ["chat", "Test chat"], ["tests", "Tests"], ["versions", "Versions"]];
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
    C.leaveGuard = () => writable && editor.getText() !== state.saved;
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
      if (name === "tests") loadTests();
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
        // This month's drop-off and cost per state, all versions (none yet: no numbers).
        const stats = await api("GET", t(`/analytics?flow=${encodeURIComponent(id)}&group_by=state`))
          .then((r) => new Map(r.data.states.map((s) => [s.state, s])))
          .catch(() => null);
        if (seq !== graphSeq) return;
        clear(panel).append(
          h("div", { class: "legend" },
            h("span", {}, "Click a state to jump to it."),
            h("span", {}, "Blue outline: start."),
            h("span", {}, "Red dashes: unreachable."),
            stats && stats.size ? h("span", {}, "Under a state: this month's visits, drop-offs and model cost (all versions; docs/analytics.md).") : null,
            data.interrupts.length ? h("span", {}, `Interrupts: ${data.interrupts.map((i) => `${i.label} → ${i.to}`).join("; ")}`) : null),
          h("div", { class: "graph-wrap" }, renderGraph(data, (node) => node.line && editor.gotoLine(node.line, node.column), stats)));
      } catch (err) {
        if (seq !== graphSeq) return;
        clear(panel).appendChild(err.status === 422
          ? empty("The flow does not parse", "Fix the syntax error shown in Problems and the graph comes back.")
          : banner(err));
      }
    }

    // -- test chat: the editor's text through the simulator (nothing stored)
    /** `90s`, `10m`, `2h`, `1d`, as a flow writes them. */
    function duration(ms) {
      for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]]) if (ms % size === 0) return `${ms / size}${unit}`;
      return `${Math.round(ms / 1000)}s`;
    }
    /** One model or adaptor call of the preview, for the inspector: a summary line, and
     *  the prompt or arguments and what came back when opened. */
    function callView(call) {
      const failed = call.outcome !== "ok";
      const what = call.kind === "adaptor" ? `adaptor ${call.name}` : call.kind === "knowledge" ? `knowledge ${call.name}${call.result && !call.result.length ? " · no answer" : ""}`
        : `${call.kind === "extract" ? "extraction" : "model"} ${call.name}`;
      const numbers = call.kind === "adaptor" || call.kind === "knowledge" ? [] : [
        call.tokens_in !== undefined ? `${call.tokens_in} → ${call.tokens_out} tokens` : null,
        call.latency_ms !== undefined ? `${call.latency_ms} ms` : null].filter(Boolean);
      return h("li", { class: failed ? "call failed" : "call" },
        h("details", {},
          h("summary", {}, h("span", { class: "badge" }, `turn ${call.turn}`), " ", h("code", {}, call.state), " · ", what,
            numbers.length ? ` · ${numbers.join(" · ")}` : "", failed ? h("span", { class: "badge err" }, ` ${call.error || "failed"}`) : null),
          call.prompt ? [h("div", { class: "muted" }, "Prompt"), h("pre", {}, call.prompt.map((m) => `${m.role}: ${m.content}`).join("\n\n"))] : null,
          call.args ? [h("div", { class: "muted" }, "Arguments"), h("pre", {}, JSON.stringify(call.args, null, 2))] : null,
          call.result !== undefined ? [h("div", { class: "muted" }, call.kind === "adaptor" ? "Stubbed result" : call.kind === "knowledge" ? "Chunks retrieved" : "Reply"),
            h("pre", {}, typeof call.result === "string" ? call.result : JSON.stringify(call.result, null, 2))] : null));
    }
    function buildChat() {
      const turns = [];
      const timeouts = []; // after which turns a waiting question's timeout passes
      const letPass = h("button", { type: "button", id: "chat-timeout", hidden: true, onclick: () => { timeouts.push(turns.length); run(); } }, "Let the timeout pass");
      const log = h("div", { class: "log", id: "chat-log", "aria-live": "polite" });
      const inspector = h("div", { class: "inspector", id: "inspector" });
      const input = h("input", { type: "text", id: "chat-input", "aria-label": "Message", placeholder: "Type a message and press Enter", autocomplete: "off" });
      async function run() {
        try {
          const { data } = await api("POST", t("/simulate"), { source: editor.getText(), turns, timeouts });
          letPass.hidden = !data.waiting_timeout;
          if (data.waiting_timeout) letPass.textContent = `Let the ${duration(data.waiting_timeout.timeout_ms)} timeout pass`;
          append(clear(log), data.transcript.map((m) => h("div", { class: `msg ${m.role}` },
            h("span", { class: "who" }, m.role), m.text)));
          log.scrollTop = log.scrollHeight;
          append(clear(inspector), [
            h("div", {}, h("strong", {}, "Status: "), h("span", { id: "chat-status" }, data.status)),
            h("div", {}, h("strong", {}, "State: "), h("code", { id: "chat-state" }, data.state || "—")),
            h("div", {}, h("strong", {}, "Slots")), h("pre", { id: "chat-slots" }, JSON.stringify(data.slots, null, 2)),
            h("div", {}, h("strong", {}, `Calls (${data.calls.length})`)),
            h("ol", { class: "calls", id: "chat-calls" }, data.calls.map(callView)),
            data.warnings.length ? [h("div", {}, h("strong", {}, "Warnings")), h("pre", {}, data.warnings.join("\n"))] : null]);
        } catch (err) {
          clear(inspector).appendChild(err.status === 422
            ? h("p", { class: "error-banner", role: "alert" }, "The flow does not compile; fix the errors in Problems to chat with it.")
            : banner(err));
        }
      }
      const form = h("form", { class: "row", id: "chat-form" }, input, h("button", { type: "submit", class: "primary" }, "Send"),
        letPass,
        h("button", { type: "button", id: "chat-restart", onclick: () => { turns.length = 0; timeouts.length = 0; run(); } }, "Restart"));
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
        liveWidget(id, () => editor.getText(), writable));
      run();
    }

    // -- saved test cases, run against the editor's text
    async function loadTests() {
      const panel = panels.tests;
      const base = t(`/flows/${encodeURIComponent(id)}/test-cases`);
      let cases = [];
      try {
        cases = (await api("GET", base)).data;
      } catch (err) {
        clear(panel).appendChild(banner(err));
        return;
      }
      clear(panel);
      if (!cases.length) {
        panel.appendChild(empty("No test cases yet", "Open a transcript and choose Save as test case: its user messages and the bot's answers become a case that every run replays."));
        return;
      }
      const report = h("div", { id: "test-report" });
      const run = async () => {
        clear(report).appendChild(h("p", { class: "muted" }, "Running…"));
        try {
          const { data } = await api("POST", `${base}/run`, { source: editor.getText() });
          clear(report).append(
            h("p", { class: data.failed ? "error-banner" : "note", id: "test-verdict" },
              data.failed ? `${data.failed} of ${data.cases.length} test cases fail against the editor's text.` : `All ${data.cases.length} test cases pass against the editor's text.`),
            h("ul", { class: "test-results" }, data.cases.map((c) => h("li", { class: c.passed ? "passed" : "failed", dataset: { name: c.name } },
              h("span", { class: `badge ${c.passed ? "ok" : "err"}` }, c.passed ? "pass" : "fail"), " ", c.name,
              c.passed ? null : h("div", { class: "difference" },
                h("div", {}, h("span", { class: "muted" }, `Bot message ${c.first_difference + 1}, expected: `), c.expected[c.first_difference] ?? "—"),
                h("div", {}, h("span", { class: "muted" }, "got: "), c.actual[c.first_difference] ?? "—"))))));
        } catch (err) {
          clear(report).appendChild(err.status === 422
            ? h("p", { class: "error-banner", role: "alert" }, "The flow does not compile; fix the errors in Problems to run the tests.")
            : banner(err));
        }
      };
      panel.append(
        h("div", { class: "toolbar" }, h("span", { class: "muted" }, `${cases.length} saved test case${cases.length === 1 ? "" : "s"}`), h("span", { class: "spacer" }),
          h("button", { type: "button", class: "primary", id: "run-tests", onclick: run }, "Run against the editor's text")),
        h("table", { id: "test-cases" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Turns"), h("th", { class: "hide-narrow" }, "Saved"), h("th", {}, ""))),
          h("tbody", {}, cases.map((c) => h("tr", { dataset: { name: c.name } },
            h("td", {}, c.name), h("td", {}, String(c.turns.length)), h("td", { class: "hide-narrow" }, `${time(c.updated_at)} · ${c.created_by}`),
            h("td", {}, writable ? h("button", { type: "button", dataset: { write: "" }, onclick: async () => {
              if (!confirm(`Delete the test case “${c.name}”?`)) return;
              await api("DELETE", `${base}/${encodeURIComponent(c.name)}`).catch((err) => toast(err.message, true));
              loadTests();
            } }, "Delete") : null))))),
        report);
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
  /** The real widget beside the test chat: on a preview of the editor's text (`flow`,
   *  `text()`), or on the tenant's active version. */
  function liveWidget(flow, text, writable) {
    const section = h("div", { class: "live" }, h("h3", {}, "Live widget"));
    if (liveTenant && liveTenant !== session.tenant) {
      section.appendChild(h("p", { class: "muted" }, `The live widget on this page talks to ${liveTenant}; reload the page to open it for ${session.tenant}.`));
      return section;
    }
    section.appendChild(h("p", { class: "muted", id: "live-note" },
      "The real widget, as visitors see it, over a real socket (the tenant's allowed origins must include this console's origin). On the draft, it runs the editor's text as a preview in the real runtime: the model, adaptors and streaming are real, and the conversation is stored but marked as a preview, so transcripts list it only under Previews and analytics leave it out. On the active version, its conversations are ordinary ones. One widget per page: reload to open another."));
    if (liveBox) {
      section.appendChild(liveBox);
      return section;
    }
    const open = (preview) => {
      liveTenant = session.tenant;
      liveBox = h("div", { id: "live-widget", class: "live-box" });
      buttons.replaceWith(h("p", { class: "note", id: "live-mode" }, preview ? `Preview of the editor's text (preview version ${preview.version}).` : "The active version."), liveBox);
      const script = document.createElement("script");
      script.src = "/widget.js";
      script.dataset.tenant = session.tenant;
      script.dataset.mode = "inline";
      script.dataset.target = "#live-widget";
      if (preview) script.dataset.preview = preview.ticket;
      document.body.appendChild(script);
    };
    const onDraft = writable ? h("button", { type: "button", id: "open-preview", class: "primary", dataset: { write: "" }, onclick: async () => {
      try {
        const { data } = await api("POST", t(`/flows/${encodeURIComponent(flow)}/previews`), text());
        open(data);
      } catch (err) {
        toast(err.status === 422 ? "The editor's text does not compile; fix the errors in Problems to preview it." : err.message, true);
      }
    } }, "Open the widget on this draft") : null;
    const buttons = h("div", { class: "row" }, onDraft,
      h("button", { type: "button", id: "open-live", onclick: () => open(null) }, "Open it on the active version"));
    section.appendChild(buttons);
    return section;
  }
  Object.assign(C, { flowList, flowEditor });
})();
