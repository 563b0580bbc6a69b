"""Bad input from outside ends in one clear message, never a traceback.

Every file a user or another party can hand mix_eval (response, status, judged and
journal files, the JSON files beside ``score.json``, ``calibration.json``, bundles,
``.env``) and its JSON flags, broken in the ways hands and crashes break them, walked
through each entry point that reads it: ``evaluate``, ``compute_metrics``, ``report``,
``bundle`` (``--out`` and ``--verify``), ``calibrate``, ``compare_judges`` and
``utils.check_eval_complete``.

The entry points are thin shells over ``main(argv)``, so most of the walk calls
``main`` in this process (a traceback is then an exception escaping ``main``, and the
printed text is checked too); the bundle repacked by hand and one input per command
run as a user runs them, ``python -m ...`` in a child process. Each run must end with
exit status 0, 1 (check_eval_complete's "incomplete") or 2; a status 2 must print one
``mix_eval: Error:`` line that names the file or flag. A broken file a reader may skip
(a journal line, a report's optional file) may end in 0: skipped, never crashed on.
"""
from __future__ import annotations

import gzip
import importlib
import io
import json
import logging
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import pytest
from conftest import JUDGE_KEY, clear_api_settings, judge_reply, make_responses, model_answer, run_module
from fake_openai_server import FakeOpenAIServer

from mix_eval.folders import status_path
from mix_eval.responses import COMPLETE, write_status

VERSION = "2024-06-01"
BENCHMARK = "mixeval_hard"
MODEL = "m"
JUDGE = "gpt-4.1-mini"
OTHER_JUDGE = "acme/judge-b"
RESPONSE = f"{MODEL}_close_freeform_hard.jsonl"
STATUS = "status_close_freeform_hard.json"
RULE_JUDGED = "judge_results_ff_rule.jsonl"
JUDGED = f"judge_results_ff_model_judge_{JUDGE}.jsonl"
JOURNAL = f".journal_judge_results_ff_model_judge_{JUDGE}.jsonl"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
NESTED = "[" * 100_000 + "]" * 100_000  # parsing it overflows Python's stack: RecursionError, not a ValueError


def answer_or_judge_by_name(body: dict) -> str:
    """The loopback server's replies: a verdict to a judge request, an answer to a model's."""
    user = body["messages"][-1]["content"]
    return judge_reply(body) if "Model's Answer: " in user and "\nYour Judgment:" in user else model_answer(body)


# ---------------------------------------------------------------- the runs broken below


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(reply=answer_or_judge_by_name, api_key=JUDGE_KEY) as s:
        yield s


@pytest.fixture(scope="module")
def base(tmp_path_factory, server) -> Path:
    """A run folder: 20 of each Hard split's reference responses under model ``m``, status
    files, judged by the rules and by two model judges (judged files, journals,
    ``score.json``, intervals, judge report, manifest), with the report written."""
    root = tmp_path_factory.mktemp("bad_input") / "run"
    vdir = make_responses(root, MODEL, BENCHMARK, 20)
    for split in SPLITS:
        write_status(status_path(vdir, split), {"model_name": MODEL, "split": split}, batch_id=0,
                     time_elapsed=1.0, state=COMPLETE)
    with pytest.MonkeyPatch.context() as mp:
        clear_api_settings(mp, root.parent)
        mp.setenv("MODEL_PARSER_API", JUDGE_KEY)
        for judge in (OTHER_JUDGE, JUDGE):
            assert main_of("mix_eval.compute_metrics")(cm_args(root, server, judge)) == 0
        assert main_of("mix_eval.compute_metrics")(cm_args(root, None, "rule")) == 0
    assert (vdir / JOURNAL).is_file() and (vdir / JUDGED).is_file() and (vdir / RULE_JUDGED).is_file()
    return root


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory) -> Path:
    """A complete run (every Hard response, status files complete) scored by the rules: a
    bundle of it verifies."""
    root = tmp_path_factory.mktemp("complete") / "run"
    vdir = make_responses(root, MODEL, BENCHMARK)
    for split in SPLITS:
        write_status(status_path(vdir, split), {"model_name": MODEL, "split": split}, batch_id=0,
                     time_elapsed=1.0, state=COMPLETE)
    with pytest.MonkeyPatch.context() as mp:
        clear_api_settings(mp, root.parent)
        assert main_of("mix_eval.compute_metrics")(cm_args(root, None, "rule")) == 0
    return root


