/* The teacher's grading page: rubrics, keyboard grading with the model's proposals, skill,
 * works with predictions, the printable class report and exports. Data is never put in
 * innerHTML: every text goes through AJ.el (textContent), as on the other pages. */
"use strict";
(() => {
  const { el, svg, api, fmt, status, download, tabs } = AJ;
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("aj-organiser-token") || "";
  let rubric = null, current = null, chosen = {}, active = 0, saving = false, pollTimer = null, trainedOn = null;
  const blobs = new Map();

  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); token = $("org-token").value.trim(); open(); });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem("aj-organiser-token"); location.hash = ""; location.reload(); });
  $("back").addEventListener("click", (e) => { e.preventDefault(); location.hash = ""; });
  window.addEventListener("hashchange", route);

  async function open() {
    try {
      await api("/v1/grade/rubrics", { token });
      sessionStorage.setItem("aj-organiser-token", token);
      $("login").hidden = true;
      route();
    } catch (err) { status($("login-status"), err.message, true); }
  }

  function route() {
    const id = Number(new URLSearchParams(location.hash.slice(1)).get("rubric"));
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    if (id) openRubric(id); else showHome();
  }

  async function showHome() {
    $("rubric").hidden = true; $("home").hidden = false; $("page-title").textContent = "Grading";
    const list = await api("/v1/grade/rubrics", { token });
    const ul = $("rubric-list");
    ul.replaceChildren(...list.map((r) => el("li", {}, el("a", { href: `#rubric=${r.id}`,
      text: `${r.name} (${r.attributes.join(", ")}; ${r.scale_min}–${r.scale_max})` }))));
    if (!list.length) ul.append(el("li", { class: "muted", text: "No rubrics yet: create one below." }));
  }

  function descriptors(text) {
    const out = {};
    for (const line of text.split("\n").map((s) => s.trim()).filter(Boolean)) {
      const m = line.match(/^(.*\S)\s+(-?\d+)\s*:\s*(.+)$/);
      if (!m) throw new Error(`words per level: "${line}" is not "attribute level: words"`);
      (out[m[1]] = out[m[1]] || {})[m[2]] = m[3];
    }
    return out;
  }

  async function addWorks(id, files, folder) {
    const form = new FormData();
    files.forEach((f) => form.append("files", f, f.name));
    if (folder) form.append("folder", folder);
    return api(`/v1/grade/rubrics/${id}/works`, { token, body: form });
  }

  $("new-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const st = $("new-status");
    try {
      const files = [...$("r-files").files], folder = $("r-folder").value.trim();
      if (!files.length && !folder) throw new Error("choose images or give a folder");
      status(st, "Creating the rubric and checking the works…");
      const r = await api("/v1/grade/rubrics", { token, json: {
        name: $("r-name").value, attributes: $("r-attrs").value.split(",").map((s) => s.trim()).filter(Boolean),
        scale_min: Number($("r-min").value), scale_max: Number($("r-max").value), descriptors: descriptors($("r-desc").value) } });
      const works = await addWorks(r.id, files, folder);
      status(st, `Created "${r.name}" with ${works.length} works.`);
      $("new-form").reset();
      location.hash = `rubric=${r.id}`;
    } catch (err) { status(st, err.message, true); }
  });

  $("add-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const works = await addWorks(rubric.id, [...$("a-files").files], $("a-folder").value.trim());
      status($("add-status"), `Added ${works.length} works.`); $("add-form").reset();
    } catch (err) { status($("add-status"), err.message, true); }
  });

  // ---------------------------------------------------------------- one rubric

  const selectTab = tabs([$("tab-grade"), $("tab-works"), $("tab-report"), $("tab-add")], (i) => {
    if (i === 1) showWorks(); else if (i === 2) showReport();
  });

  async function openRubric(id) {
    try {
      const r = await api(`/v1/grade/rubrics/${id}`, { token });
      rubric = r.rubric;
      $("home").hidden = true; $("rubric").hidden = false; $("page-title").textContent = rubric.name;
      $("rubric-meta").textContent = `${rubric.attributes.join(", ")} · scale ${rubric.scale_min}–${rubric.scale_max}`;
      selectTab(0);
      await nextWork();
      pollTimer = setInterval(refreshModel, 4000);
    } catch (err) { status($("login-status"), err.message, true); $("login").hidden = false; }
  }

  function imageUrl(workId) {
    if (!blobs.has(workId)) {
      blobs.set(workId, api(`/v1/grade/rubrics/${rubric.id}/works/${workId}/image`, { token, raw: true }).then(async (r) => {
        if (!r.ok) throw new Error(`image ${workId}: HTTP ${r.status}`);
        return URL.createObjectURL(await r.blob());
      }));
    }
    return blobs.get(workId);
  }

  function thumb(workId, caption) {
    const img = el("img", { alt: caption, class: "thumb" });
    imageUrl(workId).then((u) => { img.src = u; }).catch(() => {});
    return el("figure", { class: "thumb-fig", "data-work-id": workId }, img, el("figcaption", { text: caption }));
  }

  async function nextWork(after) {
    const q = after ? `?after=${after}` : "";
    const n = await api(`/v1/grade/rubrics/${rubric.id}/next${q}`, { token });
    showModel(n);
    current = n.work;
    $("feedback").hidden = true;
    $("grade-done").hidden = !!current; $("grade-form").hidden = !current; $("grade-figure").hidden = !current;
    if (!current) return;
    const fig = $("grade-figure");
    fig.dataset.workId = current.id; fig.dataset.key = current.key;
    $("grade-key").textContent = `${current.key} · ${n.graded} of ${n.works} graded`;
    $("grade-img").removeAttribute("src");
    imageUrl(current.id).then((u) => { if (current && Number(fig.dataset.workId) === current.id) $("grade-img").src = u; })
      .catch((e) => status($("grade-status"), e.message, true));
    renderAttributes(n.proposal);
    $("grade-note").value = "";
  }

  function renderAttributes(proposal) {
    chosen = {}; active = 0;
    const box = $("grade-attrs");
    const rows = rubric.attributes.map((a, i) => {
      const p = proposal ? proposal[a] : null;
      const words = (rubric.descriptors || {})[a] || {};
      const buttons = [];
      for (let v = rubric.scale_min; v <= rubric.scale_max; v++) {
        buttons.push(el("button", { type: "button", class: "level", "data-level": v, "aria-pressed": "false", title: words[v] || null,
          onclick: () => { choose(i, v); }, text: String(v) }));
      }
      let hint;
      if (!p) hint = el("span", { class: "muted", text: "no proposal yet" });
      else if (!p.skilled) hint = el("span", { class: "muted", text: "no proposal: the model has no measured skill here yet" });
      else hint = el("span", { class: "proposal", "data-proposed": p.proposed, "data-grade": p.grade },
        `model proposes ${p.proposed} (likely ${fmt(p.interval[0], 1)}–${fmt(p.interval[1], 1)}, ${Math.round(100 * (p.level || 0.9))}% interval)`);
      return el("div", { class: "attr-row", "data-attr": a, role: "group", "aria-label": a },
        el("span", { class: "attr-name", text: a }), el("span", { class: "levels" }, buttons), hint,
        el("span", { class: "level-words muted" }));
    });
    box.replaceChildren(...rows);
    $("grade-accept").disabled = !(proposal && Object.values(proposal).some((p) => p.skilled));
    $("grade-accept").dataset.proposal = JSON.stringify(proposal || {});
    highlight();
  }

  function choose(i, v) {
    const a = rubric.attributes[i];
    chosen[a] = v;
    const row = $("grade-attrs").children[i];
    row.querySelectorAll("button.level").forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.level) === v)));
    row.querySelector(".level-words").textContent = ((rubric.descriptors || {})[a] || {})[v] || "";
    const after = rubric.attributes.findIndex((b, k) => k > i && chosen[b] === undefined);
    active = after >= 0 ? after : Math.min(i + 1, rubric.attributes.length - 1);
    highlight();
  }

  function highlight() {
    [...$("grade-attrs").children].forEach((row, i) => row.classList.toggle("active", i === active));
  }

  function accept() {
    const p = JSON.parse($("grade-accept").dataset.proposal || "{}");
    rubric.attributes.forEach((a, i) => { if (p[a] && p[a].skilled) choose(i, p[a].proposed); });
    const missing = rubric.attributes.findIndex((a) => chosen[a] === undefined);
    active = missing >= 0 ? missing : active; highlight();
  }

  $("grade-accept").addEventListener("click", accept);
  $("grade-later").addEventListener("click", () => current && nextWork(current.id));
  $("grade-feedback").addEventListener("click", () => showFeedback());
  $("grade-form").addEventListener("submit", (e) => { e.preventDefault(); save(); });

  async function save() {
    if (!current || saving) return;
    const missing = rubric.attributes.filter((a) => chosen[a] === undefined);
    if (missing.length) { status($("grade-status"), `Grade ${missing.join(", ")} first.`, true); return; }
    saving = true;
    try {
      const r = await api(`/v1/grade/rubrics/${rubric.id}/works/${current.id}/grade`, { token, method: "PUT",
        json: { scores: chosen, note: $("grade-note").value } });
      status($("grade-status"), `Saved ${current.key} (${r.source}). ${r.graded} graded.`);
      await nextWork();
    } catch (err) { status($("grade-status"), err.message, true); }
    finally { saving = false; }
  }

  document.addEventListener("keydown", (e) => {
    if ($("view-grade").hidden || $("rubric").hidden || !current || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target === $("grade-note")) { if (e.key === "Escape") $("grade-note").blur(); return; }
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
    const lo = rubric.scale_min, hi = rubric.scale_max;
    if (/^[0-9]$/.test(e.key) && Number(e.key) >= lo && Number(e.key) <= hi) { choose(active, Number(e.key)); e.preventDefault(); }
    else if (e.key === "ArrowDown") { active = Math.min(active + 1, rubric.attributes.length - 1); highlight(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); highlight(); e.preventDefault(); }
    else if (e.key === "Enter" && !(e.target instanceof HTMLButtonElement)) { save(); e.preventDefault(); }
    else if (e.key === "a" || e.key === "A") { if (!$("grade-accept").disabled) accept(); e.preventDefault(); }
    else if (e.key === "n" || e.key === "N") { $("grade-note").focus(); e.preventDefault(); }
    else if (e.key === "l" || e.key === "L") { nextWork(current.id); e.preventDefault(); }
    else if (e.key === "f" || e.key === "F") { showFeedback(); e.preventDefault(); }
  });

  async function showFeedback() {
    if (!current) return;
    const box = $("feedback-body");
    $("feedback").hidden = false;
    box.replaceChildren(el("p", { class: "muted", text: "Writing feedback…" }));
    try {
      const f = await api(`/v1/grade/rubrics/${rubric.id}/works/${current.id}/feedback`, { token });
      box.replaceChildren(
        f.overall ? el("p", { text: f.overall }) : "",
        ...Object.entries(f.attributes).map(([a, t]) => el("p", {}, el("strong", { text: `${a}: ` }), t)),
        ...(f.notes || []).map((n) => el("p", { class: "notes", text: n })));
    } catch (err) { box.replaceChildren(el("p", { class: "status error", text: err.message })); }
  }

  // ---------------------------------------------------------------- the model's state

  async function refreshModel() {
    if ($("rubric").hidden || !rubric) return;
    try { showModel(await api(`/v1/grade/rubrics/${rubric.id}/model`, { token })); } catch (err) { /* shown on the next action */ }
  }

  function showModel(st) {
    const m = st.model;
    if (trainedOn !== null && m.trained_on !== trainedOn && current && !Object.keys(chosen).length) refreshProposal(current.id).catch(() => {});
    trainedOn = m.trained_on;
    const line = m.status === "trained"
      ? `Trained on ${m.trained_on} of your ${st.graded} grades; it retrains as you grade.`
      : m.status === "failed" ? `Training failed: ${m.error}` : `Collecting: the model trains after 20 graded works (${st.graded} so far).`;
    $("model-line").textContent = line + (m.working ? ` Now ${m.working}…` : "");
    $("model-line").dataset.status = m.status; $("model-line").dataset.trainedOn = m.trained_on;
    const t = $("skill-table");
    const heads = (m.skill && m.skill.heads) || {};
    const cal = (m.calibration && m.calibration.heads) || {};
    t.replaceChildren(el("tr", {}, ...["Attribute", "Agreement with you (CV SRCC)", "95% CI", "Trusted?", "90% interval covers"].map((h) => el("th", { text: h }))));
    for (const a of rubric.attributes) {
      const h = heads[a], c = cal[a];
      t.append(el("tr", { "data-attr": a }, el("td", { text: a }), el("td", { text: h ? fmt(h.cv_srcc, 2) : "–" }),
        el("td", { text: h ? `${fmt(h.ci[0], 2)} to ${fmt(h.ci[1], 2)}` : "–" }),
        el("td", { class: h ? (h.skilled ? "ok" : "warn") : "", text: h ? (h.skilled ? "yes: proposes grades" : "not yet: no proposals") : "–" }),
        el("td", { text: c && c.coverage !== null && c.coverage !== undefined ? `${Math.round(100 * c.coverage)}% of held-out grades` : "–" })));
    }
  }

  async function refreshProposal(workId) {
    // the model retrained while this work was on screen, before any grade was keyed: show its proposal now
    const p = await api(`/v1/grade/rubrics/${rubric.id}/works/${workId}/proposal`, { token });
    if (current && current.id === workId && !Object.keys(chosen).length) renderAttributes(p.proposal);
  }

  // ---------------------------------------------------------------- works

  async function showWorks() {
    const works = await api(`/v1/grade/rubrics/${rubric.id}/works`, { token });
    const t = $("works-table");
    t.replaceChildren(el("tr", {}, el("th", { text: "Work" }), el("th", { text: "Whose" }), ...rubric.attributes.map((a) => el("th", { text: a }))));
    for (const w of works) {
      const cells = rubric.attributes.map((a) => {
        if (w.grade) return el("td", { text: String(w.grade.scores[a]) });
        const p = w.prediction && w.prediction[a];
        return p ? el("td", { class: "pred", "data-grade": p.grade, text: `≈ ${fmt(p.grade, 1)} (${fmt(p.interval[0], 1)}–${fmt(p.interval[1], 1)})` }) : el("td", { class: "muted", text: "–" });
      });
      const whose = w.grade ? (w.grade.source === "teacher" ? "you" : `you (${w.grade.source})`) : w.prediction ? "model (prediction)" : "not graded";
      t.append(el("tr", { "data-work-id": w.id, "data-key": w.key }, el("td", { text: w.key }), el("td", { text: whose }), ...cells));
    }
  }

  // ---------------------------------------------------------------- the class report

  function bars(d, scaleName) {
    const levels = d.levels, max = Math.max(1, ...d.teacher, ...d.model);
    const W = 320, H = 150, pad = 24, bw = (W - 2 * pad) / levels.length;
    const g = svg("svg", { viewBox: `0 0 ${W} ${H + 30}`, role: "img", "aria-label": `Grade distribution of ${scaleName}`, class: "dist" });
    levels.forEach((v, i) => {
      const x = pad + i * bw, ht = (H - 20) * d.teacher[i] / max, hm = (H - 20) * d.model[i] / max;
      g.append(svg("rect", { x: x + 4, y: H - ht, width: bw / 2 - 5, height: ht, class: "bar-teacher" }, svg("title", { text: `${d.teacher[i]} graded ${v}` })));
      g.append(svg("rect", { x: x + bw / 2, y: H - hm, width: bw / 2 - 5, height: hm, class: "bar-model" }, svg("title", { text: `${d.model[i]} predicted ${v}` })));
      g.append(svg("text", { x: x + bw / 2, y: H + 16, "text-anchor": "middle", text: String(v) }));
    });
    return g;
  }

  async function showReport() {
    const r = await api(`/v1/grade/rubrics/${rubric.id}/report`, { token });
    const heads = (r.skill && r.skill.heads) || {};
    const parts = [
      el("h2", { text: `Class report: ${r.rubric.name}` }),
      el("p", { text: `${r.graded} of ${r.works} works graded by you (${Object.entries(r.sources).map(([k, v]) => `${v} ${k}`).join(", ") || "none"}); ` +
        "the model's predictions for the rest are counted apart and only where it has skill." }),
      el("p", { class: "legend" }, el("span", { class: "key-teacher" }), " your grades ", el("span", { class: "key-model" }), " model's predictions (ungraded works)"),
    ];
    const charts = el("div", { class: "charts" });
    for (const a of r.rubric.attributes) {
      const h = heads[a];
      charts.append(el("figure", { class: "chart", "data-attr": a }, bars(r.distributions[a], a),
        el("figcaption", { text: `${a}` + (h ? ` · agreement ${fmt(h.cv_srcc, 2)} [${fmt(h.ci[0], 2)}, ${fmt(h.ci[1], 2)}]${h.skilled ? "" : " · not yet trusted"}` : "") })));
    }
    parts.push(el("h3", { text: "Grade distributions" }), charts);
    parts.push(el("h3", { text: "Where the model and you disagree most" }),
      el("p", { class: "muted", text: "Each work's grade against the model's prediction from the other works' grades (cross-validation): a check on the grading's consistency." }));
    const dt = el("table", { class: "data", id: "disagreements" }, el("tr", {}, ...["Work", "", "Attribute", "Your grade", "Model", "Gap"].map((h) => el("th", { text: h }))));
    for (const d of r.disagreements) {
      dt.append(el("tr", {}, el("td", { text: d.key }), el("td", {}, thumb(d.work_id, d.key)), el("td", { text: d.attribute }),
        el("td", { text: String(d.grade) }), el("td", { text: fmt(d.model, 1) }), el("td", { text: fmt(d.gap, 1) })));
    }
    if (!r.disagreements.length) dt.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "None yet (the model needs 20 grades and skill)." })));
    parts.push(el("div", { class: "table-scroll" }, dt), el("h3", { text: "Exemplars per attribute (your highest grades)" }));
    for (const a of r.rubric.attributes) {
      parts.push(el("div", { class: "exemplars", "data-attr": a }, el("strong", { text: a }),
        el("div", { class: "row" }, r.exemplars[a].map((x) => thumb(x.work_id, `${x.key} · ${x.grade}`)))));
    }
    const pr = Object.entries(r.proposals || {});
    if (pr.length) {
      parts.push(el("h3", { text: "The model's proposals, checked against your grades" }),
        el("ul", {}, pr.map(([a, p]) => el("li", { text: `${a}: ${p.exact} of ${p.n} proposals were your grade; your grade fell inside the interval for ${p.within_interval} (${Math.round(100 * p.coverage)}%)` }))));
    }
    $("report").replaceChildren(...parts);
  }

  $("print").addEventListener("click", () => window.print());
  async function exportAs(ext, type) {
    try {
      const resp = await api(`/v1/grade/rubrics/${rubric.id}/export.${ext}`, { token, raw: true });
      if (!resp.ok) throw new Error(`export: HTTP ${resp.status}`);
      const text = await resp.text();
      download(`rubric${rubric.id}-grades.${ext}`, text, type);
      status($("export-status"), `Exported rubric${rubric.id}-grades.${ext}.`);
    } catch (err) { status($("export-status"), err.message, true); }
  }
  $("export-csv").addEventListener("click", () => exportAs("csv", "text/csv"));
  $("export-json").addEventListener("click", () => exportAs("json", "application/json"));

  if (token) open();
})();
