// The console's transcripts: the filtered list, one transcript, and its replay through
// the simulator.
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, append, clear, time, toast, session, api, t, can, empty, banner } = C;

  // ---------------------------------------------------------------- transcripts

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
    const until = h("input", { type: "date", id: "filter-until", "aria-label": "Started on or before", value: params.get("until") || "" });
    const q = h("input", { type: "search", id: "filter-q", "aria-label": "Search text", placeholder: "Search messages…", value: params.get("q") || "" });
    const preview = h("select", { id: "filter-preview", "aria-label": "Conversations or previews" },
      [["", "conversations"], ["previews", "previews from the console"]].map(([v, label]) => h("option", { value: v, selected: params.get("preview") === v }, label)));
    const results = h("div", { id: "transcript-results" });
    const apply = () => {
      const next = new URLSearchParams();
      for (const [k, el] of [["status", status], ["channel", channel], ["flow", flow], ["version", version], ["since", since], ["until", until], ["q", q], ["preview", preview]]) if (el.value) next.set(k, el.value);
      history.replaceState(null, "", `#/transcripts${next.toString() ? `?${next}` : ""}`);
      load();
    };
    for (const el of [status, channel, flow, version, since, until, preview]) el.addEventListener("change", apply);
    let qTimer;
    q.addEventListener("input", () => { clearTimeout(qTimer); qTimer = setTimeout(apply, 300); });
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Transcripts")),
      h("div", { class: "toolbar", role: "search" }, preview, status, channel, flow, version, since, h("span", { class: "muted" }, "to"), until, q),
      results);
    let loadSeq = 0;
    async function load() {
      const seq = ++loadSeq;
      const query = new URLSearchParams({ limit: "50" });
      if (status.value) query.set("status", status.value);
      if (channel.value) query.set("channel", channel.value);
      if (flow.value) query.set("flow", flow.value);
      if (version.value) query.set("version", version.value);
      // Dates are the browser's local days: from the start of `since` to the end of `until`.
      if (since.value) query.set("since", String(new Date(`${since.value}T00:00:00`).getTime()));
      if (until.value) query.set("until", String(new Date(`${until.value}T00:00:00`).getTime() + 86_400_000));
      const needle = q.value.trim();
      if (needle) query.set("q", needle);
      if (preview.value) query.set("preview", "true");
      if (since.value && until.value && since.value > until.value) {
        clear(results).appendChild(empty("No conversations match", "The start date is after the end date."));
        return;
      }
      let list;
      try {
        list = (await api("GET", t(`/conversations?${query}`))).data;
      } catch (err) {
        if (seq === loadSeq) clear(results).appendChild(banner(err));
        return;
      }
      if (seq !== loadSeq) return;
      clear(results);
      if (!list.length) {
        results.appendChild(empty("No conversations match",
          status.value || channel.value || flow.value || version.value || since.value || until.value || needle ? "Change or clear the filters." : "Conversations appear here once visitors chat through the widget or a channel."));
        return;
      }
      results.appendChild(h("table", { id: "transcripts" },
        h("thead", {}, h("tr", {}, h("th", {}, "Conversation"), h("th", {}, "Status"), h("th", {}, "Channel"), h("th", { class: "hide-narrow" }, "Flow"),
          h("th", { class: "hide-narrow" }, "Events"), h("th", {}, "Updated"))),
        h("tbody", {}, list.map((c) => h("tr", { class: "clickable", dataset: { id: c.id }, onclick: () => (location.hash = `#/transcripts/${encodeURIComponent(c.id)}`) },
          h("td", {}, h("a", { href: `#/transcripts/${encodeURIComponent(c.id)}`, class: "mono" }, c.id.slice(0, 12)), h("div", { class: "muted" }, c.external_user)),
          h("td", {}, h("span", { class: `badge ${c.status === "active" ? "ok" : c.status === "handoff" ? "warn" : ""}` }, c.status)),
          h("td", {}, c.channel), h("td", { class: "hide-narrow" }, c.preview ? `${c.flow_id} (preview)` : `${c.flow_id} v${c.flow_version}`),
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
          h("span", { class: "who" }, `${m.role} · #${m.seq} · ${time(m.created_at)}`,
            m.state ? h("span", { class: "state", title: "the flow state this turn left the conversation in" }, ` → ${m.state}`) : null), m.text))
          : h("p", { class: "muted" }, "No messages yet."))));
    main.appendChild(replayBox(c, data.messages));
    if (c.status === "handoff" && can("editor")) {
      const input = h("input", { type: "text", "aria-label": "Reply as an agent", placeholder: "Reply as a human agent…" });
      const form = h("form", { class: "row" }, input, h("button", { type: "submit", class: "primary", dataset: { write: "" } }, "Send"),
        h("button", { type: "button", dataset: { write: "" }, onclick: async () => {
          await api("POST", t(`/conversations/${encodeURIComponent(id)}/release`), {}).catch((err) => toast(err.message, true));
          C.route();
        } }, "Give back to the bot"));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!input.value.trim()) return;
        await api("POST", t(`/conversations/${encodeURIComponent(id)}/messages`), { text: input.value }).catch((err) => toast(err.message, true));
        C.route();
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
      h("p", { class: "muted" }, "Runs this conversation's user messages through the simulator (offline model, stubbed adaptors; nothing stored) and compares the bot's messages. Saved as a test case, it runs again from the flow's Tests tab."),
      h("div", { class: "row" }, h("label", {}, "Against", target), h("button", { type: "button", id: "replay", onclick: run }, "Replay"),
        can("editor") ? h("button", { type: "button", id: "save-test-case", dataset: { write: "" }, onclick: () => saveAsTestCase(c, turns, stored) }, "Save as test case") : null),
      result);
  }
  /** Saves the conversation as a test case of its flow: its user messages, and the bot
   *  messages they produced as what every run must produce again. */
  async function saveAsTestCase(c, turns, expected) {
    if (!turns.length) return toast("This conversation has no user message to replay.", true);
    const name = prompt("Name of the test case:", `conversation ${c.id.slice(0, 8)}`);
    if (!name) return;
    try {
      await api("PUT", t(`/flows/${encodeURIComponent(c.flow_id)}/test-cases/${encodeURIComponent(name.trim())}`),
        { turns, expected, conversation_id: c.id });
      toast(`Saved as the test case “${name.trim()}” of ${c.flow_id}.`);
    } catch (err) {
      toast(err.message, true);
    }
  }
  Object.assign(C, { transcriptList, transcriptView });
})();