def main_of(module: str) -> Callable[[Sequence[str]], int]:
    return importlib.import_module(module).main


def cm_args(root: Path, server: Optional[FakeOpenAIServer], judge: str, *extra: str) -> list[str]:
    """compute_metrics over ``root``: by the rules (``judge`` "rule"), else by that model judge."""
    args = ["--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir", str(root), *extra]
    if judge == "rule":
        return args + ["--free_form_parser", "rule", "--multi_choice_parser", "rule"]
    return args + ["--freeform_judge", judge, "--multichoice_judge", judge, "--api_parallel_num", "4",
                   "--api_base_url", server.base_url]


# ---------------------------------------------------------------- running an entry point


@dataclass
class Outcome:
    status: int
    text: str  # stdout and stderr

    def errors(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.startswith("mix_eval: Error:")]


def call(capfd, caplog, module: str, argv: Sequence[str]) -> Outcome:
    """``module``'s ``main(argv)`` in this process, as its ``python -m`` shell runs it.
    An exception escaping it fails the test here, with its traceback."""
    capfd.readouterr()
    caplog.clear()
    try:
        status = main_of(module)(list(argv))
    except SystemExit as e:  # argparse refusing a flag: its usage line and error, status 2
        status = e.code if isinstance(e.code, int) else 2
    captured = capfd.readouterr()
    logged = [r for r in caplog.records if r.exc_info]
    assert not logged, f"{module} logged a traceback: {logged[0].getMessage()}"
    return Outcome(status, captured.out + captured.err + caplog.text)


def assert_clear(outcome: Outcome, names: Sequence[str], *, allowed: Sequence[int] = (0, 1, 2)) -> None:
    """No traceback; an allowed status; a failure is one error line naming one of ``names``."""
    assert "Traceback" not in outcome.text, outcome.text[-3000:]
    assert outcome.status in allowed, outcome.text[-3000:]
    if outcome.status == 2:
        errors = outcome.errors() or [line for line in outcome.text.splitlines() if "error:" in line]
        assert len(errors) == 1, outcome.text[-3000:]
        assert any(name in errors[0] for name in names), errors[0]


# ---------------------------------------------------------------- the files of a run folder


def lines_with(path: Path, index: int, text: bytes) -> None:
    """Line ``index`` of ``path`` replaced by ``text`` (appended when past the end)."""
    lines = path.read_bytes().split(b"\n")
    lines[min(index, len(lines) - 1)] = text
    path.write_bytes(b"\n".join(lines) + b"\n")


def replaced(text: str | bytes) -> Callable[[Path], None]:
    data = text.encode() if isinstance(text, str) else text
    return lambda path: path.write_bytes(data)


def line(index: int, text: str | bytes) -> Callable[[Path], None]:
    data = text.encode() if isinstance(text, str) else text
    return lambda path: lines_with(path, index, data)


def a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


HUGE = json.dumps({"id": "0", "response": "x" * 5_000_000}).encode()
GARBAGE_LINES = ("not json\n[1, 2]\nnull\n{\"id\": [1], \"round\": \"x\"}\n"
                 "{\"id\": \"1\", \"round\": 1e999, \"reply\": 5, \"digest\": 7, \"outcome\": []}\n\xff\xfe\n")

