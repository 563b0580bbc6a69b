"""The answers explorer (samples.html): every item of a response folder with each judge's
verdict, written with the report. Opened in a real browser (Debian's chromium over the
DevTools protocol, tests/browser.py): filters, search and counts against what the test
computes from the judged files, the disagreement filter, deep links, two models side by
side, a screenshot, and a planted script that must show as text and run nothing. The
data's flags (random verdict, blocked item) from a real judging run's journal."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from browser import Browser, decode_png
from conftest import (
    JUDGE_KEY, LETTERS, disagreeing_judge, judge_reply, judged_answer, judged_score, judges_by_model, make_responses,
    read_jsonl, run_module,
)
from fake_openai_server import Fault, FakeOpenAIServer

from mix_eval.compute_metrics import main as compute_main
from mix_eval.folders import judged_file_name
from mix_eval.reporting.collect import collect
from mix_eval.reporting.samples import BLOCKED_ITEM, JUDGES_DISAGREE, RANDOM_VERDICT, explorer_data
from mix_eval.reporting.samples_page import embed_json
from mix_eval.settings import DEFAULT_JUDGE, JudgeSettings, ReportSettings
from mix_eval.splits import SplitKind

VERSION = "2024-06-01"
MODEL, OTHER = "gemma_11_7b_instruct", "other_model"
JUDGE_B = "judge-b-2025"
PLANTED = ('Paris </script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
           '<!-- & </SCRIPT >')
NEVER_VALID = "I cannot tell. [[7]]"  # out of range: no verdict, in any round


def _two_judges(never_valid: str):
    """A judge endpoint serving two judges that disagree (`conftest.disagreeing_judge`, its
    replies with markup in them), told apart by the request's model; judge B never gives a
    valid verdict on one answer."""
    def judge_b(body: dict) -> str:
        if judged_answer(body) == never_valid:
            return NEVER_VALID
        return "Judge <b>B</b> says: " + disagreeing_judge(body)
    return judges_by_model({DEFAULT_JUDGE: judge_reply, JUDGE_B: judge_b})


# ---------------------------------------------------------------- what the judged files say


def _outcome(score) -> str:
    return "none" if score is None else "right" if score >= 1 else "wrong" if score <= 0 else "partly"


def expected_items(root: Path) -> dict[str, dict]:
    """Every item of the folder by its link key, read straight from the response and judged files."""
    items = {}
    for model in (MODEL, OTHER):
        vdir = root / model / "mixeval_hard" / VERSION
        for kind in SplitKind:
            responses = read_jsonl(vdir / f"{model}_{kind.split_name('mixeval_hard')}.jsonl")
            judged = {}
            for judge in (DEFAULT_JUDGE, JUDGE_B):
                name = judged_file_name(JudgeSettings(freeform_judge=judge, multichoice_judge=judge), kind)
                judged[judge] = {line["id"]: line for line in read_jsonl(vdir / name)}
            for line in responses:
                key = f"{model}/mixeval_hard/{VERSION}/{kind.tag}/{line['id']}"
                verdicts = {j: judged[j][line["id"]] for j in judged}
                texts = [line["id"], line["benchmark_name"], line["context"] or "", line["prompt"], line["response"],
                         *line.get("options", []), *([] if kind.is_multichoice else line["target"])]
                for v in verdicts.values():
                    texts += [v["judge_response"], str(v["judge_option"] if kind.is_multichoice else v["judge_score"])]
                scores = {j: judged_score(v) for j, v in verdicts.items()}
                items[key] = {"model": model, "tag": kind.tag, "line": line, "scores": scores,
                              "replies": {j: v["judge_response"] for j, v in verdicts.items()},
                              "text": "\n".join(texts).lower(), "disagree": len(set(scores.values())) > 1}
    return items


def expected_counts(items: dict[str, dict], *, judge: str, verdict: str = "", search: str = "", tag: str = "",
                    disagree: bool = False, flagged: set[str] = frozenset()) -> dict[str, int]:
    """The explorer's counts: items shown, and per chip the items the other filters let through."""
    counts = dict.fromkeys(("all", "right", "wrong", "partly", "none", "disagree", "flagged", "shown"), 0)
    for key, item in items.items():
        if (tag and item["tag"] != tag) or (search and search.lower() not in item["text"]):
            continue
        outcome = _outcome(item["scores"].get(judge))
        ok_v, ok_d = verdict in ("", outcome), not disagree or item["disagree"]
        if ok_d:
            counts["all"] += 1
            counts[outcome] += 1
        counts["disagree"] += ok_v and item["disagree"]
        counts["flagged"] += ok_v and ok_d and key in flagged
        counts["shown"] += ok_v and ok_d
    return counts


