"""An evaluated OpenAI model through the Batch API (`--model_mode batch`) against the
loopback server's /v1/files and /v1/batches: the response files of live generation
from the same request bodies, one batch per split, nothing bought twice after kills
before and after every Batch API step or between the download and the response file,
only the unfinished half of an expired batch resubmitted, refusals as live (the refusal
text for a few, a stop quoting the server for most), and the models and servers that
cannot do it refused in one line."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, kill_at_each_point, model_answer, read_jsonl
from fake_openai_server import Fault, FakeOpenAIServer
from test_batch_judge import KILL_POINTS, batch_lines

from mix_eval.evaluate import main as evaluate_main

VERSION = "2024-06-01"
MODEL = "gpt_4o"
MODEL_ID = "gpt-4o-2024-05-13"
MODEL_KEY = "sk-model-key-789"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
N = 5  # items per split


def thinking_answer(body: dict) -> str:
    """A model that thinks in the content for some items (`<think>...</think>` then the
    answer) and answers plainly for the others."""
    question = body["messages"][-1]["content"]
    answer = model_answer(body)
    if int(hashlib.md5(question.encode()).hexdigest(), 16) % 2:
        return f"<think>Reading the question of {len(question)} characters.</think>{answer}"
    return answer


@pytest.fixture
def model_env(clean_env):
    """The model's key, fast polling; OPENAI_BASE_URL is set per server."""
    clean_env.setenv("k_oai", MODEL_KEY)
    clean_env.setenv("MIX_EVAL_BATCH_POLL_SECONDS", "0.01")
    return clean_env


def run(out: Path, *extra: str, n: int = N) -> int:
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "2",
                          "--output_dir", str(out), "--limit", str(n), "--model_name", MODEL, "--inference_only",
                          *extra])


def vdir(out: Path) -> Path:
    return out / MODEL / "mixeval_hard" / VERSION


def response_bytes(out: Path) -> dict[str, bytes]:
    return {split: (vdir(out) / f"{MODEL}_{split}.jsonl").read_bytes() for split in SPLITS}


def status(out: Path, split: str) -> dict:
    return json.loads((vdir(out) / f"status_{split}.json").read_text())["status"]


def live_files(tmp_path: Path, env, reply=thinking_answer, n: int = N) -> tuple[dict[str, bytes], list[str]]:
    """A live run's response files and its request bodies (sorted JSON)."""
    with FakeOpenAIServer(reply=reply, api_key=MODEL_KEY) as s:
        env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(tmp_path / "live", n=n) == 0
        return response_bytes(tmp_path / "live"), sorted(json.dumps(r.body, sort_keys=True)
                                                         for r in s.chat_requests())


# ---------------------------------------------------------------- batch = live


@pytest.mark.slow
def test_batch_generation_writes_the_live_files_from_the_same_bodies(tmp_path, model_env):
    live, live_bodies = live_files(tmp_path, model_env)
    assert len(live_bodies) == 2 * N
    out = tmp_path / "batch"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, "--model_mode", "batch") == 0
        assert s.chat_requests() == []  # no live call
        assert s.batch_creates == 2  # one batch per split, every item in it
        lines = batch_lines(s)
        assert {(x["method"], x["url"]) for x in lines} == {("POST", "/v1/chat/completions")}
        assert sorted(json.dumps(x["body"], sort_keys=True) for x in lines) == live_bodies  # the very same bodies
        billed = sum(json.loads(raw)["response"]["body"]["usage"]["completion_tokens"]
                     for f in s.files.values() if f["purpose"] == "batch_output" for raw in f["data"].splitlines())
        batch_ids = list(s.batches)
        # a rerun finds everything done: nothing asked, nothing submitted
        assert run(out, "--model_mode", "batch") == 0
        assert s.batch_creates == 2 and s.chat_requests() == []
    assert response_bytes(out) == live  # byte for byte, the thinking apart and the usage in each line
    written = [x for split in SPLITS for x in read_jsonl(vdir(out) / f"{MODEL}_{split}.jsonl")]
    assert any("reasoning" in x for x in written) and not any("<think>" in x["response"] for x in written)
    # the status file records the batches and what they sold; a live run's has no such entry
    records = [status(out, split)["batch"] for split in SPLITS]
    assert [r["batches"] for r in records] == [[b] for b in batch_ids]
    assert [r["replies"] for r in records] == [N, N]
    assert sum(r["completion_tokens"] for r in records) == billed > 0
    assert sum(r["completion_tokens"] for r in records) == sum(x["usage"]["completion_tokens"] for x in written)
    assert all("batch" not in status(tmp_path / "live", split) for split in SPLITS)
    # the cost: the batch price, half the live one (a live split's status prices it all live)
    from mix_eval.scoring.answer_stats import split_cost

    price = (2.5, 10.0)
    for split in SPLITS:
        lines = read_jsonl(vdir(out) / f"{MODEL}_{split}.jsonl")
        tokens = (sum(x["usage"]["prompt_tokens"] for x in lines), sum(x["usage"]["completion_tokens"] for x in lines))
        live_cost = (tokens[0] * price[0] + tokens[1] * price[1]) / 1e6
        assert split_cost(*tokens, status(out, split), price) == pytest.approx(live_cost / 2)
        assert split_cost(*tokens, status(tmp_path / "live", split), price) == pytest.approx(live_cost)
    assert all(status(out, split)["status"] == "complete" for split in SPLITS)


