"""`python -m mix_eval.import_run` on the edges: a judge that needs several rounds, a log
of another task, a file that is no log, a folder that already holds responses, a run
made from other data. Small Inspect runs against loopback servers (Inspect's own
``mockllm`` provider for a log of another task)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

inspect_ai = pytest.importorskip("inspect_ai")

from conftest import (  # noqa: E402
    API_SETTINGS, JUDGE_KEY, judge_reply, model_answer, read_jsonl,
)
from fake_openai_server import FakeOpenAIServer  # noqa: E402
from inspect_ai import Task  # noqa: E402
from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.dataset import Sample  # noqa: E402
from inspect_ai.solver import generate  # noqa: E402

from mix_eval.compute_metrics import main as compute_main  # noqa: E402
from mix_eval.evaluate import main as evaluate_main  # noqa: E402
from mix_eval.folders import SCORE_FILE, judged_files  # noqa: E402
from mix_eval.import_run import main as import_main  # noqa: E402
from mix_eval.integrations.imported import ImportedRun  # noqa: E402
from mix_eval.integrations.inspect_task import mixeval_hard  # noqa: E402
from mix_eval.integrations.writer import write_imported_run  # noqa: E402
from mix_eval.settings import DEFAULT_JUDGE  # noqa: E402

VERSION = "2024-06-01"
N = 15  # items of each split


def slow_judge() -> callable:
    """A judge that gives no verdict the first one or two times it is asked a request
    (chosen by the request), then `judge_reply`: items need up to three rounds. Two items
    with the same request (the data has a few) share its count, so which of them needs the
    extra round can differ between runs; their verdicts cannot."""
    asked: dict[str, int] = {}

    def reply(body: dict) -> str:
        key = json.dumps(body["messages"])
        asked[key] = asked.get(key, 0) + 1
        if asked[key] <= len(key) % 3:
            return "I cannot tell."
        return judge_reply(body)

    return reply


_SERVICES = iter(range(1_000_000))


@pytest.fixture
def servers(monkeypatch, tmp_path):
    """A model server and two judge servers (one per path) for the test, with Inspect
    service names of their own: Inspect keeps the models it made (`get_model` memoizes by
    name), so a name reused by a later test would reach this test's server, stopped by then."""
    for var in API_SETTINGS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    n = next(_SERVICES)
    with FakeOpenAIServer(reply=model_answer) as model_server, \
            FakeOpenAIServer(reply=slow_judge(), api_key=JUDGE_KEY) as judge_a, \
            FakeOpenAIServer(reply=slow_judge(), api_key=JUDGE_KEY) as judge_b:
        monkeypatch.setenv("MODEL_PARSER_API", JUDGE_KEY)
        monkeypatch.setenv(f"LOOP{n}_BASE_URL", model_server.base_url)
        monkeypatch.setenv(f"LOOP{n}_API_KEY", "sk-loop")
        monkeypatch.setenv(f"JUDGE{n}_BASE_URL", judge_b.base_url)
        monkeypatch.setenv(f"JUDGE{n}_API_KEY", JUDGE_KEY)
        yield model_server, judge_a, judge_b, f"openai-api/loop{n}/m1", f"openai-api/judge{n}/{DEFAULT_JUDGE}"


def test_a_judge_that_needs_several_rounds_gives_the_same_judged_files_and_scores(servers, tmp_path):
    """The same flaky judge (a fresh copy for each path): this package's rounds and the
    Inspect scorer's retries get the same replies; the judged lines (in round order), the
    scores and Inspect's metric agree, and rescoring the import asks nobody."""
    model_server, judge_a, judge_b, model, grader = servers
    own = tmp_path / "own"
    assert evaluate_main(["--model_name", "openai_compatible", "--model_base_url", model_server.base_url,
                          "--model_id", "m1", "--output_name", "m1", "--benchmark", "mixeval_hard", "--version",
                          VERSION, "--output_dir", str(own), "--limit", str(N), "--batch_size", "8",
                          "--api_base_url", judge_a.base_url]) == 0
    assert len(judge_a.chat_requests()) > 2 * N  # some items took more rounds
    ids = [f"{split}:{i}" for split in ("close_freeform_hard", "close_multichoice_hard")
           for i in (line["id"] for line in read_jsonl(own / "m1" / "mixeval_hard" / VERSION
                                                        / f"m1_{split}.jsonl"))]
    (log,) = inspect_eval(mixeval_hard(version=VERSION), model=model, sample_id=ids,
                          model_roles={"grader": grader}, log_dir=str(tmp_path / "logs"),
                          display="none", log_realtime=False)
    assert log.status == "success", log.error
    assert len(judge_b.chat_requests()) == len(judge_a.chat_requests())
    vdir = own / "m1" / "mixeval_hard" / VERSION
    score = json.loads((vdir / SCORE_FILE).read_text())
    assert {k: m.value for k, m in log.results.scores[0].metrics.items()} == score

    judge_a.reset()
    assert import_main(["--framework", "inspect", log.location, "--output_dir", str(tmp_path / "imp"),
                        "--output_name", "m1"]) == 0
    imported = tmp_path / "imp" / "m1" / "mixeval_hard" / VERSION
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir",
                         str(tmp_path / "imp"), "--api_base_url", judge_a.base_url]) == 0
    assert judge_a.chat_requests() == []
    assert json.loads((imported / SCORE_FILE).read_text()) == score
    rounds = [len(s.scores["mixeval_scorer"].metadata["replies"]) for s in log.samples]
    assert set(rounds) == {1, 2, 3}  # the grader was asked again, up to three times
    for (a, _), (b, _) in zip(judged_files(vdir), judged_files(imported), strict=True):
        ours, theirs = read_jsonl(a), read_jsonl(b)
        assert {x["id"]: x["judge_response"] for x in ours} == {x["id"]: x["judge_response"] for x in theirs}
        for path, lines in ((a, ours), (b, theirs)):  # each in the order of the rounds its journal records
            last_round: dict[str, int] = {}
            for entry in read_jsonl(path.parent / f".journal_{path.stem}.jsonl"):
                last_round[entry["id"]] = max(last_round.get(entry["id"], 0), entry["round"])
            order = [last_round[x["id"]] for x in lines]
            assert order == sorted(order) and max(order) == 3


