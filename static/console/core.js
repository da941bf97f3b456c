// The Switchboard admin console, shared pieces: DOM helpers, the session (sessionStorage)
// and the admin API client. Loaded first; the other files read them from
// window.SwitchboardConsole. No framework and no build step (docs/console.md).
//
// Rules every console file keeps:
// - The API key lives in sessionStorage only: never in a URL, never in localStorage.
// - Every text that comes from the server (flow source, state names, transcripts,
//   diagnostics, audit details) reaches the page through text nodes (`h()` in core.js),
//   never innerHTML. The page's CSP (no inline script) is the second wall.
// - Write controls are created only for roles that may use them; the server checks
//   every request anyway.
"use strict";

window.SwitchboardConsole = {
  // A function returning true while the current view has unsaved work (the flow editor).
  leaveGuard: null,
};

(() => {
  const C = window.SwitchboardConsole;
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
    me: null, // whoami ({agent: true} for a human agent's token)
    agent: null, // the signed-in agent (GET /v1/agent/me)
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
      C.signOut("Your key is no longer valid. Sign in again.");
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return { data, etag: response.headers.get("etag")?.replace(/^W\//, "").replace(/"/g, "") || null };
  }
  const t = (path) => `/tenants/${encodeURIComponent(session.tenant)}${path}`;
  const can = (role) => (ROLES[session.me?.role] || 0) >= ROLES[role];

  // ---------------------------------------------------------------- shared views

  function empty(title, text, ...actions) {
    return h("div", { class: "empty card" }, h("h2", {}, title), h("p", {}, text), actions);
  }
  function banner(err, ...actions) {
    const what = err.status === 403 ? "Your key's role may not do this." : err.status === 404 ? "Not found." : "";
    return h("div", { class: "error-banner", role: "alert" },
      h("strong", {}, err.status ? `${err.status} ${err.code}` : "Error"), h("span", {}, `${err.message} ${what}`),
      h("span", { class: "spacer" }), actions);
  }

  Object.assign(C, { ROLES, h, append, clear, time, toast, session, ApiError, api, t, can, empty, banner });
})();
