// The Switchboard admin console: sign-in, the frame (header, navigation, tenant switch)
// and the router; the views live in flows.js, transcripts.js, settings.js and inbox.js
// (a human agent's inbox, for agent tokens), the shared pieces in core.js
// (docs/console.md). Loaded last.
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, append, clear, time, toast, session, api, t, can, empty, banner, ROLES } = C;

  // ---------------------------------------------------------------- sign-in and shell

  const app = document.getElementById("app");

  function signOut(message) {
    session.key = null;
    session.tenant = null;
    session.me = null;
    session.agent = null;
    C.disconnectInbox?.();
    C.leaveGuard = null;
    renderSignIn(message);
  }

  function renderSignIn(message) {
    clear(app);
    const input = h("input", { type: "password", id: "key", name: "key", autocomplete: "off", spellcheck: "false", required: true, placeholder: "sbk_… or sba_…" });
    const error = h("p", { class: "error-banner", role: "alert", hidden: !message }, message || "");
    const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
      h("div", { class: "brand" }, "Switchboard"),
      h("h1", { id: "signin-title" }, "Sign in to the console"),
      h("p", {}, "Use an admin API key, or your agent token to open your inbox. It stays in this tab only (session storage) and is forgotten when you close it."),
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
        error.textContent = err.status === 401 ? "That key is not valid (unknown, revoked or deleted)." : `Sign-in failed: ${err.message}`;
        input.focus();
      }
    });
    app.appendChild(form);
    input.focus();
  }

  async function start() {
    if (session.key.startsWith("sba_")) {
      // A human agent: the inbox is all there is.
      session.agent = await C.agentApi("GET", "/me");
      session.me = { agent: true, role: "agent" };
      if (!location.hash.startsWith("#/inbox")) location.hash = "#/inbox";
      await route();
      return;
    }
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
    ["Build", [["#/flows", "Flows"], ["#/knowledge", "Knowledge"]]],
    ["Operate", [["#/transcripts", "Transcripts"], ["#/analytics", "Analytics"]]],
    ["Settings", [["#/settings/tenant", "Tenant"], ["#/settings/keys", "API keys", "owner"], ["#/settings/channels", "Channels"],
      ["#/settings/adaptors", "Adaptors"], ["#/settings/audit", "Audit log", "owner"]]],
  ];

  /** Renders the frame (header, navigation) and returns its empty <main>; null when a
   *  newer route started meanwhile (that one renders). */
  async function shell(seq) {
    const me = session.me;
    if (me.agent) return agentShell();
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

  /** The frame of an agent's session: the inbox, the agent's name and status. */
  function agentShell() {
    const agent = session.agent;
    const main = h("main", { id: "main", tabindex: "-1" });
    const nav = h("nav", { class: "side", "aria-label": "Sections" },
      h("div", { class: "group" }, "Agent"),
      h("a", { href: "#/inbox", "aria-current": "page" }, "Inbox"));
    clear(app).appendChild(h("div", { class: "shell" },
      h("header", { class: "top" },
        h("span", { class: "brand" }, "Switchboard"),
        h("span", { class: "muted hide-narrow" }, "agent"), h("span", { id: "agent-name" }, agent.name),
        h("span", { class: "spacer" }),
        C.presenceControl(),
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
    const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
    const main = await shell(seq);
    if (!main || seq !== routeSeq) return;
    if (session.me.agent) {
      try {
        await C.inbox(main, parts[0] === "inbox" ? parts[1] : undefined);
      } catch (err) {
        main.appendChild(banner(err));
      }
      return;
    }
    if (!session.tenant) {
      main.appendChild(empty("No tenant yet", "Create a tenant with the admin API (POST /v1/admin/tenants) or the CLI, then come back."));
      return;
    }
    const views = {
      flows: () => (parts[1] ? C.flowEditor(main, parts[1], location.hash.includes("?new")) : C.flowList(main)),
      transcripts: () => (parts[1] ? C.transcriptView(main, parts[1]) : C.transcriptList(main)),
      settings: () => C.settings(main, parts[1] || "tenant"),
      analytics: () => C.analytics(main),
      knowledge: () => C.knowledge(main),
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
    if (C.leaveGuard && C.leaveGuard() && !confirm("You have unsaved changes. Leave anyway?")) {
      history.replaceState(null, "", shownHash); // stay, and say where we are
      return;
    }
    C.leaveGuard = null;
    document.querySelector(".toast")?.remove(); // a message about the page being left
    route();
  });
  window.addEventListener("beforeunload", (e) => {
    if (C.leaveGuard && C.leaveGuard()) e.preventDefault();
  });

  C.signOut = signOut;
  C.route = route;

  // ---------------------------------------------------------------- boot

  if (session.key) start().catch(() => signOut("Sign in again."));
  else renderSignIn();
})();
