"""MixEval-Hard as an Inspect task (`mix_eval.integrations.inspect_task`) and an Inspect
log brought back (`python -m mix_eval.import_run`), against loopback servers: one model
server answering this package's ``openai_compatible`` model and Inspect's
OpenAI-compatible provider, one judge server answering this package's judge and
Inspect's ``grader`` role. All 1000 items, both ways: the same messages per item, the
same responses, the same judged lines and ``score.json``, and Inspect's own metric equal
to ``compute_metrics``' to the last digit."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest

inspect_ai = pytest.importorskip("inspect_ai")

from conftest import (  # noqa: E402
    API_SETTINGS, CHILD_ENV, JUDGE_KEY, REPO, judge_reply, model_answer, read_jsonl, run_module,
)
from fake_openai_server import FakeOpenAIServer  # noqa: E402
from inspect_ai import eval as inspect_eval  # noqa: E402
from test_report import assert_markdown_without_html, assert_self_contained  # noqa: E402

from mix_eval.compute_metrics import main as compute_main  # noqa: E402
from mix_eval.data import load_split, splits_for  # noqa: E402
from mix_eval.evaluate import main as evaluate_main  # noqa: E402
from mix_eval.folders import MANIFEST_FILE, SCORE_FILE, judged_files  # noqa: E402
from mix_eval.import_run import main as import_main  # noqa: E402
from inspect_ai.log import read_eval_log, write_eval_log  # noqa: E402
from mix_eval.integrations.inspect_task import (  # noqa: E402
    INSPECT_REQUIREMENT, mixeval_hard, mixeval_score, mixeval_scorer,
)
from mix_eval.reporting.collect import collect  # noqa: E402
from mix_eval.reporting.samples import explorer_data  # noqa: E402
from mix_eval.settings import DEFAULT_JUDGE, ReportSettings  # noqa: E402
from mix_eval.utils.check_eval_complete import main as check_main  # noqa: E402

VERSION = "2024-06-01"
SERVED = "m1"  # the model id both ways ask the model server for
INSPECT_MODEL = f"openai-api/loop/{SERVED}"  # Inspect's OpenAI-compatible provider, service "loop"
GRADER = f"openai-api/judge/{DEFAULT_JUDGE}"  # the grader role on the judge server
OWN, IMPORTED = "own", "imported"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")


def messages_sent(requests) -> Counter:
    """The messages of each chat request, as a multiset (one entry per item asked)."""
    return Counter(json.dumps(r.body["messages"], sort_keys=True) for r in requests)


def lines_by_id(vdir: Path, folder: str, split: str) -> dict[str, dict]:
    return {line["id"]: line for line in read_jsonl(vdir / f"{folder}_{split}.jsonl")}


def metric_values(log) -> dict[str, float]:
    """Inspect's own metric (``mixeval_score``) of a log, by key, as Inspect reports it."""
    (score,) = log.results.scores
    return {name: m.value for name, m in score.metrics.items()}