def test_a_log_of_another_task_is_refused_in_one_line(tmp_path, capsys):
    (log,) = inspect_eval(Task(dataset=[Sample(input="Say hi", target="hi")], solver=generate()),
                          model="mockllm/model", log_dir=str(tmp_path / "logs"), display="none")
    assert import_main(["--framework", "inspect", log.location, "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not of mix_eval/mixeval or mix_eval/mixeval_hard" in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, expected", [("not a log", "not an Inspect log"), (None, "no such file")])
def test_a_file_that_is_no_log_is_refused_in_one_line(tmp_path, capsys, content, expected):
    path = tmp_path / "run.eval"
    if content is not None:
        path.write_text(content)
    assert import_main(["--framework", "inspect", str(path), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0], err


def _run(responses: dict) -> ImportedRun:
    return ImportedRun(framework="inspect", framework_version="0", model="org/m", benchmark="mixeval_hard",
                       version=VERSION, responses=responses, source="x.eval")


def _lines(split: str, n: int) -> list[dict]:
    from mix_eval.data import load_split, splits_for

    (s,) = [s for s in splits_for("mixeval_hard") if s.name == split]
    return [{**item, "response": "A"} for item in load_split(None, VERSION, s)[:n]]


def test_a_folder_that_holds_responses_is_not_overwritten(tmp_path):
    from mix_eval.errors import MixEvalError

    run = _run({"close_freeform_hard": _lines("close_freeform_hard", 3)})
    vdir = write_imported_run(run, tmp_path)
    assert vdir == tmp_path / "org_m" / "mixeval_hard" / VERSION
    before = (vdir / "org_m_close_freeform_hard.jsonl").read_bytes()
    with pytest.raises(MixEvalError, match="already holds org_m_close_freeform_hard.jsonl: give --output_name"):
        write_imported_run(_run({"close_freeform_hard": _lines("close_freeform_hard", 5)}), tmp_path)
    assert (vdir / "org_m_close_freeform_hard.jsonl").read_bytes() == before


def test_a_run_made_from_other_data_is_refused(tmp_path):
    from mix_eval.errors import MixEvalError

    lines = _lines("close_multichoice_hard", 2)
    lines[1]["id"] = "99999"
    with pytest.raises(MixEvalError, match="item id '99999', which mixeval_hard 2024-06-01 does not have"):
        write_imported_run(_run({"close_multichoice_hard": lines}), tmp_path)
    with pytest.raises(MixEvalError, match=r"splits \['close_freeform'\] are not mixeval_hard's"):
        write_imported_run(_run({"close_freeform": _lines("close_freeform_hard", 1)}), tmp_path)


def test_the_tasks_and_their_arguments():
    """Both tasks from the packaged data (the newest version by default), split selection,
    a system message put first as this package's API models put theirs; a bad argument is
    one clear error."""
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser

    from mix_eval.errors import MixEvalError
    from mix_eval.integrations.inspect_task import mixeval

    hard = mixeval_hard()
    assert len(hard.dataset) == 1000 and hard.metadata["mix_eval"]["version"] == "2024-08-11"
    full = mixeval(version=VERSION, split="ff")
    assert len(full.dataset) == 2000 and {s.metadata["split"] for s in full.dataset} == {"close_freeform"}
    mp = mixeval_hard(version=VERSION, split="multiple_choice", system_message="Be brief.")
    first = mp.dataset[0]
    assert [type(m) for m in first.input] == [ChatMessageSystem, ChatMessageUser]
    assert first.input[0].content == "Be brief." and first.input[1].content.endswith(
        "Answer with the option letter from the given choices directly.")
    assert first.target in "ABCDEFGHIJ" and first.choices and first.id.startswith("close_multichoice_hard:")
    with pytest.raises(MixEvalError, match="-T split=both: choose all, free_form"):
        mixeval_hard(split="both")
    with pytest.raises(MixEvalError, match="-T parser=judge: choose model or rule"):
        mixeval_hard(parser="judge")


def test_the_judge_argument_names_the_grader_when_no_role_is_given(servers, tmp_path):
    _, _, judge_b, model, grader = servers
    (log,) = inspect_eval(mixeval_hard(version=VERSION, split="mp", judge=grader),
                          model=model, limit=4, log_dir=str(tmp_path / "logs"), display="none",
                          log_realtime=False)
    assert log.status == "success", log.error
    assert {r.body["model"] for r in judge_b.chat_requests()} == {DEFAULT_JUDGE}
    assert {s.scores["mixeval_scorer"].metadata["judge"] for s in log.samples} == {DEFAULT_JUDGE}
