"""The loopback server's own promises (tests/fakes): a crash in a test's reply function is
an error of that test, not an HTTP 500 the product retries past; the script the
benchmarks start serves and reports its counts."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest
from conftest import REPO, child_env, judge_reply, judged_answer, make_responses, quick_client, read_jsonl
from fake_openai_server import FakeOpenAIServer, ReplyError

from mix_eval.compute_metrics import main as compute_main

VERSION = "2024-06-01"


def broken(body: dict) -> str:
    return body["no such field"]


def chat(base_url: str) -> tuple[int, dict]:
    """One chat request: the status and the JSON answered."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize("judge_mode", ["live", "batch"])
def test_a_crash_in_a_tests_judge_fails_the_test_though_the_product_got_past_it(tmp_path, judge_env, monkeypatch,
                                                                                judge_mode):
    """The judge's bug hits one item: the product retries the 500s (live: requests; batch:
    the item's line of the error file, a round later), then gives the item the reference's
    random verdict and scores the run (exit 0), as it should for a real API. The test must
    not pass for it: the server raises the judge's exception when it stops."""
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", n=3)
    crashing = read_jsonl(vdir / "my_model_close_freeform_hard.jsonl")[1]["response"]

    def judge(body: dict) -> str:
        if judged_answer(body) == crashing:
            raise KeyError("a bug in the test's own judge")
        return judge_reply(body)

    quick_client(monkeypatch, max_retries=1)
    with pytest.raises(ReplyError, match="KeyError") as raised:
        with FakeOpenAIServer(reply=judge) as server:
            code = compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir",
                                 str(root), "--api_base_url", server.base_url, "--judge_mode", judge_mode])
    assert code == 0 and (vdir / "score.json").exists()  # the product got past it: only the server saw the bug
    assert isinstance(raised.value.__cause__, KeyError) and len(server.reply_errors) >= 10
    assert server.count(500) == (len(server.reply_errors) if judge_mode == "live" else 0)


def test_a_test_that_wants_500s_from_a_raising_reply_says_so():
    with FakeOpenAIServer(reply=broken, reply_crash_is_500=True) as server:
        status, body = chat(server.base_url)
    assert status == 500 and "reply failed: KeyError('no such field')" in body["error"]["message"]
    assert len(server.reply_errors) == 1  # kept, not raised


def test_the_server_fixture_errors_the_test_whose_reply_raised(tmp_path):
    """Through pytest itself: the test's own asserts pass, its teardown errors."""
    (tmp_path / "test_planted.py").write_text(textwrap.dedent('''
        import json, urllib.error, urllib.request
        from conftest import fake_server

        def broken(body):
            return body["no such field"]

        server = fake_server(reply=broken)

        def test_asks_once(server):
            request = urllib.request.Request(server.base_url + "/chat/completions", data=json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode())
            try:
                urllib.request.urlopen(request, timeout=30)
            except urllib.error.HTTPError as e:
                assert e.code == 500
    '''))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_planted.py"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=child_env(PYTHONPATH=str(REPO / "tests")))
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 passed, 1 error" in done.stdout and "ERROR at teardown of test_asks_once" in done.stdout
    assert "ReplyError: the test's reply function raised 1 time(s), first: KeyError('no such field')" in done.stdout


def test_run_as_a_script_it_serves_until_terminated_and_prints_its_counts():
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai_server.py"), "--rate", "50",
                             "--reply", "[[1.0]]"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
        status, body = chat(url)
        assert status == 200 and body["choices"][0]["message"]["content"] == "[[1.0]]"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert json.loads(err.splitlines()[-1]) == {"chat_requests": 1, "status_counts": {"200": 1}, "requests": 1}
