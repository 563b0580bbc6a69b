
(function () {
"use strict";
const D = JSON.parse(document.getElementById("explorer-data").textContent);
const S = D.strings, ITEMS = D.items, RUNS = D.runs, JUDGES = D.judges, SPLITS = D.splits;
const F = {}, V = {}, T = {};
D.fields.item.forEach((name, i) => { F[name] = i; });
D.fields.verdict.forEach((name, i) => { V[name] = i; });
D.fields.thinking.forEach((name, i) => { T[name] = i; });
const RANDOM = D.flags.random, BLOCKED = D.flags.blocked, DISAGREE = D.flags.disagree, CUT = D.flags.cut_off;
const THINKING = D.thinking || null;  // present when a model thought
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
                disagree: false, flagged: false, cut: false, a: "", b: "", pair: "" };
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
  if (it[F.thinking] && has(it[F.thinking][T.text])) return true;
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
  const n = { all: 0, right: 0, wrong: 0, partly: 0, none: 0, disagree: 0, flagged: 0, cut: 0 };
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
    const dis = (flags & DISAGREE) !== 0, flg = (flags & (RANDOM | BLOCKED)) !== 0, cut = (flags & CUT) !== 0;
    const okV = state.verdict === "" || state.verdict === o, okD = !state.disagree || dis,
          okF = !state.flagged || flg, okC = !state.cut || cut;
    if (okD && okF && okC) { n.all++; n[o]++; }
    if (okV && okF && okC && dis) n.disagree++;
    if (okV && okD && okC && flg) n.flagged++;
    if (okV && okD && okF && cut) n.cut++;
    if (okV && okD && okF && okC) shown.push(i);
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
  if (flags & CUT) parent.appendChild(el("span", { class: "flag cut-off" }, "cut off while thinking"));
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
function thinkingOf(i) {
  const it = ITEMS[i], t = it[F.thinking], out = [];
  if (!t) return out;
  const text = str(t[T.text]), tokens = t[T.tokens];
  const counted = tokens !== null ? tokens.toLocaleString("en-US") + " tokens" : "";
  if (it[F.flags] & CUT) out.push(el("div", { class: "notice cut-off" },
      "Cut off while thinking: the token budget ran out before the answer began, so the response is empty " +
      "and scored as an empty answer. To fix: " + (THINKING ? THINKING.advice : "") + "."));
  if (text === null) {
    out.push(el("p", { class: "muted thinking-hidden" },
                "Thinking: hidden by the API" + (counted ? " (" + counted + ")" : "") + "."));
  } else {
    const size = text.length.toLocaleString("en-US") + " characters" + (counted ? ", " + counted : "");
    out.push(el("details", { class: "thinking" }, el("summary", null, "Thinking (" + size + "): show"),
                el("pre", { class: "text thinking" }, text)));
  }
  return out;
}
function responseOf(i) {
  const it = ITEMS[i], out = [el("h4", null, "Response"), el("pre", { class: "text response" }, str(it[F.response]))];
  out.push(...thinkingOf(i));
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
for (const [id, key] of [["t-disagree", "disagree"], ["t-flagged", "flagged"], ["t-cut", "cut"]]) {
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
if (THINKING) $("t-cut").hidden = false;  // the filter is there only where a model thought
if (D.notes.length) {
  $("notes").textContent = D.notes.length + " note(s): " + D.notes.join("; ");
}
apply();
fromHash();
document.body.dataset.ready = "1";
})();
