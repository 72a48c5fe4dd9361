/* The assess page: drop an image -> score with its error interval and the raters' spread, radar, critique with evidence; or a process. */
"use strict";
(() => {
  const { el, api, fmt, status } = AJ;
  const $ = (id) => document.getElementById(id);
  const NAMES = {
    composition: "Composition & Design", visual_elements: "Visual Elements & Structure",
    technical_execution: "Technical Execution", originality: "Originality & Creativity",
    theme: "Theme & Communication", emotion: "Emotion & Viewer Response", gestalt: "Overall Gestalt",
    comprehensive: "Comprehensive Evaluation", overall: "Overall", limitations: "What cannot be judged",
    perception: "Perception: colour, light, composition", cognition: "Cognition: style, subject, technique",
    emotion_level: "Emotion: mood and response",
  };
  const SHORT = {
    composition: "Composition", visual_elements: "Visual elements", technical_execution: "Technique",
    originality: "Originality", theme: "Theme", emotion: "Emotion", gestalt: "Gestalt", comprehensive: "Comprehensive",
  };
  const label = (k) => NAMES[k] || k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

  AJ.tabs([$("tab-image"), $("tab-process")]);
  AJ.tabs([$("tab-attr"), $("tab-level")]);

  api("/v1/models").then((m) => {
    const sel = $("model");
    for (const x of m.models.filter((x) => x.kind === "scorer")) {
      sel.append(el("option", { value: x.name, selected: x.name === m.default, text: x.name }));
    }
  }).catch(() => $("model").append(el("option", { value: "default", text: "default" })));

  // ------------------------------------------------------------------ image
  AJ.dropZone($("drop-image"), $("file"), (files) => assess(files[0]));

  async function assess(file) {
    const st = $("assess-status");
    status(st, `Judging ${file.name}…`);
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("critique", $("critique").checked ? "true" : "false");
    if ($("model").value) form.append("model", $("model").value);
    const prompt = $("prompt").value.trim();
    if (prompt) form.append("prompt", prompt);
    try {
      const rec = await api("/v1/assess", { body: form });
      show(rec, file);
      status(st, `Judged ${rec.input}.`);
    } catch (err) {
      $("result").hidden = true;
      status(st, `Could not judge ${file.name}: ${err.message}`, true);
    }
  }

  function show(rec, file) {
    $("result").hidden = false;
    const img = $("preview");
    if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
    img.dataset.url = URL.createObjectURL(file);
    img.src = img.dataset.url;
    $("preview-name").textContent = rec.input;
    const s = rec.overall.score, sd = rec.overall.std || 0, iv = rec.overall.interval;
    const spread = spreadText(rec.overall, "raters would spread");
    $("score").textContent = fmt(s);
    $("score-spread").textContent = spread;
    $("score").setAttribute("aria-label", `score ${fmt(s)} out of 100; ${spread.replace(/±/g, "plus or minus ")}`);
    // the band is the error interval when the model has one, else one opinion std either side
    const [lo, hi] = iv ? iv : [Math.max(0, s - sd), Math.min(100, s + sd)];
    const band = $("band"), mark = $("mark");
    band.style.left = lo + "%";
    band.style.width = (hi - lo) + "%";
    $("band-help").textContent = iv
      ? `The band is the model's ${levelText(rec.overall)} error interval: where the raters' mean probably lies, measured on images it did not learn from.`
      : "This model has no calibrated error interval; the band spans the raters' spread (one std either side).";
    mark.style.left = s + "%";
    Charts.distribution($("dist"), rec.overall.distribution, s, sd);
    $("model-line").textContent = `Model ${rec.model.id} (version ${rec.model.version})` +
      (rec.timings && rec.timings.service_s !== undefined ? ` · ${fmt(rec.timings.service_s, 2)} s` : "");
    $("result-notes").textContent = (rec.notes || []).join(" ");
    showAttributes(rec.attributes || {});
    showCritique(rec.critique, rec.evidence || {});
    showConsistency(rec.consistency);
  }

  // Two spreads, named apart (docs/record.md): the model's error interval for its score ("likely
  // 57-71, 90% interval") and how far raters would spread (the opinion distribution's std).
  function levelText(d) { return `${Math.round(100 * (d.interval_level || 0.9))}%`; }
  function spreadText(d, spreadName) {
    const parts = [];
    if (d.interval) parts.push(`likely ${fmt(d.interval[0], 0)}-${fmt(d.interval[1], 0)} (${levelText(d)} interval)`);
    if (spreadName && d.std) parts.push(`${spreadName} ±${fmt(d.std, 0)}`);
    return parts.join("; ");
  }

  // The record's consistency entry (docs/consistency.md): score, its interval and each element checked.
  // Text goes in through el(..., {text}) only, so a prompt cannot inject markup.
  function showConsistency(c) {
    const panel = $("consistency-panel");
    if (!c) { panel.hidden = true; return; }
    panel.hidden = false;
    $("cons-h").textContent = c.source === "reference" ? "Consistency with the reference" : "Consistency with the prompt";
    // a prompt's std is the calibration's residual std (the interval says it better); a reference's is its parts' spread
    const spread = c.interval ? spreadText(c, null) : (c.std ? `its parts spread ±${fmt(c.std, 0)}; no error interval (no human target)` : "");
    $("cons-score").textContent = fmt(c.score);
    $("cons-spread").textContent = spread;
    $("cons-score").setAttribute("aria-label", `consistency ${fmt(c.score)} out of 100; ${spread.replace(/±/g, "plus or minus ")}`);
    const what = c.source === "reference" ? `Reference: ${c.reference}` : `Prompt: “${c.prompt}”`;
    $("cons-line").textContent = `${what} · ${c.model}`;
    const table = $("cons-table");
    table.replaceChildren(el("tr", {}, el("th", { text: "Element" }), el("th", { text: "Kind" }),
      el("th", { text: "Found" }), el("th", { text: "Confidence" }), el("th", { text: "Checked" })));
    for (const e of c.elements || []) {
      table.append(el("tr", {}, el("td", { text: e.element }), el("td", { text: e.kind }),
        el("td", { text: e.evidence }), el("td", { text: e.checked ? fmt(e.confidence, 2) : "–" }),
        el("td", { text: e.checked ? "checked" : "unchecked" })));
    }
  }

  function showAttributes(attrs) {
    const keys = Object.keys(attrs);
    const box = $("radar-box"), table = $("attr-table");
    box.replaceChildren(); table.replaceChildren();
    if (!keys.length) {
      box.append(el("p", { class: "muted", text: "This model has no attribute heads, so no attribute scores are shown (none are invented)." }));
      return;
    }
    const items = keys.map((k) => ({ label: SHORT[k] || label(k), full: label(k), score: attrs[k].score, std: attrs[k].std,
      interval: attrs[k].interval, level: attrs[k].interval_level }));
    if (items.length >= 3) box.append(Charts.radar(items));
    table.append(el("tr", {}, el("th", { text: "Attribute" }), el("th", { text: "Score" }),
      el("th", { text: "Likely (error interval)" }), el("th", { text: "Raters ± std" })));
    for (const it of items) {
      const likely = it.interval ? `${fmt(it.interval[0], 0)}-${fmt(it.interval[1], 0)} (${levelText({ interval_level: it.level })})` : "–";
      table.append(el("tr", {}, el("td", { text: it.full }), el("td", { text: fmt(it.score) }), el("td", { text: likely }),
        el("td", { text: fmt(it.std) })));
    }
  }

  function chip(key, evidence) {
    const m = evidence[key];
    if (!m) return el("span", { class: "chip", tabindex: 0, title: "measurement", text: key });
    const unit = m.unit && m.unit !== "1" ? " " + m.unit : "";
    const q = m.qualifier && m.qualifier !== "unrated" ? ` (${m.qualifier})` : "";
    const value = typeof m.value === "number" ? fmt(m.value, Math.abs(m.value) < 10 ? 2 : 1) : String(m.value);
    return el("span", { class: "chip" + (m.valid === false ? " invalid" : ""), tabindex: 0,
      title: (m.description || key) + (m.percentile !== null && m.percentile !== undefined ? ` · percentile ${fmt(m.percentile, 0)} of reference images` : ""),
      text: `${key.replace(/_/g, " ")}: ${value}${unit}${q}` });
  }

  function sentenceList(sents, evidence) {
    return el("ul", { class: "sentences" }, (sents || []).map((s) =>
      el("li", {}, el("span", { text: s.text }),
        s.evidence_keys && s.evidence_keys.length ? el("div", { class: "chips", "aria-label": "evidence" }, s.evidence_keys.map((k) => chip(k, evidence))) : null)));
  }

  function block(title, sents, evidence) {
    if (!sents || !sents.length) return null;
    return el("div", { class: "critique-block" }, el("h4", { text: title }), sentenceList(sents, evidence));
  }

  function showCritique(crit, evidence) {
    const panel = $("critique-panel");
    if (!crit) { panel.hidden = true; return; }
    panel.hidden = false;
    $("crit-overall").replaceChildren(block("Overall", crit.overall, evidence) || "");
    $("crit-attr").replaceChildren(...Object.entries(crit.attributes || {}).map(([k, v]) => block(label(k), v, evidence)).filter(Boolean));
    $("crit-level").replaceChildren(...Object.entries(crit.levels || {}).map(([k, v]) => block(label(k === "emotion" ? "emotion_level" : k), v, evidence)).filter(Boolean));
    $("crit-limits").replaceChildren(block(label("limitations"), crit.limitations, evidence) || "");
  }

  // ------------------------------------------------------------------ process
  let processFiles = [];
  AJ.dropZone($("drop-process"), $("process-files"), (files) => {
    processFiles = files;
    $("process-go").disabled = !files.length;
    status($("process-status"), files.length === 1 ? `Ready: ${files[0].name}` : `Ready: ${files.length} frames`);
  });
  $("process-go").addEventListener("click", async () => {
    const st = $("process-status");
    const form = new FormData();
    const isVideo = processFiles.length === 1 && (processFiles[0].type.startsWith("video/") || /\.(mp4|mov|m4v|webm|mkv|avi)$/i.test(processFiles[0].name));
    if (isVideo) form.append("video", processFiles[0], processFiles[0].name);
    else processFiles.slice().sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })).forEach((f) => form.append("frames", f, f.name));
    const ref = $("reference").files[0];
    if (ref) form.append("reference", ref, ref.name);
    status(st, "Judging the process…");
    $("process-go").disabled = true;
    try {
      const res = await api("/v1/process", { body: form });
      showProcess(res);
      status(st, "Done.");
    } catch (err) {
      $("process-result").hidden = true;
      status(st, `Could not judge the process: ${err.message}`, true);
    } finally { $("process-go").disabled = false; }
  });

  function showProcess(res) {
    $("process-result").hidden = false;
    // a ProcessAssessment record (docs/record.md): scores on 0-100 with the judge's measured std;
    // PPJudge's 1-10 reading is score / 10, shown beside it
    const attrs = res.attributes || {};
    const table = $("process-table");
    // "likely" is the judge's error interval (90%, calibrated on held-out processes), not a raters' spread
    table.replaceChildren(el("tr", {}, el("th", { text: "Attribute" }), el("th", { text: "Final score (0-100)" }),
      el("th", { text: "Likely (90%)" }), el("th", { text: "± error std" }), el("th", { text: "PPJudge (1-10)" })));
    for (const [k, v] of Object.entries(attrs)) {
      const likely = v.interval ? `${fmt(v.interval[0], 0)}–${fmt(v.interval[1], 0)}` : "–";
      table.append(el("tr", {}, el("td", { text: label(k) }), el("td", { text: fmt(v.score, 1) }), el("td", { text: likely }),
        el("td", { text: v.std > 0 ? fmt(v.std, 1) : "?" }), el("td", { text: fmt(v.score / 10, 2) })));
    }
    // attributes the judge was measured unable to tell (e.g. consistency with a prompt): words, not a number
    for (const [k, why] of Object.entries(res.cant_tell || {})) {
      table.append(el("tr", { title: why }, el("td", { text: label(k) }), el("td", { text: "can't tell" }),
        el("td", { text: "–" }), el("td", { text: "–" }), el("td", { text: "–" })));
    }
    const tl = res.timeline || [];
    const idx = res.keyframe_indices || tl.map((_, i) => i);
    const pts = tl.map((row, i) => {
      const vals = Object.values(row).filter((v) => typeof v === "number");
      return { t: idx[i] ?? i, score: vals.reduce((a, b) => a + b, 0) / (vals.length || 1), label: `frame ${idx[i] ?? i}` };
    });
    $("timeline").replaceChildren(Charts.timeline(pts, { min: 0, max: 100, xlabel: "frame", label: "Mean process score (0-100) after each frame" }));
    // measured canvas signals per judged frame (artjudge.features.process_signals), 0-1
    const sig = (res.signals && res.signals.frames) || [];
    const st = $("process-signals");
    if (st) {
      st.replaceChildren();
      if (sig.length) {
        const keys = Object.keys(sig[0]);
        st.append(el("tr", {}, el("th", { text: "Frame" }), ...keys.map((k) => el("th", { text: k.replace(/_/g, " ") }))));
        sig.forEach((row, i) => st.append(el("tr", {}, el("td", { text: String(idx[i] ?? i) }),
          ...keys.map((k) => el("td", { text: fmt(row[k], 2) })))));
      }
    }
    const extra = "consistency" in attrs ? [] : ["Consistency is not judged without a reference image."];
    $("process-notes").textContent = [...extra, ...(res.notes || [])].join(" ");
  }
})();
