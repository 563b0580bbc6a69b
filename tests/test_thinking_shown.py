"""Answers cut off while thinking, counted, shown and fixable wherever a run is read:
`check_eval_complete`'s log, ``run_manifest.json`` (with the thinking settings, the
model's tokens and their cost per split), the report (``report.html``, ``report.md``) and
the answers explorer (the thinking folded under each answer, a flag and a filter), each
count equal to the one the test computes from the lines it wrote or the replies its
server gave. A folder whose model did not think shows none of it."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from html import escape
from pathlib import Path

import pytest
from browser import Browser
from conftest import (
    JUDGE_KEY, REF_RESPONSES, is_judge_request, judge_reply, make_responses, model_answer, read_jsonl,
)

from mix_eval.compute_metrics import main as compute_main
from mix_eval.evaluate import main as evaluate_main
from mix_eval.reporting.collect import collect
from mix_eval.reporting.markdown import escape_md
from mix_eval.reporting.samples import CUT_OFF, THINKING_KEPT, explorer_data, shorten_thinking, thinking_limit
from mix_eval.responses import write_status
from mix_eval.settings import ReportSettings
from mix_eval.thinking import cut_off_advice, cut_off_line
from mix_eval.utils.check_eval_complete import CLOSING_LINE
from mix_eval.utils.check_eval_complete import main as check_main

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
PLANTED = '</pre><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & <b>bold</b>'


def _words(text: str) -> int:
    return len(text.split())


class ThinkingServer:
    """A model that thinks in ``<think>`` tags (as a vLLM server without a reasoning parser
    answers) and the judge, on one loopback server. About a third of the answers never
    close the tag (the budget ran out while thinking); one thinking holds markup. Every
    model reply is kept, to count what the files must say."""

    def __init__(self) -> None:
        self.replies: dict[str, dict] = {}  # by the question asked
        self.lock = threading.Lock()  # the server answers requests in parallel

    def __call__(self, body: dict) -> str:
        if is_judge_request(body):
            return judge_reply(body)
        question = body["messages"][-1]["content"]
        digest = int(hashlib.md5(question.encode()).hexdigest(), 16)
        thinking = f"Let me think about item {digest % 1000}. " + "Step by step, " * (digest % 7)
        with self.lock:
            if not self.replies:
                thinking += PLANTED
            cut = digest % 3 == 0
            text = f"<think>{thinking}" if cut else f"<think>{thinking}</think>{model_answer(body)}"
            prompt = sum(_words(str(m.get("content", ""))) for m in body["messages"])
            self.replies[question] = {"cut": cut, "thinking": thinking, "prompt": prompt, "completion": _words(text)}
        return text


def test_an_api_model_that_thinks_is_counted_the_same_in_every_file(clean_env, data_path, tmp_path, capsys):
    from fake_openai_server import FakeOpenAIServer

    clean_env.setenv("MODEL_PARSER_API", JUDGE_KEY)
    model = ThinkingServer()
    out = tmp_path / "out"
    with FakeOpenAIServer(reply=model) as server:
        code = evaluate_main(["--model_name", "openai_compatible", "--model_base_url", server.base_url,
                              "--model_id", "org/thinker", "--output_name", "thinker", "--benchmark", "mixeval_hard",
                              "--version", VERSION, "--batch_size", "4", "--data_path", str(data_path),
                              "--output_dir", str(out), "--limit", "15", "--api_base_url", server.base_url,
                              "--reasoning_tags", "<think>,</think>", "--model_price", "1.5,6"])
    assert code == 0
    vdir = out / "thinker" / "mixeval_hard" / VERSION
    # what the server said, per split (each item asked once)
    expected = {}
    for split in SPLITS:
        lines = read_jsonl(vdir / f"thinker_{split}.jsonl")
        asked = [model.replies[line["formated_input"]] for line in lines]
        assert len(asked) == 15
        expected[split] = {"answers": 15, "with_thinking": 15, "cut_off": sum(r["cut"] for r in asked),
                           "prompt": sum(r["prompt"] for r in asked), "completion": sum(r["completion"] for r in asked)}
        # the lines say the same: the thinking kept, the cut-off ones flagged
        assert [line["reasoning"] for line in lines] == [r["thinking"].strip() for r in asked]
        assert [line["thinking_cut_off"] for line in lines] == [r["cut"] for r in asked]
    assert all(0 < e["cut_off"] < 15 for e in expected.values()), expected
    printed = capsys.readouterr().out
    for split in SPLITS:  # the line evaluate ended generation with
        assert f"{split}: {expected[split]['cut_off']} of 15 answers were cut off while thinking" in printed

    # the status file (the generation loop's counts)
    for split in SPLITS:
        status = json.loads((vdir / f"status_{split}.json").read_text())
        e = expected[split]
        assert status["status"]["thinking"] == {k: e[k] for k in ("answers", "with_thinking", "cut_off")}

    # run_manifest.json: settings, counts, tokens, cost at --model_price, per split
    manifest = json.loads((vdir / "run_manifest.json").read_text())
    for split in SPLITS:
        entry, e = manifest["generation"]["splits"][split], expected[split]
        assert entry["thinking_settings"] == {"reasoning_tags": "<think>,</think>"}  # the flags given
        assert entry["thinking"] == {k: e[k] for k in ("answers", "with_thinking", "cut_off")}
        assert entry["tokens"] == {"prompt": e["prompt"], "completion": e["completion"], "reasoning": None,
                                   "answers_with_usage": 15}
        assert entry["cost_usd"] == pytest.approx((e["prompt"] * 1.5 + e["completion"] * 6) / 1e6, abs=1e-6)
        assert entry["price"] == {"input": 1.5, "output": 6.0, "from": "given"} and entry["model_mode"] == "live"

    # the report: the share cut off and the fix, the settings, tokens and cost per split
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for split, label in zip(SPLITS, ("free-form", "multiple-choice")):
        e = expected[split]
        words = cut_off_line(e["cut_off"], 15)
        share = f"{100 * e['cut_off'] / 15:.1f}%"
        assert f"{label}: {words} ({share}; no answer after the thinking, scored as an empty answer)" in page
        assert f"<td>{words} ({share})</td>" in page
        assert f"<td>{e['prompt']:,} in / {e['completion']:,} out</td>" in page
        cost = (e["prompt"] * 1.5 + e["completion"] * 6) / 1e6
        assert f"<td>${cost:.4f} (--model_price)</td>" in page
        assert f"| {words} ({share}) |" in md
    assert page.count(f"To fix: {cut_off_advice()}") == 1
    assert "<h4>Model health</h4>" in page and "Model health:" in md
    settings = ("Asked to think with --reasoning_effort not given (the model's default); --thinking_budget not given "
                "(the model's default); --reasoning_tags <think>,</think>; --chat_template_kwargs not given (none).")
    assert f'<p class="thinking-settings">{escape(settings)}</p>' in page
    assert escape_md(settings) in md

    # check_eval_complete lists each file with cut-off answers, counted from the file
    log = tmp_path / "checks.log"
    assert check_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--chat_models_to_check", "thinker",
                       "--base_models_to_check", "none", "--model_response_dir", str(out), "--out_path", str(log),
                       "--n_closefreeform_hard", "15", "--n_closemultichoice_hard", "15"]) == 1  # a --limit run
    lines = log.read_text().splitlines()
    warnings = lines[lines.index(CLOSING_LINE) + 1:]
    assert [w.split(" (")[0] for w in warnings] == [
        f"Warning: {vdir / f'thinker_{split}.jsonl'}: {cut_off_line(expected[split]['cut_off'], 15)}"
        for split in SPLITS]
    assert all(w.endswith(f"To fix: {cut_off_advice()}.") for w in warnings)

    # the explorer: the filter shows exactly the cut-off answers; the thinking is text
    cut_keys = sorted(f"thinker/mixeval_hard/{VERSION}/{tag}/{line['id']}" for split, tag in zip(SPLITS, ("ff", "mp"))
                      for line in read_jsonl(vdir / f"thinker_{split}.jsonl") if line["thinking_cut_off"])
    assert len(cut_keys) == sum(e["cut_off"] for e in expected.values())
    planted = next(f"thinker/mixeval_hard/{VERSION}/{tag}/{line['id']}" for split, tag in zip(SPLITS, ("ff", "mp"))
                   for line in read_jsonl(vdir / f"thinker_{split}.jsonl") if PLANTED in line["reasoning"])
    html = (out / "samples.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<script", html, re.I)) == 2 and PLANTED not in html
    from test_samples import listed_keys

    with Browser(tmp_path / "chromium") as browser:
        browser.open((out / "samples.html").as_uri())
        assert browser.run("document.body.dataset.ready") == "1"
        assert browser.run("document.getElementById('t-cut').hidden") is False
        assert browser.run("Number(document.getElementById('n-cut').textContent)") == len(cut_keys)
        browser.click("#t-cut")
        assert browser.run("Number(document.getElementById('n-shown').textContent)") == len(cut_keys)
        assert sorted(listed_keys(browser)) == cut_keys
        assert browser.run("document.querySelectorAll('a.row .flag.cut-off').length") > 0
        # the filter and a verdict chip together: the counts follow
        browser.click('button[data-verdict="wrong"]')
        wrong_cut = browser.run("Number(document.getElementById('n-shown').textContent)")
        assert wrong_cut == browser.run("Number(document.getElementById('n-cut').textContent)") <= len(cut_keys)
        browser.click('button[data-verdict=""]')
        browser.click("#t-cut")
        assert browser.run("Number(document.getElementById('n-shown').textContent)") == 30
        # a cut-off answer: the flag, the notice with the fix, the thinking folded under it
        browser.run(f"location.hash = {json.dumps(cut_keys[0])}")
        browser.settle()
        detail = browser.text("#detail")
        assert "cut off while thinking" in detail and cut_off_advice() in detail
        assert browser.run("document.querySelector('#detail details.thinking').open") is False
        # the planted markup in a thinking: shown as text, nothing of it runs
        browser.run(f"location.hash = {json.dumps(planted)}")
        browser.settle()
        browser.run("document.querySelector('#detail details.thinking').open = true")
        assert PLANTED in browser.text("#detail pre.thinking")
        assert browser.run("typeof window.__pwned") == "undefined"
        assert browser.run("document.scripts.length") == 2
        assert browser.run("document.querySelectorAll('#detail img, #detail b, #detail script').length") == 0
        # the search reaches the thinking
        browser.type("#f-search", "onerror=")
        assert browser.run("Number(document.getElementById('n-shown').textContent)") == 1
        assert browser.problems() == []


# ---------------------------------------------------------------- files written by hand


def _reference_folder(root: Path, model: str) -> Path:
    """The reference's MixEval-Hard responses under ``model``, with complete status files."""
    vdir = make_responses(root, model, "mixeval_hard")
    for split in SPLITS:
        write_status(vdir / f"status_{split}.json", {"model_name": model, "split": split, "limit": None},
                     batch_id=1, time_elapsed=10.0, state="complete")
    return vdir


