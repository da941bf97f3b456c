// Browser tests of the widget features that need the protocol additions of issue #12
// (docs/widget.md, "Protocol additions"): `choices` on collect prompts, `identity` on
// hello (invalid_identity / identity_expired), `status` on welcome, `event` on system
// messages with `conversation_ended`, `not_available`, and `author` on agent messages.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Server, hostPages, launchBrowser, newContext, widget, until, demoFlow, ROOT } from "./harness.mjs";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SHOP_SECRET = "shop-widget-identity-secret-0123456789abcdef";
const OTHER_SECRET = "other-widget-identity-secret-0123456789abcdef";

/** An HS256 JWT, as a tenant's backend would sign it (docs/widget.md). */
function jwt(claims, secret, alg = "HS256") {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg, typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);

let server, host, browser;

before(async () => {
  server = await new Server().start();
  host = await hostPages(() => server);
  await server.tenant("shop", { flows: [demoFlow()], entry: "demo", origins: [host.origin] });
  await server.tenant("other", { flows: [demoFlow()], entry: "demo" });
  await server.tenant("closed", { entry: "nothing-published" });
  await server.tenant("desk", {
    flows: [readFileSync(join(ROOT, "flows", "support_triage.yaml"), "utf8")],
    entry: "support_triage",
  });
  for (const [tenant, secret] of [["shop", SHOP_SECRET], ["other", OTHER_SECRET]]) {
    const put = await server.admin("PUT", `/v1/admin/tenants/${tenant}/widget`, { identity_secret: secret });
    assert.equal(put.status, 201);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await host?.close();
  await server?.dispose();
});

async function hostPage(context, params) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  await page.goto(`${host.origin}/?${new URLSearchParams(params)}`);
  await page.waitForFunction(() => window.Switchboard);
  return page;
}

const chips = (page) => page.evaluate(() =>
  [...document.querySelector("switchboard-widget").shadowRoot.querySelectorAll(".chip")].map((c) => c.textContent));

test("quick replies: choices of a collect state are buttons under the latest message", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop" });
  await page.evaluate(() => Switchboard.open());
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Ada");
  await widget.botSays(page, "billing, technical or other?");
  await until(async () => (await chips(page)).length === 3, 10000, "quick replies");
  assert.deepEqual(await chips(page), ["billing", "technical", "other"]);
  await page.locator("switchboard-widget .chip", { hasText: "billing" }).click();
  await widget.botSays(page, "Invoices are sent");
  const rows = await widget.rows(page);
  assert.ok(rows.some((r) => r.role === "user" && r.text === "billing"), "the choice was sent as a message");
  assert.deepEqual(await chips(page), [], "no buttons once the prompt is no longer the latest message");
  await context.close();
});

test("identify: bad, expired and other-tenant tokens are refused and show nothing", async () => {
  const cases = [
    ["bad signature", jwt({ sub: "user-1", exp: now() + 600 }, "not-the-secret-0123456789abcdef-xyz"), "couldn't confirm who you are"],
    ["expired", jwt({ sub: "user-1", exp: now() - 3600 }, SHOP_SECRET), "session has expired"],
    ["another tenant's", jwt({ sub: "user-1", exp: now() + 600 }, OTHER_SECRET), "couldn't confirm who you are"],
    ["malformed", "not.a.jwt", "couldn't confirm who you are"],
  ];
  for (const [name, token, text] of cases) {
    const context = await newContext(browser);
    const page = await hostPage(context, { tenant: "shop" });
    await page.evaluate((t) => { Switchboard.identify(t); Switchboard.open(); }, token);
    await until(async () => (await page.locator("switchboard-widget .notice").textContent()).includes(text), 10000, `${name}: refusal shown`);
    assert.deepEqual(await widget.rows(page), [], `${name}: nothing of any conversation`);
    assert.equal(await page.locator("switchboard-widget textarea").isVisible(), false);
    await context.close();
  }
});

