// The web widget in a real browser (Debian's Chromium through playwright-core), against
// a real Switchboard process, embedded in host pages served from another origin.
// Run by scripts/browser-tests.sh (which `.ci/run` calls after `cargo test`).
//
// The tests run in order and share one server: the chat of the first is the history
// that the reload, new-tab and restart tests look for.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, hostPages, launchBrowser, newContext, widget, until, demoFlow, AXE_PATH } from "./harness.mjs";

const XSS_FLOW = `id: main
start: hello
states:
  hello:
    say: "<img src=x onerror=alert(1)>"
    next: more
  more:
    say: "**Bold**, *italic*, \`code\`, [a bad link](javascript:alert(2)) and [a good one](https://example.com/docs)"
    next: bye
  bye:
    end: "- one\\n- two"
`;

let server, host, stranger, browser;
let chat; // { context, page } of the first test, reused by the history tests

before(async () => {
  server = await new Server().start();
  host = await hostPages(() => server);
  stranger = await hostPages(() => server); // an origin the tenant does not allow
  await server.tenant("shop", { flows: [demoFlow()], entry: "demo", origins: [host.origin] });
  await server.tenant("xss", { flows: [XSS_FLOW] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await host?.close();
  await stranger?.close();
  await server?.dispose();
});

/** A page of the host site with the widget (`params` become data-* attributes). */
async function hostPage(context, params, origin = host.origin) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e));
  await page.goto(`${origin}/?${new URLSearchParams(params)}`);
  await page.waitForFunction(() => window.Switchboard && document.querySelector("switchboard-widget"));
  return page;
}

async function ensureOpen(page) {
  const launcher = page.locator("switchboard-widget .launcher");
  if ((await launcher.getAttribute("aria-expanded")) !== "true") await launcher.click();
  await page.locator("switchboard-widget .panel").waitFor({ state: "visible" });
}

/** What the user sees of the conversation: "role: text" per row. */
async function transcriptOf(page) {
  return (await widget.rows(page)).map((r) => `${r.role}: ${r.text}`);
}

test("the snippet on another origin: open, chat through the demo flow, streamed replies", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop" });
  chat = { context, page };
  assert.equal(await page.locator("switchboard-widget .panel").isVisible(), false, "closed until asked");
  await page.locator("switchboard-widget .launcher").click();
  await widget.botSays(page, "What's your name?");

  // Watch the rendering: the typing indicator, and each state of a streaming bubble.
  await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    window.__seen = { typing: false, partials: [] };
    new MutationObserver(() => {
      if (root.querySelector(".typing")) window.__seen.typing = true;
      const caret = root.querySelector(".caret");
      if (caret) {
        const sr = caret.querySelector(".sr")?.textContent || "";
        window.__seen.partials.push(caret.textContent.slice(sr.length));
      }
    }).observe(root, { subtree: true, childList: true, characterData: true });
  });
  await widget.say(page, "Ada");
  await widget.botSays(page, "Nice to meet you, Ada!");
  await widget.say(page, "technical");
  await widget.botSays(page, "What would you like to know?");
  await widget.say(page, "How do I reset my password?");
  await until(async () => (await widget.rows(page)).filter((r) => r.text.startsWith("What would you like to know")).length === 2,
    30000, "the streamed answer and the next prompt");

  const rows = await widget.rows(page);
  const question = rows.findIndex((r) => r.role === "user" && r.text === "How do I reset my password?");
  const answer = rows[question + 1];
  assert.equal(answer.role, "bot");
  assert.ok(answer.text.length > 20, `an answer: ${answer.text}`);
  const seen = await page.evaluate(() => window.__seen);
  assert.ok(seen.typing, "a typing indicator showed while the bot worked");
  const partials = [...new Set(seen.partials)].filter((p) => p.length);
  assert.ok(partials.length >= 3, `the answer rendered as it streamed (${partials.length} states)`);
  for (const partial of partials) {
    assert.ok(answer.text.startsWith(partial.trim()), `"${partial}" is a prefix of the final answer`);
  }
  assert.deepEqual(
    rows.filter((r) => r.role === "user").map((r) => r.text),
    ["Ada", "technical", "How do I reset my password?"],
  );
  assert.ok(rows.every((r) => !r.pending && !r.streaming));

  // Bubbles size to their text; messages carry timestamps.
  const widths = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const ada = [...root.querySelectorAll(".row.user .bubble")].find((b) => b.textContent.endsWith("Ada"));
    return { ada: ada.getBoundingClientRect().width, log: root.querySelector(".log").clientWidth, times: root.querySelectorAll(".meta time").length };
  });
  assert.ok(widths.ada < widths.log * 0.3, `a short bubble is narrow (${widths.ada} of ${widths.log})`);
  assert.ok(widths.times >= 2, "timestamps shown");
  assert.deepEqual(page.errors, []);
});

