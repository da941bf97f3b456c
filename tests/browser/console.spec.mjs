// The admin console (/console) in a real browser (Debian's Chromium through
// playwright-core) against a real Switchboard process: sign-in, live diagnostics, the
// graph, the test chat, publish/activate/roll back, a concurrent edit, a viewer's view,
// transcripts, and flow/transcript text that must stay inert. Run by
// scripts/browser-tests.sh (which `.ci/run` calls after `cargo test`).
//
// The tests run in order on one server; the transcripts test reads the conversation
// that the setup chats through the widget.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Server, ROOT, BOOTSTRAP_KEY, AXE_PATH, hostPages, launchBrowser, newContext, widget, until, demoFlow } from "./harness.mjs";

const XSS_FLOW = `# <script>window.__pwned = "comment"</script>
id: xss
description: "<img src=x onerror=\\"window.__pwned='description'\\">"
start: hello
states:
  hello:
    say: "<script>window.__pwned = 'say'</script><b>bold?</b>"
    next: bye
  orphan:
    say: "<img src=x onerror=\\"window.__pwned='orphan'\\">"
    next: bye
  bye:
    end: "</title><svg onload=\\"window.__pwned='end'\\">"
`;

let server, host, browser, keys;
const DEMO = demoFlow();
/** 1-based line of the first line of demo.yaml that equals `text` (trimmed). */
const lineOf = (text, source = DEMO) => source.split("\n").findIndex((l) => l.trim() === text) + 1;

before(async () => {
  server = await new Server().start();
  host = await hostPages(() => server);
  await server.tenant("acme", { flows: [DEMO, XSS_FLOW], entry: "demo" });
  keys = {};
  for (const role of ["owner", "editor", "viewer"]) {
    const created = await server.admin("POST", "/v1/admin/tenants/acme/keys", { name: `${role} (browser tests)`, role });
    assert.equal(created.status, 201);
    keys[role] = created.body.key;
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await host?.close();
  await server?.dispose();
});

/** A fresh context with the console open and signed in with `key`. */
async function signedIn(key, options = {}) {
  const context = await newContext(browser, options);
  if (process.env.CONSOLE_FROM_DISK === "1") {
    // Shortcut while editing the console: serve static/console/ from the working tree.
    await context.route(/\/console\/[a-z]+\.(js|css)$/, (route) => {
      const name = new URL(route.request().url()).pathname.split("/").pop();
      route.fulfill({ path: join(ROOT, "static", "console", name),
        contentType: name.endsWith(".css") ? "text/css" : "text/javascript" });
    });
  }
  const page = await context.newPage();
  page.errors = [];
  page.cspViolations = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content.Security.Policy/i.test(m.text())) page.cspViolations.push(m.text());
  });
  await page.goto(`${server.origin}/console`);
  await page.locator("#key").fill(key);
  await page.locator("#key").press("Enter");
  await page.locator("#flow-list, .empty").first().waitFor();
  return { context, page };
}

async function openFlow(page, id) {
  await page.locator(`#flow-list a:text-is("${id}")`).click();
  await page.locator("#editor .cm-content").waitFor();
  await page.locator("#problem-summary").waitFor();
}

/** The line number (1-based) shown in the gutter beside `element`. */
async function gutterLineOf(page, locator) {
  return locator.evaluate((el) => {
    const top = el.closest(".cm-line").getBoundingClientRect().top;
    const numbers = [...document.querySelectorAll(".cm-lineNumbers .cm-gutterElement")];
    const match = numbers.find((n) => n.textContent && Math.abs(n.getBoundingClientRect().top - top) < 3);
    return match ? Number(match.textContent) : null;
  });
}
/** The line number of the cursor (the active line's gutter). */
const cursorLine = (page) => page.locator(".cm-lineNumbers .cm-activeLineGutter").textContent().then(Number);

/** Puts the cursor at the end of 1-based `line` with the keyboard. */
async function endOfLine(page, line) {
  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("Control+Home");
  for (let i = 1; i < line; i++) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("End");
}

/** Replaces the whole editor text (select all, then the browser's insertText). Chromium's
 *  editing engine may wrap such an insertion in a styled element, which the console's
 *  CSP blocks and reports (CodeMirror reads the text regardless); so the tests that
 *  assert "no CSP violation" do not use this. */
async function replaceText(page, text) {
  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("Control+a");
  await page.keyboard.insertText(text);
}

