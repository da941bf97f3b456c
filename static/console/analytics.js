// The console's analytics page: a range's conversation metrics (GET …/analytics), a
// stacked bar per group (SVG, no library), the per-state table with drop-off and cost,
// a CSV download (GET …/analytics.csv) and the tenant's experiments with their results.
// Every number is defined in docs/analytics.md; server text goes through text nodes.
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, clear, time, toast, session, api, t, empty } = C;

  const pct = (rate) => `${(rate * 100).toFixed(1)}%`;
  const money = (micros) => (micros / 1e6).toFixed(4);
  const ms = (value) => (value === null || value === undefined ? "—" : `${value} ms`);
  const today = () => new Date().toISOString().slice(0, 10);
  const monthStart = () => `${today().slice(0, 8)}01`;

  /** One figure with its label. */
  function kpi(label, value, title) {
    return h("div", { class: "card kpi", title: title || null }, h("div", { class: "muted" }, label), h("div", { class: "kpi-value" }, value));
  }

  /** Stacked bars per group: contained, handed off, abandoned, open. */
  function chart(groups) {
    const width = 640, height = 180, pad = 24;
    const max = Math.max(1, ...groups.map((g) => g.started));
    const bar = Math.max(4, Math.floor((width - pad) / Math.max(1, groups.length)) - 4);
    const svg = h("svg", { viewBox: `0 0 ${width} ${height + pad}`, class: "analytics-chart", role: "img", "aria-label": "Conversations per group" });
    groups.forEach((g, i) => {
      const x = pad + i * (bar + 4);
      let y = height;
      const parts = [["contained", g.contained], ["handed-off", g.handed_off], ["abandoned", g.abandoned],
        ["open", g.started - g.contained - g.handed_off - g.abandoned]];
      for (const [kind, count] of parts) {
        if (count <= 0) continue;
        const size = (count / max) * (height - 10);
        y -= size;
        svg.appendChild(h("rect", { x, y, width: bar, height: size, class: `bar-${kind}` },
          h("title", {}, `${g.key}: ${count} ${kind.replace("-", " ")}`)));
      }
      if (groups.length <= 16) svg.appendChild(h("text", { x: x + bar / 2, y: height + 16, "text-anchor": "middle", class: "axis" }, g.key.slice(-5)));
    });
    return h("div", { class: "card" }, h("h2", {}, "Conversations"), svg,
      h("p", { class: "muted legend" }, h("span", { class: "swatch bar-contained" }), " contained ",
        h("span", { class: "swatch bar-handed-off" }), " handed off ", h("span", { class: "swatch bar-abandoned" }), " abandoned ",
        h("span", { class: "swatch bar-open" }), " open"));
  }

  /** A rate as a small horizontal bar. */
  function rateBar(rate) {
    return h("svg", { viewBox: "0 0 100 8", class: "rate-bar", role: "img", "aria-label": pct(rate) },
      h("rect", { x: 0, y: 0, width: 100, height: 8, class: "rate-track" }),
      h("rect", { x: 0, y: 0, width: Math.round(rate * 100), height: 8, class: "rate-fill" }));
  }

  function stateTable(states) {
    if (!states.length) return empty("No states yet", "States appear once conversations waited in them.");
    return h("table", { id: "analytics-states" },
      h("thead", {}, h("tr", {}, ["State", "Visits", "Re-prompts", "Fallbacks", "Drop-offs", "", "Cost"].map((c) => h("th", {}, c)))),
      h("tbody", {}, states.map((s) => h("tr", {},
        h("td", { class: "mono" }, s.state), h("td", {}, String(s.visits)),
        h("td", {}, `${s.reprompts} (${pct(s.reprompt_rate)})`), h("td", {}, `${s.fallbacks} (${pct(s.fallback_rate)})`),
        h("td", {}, `${s.dropoffs} (${pct(s.dropoff_rate)})`), h("td", {}, rateBar(s.dropoff_rate)),
        h("td", {}, money(s.cost_micros))))));
  }

  async function experiments(box) {
    const { data } = await api("GET", t("/experiments"));
    if (!data.length) return box.appendChild(h("p", { class: "muted" }, "No experiments. Start one with POST …/experiments or `switchboard experiments create`."));
    for (const ex of data.slice(0, 10)) {
      const detail = (await api("GET", t(`/experiments/${encodeURIComponent(ex.id)}`))).data;
      const ci = (p) => (p.ci_low === null ? "—" : `${pct(p.rate)} [${pct(p.ci_low)}–${pct(p.ci_high)}]`);
      const test = (c) => (c && c.p_value !== null ? `p=${c.p_value.toFixed(3)}${c.significant ? " ✓" : ""}` : "");
      box.appendChild(h("div", { class: "card experiment" },
        h("h3", {}, `${ex.name} `, h("span", { class: "badge" }, ex.status), ex.winner ? ` winner v${ex.winner}` : "",
          h("span", { class: "muted" }, ` · ${ex.flow} · since ${time(ex.started_at)}`)),
        h("table", {}, h("thead", {}, h("tr", {}, ["Version", "Weight", "Conversations", "Containment", "Handoff", "Abandonment", "Cost / conv."].map((c) => h("th", {}, c)))),
          h("tbody", {}, detail.results.map((r) => h("tr", {},
            h("td", {}, `v${r.version}`), h("td", {}, String(r.weight)), h("td", {}, String(r.conversations)),
            h("td", {}, ci(r.containment), " ", test(r.vs_control?.containment)),
            h("td", {}, ci(r.handoff), " ", test(r.vs_control?.handoff)),
            h("td", {}, ci(r.abandonment), " ", test(r.vs_control?.abandonment)),
            h("td", {}, money(r.cost_per_conversation_micros))))))));
    }
  }

  async function analytics(main) {
    const from = h("input", { type: "date", id: "analytics-from", value: monthStart() });
    const to = h("input", { type: "date", id: "analytics-to", value: today() });
    const groupBy = h("select", { id: "analytics-group" }, ["day", "flow", "version", "channel"].map((g) => h("option", { value: g }, g)));
    const channel = h("select", { id: "analytics-channel" }, ["", "webchat", "whatsapp", "slack", "teams"].map((c) => h("option", { value: c }, c || "all channels")));
    const body = h("div", { id: "analytics-body" });
    const query = () => {
      const q = new URLSearchParams({ from: from.value, to: to.value, group_by: groupBy.value });
      if (channel.value) q.set("channel", channel.value);
      return q.toString();
    };
    const download = async () => {
      const response = await fetch(`/v1/admin${t(`/analytics.csv?${query()}`)}`, { headers: { authorization: `Bearer ${session.key}` } });
      if (!response.ok) return toast(`CSV: HTTP ${response.status}`, true);
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `analytics-${from.value}-${to.value}.csv` });
      link.click();
      URL.revokeObjectURL(link.href);
    };
    const load = async () => {
      clear(body);
      try {
        const { data } = await api("GET", t(`/analytics?${query()}`));
        const m = data.total;
        body.append(
          h("div", { class: "kpis" },
            kpi("Started", String(m.started)), kpi("Contained", pct(m.containment_rate), `${m.contained} ended by the flow without a handoff`),
            kpi("Handed off", pct(m.handoff_rate), `${m.handed_off}`), kpi("Abandoned", pct(m.abandonment_rate),
              `${m.abandoned}: silent ${data.abandon_after_secs} s while waiting for input`),
            kpi("Turns / conv.", m.turns_per_conversation.toFixed(2)), kpi(`Cost / conv. (${data.currency})`, money(m.cost_per_conversation_micros)),
            kpi("First reply p50 / p95", `${ms(m.first_reply_ms.p50)} / ${ms(m.first_reply_ms.p95)}`),
            kpi("Turn latency p50 / p95", `${ms(m.turn_latency_ms.p50)} / ${ms(m.turn_latency_ms.p95)}`)),
          chart(data.groups),
          h("h2", {}, "Where people give up, and what each state costs"),
          stateTable(data.states));
      } catch (err) {
        body.appendChild(C.banner(err));
      }
    };
    for (const control of [from, to, groupBy, channel]) control.addEventListener("change", load);
    const exBox = h("div", { id: "analytics-experiments" });
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Analytics"), h("span", { class: "spacer" }),
      h("label", {}, "From ", from), h("label", {}, "To ", to), h("label", {}, "By ", groupBy), channel,
      h("button", { type: "button", id: "analytics-csv", onclick: download }, "Download CSV")),
    body, h("h2", {}, "Experiments"), exBox);
    await load();
    await experiments(exBox).catch((err) => exBox.appendChild(C.banner(err)));
  }

  C.analytics = analytics;
})();