test("reload and a new tab show the whole conversation, nothing doubled", async () => {
  const { context, page } = chat;
  const before = await transcriptOf(page);
  assert.ok(before.length >= 8);
  await page.reload();
  await page.waitForFunction(() => window.Switchboard);
  await ensureOpen(page); // the tab reopens it by itself (sessionStorage); a click is harmless
  await until(async () => (await transcriptOf(page)).length === before.length, 10000, "history after reload");
  assert.deepEqual(await transcriptOf(page), before);

  const tab = await hostPage(context, { tenant: "shop" });
  await ensureOpen(tab);
  await until(async () => (await transcriptOf(tab)).length === before.length, 10000, "history in a new tab");
  assert.deepEqual(await transcriptOf(tab), before);
  // Both tabs are live: a reply reaches both, once each.
  await widget.say(tab, "And my invoices?");
  for (const p of [page, tab]) {
    await until(async () => (await widget.rows(p)).filter((r) => r.text.startsWith("What would you like to know")).length === 3,
      30000, "the answer in both tabs");
    const users = (await widget.rows(p)).filter((r) => r.text === "And my invoices?");
    assert.equal(users.length, 1);
  }
  chat.tab = tab;
});

test("a message sent while the server is down shows as pending and arrives exactly once", async () => {
  const { page, tab } = chat;
  assert.ok(tab, "needs the two tabs of the test before");
  const text = "Can I download my invoice as PDF?";
  await server.stop();
  try {
    await until(async () => (await tab.locator("switchboard-widget .sub").textContent()).includes("Reconnecting"),
      10000, "the widget notices the server is gone");
    await widget.say(tab, text);
    await until(async () => (await widget.rows(tab)).some((r) => r.text === text && r.pending), 5000, "a pending bubble");
    assert.match(await tab.locator("switchboard-widget .row.pending .meta").textContent(), /Waiting for connection/);
    assert.match(await tab.locator("switchboard-widget .banner").textContent(), /offline/);
    assert.equal(await tab.locator("switchboard-widget textarea").inputValue(), "", "the composer is free again");
  } finally {
    await server.start(); // same port, same database; the later tests need it whatever happened
  }
  for (const p of [tab, page]) {
    await until(async () => {
      const rows = await widget.rows(p);
      return rows.filter((r) => r.text === text && !r.pending).length === 1 && !rows.some((r) => r.pending);
    }, 40000, "the pending message delivered");
    await until(async () => (await widget.rows(p)).filter((r) => r.text.startsWith("What would you like to know")).length === 4,
      30000, "the answer to it");
  }
  const { conversation_id: id } = await widget.storage(tab);
  const stored = await server.transcript("shop", id);
  assert.equal(stored.filter((m) => m.role === "user" && m.text === text).length, 1, "stored exactly once");
  const shown = (await widget.rows(tab)).filter((r) => r.text === text);
  assert.equal(shown.length, 1, "shown exactly once");
  // Every stored message is on screen, in order, once.
  assert.deepEqual(
    (await widget.rows(tab)).map((r) => r.text),
    stored.map((m) => m.text),
  );
});

test("an origin outside the tenant's allowlist gets a clear refusal", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop" }, stranger.origin);
  await page.locator("switchboard-widget .launcher").click();
  await until(async () => (await page.locator("switchboard-widget .notice").textContent()).includes("isn't available on this website"),
    10000, "the refusal");
  assert.equal(await page.locator("switchboard-widget textarea").isVisible(), false);
  await context.close();
});

