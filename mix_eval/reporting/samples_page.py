"""The answers explorer as one self-contained page: inline CSS, one inline script, and
the data (`mix_eval.reporting.samples`) as one embedded JSON blob.

The page opens from ``file://`` and fetches nothing: a Content-Security-Policy allows
no source at all but the inline style and the one script, by its hash, so neither a
value from the files nor anything else can load or run code. Values are escaped twice
over: in the blob, ``<``, ``>`` and ``&`` are JSON escapes (no text can end the script
element that holds it), and the script shows every value as text (``textContent``,
never markup). Rows are drawn only where the list is scrolled to, so 10,000 items
filter in milliseconds.
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from mix_eval.folders import REPORT_HTML_FILE, SAMPLES_FILE, SCORE_FILE

TITLE = "MixEval answers explorer"
DATA_ID = "explorer-data"

CSS = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --right: #1a7f37; --wrong: #cf222e;
        --partly: #9a6700; --none: #8c959f; --accent: #0969da; }
* { box-sizing: border-box; }
html, body { height: 100%; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       background: #f6f8fa; display: flex; flex-direction: column; }
header { flex: none; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 12px; }
h1 { font-size: 1.2rem; margin: 0; display: inline; }
.muted { color: var(--muted); font-size: .85rem; }
.bar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin-top: 6px; }
label { font-size: .85rem; color: var(--muted); }
select, input[type=search] { font: inherit; font-size: .85rem; padding: 2px 4px; max-width: 16em; }
input[type=search] { flex: 1 1 18em; max-width: 36em; }
button.chip { font: inherit; font-size: .85rem; border: 1px solid var(--line); background: #f6f8fa; border-radius: 12px;
              padding: 1px 10px; cursor: pointer; }
button.chip[aria-pressed=true] { background: #ddf4ff; border-color: var(--accent); color: #0550ae; font-weight: 600; }
button.chip:disabled { opacity: .5; cursor: default; }
.n { font-variant-numeric: tabular-nums; }
#status { font-size: .9rem; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(300px, 2fr) 3fr; }
#list { overflow-y: auto; border-right: 1px solid var(--line); background: #fff; position: relative; }
#rows { position: relative; }
a.row { position: absolute; left: 0; right: 0; height: 58px; padding: 4px 10px; border-bottom: 1px solid #eaeef2;
        color: inherit; text-decoration: none; overflow: hidden; }
a.row:hover { background: #f6f8fa; }
a.row.current { background: #fff8c5; }
.row .meta { font-size: .8rem; color: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row .text { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-block; min-width: 1.4em; text-align: center; border-radius: 4px; font-size: .75rem;
         font-weight: 700; color: #fff; padding: 0 3px; margin-right: 2px; }
.badge.right { background: var(--right); } .badge.wrong { background: var(--wrong); }
.badge.partly { background: var(--partly); } .badge.none { background: var(--none); }
.flag { display: inline-block; font-size: .72rem; border-radius: 4px; padding: 0 4px; margin-right: 3px;
        background: #fff1e5; color: #953800; border: 1px solid #ffb77c; }
.flag.disagree { background: #fbefff; color: #8250df; border-color: #d8b9ff; }
.side { font-size: .72rem; color: var(--muted); margin: 0 2px 0 4px; }
#empty { padding: 16px; color: var(--muted); }
#detail { overflow-y: auto; padding: 12px 16px 40px; }
#detail h2 { font-size: 1.1rem; margin: 0 0 4px; overflow-wrap: anywhere; }
#detail h3 { font-size: .95rem; margin: 14px 0 4px; border-top: 1px solid var(--line); padding-top: 8px; }
#detail h4 { font-size: .9rem; margin: 8px 0 4px; }
pre.text { white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo,
           Consolas, monospace; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px;
           margin: 4px 0; }
details > summary { cursor: pointer; color: var(--accent); font-size: .85rem; }
ol.options { list-style: none; padding: 0; margin: 4px 0; }
ol.options li { padding: 2px 6px; border-radius: 4px; }
ol.options li.gold { background: #dafbe1; font-weight: 600; }
.verdict { border: 1px solid var(--line); border-radius: 6px; background: #fff; padding: 6px 8px; margin: 6px 0; }
.notice { border-left: 4px solid #bf8700; background: #fff8c5; padding: 4px 8px; margin: 6px 0; font-size: .9rem; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.pair > div { min-width: 0; }
@media (max-width: 800px) {
  main { display: block; overflow-y: auto; }
  #list { height: 45vh; border-right: none; border-bottom: 1px solid var(--line); }
  #detail { overflow: visible; }
  .pair { grid-template-columns: 1fr; }
}
"""

