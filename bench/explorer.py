"""The answers explorer (samples.html) of a whole MixEval run: its size, and how fast it
opens and filters in headless chromium.

The reference's gemma-1.1-7b-instruct MixEval 2024-06-01 responses (2000 free-form + 2000
multiple-choice, from tests/fixtures/reference) are judged twice by the real
`python -m mix_eval.compute_metrics` against the loopback judge
(tests/fake_openai_server.py): two judges that disagree on about a third of the answers,
each reply a judgment of about ``--reply_chars`` characters (a real judge explains itself
in some hundreds). Scoring MixEval also writes the model's MixEval-Hard folder, so the
explorer holds 5000 items, each with two verdicts. Then samples.html is opened in
chromium (tests/browser.py) and, in the page, each filter is timed as a user changes it:
from the event to the list laid out, and to the next frame drawn.

    python bench/explorer.py                    # about a minute
    python bench/explorer.py --reply_chars 60   # the test judge's short replies
    python bench/explorer.py --json

Targets: the page under 15 MB; every filter under 200 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from browser import Browser  # noqa: E402  (tests/browser.py)
from conftest import REF_RESPONSES, disagreeing_judge, judge_reply, judged_answer, judges_by_model  # noqa: E402
from fake_openai_server import FakeOpenAIServer  # noqa: E402

VERSION = "2024-06-01"
MODEL = "gemma_11_7b_instruct"
JUDGES = ("gpt-3.5-turbo-0125", "judge-b")
KEY = "sk-bench-not-a-real-key"
MAX_BYTES = 15 * 1024 * 1024
MAX_MS = 200.0
REASONING = ("The model's answer is compared with the golden answer(s): it names {answer!r}, which is judged "
             "against each gold answer in turn, word by word, looking at what it states, what it leaves out and "
             "what it adds. ")


def judges(reply_chars: int):
    """Two judges told apart by the request's model (conftest's deterministic judge and its
    `disagreeing_judge`), each reply padded to about ``reply_chars`` characters."""
    def padded(judge):
        def reply(body: dict) -> str:
            verdict, answer = judge(body), judged_answer(body)
            text = ""
            while len(text) + len(verdict) < reply_chars:
                text += REASONING.format(answer=answer[:80])
            return text[:max(0, reply_chars - len(verdict))] + verdict
        return reply
    return judges_by_model({JUDGES[0]: padded(judge_reply), JUDGES[1]: padded(disagreeing_judge)})


def judge_run(root: Path, reply_chars: int) -> float:
    """Judge the folder with both judges; the seconds it took."""
    env = dict(os.environ, MODEL_PARSER_API=KEY, HF_HUB_OFFLINE="1")
    for name in ("OPENAI_API_TYPE", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        env.pop(name, None)
    start = time.monotonic()
    with FakeOpenAIServer(reply=judges(reply_chars), api_key=KEY) as server:
        for judge in JUDGES:
            done = subprocess.run([sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval",
                                   "--version", VERSION, "--model_response_dir", str(root), "--api_base_url",
                                   server.base_url, "--api_parallel_num", "64", "--freeform_judge", judge,
                                   "--multichoice_judge", judge], cwd=REPO, env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"compute_metrics failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - start


def copy_model(root: Path, name: str) -> None:
    """The judged model folder again under another name: a second model with the same verdicts."""
    shutil.copytree(root / MODEL, root / name)
    for f in (root / name).rglob(f"{MODEL}_*.jsonl"):
        f.rename(f.with_name(f.name.replace(MODEL, name, 1)))


TIMER = """(async (target, act) => {
    const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
    await frame();
    const t0 = performance.now();
    act(document.querySelector(target));
    void document.getElementById("list").scrollHeight;  // laid out
    const laid = performance.now() - t0;
    await frame();
    return [laid, performance.now() - t0, Number(document.getElementById("n-shown").textContent)];
})"""
CHOOSE = "(value) => (s) => { s.value = value; s.dispatchEvent(new Event('change', {bubbles: true})); }"
CLICK = "(s) => s.click()"
KEY_IN = "(value) => (s) => { s.value = value; s.dispatchEvent(new Event('input', {bubbles: true})); }"


def timed(browser: Browser, target: str, act: str) -> tuple[float, float, int]:
    return tuple(browser.run(f"{TIMER}({json.dumps(target)}, {act})"))


def measure(page: Path, user_dir: Path, repeats: int, models: int) -> dict:
    figures: dict = {}
    with Browser(user_dir, width=1400, height=900, timeout=120) as browser:
        start = time.monotonic()
        browser.open(page.as_uri())
        figures["open_s"] = round(time.monotonic() - start, 3)
        figures["items"] = int(browser.text("#n-total"))
        figures["first_filter_ms"] = float(browser.run("document.body.dataset.filterMs"))
        steps = []  # (name, selector, action)
        for _ in range(repeats):
            steps += [("split: free-form", "#f-split", f"({CHOOSE})('0')"),
                      ("split: both", "#f-split", f"({CHOOSE})('')"),
                      ("verdict: wrong", 'button[data-verdict="wrong"]', CLICK),
                      ("judges disagree on", "#t-disagree", CLICK),
                      ("judges disagree off", "#t-disagree", CLICK),
                      ("verdicts of: the other judge", "#f-judge", f"({CHOOSE})('1')"),
                      ("verdicts of: score.json's", "#f-judge", f"({CHOOSE})('-1')"),
                      ("verdict: all", 'button[data-verdict=""]', CLICK)]
            if models > 1:
                steps += [("side by side: A", "#c-a", f"({CHOOSE})({json.dumps(MODEL)})"),
                          ("side by side: B", "#c-b", f"({CHOOSE})({json.dumps(MODEL + '_2')})"),
                          ("both wrong", "#c-pair", f"({CHOOSE})('wrong-wrong')"),
                          ("side by side: off", "#c-a", f"({CHOOSE})('')")]
        search = "how many"
        results: dict[str, list] = {}
        first_key = timed(browser, "#f-search", f"({KEY_IN})({json.dumps(search[0])})")
        figures["first_keystroke_ms"] = [round(first_key[0], 1), round(first_key[1], 1)]
        browser.run("(() => { const s = document.getElementById('f-search'); s.value = '';"
                    " s.dispatchEvent(new Event('input', {bubbles: true})); })()")
        for _ in range(repeats):
            for i in range(1, len(search) + 1):
                steps.append((f"search, typed: {search[:i]!r}", "#f-search", f"({KEY_IN})({json.dumps(search[:i])})"))
            steps.append(("search cleared", "#f-search", f"({KEY_IN})('')"))
        for name, selector, act in steps:
            results.setdefault(name, []).append(timed(browser, selector, act))
        problems = browser.problems()
    figures["filters"] = {name: {"laid_out_ms": round(statistics.median(r[0] for r in runs), 1),
                                 "drawn_ms": round(statistics.median(r[1] for r in runs), 1),
                                 "worst_drawn_ms": round(max(r[1] for r in runs), 1), "shown": runs[-1][2]}
                          for name, runs in results.items()}
    figures["worst_drawn_ms"] = max(f["worst_drawn_ms"] for f in figures["filters"].values())
    figures["page_problems"] = problems
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reply_chars", type=int, default=400, help="length of each judge reply (default 400)")
    p.add_argument("--repeats", type=int, default=5, help="times each filter is timed (the median is shown)")
    p.add_argument("--keep", help="a folder to keep the judged run in (default: a temporary one, removed)")
    p.add_argument("--models", type=int, default=1,
                   help="models in the folder: copies of the judged one (default 1: a whole MixEval run; 2 gives "
                        "10,000 items and times the side-by-side view)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="explorer-bench-"))
    try:
        root = work / "responses"
        vdir = root / MODEL / "mixeval" / VERSION
        if not (vdir / "score.json").is_file():
            vdir.mkdir(parents=True, exist_ok=True)
            for f in (REF_RESPONSES / "mixeval" / VERSION).glob("*.jsonl"):
                shutil.copy(f, vdir / f.name)
            figures = {"judging_s": round(judge_run(root, args.reply_chars), 1)}
        else:  # --keep from an earlier run: judged already
            figures = {"judging_s": 0.0}
        figures["reply_chars"] = args.reply_chars
        for k in range(2, args.models + 1):
            if not (root / f"{MODEL}_{k}").exists():
                copy_model(root, f"{MODEL}_{k}")
        # the explorer alone, written again as the report writes it
        sys.path.insert(0, str(REPO))
        from mix_eval.reporting.collect import collect
        from mix_eval.reporting.samples import write_samples
        from mix_eval.settings import ReportSettings

        start = time.monotonic()
        page = write_samples(collect(ReportSettings(model_response_dir=str(root))), root)
        figures["write_s"] = round(time.monotonic() - start, 2)
        figures["bytes"] = page.stat().st_size
        figures.update(measure(page, work / "chromium", args.repeats, args.models))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ok = figures["bytes"] < MAX_BYTES and figures["worst_drawn_ms"] < MAX_MS and not figures["page_problems"]
    if args.json:
        print(json.dumps({**figures, "pass": ok}, indent=2))
        return 0 if ok else 1
    print(f"samples.html of {args.models} whole MixEval run(s) ({figures['items']} items with the derived "
          f"MixEval-Hard, 2 judges, replies of ~{args.reply_chars} characters)")
    print(f"  size            {figures['bytes'] / 1024 / 1024:.2f} MB (target < 15 MB)")
    print(f"  written in      {figures['write_s']:.2f} s (judging both: {figures['judging_s']:.0f} s)")
    print(f"  opened in       {figures['open_s']:.2f} s (load event), first filter {figures['first_filter_ms']} ms")
    print(f"  first keystroke {figures['first_keystroke_ms'][1]} ms drawn (the search index is made then)")
    print(f"  {'filter':34} {'laid out':>9} {'drawn':>7} {'worst':>7} {'shown':>6}   (ms, median of {args.repeats})")
    for name, f in figures["filters"].items():
        print(f"  {name:34} {f['laid_out_ms']:9.1f} {f['drawn_ms']:7.1f} {f['worst_drawn_ms']:7.1f} {f['shown']:6d}")
    print(f"  worst filter    {figures['worst_drawn_ms']} ms drawn (target < 200 ms)")
    if figures["page_problems"]:
        print(f"  page problems: {figures['page_problems']}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