@pytest.mark.slow
def test_a_split_begun_live_and_finished_in_batches_prices_each_part_at_its_rate(tmp_path, model_env):
    """Three items live, then --limit 5 in batch mode: the batch carries the other two,
    the status entry their tokens, and the split's cost prices them at half."""
    from mix_eval.scoring.answer_stats import split_cost

    out = tmp_path / "mixed"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, n=3) == 0
        assert run(out, "--model_mode", "batch", n=5) == 0
        assert [len(b["lines"]) for b in s.batches.values()] == [2, 2]
    price = (1.0, 4.0)
    for split in SPLITS:
        lines = read_jsonl(vdir(out) / f"{MODEL}_{split}.jsonl")
        record = status(out, split)["batch"]
        assert len(lines) == 5 and record["replies"] == 2
        batch = [x["usage"] for x in lines[3:]]  # the lines the batch answered come last
        assert (record["prompt_tokens"], record["completion_tokens"]) == (
            sum(u["prompt_tokens"] for u in batch), sum(u["completion_tokens"] for u in batch))
        cost = sum((u["prompt_tokens"] * price[0] + u["completion_tokens"] * price[1]) / 1e6
                   * (0.5 if n >= 3 else 1.0) for n, u in enumerate(x["usage"] for x in lines))
        total = (sum(x["usage"]["prompt_tokens"] for x in lines), sum(x["usage"]["completion_tokens"] for x in lines))
        assert split_cost(*total, status(out, split), price) == pytest.approx(cost)


# ---------------------------------------------------------------- faults of batches