BODY = """
<header>
<h1>{title}</h1> <span class="muted" id="where"></span> · <a href="{report}">report</a>
<div class="bar" id="filters">
<label>model <select id="f-model"></select></label>
<label>benchmark <select id="f-benchmark"></select></label>
<label>version <select id="f-version"></select></label>
<label>split <select id="f-split"></select></label>
<label>sub-benchmark <select id="f-task"></select></label>
<label>verdicts of <select id="f-judge"></select></label>
<input id="f-search" type="search" placeholder="search questions, options, answers, responses, judge replies"
 aria-label="search">
</div>
<div class="bar" id="chips">
<button class="chip" data-verdict="" aria-pressed="true">all <span class="n" id="n-all"></span></button>
<button class="chip" data-verdict="right" aria-pressed="false">right <span class="n" id="n-right"></span></button>
<button class="chip" data-verdict="wrong" aria-pressed="false">wrong <span class="n" id="n-wrong"></span></button>
<button class="chip" data-verdict="partly" aria-pressed="false">partly right <span class="n" id="n-partly"></span></button>
<button class="chip" data-verdict="none" aria-pressed="false">no verdict <span class="n" id="n-none"></span></button>
<button class="chip" id="t-disagree" aria-pressed="false">judges disagree <span class="n" id="n-disagree"></span></button>
<button class="chip" id="t-flagged" aria-pressed="false">flagged (random verdict or blocked)
 <span class="n" id="n-flagged"></span></button>
</div>
<div class="bar" id="compare">
<label>side by side: A <select id="c-a"></select></label>
<label>B <select id="c-b"></select></label>
<label>on the same items <select id="c-pair" disabled></select></label>
</div>
<div class="bar" id="status"><span><strong class="n" id="n-shown"></strong> of <span class="n" id="n-total"></span>
 items shown</span> <span class="muted" id="notes"></span></div>
</header>
<main>
<div id="list"><div id="rows"></div></div>
<article id="detail"><p class="muted">Pick an item in the list, or open a link to one
({samples}#model/benchmark/version/ff-or-mp/id).</p></article>
</main>
"""