def explorer_rows(data: dict) -> list[str]:
    """The answers explorer's rows with their texts put back from its table (the run left
    out), sorted: what it shows of each item, whatever order the files were in."""
    fields, table = data["fields"]["item"], data["strings"]

    def text(index):
        return table[index] if isinstance(index, int) and 0 <= index < len(table) else index

    rows = []
    for item in data["items"]:
        row = dict(zip(fields, item))
        del row["run"]
        for key in ("benchmark_name", "context", "prompt", "response", "response_extracted"):
            row[key] = text(row[key])
        if row["options"] is not None:
            row["options"] = [text(o) for o in row["options"]]
        if isinstance(row["target"], list):
            row["target"] = [text(t) for t in row["target"]]
        row["verdicts"] = [[judge, score, text(answer), text(reply), flags]
                           for judge, score, answer, reply, flags in row["verdicts"]]
        rows.append(json.dumps(row, sort_keys=True))
    return sorted(rows)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The two loopback servers and an environment naming them, for the module."""
    root = tmp_path_factory.mktemp("inspect")
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer(reply=model_answer) as model_server, \
            FakeOpenAIServer(reply=judge_reply, api_key=JUDGE_KEY) as judge_server:
        for var in API_SETTINGS:
            mp.delenv(var, raising=False)
        mp.chdir(root)
        mp.setenv("MODEL_PARSER_API", JUDGE_KEY)
        mp.setenv("LOOP_BASE_URL", model_server.base_url)
        mp.setenv("LOOP_API_KEY", "sk-loop")
        mp.setenv("JUDGE_BASE_URL", judge_server.base_url)
        mp.setenv("JUDGE_API_KEY", JUDGE_KEY)
        mp.setenv("INSPECT_LOG_DIR", str(root / "logs"))
        yield {"root": root, "model": model_server, "judge": judge_server}


@pytest.fixture(scope="module")
def runs(env):
    """This package's openai_compatible run of all of MixEval-Hard, then Inspect's with
    MixEval's judge as the grader; the model server's requests of each."""
    root, model_server = env["root"], env["model"]
    assert evaluate_main(["--model_name", "openai_compatible", "--model_base_url", model_server.base_url,
                          "--model_id", SERVED, "--output_name", OWN, "--benchmark", "mixeval_hard",
                          "--version", VERSION, "--output_dir", str(root / "own"), "--batch_size", "64",
                          "--inference_only"]) == 0
    own_requests = model_server.chat_requests()
    model_server.reset()
    (log,) = inspect_eval(mixeval_hard(version=VERSION), model=INSPECT_MODEL, model_roles={"grader": GRADER},
                          log_dir=str(root / "logs"), display="none", log_realtime=False, max_connections=64)
    assert log.status == "success", log.error
    inspect_requests = model_server.chat_requests()
    model_server.reset()
    return {"own_requests": own_requests, "inspect_requests": inspect_requests, "log": log,
            "own": root / "own" / OWN / "mixeval_hard" / VERSION}


@pytest.fixture(scope="module")
def imported(env, runs):
    """The Inspect log imported by the command line; what it printed."""
    out = env["root"] / "imported"
    with pytest.MonkeyPatch.context():
        code = import_main(["--framework", "inspect", runs["log"].location, "--output_dir", str(out),
                            "--output_name", IMPORTED])
    assert code == 0
    return out / IMPORTED / "mixeval_hard" / VERSION


@pytest.fixture(scope="module")
def scored(env, runs, imported):
    """Both folders scored by compute_metrics with the loopback judge; the judge requests each made."""
    judge_server = env["judge"]
    judge_server.reset()
    common = ["--benchmark", "mixeval_hard", "--version", VERSION, "--api_base_url", judge_server.base_url,
              "--api_parallel_num", "32"]
    assert compute_main([*common, "--model_response_dir", str(env["root"] / "own")]) == 0
    own_calls = len(judge_server.chat_requests())
    judge_server.reset()
    assert compute_main([*common, "--model_response_dir", str(env["root"] / "imported")]) == 0
    return {"own_calls": own_calls, "imported_calls": len(judge_server.chat_requests())}


def test_each_item_is_asked_the_same_messages_both_ways(runs):
    own, theirs = runs["own_requests"], runs["inspect_requests"]
    assert len(own) == len(theirs) == 1000
    assert messages_sent(own) == messages_sent(theirs)
    # the same budget and model; one user turn each (openai_compatible has no system message)
    assert {(r.body["model"], r.body["max_tokens"]) for r in own + theirs} == {(SERVED, 1536)}
    assert {tuple(m["role"] for m in r.body["messages"]) for r in own + theirs} == {("user",)}


def test_the_imported_folder_holds_the_same_answers_and_a_manifest_naming_inspect(runs, imported):
    for split in SPLITS:
        own = lines_by_id(runs["own"], OWN, split)
        theirs = lines_by_id(imported, IMPORTED, split)
        assert len(own) == 500 and own.keys() == theirs.keys()
        assert {i: x["response"] for i, x in own.items()} == {i: x["response"] for i, x in theirs.items()}
        assert own == theirs  # every field: the item's, the formatted input, the usage
        status = json.loads((imported / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete" and status["args"]["imported_from"] == "inspect"
    manifest = json.loads((imported / MANIFEST_FILE).read_text())
    assert manifest["imported"]["framework"] == "inspect"
    assert manifest["imported"]["framework_version"] == inspect_ai.__version__
    assert manifest["imported"]["model"] == INSPECT_MODEL
    assert manifest["imported"]["settings"]["max_tokens"] == 1536
    assert "sk-" not in json.dumps(manifest)
    assert manifest["data"]["published_content"] is True


def test_judged_by_the_same_judge_the_scores_are_equal_and_equal_inspects_metric(runs, imported, scored):
    own = json.loads((runs["own"] / SCORE_FILE).read_text())
    theirs = json.loads((imported / SCORE_FILE).read_text())
    assert scored["own_calls"] == 1000
    assert scored["imported_calls"] == 0  # the grader's replies came with the log: nobody is asked again
    assert own == theirs
    assert metric_values(runs["log"]) == own  # every key, to the last digit
    manifest = json.loads((imported / MANIFEST_FILE).read_text())  # rewritten by the scoring, which keeps
    assert manifest["imported"]["framework"] == "inspect"  # where the answers came from
    assert manifest["judges"]["free_form"]["judge"] == DEFAULT_JUDGE
    for (path_a, name_a), (path_b, name_b) in zip(judged_files(runs["own"]), judged_files(imported), strict=True):
        assert name_a == name_b
        a, b = ({x["id"]: (x["judge_response"], x.get("judge_score", x.get("judge_option"))) for x in read_jsonl(p)}
                for p in (path_a, path_b))
        assert a == b


def test_the_report_explorer_bundle_and_completeness_check_of_an_imported_run(env, runs, imported, scored, tmp_path):
    out = imported.parent.parent.parent
    assert_self_contained((out / "report.html").read_text(encoding="utf-8"))
    assert_markdown_without_html((out / "report.md").read_text(encoding="utf-8"))
    # the explorer shows the same items, answers and verdicts as for this package's own run
    ours = explorer_data(collect(ReportSettings(model_response_dir=str(env["root"] / "own"))), "own")
    theirs = explorer_data(collect(ReportSettings(model_response_dir=str(out))), "imported")
    assert len(theirs["items"]) == len(ours["items"]) == 1000
    assert explorer_rows(theirs) == explorer_rows(ours)
    assert [r["model"] for r in theirs["runs"]] == [IMPORTED] and theirs["judges"] == ours["judges"]
    assert check_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(out),
                       "--base_models_to_check", "none", "--chat_models_to_check", IMPORTED,
                       "--out_path", str(tmp_path / "checks.log")]) == 0
    archive = tmp_path / "imported.tar.gz"
    made = run_module("mix_eval.bundle", "--model_response_dir", str(out), "--out", str(archive), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        assert f"imported/{IMPORTED}/mixeval_hard/{VERSION}/{MANIFEST_FILE}" in tar.getnames()
    verified = run_module("mix_eval.bundle", "--verify", str(archive), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_rule_parsers_score_without_any_judge(env, runs, tmp_path):
    """The rule parsers ask nobody: a run with no grader role sends no judge request, and
    Inspect's metric of the 1000 answers rescored by them (Inspect's own `score`, no model
    call) equals compute_metrics' rule scores, the random multiple-choice draws included.
    Those are drawn in the response file's order (the reference's): Inspect's metric and an
    imported folder take the packaged order, so this package's own lines (written in
    length-sorted batches) are put in that order before they are scored."""
    from inspect_ai import score as inspect_score

    env["judge"].reset()
    (small,) = inspect_eval(mixeval_hard(version=VERSION, parser="rule", split="multiple_choice"),
                            model=INSPECT_MODEL, limit=20, log_dir=str(tmp_path / "logs"), display="none",
                            log_realtime=False)
    assert small.status == "success", small.error and len(small.samples) == 20
    log = inspect_score(runs["log"], mixeval_scorer("mixeval_hard", VERSION, parser="rule"),
                        metrics=[mixeval_score("mixeval_hard", VERSION)], action="overwrite", display="none")
    assert env["judge"].chat_requests() == []
    env["model"].reset()
    rule = ["--benchmark", "mixeval_hard", "--version", VERSION, "--free_form_parser", "rule",
            "--multi_choice_parser", "rule"]
    own = tmp_path / "own" / OWN / "mixeval_hard" / VERSION
    own.mkdir(parents=True)
    for split in splits_for("mixeval_hard"):
        lines = lines_by_id(runs["own"], OWN, split.name)
        (own / f"{OWN}_{split.name}.jsonl").write_text(
            "".join(json.dumps(lines[item["id"]]) + "\n" for item in load_split(None, VERSION, split)))
        shutil.copy(runs["own"] / f"status_{split.name}.json", own / f"status_{split.name}.json")
    assert compute_main([*rule, "--model_response_dir", str(tmp_path / "own")]) == 0
    assert metric_values(log) == json.loads((own / SCORE_FILE).read_text())
    # imported, the rescored log gives the rule parser's judged files, and scores the same
    log_file = tmp_path / "rescored.eval"
    write_eval_log(log, str(log_file))
    assert import_main(["--framework", "inspect", str(log_file), "--output_dir", str(tmp_path / "imported")]) == 0
    vdir = tmp_path / "imported" / "openai-api_loop_m1" / "mixeval_hard" / VERSION
    assert {name.parser for _, name in judged_files(vdir)} == {"rule"}
    assert compute_main([*rule, "--model_response_dir", str(tmp_path / "imported")]) == 0
    assert json.loads((vdir / SCORE_FILE).read_text()) == metric_values(log)


def test_the_inspect_command_runs_the_registered_task_with_its_arguments_and_the_grader_role(env, tmp_path):
    """`inspect eval mix_eval/mixeval_hard` (the entry point), -T arguments and
    --model-role grader, as a user types them."""
    from importlib.metadata import entry_points

    if not any(ep.name == "mix_eval" for ep in entry_points(group="inspect_ai")):
        pytest.skip("mix_eval is not installed with its inspect_ai entry point: pip install -e '.[inspect]'")
    env["judge"].reset()
    child = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package, as a user has it
    done = subprocess.run(
        [sys.executable, "-m", "inspect_ai", "eval", "mix_eval/mixeval_hard", "--model", INSPECT_MODEL,
         "--model-role", f"grader={GRADER}", "-T", f"version={VERSION}", "-T", "split=mp", "--limit", "12",
         "--log-dir", str(tmp_path / "logs"), "--display", "plain", "--no-log-realtime"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**child, **CHILD_ENV},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    judged = env["judge"].chat_requests()
    assert len(judged) == 12 and all("Options: " in r.body["messages"][-1]["content"] for r in judged)
    (log_file,) = (tmp_path / "logs").glob("*.eval")
    log = read_eval_log(str(log_file))
    assert log.eval.task == "mix_eval/mixeval_hard" and log.eval.task_args["split"] == "mp"
    assert {s.metadata["split"] for s in log.samples} == {"close_multichoice_hard"}
    assert 0 <= metric_values(log)["overall"] <= 1
    # a log of only some items imports as an incomplete folder; the printed command scores it with no judge call
    proc = run_module("mix_eval.import_run", "--framework", "inspect", str(log_file), "--output_dir",
                      str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    vdir = tmp_path / "out" / "openai-api_loop_m1" / "mixeval_hard" / VERSION
    assert len(read_jsonl(vdir / "openai-api_loop_m1_close_multichoice_hard.jsonl")) == 12
    assert json.loads((vdir / "status_close_multichoice_hard.json").read_text())["status"]["status"] == "in progress"
    assert f"--multichoice_judge {DEFAULT_JUDGE}" in proc.stdout