def _think(vdir: Path, model: str, split: str, cut: set[int], *, hidden: bool = False,
           usage: bool = True) -> list[dict]:
    """Make the lines of a split those of a model that thought: usage on every line (none
    without ``usage``), the thinking (or, ``hidden``, only its token count), and the lines
    ``cut`` cut off."""
    path = vdir / f"{model}_{split}.jsonl"
    lines = read_jsonl(path)
    for i, line in enumerate(lines):
        if not hidden:
            line["reasoning"] = f"Thinking {i}: " + "hmm " * (i % 5)
        if usage:
            line["reasoning_tokens"] = 10 + i
            line["usage"] = {"prompt_tokens": 100 + i, "completion_tokens": 20 + 2 * i}
        line["thinking_cut_off"] = i in cut
        if i in cut:
            line["response"] = ""
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return lines


def _check(root: Path, log: Path) -> int:
    return check_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--chat_models_to_check", "m",
                       "--base_models_to_check", "none", "--model_response_dir", str(root), "--out_path", str(log)])


def test_check_eval_complete_warns_of_cut_off_answers_without_failing_a_complete_folder(tmp_path, capsys):
    root = tmp_path / "responses"
    vdir = _reference_folder(root, "m")
    log = tmp_path / "checks.log"
    assert _check(root, log) == 0 and log.read_text().splitlines() == [CLOSING_LINE]
    # thinking, none cut off: nothing to say; then 1 and 37 of 500 cut off
    _think(vdir, "m", SPLITS[1], set())
    assert _check(root, log) == 0 and log.read_text().splitlines() == [CLOSING_LINE] * 2
    _think(vdir, "m", SPLITS[0], {3})
    _think(vdir, "m", SPLITS[1], set(range(0, 370, 10)))
    # the status file's tally says otherwise: the file is the truth
    status = vdir / f"status_{SPLITS[0]}.json"
    doc = json.loads(status.read_text())
    doc["status"]["thinking"] = {"answers": 500, "with_thinking": 500, "cut_off": 99}
    status.write_text(json.dumps(doc))
    capsys.readouterr()
    assert _check(root, log) == 0
    new = log.read_text().splitlines()[2:]
    assert new[0] == CLOSING_LINE
    assert [w.split(" (")[0] for w in new[1:]] == [
        f"Warning: {vdir / f'm_{SPLITS[0]}.jsonl'}: 1 of 500 answers cut off while thinking",
        f"Warning: {vdir / f'm_{SPLITS[1]}.jsonl'}: 37 of 500 answers cut off while thinking"]
    assert capsys.readouterr().out.splitlines() == new
    # an incomplete folder: its problem line above the closing line, the warning below it
    path = vdir / f"m_{SPLITS[0]}.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:400]))
    assert _check(root, log) == 1
    new = log.read_text().splitlines()[5:]
    assert new[0].startswith(f"Directory {vdir} has issues.") and new[1] == CLOSING_LINE
    assert new[2].startswith(f"Warning: {path}: 1 of 400 answers cut off while thinking")