test("hostile host CSS cannot break the widget, and the widget's CSS does not leak out", async () => {
  const context = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  // Styles of the host's own elements, without and with the widget (opened).
  const hostStyles = (page) => page.evaluate(() => ["body", "h1", "p.host", "div.host", "button.host"].map((sel) => {
    const cs = getComputedStyle(document.querySelector(sel));
    return [sel, cs.color, cs.fontFamily, cs.fontSize, cs.lineHeight, cs.display, cs.backgroundColor, cs.boxSizing, cs.padding, cs.borderRadius].join("|");
  }));
  const bare = await context.newPage();
  await bare.goto(`${host.origin}/?nowidget=1`);
  const without = await hostStyles(bare);
  const withWidget = await hostPage(context, { tenant: "shop" });
  await ensureOpen(withWidget);
  await widget.botSays(withWidget, "What's your name?");
  assert.deepEqual(await hostStyles(withWidget), without, "host elements look the same with the widget");

  const page = await hostPage(context, { tenant: "shop", css: "hostile" });
  assert.equal(await page.locator("div.host").isVisible(), false, "the hostile CSS is in force on the host");
  const launcher = page.locator("switchboard-widget .launcher");
  const box = await launcher.boundingBox();
  assert.ok(box && Math.round(box.width) === 60 && Math.round(box.height) === 60, `launcher drawn: ${JSON.stringify(box)}`);
  assert.ok(box.x + box.width <= 1280 - 10 && box.y + box.height <= 800 - 10 && box.x > 1000 && box.y > 600, "at the bottom right");
  await launcher.click();
  // (polled: the panel opens with a short scale animation)
  const panel = await until(async () => {
    const b = await page.locator("switchboard-widget .panel").boundingBox();
    return b && Math.round(b.width) === 384 && b.height > 400 && b;
  }, 5000, "the panel drawn at its size");
  assert.ok(panel.x > 800, `on the right: ${JSON.stringify(panel)}`);
  const look = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const cs = (sel) => getComputedStyle(root.querySelector(sel));
    return { header: cs("header").display, font: cs(".root").fontSize, input: cs("textarea").display, radius: cs(".panel").borderTopLeftRadius };
  });
  assert.deepEqual(look, { header: "flex", font: "15px", input: "block", radius: "18px" });
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Grace");
  await widget.botSays(page, "Nice to meet you, Grace!");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a host page with a strict Content-Security-Policy: styled, themed, working", async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(`${host.origin}/?${new URLSearchParams({ tenant: "shop", csp: "strict", color: "#7c3aed" })}`);
  await page.waitForFunction(() => window.Switchboard);
  // The page's own inline <style> is blocked: the CSP is in force.
  assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector("p.host")).color), "rgb(0, 0, 0)");
  await page.locator("switchboard-widget .launcher").click();
  await widget.botSays(page, "What's your name?");
  const look = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    // offsetWidth is the laid-out width: the opening animation's scale does not change it.
    return { width: root.querySelector(".panel").offsetWidth, header: getComputedStyle(root.querySelector("header")).backgroundColor };
  });
  assert.deepEqual(look, { width: 384, header: "rgb(124, 58, 237)" });
  await widget.say(page, "Hedy");
  await widget.botSays(page, "Nice to meet you, Hedy!");
  // One violation: the host page's own <style>; none of the widget's.
  assert.deepEqual(await page.evaluate(() => window.__violations), ["style-src-elem inline"]);
  await context.close();
});

