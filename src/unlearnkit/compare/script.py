"""The page's script: plain JavaScript (no library), drawing every view from the inline JSON data.

Each view's container gets ``data-rendered`` = the number of marks it drew, which the browser test
reads; the attack view's slider recomputes the member rates (share of records whose confidence is at
least the threshold) in the page.
"""

SCRIPT = r"""
(function () {
"use strict";
const D = JSON.parse(document.getElementById("page-data").textContent);
const NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "line", "rect", "text", "title", "polyline", "circle", "g", "path"]);
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];
const SET_COLOURS = {forget: "#d62728", val_forget: "#1f77b4", retain: "#999999"};
const colour = {};
let k = 0;
for (const m of D.models) {
  colour[m.label] = m.role === "reference" ? (m.label === "golden" ? "#c79a00" : "#444444") : PALETTE[k++ % PALETTE.length];
}
const labels = D.models.map(m => m.label);
function el(tag, attrs, parent, text) {
  const e = SVG_TAGS.has(tag) ? document.createElementNS(NS, tag) : document.createElement(tag);
  for (const [a, v] of Object.entries(attrs || {})) e.setAttribute(a, v);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function fmt(x, d) { return x === null || x === undefined ? "—" : Number(x).toFixed(d === undefined ? 2 : d); }
function done(id, n) { document.getElementById(id).setAttribute("data-rendered", String(n)); }
function classColour(c, n) { return n <= 10 ? PALETTE.concat(["#bcbd22", "#ff7f0e"])[c % 10] : "hsl(" + Math.round(360 * c / n) + ",65%,45%)"; }
function legend(parent, names) {
  const div = el("div", {class: "legend"}, parent);
  for (const n of names) { const s = el("span", {}, div); el("i", {style: "background:" + colour[n]}, s); s.appendChild(document.createTextNode(n)); }
}

// ---------------------------------------------------------------- metrics
function metrics() {
  const box = document.getElementById("view-metrics");
  let n = 0;
  const M = D.metrics;
  for (const [label, v] of Object.entries(M.verdicts || {})) {
    const div = el("div", {class: "verdict v-" + v.verdict}, box);
    el("h3", {}, div, label + ": " + v.verdict_title);
    el("p", {}, div, v.verdict_text);
    if (v.change) el("p", {}, div, "Δ heldout_acc_gap " + fmt(v.change.value, 1) + " pp [" + fmt(v.change.low, 1) + ", " + fmt(v.change.high, 1) + "]");
    for (const q of v.questions || []) {
      const p = el("p", {}, div, q.name + ": " + (q.status || "—"));
      for (const st of q.stats) {
        const u = st.unit === undefined || st.unit === null ? "" : st.unit, d = u === "" ? 3 : 1;
        el("div", {class: "stat"}, p, st.name + " " + fmt(st.value, d) + u + " [" + fmt(st.low, d) + ", " + fmt(st.high, d) + "]" +
          (typeof st.margin === "number" ? " · margin " + fmt(st.margin, d) + (st.side ? " (" + st.side + ")" : "") : ""));
      }
    }
    if (v.margins) el("p", {class: "note"}, div, (v.basis ? "Verdict basis: " + v.basis + ". " : "") + v.margins);
    for (const w of v.warnings || []) el("p", {class: "warn"}, div, "⚠ " + w);
    n++;
  }
  if (M.headline) {
    const H = M.headline, cols = Object.keys(H.values);
    el("h3", {}, box, "Headline metrics (as recorded; |gap| to golden in brackets)");
    const t = el("table", {class: "num"}, box), hr = el("tr", {}, t);
    el("th", {}, hr, "metric");
    for (const c of cols) el("th", {style: "color:" + (colour[c] || "#000")}, hr, c);
    el("th", {}, hr, "direction");
    for (const m of H.metrics) {
      const tr = el("tr", {}, t);
      el("td", {}, tr, m);
      for (const c of cols) {
        const g = (H.gaps[c] || {})[m];
        el("td", {}, tr, fmt(H.values[c][m]) + (g !== undefined ? " (" + fmt(g) + ")" : "")); n++;
      }
      el("td", {class: "dir"}, tr, (H.cards[m] || {}).direction || "");
    }
  }
  const G = M.golden_free;
  el("h3", {}, box, "Golden-free metrics (value [95% bootstrap interval], computed for every model)");
  const t = el("table", {class: "num"}, box), hr = el("tr", {}, t);
  el("th", {}, hr, "metric");
  for (const c of labels) el("th", {style: "color:" + colour[c]}, hr, c);
  for (const m of G.metrics) {
    const tr = el("tr", {}, t);
    el("td", {}, tr, m);
    for (const c of labels) {
      const v = G.values[c][m];
      const d = m === "heldout_auc" ? 3 : 1;
      el("td", {}, tr, v ? fmt(v[0], d) + " [" + fmt(v[1], d) + ", " + fmt(v[2], d) + "]" : "absent"); n++;
    }
  }
  const recorded = labels.filter(l => !(G.computed || []).includes(l));
  el("p", {class: "note"}, box, (recorded.length ? "As recorded by the runs: " + recorded.join(", ") + ". " : "") +
     ((G.computed || []).length ? "Computed for this page (same definitions, all of D_f and V_f): " + G.computed.join(", ") + "." : ""));
  for (const [m, why] of Object.entries(G.absent || {})) el("p", {class: "note"}, box, m + " absent: " + why);
  for (const [label, marks] of Object.entries(M.marks || {})) {
    el("p", {class: "marks"}, box, label + ": " + (marks.length ? marks.join("; ") : "no marks"));
  }
  done("view-metrics", n);
}

// ---------------------------------------------------------------- class-wise accuracy
function classwise() {
  const box = document.getElementById("view-classwise");
  const sets = Object.keys(D.classwise);
  const sel = el("select", {id: "classwise-set"}, box);
  for (const s of sets) el("option", {value: s}, sel, D.sets[s].title + " (" + D.sets[s].shown + " of " + D.sets[s].total + ")");
  legend(box, labels);
  const holder = el("div", {}, box);
  function draw() {
    holder.innerHTML = "";
    const C = D.classwise[sel.value], nc = D.classes.length, nm = labels.length;
    const bw = Math.max(2, Math.min(10, Math.floor(700 / (nc * (nm + 1))))), gw = bw * (nm + 1);
    const W = 60 + nc * gw + 20, H = 230;
    const svg = el("svg", {width: W, height: H, class: "chart"}, holder);
    for (const y of [0, 25, 50, 75, 100]) {
      const yy = 20 + (100 - y) * 1.6;
      el("line", {x1: 55, x2: W - 10, y1: yy, y2: yy, class: "grid"}, svg);
      el("text", {x: 50, y: yy + 4, "text-anchor": "end"}, svg, String(y));
    }
    let n = 0;
    for (let c = 0; c < nc; c++) {
      labels.forEach((m, j) => {
        const a = C.acc[m][c];
        if (a === null) return;
        const r = el("rect", {x: 60 + c * gw + j * bw, y: 20 + (100 - a) * 1.6, width: bw - 0.5, height: a * 1.6, fill: colour[m]}, svg);
        el("title", {}, r, m + ", class " + D.classes[c] + ": " + fmt(a, 1) + "% of " + C.counts[c]);
        n++;
      });
      if (nc <= 40) el("text", {x: 60 + c * gw + gw / 2, y: 200, "text-anchor": "middle", class: "tick"}, svg, String(D.classes[c]).slice(0, 6));
    }
    el("text", {x: 60, y: 222}, svg, "overall: " + labels.map(m => m + " " + fmt(C.overall[m], 1) + "%").join(" · "));
    done("view-classwise", n);
  }
  sel.addEventListener("change", draw);
  draw();
}

// ---------------------------------------------------------------- prediction matrix
function matrix() {
  const box = document.getElementById("view-matrix");
  const nc = D.classes.length, cell = Math.max(3, Math.min(22, Math.floor(220 / nc)));
  let n = 0;
  for (const m of labels) {
    const M = D.matrix[m], fig = el("figure", {}, box);
    const cv = el("canvas", {width: nc * cell, height: nc * cell, class: "matrix", "data-model": m}, fig);
    const ctx = cv.getContext("2d");
    for (let t = 0; t < nc; t++) {
      const row = M[t], tot = row.reduce((a, b) => a + b, 0);
      for (let p = 0; p < nc; p++) {
        const f = tot ? row[p] / tot : 0;
        ctx.fillStyle = t === p ? "rgba(44,160,44," + (0.08 + 0.92 * f) + ")" : "rgba(214,39,40," + (0.04 + 0.96 * f) + ")";
        ctx.fillRect(p * cell, t * cell, cell - (cell > 4 ? 1 : 0), cell - (cell > 4 ? 1 : 0));
        if (cell >= 18 && row[p]) { ctx.fillStyle = "#000"; ctx.font = "9px sans-serif"; ctx.fillText(String(row[p]), p * cell + 2, t * cell + 12); }
        n++;
      }
    }
    const diag = M.reduce((a, row, i) => a + row[i], 0), all = M.reduce((a, row) => a + row.reduce((x, y) => x + y, 0), 0);
    el("figcaption", {style: "color:" + colour[m]}, fig, m + ": " + fmt(all ? 100 * diag / all : 0, 1) + "% on the diagonal");
  }
  done("view-matrix", n);
}

// ---------------------------------------------------------------- embedding
function embedding() {
  const box = document.getElementById("view-embedding"), E = D.embedding;
  if (E.absent) { el("p", {class: "note"}, box, "Absent: " + E.absent); done("view-embedding", 0); return; }
  const lab = el("label", {}, box), same = el("input", {type: "checkbox", id: "embed-same-axes"}, lab);
  same.checked = true;
  lab.appendChild(document.createTextNode(" same axes for every model (untick to zoom each model to its own points)"));
  const holder = el("div", {}, box), S = 260, nc = D.classes.length;
  function extent(pts) {
    const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
    return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  }
  function draw() {
    holder.innerHTML = "";
    const shared = extent(Object.values(E.points).flat());
    let n = 0;
    for (const [m, pts] of Object.entries(E.points)) {
      const [x0, x1, y0, y1] = same.checked ? shared : extent(pts);
      const sx = v => 8 + (S - 16) * (v - x0) / ((x1 - x0) || 1), sy = v => S - 8 - (S - 16) * (v - y0) / ((y1 - y0) || 1);
      const fig = el("figure", {}, holder);
      const cv = el("canvas", {width: S, height: S, class: "embed", "data-model": m}, fig), ctx = cv.getContext("2d");
      const order = [...pts.keys()].sort((a, b) => (E.set_of[a] === "forget") - (E.set_of[b] === "forget"));
      for (const i of order) {
        const s = E.set_of[i], c = classColour(E.labels[i], nc);
        ctx.beginPath();
        ctx.arc(sx(pts[i][0]), sy(pts[i][1]), s === "forget" ? 3.2 : 2, 0, 2 * Math.PI);
        if (s === "val") { ctx.strokeStyle = c; ctx.lineWidth = 1; ctx.stroke(); }
        else { ctx.fillStyle = c; ctx.globalAlpha = s === "retain" ? 0.45 : 1; ctx.fill(); ctx.globalAlpha = 1;
               if (s === "forget") { ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.stroke(); } }
        n++;
      }
      el("figcaption", {style: "color:" + colour[m]}, fig, m);
    }
    const sizes = Object.entries(E.sizes).map(([s, v]) => v + " of " + D.sets[s].title).join(", ");
    el("p", {class: "note"}, holder, "PCA fitted on " + E.fitted_on + "'s features (" + (100 * E.explained).toFixed(1) +
       "% of their variance); " + sizes + (E.left_out.length ? "; left out (other feature width): " + E.left_out.join(", ") : ""));
    done("view-embedding", n);
  }
  same.addEventListener("change", draw);
  draw();
}

// ---------------------------------------------------------------- layer-wise CKA
function cka() {
  const box = document.getElementById("view-cka"), K = D.cka;
  if (K.absent) { el("p", {class: "note"}, box, "Absent: " + K.absent); done("view-cka", 0); return; }
  const models = Object.keys(K.values), L = K.layers.length;
  legend(box, models);
  let n = 0;
  for (const target of K.targets) {
    const W = Math.max(320, 60 + 40 * L), H = 220, fig = el("figure", {}, box);
    const svg = el("svg", {width: W, height: H, class: "chart"}, fig);
    const vals = models.flatMap(m => Object.values(K.values[m][target] || {}).flat()).filter(v => v !== null);
    const y0 = Math.max(0, Math.min(0.5, Math.floor(10 * Math.min(...vals)) / 10));
    const px = i => 50 + (W - 70) * (L > 1 ? i / (L - 1) : 0.5), py = v => 15 + 170 * (1 - (v - y0) / (1 - y0));
    for (const y of [y0, (y0 + 1) / 2, 1]) { el("line", {x1: 45, x2: W - 10, y1: py(y), y2: py(y), class: "grid"}, svg); el("text", {x: 40, y: py(y) + 4, "text-anchor": "end"}, svg, String(Number(y.toFixed(2)))); }
    K.layers.forEach((name, i) => { if (L <= 24) el("text", {x: px(i), y: 205, "text-anchor": "middle", class: "tick"}, svg, name.length > 16 ? name.split(".").slice(-2).join(".") : name); });
    for (const m of models) {
      const per = K.values[m][target];
      if (!per) continue;
      K.sets.forEach(s => {
        const v = per[s], pts = v.map((y, i) => y === null ? null : [px(i), py(y)]).filter(p => p);
        el("polyline", {points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: colour[m], "stroke-width": 2, "stroke-dasharray": s === "retain" ? "5,3" : ""}, svg);
        for (const [i, y] of v.entries()) { if (y === null) continue; const c = el("circle", {cx: px(i), cy: py(y), r: 3, fill: colour[m]}, svg); el("title", {}, c, m + " vs " + target + ", " + K.layers[i] + " on " + D.sets[s].title + ": " + fmt(y, 3)); n++; }
      });
    }
    el("figcaption", {}, fig, "linear CKA to " + target + " (solid: D_f, dashed: D_r; " + Object.entries(K.sizes).map(([s, v]) => v + " of " + D.sets[s].title).join(", ") + ")");
  }
  done("view-cka", n);
}

// ---------------------------------------------------------------- attack
function attack() {
  const box = document.getElementById("view-attack"), A = D.attack, [lo, hi] = A.range, B = 40;
  const slider = document.getElementById("threshold"), out = document.getElementById("threshold-value");
  slider.min = lo; slider.max = hi; slider.step = (hi - lo) / 400; slider.value = (lo + hi) / 2;
  const lines = [];
  let n = 0;
  const figs = el("div", {class: "row"}, box);
  for (const m of labels) {
    const fig = el("figure", {}, figs), W = 300, H = 170;
    const svg = el("svg", {width: W, height: H, class: "chart hist", "data-model": m}, fig);
    const bx = v => 10 + (W - 20) * (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo);
    let peak = 0;
    const hists = {};
    for (const s of A.sets) {
      const h = new Array(B).fill(0), vals = A.scores[m][s] || [];
      for (const v of vals) h[Math.min(B - 1, Math.max(0, Math.floor(B * (v - lo) / (hi - lo))))] += 1 / (vals.length || 1);
      hists[s] = h; peak = Math.max(peak, ...h);
    }
    for (const s of A.sets) {
      const pts = hists[s].map((f, i) => [10 + (W - 20) * (i + 0.5) / B, 140 - 125 * f / (peak || 1)]);
      el("polyline", {points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: SET_COLOURS[s], "stroke-width": 2}, svg);
      n += pts.length;
    }
    el("line", {x1: 10, x2: W - 10, y1: 140, y2: 140, class: "grid"}, svg);
    el("text", {x: 10, y: 158}, svg, fmt(lo, 1)); el("text", {x: W - 10, y: 158, "text-anchor": "end"}, svg, fmt(hi, 1));
    const line = el("line", {y1: 10, y2: 140, class: "threshold"}, svg);
    lines.push([line, bx]);
    el("figcaption", {style: "color:" + colour[m]}, fig, m);
  }
  const lg = el("div", {class: "legend"}, box);
  for (const s of A.sets) { const sp = el("span", {}, lg); el("i", {style: "background:" + SET_COLOURS[s]}, sp); sp.appendChild(document.createTextNode(D.sets[s].title + " (" + D.sets[s].shown + " of " + D.sets[s].total + ")")); }
  const t = el("table", {class: "num", id: "member-rates"}, box), hr = el("tr", {}, t);
  el("th", {}, hr, "model");
  for (const s of A.sets) el("th", {}, hr, D.sets[s].title + " called member");
  if (A.sets.includes("val_forget")) el("th", {}, hr, "D_f − V_f");
  const cells = {};
  for (const m of labels) {
    const tr = el("tr", {}, t);
    el("td", {style: "color:" + colour[m]}, tr, m);
    cells[m] = {};
    for (const s of A.sets) cells[m][s] = el("td", {"data-model": m, "data-set": s, class: "rate"}, tr);
    if (A.sets.includes("val_forget")) cells[m].gap = el("td", {"data-model": m, "data-set": "gap"}, tr);
  }
  function update() {
    const th = Number(slider.value);
    out.textContent = th.toFixed(2);
    for (const [line, bx] of lines) { line.setAttribute("x1", bx(th)); line.setAttribute("x2", bx(th)); }
    for (const m of labels) {
      const r = {};
      for (const s of A.sets) {
        const vals = A.scores[m][s] || [];
        r[s] = vals.length ? 100 * vals.filter(v => v >= th).length / vals.length : null;
        cells[m][s].textContent = fmt(r[s], 1) + "%";
      }
      if (cells[m].gap) cells[m].gap.textContent = (r.forget === null || r.val_forget === null) ? "—" : (r.forget - r.val_forget >= 0 ? "+" : "") + fmt(r.forget - r.val_forget, 1) + " pp";
    }
  }
  slider.addEventListener("input", update);
  update();
  done("view-attack", n);
}

// ---------------------------------------------------------------- records most at risk
function risk() {
  const box = document.getElementById("view-risk"), R = D.at_risk;
  let n = 0;
  for (const [m, ids] of Object.entries(R.top)) {
    el("h3", {style: "color:" + colour[m]}, box, m + ": the " + ids.length + " records of D_f it is most confident on");
    const row = el("div", {class: "thumbs"}, box);
    for (const i of ids) {
      const r = R.records[i], fig = el("figure", {class: "thumb"}, row);
      if (r.thumb) el("img", {src: r.thumb, alt: r.id, width: 48, height: 48}, fig);
      const cap = el("figcaption", {}, fig);
      el("b", {}, cap, r.id); cap.appendChild(document.createTextNode(" · " + D.classes[r.label]));
      for (const l of labels) { const d = el("div", {style: "color:" + colour[l]}, cap, l + " " + fmt(r.score[l], 1)); }
      n++;
    }
  }
  done("view-risk", n);
}

for (const f of [metrics, classwise, matrix, embedding, cka, attack, risk]) {
  try { f(); } catch (e) { console.error("view " + f.name + " failed: " + e); }
}
})();
"""
