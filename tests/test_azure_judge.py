"""The judge through Azure OpenAI, configured only by the environment variables of
.env.example (OPENAI_API_TYPE=azure, OPENAI_API_KEY, OPENAI_API_BASE,
OPENAI_API_VERSION), against the loopback server's Azure route."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import REPO, judge_reply, make_responses, run_module
from fake_openai_server import FakeOpenAIServer

VERSION = "2024-06-01"
KEY = "azure-test-key-0123456789"
API_VERSION = "2024-02-01"
JUDGE = "gpt-3.5-turbo-0125"  # the default judge: the deployment is named after it
N = 8  # responses per split


def compute_metrics(root: Path, cwd: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    """`python -m mix_eval.compute_metrics` in a folder without a .env, on this checkout."""
    return run_module("mix_eval.compute_metrics", "--benchmark", "mixeval_hard", "--version", VERSION,
                      "--model_response_dir", str(root), "--api_parallel_num", "4", *extra,
                      env={"PYTHONPATH": str(REPO), **env}, cwd=cwd, timeout=240)


def test_azure_judge_from_environment_variables(tmp_path, clean_env):
    """With only the Azure variables set (no MODEL_PARSER_API), every judge request goes to
    the deployment path with the api-key header and the api-version, and the scores equal
    those of the same judge reached as a plain OpenAI-compatible server."""
    azure_root = tmp_path / "azure"
    vdir = make_responses(azure_root, "my_model", n=N)
    with FakeOpenAIServer(reply=judge_reply, api_key=KEY, models=[JUDGE]) as server:
        proc = compute_metrics(azure_root, tmp_path, {
            "OPENAI_API_TYPE": "azure", "OPENAI_API_KEY": KEY,
            "OPENAI_API_BASE": server.base_url.rsplit("/v1", 1)[0], "OPENAI_API_VERSION": API_VERSION,
        })
        assert proc.returncode == 0, proc.stdout + proc.stderr
        requests = server.chat_requests()
    assert len(requests) == 2 * N  # one per response, nothing refused or retried
    for r in requests:
        assert r.path == f"/openai/deployments/{JUDGE}/chat/completions"
        assert r.query.get("api-version") == API_VERSION
        assert r.headers.get("api-key") == KEY
        assert KEY not in (r.authorization or "")
        assert r.status == 200
    assert KEY not in proc.stdout + proc.stderr  # the key is never printed

    ff = [json.loads(x) for x in open(vdir / f"judge_results_ff_model_judge_{JUDGE}.jsonl", encoding="utf-8")]
    mp = [json.loads(x) for x in open(vdir / f"judge_results_mp_model_judge_{JUDGE}.jsonl", encoding="utf-8")]
    assert len(ff) == len(mp) == N
    report = json.loads((vdir / "judge_report.json").read_text())
    assert report["free_form"]["random_fallback"] == 0 and report["multiple_choice"]["random_fallback"] == 0
    azure_scores = json.loads((vdir / "score.json").read_text())
    assert 0.0 <= azure_scores["overall"] <= 1.0

    # the same responses judged by the same judge through MODEL_PARSER_API give the same scores
    plain_root = tmp_path / "plain"
    plain_vdir = make_responses(plain_root, "my_model", n=N)
    with FakeOpenAIServer(reply=judge_reply, api_key=KEY) as server:
        proc = compute_metrics(plain_root, tmp_path, {"MODEL_PARSER_API": KEY}, "--api_base_url", server.base_url)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(server.chat_requests()) == 2 * N
    assert json.loads((plain_vdir / "score.json").read_text()) == azure_scores


def test_azure_without_api_version_stops_before_judging(tmp_path, clean_env):
    """OPENAI_API_TYPE=azure without OPENAI_API_VERSION names the missing variable and calls nothing."""
    root = tmp_path / "responses"
    make_responses(root, "my_model", n=2)
    with FakeOpenAIServer(reply=judge_reply, api_key=KEY) as server:
        proc = compute_metrics(root, tmp_path, {
            "OPENAI_API_TYPE": "azure", "OPENAI_API_KEY": KEY,
            "OPENAI_API_BASE": server.base_url.rsplit("/v1", 1)[0],
        })
        assert proc.returncode != 0
        assert "OPENAI_API_VERSION" in proc.stdout + proc.stderr
        assert server.chat_requests() == []
    assert KEY not in proc.stdout + proc.stderr
    assert not os.path.exists(root / "my_model" / "mixeval_hard" / VERSION / "score.json")


def test_a_wrong_azure_key_stops_at_once_naming_the_variable(tmp_path, clean_env):
    """Azure's 401 for a bad api-key is fatal: one request, a message naming OPENAI_API_KEY,
    and neither key printed."""
    root = tmp_path / "responses"
    make_responses(root, "my_model", n=4)
    wrong = "azure-wrong-key-9876543210"
    with FakeOpenAIServer(reply=judge_reply, api_key=KEY) as server:
        proc = compute_metrics(root, tmp_path, {
            "OPENAI_API_TYPE": "azure", "OPENAI_API_KEY": wrong,
            "OPENAI_API_BASE": server.base_url.rsplit("/v1", 1)[0], "OPENAI_API_VERSION": API_VERSION,
        })
        assert proc.returncode != 0
        assert len(server.chat_requests()) == 1 and server.chat_requests()[0].status == 401
    output = proc.stdout + proc.stderr
    assert "OPENAI_API_KEY" in output
    assert wrong not in output and KEY not in output
