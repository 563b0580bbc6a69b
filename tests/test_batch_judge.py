"""Judging through the Batch API (`--judge_mode batch`) against the loopback server's
/v1/files and /v1/batches: the same scores as live judging, one batch per round for
every model of a run, nothing paid twice after kills before and after every step,
expired, failed and cancelled batches finished, rounds split into files by request
count and size, Azure's routes, and tokens (the server's own) and cost in
judge_report.json, live, batch and mixed."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import JUDGE_KEY, REPO, fake_server, judge_reply, kill_at_each_point, make_responses
from fake_openai_server import Fault, FakeOpenAIServer

from mix_eval.compute_metrics import main as compute_main

VERSION = "2024-06-01"
JUDGE = "gpt-3.5-turbo-0125"
N = 12  # responses per split and model
MODELS = ("model_a", "model_b")

server = fake_server(reply=judge_reply, api_key=JUDGE_KEY)



def responses(root: Path, n: int = N, *, same: bool = False) -> Path:
    """The reference's responses under both model names, each answer marked with its
    model and line so that every judge request is unique (the reference's mixeval_hard
    repeats questions), unless ``same`` (then both models send identical requests, and
    repeated questions repeat requests)."""
    for model in MODELS:
        vdir = make_responses(root, model, n=n)
        if not same:
            for f in vdir.glob("*.jsonl"):
                lines = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
                f.write_text("".join(json.dumps({**x, "response": f"{x['response']} ({model} {i})"}) + "\n"
                                     for i, x in enumerate(lines)), encoding="utf-8")
    return root


def args(root: Path, server, *extra: str) -> list[str]:
    return ["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
            "--api_base_url", server.base_url, "--api_parallel_num", "8", *extra]


def outputs(root: Path) -> dict[str, bytes]:
    """Every judged file and score file of the run, by path."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (path.name.startswith("judge_results_") or path.name == "score.json"):
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


def report(root: Path, model: str = MODELS[0]) -> dict:
    return json.loads((root / model / "mixeval_hard" / VERSION / "judge_report.json").read_text())


def batch_lines(server) -> list[dict]:
    """Every input line of every batch the server was asked to run."""
    return [line for b in server.batches.values() for line in b["lines"]]


def batch_usage(server) -> tuple[int, int]:
    """The tokens the server billed for every reply of every batch: prompt and completion,
    summed over the output files' lines."""
    prompt = completion = 0
    for f in server.files.values():
        if f["purpose"] != "batch_output":
            continue
        for raw in f["data"].decode().splitlines():
            response = json.loads(raw)["response"]
            if response and response["status_code"] == 200:
                prompt += response["body"]["usage"]["prompt_tokens"]
                completion += response["body"]["usage"]["completion_tokens"]
    return prompt, completion


def report_tokens(root: Path) -> tuple[int, int]:
    """Prompt and completion tokens of every judge_report.json under ``root``, summed."""
    reports = [r for path in root.rglob("judge_report.json") for r in json.loads(path.read_text()).values()]
    return sum(r["prompt_tokens"] for r in reports), sum(r["completion_tokens"] for r in reports)


def flaky_judge() -> callable:
    """`judge_reply`, except that a fixed quarter of the requests get a reply without a
    verdict the first time they are asked: those items need a second round."""
    asked: set[str] = set()

    def reply(body: dict) -> str:
        digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()
        if int(digest, 16) % 4 == 0 and digest not in asked:
            asked.add(digest)
            return "I cannot decide."
        return judge_reply(body)

    return reply


# ---------------------------------------------------------------- batch = live


