// newswatch pages: the little that needs JavaScript. Every page works without it; this adds
// the rule editor's live check and preview, and the source form's preview. Text from articles
// is only ever put into the page with textContent (never innerHTML), so a hostile title stays text.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]');

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  // "… the **hit** …" -> text nodes and <mark> elements.
  function highlighted(snippet) {
    const span = el("span", { class: "small" });
    const parts = (snippet || "").split("**");
    parts.forEach((part, i) => span.append(i % 2 ? el("mark", {}, [part]) : document.createTextNode(part)));
    return span;
  }

  function chart(perDay, days) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${days * 10} 70`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `matches per day over the last ${days} days`);
    const today = new Date();
    const counts = [];
    for (let n = days - 1; n >= 0; n--) {
      const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - n));
      const key = day.toISOString().slice(0, 10);
      counts.push([key, perDay[key] || 0]);
    }
    const top = Math.max(1, ...counts.map((c) => c[1]));
    counts.forEach(([key, count], i) => {
      const height = count ? (count / top) * 66 : 2;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", i * 10 + 1);
      rect.setAttribute("y", 70 - height);
      rect.setAttribute("width", 8);
      rect.setAttribute("height", height);
      if (!count) rect.setAttribute("class", "zero");
      const title = document.createElementNS(ns, "title");
      title.textContent = `${key}: ${count}`;
      rect.append(title);
      svg.append(rect);
    });
    return svg;
  }

  function sample(hit, cls, label) {
    const item = el("div", { class: "result" + (cls ? " " + cls : "") });
    item.append(el("a", { href: `/articles/${hit.id}` }, [hit.title || "(no title)"]));
    const when = (hit.published_at || hit.fetched_at || "").slice(0, 16).replace("T", " ");
    item.append(" ", el("span", { class: "small muted" }, [`${label ? label + " · " : ""}${hit.source} · ${when}`]));
    if (hit.snippet) item.append(el("br"), highlighted(hit.snippet));
    return item;
  }

  function ruleEditor(form) {
    const query = form.querySelector("#query");
    const sources = form.querySelector("#sources");
    const error = document.getElementById("query-error");
    const trial = document.getElementById("trial");
    const diff = document.getElementById("diff");
    const ruleName = form.dataset.rule;
    const savedQuery = form.dataset.savedQuery;
    let timer = null;
    let sequence = 0;

    async function refresh() {
      const text = query.value;
      const mine = ++sequence;
      if (!text.trim()) {
        error.textContent = "";
        trial.replaceChildren(el("p", { class: "muted" }, ["Type a query to see what it would have matched."]));
        diff.replaceChildren();
        return;
      }
      const chosen = sources ? Array.from(sources.selectedOptions).map((o) => o.value) : [];
      const body = { query: text, since: "30d", samples: 8 };
      if (chosen.length === 1) body.source = chosen[0];
      const result = await post("/api/v1/rules/test", body);
      if (mine !== sequence) return; // a newer keystroke is on its way
      if (!result.ok) {
        const message = (result.data && result.data.error) || `the preview failed (${result.status})`;
        error.replaceChildren(message);
        query.setAttribute("aria-invalid", "true");
        const column = result.data && result.data.column;
        if (column) {
          // The query's line with a caret under the column the error names.
          const before = text.slice(0, column - 1);
          const lineStart = before.lastIndexOf("\n") + 1;
          const lineEnd = text.indexOf("\n", lineStart);
          const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
          error.append(el("pre", { class: "caret", "aria-hidden": "true" }, [line + "\n" + " ".repeat(column - 1 - lineStart) + "^"]));
        }
        return;
      }
      error.textContent = "";
      query.removeAttribute("aria-invalid");
      const data = result.data;
      const total = el("p", {}, [el("strong", { id: "trial-total" }, [String(data.total)]), " matching articles."]);
      const list = el("div", { class: "samples" });
      data.samples.forEach((hit) => list.append(sample(hit)));
      trial.replaceChildren(total, chart(data.per_day, 30), list);
      if (ruleName && savedQuery !== undefined && text !== savedQuery) {
        const changed = await post(`/api/v1/rules/${encodeURIComponent(ruleName)}/diff`, { query: text, since: "30d" });
        if (mine !== sequence || !changed.ok) return;
        const d = changed.data;
        const parts = [
          el("h2", {}, ["What this edit changes"]),
          el("p", {}, [`${d.added_total} stories added, ${d.removed_total} removed, ${d.unchanged} unchanged.`]),
        ];
        d.added.forEach((hit) => parts.push(sample(hit, "diff-added", "added")));
        d.removed.forEach((hit) => parts.push(sample(hit, "diff-removed", "removed")));
        diff.replaceChildren(...parts);
      } else {
        diff.replaceChildren();
      }
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    }
    query.addEventListener("input", later);
    if (sources) sources.addEventListener("change", later);
    if (query.value.trim() && !document.getElementById("trial-total")) refresh();
  }

  function sourcePreview(button) {
    const form = button.form;
    const out = document.getElementById("source-preview");
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const kind = form.querySelector('[name="kind"]').value;
      const body = { [kind]: form.querySelector('[name="url"]').value };
      const links = form.querySelector('[name="links"]');
      if (kind === "listing" && links && links.value) body.links = links.value;
      const allow = form.querySelector('[name="allow_private"]');
      if (allow && allow.checked) body.allow_private = true;
      out.replaceChildren(el("p", { class: "muted" }, ["Fetching…"]));
      const result = await post("/api/v1/sources/preview", body);
      if (!result.ok) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, [(result.data && result.data.error) || `preview failed (${result.status})`]));
        return;
      }
      const data = result.data;
      const parts = [el("p", {}, [`${(data.discovered || []).length} article links found.`])];
      const list = el("ul");
      (data.discovered || []).slice(0, 15).forEach((item) => {
        const url = typeof item === "string" ? item : item.url;
        list.append(el("li", {}, [el("code", { class: "url" }, [url || ""])]));
      });
      parts.push(list);
      if (data.article) {
        parts.push(el("h3", {}, [data.article.title || "(no title)"]));
        parts.push(el("p", { class: "small" }, [(data.article.text || "").slice(0, 600)]));
      }
      out.replaceChildren(...parts);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("rule-form");
    if (form) ruleEditor(form);
    const preview = document.getElementById("preview-button");
    if (preview) sourcePreview(preview);
    document.querySelectorAll("form[data-confirm]").forEach((f) =>
      f.addEventListener("submit", (event) => {
        if (!window.confirm(f.dataset.confirm)) event.preventDefault();
      })
    );
  });
})();