# (case, file in the model folder (or "../" the run folder), the breakage)
FILE_BREAKAGES = [
    ("response-not-json", RESPONSE, line(3, "{oops")),
    ("response-wrong-types", RESPONSE, line(3, '{"id": "3", "response": {"a": 1}, "options": "abc", "target": {}}')),
    ("response-null-line", RESPONSE, line(3, "null")),
    ("response-not-utf8", RESPONSE, line(3, b"\xff\xfe\x00 x")),
    ("response-torn-tail", RESPONSE, lambda p: p.write_bytes(p.read_bytes() + b'{"id": "99", "resp')),
    ("response-huge-line", RESPONSE, line(3, HUGE)),
    ("response-nested", RESPONSE, line(3, NESTED)),
    ("response-empty", RESPONSE, replaced(b"")),
    ("response-thinking-wrong-types", RESPONSE, lambda p: p.write_text("".join(
        json.dumps({**json.loads(t), "reasoning": 5, "reasoning_tokens": "many", "thinking_cut_off": "yes",
                    "usage": {"prompt_tokens": "x", "completion_tokens": [1]}}) + "\n"
        for t in p.read_text().splitlines()))),
    ("response-usage-not-object", RESPONSE, lambda p: p.write_text("".join(
        json.dumps({**json.loads(t), "usage": "lots", "reasoning_tokens": 1e999}) + "\n"
        for t in p.read_text().splitlines()))),
    ("response-utf16", RESPONSE, lambda p: p.write_bytes(p.read_text().encode("utf-16"))),
    ("status-not-json", STATUS, replaced("{not json")),
    ("status-list", STATUS, replaced("[1, 2]")),
    ("status-args-text", STATUS, replaced('{"args": "x", "status": {"status": "complete"}}')),
    ("status-status-text", STATUS, replaced('{"args": {}, "status": "complete"}')),
    ("status-wrong-types", STATUS, replaced(json.dumps({
        "args": {"model_name": ["m"], "split": 5, "model_base_url": 7, "model_price": "x", "backend": [1]},
        "status": {"status": "complete", "batch_id": "x", "time_elapsed": "y", "thinking": "z", "batch": 5}}))),
    ("status-not-utf8", STATUS, replaced(b"\xff\xfe\x00")),
    ("status-nested", STATUS, replaced(NESTED)),
    ("status-a-folder", STATUS, a_folder),
    ("judged-rule-garbage", RULE_JUDGED, replaced(GARBAGE_LINES)),
    ("judged-rule-wrong-types", RULE_JUDGED, line(2, '{"id": "2", "eval_result": "yes", "judge_score": "high", "benchmark_name": 5}')),
    ("judged-model-garbage", JUDGED, line(2, GARBAGE_LINES.splitlines()[4])),
    ("judged-model-nested", JUDGED, line(2, NESTED)),
    ("judged-name-without-judge", "judge_results_ff_model_judge_.jsonl", replaced(GARBAGE_LINES)),
    ("judged-name-of-no-parser", "judge_results_mp_oracle.jsonl", replaced("{}\n")),
    ("judged-of-a-third-judge-garbage", "judge_results_mp_model_judge_gpt-4o-mini.jsonl", replaced(GARBAGE_LINES)),
    ("journal-garbage", JOURNAL, lambda p: p.write_bytes(p.read_bytes() + GARBAGE_LINES.encode("utf-8", "replace"))),
    ("journal-wrong-reply", JOURNAL, lambda p: p.write_text("".join(
        json.dumps({**json.loads(t), "reply": {"x": 1}, "outcome": 5, "usage": "many"}) + "\n"
        for t in p.read_text().splitlines()))),
    ("score-not-json", "score.json", replaced("{oops")),
    ("score-list", "score.json", replaced("[1]")),
    ("score-wrong-types", "score.json", replaced('{"overall": "x", "GSM8k": null, "MATH": [1]}')),
    ("intervals-wrong-types", "score_intervals.json", replaced('{"scores": {"overall": [1], "x": {"low": "a"}}}')),
    ("intervals-not-object", "score_intervals.json", replaced('{"scores": 5}')),
    ("judge-report-list", "judge_report.json", replaced("[1, 2]")),
    ("judge-report-wrong-types", "judge_report.json", replaced(json.dumps({
        "free-form": {"judge": 5, "tokens": "x", "cost": [1], "counts": 3, "params": 1},
        "multiple-choice": 7, "judges": 3}))),
    ("manifest-wrong-types", "run_manifest.json", replaced(json.dumps({
        "judges": {"free-form": 5, "multiple-choice": {"judged_file": 3}}, "generation": "x", "model": [1],
        "scoring": 4, "data": "y"}))),
    ("manifest-not-utf8", "run_manifest.json", replaced(b"\xff")),
    ("derived-from-wrong-types", "derived_from.json", replaced('{"source": 5, "version": [1], "benchmark": null}')),
    ("run-score-wrong-types", "../score.json", replaced('{"m": 5, "x": [1], "y": {"overall": "z"}}')),
    ("run-score-not-json", "../score.json", replaced("{oops")),
]

# What reads each file: the entry points each breakage is walked through (all but evaluate,
# which has its own cases below: it needs a model).
RULES, BY_JUDGED, BY_JUDGE, REPORT, CHECK, BUNDLE, COMPARE = (
    "compute_metrics (rules)", "compute_metrics --compute_score_from_judged_file", "compute_metrics (model judge)",
    "report", "check_eval_complete", "bundle", "compare_judges")
# read-only first: the scoring runs rewrite what they score
ENTRY_ORDER = (REPORT, CHECK, BUNDLE, COMPARE, BY_JUDGED, BY_JUDGE, RULES)