@pytest.mark.slow
def test_batch_and_live_judging_give_identical_files_from_the_same_bodies(tmp_path, server, judge_env):
    live, batch = responses(tmp_path / "live"), responses(tmp_path / "batch")
    assert compute_main(args(live, server)) == 0
    live_bodies = sorted(json.dumps(r.body, sort_keys=True) for r in server.chat_requests())
    assert len(live_bodies) == 2 * 2 * N
    server.reset()
    assert compute_main(args(batch, server, "--judge_mode", "batch")) == 0
    assert server.chat_requests() == []  # no live call
    assert server.batch_creates == 1  # both models, both splits: one batch
    lines = batch_lines(server)
    assert {(x["method"], x["url"]) for x in lines} == {("POST", "/v1/chat/completions")}
    assert sorted(json.dumps(x["body"], sort_keys=True) for x in lines) == live_bodies  # the very same bodies
    uploads = [r for r in server.requests if r.path == "/v1/files"]
    assert len(uploads) == 1 and b'name="purpose"\r\n\r\nbatch' in uploads[0].raw
    create = next(r for r in server.requests if r.path == "/v1/batches" and r.method == "POST")
    assert create.body["completion_window"] == "24h" and create.body["endpoint"] == "/v1/chat/completions"
    assert outputs(batch) == outputs(live)
    # tokens equal (same replies), batch at half the price of live
    for model in MODELS:
        for split in ("free_form", "multiple_choice"):
            lv, bt = report(live, model)[split], report(batch, model)[split]
            assert lv["judge_mode"] == "live" and bt["judge_mode"] == "batch"
            assert lv["prompt_tokens"] == bt["prompt_tokens"] > 0
            assert lv["completion_tokens"] == bt["completion_tokens"] > 0
            expected = (lv["prompt_tokens"] * 0.5 + lv["completion_tokens"] * 1.5) / 1e6
            assert lv["cost_usd"] == pytest.approx(expected, rel=1e-4)
            assert bt["cost_usd"] == pytest.approx(expected / 2, rel=1e-4)
    # a rerun in live mode reuses every batch reply (the journal is shared)
    server.reset()
    assert compute_main(args(batch, server)) == 0
    assert server.chat_requests() == [] and server.batch_creates == 1
    assert report(batch)["free_form"]["reused"] == N and report(batch)["free_form"]["judge_mode"] == "batch"


@pytest.mark.slow
def test_rounds_go_into_one_batch_each_for_every_model(tmp_path, judge_env):
    """Items without a verdict are asked again in round 2: one more batch, carrying the
    second-round requests of both models and both splits."""
    live, batch = responses(tmp_path / "live"), responses(tmp_path / "batch")
    with FakeOpenAIServer(reply=flaky_judge(), api_key=JUDGE_KEY) as s:
        assert compute_main(args(live, s)) == 0
    with FakeOpenAIServer(reply=flaky_judge(), api_key=JUDGE_KEY) as s:
        assert compute_main(args(batch, s, "--judge_mode", "batch")) == 0
        assert s.batch_creates == 2
        second = list(s.batches.values())[1]["lines"]
        assert 0 < len(second) < len(list(s.batches.values())[0]["lines"])
        batch_tokens = batch_usage(s)
    assert report(batch)["free_form"]["rounds"] == 2
    assert outputs(batch) == outputs(live)
    # every reply's tokens, those of the replies without a verdict too, as the server counted them
    assert report_tokens(batch) == batch_tokens and batch_tokens[0] > 0
    assert report_tokens(live) == batch_tokens  # the same replies bought live


# ---------------------------------------------------------------- faults of batches