test("identify: a genuine token follows the visitor to another device", async () => {
  const token = jwt({ sub: "user-7", name: "Grace", exp: now() + 600 }, SHOP_SECRET);
  const laptop = await newContext(browser);
  const page = await hostPage(laptop, { tenant: "shop" });
  await page.evaluate((t) => { Switchboard.identify(t); Switchboard.open(); }, token);
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Grace");
  await widget.botSays(page, "Nice to meet you, Grace!");
  const before = (await widget.rows(page)).map((r) => r.text);

  const phone = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true });
  const other = await hostPage(phone, { tenant: "shop" });
  await other.evaluate((t) => { Switchboard.identify(t); Switchboard.open(); }, token);
  await until(async () => (await widget.rows(other)).length === before.length, 10000, "the conversation on the second device");
  assert.deepEqual((await widget.rows(other)).map((r) => r.text), before);
  await laptop.close();
  await phone.close();
});

test("an ended conversation is shown as such and never silently restarts", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop" });
  await page.evaluate(() => Switchboard.open());
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Ada");
  await widget.say(page, "other");
  await widget.botSays(page, "What would you like to know?");
  await widget.say(page, "bye");
  await widget.botSays(page, "Have a great day.");
  const notice = page.locator("switchboard-widget .notice");
  await until(async () => (await notice.textContent()).includes("This conversation has ended."), 10000, "the ended notice");
  assert.equal(await page.locator("switchboard-widget textarea").isVisible(), false);
  const { visitor_token: token, conversation_id: ended } = await widget.storage(page);

  // After a reload the welcome's status keeps it ended.
  await page.reload();
  await page.waitForFunction(() => window.Switchboard);
  await page.evaluate(() => Switchboard.open());
  await until(async () => (await notice.textContent()).includes("This conversation has ended."), 10000, "still ended after reload");

  await page.locator("switchboard-widget .notice .cta").click();
  await widget.botSays(page, "Hi! I'm the Switchboard demo assistant.");
  const next = await widget.storage(page);
  assert.notEqual(next.conversation_id, ended);
  assert.equal(next.visitor_token, token, "the same visitor");
  assert.ok(!(await widget.rows(page)).some((r) => r.text === "bye"), "a fresh log");
  await context.close();
});

test("a tenant with no active flow shows the configured 'not available' text", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "closed", "unavailable-text": "Our chat is closed for the holidays." });
  await page.evaluate(() => Switchboard.open());
  await until(async () => (await page.locator("switchboard-widget .notice").textContent()).includes("closed for the holidays"),
    10000, "the configured text");
  assert.equal(await page.locator("switchboard-widget textarea").isVisible(), false);
  await context.close();
});

test("an agent's messages show the agent's name in their own style", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "desk" });
  await page.evaluate(() => {
    window.__authors = [];
    Switchboard.on("message", (m) => { if (m.role === "agent") window.__authors.push(m.author); });
    Switchboard.open();
  });
  await widget.botSays(page, "What is your problem about");
  await widget.say(page, "agent"); // the flow's interrupt: hand off to a person
  await widget.botSays(page, "Connecting you with a person");
  const { conversation_id: id } = await widget.storage(page);
  const sent = await server.admin("POST", `/v1/admin/tenants/desk/conversations/${id}/messages`, { text: "Hi, I'm here to help.", author: "Grace" });
  assert.equal(sent.status, 201);
  await until(async () => (await widget.rows(page)).some((r) => r.role === "agent" && r.text === "Hi, I'm here to help."), 10000, "the agent's message");
  // The name comes from the frame's `author` (the widget's fallback, "Agent", would not do).
  const [author] = await page.evaluate(() => window.__authors);
  assert.equal(author, "Grace", "the frame names the agent");
  const shown = await page.evaluate(() => document.querySelector("switchboard-widget").shadowRoot.querySelector(".row.agent .author")?.textContent);
  assert.equal(shown, author, "shown above the agent's message");
  await context.close();
});