def entry_argv(entry: str, root: Path, server: FakeOpenAIServer, work: Path) -> tuple[str, list[str]]:
    if entry == RULES:
        return "mix_eval.compute_metrics", cm_args(root, None, "rule")
    if entry == BY_JUDGED:
        return "mix_eval.compute_metrics", cm_args(root, None, "rule", "--compute_score_from_judged_file")
    if entry == BY_JUDGE:
        return "mix_eval.compute_metrics", cm_args(root, server, JUDGE)
    if entry == REPORT:
        return "mix_eval.report", ["--model_response_dir", str(root)]
    if entry == CHECK:
        return "mix_eval.utils.check_eval_complete", [
            "--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir", str(root),
            "--chat_models_to_check", MODEL, "--base_models_to_check", "none", "--out_path", str(work / "checks.log")]
    if entry == COMPARE:
        return "mix_eval.compare_judges", ["--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir",
                                           str(root), "--judges", OTHER_JUDGE, JUDGE]
    raise AssertionError(entry)


@pytest.fixture
def walk(base, server, tmp_path, capfd, caplog, monkeypatch):
    """``walk(breakage, path)``: a copy of the base run with ``path`` broken, walked
    through every entry point in `ENTRY_ORDER` (bundle: --out, then --verify of it)."""
    caplog.set_level(logging.INFO)
    clear_api_settings(monkeypatch, tmp_path)
    monkeypatch.setenv("MODEL_PARSER_API", JUDGE_KEY)
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path / "cache"))

    def run(breakage: Callable[[Path], None], name: str) -> dict[str, Outcome]:
        root = tmp_path / "run"
        shutil.copytree(base, root)
        path = (root / MODEL / BENCHMARK / VERSION / name).resolve()
        breakage(path)
        outcomes = {}
        for entry in ENTRY_ORDER:
            if entry == BUNDLE:
                archive = tmp_path / "run.tar.gz"
                outcomes["bundle --out"] = call(capfd, caplog, "mix_eval.bundle",
                                                ["--model_response_dir", str(root), "--out", str(archive)])
                if archive.exists():
                    outcomes["bundle --verify"] = call(capfd, caplog, "mix_eval.bundle", ["--verify", str(archive)])
                continue
            module, argv = entry_argv(entry, root, server, tmp_path)
            outcomes[entry] = call(capfd, caplog, module, argv)
        return outcomes

    return run


@pytest.mark.slow
@pytest.mark.parametrize("case, name, breakage", FILE_BREAKAGES, ids=[c[0] for c in FILE_BREAKAGES])
def test_a_broken_file_of_a_run_is_never_a_traceback(walk, case, name, breakage):
    outcomes = walk(breakage, name)
    for entry, outcome in outcomes.items():
        try:
            assert_clear(outcome, [Path(name).name, f"{MODEL}/{BENCHMARK}/{VERSION}"])
        except AssertionError as e:
            raise AssertionError(f"{entry}: {e}") from None


# ---------------------------------------------------------------- evaluate: a folder it resumes