def test_a_folder_without_thinking_shows_none_of_it_and_with_thinking_every_count(tmp_path):
    root = tmp_path / "responses"
    vdir = _reference_folder(root, "m")
    rule = ["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
            "--free_form_parser", "rule", "--multi_choice_parser", "rule"]
    assert compute_main(rule) == 0
    manifest = json.loads((vdir / "run_manifest.json").read_text())
    assert {s: sorted(e) for s, e in manifest["generation"]["splits"].items()} == {
        s: ["status", "time_elapsed"] for s in SPLITS}
    page, md = (root / "report.html").read_text(encoding="utf-8"), (root / "report.md").read_text(encoding="utf-8")
    for text in (page, md):
        assert "Model health" not in text and "while thinking" not in text and "reasoning" not in text
    data = explorer_data(collect(ReportSettings(model_response_dir=str(root))), str(root))
    assert "thinking" not in data and all(row[-1] is None and not row[-2] & CUT_OFF for row in data["items"])
    assert 'id="t-cut" aria-pressed="false" hidden' in (root / "samples.html").read_text(encoding="utf-8")

    # the same folder from an API model that thought, at a known price, through the Batch API:
    # all of free-form, half of multiple-choice (the rest live), as the status files record it
    ff = _think(vdir, "m", SPLITS[0], {1, 2, 3, 50})
    mp = _think(vdir, "m", SPLITS[1], set(), hidden=True)
    for split, batched in ((SPLITS[0], ff), (SPLITS[1], mp[:250])):
        sold = {"batches": ["batch_1"], "replies": len(batched),
                "prompt_tokens": sum(line["usage"]["prompt_tokens"] for line in batched),
                "completion_tokens": sum(line["usage"]["completion_tokens"] for line in batched)}
        write_status(vdir / f"status_{split}.json",
                     {"model_name": "openai_compatible", "model_base_url": "http://127.0.0.1:9/v1",
                      "model_id": "gpt-4.1-mini", "split": split, "limit": None, "reasoning_effort": "low",
                      "model_mode": "batch", "model_price": None},
                     batch_id=1, time_elapsed=10.0, state="complete", extra={"batch": sold})
    assert compute_main(rule) == 0
    manifest = json.loads((vdir / "run_manifest.json").read_text())
    for split, lines, cut, batched in ((SPLITS[0], ff, 4, ff), (SPLITS[1], mp, 0, mp[:250])):
        entry = manifest["generation"]["splits"][split]
        prompt = sum(line["usage"]["prompt_tokens"] for line in lines)
        completion = sum(line["usage"]["completion_tokens"] for line in lines)
        assert entry["thinking"] == {"answers": 500, "with_thinking": 500, "cut_off": cut}
        assert entry["tokens"] == {"prompt": prompt, "completion": completion,
                                   "reasoning": sum(line["reasoning_tokens"] for line in lines),
                                   "answers_with_usage": 500}
        # gpt-4.1-mini's list price (0.40, 1.60), halved for what the Batch API sold
        live = sum(line["usage"]["prompt_tokens"] * 0.40 + line["usage"]["completion_tokens"] * 1.60
                   for line in lines) / 1e6
        sold = sum(line["usage"]["prompt_tokens"] * 0.40 + line["usage"]["completion_tokens"] * 1.60
                   for line in batched) / 1e6
        assert entry["cost_usd"] == pytest.approx(live - sold / 2, abs=1e-6)
        assert entry["price"] == {"input": 0.4, "output": 1.6, "from": "known"} and entry["model_mode"] == "batch"
        assert entry["thinking_settings"] == {"reasoning_effort": "low"}
    page = (root / "report.html").read_text(encoding="utf-8")
    assert "free-form: 4 of 500 answers cut off while thinking (0.8%" in page
    assert "<td>0 of 500 answers cut off while thinking (0.0%)</td>" in page
    assert "multiple-choice: 0 of 500" not in page
    assert "Asked to think with --reasoning_effort low; --thinking_budget not given" in page
    assert page.count("(list price, Batch API)") == 1 and page.count("(list price, partly Batch API)") == 1
    data = explorer_data(collect(ReportSettings(model_response_dir=str(root))), str(root))
    f = {name: i for i, name in enumerate(data["fields"]["item"])}
    cut_ids = {row[f["id"]] for row in data["items"] if row[f["flags"]] & CUT_OFF}
    assert cut_ids == {ff[i]["id"] for i in (1, 2, 3, 50)} and len(data["items"]) == 1000
    hidden = [row[f["thinking"]] for row in data["items"] if row[f["split"]] == 1]
    assert hidden == [[-1, line["reasoning_tokens"]] for line in mp]  # hidden by the API: tokens only
    # an unknown model and no --model_price: tokens, and a cost of null, never a guess
    for split in SPLITS:
        doc = json.loads((vdir / f"status_{split}.json").read_text())
        doc["args"]["model_id"] = "org/unpriced"
        (vdir / f"status_{split}.json").write_text(json.dumps(doc))
    assert compute_main(rule) == 0
    entry = json.loads((vdir / "run_manifest.json").read_text())["generation"]["splits"][SPLITS[0]]
    assert entry["cost_usd"] is None and entry["price"] is None and entry["tokens"]["prompt"] > 0
    assert "unknown (no price: give --model_price INPUT,OUTPUT)" in (root / "report.html").read_text(encoding="utf-8")


