#!/usr/bin/env node
// Takes the screenshots of docs/console.md (docs/console/*.png): sign-in, the flow list,
// the editor with a live diagnostic, the graph, the test chat, the publish diff, the
// version history, transcripts, a transcript, API keys, and a phone. Everything is the
// real server (target/debug/switchboard). Needs what scripts/browser-tests.sh installs.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Server, hostPages, launchBrowser, newContext, widget, until, ROOT } from "../tests/browser/harness.mjs";

const dir = join(ROOT, "docs", "console");
mkdirSync(dir, { recursive: true });
const out = (name) => join(dir, name);
const flow = (name) => readFileSync(join(ROOT, "flows", name), "utf8");

const server = await new Server().start();
const host = await hostPages(() => server);
const browser = await launchBrowser();

try {
  await server.tenant("acme", { flows: [flow("demo.yaml"), flow("support_triage.yaml"), flow("lead_capture.yaml")], entry: "demo" });
  const owner = (await server.admin("POST", "/v1/admin/tenants/acme/keys", { name: "Ada (owner)", role: "owner" })).body.key;
  await server.admin("POST", "/v1/admin/tenants/acme/keys", { name: "Support team", role: "viewer" });
  await server.admin("PUT", "/v1/admin/tenants/acme/flows/lead_capture", flow("lead_capture.yaml").replace("Hi! Tell me", "Hello! Tell me"));

  // Two conversations through the widget.
  for (const [name, topic] of [["Grace", "billing"], ["Linus", "technical"]]) {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${host.origin}/?tenant=acme`);
    await page.locator("switchboard-widget .launcher").click();
    await widget.botSays(page, "What's your name?");
    await widget.say(page, name);
    await widget.botSays(page, "billing, technical or other?");
    await widget.say(page, topic);
    await widget.botSays(page, "What would you like to know?");
    await context.close();
  }

  const context = await newContext(browser, { viewport: { width: 1360, height: 820 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${server.origin}/console`);
  await page.locator("#key").waitFor();
  await page.screenshot({ path: out("sign-in.png") });
  await page.locator("#key").fill(owner);
  await page.locator("#key").press("Enter");
  await page.locator("#flow-list").waitFor();
  await page.screenshot({ path: out("flows.png") });

  await page.locator('#flow-list a:text-is("demo")').click();
  await page.locator("#problem-summary").waitFor();
  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("Control+Home");
  const line = flow("demo.yaml").split("\n").findIndex((l) => l.trim() === "then: billing_info") + 1;
  for (let i = 1; i < line; i++) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("End");
  await page.keyboard.press("Backspace");
  await page.locator(".cm-lintRange-error").first().waitFor();
  await page.locator("#problems li").first().waitFor();
  await page.screenshot({ path: out("editor-diagnostics.png") });
  await page.keyboard.type("o");
  await page.locator(".cm-lintRange-error").waitFor({ state: "detached" });

  await page.locator("#tab-graph").click();
  await page.locator('#graph [data-state="answer"]').waitFor();
  await page.locator('#graph [data-state="answer"]').click();
  await page.screenshot({ path: out("graph.png") });

  await page.locator("#tab-chat").click();
  await page.locator("#chat-input").fill("Ada");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-log").textContent()).includes("Nice to meet you"), 5000, "chat");
  await page.locator("#chat-input").fill("technical");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-log").textContent()).includes("What would you like"), 5000, "chat");
  await page.locator("#chat-input").fill("How do I reset my password?");
  await page.locator("#chat-input").press("Enter");
  await until(async () => (await page.locator("#chat-calls li").count()) === 1, 5000, "the model call");
  await page.locator("#chat-calls summary").first().click();
  await page.screenshot({ path: out("test-chat.png") });

  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("Control+Home");
  const greeting = flow("demo.yaml").split("\n").findIndex((l) => l.includes("Hi! I'm the Switchboard")) + 1;
  for (let i = 1; i < greeting; i++) await page.keyboard.press("ArrowDown");
  await page.keyboard.press("End");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.type(" Ask me anything.");
  await page.locator("#publish").click();
  await page.locator("#diff-dialog").waitFor();
  await page.screenshot({ path: out("publish-diff.png") });
  await page.locator("#publish-activate").click();
  await page.locator("#diff-dialog").waitFor({ state: "detached" });
  await page.locator("#tab-versions").click();
  await page.locator("#versions").waitFor();
  await page.screenshot({ path: out("versions.png") });

  await page.locator('nav a:text-is("Transcripts")').click();
  await page.locator("#transcripts").waitFor();
  await page.screenshot({ path: out("transcripts.png") });
  await page.locator("#transcripts tbody tr").first().click();
  await page.locator("#transcript").waitFor();
  await page.screenshot({ path: out("transcript.png") });
  page.once("dialog", (d) => d.accept("Grace asks about billing"));
  await page.locator("#save-test-case").click();
  await page.locator(".toast", { hasText: "Saved as the test case" }).waitFor();
  await page.locator('nav a:text-is("Flows")').click();
  await page.locator('#flow-list a:text-is("demo")').click();
  await page.locator("#editor .cm-content").waitFor();
  await page.locator("#tab-tests").click();
  await page.locator("#run-tests").click();
  await page.locator("#test-verdict").waitFor();
  await page.screenshot({ path: out("test-cases.png") });

  await page.locator('nav a:text-is("API keys")').click();
  await page.locator("#keys table").waitFor();
  await page.locator("#key-name").fill("Deploy bot");
  await page.locator("#key-role").selectOption("editor");
  await page.locator("#key-name").press("Enter");
  await page.locator("#new-key-value").waitFor();
  await page.screenshot({ path: out("keys.png") });

  await page.locator('nav a:text-is("Tenant")').click();
  await page.locator("#tenant-form").waitFor();
  await page.screenshot({ path: out("tenant.png"), fullPage: true });
  await context.close();

  const phone = await newContext(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  await small.goto(`${server.origin}/console`);
  await small.locator("#key").fill(owner);
  await small.locator("#key").press("Enter");
  await small.locator('#flow-list a:text-is("demo")').click();
  await small.locator("#problem-summary").waitFor();
  await small.screenshot({ path: out("phone.png") });
  await phone.close();
  console.log(`screenshots in ${dir}`);
} finally {
  await browser.close();
  await host.close();
  await server.dispose();
}
