// The browser suite's harness: a real Switchboard process, a host-page server on another
// origin, Debian's Chromium through playwright-core, and an admin API client.
//
// The server is the debug binary `cargo test` built (target/debug/switchboard, or
// SWITCHBOARD_BIN), configured through the environment on a temporary SQLite database.
// It binds 127.0.0.1:0 and the suite reads the address from its "switchboard listening"
// log line; a restart binds the same port again, on the same database. Host pages come
// from a small Node HTTP server on its own port, so the widget's socket carries the host
// page's Origin, as on a customer's site.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BOOTSTRAP_KEY = "browser-tests-bootstrap-key-0123456789";
const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve("axe-core/axe.min.js");

/** Polls `check` (sync or async) until it returns a truthy value; throws after `ms`. */
export async function until(check, ms = 20000, what = "condition") {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Switchboard process on a temporary SQLite database. */
export class Server {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "sb-browser-"));
    this.bin = process.env.SWITCHBOARD_BIN || join(ROOT, "target", "debug", "switchboard");
    this.port = 0;
    this.proc = null;
    this.log = "";
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    const env = {
      ...process.env,
      SWITCHBOARD__SERVER__BIND: `127.0.0.1:${this.port}`,
      SWITCHBOARD__DATABASE__URL: `sqlite://${join(this.dir, "switchboard.db")}`,
      SWITCHBOARD__ADMIN__BOOTSTRAP_KEY: BOOTSTRAP_KEY,
      SWITCHBOARD__DEMO__FLOWS_DIR: join(ROOT, "flows"),
      // Slow enough that a streamed reply takes a visible while; fast enough for a suite.
      SWITCHBOARD__LLM__OFFLINE_TOKEN_DELAY_MS: "30",
      SWITCHBOARD__LOG__FORMAT: "text",
      SWITCHBOARD__SERVER__SHUTDOWN_TIMEOUT_SECS: "2",
      RUST_LOG: "info",
      NO_COLOR: "1",
    };
    const proc = spawn(this.bin, ["serve"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    let exited = null;
    proc.on("exit", (code, signal) => (exited = `exit ${code ?? signal}`));
    const listen = /switchboard listening.*?addr=(127\.0\.0\.1:(\d+))/;
    const onData = (chunk) => {
      // eslint-disable-next-line no-control-regex
      this.log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, "");
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    const match = await until(() => {
      if (exited) throw new Error(`switchboard ${exited}:\n${this.log}`);
      return listen.exec(this.log);
    }, 30000, "the 'switchboard listening' log line");
    this.port = Number(match[2]);
    this.log = "";
    return this;
  }

  /** Graceful stop (SIGTERM), waiting for the process to end. */
  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const ended = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
    await ended;
    clearTimeout(timer);
    this.proc = null;
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An admin API call with the bootstrap key (or `key`). */
  async admin(method, path, body, key = BOOTSTRAP_KEY) {
    const headers = { authorization: `Bearer ${key}` };
    let payload;
    if (typeof body === "string") {
      headers["content-type"] = "application/yaml";
      payload = body;
    } else if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(this.origin + path, { method, headers, body: payload });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** Creates a tenant, publishes and activates each flow (YAML text), returns nothing. */
  async tenant(id, { flows = [], entry = "main", origins = [] } = {}) {
    const created = await this.admin("POST", "/v1/admin/tenants", {
      id, name: id, entry_flow: entry, allowed_origins: origins,
    });
    if (created.status !== 201) throw new Error(`create tenant ${id}: ${JSON.stringify(created.body)}`);
    for (const yaml of flows) {
      const flowId = /^id:\s*(\S+)/m.exec(yaml)[1];
      const saved = await this.admin("PUT", `/v1/admin/tenants/${id}/flows/${flowId}`, yaml);
      if (!saved.body?.valid) throw new Error(`flow ${flowId}: ${JSON.stringify(saved.body)}`);
      const published = await this.admin("POST", `/v1/admin/tenants/${id}/flows/${flowId}/publish`, { activate: true });
      if (published.status >= 300) throw new Error(`publish ${flowId}: ${JSON.stringify(published.body)}`);
    }
  }

  /** The stored transcript of a conversation (admin API). */
  async transcript(tenant, conversationId) {
    const reply = await this.admin("GET", `/v1/admin/tenants/${tenant}/conversations/${conversationId}`);
    if (reply.status !== 200) throw new Error(`transcript: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.messages;
  }
}

export function demoFlow() {
  return readFileSync(join(ROOT, "flows", "demo.yaml"), "utf8");
}

/**
 * A host page server on its own port (its own origin). `GET /?…` answers a page that
 * embeds the widget from `server`; query parameters become `data-*` attributes, except
 * `css` (extra host CSS), `csp=strict` (a strict Content-Security-Policy header) and
 * `nowidget` (the page without the widget). A `target`
 * (`#id`) also adds that element, 420×560, for `data-mode="inline"`.
 */
export async function hostPages(getServer) {
  const http = createServer((req, res) => {
    const url = new URL(req.url, "http://host");
    if (url.pathname !== "/") {
      res.writeHead(404).end();
      return;
    }
    const params = Object.fromEntries(url.searchParams);
    const css = params.css === "hostile"
      ? "* { all: unset !important; } div { display: none !important; }"
      : params.css || "";
    const attrs = Object.entries(params)
      .filter(([k]) => k !== "css" && k !== "nowidget" && k !== "csp")
      .map(([k, v]) => ` data-${k}="${v.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}"`)
      .join("");
    const tag = params.nowidget ? "" : `<script src="${getServer().origin}/widget.js"${attrs} async></script>`;
    const headers = { "content-type": "text/html; charset=utf-8" };
    if (params.csp === "strict") {
      // What a locked-down site sends: the widget's script and socket, and nothing inline.
      const server = new URL(getServer().origin);
      headers["content-security-policy"] = `default-src 'none'; script-src ${server.origin}; ` +
        `connect-src ws://${server.host}; style-src 'self'; img-src 'none'`;
    }
    res.writeHead(200, headers);
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Host page</title>
<style>
  body { font: 16px/1.5 Georgia, serif; color: rgb(51, 51, 51); margin: 40px; }
  p.host { color: rgb(200, 0, 0); font-size: 18px; }
  button.host { background: rgb(0, 128, 0); border-radius: 0; padding: 3px; font: 13px monospace; }
  ${css}
</style></head>
<body><main><h1>A customer's page</h1><p class="host">Host content.</p>
<div class="host">A div of the host.</div><button class="host" type="button">Host button</button>
${params.target ? `<section id="${params.target.slice(1)}" style="width: 420px; height: 560px; border: 1px solid #ccc;"></section>` : ""}</main>
${tag}</body></html>`);
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { origin: `http://127.0.0.1:${http.address().port}`, close: () => new Promise((r) => http.close(r)) };
}

/**
 * Debian's Chromium through playwright-core, headless. `launch()` starts Chromium on a
 * fresh temporary profile (user-data dir) that it deletes on close, and every context
 * is a fresh, isolated storage partition on top of it.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/**
 * A fresh browser context (its own storage). With WIDGET_FROM_DISK=1 the context serves
 * static/widget.js from the working tree instead of the binary's copy: a shortcut while
 * editing the widget (no rebuild); the suite proper always runs without it.
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext(options);
  if (process.env.WIDGET_FROM_DISK === "1") {
    await context.route(/\/widget\.js(\?|$)/, (route) =>
      route.fulfill({ path: join(ROOT, "static", "widget.js"), contentType: "text/javascript; charset=utf-8" }));
  }
  return context;
}

/** Helpers that read the widget through its open shadow root. */
export const widget = {
  /** Texts of the message rows, in order: [{role, text, pending}]. */
  rows: (page) =>
    page.evaluate(() => {
      const root = document.querySelector("switchboard-widget")?.shadowRoot;
      if (!root) return [];
      return [...root.querySelectorAll(".log .row")].map((row) => {
        const bubble = row.querySelector(".bubble, .sys");
        const sr = bubble?.querySelector(".sr")?.textContent || "";
        return {
          role: ["user", "bot", "agent"].find((r) => row.classList.contains(r)) || "system",
          text: (bubble?.textContent || "").slice(sr.length).trim(),
          pending: row.classList.contains("pending"),
          failed: row.classList.contains("failed"),
          streaming: !!row.querySelector(".caret"),
        };
      });
    }),
  /** Waits for a bot (or agent/system) row containing `needle`. */
  async botSays(page, needle, ms = 20000) {
    return until(async () => (await widget.rows(page)).some((r) => r.role !== "user" && !r.streaming && r.text.includes(needle)), ms, `bot says "${needle}"`);
  },
  /** Types `text` in the composer and presses Enter. */
  async say(page, text) {
    const input = page.locator("switchboard-widget textarea");
    await input.fill(text);
    await input.press("Enter");
  },
  storage: (page) =>
    page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith("switchboard:v1:"));
      return key ? JSON.parse(localStorage.getItem(key)) : null;
    }),
};
