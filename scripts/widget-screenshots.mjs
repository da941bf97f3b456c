#!/usr/bin/env node
// Takes the screenshots of docs/widget.md (docs/img/widget-*.png) on the demo page:
// closed with its greeting, open with quick replies, a reply streaming, and a phone.
// Everything is the real server. Needs what scripts/browser-tests.sh installs.
import { join } from "node:path";
import { Server, launchBrowser, newContext, widget, until, ROOT } from "../tests/browser/harness.mjs";

const out = (name) => join(ROOT, "docs", "img", name);
const server = await new Server().start();
const browser = await launchBrowser();

try {
  // Closed, with the greeting bubble.
  let context = await newContext(browser, { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  let page = await context.newPage();
  await page.goto(server.origin + "/");
  await page.locator("switchboard-widget .nudge").waitFor({ state: "visible" });
  await page.waitForTimeout(400); // the bubble's entrance animation
  await page.screenshot({ path: out("widget-closed.png") });
  await context.close();

  // Open: a short chat up to the topic question, with its quick replies.
  context = await newContext(browser, { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  await page.goto(server.origin + "/");
  await page.waitForFunction(() => window.Switchboard);
  await page.evaluate(() => Switchboard.open());
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Ada");
  await widget.botSays(page, "billing, technical or other?");
  await page.locator("switchboard-widget .chip").first().waitFor();
  await page.locator("switchboard-widget textarea").blur();
  await page.waitForTimeout(300);
  await page.screenshot({ path: out("widget-open.png") });

  // A reply streaming in.
  await page.locator("switchboard-widget .chip", { hasText: "technical" }).click();
  await widget.botSays(page, "What would you like to know?");
  await widget.say(page, "How do I send an invoice in another currency?");
  await until(async () => (await widget.rows(page)).some((r) => r.streaming && r.text.length > 140), 30000, "a reply halfway");
  await page.screenshot({ path: out("widget-streaming.png") });
  await context.close();

  // A phone, after an answer.
  context = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  page = await context.newPage();
  await page.goto(server.origin + "/");
  await page.waitForFunction(() => window.Switchboard);
  await page.evaluate(() => Switchboard.open());
  await widget.botSays(page, "What's your name?");
  await widget.say(page, "Grace");
  await widget.say(page, "billing");
  await widget.botSays(page, "What would you like to know?");
  await page.locator("switchboard-widget textarea").blur();
  await page.waitForTimeout(300);
  await page.screenshot({ path: out("widget-mobile.png") });
  await context.close();
} finally {
  await browser.close();
  await server.dispose();
}
console.log("wrote docs/img/widget-{closed,open,streaming,mobile}.png");