def test_every_answer_cut_off_and_no_usage_counted_alike_with_no_tokens_and_no_cost(tmp_path):
    """The other edge: all 500 free-form answers cut off while thinking, by an API model
    whose server counted no tokens there; on multiple-choice it did not think and its
    tokens were counted (a model that does not think: tokens and cost, nothing of thinking)."""
    root = tmp_path / "responses"
    vdir = _reference_folder(root, "m")
    for split in SPLITS:
        write_status(vdir / f"status_{split}.json",
                     {"model_name": "openai_compatible", "model_base_url": "http://127.0.0.1:9/v1",
                      "model_id": "gpt-4.1-mini", "split": split, "limit": None, "model_price": [1.0, 2.0]},
                     batch_id=1, time_elapsed=10.0, state="complete")
    ff = _think(vdir, "m", SPLITS[0], set(range(500)), usage=False)
    assert all("usage" not in line and "reasoning_tokens" not in line for line in ff)
    mp_path = vdir / f"m_{SPLITS[1]}.jsonl"
    mp = [{**line, "usage": {"prompt_tokens": 1000, "completion_tokens": 10}} for line in read_jsonl(mp_path)]
    mp_path.write_text("".join(json.dumps(line) + "\n" for line in mp), encoding="utf-8")
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0

    # the manifest: the counts, and no tokens, no cost, no price (nothing was counted)
    splits = json.loads((vdir / "run_manifest.json").read_text())["generation"]["splits"]
    assert splits[SPLITS[0]] == {"status": "complete", "time_elapsed": 10.0,
                                 "thinking": {"answers": 500, "with_thinking": 500, "cut_off": 500}}
    assert splits[SPLITS[1]] == {"status": "complete", "time_elapsed": 10.0,  # no thinking keys
                                 "tokens": {"prompt": 500_000, "completion": 5000, "reasoning": None,
                                            "answers_with_usage": 500},
                                 "cost_usd": 0.51, "price": {"input": 1.0, "output": 2.0, "from": "given"},
                                 "model_mode": "live"}

    # the report: 100%, the fix once, no tokens and no cost on either split
    page, md = (root / "report.html").read_text(encoding="utf-8"), (root / "report.md").read_text(encoding="utf-8")
    words = cut_off_line(500, 500)
    assert f"free-form: {words} (100.0%; no answer after the thinking, scored as an empty answer)" in page
    assert f"<td>{words} (100.0%)</td>" in page and f"| {words} (100.0%) |" in md
    assert page.count(f"To fix: {cut_off_advice()}") == 1 and "multiple-choice: " not in page
    health = page.split('<table class="model-health">')[1].split("</table>")[0]
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in health.split("<tr>")[2:]]
    assert cells == [["free-form", "500", "500", f"{words} (100.0%)", "—", "—"],
                     ["multiple-choice", "500", "—", "—", "500,000 in / 5,000 out", "$0.5100 (--model_price)"]]

    # check_eval_complete: complete, one warning, for that split's file
    log = tmp_path / "checks.log"
    assert _check(root, log) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == CLOSING_LINE and len(lines) == 2
    assert lines[1].startswith(f"Warning: {vdir / f'm_{SPLITS[0]}.jsonl'}: {words} (")

    # the explorer: every free-form item flagged, no multiple-choice one; no token count
    data = explorer_data(collect(ReportSettings(model_response_dir=str(root))), str(root))
    f = {name: i for i, name in enumerate(data["fields"]["item"])}
    flagged = [row[f["split"]] for row in data["items"] if row[f["flags"]] & CUT_OFF]
    assert flagged == [0] * 500 and "thinking" in data
    assert all(row[f["thinking"]][1] is None for row in data["items"] if row[f["split"]] == 0)
    assert all(row[f["thinking"]] is None for row in data["items"] if row[f["split"]] == 1)