SCRIPT = r"""
(function () {
"use strict";
const D = JSON.parse(document.getElementById("explorer-data").textContent);
const S = D.strings, ITEMS = D.items, RUNS = D.runs, JUDGES = D.judges, SPLITS = D.splits;
const F = {}, V = {};
D.fields.item.forEach((name, i) => { F[name] = i; });
D.fields.verdict.forEach((name, i) => { V[name] = i; });
const RANDOM = D.flags.random, BLOCKED = D.flags.blocked, DISAGREE = D.flags.disagree;
const ROW_H = 58;
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "data") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}
const str = (i) => (i >= 0 ? S[i] : null);

// Keys: model/benchmark/version/ff-or-mp/id, each part URI-encoded.
const slotOf = (it) => {
  const r = RUNS[it[F.run]];
  return [r.benchmark, r.version, SPLITS[it[F.split]].tag, it[F.id]].map(encodeURIComponent).join("/");
};
const KEYS = ITEMS.map((it) => encodeURIComponent(RUNS[it[F.run]].model) + "/" + slotOf(it));
const BY_KEY = new Map(KEYS.map((k, i) => [k, i]));
const BY_MODEL_SLOT = new Map(ITEMS.map((it, i) => [RUNS[it[F.run]].model + "\u0000" + slotOf(it), i]));
const partner = (i, model) => {
  const p = BY_MODEL_SLOT.get(model + "\u0000" + slotOf(ITEMS[i]));
  return p === undefined ? -1 : p;
};

let LOWER = null;  // the texts in lower case, made on the first search
const lower = () => LOWER || (LOWER = S.map((s) => s.toLowerCase()));

const state = { model: "", benchmark: "", version: "", split: "", task: -1, judge: -1, q: "", verdict: "",
                disagree: false, flagged: false, a: "", b: "", pair: "" };
let rows = [];  // item indexes shown, in order
let current = -1;

function judgeOf(it) {
  return state.judge >= 0 ? state.judge : RUNS[it[F.run]].scored[it[F.split]];
}
function verdictOf(i) {
  const it = ITEMS[i], j = judgeOf(it);
  for (const v of it[F.verdicts]) if (v[V.judge] === j) return v;
  return null;
}
function outcome(v) {
  if (!v) return "none";
  const s = v[V.score];
  return s >= 1 ? "right" : s <= 0 ? "wrong" : "partly";
}
function hit(i, q) {
  const it = ITEMS[i], L = lower();
  const has = (s) => s >= 0 && L[s].indexOf(q) !== -1;
  if (it[F.id].toLowerCase().indexOf(q) !== -1) return true;
  if (has(it[F.benchmark_name]) || has(it[F.context]) || has(it[F.prompt]) || has(it[F.response]) ||
      has(it[F.response_extracted])) return true;
  if (it[F.options]) for (const s of it[F.options]) if (has(s)) return true;
  if (Array.isArray(it[F.target])) for (const s of it[F.target]) if (has(s)) return true;
  for (const v of it[F.verdicts]) if (has(v[V.reply]) || has(v[V.answer])) return true;
  return false;
}
const PAIRS = [["", "any verdicts"], ["right-wrong", "A right, B wrong"], ["wrong-right", "A wrong, B right"],
               ["right-right", "both right"], ["wrong-wrong", "both wrong"], ["differ", "different verdicts"]];
function pairOk(a, b, pair) {
  return pair === "differ" ? a !== b : pair === a + "-" + b;
}
const comparing = () => state.a !== "" && state.b !== "" && state.a !== state.b;

function apply() {
  const t0 = performance.now();
  const q = state.q.trim().toLowerCase();
  const cmp = comparing();
  const n = { all: 0, right: 0, wrong: 0, partly: 0, none: 0, disagree: 0, flagged: 0 };
  const shown = [];
  for (let i = 0; i < ITEMS.length; i++) {
    const it = ITEMS[i], r = RUNS[it[F.run]];
    let p = -1;
    if (cmp) {
      if (r.model !== state.a) continue;
      p = partner(i, state.b);
      if (p < 0) continue;
    } else if (state.model !== "" && r.model !== state.model) continue;
    if (state.benchmark !== "" && r.benchmark !== state.benchmark) continue;
    if (state.version !== "" && r.version !== state.version) continue;
    if (state.split !== "" && it[F.split] !== +state.split) continue;
    if (state.task >= 0 && it[F.benchmark_name] !== state.task) continue;
    if (q && !hit(i, q) && !(p >= 0 && hit(p, q))) continue;
    const o = outcome(verdictOf(i));
    if (cmp && state.pair !== "" && !pairOk(o, outcome(verdictOf(p)), state.pair)) continue;
    const flags = it[F.flags] | (p >= 0 ? ITEMS[p][F.flags] : 0);
    const dis = (flags & DISAGREE) !== 0, flg = (flags & (RANDOM | BLOCKED)) !== 0;
    const okV = state.verdict === "" || state.verdict === o, okD = !state.disagree || dis,
          okF = !state.flagged || flg;
    if (okD && okF) { n.all++; n[o]++; }
    if (okV && okF && dis) n.disagree++;
    if (okV && okD && flg) n.flagged++;
    if (okV && okD && okF) shown.push(i);
  }
  rows = shown;
  for (const k of Object.keys(n)) $("n-" + k).textContent = String(n[k]);
  $("n-shown").textContent = String(rows.length);
  $("rows").style.height = (rows.length * ROW_H) + "px";
  const list = $("list");
  if (list.scrollTop > rows.length * ROW_H) list.scrollTop = 0;
  drawRows();
  document.body.dataset.filterMs = (performance.now() - t0).toFixed(1);
}

function badges(i, parent) {
  const it = ITEMS[i], chosen = judgeOf(it);
  for (const v of it[F.verdicts]) {
    const o = outcome(v);
    const mark = { right: "\u2713", wrong: "\u2717", partly: "\u00bd", none: "\u2013" }[o];
    const name = JUDGES[v[V.judge]];
    parent.appendChild(el("span", { class: "badge " + o + (v[V.judge] === chosen ? " chosen" : ""),
                                    title: name + ": " + o }, mark));
  }
  if (!it[F.verdicts].length) parent.appendChild(el("span", { class: "badge none", title: "no judged file" }, "\u2013"));
}
function flagMarks(flags, parent) {
  if (flags & RANDOM) parent.appendChild(el("span", { class: "flag random" }, "random verdict"));
  if (flags & BLOCKED) parent.appendChild(el("span", { class: "flag blocked" }, "blocked"));
  if (flags & DISAGREE) parent.appendChild(el("span", { class: "flag disagree" }, "judges disagree"));
}
function rowEl(k) {
  const i = rows[k], it = ITEMS[i], r = RUNS[it[F.run]];
  const a = el("a", { class: "row" + (i === current ? " current" : ""), href: "#" + KEYS[i], data: { key: KEYS[i] } });
  a.style.top = (k * ROW_H) + "px";
  const meta = el("div", { class: "meta" });
  const cmp = comparing();
  if (cmp) meta.appendChild(el("span", { class: "side" }, "A"));
  badges(i, meta);
  let flags = it[F.flags];
  if (cmp) {
    const p = partner(i, state.b);
    meta.appendChild(el("span", { class: "side" }, "B"));
    badges(p, meta);
    flags |= ITEMS[p][F.flags];
  }
  flagMarks(flags, meta);
  meta.appendChild(document.createTextNode(" #" + it[F.id] + " \u00b7 " + str(it[F.benchmark_name]) + " \u00b7 " +
      SPLITS[it[F.split]].label + " \u00b7 " + r.benchmark + " " + r.version + " \u00b7 " + r.model));
  a.appendChild(meta);
  a.appendChild(el("div", { class: "text" }, (str(it[F.prompt]) || "").slice(0, 200)));
  return a;
}
function drawRows() {
  const list = $("list"), box = $("rows");
  if (!rows.length) {
    box.replaceChildren(el("div", { id: "empty" }, "No item matches these filters."));
    return;
  }
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 5);
  const last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_H) + 5);
  const frag = document.createDocumentFragment();
  for (let k = first; k < last; k++) frag.appendChild(rowEl(k));
  box.replaceChildren(frag);
}

// ---- one item
function folded(label, text, limit) {
  if (text.length <= limit) return [el("h4", null, label), el("pre", { class: "text" }, text)];
  return [el("details", null, el("summary", null, label + " (" + text.length + " characters: show)"),
             el("pre", { class: "text" }, text))];
}
function answers(i) {
  const it = ITEMS[i], out = [];
  if (it[F.options]) {
    const ol = el("ol", { class: "options" });
    it[F.options].forEach((s, k) => {
      const letter = String.fromCharCode(65 + k);
      const gold = k === it[F.target];
      ol.appendChild(el("li", { class: gold ? "gold" : "", data: { letter: letter } },
                        letter + ". " + str(s) + (gold ? "   \u2190 gold answer" : "")));
    });
    out.push(el("h3", null, "Options"), ol);
  } else {
    const ul = el("ul", { class: "gold-answers" });
    for (const s of it[F.target]) ul.appendChild(el("li", null, str(s)));
    out.push(el("h3", null, "Gold answer(s)"), ul);
  }
  return out;
}
function verdictsOf(i) {
  const it = ITEMS[i], chosen = judgeOf(it), out = [];
  if (!it[F.verdicts].length) out.push(el("p", { class: "muted" }, "No judged file holds this item."));
  for (const v of it[F.verdicts]) {
    const name = JUDGES[v[V.judge]], o = outcome(v), answer = str(v[V.answer]), rule = name === D.rule;
    let said = "";  // what the judge answered, where it is more than the score
    if (answer !== null && it[F.options]) said = " \u00b7 picked " + answer + " (gold " +
        String.fromCharCode(65 + it[F.target]) + ")";
    else if (answer !== null && rule) said = " \u00b7 read " + answer;
    const head = el("div", null, el("span", { class: "badge " + o }, o === "partly" ? "partly right" : o), " ",
                    el("strong", null, rule ? "rule parser" : name),
                    v[V.judge] === RUNS[it[F.run]].scored[it[F.split]] ? " (__SCORE_FILE__'s)" : "",
                    " \u00b7 score " + v[V.score] + said);
    const box = el("div", { class: "verdict" + (v[V.judge] === chosen ? " chosen" : ""), data: { judge: name } }, head);
    if (v[V.flags] & RANDOM) box.appendChild(el("div", { class: "notice" },
        "Random verdict: the judge gave no valid verdict in any round, so the score was drawn at random."));
    if (v[V.flags] & BLOCKED) box.appendChild(el("div", { class: "notice" },
        "Blocked: the judge's API refused this request (HTTP 400) in its last round; the item is scored " +
        (it[F.options] ? "with a random letter." : "0.")));
    const reply = str(v[V.reply]);
    if (reply !== null) for (const node of folded("reply", reply, 1200)) box.appendChild(node);
    out.push(box);
  }
  return out;
}
function responseOf(i) {
  const it = ITEMS[i], out = [el("h4", null, "Response"), el("pre", { class: "text response" }, str(it[F.response]))];
  const cut = str(it[F.response_extracted]);
  if (cut !== null) out.push(el("h4", null, "Response as judged (the base model's answer cut out)"),
                             el("pre", { class: "text" }, cut));
  return out;
}
function show(i) {
  current = i;
  const it = ITEMS[i], r = RUNS[it[F.run]];
  const det = $("detail");
  const parts = [
    el("h2", null, r.model + " \u00b7 " + r.benchmark + " " + r.version + " \u00b7 " + SPLITS[it[F.split]].label +
       " \u00b7 item " + it[F.id]),
    el("div", { class: "muted" }, str(it[F.benchmark_name]) + " \u00b7 ",
       el("a", { href: "#" + KEYS[i], class: "permalink" }, "link to this item")),
  ];
  const flags = el("div");
  flagMarks(it[F.flags], flags);
  parts.push(flags, el("h3", null, "Question"));
  const context = str(it[F.context]);
  if (context !== null) parts.push(...folded("Context", context, 600));
  parts.push(el("pre", { class: "text prompt" }, str(it[F.prompt])));
  parts.push(...answers(i));
  const other = comparing() && (r.model === state.a || r.model === state.b)
      ? partner(i, r.model === state.a ? state.b : state.a) : -1;
  if (other >= 0) {
    const col = (j, side) => el("div", { class: "side-" + side },
        el("h3", null, side + ": " + RUNS[ITEMS[j][F.run]].model), ...responseOf(j), el("h4", null, "Verdicts"),
        ...verdictsOf(j));
    const [a, b] = r.model === state.a ? [i, other] : [other, i];
    parts.push(el("div", { class: "pair" }, col(a, "A"), col(b, "B")));
  } else {
    parts.push(el("h3", null, "Answer"), ...responseOf(i), el("h3", null, "Verdicts"), ...verdictsOf(i));
  }
  det.replaceChildren(...parts);
  det.dataset.key = KEYS[i];
  det.scrollTop = 0;
  drawRows();
}
function reveal(i) {
  const k = rows.indexOf(i), list = $("list");
  if (k < 0) return;
  const top = k * ROW_H;
  if (top < list.scrollTop || top + ROW_H > list.scrollTop + list.clientHeight) {
    list.scrollTop = Math.max(0, top - list.clientHeight / 3);
  }
  drawRows();
}
function fromHash() {
  const h = location.hash.slice(1);
  if (!h) return;
  let i;
  try {
    i = BY_KEY.get(h.split("/").map((p) => encodeURIComponent(decodeURIComponent(p))).join("/"));
  } catch (e) { i = undefined; }
  if (i === undefined) {
    $("detail").replaceChildren(el("p", { class: "notice" }, "No item " + h + " in this folder."));
    delete $("detail").dataset.key;
    return;
  }
  show(i);
  reveal(i);
}

// ---- controls
function fill(id, options) {
  const select = $(id);
  select.replaceChildren(...options.map(([value, label]) => el("option", { value: String(value) }, label)));
}
const uniq = (xs) => Array.from(new Set(xs)).sort();
const models = uniq(RUNS.map((r) => r.model));
fill("f-model", [["", "all models"]].concat(models.map((m) => [m, m])));
fill("f-benchmark", [["", "all"]].concat(uniq(RUNS.map((r) => r.benchmark)).map((b) => [b, b])));
fill("f-version", [["", "all"]].concat(uniq(RUNS.map((r) => r.version)).map((v) => [v, v])));
fill("f-split", [["", "both"]].concat(SPLITS.map((s, k) => [k, s.label])));
const tasks = uniq(ITEMS.map((it) => str(it[F.benchmark_name])));
fill("f-task", [["-1", "all"]].concat(tasks.map((t) => [S.indexOf(t), t])));
fill("f-judge", [["-1", "__SCORE_FILE__'s judge"]].concat(JUDGES.map((j, k) => [k, j === D.rule ? "rule parser" : j])));
fill("c-a", [["", "\u2013"]].concat(models.map((m) => [m, m])));
fill("c-b", [["", "\u2013"]].concat(models.map((m) => [m, m])));
fill("c-pair", PAIRS);

const bind = (id, key, parse) => $(id).addEventListener("change", (e) => {
  state[key] = parse ? parse(e.target.value) : e.target.value;
  $("c-pair").disabled = !comparing();
  $("f-model").disabled = comparing();
  apply();
  if (current >= 0) show(current);
});
bind("f-model", "model"); bind("f-benchmark", "benchmark"); bind("f-version", "version");
bind("f-split", "split"); bind("f-task", "task", Number); bind("f-judge", "judge", Number);
bind("c-a", "a"); bind("c-b", "b"); bind("c-pair", "pair");
$("f-search").addEventListener("input", (e) => { state.q = e.target.value; apply(); });
for (const b of document.querySelectorAll("button[data-verdict]")) {
  b.addEventListener("click", () => {
    state.verdict = b.dataset.verdict;
    for (const o of document.querySelectorAll("button[data-verdict]")) {
      o.setAttribute("aria-pressed", String(o === b));
    }
    apply();
  });
}
for (const [id, key] of [["t-disagree", "disagree"], ["t-flagged", "flagged"]]) {
  $(id).addEventListener("click", () => {
    state[key] = !state[key];
    $(id).setAttribute("aria-pressed", String(state[key]));
    apply();
  });
}
let pending = false;
$("list").addEventListener("scroll", () => {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; drawRows(); });
});
window.addEventListener("resize", drawRows);
window.addEventListener("hashchange", fromHash);

$("where").textContent = D.root + " \u00b7 written " + D.generated + " \u00b7 " + RUNS.length + " scored folder(s)";
$("n-total").textContent = String(ITEMS.length);
if (D.notes.length) {
  $("notes").textContent = D.notes.length + " note(s): " + D.notes.join("; ");
}
apply();
fromHash();
document.body.dataset.ready = "1";
})();
""".replace("__SCORE_FILE__", SCORE_FILE)


def embed_json(data: Any) -> str:
    """JSON that cannot end the ``<script>`` element holding it: ``<``, ``>`` and ``&``
    (and the two line separators JavaScript once refused) written as JSON escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a file: a JSON escape too (\\udxxx)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def render(data: dict[str, Any]) -> str:
    """The page of `mix_eval.reporting.samples.explorer_data`'s data."""
    assert "</script" not in SCRIPT.lower() and "<!--" not in SCRIPT
    policy = (f"default-src 'none'; style-src 'unsafe-inline'; script-src '{_script_hash(SCRIPT)}'; "
              "base-uri 'none'; form-action 'none'")
    return "".join([
        "<!DOCTYPE html>\n",
        '<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{TITLE}</title>\n",
        f"<style>{CSS}</style></head><body>",
        BODY.replace("{title}", TITLE).replace("{report}", REPORT_HTML_FILE).replace("{samples}", SAMPLES_FILE),
        f'<script type="application/json" id="{DATA_ID}">{embed_json(data)}</script>\n',
        f"<script>{SCRIPT}</script>\n",
        "</body></html>\n",
    ])
