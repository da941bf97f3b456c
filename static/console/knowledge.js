// The console's knowledge page: the tenant's knowledge bases (GET …/knowledge), the
// documents of the one selected (title, chunks, version, updated), uploading a file
// (Markdown, text, HTML or PDF, sent as base64) as a document named after it, removing
// one, and a search box showing the best chunks with their scores and sources. It uses
// the admin API only (docs/knowledge.md); server text goes through text nodes.
"use strict";

(() => {
  const C = window.SwitchboardConsole;
  const { h, clear, time, toast, api, t, can, empty } = C;

  const FORMATS = { md: "markdown", markdown: "markdown", txt: "text", text: "text", html: "html", htm: "html", pdf: "pdf" };
  const enc = encodeURIComponent;

  /** The document id and format of a file, as `switchboard kb add` names them. */
  function documentOf(file) {
    const dot = file.name.lastIndexOf(".");
    const format = FORMATS[file.name.slice(dot + 1).toLowerCase()];
    const id = file.name.slice(0, dot > 0 ? dot : undefined).toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 80);
    return { id, format, title: file.name.slice(0, dot > 0 ? dot : undefined) };
  }

  /** A file's bytes in base64 (a PDF's `content`). */
  async function base64(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  function documentTable(kb, docs, reload) {
    if (!docs.length) return empty("No documents yet", `Upload Markdown, text, HTML or PDF files into ${kb}.`);
    return h("table", { id: "kb-documents" },
      h("thead", {}, h("tr", {}, ["Document", "Format", "Chunks", "Version", "Updated", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, docs.map((d) => h("tr", {},
        h("td", {}, h("div", {}, d.title), h("div", { class: "muted mono" }, d.doc_id, d.tags.length ? ` · ${d.tags.join(", ")}` : "")),
        h("td", {}, h("span", { class: "badge" }, d.format)),
        h("td", {}, String(d.chunks)), h("td", {}, `v${d.version}`), h("td", {}, time(d.updated_at)),
        h("td", {}, can("editor") ? h("button", { type: "button", class: "danger", "aria-label": `Remove ${d.title}`,
          onclick: async () => {
            if (!confirm(`Remove “${d.title}” and its ${d.chunks} chunks from ${kb}?`)) return;
            try {
              await api("DELETE", t(`/knowledge/${enc(kb)}/documents/${enc(d.doc_id)}`));
              toast(`Removed ${d.title}`);
              await reload();
            } catch (err) { toast(err.message, true); }
          } }, "Remove") : null)))));
  }

  function hitView(hit, i) {
    const link = hit.anchor && hit.source ? `${hit.source}#${hit.anchor}` : hit.source;
    const source = /^https?:\/\//.test(link) ? h("a", { href: link, target: "_blank", rel: "noopener" }, link) : h("span", { class: "mono" }, link || hit.doc_id);
    return h("li", { class: "card kb-hit" },
      h("div", { class: "kb-hit-head" }, h("span", { class: "badge" }, `#${i + 1}`), " ", h("strong", {}, hit.title),
        h("span", { class: "spacer" }),
        h("span", { class: "muted", title: "Cosine similarity to the question (what a flow's min_score compares)" }, `similarity ${hit.similarity.toFixed(3)}`),
        h("span", { class: "muted", title: "Reciprocal-rank fusion of vector and keyword rankings" }, ` · score ${hit.score.toFixed(4)}`)),
      h("p", { class: "kb-hit-text" }, hit.text.length > 420 ? `${hit.text.slice(0, 420)}…` : hit.text),
      h("div", { class: "muted" }, `${hit.kb} / ${hit.doc_id} v${hit.version} · `, source));
  }

  async function knowledge(main) {
    const { data: bases } = await api("GET", t("/knowledge"));
    const listBox = h("nav", { class: "kb-list card", id: "kb-list", "aria-label": "Knowledge bases" });
    const detail = h("div", { class: "kb-detail", id: "kb-detail" });
    let selected = bases[0]?.name || null;

    const newName = h("input", { type: "text", id: "kb-new-name", placeholder: "new-knowledge-base", "aria-label": "New knowledge base name", pattern: "[a-z0-9][a-z0-9_.-]{0,79}" });
    const create = h("form", { class: "kb-create", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("PUT", t(`/knowledge/${enc(newName.value.trim())}`), {});
        selected = newName.value.trim();
        newName.value = "";
        await renderList();
      } catch (err) { toast(err.message, true); }
    } }, newName, h("button", { type: "submit" }, "Create"));

    async function renderList() {
      const { data } = await api("GET", t("/knowledge"));
      clear(listBox).append(h("h2", {}, "Knowledge bases"),
        data.length ? h("ul", {}, data.map((b) => h("li", {},
          h("button", { type: "button", class: b.name === selected ? "kb-pick current" : "kb-pick", "aria-current": b.name === selected ? "true" : null,
            onclick: () => { selected = b.name; renderList(); } },
          h("span", { class: "mono" }, b.name), h("span", { class: "muted" }, ` ${b.documents} doc${b.documents === 1 ? "" : "s"}`))))) :
          h("p", { class: "muted" }, "None yet."),
        can("editor") ? create : null);
      await renderDetail(data.find((b) => b.name === selected));
    }

    async function renderDetail(base) {
      clear(detail);
      if (!base) return detail.append(empty("No knowledge base", "Create one, then upload the documents your flows should answer from."));
      const { data: docs } = await api("GET", t(`/knowledge/${enc(base.name)}/documents`));
      const file = h("input", { type: "file", id: "kb-file", accept: ".md,.markdown,.txt,.html,.htm,.pdf", multiple: true, hidden: true });
      const status = h("span", { class: "muted", id: "kb-upload-status", role: "status" });
      file.addEventListener("change", async () => {
        for (const f of file.files) {
          const doc = documentOf(f);
          if (!doc.format || !doc.id) { toast(`${f.name}: upload Markdown, text, HTML or PDF`, true); continue; }
          status.textContent = `Uploading ${f.name}…`;
          try {
            const content = doc.format === "pdf" ? await base64(f) : await f.text();
            const { data } = await api("PUT", t(`/knowledge/${enc(base.name)}/documents/${enc(doc.id)}`), { content, format: doc.format, title: doc.title });
            toast(data.embedded ? `${f.name}: ${data.chunks} chunks, version ${data.version}` : `${f.name}: unchanged`);
          } catch (err) { toast(`${f.name}: ${err.message}`, true); }
        }
        status.textContent = "";
        file.value = "";
        await renderList();
      });
      const query = h("input", { type: "search", id: "kb-query", placeholder: "Ask what a customer would ask…", "aria-label": "Search question" });
      const results = h("ol", { class: "kb-hits", id: "kb-hits" });
      const search = h("form", { class: "kb-search", onsubmit: async (e) => {
        e.preventDefault();
        clear(results);
        if (!query.value.trim()) return;
        try {
          const { data } = await api("POST", t("/knowledge/search"), { query: query.value, knowledge_bases: [base.name], top_k: 5 });
          if (!data.hits.length) results.append(h("li", { class: "muted" }, "Nothing found."));
          data.hits.forEach((hit, i) => results.append(hitView(hit, i)));
        } catch (err) { results.append(h("li", {}, C.banner(err))); }
      } }, query, h("button", { type: "submit", class: "primary" }, "Search"));
      detail.append(
        h("div", { class: "toolbar" }, h("h2", {}, base.name), base.description ? h("span", { class: "muted" }, base.description) : null,
          h("span", { class: "spacer" }), status,
          can("editor") ? [file, h("button", { type: "button", id: "kb-upload", class: "primary", onclick: () => file.click() }, "Upload documents")] : null),
        documentTable(base.name, docs, renderList),
        h("h2", {}, "Try a question"), search, results);
    }

    main.append(h("div", { class: "toolbar" }, h("h1", {}, "Knowledge"), h("span", { class: "spacer" }),
      h("span", { class: "muted" }, "Documents your flows answer from, with citations")),
    h("div", { class: "kb-layout" }, listBox, detail));
    await renderList();
  }

  C.knowledge = knowledge;
})();