test("message text is never interpreted as HTML; markdown is rendered safely", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "xss" });
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await ensureOpen(page);
  await widget.botSays(page, "<img src=x onerror=alert(1)>");
  await widget.botSays(page, "one");
  const found = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const links = [...root.querySelectorAll(".log a")].map((a) => ({ href: a.getAttribute("href"), rel: a.rel, target: a.target, text: a.textContent }));
    return {
      imgs: root.querySelectorAll("img").length + document.querySelectorAll("img").length,
      links,
      strong: [...root.querySelectorAll(".log strong")].map((e) => e.textContent),
      em: [...root.querySelectorAll(".log em")].map((e) => e.textContent),
      code: [...root.querySelectorAll(".log code")].map((e) => e.textContent),
      items: [...root.querySelectorAll(".log li")].map((e) => e.textContent),
    };
  });
  assert.equal(found.imgs, 0, "no <img> was created");
  assert.deepEqual(found.links, [{ href: "https://example.com/docs", rel: "noopener noreferrer nofollow", target: "_blank", text: "a good one" }]);
  assert.deepEqual(found.strong, ["Bold"]);
  assert.deepEqual(found.em, ["italic"]);
  assert.deepEqual(found.code, ["code"]);
  assert.deepEqual(found.items, ["one", "two"]);
  const rows = await widget.rows(page);
  assert.equal(rows[0].text, "<img src=x onerror=alert(1)>", "shown as text");
  assert.ok(rows[1].text.includes("javascript:alert(2)"), `the refused link stays text: ${rows[1].text}`);
  assert.deepEqual(dialogs, []);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a reply from the tenant's documents shows its sources as links under it", async () => {
  const created = await server.admin("POST", "/v1/admin/tenants", { id: "kb", name: "kb", entry_flow: "main" });
  assert.equal(created.status, 201);
  assert.ok((await server.admin("PUT", "/v1/admin/tenants/kb/knowledge/help", {})).status < 300);
  const doc = await server.admin("PUT", "/v1/admin/tenants/kb/knowledge/help/documents/returns", {
    content: "# Returns\n\nYou can return any item within 30 days of delivery. The refund goes back to the card you paid with.\n",
    source: "https://help.example/returns",
  });
  assert.ok(doc.status < 300, JSON.stringify(doc.body));
  const flow = `id: main
slots:
  question: { type: string }
start: ask
states:
  ask:
    collect: { slot: question, prompt: "What would you like to know?" }
    next: answer
  answer:
    llm:
      prompt: "{{ input }}"
      knowledge: [help]
      min_score: 0.05
    next: more
  more:
    collect: { slot: question, prompt: "Anything else?" }
    next: bye
  bye:
    end: "Bye!"
`;
  const saved = await server.admin("PUT", "/v1/admin/tenants/kb/flows/main", flow);
  assert.ok(saved.body?.valid, JSON.stringify(saved.body));
  const published = await server.admin("POST", "/v1/admin/tenants/kb/flows/main/publish", { activate: true });
  assert.ok(published.status < 300, JSON.stringify(published.body));

  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "kb" });
  await ensureOpen(page);
  await widget.botSays(page, "What would you like to know?");
  await widget.say(page, "How many days do I have to return an item?");
  const link = page.locator("switchboard-widget .cites a");
  await link.first().waitFor();
  assert.equal(await link.first().getAttribute("href"), "https://help.example/returns#returns");
  assert.match(await link.first().textContent(), /\[1\] Returns/);
  assert.equal(await link.first().getAttribute("rel"), "noopener noreferrer");
  if (process.env.SCREENSHOTS) await page.screenshot({ path: process.env.SCREENSHOTS });
  // The reply's own "Sources:" line is not shown twice.
  const rows = await widget.rows(page);
  assert.ok(!rows.some((r) => r.text.includes("Sources:")), JSON.stringify(rows));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("axe-core finds no serious or critical violations; keyboard and focus work", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop", greeting: "Hi! Questions? Ask us." });
  await page.addScriptTag({ path: AXE_PATH });
  const audit = () => page.evaluate(async () => {
    const result = await window.axe.run({ include: [["switchboard-widget", ".root"]] }, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  });
  await page.locator("switchboard-widget .nudge").waitFor({ state: "visible" });
  assert.deepEqual(await audit(), [], "closed, with the greeting");

  // Keyboard only: focus the launcher, Enter opens and focuses the composer.
  await page.locator("button.host").focus();
  await page.keyboard.press("Tab");
  const active = () => page.evaluate(() => {
    const host = document.querySelector("switchboard-widget");
    if (document.activeElement !== host) return `host:${document.activeElement?.tagName}`;
    const el = host.shadowRoot.activeElement;
    return el ? `${el.tagName.toLowerCase()}.${el.className}` : "none";
  });
  assert.equal(await active(), "button.launcher");
  await page.keyboard.press("Enter");
  await page.locator("switchboard-widget .panel").waitFor({ state: "visible" });
  assert.equal(await active(), "textarea.");
  await widget.botSays(page, "What's your name?");
  await page.keyboard.type("Alan");
  await page.keyboard.press("Enter");
  await widget.botSays(page, "Nice to meet you, Alan!");
  assert.deepEqual(await audit(), [], "open, with a conversation");
  // The focus stays in the widget while it is open.
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Tab");
    assert.ok(!(await active()).startsWith("host:"), `Tab ${i} left the widget: ${await active()}`);
  }
  await page.keyboard.press("Shift+Tab");
  assert.ok(!(await active()).startsWith("host:"));
  // Escape closes and gives the focus back to the launcher.
  await page.keyboard.press("Escape");
  await page.locator("switchboard-widget .panel").waitFor({ state: "hidden" });
  assert.equal(await active(), "button.launcher");
  assert.equal(await page.locator("switchboard-widget .launcher").getAttribute("aria-expanded"), "false");
  const roles = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    return [root.querySelector(".panel").getAttribute("role"), root.querySelector(".log").getAttribute("role"), root.querySelector(".log").getAttribute("aria-live")];
  });
  assert.deepEqual(roles, ["dialog", "log", "polite"]);
  // Motion follows the visitor's preference.
  const animation = () => page.evaluate(() =>
    getComputedStyle(document.querySelector("switchboard-widget").shadowRoot.querySelector(".panel")).animationName);
  await page.evaluate(() => Switchboard.open());
  assert.equal(await animation(), "open");
  await page.emulateMedia({ reducedMotion: "reduce" });
  assert.equal(await animation(), "none");
  await context.close();
});