@pytest.mark.slow
def test_an_expired_then_failed_batch_resubmits_only_the_unfinished_half(tmp_path, model_env):
    """The free-form split's first batch expires half done, its resubmission fails
    validation, the third completes: each request is bought once, the files are a live run's."""
    n = 6
    live, _ = live_files(tmp_path, model_env, n=n)
    out = tmp_path / "batch"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        s.push_batch_outcomes("expired", "failed")
        assert run(out, "--model_mode", "batch", n=n) == 0
        assert [b["status"] for b in s.batches.values()] == ["expired", "failed", "completed", "completed"]
        first, second, third, _ = (b["lines"] for b in s.batches.values())
        assert len(first) == n and second == third == [{**x, "custom_id": f"request-{k}"}
                                                       for k, x in enumerate(first[n // 2:])]
    assert response_bytes(out) == live
    assert status(out, SPLITS[0])["batch"]["batches"] == list(s.batches)[:3]
    assert status(out, SPLITS[0])["batch"]["replies"] == n


def test_replies_downloaded_but_not_yet_written_are_not_bought_again(tmp_path, model_env):
    """A kill after a batch's replies were collected but before the response file held
    them (the response and status files lost): the rerun answers from the journal."""
    out = tmp_path / "batch"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, "--model_mode", "batch") == 0
        before = response_bytes(out)
        for split in SPLITS:
            (vdir(out) / f"{MODEL}_{split}.jsonl").unlink()
            (vdir(out) / f"status_{split}.json").unlink()
        assert run(out, "--model_mode", "batch") == 0
        assert s.batch_creates == 2 and s.chat_requests() == [] and len(batch_lines(s)) == 2 * N
    assert response_bytes(out) == before


def _evaluate(out: Path, s: FakeOpenAIServer, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENAI_BASE_URL": s.base_url, "k_oai": MODEL_KEY,
           "MIX_EVAL_BATCH_POLL_SECONDS": "0.01", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "mix_eval.evaluate", "--benchmark", "mixeval_hard", "--version",
                             VERSION, "--batch_size", "2", "--output_dir", str(out), "--limit", "3",
                             "--model_name", MODEL, "--inference_only", "--model_mode", "batch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)


@pytest.mark.slow
def test_kills_at_every_batch_step_never_buy_a_request_twice(tmp_path, model_env):
    """A chain of runs of one folder, each SIGKILLed while the server holds a Batch API
    step, before doing it and after (`KILL_POINTS`: upload, create, poll, download), then
    a run to the end: one batch per split, no request run twice, the files of a clean run."""
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(tmp_path / "clean", "--model_mode", "batch", n=3) == 0
        clean = response_bytes(tmp_path / "clean")
    root = tmp_path / "killed"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        kills = kill_at_each_point(s, KILL_POINTS, lambda: _evaluate(root, s, tmp_path))
        proc = _evaluate(root, s, tmp_path)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        assert kills == len(KILL_POINTS)  # every kill landed
        assert s.batch_creates == 2 and len(batch_lines(s)) == 2 * 3  # nothing bought twice
        assert s.chat_requests() == []
    assert response_bytes(root) == clean


def test_requests_failing_in_the_batch_are_left_for_the_rerun(tmp_path, model_env, capsys):
    """A request that fails in its batch (HTTP 500 in the error file) gets no line, the
    run says to rerun, and the rerun submits just that one, as live generation does."""
    broken = free_form_inputs(N)[0]
    out = tmp_path / "batch"
    with FakeOpenAIServer(reply=lambda body: Fault("500") if body["messages"][-1]["content"] == broken
                          else thinking_answer(body), api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, "--model_mode", "batch") == 2
        assert "Rerun the same command" in capsys.readouterr().err
        assert len(read_jsonl(vdir(out) / f"{MODEL}_{SPLITS[0]}.jsonl")) == N - 1
        s.reply = thinking_answer
        assert run(out, "--model_mode", "batch") == 0
        assert [len(b["lines"]) for b in s.batches.values()] == [N, N, 1]
        assert list(s.batches.values())[2]["lines"][0]["body"]["messages"][-1]["content"] == broken
    assert sorted(int(x["id"]) for x in read_jsonl(vdir(out) / f"{MODEL}_{SPLITS[0]}.jsonl")) == list(range(N))


@pytest.mark.slow
def test_ctrl_c_while_polling_leaves_the_batch_running_and_the_rerun_collects_it(tmp_path, model_env):
    """SIGINT while the split's batch runs: the run stops (status 130) without cancelling
    it; the rerun polls that batch to its end and creates none."""
    import signal
    import time

    root = tmp_path / "r"
    with FakeOpenAIServer(reply=thinking_answer, api_key=MODEL_KEY) as s:
        s.batch_states = {"validating": 1, "in_progress": 10 ** 6, "finalizing": 1}  # runs until told
        proc = _evaluate(root, s, tmp_path)
        deadline = time.monotonic() + 60
        while not any(b["status"] == "in_progress" for b in s.batches.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read().decode()[-2000:]
        assert "keep running" in proc.stderr.read().decode()
        assert not any(r.path.endswith("/cancel") for r in s.requests)
        assert [b["status"] for b in s.batches.values()] == ["in_progress"]
        s.batch_states["in_progress"] = 1
        proc = _evaluate(root, s, tmp_path)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        assert s.batch_creates == 2 and [b["status"] for b in s.batches.values()] == ["completed", "completed"]
    assert [len(read_jsonl(vdir(root) / f"{MODEL}_{split}.jsonl")) for split in SPLITS] == [3, 3]


# ---------------------------------------------------------------- refusals


def refusing(prompts: set[str]):
    """A server refusing (HTTP 400, a content filter) the requests whose question is in ``prompts``."""
    def reply(body: dict):
        if body["messages"][-1]["content"] in prompts:
            return Fault("400", message="Invalid prompt: flagged by the content filter.")
        return thinking_answer(body)
    return reply


def free_form_inputs(n: int) -> list[str]:
    from mix_eval.data import load_split, splits_for
    from mix_eval.settings import DataSettings

    data = DataSettings("mixeval_hard", VERSION)
    split = splits_for("mixeval_hard")[0]
    assert split.name == SPLITS[0]
    return [item["formated_input"] for item in load_split(data.data_path, VERSION, split, limit=n)]


def test_a_few_refusals_get_the_refusal_text_and_most_stop_the_run(tmp_path, model_env, capsys):
    """Half of a split's requests refused (2 of 4): the refusal text, as live. Three of
    four: the run stops quoting the server, no placeholder is written, and the rerun
    asks only the refused ones (the replies are kept)."""
    from mix_eval.models.api_models import REFUSAL_TEXT

    questions = free_form_inputs(4)
    out = tmp_path / "half"
    with FakeOpenAIServer(reply=refusing(set(questions[:2])), api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, "--model_mode", "batch", n=4) == 0
    lines = read_jsonl(vdir(out) / f"{MODEL}_{SPLITS[0]}.jsonl")
    assert sorted(x["formated_input"] for x in lines if x["response"] == REFUSAL_TEXT) == sorted(questions[:2])
    assert len(lines) == 4

    out = tmp_path / "most"
    capsys.readouterr()
    with FakeOpenAIServer(reply=refusing(set(questions[:3])), api_key=MODEL_KEY) as s:
        model_env.setenv("OPENAI_BASE_URL", s.base_url)
        assert run(out, "--model_mode", "batch", n=4) == 2
        err = capsys.readouterr().err
        assert "refused 3 of the 4 requests" in err and "flagged by the content filter" in err
        assert "Traceback" not in err
        assert not (vdir(out) / f"{MODEL}_{SPLITS[0]}.jsonl").exists()  # no placeholder
        s.reply = thinking_answer  # the filter relents: the rerun asks just the three
        assert run(out, "--model_mode", "batch", n=4) == 0
        assert [len(b["lines"]) for b in s.batches.values()] == [4, 3, 4]
    lines = read_jsonl(vdir(out) / f"{MODEL}_{SPLITS[0]}.jsonl")
    assert len(lines) == 4 and REFUSAL_TEXT not in [x["response"] for x in lines]


# ---------------------------------------------------------------- what cannot be batched


@pytest.mark.parametrize("extra, words", [
    (("--model_name", "claude_3_haiku"), "claude_3_haiku is a model of the anthropic API"),
    (("--model_name", "local_chat", "--model_path", "org/some-model"), "local_chat is a local checkpoint"),
    (("--model_name", "deepseek_v2"), "deepseek_v2 is served at https://api.deepseek.com, which has none"),
])
def test_models_without_openai_s_batch_api_are_refused_in_one_line(tmp_path, model_env, capsys, extra, words):
    model_env.setenv("k_ant", "k")
    code = evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "2", "--output_dir",
                          str(tmp_path / "out"), "--limit", "2", "--inference_only", "--model_mode", "batch", *extra])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "leave --model_mode out" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.jsonl"))


class _NoBatchAPI(BaseHTTPRequestHandler):
    """A server with chat completions only (as vLLM's): 404 for everything else."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(404)
        body = b'{"error": {"message": "Not Found", "type": "invalid_request_error"}}'
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


def test_a_server_without_the_batch_api_is_one_clear_message(tmp_path, model_env, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoBatchAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        code = evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "2",
                              "--output_dir", str(tmp_path / "out"), "--limit", "2", "--inference_only",
                              "--model_name", "openai_compatible", "--model_base_url", url, "--model_id", "m",
                              "--model_mode", "batch"])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "HTTP 404 while uploading a batch input file" in err and "leave --model_mode out" in err