def test_expired_failed_and_refused_requests_finish_correctly(tmp_path, judge_env):
    """The first batch expires half done, its resubmission fails validation, the third
    completes: every request ends answered once, only the rest is resubmitted; requests
    the API refuses (HTTP 400 in the error file) are blocked items, as in live mode."""
    refused = set()

    def reply(body: dict):
        text = judge_reply(body)
        if "[[0.0]]" in text and len(refused) < 2 or body["messages"][-1]["content"] in refused:
            refused.add(body["messages"][-1]["content"])
            return Fault("400")
        return text

    root = responses(tmp_path / "batch", n=8, same=True)
    with FakeOpenAIServer(reply=reply, api_key=JUDGE_KEY) as s:
        s.push_batch_outcomes("expired", "failed")
        s.batch_states = {"validating": 2, "in_progress": 3, "finalizing": 1}  # slow polling
        assert compute_main(args(root, s, "--judge_mode", "batch")) == 0
        assert [b["status"] for b in s.batches.values()] == ["expired", "failed", "completed"]
        batches = list(s.batches.values())
        total = 2 * 2 * 8
        assert len(batches[0]["lines"]) == total
        # only the half the expired batch did not run is submitted again, twice (failed, then done)
        assert len(batches[1]["lines"]) == len(batches[2]["lines"]) == total - total // 2
        assert batches[1]["lines"] == [{**x, "custom_id": f"request-{n}"}
                                       for n, x in enumerate(batches[0]["lines"][total // 2:])]
    # the refused items are blocked (free-form: 0.0), counted in the report, judged once
    # both models gave the same answers, so each has the refused requests (the reference's
    # mixeval_hard repeats some questions: an answer repeated is refused again)
    from mix_eval.judges.protocol import judge_messages
    from mix_eval.splits import SplitKind

    vdir = root / MODELS[0] / "mixeval_hard" / VERSION
    lines = [json.loads(x) for x in open(vdir / f"{MODELS[0]}_close_freeform_hard.jsonl", encoding="utf-8")]
    expected = sum(judge_messages(x, SplitKind.FREE_FORM, x["response"])[-1]["content"] in refused for x in lines)
    assert len(refused) == 2 and expected >= 2
    assert [report(root, m)["free_form"]["blocked"] for m in MODELS] == [expected, expected]
    ff = [json.loads(x) for x in open(root / MODELS[0] / "mixeval_hard" / VERSION /
                                      f"judge_results_ff_model_judge_{JUDGE}.jsonl")]
    assert len(ff) == 8 and all(x["judge_score"] in (0.0, 1.0) for x in ff)
    assert report(root)["free_form"]["random_fallback"] == 0


@pytest.mark.slow
def test_a_cancelled_batch_hands_over_its_half_and_the_rest_goes_into_a_new_batch(tmp_path, server, judge_env):
    """A batch cancelled at the API (by its owner, say) ends with half its requests run:
    those are judged, the other half is submitted again, once; the files and tokens are a
    live run's."""
    live, batch = responses(tmp_path / "live", n=4), responses(tmp_path / "batch", n=4)
    assert compute_main(args(live, server)) == 0
    server.reset()
    server.push_batch_outcomes("cancelled")
    assert compute_main(args(batch, server, "--judge_mode", "batch")) == 0
    assert [b["status"] for b in server.batches.values()] == ["cancelled", "completed"]
    first, second = (b["lines"] for b in server.batches.values())
    total = 2 * 2 * 4
    assert second == [{**x, "custom_id": f"request-{n}"} for n, x in enumerate(first[total // 2:])]
    assert outputs(batch) == outputs(live)
    assert report_tokens(batch) == report_tokens(live) == batch_usage(server)
    assert all(report(batch, m)[k]["judge_calls"] == 4 for m in MODELS for k in ("free_form", "multiple_choice"))


@pytest.mark.slow
def test_a_round_larger_than_a_file_goes_into_several_batches_each_reply_to_its_item(tmp_path, server,
                                                                                     judge_env, monkeypatch):
    """The request limit of an input file lowered to 10: the 24 requests of a round go out
    in three batches (10, 10, 4) of three files, each numbered from request-0, and every
    reply comes back to its own item (the files of a live run)."""
    from mix_eval.llm.batch_api import BatchAPI

    original = BatchAPI.__init__

    def small_files(self, *a, **k):
        k["max_requests"] = 10
        original(self, *a, **k)

    live, batch = responses(tmp_path / "live", n=6), responses(tmp_path / "batch", n=6)
    assert compute_main(args(live, server)) == 0
    server.reset()
    monkeypatch.setattr(BatchAPI, "__init__", small_files)
    assert compute_main(args(batch, server, "--judge_mode", "batch")) == 0
    assert server.batch_creates == 3
    assert [[x["custom_id"] for x in b["lines"]] for b in server.batches.values()] == [
        [f"request-{n}" for n in range(size)] for size in (10, 10, 4)]
    assert outputs(batch) == outputs(live)
    assert report_tokens(batch) == batch_usage(server)


def test_batch_api_splits_a_round_at_the_size_limit(tmp_path):
    """Input files of at most ``max_bytes``: requests of different lengths cut into files
    by size, and every outcome handed to its own request."""
    from mix_eval.llm.batch_api import BatchAPI, BatchRequest
    from mix_eval.llm.config import ClientConfig

    with FakeOpenAIServer(reply=lambda body: body["messages"][-1]["content"].upper()) as s:
        api = BatchAPI(ClientConfig(api_key="k", model="m", base_url=s.base_url), tmp_path / "journal.jsonl",
                       poll_interval=0.0, progress=False, max_bytes=400)
        texts = [f"q{i} " * (i * 7 + 1) for i in range(8)]
        requests = [BatchRequest(f"1:{i}", {"model": "m", "messages": [{"role": "user", "content": text}]})
                    for i, text in enumerate(texts)]
        got = {}
        api.run(requests, lambda i, outcome: got.setdefault(i, outcome.result.text))
        assert got == {i: text.upper() for i, text in enumerate(texts)}
        sizes = [len(f["data"]) for f in s.files.values() if f["purpose"] == "batch"]
        assert len(sizes) == s.batch_creates > 2 and max(sizes) <= 400
        assert sum(len(b["lines"]) for b in s.batches.values()) == 8


def test_batch_api_splits_a_round_at_the_request_limit(tmp_path):
    """More requests than one file may carry go into several batches (limit lowered)."""
    from mix_eval.llm.batch_api import BatchAPI, BatchRequest
    from mix_eval.llm.config import ClientConfig

    with FakeOpenAIServer() as s:
        api = BatchAPI(ClientConfig(api_key="k", model="m", base_url=s.base_url), tmp_path / "journal.jsonl",
                       poll_interval=0.0, progress=False, max_requests=4, max_bytes=10_000)
        requests = [BatchRequest(f"1:{i}", {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]})
                    for i in range(10)]
        got = {}
        api.run(requests, lambda i, outcome: got.setdefault(i, outcome.result.text))
        assert sorted(got) == list(range(10)) and s.batch_creates == 3
        assert [len(b["lines"]) for b in s.batches.values()] == [4, 4, 2]
        assert sum(len(json.loads(x)) > 0 for x in s.files[s.batches[next(iter(s.batches))]["input_file_id"]]
                   ["data"].splitlines()) == 4


# ---------------------------------------------------------------- kills


# Every Batch API step in the order a run meets them, each killed both before the server
# does it (the request is dropped) and after (done, but the client never hears it).
KILL_POINTS = [(step, when, 1) for step in ("upload", "create", "retrieve", "content") for when in ("before", "after")]


def _compute_metrics(root: Path, s: FakeOpenAIServer, cwd: Path, *extra: str) -> subprocess.Popen:
    """``compute_metrics --judge_mode batch`` (or as ``extra`` says) in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_PARSER_API": JUDGE_KEY, "MIX_EVAL_BATCH_POLL_SECONDS": "0.01"}
    env.pop("OPENAI_API_TYPE", None)
    return subprocess.Popen([sys.executable, "-m", "mix_eval.compute_metrics",
                             *args(root, s, *(extra or ("--judge_mode", "batch")))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)


@pytest.mark.slow
def test_kills_at_every_batch_step_never_create_a_second_batch(tmp_path, judge_env):
    """A chain of runs of one folder, each SIGKILLed while the server holds a Batch API
    step, before doing it and after (`KILL_POINTS`), then a run to the end: exactly one
    batch per round's requests, no request run twice, and the files of an uninterrupted run."""
    points = KILL_POINTS
    clean = responses(tmp_path / "clean", n=6)
    with FakeOpenAIServer(reply=flaky_judge(), api_key=JUDGE_KEY) as s:
        assert compute_main(args(clean, s, "--judge_mode", "batch")) == 0
        clean_creates, clean_lines = s.batch_creates, len(batch_lines(s))
    assert clean_creates == 2
    root = responses(tmp_path / "killed", n=6)
    with FakeOpenAIServer(reply=flaky_judge(), api_key=JUDGE_KEY) as s:
        kills = kill_at_each_point(s, points, lambda: _compute_metrics(root, s, tmp_path))
        proc = _compute_metrics(root, s, tmp_path)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        assert kills == len(points), points  # every kill landed
        assert s.batch_creates == clean_creates, points
        assert len(batch_lines(s)) == clean_lines, points  # no request paid twice
    assert outputs(root) == {k.replace("clean", "killed"): v for k, v in outputs(clean).items()}


# ---------------------------------------------------------------- Azure


@pytest.mark.slow
def test_azure_batch_through_the_environment_variables(tmp_path, clean_env):
    """OPENAI_API_TYPE=azure: files and batches on Azure's routes (api-version, api-key),
    input lines on /chat/completions naming the deployment; the scores of a live run."""
    clean_env.setenv("MIX_EVAL_BATCH_POLL_SECONDS", "0.01")
    live, batch = responses(tmp_path / "live", n=6), responses(tmp_path / "batch", n=6)
    with FakeOpenAIServer(reply=judge_reply, api_key=JUDGE_KEY, models=[JUDGE]) as s:
        for var, value in {"OPENAI_API_TYPE": "azure", "OPENAI_API_KEY": JUDGE_KEY,
                           "OPENAI_API_BASE": s.base_url.rsplit("/v1", 1)[0],
                           "OPENAI_API_VERSION": "2024-10-21"}.items():
            clean_env.setenv(var, value)
        common = ["--benchmark", "mixeval_hard", "--version", VERSION, "--api_parallel_num", "4"]
        assert compute_main([*common, "--model_response_dir", str(live)]) == 0
        s.reset()
        assert compute_main([*common, "--model_response_dir", str(batch), "--judge_mode", "batch"]) == 0
        assert s.chat_requests() == [] and s.batch_creates == 1
        for r in s.requests:
            assert r.path.startswith(("/openai/files", "/openai/batches")), r.path
            assert r.query.get("api-version") == "2024-10-21" and r.headers.get("api-key") == JUDGE_KEY
        lines = batch_lines(s)
        assert {x["url"] for x in lines} == {"/chat/completions"} and {x["body"]["model"] for x in lines} == {JUDGE}
    assert outputs(batch) == outputs(live)


# ---------------------------------------------------------------- cost


@pytest.mark.slow
def test_unknown_judge_price_gives_tokens_only_unless_given(tmp_path, server, judge_env):
    root = responses(tmp_path / "r", n=4)
    other = ["--freeform_judge", "my-judge", "--multichoice_judge", "my-judge"]
    assert compute_main(args(root, server, *other)) == 0
    r = report(root)["free_form"]
    assert r["prompt_tokens"] > 0 and r["cost_usd"] is None and r["judge_mode"] == "live"
    assert compute_main(args(root, server, *other, "--judge_price", "2,4", "--judge_mode", "batch")) == 0
    r = report(root)["free_form"]  # every reply reused: their tokens, at the live price they were bought
    assert r["reused"] == 4 and r["cost_usd"] == pytest.approx((r["prompt_tokens"] * 2 + r["completion_tokens"] * 4) / 1e6)
    with pytest.raises(SystemExit) as e:
        compute_main([*args(root, server), "--judge_price", "1,x"])
    assert e.value.code == 2


def live_usage(server, bodies: list[dict]) -> tuple[int, int]:
    """The tokens the server bills for these chat bodies (asked again: the judge's replies
    are deterministic), summed."""
    import urllib.request

    prompt = completion = 0
    for body in bodies:
        request = urllib.request.Request(f"{server.base_url}/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {JUDGE_KEY}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            usage = json.load(answer)["usage"]
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
    return prompt, completion


@pytest.mark.slow
def test_a_split_judged_partly_live_partly_in_batch_is_mixed_with_both_prices(tmp_path, judge_env):
    """A live run stopped by Ctrl-C after 3 replies, finished with --judge_mode batch: the
    free-form report is ``mixed``, its tokens are the server's for the 3 live replies plus
    those of the batch, and its cost prices each at its own rate (batch: half)."""
    import signal

    root = tmp_path / "r"
    make_responses(root, MODELS[0], n=8)
    stop = {"after": 3, "pid": None}

    def reply(body: dict) -> str:
        stop["after"] -= 1
        if stop["after"] == 0 and stop["pid"] is not None:
            os.kill(stop["pid"], signal.SIGINT)  # the reply in hand is delivered and saved
        return judge_reply(body)

    rule_mp = ("--multi_choice_parser", "rule")  # one judged split: its report holds every token
    with FakeOpenAIServer(reply=reply, api_key=JUDGE_KEY) as s:
        proc = _compute_metrics(root, s, tmp_path, "--api_parallel_num", "1", *rule_mp)
        stop["pid"] = proc.pid
        assert proc.wait(timeout=120) == 130, proc.stderr.read().decode()[-2000:]
        stop["pid"] = None
        answered = [r.body for r in s.chat_requests() if r.status == 200]
        assert len(answered) == 3
        live = live_usage(s, answered)
        assert compute_main(args(root, s, "--judge_mode", "batch", *rule_mp)) == 0
        batch = batch_usage(s)
    r = report(root)["free_form"]
    assert r["judge_mode"] == "mixed" and r["reused"] == 3 and r["judge_calls"] == 8 - 3
    assert (r["prompt_tokens"], r["completion_tokens"]) == (live[0] + batch[0], live[1] + batch[1])
    assert min(live + batch) > 0
    per_million = {"prompt": 0.5, "completion": 1.5}  # gpt-3.5-turbo-0125, live
    expected = (live[0] * per_million["prompt"] + live[1] * per_million["completion"]
                + (batch[0] * per_million["prompt"] + batch[1] * per_million["completion"]) / 2) / 1e6
    assert r["cost_usd"] == pytest.approx(expected, rel=1e-6)


def test_a_request_failing_in_every_batch_gets_ten_rounds_and_a_judge_failing_all_stops(tmp_path, judge_env, capsys):
    """One request that fails (HTTP 500 in the error file) in every batch: asked in each of
    the 10 rounds, one batch per round (no probe batch), then a random verdict, as live. A
    judge that fails every request stops the run with one error and writes no score."""
    root = responses(tmp_path / "one", n=4)
    with FakeOpenAIServer(reply=lambda body: Fault("500") if "(model_a 0)" in body["messages"][-1]["content"]
                          else judge_reply(body), api_key=JUDGE_KEY) as s:
        assert compute_main(args(root, s, "--judge_mode", "batch")) == 0
        assert s.batch_creates == 10
    r = report(root)
    assert r["free_form"]["rounds"] == 10 and r["free_form"]["random_fallback"] == 1
    assert r["multiple_choice"]["random_fallback"] == 1 and report(root, MODELS[1])["free_form"]["rounds"] == 1

    root = responses(tmp_path / "all", n=4)
    with FakeOpenAIServer(reply=lambda body: Fault("500"), api_key=JUDGE_KEY) as s:
        assert compute_main(args(root, s, "--judge_mode", "batch")) == 2
        assert s.batch_creates == 1
    assert "answered none" in capsys.readouterr().err
    assert not list(root.rglob("score.json"))


@pytest.mark.slow
def test_ctrl_c_while_polling_leaves_the_batch_running_and_the_rerun_collects_it(tmp_path, judge_env):
    """SIGINT while a batch is in progress: the run stops (status 130) without cancelling
    the batch; the rerun polls that batch to its end and creates none."""
    import signal
    import time

    root = responses(tmp_path / "r", n=4)
    with FakeOpenAIServer(reply=judge_reply, api_key=JUDGE_KEY) as s:
        s.batch_states = {"validating": 1, "in_progress": 10 ** 6, "finalizing": 1}  # runs until told
        proc = _compute_metrics(root, s, tmp_path)
        deadline = time.monotonic() + 60
        while not any(b["status"] == "in_progress" for b in s.batches.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read().decode()[-2000:]
        assert "keep running" in proc.stderr.read().decode()
        assert not any(r.path.endswith("/cancel") for r in s.requests)
        assert [b["status"] for b in s.batches.values()] == ["in_progress"]
        s.batch_states["in_progress"] = 1
        proc = _compute_metrics(root, s, tmp_path)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        assert s.batch_creates == 1 and [b["status"] for b in s.batches.values()] == ["completed"]
    assert report(root)["free_form"]["judge_calls"] == 4
