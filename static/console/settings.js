// The console's settings: the tenant (owners edit it), API keys, channel accounts,
// adaptors and the audit log, over the existing admin routes.
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, append, clear, time, toast, session, api, t, can, empty, banner } = C;

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
    const retention = await api("GET", t("/retention")).then((r) => r.data).catch(() => null);
    if (retention) rows.push(["Messages kept", retention.effective_event_days ? `${retention.effective_event_days} days` : "forever"]);
    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Tenant")),
      h("table", { id: "tenant-settings" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))));
    if (can("owner")) main.appendChild(tenantForm(data, retention));
  }

  /** The owner's form: display name, entry flow, allowed origins, model (PATCH …) and
   *  how long messages are kept (PUT or DELETE …/retention). */
  function tenantForm(tenant, retention) {
    const name = h("input", { type: "text", id: "tenant-display-name", value: tenant.name, required: true, maxlength: "200" });
    const entry = h("input", { type: "text", id: "tenant-entry-flow", value: tenant.entry_flow, required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,62}" });
    const origins = h("textarea", { id: "tenant-origins", rows: "3", placeholder: "https://www.example.com (one per line; none allows any)" });
    origins.value = tenant.allowed_origins.join("\n");
    const model = h("input", { type: "text", id: "tenant-model", value: tenant.llm_model || "", placeholder: "the server's default" });
    const days = h("input", { type: "number", id: "tenant-retention", min: "1", max: "3650", class: "narrow-input",
      value: retention && retention.event_days ? String(retention.event_days) : "",
      placeholder: retention && retention.default_event_days ? String(retention.default_event_days) : "forever" });
    const form = h("form", { class: "card stack", id: "tenant-form" },
      h("h2", {}, "Edit"),
      h("label", {}, "Display name", name),
      h("label", {}, "Entry flow (new conversations start it)", entry),
      h("label", {}, "Allowed origins of the web chat", origins),
      h("label", {}, "Model", model),
      h("label", {}, "Keep messages for (days; empty: the server's default)", days),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "tenant-save", dataset: { write: "" } }, "Save")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {
        name: name.value.trim(),
        entry_flow: entry.value.trim(),
        allowed_origins: origins.value.split("\n").map((o) => o.trim()).filter(Boolean),
        llm_model: model.value.trim() || null,
      };
      try {
        await api("PATCH", t(""), body);
        if (days.value) await api("PUT", t("/retention"), { event_days: Number(days.value) });
        else if (retention && retention.event_days) await api("DELETE", t("/retention"));
        toast("Tenant settings saved.");
        C.route();
      } catch (err) {
        toast(err.message, true);
      }
    });
    return form;
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
            C.route();
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
        C.route();
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
            C.route();
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
        C.route();
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
  Object.assign(C, { settings });
})();