test("sign in: the key stays in sessionStorage, never in the URL or localStorage; a bad key is refused", async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.origin}/console`);
  await page.locator("#key").fill("sbk_wrong");
  await page.locator("#key").press("Enter");
  await page.locator(".signin [role=alert]:not([hidden])").waitFor();
  assert.match(await page.locator(".signin [role=alert]").textContent(), /not valid/);
  await context.close();

  const { context: ctx, page: p } = await signedIn(keys.owner);
  assert.equal(await p.evaluate(() => sessionStorage.getItem("switchboard.console.key")), keys.owner);
  assert.equal(await p.evaluate(() => localStorage.length), 0);
  assert.ok(!p.url().includes(keys.owner));
  assert.equal(await p.locator("#role").textContent(), "owner");
  assert.equal(await p.locator("#tenant-name").textContent(), "acme");
  // The list shows each flow's active version and draft state.
  const demoRow = p.locator("#flow-list tr", { has: p.locator('a:text-is("demo")') });
  assert.match(await demoRow.textContent(), /v1/);
  // A reload keeps the session (same tab); signing out forgets the key.
  await p.reload();
  await p.locator("#flow-list").waitFor();
  await p.locator("button", { hasText: "Sign out" }).click();
  await p.locator("#key").waitFor();
  assert.equal(await p.evaluate(() => sessionStorage.getItem("switchboard.console.key")), null);
  assert.deepEqual(p.errors, []);
  assert.deepEqual(p.cspViolations, []);
  await ctx.close();
});

test("the operator's key can switch tenants", async () => {
  await server.tenant("globex", { flows: [DEMO.replace("id: demo", "id: other")], entry: "other" });
  const { context, page } = await signedIn(BOOTSTRAP_KEY);
  assert.equal(await page.locator("#role").textContent(), "operator");
  await page.locator("#tenant-switch").selectOption("globex");
  await page.locator('#flow-list a:text-is("other")').waitFor();
  await page.locator("#tenant-switch").selectOption("acme");
  await page.locator('#flow-list a:text-is("demo")').waitFor();
  await context.close();
});

test("live diagnostics: a typed error is marked at its line within a second, and fixing it clears it", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  assert.equal(await page.locator("#problem-summary").textContent(), "No problems: the flow compiles.");
  const target = lineOf("next: ask_name");
  assert.ok(target > 1);
  await endOfLine(page, target);
  const typed = Date.now();
  await page.keyboard.type("x");
  const marker = page.locator(".cm-lintRange-error").first();
  await marker.waitFor({ timeout: 5000 });
  const elapsed = Date.now() - typed;
  assert.ok(elapsed < 1000, `the marker appeared ${elapsed} ms after typing`);
  assert.equal(await gutterLineOf(page, marker), target);
  await page.locator(".cm-gutter-lint .cm-lint-marker-error").first().waitFor();
  // The Problems list says it as the CLI does, with a did-you-mean.
  const problem = await page.locator("#problems li").first().textContent();
  assert.match(problem, /error\[unknown-state\]/);
  assert.match(problem, new RegExp(`demo\\.yaml:${target}:`));
  assert.match(problem, /did you mean `ask_name`/);
  // Fix it: the marker goes.
  await page.keyboard.press("Backspace");
  await page.locator(".cm-lintRange-error").waitFor({ state: "detached", timeout: 5000 });
  assert.equal(await page.locator("#problem-summary").textContent(), "No problems: the flow compiles.");
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("completion: the flow schema's keys by indentation, and the flow's own state names", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  await endOfLine(page, lineOf("next: ask_name"));
  for (let i = 0; i < "name".length; i++) await page.keyboard.press("Backspace");
  await page.keyboard.type("t");
  const popup = page.locator(".cm-tooltip-autocomplete");
  await popup.waitFor();
  assert.ok((await popup.locator("li").allTextContents()).some((t) => t.startsWith("ask_topic")));
  await page.keyboard.press("Escape");
  await page.keyboard.press("Enter");
  await page.keyboard.type("col");
  await popup.waitFor();
  const offered = await popup.locator("li").allTextContents();
  assert.ok(offered.some((t) => t.startsWith("collect")), offered.join(", "));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("graph: states with labelled transitions; a click jumps the editor to the state's line; unreachable states stand out", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  await page.locator("#tab-graph").click();
  await page.locator('#graph [data-state="answer"]').waitFor();
  const states = await page.locator("#graph [data-state]").evaluateAll((els) => els.map((e) => e.dataset.state));
  assert.deepEqual(states.sort(), ["answer", "ask_name", "ask_question", "ask_topic", "billing_info", "goodbye", "greet"]);
  const labels = await page.locator("#graph .edge-label text").allTextContents();
  assert.ok(labels.includes('if topic == "billing"'), labels.join(" | "));
  assert.ok(labels.includes("else") && labels.includes("on_fail"), labels.join(" | "));
  for (const state of ["answer", "goodbye", "ask_topic"]) {
    await page.locator(`#graph [data-state="${state}"]`).click();
    await until(async () => (await cursorLine(page)) === lineOf(`${state}:`), 3000, `the cursor on ${state}`);
  }
  // Keyboard: a focused state and Enter.
  await page.locator('#graph [data-state="greet"]').focus();
  await page.keyboard.press("Enter");
  await until(async () => (await cursorLine(page)) === lineOf("greet:"), 3000, "the cursor on greet");
  await page.locator('nav a:text-is("Flows")').click();

  await openFlow(page, "xss");
  await page.locator("#tab-graph").click();
  const orphan = page.locator('#graph [data-state="orphan"]');
  await orphan.waitFor();
  assert.match(await orphan.getAttribute("class"), /unreachable/);
  assert.doesNotMatch(await page.locator('#graph [data-state="hello"]').getAttribute("class"), /unreachable/);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("test chat on the draft, then publish with the diff shown, activate and roll back", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  const draft = DEMO.replace("Hi! I'm the Switchboard demo assistant.", "Hi from the draft!");
  await replaceText(page, draft);
  await page.locator("#tab-chat").click();
  assert.match(await page.locator("#preview-note").textContent(), /Nothing is stored/);
  await until(async () => (await page.locator("#chat-log").textContent()).includes("Hi from the draft!"), 5000, "the draft's greeting");
  await page.locator("#chat-input").fill("Ada");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-log").textContent()).includes("Nice to meet you, Ada!"), 5000, "the next prompt");
  assert.equal(await page.locator("#chat-status").textContent(), "active");
  assert.equal(await page.locator("#chat-state").textContent(), "ask_topic");
  assert.match(await page.locator("#chat-slots").textContent(), /"name": "Ada"/);
  // A question goes to the model: the inspector lists the call with its prompt, tokens and time.
  await page.locator("#chat-input").fill("technical");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-log").textContent()).includes("What would you like to know?"), 5000, "the question prompt");
  await page.locator("#chat-input").fill("How do I reset my password?");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-calls li").count()) === 1, 5000, "the model call in the inspector");
  const call = page.locator("#chat-calls li").first();
  assert.match(await call.locator("summary").textContent(), /turn 3 answer · model .* · \d+ → \d+ tokens · \d+ ms/);
  await call.locator("summary").click();
  assert.match(await call.locator("pre").first().textContent(), /user: How do I reset my password\?/);
  assert.equal(await page.locator("#chat-state").textContent(), "ask_question");
  // The preview stored nothing.
  const conversations = await server.admin("GET", "/v1/admin/tenants/acme/conversations");
  assert.ok(conversations.body.every((c) => c.flow_version === 1), "no preview conversation stored");

  // Publish without activating: the dialog shows the diff against the active version.
  await page.locator("#publish").click();
  await page.locator("#diff-dialog").waitFor();
  const removed = await page.locator("#diff .del").allTextContents();
  const added = await page.locator("#diff .add").allTextContents();
  assert.deepEqual(removed, ['    say: "Hi! I\'m the Switchboard demo assistant."']);
  assert.deepEqual(added, ['    say: "Hi from the draft!"']);
  await page.locator("#publish-only").click();
  await page.locator("#diff-dialog").waitFor({ state: "detached" });
  let flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.latest_version, 2);
  assert.equal(flow.body.active_version, 1);
  assert.equal(flow.body.draft.source, draft, "publishing saved the editor's text first");

  // Activate v2 from the history, which shows author, time and hash.
  await page.locator("#tab-versions").click();
  const v2 = page.locator('#versions tr[data-version="2"]');
  await v2.waitFor();
  const row = await v2.textContent();
  assert.match(row, /key:/);
  const versions = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo/versions");
  assert.ok(row.includes(versions.body.find((v) => v.version === 2).content_hash.slice(0, 12)));
  await v2.locator("button.activate").click();
  await until(async () => (await page.locator("#active-badge").textContent()) === "active v2", 5000, "v2 active");
  flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.active_version, 2);

  // Roll back: v1 again.
  await page.locator("#rollback").click();
  await until(async () => (await page.locator("#active-badge").textContent()) === "active v1", 5000, "v1 active");
  flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.active_version, 1);

  // An error blocks publishing; the dialog says why and offers no publish button.
  await endOfLine(page, lineOf("next: ask_name", draft));
  await page.keyboard.type("x");
  await page.locator(".cm-lintRange-error").first().waitFor();
  await page.locator("#publish").click();
  await page.locator("#diff-dialog").waitFor();
  assert.match(await page.locator("#publish-message").textContent(), /1 error must be fixed/);
  assert.equal(await page.locator("#publish-activate, #publish-only").count(), 0);
  await page.locator("#diff-dialog button", { hasText: "Close" }).click();
  await page.keyboard.press("Backspace");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the test chat lets a question's timeout pass, and the flow goes to on_timeout", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  const withTimeout = DEMO.replace("      on_fail: goodbye\n", "      on_fail: goodbye\n      timeout: 10m\n      on_timeout: greet\n");
  assert.notEqual(withTimeout, DEMO);
  await replaceText(page, withTimeout);
  await page.locator("#tab-chat").click();
  const button = page.locator("#chat-timeout");
  await until(async () => await button.isVisible(), 5000, "the timeout button");
  assert.equal(await button.textContent(), "Let the 10m timeout pass");
  await button.click();
  const greeting = "Hi! I'm the Switchboard demo assistant.";
  await until(async () => (await page.locator("#chat-log").textContent()).split(greeting).length === 3, 5000, "greeted again");
  assert.match(await page.locator("#chat-log").textContent(), /no answer to `ask_name` within its timeout/);
  await page.locator("#chat-restart").click();
  await until(async () => (await page.locator("#chat-log").textContent()).split(greeting).length === 2, 5000, "restarted");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a concurrent edit from a second browser context is refused and shown, never silently lost", async () => {
  const a = await signedIn(keys.editor);
  const b = await signedIn(keys.owner);
  await openFlow(a.page, "demo");
  await openFlow(b.page, "demo");
  const base = await a.page.evaluate(() => document.querySelector("#editor .cm-content").innerText);
  assert.ok(base.includes("id: demo"));

  const textA = DEMO.replace("What's your name?", "Your name, please (A)?");
  await replaceText(a.page, textA);
  await a.page.keyboard.press("Control+s");
  await until(async () => (await a.page.locator("#save-status").textContent()) === "Saved", 5000, "A saved");

  const textB = DEMO.replace("What's your name?", "Who are you (B)?");
  await replaceText(b.page, textB);
  await b.page.locator("#save").click();
  const conflict = b.page.locator("#conflict-banner");
  await conflict.waitFor({ timeout: 5000 });
  assert.match(await conflict.textContent(), /someone else saved this flow/);
  assert.equal(await b.page.locator("#save-status").textContent(), "Not saved");
  let flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.draft.source, textA, "A's save survived B's attempt");
  // B still has B's text, and can look at the differences before choosing.
  assert.ok((await b.page.locator("#editor .cm-content").innerText()).includes("Who are you (B)?"));
  await b.page.locator("#conflict-diff").click();
  await b.page.locator("#diff-dialog").waitFor();
  assert.ok((await b.page.locator("#diff .add").allTextContents()).some((l) => l.includes("Who are you (B)?")));
  assert.ok((await b.page.locator("#diff .del").allTextContents()).some((l) => l.includes("Your name, please (A)?")));
  await b.page.locator("#diff-dialog button", { hasText: "Close" }).click();
  // Choosing to overwrite is explicit.
  await b.page.locator("#conflict-overwrite").click();
  await until(async () => (await b.page.locator("#save-status").textContent()) === "Saved", 5000, "B saved");
  flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.draft.source, textB);
  // Put the draft back for the tests that follow.
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/demo", DEMO);
  await a.context.close();
  await b.context.close();
});

