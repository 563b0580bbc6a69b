"""The report: `compute_metrics` and `evaluate` write it after scoring, `python -m
mix_eval.report` writes it on demand; it places each run on the published leaderboard,
labels what is not like for like, and is one self-contained page, rendered here in a
real browser (Debian's chromium, which .ci/run installs: a missing browser fails the
test, it is not skipped)."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import decode_png, near
from conftest import JUDGE_KEY, REPO, answer_or_judge, fake_server, make_responses, run_module

from mix_eval.compute_metrics import main as compute_main
from mix_eval.evaluate import main as evaluate_main
from mix_eval.leaderboard import FILES
from mix_eval.report import main as report_main
from mix_eval.responses import write_status

VERSION = "2024-06-01"
BROWSER_TIMEOUT = 120


# ---------------------------------------------------------------- helpers


def published(kind: str, column: str) -> list[tuple[str, float]]:
    """A leaderboard column read straight from the shipped CSV (not through the loader)."""
    with open(FILES[kind], newline="", encoding="utf-8") as f:
        return [(r["model"], float(r[column])) for r in csv.DictReader(f) if r[column]]


def expected_rank(kind: str, column: str, score: float) -> int:
    return 1 + sum(1 for _, v in published(kind, column) if v > round(score * 100, 1))


def chromium(*args: str, user_dir: Path) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run installs it)")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={user_dir}",
               *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {BROWSER_TIMEOUT} s: {' '.join(command)}")
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def dom_text(page: Path, user_dir: Path) -> tuple[str, str]:
    """The DOM chromium built from the page, and its text (tags dropped, spaces collapsed)."""
    dom = chromium("--dump-dom", page.as_uri(), user_dir=user_dir).stdout
    assert "<body" in dom, dom[:500]
    text = re.sub(r"<[^>]+>", " ", dom)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#x27;", "'"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return dom, " ".join(text.split())


class _References(HTMLParser):
    """Everything in a page that could make a browser fetch something."""

    FETCHING_TAGS = {"script", "link", "img", "iframe", "frame", "object", "embed", "base", "audio", "video",
                     "source", "track", "form", "image", "use", "picture", "input", "portal"}
    FETCHING_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background",
                      "manifest", "ping", "codebase", "cite", "longdesc"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        if tag in self.FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        if tag == "meta" and any(k == "http-equiv" for k, _ in attrs):
            self.found.append("<meta http-equiv>")
        for name, value in attrs:
            if name in self.FETCHING_ATTRS:
                self.found.append(f"{tag} {name}={value!r}")
            if name == "style" and value and re.search(r"url\(|@import|image-set\(", value, re.I):
                self.found.append(f"{tag} style={value!r}")
        self.in_style = tag == "style"

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import|image-set\(|@font-face", data, re.I):
            self.found.append(f"<style> {data.strip()[:80]!r}")


def assert_self_contained(page: str) -> None:
    """The page references no network resource (nor any other file but the answers
    explorer beside it): no script, link, image, frame, other hyperlink, CSS url() or
    @import, whatever text it shows."""
    parser = _References()
    parser.feed(page)
    assert parser.found == ["a href='samples.html'"], parser.found
    assert page.count("<style>") == 1 and "<svg" in page


def assert_markdown_without_html(md: str) -> None:
    assert not re.search(r"<[A-Za-z/!]", md.replace("\\<", "")), [line for line in md.splitlines() if "<" in line]
    assert re.search(r"^\| --- \|", md, re.M)


# ---------------------------------------------------------------- runs


def test_a_rule_parser_run_gets_a_report_labelled_not_comparable_and_it_renders(tmp_path, capsys):
    root = tmp_path / "responses"
    make_responses(root, "gemma_11_7b_instruct", "mixeval_hard")
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    out = capsys.readouterr().out
    assert f"Report: {root / 'report.html'} (and report.md beside it)" in out
    score = json.loads((root / "gemma_11_7b_instruct" / "mixeval_hard" / VERSION / "score.json").read_text())
    rank = expected_rank("chat", "MixEval-Hard", score["overall"])
    label = f"would rank ~{rank} of 53 (not comparable: rule parser)"
    page = (root / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "http" not in page and "//" not in page  # nothing in this run's files is a URL either
    md = (root / "report.md").read_text(encoding="utf-8")
    assert_markdown_without_html(md)
    assert label.replace("~", "\\~") in md and "**Not like for like with the leaderboard:** rule parser" in md

    dom, text = dom_text(root / "report.html", tmp_path / "chromium")
    assert f"{score['overall'] * 100:.1f}" in text and f"{score['MMLU'] * 100:.1f}" in text
    assert label in text
    assert "Not like for like with the leaderboard: rule parser." in text
    assert dom.count('class="warning not-comparable"') == 1 and dom.count("<svg") == 1
    # the chart: the run beside leaderboard models near it, on the columns both publish
    near_models = [m for m, v in published("chat", "MixEval-Hard") if abs(v - score["overall"] * 100) < 2]
    assert any(f"<title>{m}: " in dom for m in near_models), near_models
    for column in ("TriviaQA", "MMLU", "DROP"):
        assert f">{column}</text>" in dom
    assert "not comparable" in dom[dom.index("<figcaption>"):].split("</figcaption>")[0].lower() or \
        "Not like for like (rule parser)" in dom

    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,2000", "--hide-scrollbars", (root / "report.html").as_uri(),
             user_dir=tmp_path / "chromium")
    assert shot.stat().st_size > 20_000, shot.stat().st_size  # a blank 1200x2000 page is about 11 kB
    pixels = decode_png(shot.read_bytes())
    assert pixels.shape == (2000, 1200, 3)
    ink = int((pixels.min(axis=2) < 200).sum())
    assert ink > 0.03 * 1200 * 2000, f"only {ink} dark pixels: the page looks blank"
    assert near(pixels, (0x1F, 0x6F, 0xEB)) > 500, "the run's bars (accent blue) are not on the screenshot"
    assert near(pixels, (0xCF, 0x22, 0x2E)) > 100, "the not-comparable warning (red) is not on the screenshot"


server = fake_server(reply=answer_or_judge)


def test_evaluate_with_limit_writes_a_report_with_its_run_facts_and_the_limit_label(server, clean_env, data_path,
                                                                                    tmp_path, capsys):
    clean_env.setenv("MODEL_PARSER_API", JUDGE_KEY)
    out = tmp_path / "out"
    code = evaluate_main(["--model_name", "openai_compatible", "--model_base_url", server.base_url,
                          "--model_id", "org/served-model", "--output_name", "served", "--benchmark", "mixeval_hard",
                          "--version", VERSION, "--batch_size", "4", "--data_path", str(data_path),
                          "--output_dir", str(out), "--limit", "5", "--api_base_url", server.base_url])
    assert code == 0
    assert f"Report: {out / 'report.html'}" in capsys.readouterr().out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    score = json.loads((out / "served" / "mixeval_hard" / VERSION / "score.json").read_text())
    rank = expected_rank("chat", "MixEval-Hard", score["overall"])
    assert f"would rank ~{rank} of 53 (not comparable: --limit 5 run)" in page
    facts = page[page.index("<h4>Run facts</h4>"):]
    for fact, value in (("model", "openai_compatible"), ("model path or id", "org/served-model"), ("backend", "hf"),
                        ("--limit", "5"), ("kind", "chat")):
        cell = '<td class="num">' if value.isdigit() else "<td>"
        assert f"<td>{fact}</td>{cell}{value}</td>" in facts, fact
    assert re.search(r"<td>time taken \(generation\)</td><td>0 min \d\d s</td>", facts)
    judge = page[page.index("<h4>Judge health</h4>"):page.index("<h4>Run facts</h4>")]
    assert judge.count("<td>gpt-3.5-turbo-0125</td>") == 2 and judge.count("<td>model judge</td>") == 2
    assert judge.count("<td>5 of 500</td>") == 2


def _write_contract_folder(root: Path) -> tuple[Path, dict]:
    """A derived MixEval-Hard folder, hand-written to the file contracts: score.json,
    judged files of the leaderboard's judge covering every item, judge_report.json with
    issue 12's keys, score_intervals.json and derived_from.json; a status file whose
    model path is a URL (shown as text, never as a link)."""
    vdir = root / "contract_model" / "mixeval_hard" / VERSION
    vdir.mkdir(parents=True)
    scores = {"overall": 0.4123, "DROP": 0.55, "TriviaQA": 0.402, "MMLU": 0.377, "BBH": 0.3, "AGIEval": 0.2}
    (vdir / "score.json").write_text(json.dumps(scores, indent=4) + "\n")
    for tag in ("ff", "mp"):
        (vdir / f"judge_results_{tag}_model_judge_gpt-3.5-turbo-0125.jsonl").write_text('{"id": "x"}\n' * 500)
    common = {"judge": "gpt-3.5-turbo-0125", "items": 500, "rounds": 2, "invalid_replies": 0}
    (vdir / "judge_report.json").write_text(json.dumps({
        "free_form": {"split": "ff", **common, "judge_calls": 480, "reused": 20, "blocked": 1, "random_fallback": 3,
                      "judge_mode": "batch", "prompt_tokens": 123456, "completion_tokens": 7890, "cost_usd": 0.0612},
        "multiple_choice": {"split": "mp", **common, "judge_calls": 500, "reused": 0, "blocked": 0,
                            "random_fallback": 0, "judge_mode": "live", "prompt_tokens": 100000,
                            "completion_tokens": 5000, "cost_usd": None},
    }))
    (vdir / "score_intervals.json").write_text(json.dumps({
        "confidence": 0.95, "method": "bootstrap", "resamples": 1000, "seed": 42,
        "scores": {"overall": {"score": 0.4123, "low": 0.3811, "high": 0.4432},
                   "DROP": {"score": 0.55, "low": 0.47, "high": 0.62}}}))
    (vdir / "derived_from.json").write_text(json.dumps({
        "benchmark": "mixeval", "version": VERSION, "source": f"contract_model/mixeval/{VERSION}",
        "matched_by_id": {"free_form": 500, "multiple_choice": 500},
        "matched_by_content": {"free_form": 0, "multiple_choice": 0}, "created": "2026-01-01T00:00:00Z"}))
    source = root / "contract_model" / "mixeval" / VERSION  # the MixEval run it was derived from
    source.mkdir(parents=True)
    (source / "score.json").write_text(json.dumps(
        {"overall": 0.7712, "TriviaQA": 0.70, "MMLU": 0.74, "DROP": 0.81, "HellaSwag": 0.66, "CommonsenseQA": 0.79}))
    for tag in ("ff", "mp"):
        (source / f"judge_results_{tag}_model_judge_gpt-3.5-turbo-0125.jsonl").write_text('{"id": "x"}\n' * 2000)
    write_status(vdir / "status_close_freeform_hard.json",
                 {"model_name": "local_chat", "model_path": "https://example.com/org/model", "limit": None},
                 batch_id=3, time_elapsed=3725.0, state="complete")
    return vdir, scores


def test_the_reading_side_of_the_contracts_and_several_models(tmp_path):
    root = tmp_path / "responses"
    _, scores = _write_contract_folder(root)
    hostile = 'x<img src=y onerror="alert(1)">&'  # a folder name is the user's: escaped, never markup
    other = root / hostile / "mixeval_hard" / VERSION
    other.mkdir(parents=True)
    (other / "score.json").write_text(json.dumps({"overall": 0.30, "DROP": 0.25}))
    # judged by another judge; an older rule-parser judged file beside it no longer counts
    judged = root / "other_judge" / "mixeval_hard" / VERSION
    judged.mkdir(parents=True)
    (judged / "score.json").write_text(json.dumps({"overall": 0.35, "DROP": 0.4}))
    for tag in ("ff", "mp"):
        (judged / f"judge_results_{tag}_rule.jsonl").write_text('{"id": "x"}\n' * 500)
        os.utime(judged / f"judge_results_{tag}_rule.jsonl", (1_600_000_000, 1_600_000_000))
        (judged / f"judge_results_{tag}_model_judge_gpt-4o.jsonl").write_text('{"id": "x"}\n' * 500)
    # the CLI, in a fresh interpreter that must not import torch
    code = ("import sys; from mix_eval.report import main; "
            f"rc = main(['--model_response_dir', r'{root}', '--version', '{VERSION}']); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"Report of 4 scored folder(s): {root / 'report.html'}" in proc.stdout
    page = (root / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "x&lt;img src=y onerror=&quot;alert(1)&quot;&gt;&amp;" in page
    md = (root / "report.md").read_text(encoding="utf-8")
    assert_markdown_without_html(md)

    dom, text = dom_text(root / "report.html", tmp_path / "chromium")
    assert "<img" not in dom and "<script" not in dom
    assert hostile in text and "https://example.com/org/model" in text
    rank = expected_rank("chat", "MixEval-Hard", scores["overall"])
    low, high = expected_rank("chat", "MixEval-Hard", 0.4432), expected_rank("chat", "MixEval-Hard", 0.3811)
    assert f"MixEval-Hard, chat models #{rank} of 53; {low}–{high} within the score's interval" in text
    ranked = sorted(published("chat", "MixEval-Hard"), key=lambda mv: -mv[1])
    for model, _ in ranked[rank - 3:rank - 1] + ranked[rank - 1:rank + 1]:  # two above, two below
        assert model in text, model
    # its MixEval run, ranked among the chat models that publish a MixEval score
    mixeval_rank = expected_rank("chat", "MixEval", 0.7712)
    of = len(published("chat", "MixEval")) + 1
    assert of == 51 and f"MixEval, chat models #{mixeval_rank} of {of}" in text
    # its kind (chat: the Hard folder's status file) holds for the whole model folder
    assert f"contract_model chat MixEval 2024-06-01 77.1 chat #{mixeval_rank} of 51 like for like" in text
    assert "41.2 [38.1, 44.3]" in text and "47.0 – 62.0" in text
    assert "derived from the MixEval run (contract_model/mixeval/2024-06-01)" in text
    assert "free-form: 3 item(s) never got a valid verdict (scored at random), 1 blocked by the API" in text
    assert "123,456 in / 7,890 out" in text and "$0.0612" in text and "unknown" in text
    assert "batch" in text and "live" in text
    assert "1 h 02 min" in text and "95% bootstrap (1000 resamples, seed 42)" in text
    # the contract folder is like for like: ranked plainly, no warning of its own
    contract = dom[dom.index('id="contract_model-mixeval_hard-2024-06-01"'):]
    assert 'class="warning' not in contract.split("</section>")[0]
    # the other model: no judged file, unknown kind: labelled, and placed in both tables
    assert "not comparable: no judged file, so the parser and judge are unknown" in text
    assert "MixEval-Hard, base models" in text
    other = text[text.index("other_judge unknown kind MixEval-Hard 2024-06-01"):]
    assert "(not comparable: judge gpt-4o, not the leaderboard's gpt-3.5-turbo-0125)" in other
    assert "rule parser" not in other.split("x<img")[0]
    # several models: a comparison table and a chart of them
    assert "Comparison" in text and dom.count("<svg") >= 2
    assert "MixEval-Hard 2024-06-01: the models of this folder" in dom


def test_the_report_command_says_what_is_wrong_in_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report_main(["--model_response_dir", str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no score.json" in err[0] and "compute_metrics" in err[0]
    bad = tmp_path / "bad" / "m" / "mixeval" / VERSION
    bad.mkdir(parents=True)
    (bad / "score.json").write_text('{"overall": "high"}')
    result = run_module("mix_eval.report", "--model_response_dir", str(tmp_path / "bad"), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and str(bad / "score.json") in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(SystemExit) as exit_info:
        report_main(["--model_response_dir", str(tmp_path / "bad"), "--benchmark", "other"])
    assert exit_info.value.code == 2
