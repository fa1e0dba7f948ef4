/* clue report: transcript list (filters, pages) and lazy transcript view. No network, no dependencies. */
(function () {
  "use strict";
  var C = {key: 0, run: 1, split: 2, dataset: 3, prompt: 4, outcome: 5, reward: 6, pair: 7, repeat: 8,
           tokens: 9, chunk: 10, slot: 11};
  var PAGE = 50;
  var meta = JSON.parse(document.getElementById("transcript-meta").textContent);
  var chunkTexts = null;  // the packed chunks, parsed on the first open
  var chunkCache = new Map();
  var byKey = new Map();
  meta.index.forEach(function (row) { byKey.set(row[C.key], row); });
  var filtered = meta.index;
  var page = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function uniq(values) { return Array.from(new Set(values)); }

  // ---- list ------------------------------------------------------------------------------------------
  var form = document.getElementById("transcript-filters");
  function fillSelect(name, options) {
    var select = form.querySelector('[data-filter="' + name + '"]');
    select.appendChild(el("option", "", "all")).value = "";
    options.forEach(function (o) { var opt = el("option", "", o[1]); opt.value = String(o[0]); select.appendChild(opt); });
  }

  function currentFilters() {
    var f = {};
    form.querySelectorAll("[data-filter]").forEach(function (input) { f[input.dataset.filter] = input.value; });
    return f;
  }

  function applyFilters() {
    var f = currentFilters();
    var text = (f.text || "").trim().toLowerCase();
    filtered = meta.index.filter(function (r) {
      return (f.run === "" || String(r[C.run]) === f.run) && (f.split === "" || r[C.split] === f.split) &&
        (f.dataset === "" || String(r[C.dataset]) === f.dataset) &&
        (f.prompt === "" || String(r[C.prompt]) === f.prompt) &&
        (f.outcome === "" || r[C.outcome] === f.outcome) &&
        (text === "" || r[C.pair].toLowerCase().indexOf(text) >= 0);
    });
    page = 0;
    renderPage();
  }

  function renderPage() {
    var tbody = document.querySelector("#transcript-table tbody");
    var pages = Math.max(1, Math.ceil(filtered.length / PAGE));
    page = Math.min(page, pages - 1);
    var rows = document.createDocumentFragment();
    filtered.slice(page * PAGE, (page + 1) * PAGE).forEach(function (r) {
      var tr = el("tr", "o-" + r[C.outcome]);
      tr.dataset.key = r[C.key];
      [meta.runs[r[C.run]], r[C.split], meta.datasets[r[C.dataset]], meta.prompts[r[C.prompt]], r[C.pair],
       r[C.repeat], r[C.outcome], r[C.reward], r[C.tokens]].forEach(function (v) { tr.appendChild(el("td", "", v)); });
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
    document.getElementById("transcript-count").textContent =
      filtered.length + " of " + meta.index.length + " rollouts match";
    document.getElementById("page-label").textContent = "page " + (page + 1) + " of " + pages;
  }

  // ---- one transcript --------------------------------------------------------------------------------
  function decodeChunk(index) {
    if (chunkCache.has(index)) { return chunkCache.get(index); }
    if (chunkTexts === null) {
      chunkTexts = JSON.parse(document.getElementById("transcript-chunks").textContent);
    }
    var binary = atob(chunkTexts[index]);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    var promise = new Response(stream).text().then(JSON.parse);
    chunkCache.set(index, promise);
    return promise;
  }

  function resolve(value, texts) {
    if (Array.isArray(value)) { return value.map(function (v) { return resolve(v, texts); }); }
    if (value && typeof value === "object") {
      if (Object.keys(value).length === 1 && typeof value.$t === "number") { return texts[value.$t]; }
      var out = {};
      Object.keys(value).forEach(function (k) { out[k] = resolve(value[k], texts); });
      return out;
    }
    return value;
  }

  function block(title, text, cls) {
    var box = el("div", "block " + (cls || ""));
    box.appendChild(el("h5", "", title));
    box.appendChild(el("pre", "text", text === "" ? "(empty)" : text));
    return box;
  }

  function fold(title, content, open) {
    var d = el("details", "fold");
    d.open = !!open;
    d.appendChild(el("summary", "", title));
    d.appendChild(content);
    return d;
  }

  function chat(messages, reply, prefix) {
    var box = el("div", "chat");
    if (prefix) {  // stored compactly: the earlier messages are the previous call of this role and its reply
      box.appendChild(el("p", "muted small", "… " + prefix + " earlier messages: the previous " +
        "call of this role and its reply, above"));
    }
    messages.forEach(function (m) { box.appendChild(block(m.role, m.content, "msg m-" + m.role)); });
    if (reply !== undefined) { box.appendChild(block("assistant (reply)", reply, "msg m-assistant")); }
    return box;
  }

  function llmTitle(e) {
    return e.role + " call · " + e.prompt_tokens + "+" + e.completion_tokens + " tokens · " +
      (e.cached ? "cached" : e.latency_s.toFixed(2) + " s") + (e.finish_reason !== "stop" ? " · " + e.finish_reason : "");
  }

  function renderRecord(r, outcome) {
    var view = el("div", "record");
    view.dataset.rollout = r.rollout_id;
    var head = el("div", "record-head");
    head.appendChild(el("h4", "", r.dataset + " · " + r.pair_key + " · repeat " + r.repeat));
    head.appendChild(el("span", "badge s-" + outcome, outcome));
    head.appendChild(el("p", "small muted", r.run + " · " + r.split + " · prompt " + r.prompt_name + " (" +
      r.prompt_hash.slice(0, 8) + ") · " + r.tokens + " tokens · " + r.latency_s.toFixed(2) + " s"));
    view.appendChild(head);
    var events = r.events || [];
    var extractor = events.filter(function (e) { return e.kind === "llm" && e.role === "extractor"; });
    if (extractor.length) {
      var sources = extractor[0].messages.filter(function (m) { return m.role !== "system"; });
      view.appendChild(fold("Source (as the extractor read it)", chat(sources), true));
      var system = extractor[0].messages.filter(function (m) { return m.role === "system"; });
      if (system.length) { view.appendChild(fold("Extraction prompt", block("system", system[0].content))); }
    } else {
      view.appendChild(el("p", "muted", "The source was not recorded in this rollout."));
    }
    view.appendChild(block("Memory", r.memory, "memory"));
    events.forEach(function (e) {
      if (e.kind === "llm" && e !== extractor[0]) {
        view.appendChild(fold(llmTitle(e), chat(e.messages, e.reply, e.prefix), e.role === "solver"));
      } else if (e.kind === "code") {
        var code = el("div", "code-run");
        code.appendChild(block("code", e.code));
        code.appendChild(block("stdout", e.stdout));
        if (e.stderr) { code.appendChild(block("stderr", e.stderr, "stderr")); }
        view.appendChild(fold("code run · exit " + (e.exit_code === null ? "none" : e.exit_code) + (e.timed_out ? " · timed out" : "") +
          (e.limit ? " · limit " + e.limit : "") + " · " + e.seconds.toFixed(2) + " s", code, true));
      } else if (e.kind === "reset") {
        view.appendChild(block("environment reset: first observation", e.observation, "env-step"));
      } else if (e.kind === "step") {
        var step = el("div", "env-step");
        step.appendChild(el("h5", "", "step " + e.index + " · reward " + e.reward + (e.done ? " · done" : "")));
        step.appendChild(block("action", e.action));
        step.appendChild(block("observation", e.observation));
        view.appendChild(step);
      } else if (e.kind === "note") {
        view.appendChild(el("p", "muted small", "note: " + e.text));
      }
    });
    if (!events.some(function (e) { return e.kind === "llm" && e.role === "solver"; }) && r.solver_output) {
      view.appendChild(block("Solver output", r.solver_output));
    }
    var score = el("div", "score-detail");
    score.appendChild(el("h5", "", "Score"));
    score.appendChild(el("p", "", "reward " + r.reward + (r.success !== null ? " · success " + r.success : "") +
      (r.infra_failure ? " · infrastructure failure (not scored)" : "")));
    events.filter(function (e) { return e.kind === "score"; }).forEach(function (e) {
      score.appendChild(el("p", "", "scorer: reward " + e.reward + (e.detail ? " — " + e.detail : "")));
    });
    if (r.score_detail) { score.appendChild(el("pre", "text", r.score_detail)); }
    if (r.error) { score.appendChild(el("pre", "text stderr", r.error)); }
    (r.notes || []).forEach(function (n) { score.appendChild(el("p", "muted small", n)); });
    view.appendChild(score);
    return view;
  }

  function openTranscript(key) {
    var row = byKey.get(key);
    var target = document.getElementById("transcript-view");
    if (!row) { target.replaceChildren(el("p", "warn", "No rollout " + key + " in this report.")); return; }
    document.querySelectorAll("#transcript-table tr.open").forEach(function (tr) { tr.classList.remove("open"); });
    var tr = document.querySelector('#transcript-table tr[data-key="' + CSS.escape(key) + '"]');
    if (tr) { tr.classList.add("open"); }
    target.replaceChildren(el("p", "muted", "opening…"));
    decodeChunk(row[C.chunk]).then(function (chunk) {
      target.replaceChildren(renderRecord(resolve(chunk.records[row[C.slot]], chunk.texts), row[C.outcome]));
      target.dataset.open = key;
      history.replaceState(null, "", "#rollout=" + encodeURIComponent(key));
    }).catch(function (err) {
      target.replaceChildren(el("p", "warn", "Could not open this transcript: " + err));
      console.error(err);
    });
  }

  if (form) {
    fillSelect("run", meta.runs.map(function (n, i) { return [i, n]; }));
    fillSelect("split", uniq(meta.index.map(function (r) { return r[C.split]; })).sort().map(function (s) { return [s, s]; }));
    fillSelect("dataset", meta.datasets.map(function (n, i) { return [i, n]; }));
    fillSelect("prompt", meta.prompts.map(function (n, i) { return [i, n]; }));
    fillSelect("outcome", ["success", "failure", "error"].map(function (s) { return [s, s]; }));
    form.addEventListener("input", applyFilters);
    form.addEventListener("change", applyFilters);
    document.getElementById("page-prev").addEventListener("click", function () { page = Math.max(0, page - 1); renderPage(); });
    document.getElementById("page-next").addEventListener("click", function () { page += 1; renderPage(); });
    document.querySelector("#transcript-table tbody").addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-key]");
      if (tr) { openTranscript(tr.dataset.key); }
    });
    renderPage();
  }
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest("[data-open]");
    if (link) {
      ev.preventDefault();
      openTranscript(link.dataset.open);
      document.getElementById("transcript-view").scrollIntoView();
    }
    var expand = ev.target.closest("button.expand");
    if (expand) {
      var section = document.getElementById(expand.dataset.target);
      var details = section.querySelectorAll("details");
      var open = expand.textContent === "open all";
      details.forEach(function (d) { d.open = open; });
      expand.textContent = open ? "close all" : "open all";
    }
  });
  if (location.hash.indexOf("#rollout=") === 0) {  // a shared link to one transcript
    openTranscript(decodeURIComponent(location.hash.slice("#rollout=".length)));
    document.getElementById("transcripts").scrollIntoView();
  }
  document.documentElement.dataset.loadMs = String(Math.round(performance.now()));
  document.documentElement.dataset.ready = "1";
}());