@pytest.fixture
def api_env(server, tmp_path, monkeypatch, caplog):
    """An API model (gpt_4o) and its judge on the loopback server; ``tmp_path`` the working folder."""
    caplog.set_level(logging.INFO)
    clear_api_settings(monkeypatch, tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("k_oai", JUDGE_KEY)
    monkeypatch.setenv("MODEL_PARSER_API", JUDGE_KEY)
    monkeypatch.setenv("MIX_EVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def evaluate_argv(out: Path, *extra: str) -> list[str]:
    return ["--model_name", "gpt_4o", "--benchmark", BENCHMARK, "--version", VERSION, "--batch_size", "4",
            "--output_dir", str(out), "--limit", "3", "--inference_only", *extra]


EVALUATE_BREAKAGES = [c for c in FILE_BREAKAGES if c[1] in (RESPONSE, STATUS)]


@pytest.mark.slow
@pytest.mark.parametrize("case, name, breakage", EVALUATE_BREAKAGES, ids=[c[0] for c in EVALUATE_BREAKAGES])
def test_evaluate_resuming_a_broken_file_is_never_a_traceback(api_env, capfd, caplog, case, name, breakage):
    out = api_env / "out"
    assert call(capfd, caplog, "mix_eval.evaluate", evaluate_argv(out)).status == 0
    vdir = out / "gpt_4o" / BENCHMARK / VERSION
    name = name.replace(f"{MODEL}_close", "gpt_4o_close")
    breakage(vdir / name)
    outcome = call(capfd, caplog, "mix_eval.evaluate", evaluate_argv(out))
    assert_clear(outcome, [name], allowed=(0, 2))


# ---------------------------------------------------------------- flags that hold JSON or prices


FLAG_CASES = [
    ("mix_eval.evaluate", "--model_gen_kwargs", "{oops"),
    ("mix_eval.evaluate", "--model_gen_kwargs", "[1]"),
    ("mix_eval.evaluate", "--model_gen_kwargs", NESTED),
    ("mix_eval.evaluate", "--chat_template_kwargs", "{oops"),
    ("mix_eval.evaluate", "--chat_template_kwargs", '"text"'),
    ("mix_eval.evaluate", "--chat_template_kwargs", NESTED),
    ("mix_eval.evaluate", "--model_price", "cheap"),
    ("mix_eval.evaluate", "--model_price", "nan,1"),
    ("mix_eval.evaluate", "--model_price", "1,2,3"),
    ("mix_eval.compute_metrics", "--judge_price", "-1,2"),
    ("mix_eval.compute_metrics", "--judge_price", "1e999,1"),
    ("mix_eval.calibrate", "--judge_price", "x,y"),
]


@pytest.mark.parametrize("module, flag, value", FLAG_CASES, ids=[f"{m.split('.')[-1]}{f}={v[:8]}" for m, f, v in FLAG_CASES])
def test_a_bad_json_or_price_flag_is_one_line_naming_it(api_env, capfd, caplog, module, flag, value):
    if module == "mix_eval.evaluate":
        argv = evaluate_argv(api_env / "out", flag, value)
    elif module == "mix_eval.compute_metrics":
        argv = ["--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir", str(api_env), flag, value]
    else:
        argv = ["--freeform_judge", JUDGE, "--multichoice_judge", JUDGE, "--output_dir", str(api_env / "cal"),
                flag, value]
    outcome = call(capfd, caplog, module, argv)
    assert outcome.status == 2
    assert_clear(outcome, [flag])
    assert not list(api_env.rglob("*.jsonl")) and not (api_env / "cal" / "calibration.json").exists()


# ---------------------------------------------------------------- .env


ENV_FILES = [
    ("not-utf8", lambda p: p.write_bytes(b"MODEL_PARSER_API=\xff\xfe\n")),
    ("garbage-lines", lambda p: p.write_text("this is not\n=novalue\nexport\n'unclosed=\nk_oai\n")),
    ("a-folder", lambda p: p.mkdir()),
]


@pytest.mark.slow
@pytest.mark.parametrize("case, make", ENV_FILES, ids=[c[0] for c in ENV_FILES])
def test_a_broken_env_file_is_never_a_traceback(api_env, base, server, capfd, caplog, case, make):
    make(api_env / ".env")
    outcome = call(capfd, caplog, "mix_eval.evaluate", evaluate_argv(api_env / "out"))
    assert_clear(outcome, [".env"], allowed=(0, 2))
    root = api_env / "run"
    shutil.copytree(base, root)
    outcome = call(capfd, caplog, "mix_eval.compute_metrics", cm_args(root, server, JUDGE))
    assert_clear(outcome, [".env"], allowed=(0, 2))


# ---------------------------------------------------------------- calibration.json


CALIBRATIONS = [
    ("not-json", "{oops"), ("list", "[1]"), ("not-utf8", b"\xff\xfe"), ("nested", NESTED),
    ("wrong-types", '{"judge": 5, "judges": [1], "created": null, "mean_delta": {"x": "y"}}'),
    ("wrong-values", '{"judge": "j", "judges": {"free-form": 5}, "created": 7, "mean_delta": {"overall": "much"}}'),
]


@pytest.mark.slow  # on the module's whole run
@pytest.mark.parametrize("case, content", CALIBRATIONS, ids=[c[0] for c in CALIBRATIONS])
def test_a_broken_calibration_json_is_never_a_traceback(base, api_env, capfd, caplog, case, content):
    from mix_eval.calibration.record import default_dir
    from mix_eval.splits import SplitKind

    root = api_env / "run"
    shutil.copytree(base, root)
    given = api_env / "calibration.json"
    replaced(content)(given)
    outcome = call(capfd, caplog, "mix_eval.report", ["--model_response_dir", str(root), "--calibration", str(given)])
    assert_clear(outcome, [str(given)])
    for judge in ("rule", JUDGE):  # the one kept in the cache, found by the report itself
        kept = default_dir({kind: judge for kind in SplitKind}) / "calibration.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        replaced(content)(kept)
    for argv in (["--model_response_dir", str(root)], cm_args(root, None, "rule", "--compute_score_from_judged_file")):
        module = "mix_eval.report" if len(argv) == 2 else "mix_eval.compute_metrics"
        assert_clear(call(capfd, caplog, module, argv), ["calibration.json"])


# ---------------------------------------------------------------- bundles


def unpacked_bundle(complete_run: Path, tmp_path: Path) -> Path:
    """The bundle of the complete run, written by mix_eval and unpacked: its top folder."""
    archive = tmp_path / "original.tar.gz"
    assert main_of("mix_eval.bundle")(["--model_response_dir", str(complete_run), "--out", str(archive)]) == 0
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    return tmp_path / "unpacked" / complete_run.name


def repacked_from_inside(top: Path, out: Path) -> Path:
    """What ``cd run && tar -czf run.tar.gz .`` makes: a ``./`` folder, every member named ``./...``."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(top, arcname=".")
    return out


@pytest.mark.slow
def test_a_bundle_repacked_by_hand_verifies_and_tampered_is_refused_naming_the_judged_file(complete_run, tmp_path):
    top = unpacked_bundle(complete_run, tmp_path)
    archive = repacked_from_inside(top, tmp_path / "run.tar.gz")
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == "." and all(n == "." or n.startswith("./") for n in tar.getnames())
    proc = run_module("mix_eval.bundle", "--verify", str(archive), cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "score.json: reproduced from judge_results_ff_rule.jsonl and judge_results_mp_rule.jsonl" in proc.stdout
    assert "check_eval_complete: 1 folder(s) complete" in proc.stdout and "verified" in proc.stdout

    judged = top / MODEL / BENCHMARK / VERSION / RULE_JUDGED
    lines = [json.loads(t) for t in judged.read_text().splitlines()]
    right = next(x for x in lines if x["eval_result"] is True)
    right["eval_result"] = False
    judged.write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = run_module("mix_eval.bundle", "--verify", str(repacked_from_inside(top, tmp_path / "edited.tar.gz")),
                      cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"{MODEL}/{BENCHMARK}/{VERSION}/score.json: overall is" in proc.stderr and RULE_JUDGED in proc.stderr


@pytest.mark.slow  # on the module's whole run
def test_a_bundle_of_one_model_folder_repacked_without_its_top_folder_verifies(complete_run, tmp_path, capfd, caplog):
    """``tar -czf m.tar.gz m`` from inside the run folder: the model folder is the top one."""
    top = unpacked_bundle(complete_run, tmp_path)
    archive = tmp_path / "m.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(top / MODEL, arcname=MODEL)
    outcome = call(capfd, caplog, "mix_eval.bundle", ["--verify", str(archive)])
    assert outcome.status == 0 and "verified" in outcome.text, outcome.text


def member(tar: tarfile.TarFile, name: str, data: Optional[bytes] = b"{}", **info) -> None:
    entry = tarfile.TarInfo(name)
    for key, value in info.items():
        setattr(entry, key, value)
    if data is None:
        tar.addfile(entry)
    else:
        entry.size = len(data)
        tar.addfile(entry, io.BytesIO(data))


def archive_of(make: Callable[[tarfile.TarFile], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with tarfile.open(path, "w:gz") as tar:
            make(tar)
    return write


def good_bytes(complete_run: Path, tmp_path: Path) -> bytes:
    archive = tmp_path / "good.tar.gz"
    assert main_of("mix_eval.bundle")(["--model_response_dir", str(complete_run), "--out", str(archive)]) == 0
    return archive.read_bytes()


BAD_ARCHIVES = [
    ("dot-dot", archive_of(lambda t: member(t, "run/../../escaped.json")), "refused"),
    ("absolute", archive_of(lambda t: member(t, "/tmp/absolute.json")), "refused"),
    ("symlink", archive_of(lambda t: member(t, "run/link", None, type=tarfile.SYMTYPE, linkname="/etc/passwd")),
     "refused"),
    ("hardlink", archive_of(lambda t: member(t, "run/hard", None, type=tarfile.LNKTYPE, linkname="run/x")),
     "refused"),
    ("fifo", archive_of(lambda t: member(t, "run/fifo", None, type=tarfile.FIFOTYPE)), "refused"),
    ("duplicate", archive_of(lambda t: (member(t, "run/score.json"), member(t, "run/score.json"))), "twice"),
    ("duplicate-through-dot", archive_of(lambda t: (member(t, "run/score.json"), member(t, "./run/score.json"))),
     "twice"),
    ("file-and-folder", archive_of(lambda t: (member(t, "run/m"), member(t, "run/m/x.json"))), "a file and a folder"),
    ("dot-as-a-file", archive_of(lambda t: member(t, "./")), "refused"),
    ("empty-archive", archive_of(lambda t: None), "no model folder"),
    ("no-model-folder", archive_of(lambda t: member(t, "run/notes.txt", b"hello")), "no model folder"),
    ("not-gzip", replaced(b"just some text\n" * 100), "cannot be read"),
    ("gzip-of-text", replaced(gzip.compress(b"just some text\n" * 100)), "cannot be read"),
    ("empty-file", replaced(b""), "cannot be read"),
]


@pytest.mark.parametrize("case, make, words", BAD_ARCHIVES, ids=[c[0] for c in BAD_ARCHIVES])
def test_a_bad_archive_is_refused_in_one_line(tmp_path, capfd, caplog, case, make, words):
    archive = tmp_path / "inside" / "bad.tar.gz"
    archive.parent.mkdir()
    if case == "dot-as-a-file":
        with tarfile.open(archive, "w:gz") as tar:
            member(tar, ".")
    else:
        make(archive)
    outcome = call(capfd, caplog, "mix_eval.bundle", ["--verify", str(archive)])
    assert outcome.status == 2
    assert_clear(outcome, [str(archive)])
    assert words in outcome.errors()[0]
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/absolute.json").exists()


@pytest.mark.slow  # on the module's whole run
@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_a_truncated_bundle_is_refused_in_one_line(complete_run, tmp_path, capfd, caplog, cut):
    data = good_bytes(complete_run, tmp_path)
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(data[: int(len(data) * cut)])
    outcome = call(capfd, caplog, "mix_eval.bundle", ["--verify", str(archive)])
    assert outcome.status == 2
    assert_clear(outcome, [str(archive)])


def test_verify_of_a_folder_or_nothing_is_one_line(tmp_path, capfd, caplog):
    for target in (tmp_path, tmp_path / "absent.tar.gz"):
        outcome = call(capfd, caplog, "mix_eval.bundle", ["--verify", str(target)])
        assert outcome.status == 2
        assert_clear(outcome, [str(target)])


# ---------------------------------------------------------------- as a user runs them


@pytest.mark.slow
def test_every_entry_point_run_as_a_user_prints_no_traceback(base, server, tmp_path, monkeypatch):
    """``python -m`` each command over a run folder whose model folders are each broken
    another way (a shell's own path: argument parsing, exit, error.log), plus the JSON flags."""
    root = tmp_path / "run"
    shutil.copytree(base, root)
    breakages = {c[0]: c for c in FILE_BREAKAGES}
    for n, case in enumerate(("status-wrong-types", "manifest-wrong-types", "journal-wrong-reply", "response-nested",
                              "judged-model-nested", "intervals-wrong-types")):
        _, name, breakage = breakages[case]
        model = f"m{n}"
        shutil.copytree(root / MODEL, root / model)
        for path in (root / model / BENCHMARK / VERSION).glob(f"{MODEL}_*.jsonl"):
            path.rename(path.with_name(path.name.replace(f"{MODEL}_", f"{model}_", 1)))
        breakage(root / model / BENCHMARK / VERSION / name.replace(f"{MODEL}_close", f"{model}_close"))
    env = {"MODEL_PARSER_API": JUDGE_KEY, "MIX_EVAL_CACHE": str(tmp_path / "cache"), "k_oai": JUDGE_KEY,
           "OPENAI_BASE_URL": server.base_url}
    archive = tmp_path / "run.tar.gz"
    runs = [
        ("mix_eval.report", "--model_response_dir", str(root)),
        ("mix_eval.utils.check_eval_complete", "--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir",
         str(root), "--chat_models_to_check", MODEL, "m0", "m1", "m2", "m3", "m4", "m5", "--base_models_to_check",
         "none", "--out_path", str(tmp_path / "checks.log")),
        ("mix_eval.bundle", "--model_response_dir", str(root), "--out", str(archive)),
        ("mix_eval.bundle", "--verify", str(archive)),
        ("mix_eval.compare_judges", "--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir", str(root),
         "--judges", OTHER_JUDGE, JUDGE),
        ("mix_eval.compute_metrics", *cm_args(root, None, "rule", "--compute_score_from_judged_file")),
        ("mix_eval.compute_metrics", *cm_args(root, server, JUDGE)),
        ("mix_eval.evaluate", *evaluate_argv(tmp_path / "out", "--model_gen_kwargs", "{oops")),
        ("mix_eval.calibrate", "--freeform_judge", JUDGE, "--multichoice_judge", JUDGE, "--judge_price", "x"),
    ]
    for module, *args in runs:
        proc = run_module(module, *args, cwd=tmp_path, env=env, timeout=120)
        assert "Traceback" not in proc.stdout + proc.stderr, (module, proc.stderr[-3000:])
        assert proc.returncode in (0, 1, 2), (module, proc.returncode, proc.stderr[-3000:])
        if proc.returncode == 2:
            errors = [x for x in proc.stderr.splitlines() if x.startswith("mix_eval: Error:") or "error:" in x]
            assert len(errors) == 1, (module, proc.stderr[-3000:])


# ---------------------------------------------------------------- Batch API journals


BATCH_JOURNALS = [
    ("garbage", GARBAGE_LINES),
    ("wrong-types", "".join(json.dumps(x) + "\n" for x in (
        {"event": "file", "file_id": 5, "requests": 7}, {"event": "creating", "file_id": "f", "time": "soon"},
        {"event": "batch", "batch_id": [1], "file_id": {"a": 1}}, {"event": "reply", "ident": [2], "response": 3},
        {"event": "done", "batch_id": {"b": 1}}))),
]


@pytest.mark.slow  # on the module's whole run
@pytest.mark.parametrize("case, content", BATCH_JOURNALS, ids=[c[0] for c in BATCH_JOURNALS])
def test_a_broken_batch_journal_is_never_a_traceback(base, server, api_env, capfd, caplog, monkeypatch, case, content):
    from mix_eval.folders import batch_journal_path, model_batch_journal_path

    monkeypatch.setenv("MIX_EVAL_BATCH_POLL_SECONDS", "0.01")
    root = api_env / "run"
    shutil.copytree(base, root)
    for path in (root / MODEL / BENCHMARK / VERSION).glob(f"*{JUDGE}*"):
        path.unlink()  # the judge's files gone: the batch judge has everything to do
    batch_journal_path(root, JUDGE).write_text(content, encoding="utf-8", errors="replace")
    outcome = call(capfd, caplog, "mix_eval.compute_metrics", cm_args(root, server, JUDGE, "--judge_mode", "batch"))
    assert_clear(outcome, [batch_journal_path(root, JUDGE).name])

    out = api_env / "out"
    vdir = out / "gpt_4o" / BENCHMARK / VERSION
    vdir.mkdir(parents=True)
    for split in SPLITS:
        model_batch_journal_path(vdir, split).write_text(content, encoding="utf-8", errors="replace")
    outcome = call(capfd, caplog, "mix_eval.evaluate", evaluate_argv(out, "--model_mode", "batch"))
    assert_clear(outcome, [".batch_journal_"])


# ---------------------------------------------------------------- paths given as flags


@pytest.mark.slow  # on the module's whole run
def test_an_output_path_that_cannot_be_written_is_one_line(base, tmp_path, capfd, caplog):
    """--out_path and --out naming a folder, or a path under a file."""
    a_file, a_folder = tmp_path / "a_file", tmp_path / "a_folder"
    a_file.write_text("x")
    a_folder.mkdir()
    check = ["--benchmark", BENCHMARK, "--version", VERSION, "--model_response_dir", str(base),
             "--chat_models_to_check", MODEL, "--base_models_to_check", "none", "--out_path"]
    for module, argv, flag in [
        ("mix_eval.utils.check_eval_complete", [*check, str(a_folder)], "--out_path"),
        ("mix_eval.utils.check_eval_complete", [*check, str(a_file / "checks.log")], "--out_path"),
        ("mix_eval.bundle", ["--model_response_dir", str(base), "--out", str(a_folder)], "--out"),
        ("mix_eval.bundle", ["--model_response_dir", str(base), "--out", str(a_file / "run.tar.gz")], "--out"),
    ]:
        outcome = call(capfd, caplog, module, argv)
        assert outcome.status == 2
        assert_clear(outcome, [flag])
    assert not list(a_folder.iterdir())