def test_the_thinking_of_a_large_run_keeps_the_explorer_a_few_megabytes(tmp_path):
    """4000 answers with 10 kB of thinking each (40 MB): the page holds each thinking's
    beginning and end, within its budget."""
    root = tmp_path / "responses"
    vdir = root / "m" / "mixeval" / VERSION
    shutil.copytree(REF_RESPONSES / "mixeval" / VERSION, vdir)
    for path in vdir.glob("*.jsonl"):
        path.chmod(0o644)
        lines = read_jsonl(path)
        for i, line in enumerate(lines):
            mark = f"{path.stem[-5:]}-{i}"  # each thinking its own: none stored once for two
            line["reasoning"] = f"start {mark} " + "x" * 10_000 + f" end {mark}"
            line["thinking_cut_off"] = False
        path.rename(vdir / path.name.replace("gemma_11_7b_instruct", "m"))
        (vdir / path.name.replace("gemma_11_7b_instruct", "m")).write_text(
            "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    (vdir / "score.json").write_text(json.dumps({"overall": 0.5}))
    data = explorer_data(collect(ReportSettings(model_response_dir=str(root))), str(root))
    assert len(data["items"]) == 4000
    f = {name: i for i, name in enumerate(data["fields"]["item"])}
    texts = [data["strings"][row[f["thinking"]][0]] for row in data["items"]]
    assert len(set(texts)) == 4000
    assert all(t.startswith("start ") and t.endswith(" end " + t.split()[1]) for t in texts)
    assert sum(map(len, texts)) < 4_000_000 + 4000 * 200  # the budget, and each one's marker
    from mix_eval.reporting.samples import write_samples

    size = write_samples(collect(ReportSettings(model_response_dir=str(root))), root).stat().st_size
    assert size < 8_000_000, size  # 2.4 MB of it without the thinking


def test_the_thinking_budget_keeps_short_thinking_whole_and_shares_the_rest():
    assert thinking_limit(["a" * 10] * 3, budget=30) is None  # fits exactly
    assert thinking_limit(["a" * 10] * 3, budget=29) == THINKING_KEPT  # at least THINKING_KEPT each
    texts = ["a" * 100] * 10 + ["b" * 50_000] * 10
    keep = thinking_limit(texts, budget=200_000)
    assert keep == (200_000 - 1000) // 10  # the short ones whole, the long ones share the rest
    text = "".join(chr(65 + i % 26) for i in range(5000))
    assert shorten_thinking(text, 5000) == text
    short = shorten_thinking(text, 4999)
    assert short.startswith(text[:1999]) and short.endswith(text[-3000:]) and "1 characters" in short