test("a viewer key sees no write buttons, and a write attempted anyway is refused", async () => {
  const { context, page } = await signedIn(keys.viewer);
  assert.equal(await page.locator("#role").textContent(), "viewer");
  const writeControls = () => page.locator("[data-write]").count();
  assert.equal(await writeControls(), 0, "flow list");
  assert.equal(await page.locator("button", { hasText: "New flow" }).count(), 0);
  await openFlow(page, "demo");
  assert.equal(await writeControls(), 0, "flow editor");
  assert.equal(await page.locator("#save, #publish").count(), 0);
  assert.equal(await page.locator("#editor .cm-content").getAttribute("contenteditable"), "false");
  await page.locator("#tab-versions").click();
  await page.locator("#versions").waitFor();
  assert.equal(await writeControls(), 0, "versions");
  assert.equal(await page.locator("#rollback, button.activate").count(), 0);
  // Owner-only sections are not offered.
  assert.equal(await page.locator('nav a:text-is("API keys"), nav a:text-is("Audit log")').count(), 0);
  for (const [section, title] of [["channels", "Channel accounts"], ["adaptors", "Adaptors"], ["tenant", "Tenant"]]) {
    await page.goto(`${server.origin}/console#/settings/${section}`);
    await page.locator("main h1", { hasText: title }).waitFor();
    assert.equal(await writeControls(), 0, section);
  }
  // A write attempted anyway (the console's own key, straight at the API) is refused.
  const forced = await page.evaluate(async () => {
    const key = sessionStorage.getItem("switchboard.console.key");
    const response = await fetch("/v1/admin/tenants/acme/flows/demo", {
      method: "PUT", headers: { authorization: `Bearer ${key}`, "content-type": "application/yaml" }, body: "id: demo\n",
    });
    return { status: response.status, body: await response.json() };
  });
  assert.equal(forced.status, 403);
  assert.equal(forced.body.error.code, "forbidden");
  const flow = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo");
  assert.equal(flow.body.draft.source, DEMO);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("transcripts: filter, search and open one; every role shown; replay it", async () => {
  // A real conversation through the widget, with a hostile-looking message.
  const visitor = await newContext(browser);
  const chat = await visitor.newPage();
  await chat.goto(`${host.origin}/?${new URLSearchParams({ tenant: "acme" })}`);
  await chat.locator("switchboard-widget .launcher").click();
  await widget.botSays(chat, "What's your name?");
  await widget.say(chat, "<script>window.__pwned='transcript'</script>Zoë");
  await widget.botSays(chat, "Nice to meet you");
  await visitor.close();

  const { context, page } = await signedIn(keys.viewer);
  await page.locator('nav a:text-is("Transcripts")').click();
  const rows = page.locator("#transcripts tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  await page.locator("#filter-status").selectOption("ended");
  await page.locator("#transcript-results .empty").waitFor();
  await page.locator("#filter-status").selectOption("active");
  await rows.first().waitFor();
  await page.locator("#filter-channel").selectOption("webchat");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  // Version, dates and text filter on the server.
  const today = new Date();
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  await page.locator("#filter-version").fill("9");
  await page.locator("#filter-version").press("Enter");
  await page.locator("#filter-version").blur();
  await page.locator("#transcript-results .empty").waitFor();
  await page.locator("#filter-version").fill("1");
  await page.locator("#filter-version").blur();
  await rows.first().waitFor();
  await page.locator("#filter-since").fill(day(new Date(today.getTime() + 86400000)));
  await page.locator("#transcript-results .empty").waitFor();
  await page.locator("#filter-since").fill(day(today));
  await rows.first().waitFor();
  await page.locator("#filter-until").fill(day(new Date(today.getTime() - 86400000)));
  await page.locator("#transcript-results .empty").waitFor();
  await page.locator("#filter-until").fill(day(today));
  await rows.first().waitFor();
  assert.match(page.url(), /until=/);
  await page.locator("#filter-q").fill("no such words");
  await page.locator("#transcript-results .empty").waitFor();
  await page.locator("#filter-q").fill("zoë");
  await rows.first().waitFor();
  assert.match(page.url(), /status=active/);
  await rows.first().click();
  const transcript = page.locator("#transcript");
  await transcript.waitFor();
  const messages = await page.locator("#transcript .msg").evaluateAll((els) => els.map((e) => [e.className, e.lastChild.textContent]));
  assert.deepEqual(messages.slice(0, 4), [
    ["msg bot", "Hi! I'm the Switchboard demo assistant."],
    ["msg bot", "What's your name?"],
    ["msg user", "<script>window.__pwned='transcript'</script>Zoë"],
    ["msg bot", messages[3][1]],
  ]);
  assert.match(messages[3][1], /Nice to meet you/);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator("#transcript script").count(), 0);

  // Replay through the simulator: the same version gives the same bot messages; a
  // changed draft does not.
  await page.locator("#replay").click();
  await until(async () => /matches/.test(await page.locator("#replay-verdict").textContent()), 10000, "a matching replay");
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/demo", DEMO.replace("What's your name?", "Your name?"));
  await page.locator("#replay-target").selectOption("draft");
  await page.locator("#replay").click();
  await until(async () => /differs: 1 of/.test(await page.locator("#replay-verdict").textContent()), 10000, "a differing replay");
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/demo", DEMO);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a transcript saved as a test case runs from the flow's Tests tab, and catches a changed greeting", async () => {
  const { context, page } = await signedIn(keys.editor);
  await page.locator('nav a:text-is("Transcripts")').click();
  await page.locator("#transcripts tbody tr").first().click();
  await page.locator("#transcript").waitFor();
  page.once("dialog", (d) => d.accept("greets by name"));
  await page.locator("#save-test-case").click();
  await page.locator(".toast", { hasText: "greets by name" }).waitFor();
  const saved = await server.admin("GET", "/v1/admin/tenants/acme/flows/demo/test-cases");
  assert.equal(saved.body.length, 1);
  assert.equal(saved.body[0].name, "greets by name");

  await page.locator('nav a:text-is("Flows")').click();
  await openFlow(page, "demo");
  await replaceText(page, DEMO); // the version the conversation ran (earlier tests left another draft)
  await page.locator("#tab-tests").click();
  await page.locator('#test-cases tr[data-name="greets by name"]').waitFor();
  await page.locator("#run-tests").click();
  await until(async () => /pass/.test(await page.locator("#test-verdict").textContent().catch(() => "")), 5000, "the verdict");
  assert.match(await page.locator("#test-verdict").textContent(), /All 1 test cases pass/);
  // The editor's text, unsaved, is what runs: a changed greeting fails, and says where.
  await replaceText(page, DEMO.replace("Hi! I'm the Switchboard demo assistant.", "Hello from the edit!"));
  await page.locator("#tab-tests").click();
  await page.locator("#run-tests").click();
  await until(async () => /fail/.test(await page.locator("#test-verdict").textContent().catch(() => "")), 5000, "the failure");
  const failed = page.locator('.test-results li.failed[data-name="greets by name"]');
  assert.match(await failed.textContent(), /Bot message 1, expected: Hi! I'm the Switchboard demo assistant\.got: Hello from the edit!/);
  page.once("dialog", (d) => d.accept());
  await page.locator('#test-cases tr[data-name="greets by name"] button', { hasText: "Delete" }).click();
  await page.locator("#panel-tests .empty").waitFor();
  assert.equal((await server.admin("GET", "/v1/admin/tenants/acme/flows/demo/test-cases")).body.length, 0);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the live widget on the draft runs a preview in the real runtime, stored apart as a preview", async () => {
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  // The editor's text, not even saved, is what the preview runs.
  await replaceText(page, DEMO.replace("Hi! I'm the Switchboard demo assistant.", "Hello from the preview!"));
  await page.locator("#tab-chat").click();
  await page.locator("#open-preview").click();
  await page.locator("#live-widget switchboard-widget").waitFor();
  assert.match(await page.locator("#live-mode").textContent(), /Preview of the editor's text \(preview version -\d+\)/);
  await widget.botSays(page, "Hello from the preview!");
  await widget.say(page, "Mia");
  await widget.botSays(page, "Nice to meet you, Mia!");
  // Stored as a preview: not among the conversations, only among the previews.
  const real = await server.admin("GET", "/v1/admin/tenants/acme/conversations?limit=200");
  assert.ok(real.body.every((c) => !c.preview && c.flow_version > 0), "previews stay out of the default list");
  const previews = await server.admin("GET", "/v1/admin/tenants/acme/conversations?preview=true");
  assert.equal(previews.body.length, 1);
  assert.ok(previews.body[0].preview && previews.body[0].flow_version < 0);
  // The transcripts page shows it under Previews (leaving the unsaved edit behind).
  page.once("dialog", (d) => d.accept());
  await page.locator('nav a:text-is("Transcripts")').click();
  await page.locator("#filter-preview").selectOption("previews");
  await page.locator(`#transcripts tr[data-id="${previews.body[0].id}"]`).waitFor();
  // (No CSP assertion here: pasting a whole document into CodeMirror makes it try an
  // inline style, which the page's CSP blocks; the live widget test checks the widget.)
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the live widget beside the test chat runs the active version, inline, under the console's CSP", async () => {
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/demo", DEMO.replace("Hi! I'm the Switchboard demo assistant.", "Only in the draft."));
  const { context, page } = await signedIn(keys.editor);
  await openFlow(page, "demo");
  await page.locator("#tab-chat").click();
  await until(async () => (await page.locator("#chat-log").textContent()).includes("Only in the draft."), 5000, "the simulator on the draft");
  await page.locator("#open-live").click();
  await page.locator("#live-widget switchboard-widget").waitFor();
  await widget.botSays(page, "Hi! I'm the Switchboard demo assistant.");
  assert.ok(!(await widget.rows(page)).some((r) => r.text.includes("Only in the draft.")));
  // The widget survives switching tabs (it loads once per page).
  await page.locator("#tab-graph").click();
  await page.locator("#tab-chat").click();
  await widget.say(page, "Mia");
  await widget.botSays(page, "Nice to meet you, Mia!");
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/demo", DEMO);
});

test("flow text of <script> renders inert: editor, problems, graph, test chat, diff", async () => {
  const { context, page } = await signedIn(keys.owner);
  await openFlow(page, "xss");
  const text = await page.locator("#editor .cm-content").innerText();
  assert.ok(text.includes("<script>window.__pwned = 'say'</script>"));
  await page.locator("#tab-problems").click();
  assert.match(await page.locator("#problems").textContent(), /orphan/);
  await page.locator("#tab-graph").click();
  await page.locator('#graph [data-state="hello"]').waitFor();
  await page.locator("#tab-chat").click();
  await until(async () => (await page.locator("#chat-log").textContent()).includes("<script>window.__pwned = 'say'</script><b>bold?</b>"), 5000, "the literal text");
  await endOfLine(page, 7);
  await page.keyboard.type(" # <script>window.__pwned='typed'</script>");
  await page.locator("#publish").click();
  await page.locator("#diff-dialog").waitFor();
  assert.ok((await page.locator("#diff .add").allTextContents()).some((l) => l.includes("<script>window.__pwned='typed'</script>")));
  await page.locator("#diff-dialog button", { hasText: "Cancel" }).click();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  // The only scripts are the console's own.
  assert.deepEqual(await page.evaluate(() => [...document.scripts].map((s) => new URL(s.src).pathname)),
    ["editor", "core", "diff", "graph", "flows", "transcripts", "settings", "inbox", "analytics", "knowledge", "console"].map((n) => `/console/${n}.js`));
  assert.equal(await page.locator("main b, main img, main svg:not(#graph)").count(), 0);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("settings: a key is shown once and can be revoked; adaptor secrets are write-only; the audit log shows both", async () => {
  const { context, page } = await signedIn(keys.owner);
  await page.locator('nav a:text-is("API keys")').click();
  await page.locator("#key-name").fill("Temporary");
  await page.locator("#key-role").selectOption("viewer");
  await page.locator("#key-name").press("Enter");
  const shown = await page.locator("#new-key-value").textContent();
  const me = await server.admin("GET", "/v1/admin/whoami", undefined, shown);
  assert.equal(me.status, 200);
  assert.equal(me.body.role, "viewer");
  await page.locator("#keys tr", { hasText: "Temporary" }).waitFor();
  const listed = await page.locator("#keys").textContent();
  assert.ok(listed.includes("Temporary") && !listed.includes(shown), "the list shows a prefix, never the key");
  // Shown once: after a reload it is gone from the page.
  await page.reload();
  await page.locator("#keys table").waitFor();
  assert.ok(!(await page.content()).includes(shown));
  page.once("dialog", (d) => d.accept());
  await page.locator("#keys tr", { hasText: "Temporary" }).locator("button", { hasText: "Revoke" }).click();
  await page.locator("#keys tr", { hasText: "Temporary" }).locator(".badge", { hasText: "revoked" }).waitFor();
  assert.equal((await server.admin("GET", "/v1/admin/whoami", undefined, shown)).status, 401);

  await page.locator('nav a:text-is("Adaptors")').click();
  const form = page.locator("form", { hasText: "Add an adaptor" });
  await form.locator("input[type=text]").fill("orders");
  await form.locator("input[type=password]").fill("s3cret-value-never-shown");
  await form.locator("button[type=submit]").click();
  await page.locator("#adaptors tr", { hasText: "orders" }).locator(".badge", { hasText: "set" }).waitFor();
  assert.ok(!(await page.content()).includes("s3cret-value-never-shown"));
  const adaptor = await server.admin("GET", "/v1/admin/tenants/acme/adaptors/orders");
  assert.equal(adaptor.body.has_secret, true);
  assert.ok(!JSON.stringify(adaptor.body).includes("s3cret"));

  await page.locator('nav a:text-is("Audit log")').click();
  const audit = await page.locator("#audit").textContent();
  assert.match(audit, /key\.create/);
  assert.match(audit, /key\.revoke/);
  assert.match(audit, /adaptor/);
  assert.ok(!audit.includes("s3cret") && !audit.includes(shown));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("tenant settings: an owner edits the name, origins, model and retention; a viewer only reads them", async () => {
  const { context, page } = await signedIn(keys.owner);
  await page.locator('nav a:text-is("Tenant")').click();
  await page.locator("#tenant-form").waitFor();
  await page.locator("#tenant-display-name").fill("Acme Support");
  await page.locator("#tenant-origins").fill(`${host.origin}\nhttps://shop.example.com`);
  await page.locator("#tenant-model").fill("gpt-4o-mini");
  await page.locator("#tenant-retention").fill("90");
  await page.locator("#tenant-save").click();
  await until(async () => (await page.locator("#tenant-settings").textContent()).includes("Acme Support"), 5000, "the saved name");
  const tenant = (await server.admin("GET", "/v1/admin/tenants/acme")).body;
  assert.equal(tenant.name, "Acme Support");
  assert.deepEqual(tenant.allowed_origins, [host.origin, "https://shop.example.com"]);
  assert.equal(tenant.llm_model, "gpt-4o-mini");
  assert.equal((await server.admin("GET", "/v1/admin/tenants/acme/retention")).body.event_days, 90);
  assert.match(await page.locator("#tenant-settings").textContent(), /90 days/);
  // A bad origin is refused with the server's message, and nothing changes.
  await page.locator("#tenant-origins").fill("shop.example.com/path");
  await page.locator("#tenant-save").click();
  await page.locator(".toast.err", { hasText: "origin" }).waitFor();
  assert.deepEqual((await server.admin("GET", "/v1/admin/tenants/acme")).body.allowed_origins, [host.origin, "https://shop.example.com"]);
  // Back to how the other tests expect it.
  await page.locator("#tenant-origins").fill("");
  await page.locator("#tenant-model").fill("");
  await page.locator("#tenant-retention").fill("");
  await page.locator("#tenant-save").click();
  // The page reloads once both writes are done.
  await page.locator(".toast", { hasText: "Tenant settings saved." }).waitFor();
  const reset = (await server.admin("GET", "/v1/admin/tenants/acme")).body;
  assert.deepEqual([reset.allowed_origins, reset.llm_model], [[], null]);
  assert.equal((await server.admin("GET", "/v1/admin/tenants/acme/retention")).body.event_days, null);
  assert.deepEqual(page.errors, []);
  await context.close();

  const viewer = await signedIn(keys.viewer);
  await viewer.page.locator('nav a:text-is("Tenant")').click();
  await viewer.page.locator("#tenant-settings").waitFor();
  assert.equal(await viewer.page.locator("#tenant-form").count(), 0);
  await viewer.context.close();
});

test("a human agent's inbox: a handoff arrives live, is claimed, answered, noted privately and returned to the bot", async () => {
  const flow = `id: main
slots:
  name: { type: string }
start: ask
states:
  ask:
    collect: { slot: name, prompt: "Your name?" }
    next: human
  human:
    handoff: { queue: support, message: "Connecting you to a person." }
    next: ask
`;
  await server.tenant("help", { flows: [flow], entry: "main" });
  const created = await server.admin("POST", "/v1/admin/tenants/help/agents", { name: "Grace Hopper", queues: ["support"], capacity: 2 });
  assert.equal(created.status, 201);
  const { context, page } = await signedIn(created.body.token);
  await page.locator("#agent-name:text-is('Grace Hopper')").waitFor();
  // Away: nothing is assigned automatically, so the handoff waits for a claim.
  await page.locator("#presence").selectOption("away");

  const visitor = await newContext(browser);
  const chat = await visitor.newPage();
  await chat.goto(`${host.origin}/?${new URLSearchParams({ tenant: "help" })}`);
  await chat.locator("switchboard-widget .launcher").click();
  await widget.botSays(chat, "Your name?");
  await widget.say(chat, "Ada");
  await widget.botSays(chat, "Connecting you to a person.");

  // It arrives live in Unassigned, waiting.
  await until(async () => (await page.locator("#view-unassigned .badge").textContent()) === "1", 20000, "the handoff in the inbox");
  await page.locator("#inbox-list a").first().click();
  await page.locator("#slots").getByText("Ada").waitFor();
  await page.locator("#claim").click();
  await until(async () => (await page.locator("#view-mine .badge").textContent()) === "1", 20000, "claimed");
  await widget.botSays(chat, "Grace Hopper joined the conversation.");

  // A briefing from the model (the offline model here), metered like any call.
  await page.locator("#summarize").click();
  await until(async () => (await page.locator("#summary").textContent()).trim().length > 0, 20000, "the summary");
  // Typing shows both ways.
  await chat.locator("switchboard-widget textarea").fill("hel");
  await page.locator("#customer-typing").waitFor({ state: "visible" });
  await page.locator("#composer").fill("Hi");
  await until(() => chat.evaluate(() => !!document.querySelector("switchboard-widget").shadowRoot.querySelector(".log .typing")),
    20000, "the agent's typing in the widget");
  await chat.locator("switchboard-widget textarea").fill("");

  // The agent answers; the visitor sees it with the agent's name.
  await page.locator("#composer").fill("Hi Ada, Grace here.");
  await page.locator("#send").click();
  await widget.botSays(chat, "Hi Ada, Grace here.");
  const answered = (await widget.rows(chat)).find((r) => r.text.includes("Grace here"));
  assert.equal(answered.role, "agent");
  // A private note: in the agent's thread, never in the widget.
  await page.locator("#composer").fill("VIP customer, be nice");
  await page.locator("#add-note").click();
  await page.locator("#thread .msg.note").getByText("VIP customer").waitFor();
  // The visitor writes: it reaches the agent live.
  await widget.say(chat, "thanks!");
  await page.locator("#thread .msg.user").getByText("thanks!").waitFor();
  assert.ok(!(await widget.rows(chat)).some((r) => r.text.includes("VIP")), "a note reached the visitor");

  // (SCREENSHOTS=path keeps a picture of the inbox here, for docs/console.md.)
  if (process.env.SCREENSHOTS) await page.screenshot({ path: process.env.SCREENSHOTS });
  // Back to the bot at a named state: it asks again.
  await page.locator("#resolve-state").fill("ask");
  await page.locator("#resolve").click();
  await until(async () => (await widget.rows(chat)).filter((r) => r.role === "bot" && r.text.includes("Your name?")).length === 2,
    20000, "the bot asks again");
  await until(async () => (await page.locator("#view-mine .badge").textContent()) === "0", 20000, "it left the inbox");
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await visitor.close();
  await context.close();
});

test("axe-core finds no serious or critical violations on the main screens", async () => {
  // axe is injected by the test, so this one context bypasses the page's CSP.
  const { context, page } = await signedIn(keys.owner, { bypassCSP: true });
  await page.addScriptTag({ path: AXE_PATH });
  const check = async (what) => {
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, [], what);
  };
  await check("flow list");
  await openFlow(page, "demo");
  await check("flow editor");
  await page.locator("#tab-graph").click();
  await page.locator('#graph [data-state="greet"]').waitFor();
  await check("graph");
  await page.locator('nav a:text-is("Transcripts")').click();
  await page.locator("#transcript-results > *").first().waitFor();
  await check("transcripts");
  await page.locator('nav a:text-is("API keys")').click();
  await page.locator("#keys table").waitFor();
  await check("API keys");
  await context.close();
});

test("the page itself: strict CSP header, and it stays usable on a narrow screen", async () => {
  const response = await fetch(`${server.origin}/console`);
  const csp = response.headers.get("content-security-policy");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe/);
  const { context: narrow, page } = await signedIn(keys.owner);
  await page.setViewportSize({ width: 390, height: 800 });
  await openFlow(page, "demo");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scroll on a phone (${overflow}px)`);
  assert.ok(await page.locator("#save").isVisible());
  assert.ok(await page.locator("#tab-graph").isVisible());
  await narrow.close();
});

test("analytics: the figures, the chart, the states and the experiments render, under the CSP", async () => {
  const { context, page } = await signedIn(keys.viewer);
  await page.locator('nav a:text-is("Analytics")').click();
  await page.locator("#analytics-body .kpi").first().waitFor();
  const figures = await page.locator("#analytics-body .kpis").innerText();
  for (const label of ["Started", "Contained", "Handed off", "Abandoned", "Turn latency p50 / p95"]) {
    assert.ok(figures.includes(label), `${label} in ${figures}`);
  }
  assert.equal(await page.locator("#analytics-body svg.analytics-chart").count(), 1);
  await page.locator("#analytics-group").selectOption("channel");
  await page.locator("#analytics-body .kpi").first().waitFor();
  await page.locator("#analytics-experiments > *").first().waitFor();
  assert.ok(await page.locator("#analytics-csv").isVisible());
  // The graph asks for the same per-state figures and still draws.
  await page.locator('nav a:text-is("Flows")').click();
  await openFlow(page, "demo");
  await page.locator("#tab-graph").click();
  await page.locator('#graph [data-state="greet"]').waitFor();
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("knowledge: create a knowledge base, upload Markdown and PDF, search with scores and sources, remove a document", async () => {
  const { context, page } = await signedIn(keys.editor, { viewport: { width: 1360, height: 900 } });
  page.on("dialog", (dialog) => dialog.accept());
  await page.locator('nav a:text-is("Knowledge")').click();
  await page.locator("#kb-new-name").fill("help");
  await page.locator("#kb-new-name").press("Enter");
  await page.locator('#kb-list .kb-pick.current:has-text("help")').waitFor();
  await page.locator("#kb-file").setInputFiles([
    { name: "Returns.md", mimeType: "text/markdown",
      buffer: Buffer.from("# Returns\n\nYou can return any item within 30 days of delivery. The refund goes back to the card you paid with.\n\n## Shipping\n\nReturn shipping is free for members.\n") },
    { name: "policy.pdf", mimeType: "application/pdf", buffer: readFileSync(join(ROOT, "tests", "fixtures", "knowledge", "policy.pdf")) },
  ]);
  await page.locator('#kb-documents tr:has-text("policy")').waitFor();
  const rows = await page.locator("#kb-documents tbody tr").allInnerTexts();
  assert.equal(rows.length, 2, rows.join("\n"));
  assert.ok(rows.some((r) => r.includes("Returns") && r.includes("markdown") && r.includes("v1")), rows.join("\n"));
  assert.ok(rows.some((r) => r.includes("policy") && r.includes("pdf")), rows.join("\n"));
  assert.equal(await page.locator('#kb-documents tr:has-text("policy") td').nth(2).innerText(), "2", "two pages, two chunks");
  assert.ok((await page.locator("#kb-list").innerText()).includes("2 docs"));

  // A question: the best chunks with their similarity, score and source.
  await page.locator("#kb-query").fill("how long is the appliance warranty?");
  await page.locator("#kb-query").press("Enter");
  await page.locator("#kb-hits .kb-hit").first().waitFor();
  const best = await page.locator("#kb-hits .kb-hit").first().innerText();
  assert.ok(best.includes("policy, page 2") && best.includes("two year warranty"), best);
  assert.match(best, /similarity 0\.\d{3}/);
  assert.match(best, /score 0\.\d{4}/);
  // (SCREENSHOTS=path keeps a picture of the page here, for docs/console.md.)
  if (process.env.SCREENSHOTS) {
    await page.locator(".toast").waitFor({ state: "detached" });
    await page.screenshot({ path: process.env.SCREENSHOTS, fullPage: true });
  }

  // Removing a document: gone from the list and from the answers.
  await page.locator('#kb-documents button[aria-label="Remove policy"]').click();
  await until(async () => (await page.locator("#kb-documents tbody tr").count()) === 1);
  await page.locator("#kb-query").fill("how long is the appliance warranty?");
  await page.locator("#kb-query").press("Enter");
  await page.locator("#kb-hits li").first().waitFor();
  assert.ok(!(await page.locator("#kb-hits").innerText()).includes("page 2"));
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});
