// The console's flow graph: a small layered layout in SVG, drawn from the outline that
// POST …/flows/{flow}/graph returns (docs/console.md#graph).
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h } = C;


  /** A layered drawing (top to bottom): layers by breadth-first depth from the roots,
   *  order within a layer by the barycentre of the parents, edges as curves with their
   *  conditions as labels. Small flows only: no crossing minimisation beyond that.
   *  `stats` (optional): state name → this month's analytics of the state (GET
   *  …/analytics?group_by=state), drawn under its box: drop-offs and model cost. */
  function renderGraph(data, onPick, stats) {
    const nodes = data.nodes;
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const out = new Map(nodes.map((n) => [n.name, []]));
    for (const e of data.edges) if (byName.has(e.to)) out.get(e.from).push(e.to);
    const layer = new Map();
    const visit = (roots, base) => {
      const queue = roots.filter((r) => byName.has(r) && !layer.has(r)).map((r) => [r, base]);
      for (const [r] of queue) layer.set(r, base);
      while (queue.length) {
        const [name, depth] = queue.shift();
        for (const next of out.get(name)) {
          if (!layer.has(next)) { layer.set(next, depth + 1); queue.push([next, depth + 1]); }
        }
      }
    };
    visit([data.start, ...nodes.filter((n) => n.interrupt).map((n) => n.name)].filter(Boolean), 0);
    for (const n of nodes) if (!layer.has(n.name)) visit([n.name], 0);
    const layers = [];
    for (const n of nodes) (layers[layer.get(n.name)] ||= []).push(n);
    const width = (n) => Math.max(120, n.name.length * 8 + 36);
    const pos = new Map();
    const GAP_X = 36, GAP_Y = 96, H = 46;
    // Order each layer by the mean x of the nodes that lead into it.
    layers.forEach((row, depth) => {
      if (depth > 0) {
        const parentX = (n) => {
          const xs = data.edges.filter((e) => e.to === n.name && pos.has(e.from)).map((e) => pos.get(e.from).cx);
          return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
        };
        row.sort((a, b) => parentX(a) - parentX(b));
      }
      let x = 20;
      for (const n of row) {
        const w = width(n);
        pos.set(n.name, { x, y: 20 + depth * (H + GAP_Y), w, h: H, cx: x + w / 2, layer: depth });
        x += w + GAP_X;
      }
    });
    const totalW = Math.max(...[...pos.values()].map((p) => p.x + p.w)) + 200;
    const totalH = layers.length * (H + GAP_Y) + 20;
    // Centre each row.
    for (const row of layers) {
      const right = Math.max(...row.map((n) => pos.get(n.name).x + pos.get(n.name).w));
      const shift = (totalW - 200 - right) / 2;
      for (const n of row) { const p = pos.get(n.name); p.x += shift; p.cx += shift; }
    }
    const svg = h("svg", { class: "graph", id: "graph", width: totalW, height: totalH, viewBox: `0 0 ${totalW} ${totalH}`, role: "group", "aria-label": `States of ${data.id}` },
      h("defs", {}, h("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        h("path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
    const edgeLayer = h("g", {}), labelLayer = h("g", {}), nodeLayer = h("g", {});
    svg.append(edgeLayer, nodeLayer, labelLayer);
    const pairCount = new Map();
    for (const e of data.edges) {
      const a = pos.get(e.from);
      let b = pos.get(e.to);
      let ghost = null;
      if (!b) {
        // A target that does not exist: a dashed stub ending at a red name.
        b = { x: a.x + a.w + 40, y: a.y, w: 10, h: H, cx: a.x + a.w + 60, layer: a.layer };
        ghost = h("text", { x: b.cx, y: a.y + H / 2 + 4, class: "missing", fill: "#c62828", "font-size": "12" }, `${e.to}?`);
      }
      const key = `${e.from}->${e.to}`;
      const k = pairCount.get(key) || 0;
      pairCount.set(key, k + 1);
      let d, lx, ly;
      if (ghost) {
        d = `M ${a.x + a.w} ${a.y + H / 2} L ${b.x + 8} ${a.y + H / 2}`;
        lx = a.x + a.w + 20; ly = a.y + H / 2 - 8;
      } else if (b.layer > a.layer) {
        const x1 = a.cx + k * 10, y1 = a.y + H, x2 = b.cx + k * 10, y2 = b.y;
        const my = (y1 + y2) / 2;
        d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
        lx = (x1 + x2) / 2; ly = my + k * 14;
      } else if (e.from === e.to) {
        const x = a.x + a.w, y = a.y + H / 2;
        d = `M ${x} ${y - 10} C ${x + 40} ${y - 30}, ${x + 40} ${y + 30}, ${x} ${y + 10}`;
        lx = x + 44; ly = y;
      } else {
        // Back or sideways edge: around the right side.
        const x1 = a.x + a.w, y1 = a.y + H / 2 + k * 6, x2 = b.x + b.w, y2 = b.y + H / 2 - k * 6;
        const bend = Math.max(x1, x2) + 50 + k * 18;
        d = `M ${x1} ${y1} C ${bend} ${y1}, ${bend} ${y2}, ${x2} ${y2}`;
        lx = bend - 10; ly = (y1 + y2) / 2;
      }
      edgeLayer.appendChild(h("path", { class: e.known ? "edge" : "edge unknown", d, "marker-end": "url(#arrow)" },
        h("title", {}, `${e.from} → ${e.to}${e.label ? ` (${e.label})` : ""}`)));
      if (ghost) edgeLayer.appendChild(ghost);
      if (e.label) {
        const text = e.label.length > 30 ? `${e.label.slice(0, 29)}…` : e.label;
        const w = text.length * 6.7 + 8;
        labelLayer.appendChild(h("g", { class: "edge-label" },
          h("title", {}, e.label),
          h("rect", { x: lx - w / 2, y: ly - 9, width: w, height: 16, rx: 3 }),
          h("text", { x: lx, y: ly + 3, "text-anchor": "middle" }, text)));
      }
    }
    for (const n of nodes) {
      const p = pos.get(n.name);
      const classes = ["node", n.start && "start", !n.reachable && "unreachable", (n.kind === "end" || n.kind === "handoff") && "terminal"].filter(Boolean).join(" ");
      const kindText = `${n.kind}${n.start ? " · start" : ""}${n.interrupt ? " · interrupt" : ""}${n.reachable ? "" : " · unreachable"}`;
      const g = h("g", { class: classes, tabindex: "0", role: "button", "data-state": n.name,
        // The accessible name (the <title>) starts with the visible text (WCAG 2.5.3).
        onclick: () => onPick(n), onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onPick(n); } } },
        h("title", {}, `${n.name} ${kindText}${n.line ? `, line ${n.line}` : ""}${n.reachable ? "" : " — never reached from the start state"}`),
        h("rect", { x: p.x, y: p.y, width: p.w, height: H }),
        h("text", { class: "name", x: p.cx, y: p.y + 19, "text-anchor": "middle" }, n.name),
        h("text", { class: "kind", x: p.cx, y: p.y + 35, "text-anchor": "middle" }, kindText));
      const s = stats && stats.get(n.name);
      if (s && (s.dropoffs || s.cost_micros || s.visits)) {
        const text = `${s.visits} visits · ${s.dropoffs} dropped (${(s.dropoff_rate * 100).toFixed(1)}%) · cost ${(s.cost_micros / 1e6).toFixed(4)}`;
        g.appendChild(h("text", { class: s.dropoffs ? "node-stats dropping" : "node-stats", x: p.cx, y: p.y + H + 14, "text-anchor": "middle" }, text));
      }
      nodeLayer.appendChild(g);
    }
    return svg;
  }
  Object.assign(C, { renderGraph });
})();