# ---------------------------------------------------------------- the page


def shown_counts(browser: Browser) -> dict[str, int]:
    return browser.run("""Object.fromEntries(["all", "right", "wrong", "partly", "none", "disagree", "flagged",
        "shown", "total"].map((k) => [k, Number(document.getElementById("n-" + k).textContent)]))""")


def listed_keys(browser: Browser) -> list[str]:
    """The key of every row of the list, scrolled through from top to bottom (rows are
    drawn only where the list is scrolled to)."""
    return browser.run("""(async () => {
        const list = document.getElementById("list"), keys = [];
        const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
        for (let top = 0; ; top += list.clientHeight / 2) {
            list.scrollTop = top; await frame(); await frame();
            for (const a of list.querySelectorAll("a.row")) if (!keys.includes(a.dataset.key)) keys.push(a.dataset.key);
            if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) break;
        }
        list.scrollTop = 0; await frame();
        return keys; })()""")


def clear_search(browser: Browser) -> None:
    browser.run("""(() => { const s = document.getElementById("f-search"); s.value = "";
        s.dispatchEvent(new Event("input", {bubbles: true})); })()""")


def test_the_explorer_of_two_judges_that_disagree_in_a_real_browser(tmp_path, judge_env):
    root = tmp_path / "responses"
    vdir = make_responses(root, MODEL, "mixeval_hard")
    ff_file = vdir / f"{MODEL}_close_freeform_hard.jsonl"
    ff_lines = read_jsonl(ff_file)
    planted_id = ff_lines[7]["id"]
    ff_lines[7]["response"] = PLANTED
    never_valid = ff_lines[30]
    never_valid["response"] = "An answer that judge B never judges."
    ff_file.write_text("".join(json.dumps(line) + "\n" for line in ff_lines), encoding="utf-8")
    # a second model on 100 + 100 of the same items, answering otherwise
    other = make_responses(root, OTHER, "mixeval_hard", 100)
    for path in other.glob("*.jsonl"):
        lines = read_jsonl(path)
        for line in lines:
            line["response"] = line["target"][0] if "options" not in line else "The answer is (A)."
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    with FakeOpenAIServer(reply=_two_judges(never_valid["response"]), api_key=JUDGE_KEY) as server:
        common = ["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                  "--api_base_url", server.base_url, "--api_parallel_num", "32"]
        for judge in (DEFAULT_JUDGE, JUDGE_B):
            done = run_module("mix_eval.compute_metrics", *common, "--freeform_judge", judge,
                              "--multichoice_judge", judge, timeout=120)
            assert done.returncode == 0, done.stderr[-3000:]
            assert f"every answer and verdict: {root / 'samples.html'}" in done.stdout
    assert '<a href="samples.html">samples.html</a>' in (root / "report.html").read_text(encoding="utf-8")

    items = expected_items(root)
    assert len(items) == 1200
    random_key = f"{MODEL}/mixeval_hard/{VERSION}/ff/{never_valid['id']}"
    assert items[random_key]["replies"][JUDGE_B] == NEVER_VALID  # judge B's verdict for it was drawn at random
    flagged = {random_key}
    disagree = {k for k, item in items.items() if item["disagree"]}
    assert 100 < len(disagree) < 600
    page = root / "samples.html"
    html = page.read_text(encoding="utf-8")
    assert len(re.findall(r"</script", html, re.I)) == 2 and len(re.findall(r"<script", html, re.I)) == 2
    assert "window.__pwned" in html and PLANTED not in html  # in the data, escaped

    with Browser(tmp_path / "chromium") as browser:
        browser.open(page.as_uri())
        assert browser.run("document.body.dataset.ready") == "1"
        # models that did not think: no cut-off filter on the page
        assert browser.run("document.getElementById('t-cut').getClientRects().length") == 0
        counts = shown_counts(browser)
        assert counts.pop("total") == 1200
        # score.json's judge is the newest one: judge B
        assert counts == expected_counts(items, judge=JUDGE_B, flagged=flagged)
        # click a filter, type a search: the counts follow
        browser.click('button[data-verdict="wrong"]')
        browser.type("#f-search", "How many")
        want = expected_counts(items, judge=JUDGE_B, verdict="wrong", search="How many", flagged=flagged)
        assert 0 < want["shown"] < want["all"] < 1200
        assert {k: v for k, v in shown_counts(browser).items() if k != "total"} == want
        browser.choose("#f-split", "0")  # free-form
        browser.choose("#f-judge", str(browser.run(f"JSON.parse(document.getElementById('explorer-data')"
                                                    f".textContent).judges.indexOf({json.dumps(DEFAULT_JUDGE)})")))
        want = expected_counts(items, judge=DEFAULT_JUDGE, verdict="wrong", search="How many", tag="ff", flagged=flagged)
        assert {k: v for k, v in shown_counts(browser).items() if k != "total"} == want
        # the disagreement filter shows exactly the items whose verdicts differ
        clear_search(browser)
        browser.choose("#f-split", "")
        browser.click('button[data-verdict=""]')
        browser.click("#t-disagree")
        assert shown_counts(browser)["shown"] == len(disagree)
        assert sorted(listed_keys(browser)) == sorted(disagree)
        browser.click("#t-disagree")
        # two models side by side on the same items: "A right, B wrong" by judge B
        browser.choose("#f-judge", "-1")
        browser.choose("#c-a", MODEL)
        browser.choose("#c-b", OTHER)
        browser.choose("#c-pair", "right-wrong")
        a_right_b_wrong = {k for k, item in items.items() if item["model"] == MODEL
                           and items.get(k.replace(MODEL, OTHER, 1), {}).get("scores", {}).get(JUDGE_B) == 0
                           and item["scores"][JUDGE_B] == 1}
        assert a_right_b_wrong and shown_counts(browser)["shown"] == len(a_right_b_wrong)
        assert sorted(listed_keys(browser)) == sorted(a_right_b_wrong)
        browser.click("a.row")
        browser.settle()
        side_b = browser.text("#detail .side-B")
        first = browser.run("document.getElementById('detail').dataset.key")
        assert first in a_right_b_wrong
        assert items[first.replace(MODEL, OTHER, 1)]["line"]["response"] in side_b and OTHER in side_b

        # a link opens its item, on a fresh page and on one already open
        link = f"{MODEL}/mixeval_hard/{VERSION}/ff/35"
        browser.open(page.as_uri() + "#" + link)
        assert browser.run("document.getElementById('detail').dataset.key") == link
        detail = browser.text("#detail")
        assert "item 35" in browser.text("#detail h2")
        assert items[link]["line"]["prompt"] in detail and items[link]["line"]["response"] in detail
        assert items[link]["replies"][JUDGE_B] in detail and items[link]["replies"][DEFAULT_JUDGE] in detail
        assert browser.run("document.querySelector('a.row.current').dataset.key") == link
        mp_link = f"{MODEL}/mixeval_hard/{VERSION}/mp/35"
        browser.run(f"location.hash = {json.dumps(mp_link)}")
        browser.settle()
        assert browser.run("document.getElementById('detail').dataset.key") == mp_link
        gold = items[mp_link]["line"]["target"][0]
        assert browser.text("#detail li.gold").startswith(f"{LETTERS[gold]}. {items[mp_link]['line']['options'][gold]}")

        # the planted response is text: shown as written, nothing of it runs or loads
        planted = f"{MODEL}/mixeval_hard/{VERSION}/ff/{planted_id}"
        browser.run(f"location.hash = {json.dumps(planted)}")
        browser.settle()
        assert browser.text("#detail pre.response") == PLANTED
        assert "Judge <b>B</b>" in browser.text("#detail") or items[planted]["replies"][JUDGE_B] in browser.text("#detail")
        assert browser.run("typeof window.__pwned") == "undefined"
        assert browser.run("document.scripts.length") == 2
        assert browser.run("document.querySelectorAll('#detail *:not(div,span,h2,h3,h4,pre,a,ul,ol,li,p,strong,"
                           "details,summary)').length") == 0
        shot = browser.screenshot(tmp_path / "samples.png")
        assert browser.problems() == []

    assert shot.stat().st_size > 30_000, shot.stat().st_size
    pixels = decode_png(shot.read_bytes())
    assert pixels.shape[:2] == (900, 1280)
    ink = int((pixels.min(axis=2) < 160).sum())
    assert ink > 0.02 * pixels.shape[0] * pixels.shape[1], f"only {ink} dark pixels: the page looks blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # text, badges, highlights: not one flat colour


# ---------------------------------------------------------------- the data


def test_random_and_blocked_verdicts_are_read_from_the_journal(tmp_path, judge_env, no_refusal_pause):
    root = tmp_path / "responses"
    vdir = make_responses(root, "m", "mixeval_hard", 6)
    ff_file = vdir / "m_close_freeform_hard.jsonl"
    ff = read_jsonl(ff_file)
    b, n = 1, 3
    blocked, never = ff[b]["response"], ff[n]["response"] = "An answer the API refuses.", "An answer never judged."
    ff_file.write_text("".join(json.dumps(line) + "\n" for line in ff), encoding="utf-8")

    def reply(body):
        answer = judged_answer(body)
        if answer == blocked:
            return Fault("400", message="content filter")
        return NEVER_VALID if answer == never else judge_reply(body)

    with FakeOpenAIServer(reply=reply, api_key=JUDGE_KEY) as server:
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir",
                             str(root), "--api_base_url", server.base_url]) == 0

    def flags() -> dict[str, int]:
        data = explorer_data(collect(ReportSettings(model_response_dir=str(root))), str(root))
        f = {name: i for i, name in enumerate(data["fields"]["item"])}
        return {item[f["id"]]: item[f["flags"]] for item in data["items"] if item[f["split"]] == 0}

    assert flags() == {line["id"]: {b: BLOCKED_ITEM, n: RANDOM_VERDICT}.get(i, 0) for i, line in enumerate(ff)}
    # a later round of another request (responses judged before they changed) is not this item's
    journal = next(vdir.glob(".journal_judge_results_ff_*.jsonl"))
    with open(journal, "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": ff[0]["id"], "round": 4, "digest": "an-older-request", "outcome": "blocked",
                            "reply": None}) + "\n")
    assert flags() == {line["id"]: {b: BLOCKED_ITEM, n: RANDOM_VERDICT}.get(i, 0) for i, line in enumerate(ff)}
    # without the journal, a reply without a verdict still shows the random one; blocked cannot be told
    for journal in vdir.glob(".journal_*"):
        journal.unlink()
    assert flags() == {line["id"]: {n: RANDOM_VERDICT}.get(i, 0) for i, line in enumerate(ff)}
    # a second judged file (the rule parser) that scores an item otherwise: a disagreement
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    rule = {line["id"]: line["eval_result"] for line in read_jsonl(vdir / "judge_results_ff_rule.jsonl")}
    model = {line["id"]: line["judge_score"] for line in
             read_jsonl(vdir / judged_file_name(JudgeSettings(), SplitKind.FREE_FORM))}
    differ = {i for i in rule if float(rule[i]) != float(model[i])}
    assert {i for i, bits in flags().items() if bits & JUDGES_DISAGREE} == differ


def test_the_embedded_data_cannot_end_its_script_element():
    value = {"r": "</script><script>alert(1)</script><!-- \u2028 & \ud800 é"}
    text = embed_json(value)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == value
    text.encode("utf-8")  # a lone surrogate is an escape too
