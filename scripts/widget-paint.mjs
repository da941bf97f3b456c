#!/usr/bin/env node
// Measures how fast the widget shows up, for docs/widget.md: a host page on another
// origin embeds the widget (async script tag, cold cache, fresh context each time), and
// the page's Performance entries give, from navigation start:
//   - the host page's first contentful paint,
//   - widget.js fetched (its resource entry's responseEnd),
//   - the launcher painted (the widget's `ready`, then the next frame).
// Prints the median and the range of RUNS loads. Needs the debug binary and the npm
// packages, as scripts/browser-tests.sh installs them. Not a test: no thresholds.
import { Server, hostPages, launchBrowser } from "../tests/browser/harness.mjs";

const RUNS = Number(process.env.RUNS || 15);
const server = await new Server().start();
const host = await hostPages(() => server);
const browser = await launchBrowser();
const samples = { fcp: [], fetched: [], painted: [] };
try {
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__painted = new Promise((resolve) => addEventListener("switchboard:ready", () =>
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())))));
    });
    await page.goto(`${host.origin}/?tenant=demo`);
    const m = await page.evaluate(async () => {
      const painted = await window.__painted;
      const script = performance.getEntriesByType("resource").find((e) => e.name.includes("/widget.js"));
      const fcp = performance.getEntriesByName("first-contentful-paint")[0];
      return { painted, fetched: script.responseEnd, fcp: fcp ? fcp.startTime : NaN };
    });
    for (const k of Object.keys(samples)) samples[k].push(m[k]);
    await context.close();
  }
} finally {
  await browser.close();
  await host.close();
  await server.dispose();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
console.log(`${RUNS} cold loads, from navigation start:`);
console.log(`  host page first contentful paint: ${fmt(samples.fcp)}`);
console.log(`  widget.js fetched:                ${fmt(samples.fetched)}`);
console.log(`  launcher painted:                 ${fmt(samples.painted)}`);
