// The console's agent inbox (docs/agents.md): what a human agent sees after signing in
// with an agent token (`sba_…`). The inbox comes live over the agent WebSocket
// (/v1/agent/ws): the lists, and the events of the open conversation, followed from the
// last seq seen, so a reconnect misses nothing and shows nothing twice. Actions go
// through the agent API (/v1/agent/…).
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, append, clear, toast, session, empty, banner } = C;

  class AgentError extends Error {
    constructor(status, body) {
      super(body?.error?.message || `HTTP ${status}`);
      this.status = status;
      this.code = body?.error?.code || "http_error";
    }
  }

  /** Calls the agent API with the signed-in agent's token. */
  async function agentApi(method, path, body) {
    const init = { method, headers: { authorization: `Bearer ${session.key}` } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`/v1/agent${path}`, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
    if (response.status === 401 && path !== "/me") {
      C.signOut("Your agent token is no longer valid. Sign in again.");
    }
    if (!response.ok) throw new AgentError(response.status, data);
    return data;
  }

  // ---------------------------------------------------------------- the live socket

  /** One socket for the tab's session, kept across re-renders. */
  const live = {
    ws: null,
    inbox: null, // the last inbox frame's conversations
    following: null, // conversation id
    lastSeq: new Map(), // conversation id → last seq shown
    onInbox: null,
    onMessage: null,
    onUnfollowed: null,
    onTyping: null,
    status: "online",
    retry: 0,
  };

  function connect() {
    if (live.ws && live.ws.readyState <= 1) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/agent/ws`;
    const ws = new WebSocket(url);
    live.ws = ws;
    ws.addEventListener("open", () => {
      live.retry = 0;
      ws.send(JSON.stringify({ type: "hello", token: session.key, status: live.status }));
      if (live.following) follow(live.following);
      setConnection(true);
    });
    ws.addEventListener("message", (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.type === "inbox") {
        live.inbox = frame.conversations;
        live.onInbox?.(frame.conversations);
      } else if (frame.type === "message") {
        const last = live.lastSeq.get(frame.conversation_id) || 0;
        if (frame.seq <= last) return;
        live.lastSeq.set(frame.conversation_id, frame.seq);
        live.onMessage?.(frame);
      } else if (frame.type === "typing") {
        live.onTyping?.(frame.conversation_id);
      } else if (frame.type === "unfollowed") {
        live.onUnfollowed?.(frame.conversation_id);
      } else if (frame.type === "error" && frame.code === "unauthorized") {
        C.signOut("Your agent token is no longer valid. Sign in again.");
      }
    });
    ws.addEventListener("close", () => {
      setConnection(false);
      if (live.ws !== ws || !session.key) return;
      live.ws = null;
      const wait = Math.min(10000, 500 * 2 ** live.retry++);
      setTimeout(() => { if (session.key && session.agent) connect(); }, wait);
    });
  }

  function send(frame) {
    if (live.ws && live.ws.readyState === 1) live.ws.send(JSON.stringify(frame));
  }

  function follow(id) {
    live.following = id;
    send({ type: "follow", conversation_id: id, last_seq: live.lastSeq.get(id) || 0 });
  }

  function setConnection(up) {
    const el = document.getElementById("connection");
    if (!el) return;
    el.className = up ? "badge ok" : "badge warn";
    el.textContent = up ? "live" : "reconnecting…";
  }

  function disconnect() {
    const ws = live.ws;
    live.ws = null;
    live.inbox = null;
    live.following = null;
    live.lastSeq.clear();
    ws?.close();
  }

  // ---------------------------------------------------------------- helpers

  function waiting(row) {
    const since = row.waiting_since || row.since;
    if (!since) return "";
    const minutes = Math.floor((Date.now() - since) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    return hours < 24 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d`;
  }

  function who(row) {
    return row.channel === "webchat" ? `Visitor ${row.external_user.slice(0, 8)}` : `${row.channel} ${row.external_user}`;
  }

  const ROLE_LABEL = { user: "Customer", bot: "Bot", agent: "Agent", system: "", note: "Private note" };

  function messageEl(m) {
    const author = m.meta?.author || m.author;
    const label = m.role === "agent" || m.role === "note" ? `${ROLE_LABEL[m.role]}${author ? ` · ${author}` : ""}` : ROLE_LABEL[m.role];
    return h("div", { class: `msg ${m.role}`, dataset: { seq: String(m.seq) } },
      label ? h("span", { class: "who" }, label) : null, m.text);
  }

  // ---------------------------------------------------------------- the page

  async function inbox(main, openId) {
    const me = session.agent;
    connect();
    const views = [["unassigned", "Unassigned"], ["mine", "Mine"], ["all", "All"]];
    const view = new URLSearchParams(location.hash.split("?")[1] || "").get("view") || (openId ? "all" : "unassigned");
    const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Inbox views" });
    const list = h("ul", { id: "inbox-list", class: "inbox-list", "aria-label": "Conversations" });
    const pane = h("section", { id: "conversation", class: "conversation card", "aria-label": "Conversation" },
      empty("No conversation open", "Pick one from the list. New handoffs appear here as they arrive."));
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Inbox"), h("span", { class: "spacer" }),
      h("span", { id: "connection", class: "badge warn" }, "connecting…")),
      h("div", { class: "inbox-layout" }, h("div", { class: "inbox-side" }, tabs, list), pane));
    setConnection(live.ws?.readyState === 1);

    function rows(conversations, which) {
      return conversations.filter((r) => which === "all"
        || (which === "mine" ? r.agent_id === me.id : !r.agent_id));
    }
    function renderList(conversations) {
      clear(tabs);
      for (const [id, label] of views) {
        const count = rows(conversations, id).length;
        tabs.appendChild(h("button", {
          type: "button", role: "tab", id: `view-${id}`, "aria-selected": String(id === view),
          onclick: () => { location.hash = `#/inbox${openId ? `/${encodeURIComponent(openId)}` : ""}?view=${id}`; },
        }, `${label} `, h("span", { class: "badge" }, String(count))));
      }
      clear(list);
      const shown = rows(conversations, view);
      if (!shown.length) {
        list.appendChild(h("li", { class: "muted empty-row" }, view === "mine" ? "Nothing assigned to you." : "No one is waiting."));
        return;
      }
      for (const row of shown) {
        list.appendChild(h("li", {},
          h("a", {
            href: `#/inbox/${encodeURIComponent(row.conversation_id)}?view=${view}`,
            class: row.conversation_id === openId ? "current" : null,
            "aria-current": row.conversation_id === openId ? "true" : null,
            dataset: { id: row.conversation_id },
          },
          h("strong", {}, who(row)),
          h("span", { class: "muted" }, ` · ${row.queue}`),
          h("span", { class: "meta" },
            row.waiting_since ? h("span", { class: "badge warn" }, `waiting ${waiting(row)}`) : h("span", { class: "badge ok" }, "answered"),
            row.agent_id ? (row.agent_id === me.id ? " mine" : " assigned") : " unassigned"))));
      }
    }
    live.onInbox = (conversations) => {
      renderList(conversations);
      if (openId) refreshActions(conversations.find((r) => r.conversation_id === openId));
    };
    if (live.inbox) renderList(live.inbox);
    else renderList(await agentApi("GET", "/inbox").catch(() => []));
    const tick = setInterval(() => { if (!document.body.contains(list)) clearInterval(tick); else if (live.inbox) renderList(live.inbox); }, 30000);

    if (!openId) {
      live.onMessage = null;
      return;
    }

    // ---------------------------------------------------------------- one conversation
    let detail;
    try {
      detail = await agentApi("GET", `/conversations/${encodeURIComponent(openId)}`);
    } catch (err) {
      clear(pane).appendChild(err.status === 404
        ? empty("Not in your inbox", "It was resolved, or went to another agent or queue.")
        : banner(err));
      return;
    }
    const thread = h("div", { id: "thread", class: "log thread", "aria-live": "polite" });
    const typingNote = h("p", { id: "customer-typing", class: "muted typing-note", hidden: true }, "The customer is typing…");
    const slots = Object.entries(detail.slots || {});
    const meta = h("div", { id: "handoff-meta", class: "muted" });
    const summary = h("p", { id: "summary", class: "note", hidden: true });
    const summarize = h("button", { type: "button", id: "summarize", title: "A short briefing by the model (metered like any model call)" }, "Summarise");
    summarize.addEventListener("click", async () => {
      summarize.disabled = true;
      try {
        const { summary: text } = await agentApi("POST", `/conversations/${encodeURIComponent(openId)}/summary`);
        summary.textContent = text;
        summary.hidden = false;
      } catch (err) {
        toast(`Summary: ${err.message}`, true);
      } finally {
        summarize.disabled = false;
      }
    });
    const actions = h("div", { class: "row actions" });
    const text = h("textarea", { id: "composer", rows: "3", "aria-label": "Message", placeholder: "Write to the customer…", maxlength: "4000" });
    const sendBtn = h("button", { type: "submit", class: "primary", id: "send" }, "Send");
    const noteBtn = h("button", { type: "button", id: "add-note", title: "Visible to agents only" }, "Add private note");
    const composer = h("form", { class: "composer", id: "composer-form" }, text, h("div", { class: "row" }, sendBtn, noteBtn));
    clear(pane).append(
      h("div", { class: "toolbar" }, h("h2", {}, who(detail.handoff)), h("span", { class: "spacer" }), actions),
      h("div", { class: "row" }, meta, h("span", { class: "spacer" }), summarize),
      summary,
      slots.length
        ? h("dl", { id: "slots", class: "slots" }, slots.map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]))
        : h("p", { id: "slots", class: "muted" }, "The flow collected nothing before the handoff."),
      thread, typingNote, composer);

    live.lastSeq.set(openId, 0);
    for (const m of detail.messages) {
      thread.appendChild(messageEl(m));
      live.lastSeq.set(openId, m.seq);
    }
    thread.scrollTop = thread.scrollHeight;
    live.onMessage = (frame) => {
      if (frame.conversation_id !== openId) return;
      if (frame.role === "user") typingNote.hidden = true;
      thread.appendChild(messageEl(frame));
      thread.scrollTop = thread.scrollHeight;
    };
    let typingTimer = 0;
    live.onTyping = (id) => {
      if (id !== openId) return;
      typingNote.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingNote.hidden = true; }, 4000);
    };
    live.onUnfollowed = (id) => {
      if (id !== openId) return;
      toast("This conversation left your inbox.");
    };
    follow(openId);

    async function act(label, call) {
      try {
        await call();
        return true;
      } catch (err) {
        toast(`${label}: ${err.message}`, true);
        return false;
      }
    }
    function refreshActions(row) {
      clear(actions);
      clear(meta);
      if (!row) {
        meta.append("Back with the bot, or no longer yours.");
        composer.hidden = true;
        return;
      }
      composer.hidden = false;
      append(meta, [`Queue ${row.queue} · `, row.agent_id ? (row.agent_id === me.id ? "assigned to you" : "assigned to another agent") : "waiting for an agent",
        row.waiting_since ? ` · customer waiting ${waiting(row)}` : "", detail.state ? ` · flow state ${detail.state}` : ""]);
      if (!row.agent_id) {
        actions.appendChild(h("button", { type: "button", class: "primary", id: "claim",
          onclick: () => act("Claim", () => agentApi("POST", `/conversations/${encodeURIComponent(openId)}/claim`)).then((ok) => ok && toast("It is yours.")) }, "Claim"));
      }
      const queue = h("input", { id: "transfer-queue", "aria-label": "Transfer to queue", placeholder: "queue", class: "inbox-input" });
      actions.appendChild(h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        if (!queue.value.trim()) return;
        act("Transfer", () => agentApi("POST", `/conversations/${encodeURIComponent(openId)}/transfer`, { queue: queue.value.trim() }))
          .then((ok) => ok && toast(`Transferred to ${queue.value.trim()}.`));
      } }, queue, h("button", { type: "submit", id: "transfer" }, "Transfer")));
      const state = h("input", { id: "resolve-state", "aria-label": "Return to the bot at state", placeholder: "state (optional)", class: "inbox-input" });
      actions.appendChild(h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        const body = state.value.trim() ? { state: state.value.trim() } : {};
        act("Return to bot", () => agentApi("POST", `/conversations/${encodeURIComponent(openId)}/resolve`, body))
          .then((ok) => ok && toast("Back with the bot."));
      } }, state, h("button", { type: "submit", id: "resolve" }, "Return to bot")));
    }
    refreshActions(live.inbox?.find((r) => r.conversation_id === openId) || detail.handoff);

    composer.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      if (await act("Send", () => agentApi("POST", `/conversations/${encodeURIComponent(openId)}/messages`, { text: body }))) text.value = "";
    });
    noteBtn.addEventListener("click", async () => {
      const body = text.value.trim();
      if (!body) return;
      if (await act("Note", () => agentApi("POST", `/conversations/${encodeURIComponent(openId)}/notes`, { text: body }))) text.value = "";
    });
    let typedAt = 0;
    text.addEventListener("input", () => {
      if (text.value.trim() && Date.now() - typedAt > 2000) {
        typedAt = Date.now();
        send({ type: "typing", conversation_id: openId });
      }
    });
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) composer.requestSubmit();
    });
  }

  /** The presence control in the header. */
  function presenceControl() {
    return h("select", {
      id: "presence", "aria-label": "Your status",
      onchange: (e) => { live.status = e.target.value; send({ type: "presence", status: live.status }); },
    }, [["online", "Online"], ["away", "Away"]].map(([v, label]) => h("option", { value: v, selected: live.status === v }, label)));
  }

  Object.assign(C, { agentApi, inbox, presenceControl, disconnectInbox: disconnect });
})();