test("390×844: full screen, and the input stays visible and usable with the keyboard open", async () => {
  const context = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await hostPage(context, { tenant: "shop" });
  await page.locator("switchboard-widget .launcher").tap();
  await widget.botSays(page, "What's your name?");
  const full = await page.locator("switchboard-widget .panel").boundingBox();
  assert.deepEqual([full.x, full.y, full.width, full.height].map(Math.round), [0, 0, 390, 844], "full screen");
  assert.equal(await page.locator("switchboard-widget .launcher").isVisible(), false, "the launcher is under the panel");

  // The on-screen keyboard takes the bottom 336 px: the visual viewport shrinks to 508.
  await page.locator("switchboard-widget textarea").tap();
  await page.setViewportSize({ width: 390, height: 508 });
  await until(async () => Math.round((await page.locator("switchboard-widget .panel").boundingBox()).height) === 508,
    5000, "the panel follows the visual viewport");
  const visible = async () => page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const input = root.querySelector("textarea").getBoundingClientRect();
    const vv = window.visualViewport;
    const hit = root.elementFromPoint(input.left + input.width / 2, input.top + input.height / 2);
    return { bottom: input.bottom, top: input.top, height: vv.height, hit: hit?.tagName };
  });
  const where = await visible();
  assert.ok(where.top >= 0 && where.bottom <= where.height, `input within the visible area: ${JSON.stringify(where)}`);
  assert.equal(where.hit, "TEXTAREA", "nothing covers the input");
  await widget.say(page, "Katherine");
  await widget.botSays(page, "Nice to meet you, Katherine!");
  const last = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const rows = root.querySelectorAll(".log .row");
    const row = rows[rows.length - 1].getBoundingClientRect();
    const log = root.querySelector(".log").getBoundingClientRect();
    return { row: row.bottom, log: log.bottom, input: root.querySelector("textarea").getBoundingClientRect().top };
  });
  assert.ok(last.row <= last.log + 1 && last.log <= last.input, `the newest message is in view above the input: ${JSON.stringify(last)}`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("the JS API, events, unread badge and notification while closed, and localisation", async () => {
  const context = await newContext(browser, { locale: "en-US" });
  const page = await hostPage(context, { tenant: "shop", locale: "fr", color: "#0f766e", position: "left" });
  await page.evaluate(() => new Promise((resolve) => {
    window.__events = [];
    for (const name of ["open", "close", "message", "unread"]) {
      Switchboard.on(name, (payload) => window.__events.push([name, payload]));
    }
    Switchboard.on("ready", resolve);
  }));
  const launcher = page.locator("switchboard-widget .launcher");
  assert.equal(await launcher.getAttribute("aria-label"), "Ouvrir le chat");
  await page.evaluate(() => Switchboard.open());
  assert.equal(await page.locator("switchboard-widget textarea").getAttribute("placeholder"), "Écrivez un message…");
  // Theming: the accent colour, with readable text on it, on the left.
  const theme = await page.evaluate(() => {
    const root = document.querySelector("switchboard-widget").shadowRoot;
    const header = getComputedStyle(root.querySelector("header"));
    return { bg: header.backgroundColor, fg: header.color, left: root.querySelector(".launcher").getBoundingClientRect().left };
  });
  assert.deepEqual(theme, { bg: "rgb(15, 118, 110)", fg: "rgb(255, 255, 255)", left: 20 });
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Lin");
  await widget.botSays(page, "Nice to meet you, Lin!");
  await widget.say(page, "technical");
  await widget.botSays(page, "What would you like to know?");
  await widget.say(page, "Tell me about payment reminders");
  await page.evaluate(() => Switchboard.close());

  // The answer arrives while closed: a badge and a preview, no sound.
  await until(async () => (await page.evaluate(() => Switchboard.unread)) >= 1, 30000, "an unread reply");
  const badge = page.locator("switchboard-widget .badge");
  await badge.waitFor({ state: "visible" });
  assert.match(await badge.textContent(), /^[1-9]$/);
  assert.match(await launcher.getAttribute("aria-label"), /non lus/);
  await page.locator("switchboard-widget .nudge").waitFor({ state: "visible" });
  await page.evaluate(() => Switchboard.toggle());
  await badge.waitFor({ state: "hidden" });
  assert.equal(await page.locator("switchboard-widget .nudge").isVisible(), false);

  const events = await page.evaluate(() => window.__events);
  const names = events.map(([name]) => name);
  assert.deepEqual(names.filter((n) => n === "open" || n === "close"), ["open", "close", "open"]);
  const messages = events.filter(([n]) => n === "message").map(([, m]) => m);
  assert.ok(messages.some((m) => m.role === "bot" && m.text === "What's your name?" && typeof m.seq === "number"));
  assert.ok(messages.some((m) => m.role === "user" && m.text === "Lin"));
  const unread = events.filter(([n]) => n === "unread").map(([, u]) => u.count);
  assert.ok(unread.some((c) => c >= 1) && unread[unread.length - 1] === 0, `unread counts: ${unread}`);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("inline mode: the panel fills an element of the page, with no launcher", async () => {
  const context = await newContext(browser);
  const page = await hostPage(context, { tenant: "shop", mode: "inline", target: "#chatbox" });
  await widget.botSays(page, "What's your name?");
  const layout = await page.evaluate(() => {
    const host = document.querySelector("switchboard-widget");
    const panel = host.shadowRoot.querySelector(".panel").getBoundingClientRect();
    const box = document.querySelector("#chatbox").getBoundingClientRect();
    return { parent: host.parentElement.id, launcher: !!host.shadowRoot.querySelector(".launcher"),
      inside: panel.left >= box.left && panel.right <= box.right && panel.top >= box.top && panel.bottom <= box.bottom,
      height: Math.round(panel.height), boxHeight: Math.round(box.height) - 2 };
  });
  assert.deepEqual(layout, { parent: "chatbox", launcher: false, inside: true, height: 560, boxHeight: 560 });
  await widget.say(page, "Mary");
  await widget.botSays(page, "Nice to meet you, Mary!");
  assert.deepEqual(page.errors, []);
  await context.close();
});
