"""API keys (judge and model) never appear in status files, logs, error.log, journals,
judged files, score.json, judge_report.json or printed errors; keys come only from the
environment or .env.

Every run uses distinctive keys (all containing "SECRET"; one in the `sk-` form, one in
another form, so the client's exact-key redaction is tested, not only its `sk-` pattern)
and servers that echo the key they were sent in their error bodies, as careless servers
do. After each scenario every file under the output folder, everything printed and
every log record is searched for the keys.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import (
    VERSION,
    Fault,
    FakeOpenAIServer,
    answer_or_judge,
    clean_env,
    make_responses,
    quick_client,
    subprocess_env,
)
from mix_eval.compute_metrics import main as compute_main
from mix_eval.evaluate import main as evaluate_main

JUDGE_ENV = "sk-SECRET-judge-env-7f3a9c"
MODEL_ENV = "SECRETmodelenv5b2e9c0d4a1f"  # not sk-: only exact-key redaction can hide it
JUDGE_DOTENV = "sk-SECRET-judge-dotenv-11aa22"
MODEL_DOTENV = "SECRETmodeldotenv22bb33cc44"
KEYS = (JUDGE_ENV, MODEL_ENV, JUDGE_DOTENV, MODEL_DOTENV)


def leaks(text: str) -> list[str]:
    return [k for k in KEYS if k in text] + (["SECRET"] if "SECRET" in text and not any(k in text for k in KEYS) else [])


def assert_no_key_anywhere(root: Path, *texts: str) -> int:
    """No key in any file under root (hidden ones included) or in the texts. Returns the
    number of files searched."""
    files = [p for p in root.rglob("*") if p.is_file() and p.name != ".env"]
    for path in files:
        found = leaks(path.read_bytes().decode("utf-8", "replace"))
        assert not found, f"{found} in {path}"
    for text in texts:
        found = leaks(text)
        assert not found, f"{found} in printed output: ...{text[max(0, text.find('SECRET') - 300):][:600]}"
    return len(files)


@pytest.fixture
def env(monkeypatch, tmp_path, no_refusal_pause):
    clean_env(monkeypatch, tmp_path)
    quick_client(monkeypatch, max_retries=1)
    return monkeypatch


def run_evaluate(data_path: Path, out: Path, judge_url: str, *extra: str) -> int:
    return evaluate_main(["--model_name", "gpt_4o", "--benchmark", "mixeval_hard", "--version", VERSION,
                          "--batch_size", "20", "--data_path", str(data_path), "--output_dir", str(out),
                          "--limit", "3", "--api_base_url", judge_url, "--api_parallel_num", "20", *extra])


def echo_key(key: str, status: str):
    """Server replies that repeat the key in their error message."""
    return lambda body: Fault(status, message=f"request with key {key} failed (Authorization: Bearer {key})")


def scenarios(data_path: Path, root: Path, monkeypatch, judge_key: str, model_key: str,
              refusals: bool = True) -> list[tuple[str, int]]:
    """Run evaluate through success and every failure that can carry a key; return
    (scenario, exit code) pairs. `refusals`: also HTTP 400s (content filter) that echo
    the key (the model's refused 10 times per item; the judge's stop the run)."""
    codes = []
    with FakeOpenAIServer(reply=answer_or_judge) as model_server, \
            FakeOpenAIServer(reply=answer_or_judge) as judge_server:
        monkeypatch.setenv("OPENAI_BASE_URL", model_server.base_url)
        codes.append(("success", run_evaluate(data_path, root / "ok", judge_server.base_url)))
        assert model_server.chat_requests()[0].authorization == f"Bearer {model_key}"
        assert judge_server.chat_requests()[0].authorization == f"Bearer {judge_key}"

        for who, server, key in (("model", model_server, model_key), ("judge", judge_server, judge_key)):
            server.api_key = "sk-the-right-one"  # 401 whose message echoes the key sent
            codes.append((f"{who} 401", run_evaluate(data_path, root / f"{who}-401", judge_server.base_url)))
            server.api_key = None
        for who, server, key in (("model", model_server, model_key), ("judge", judge_server, judge_key)):
            for status in ("500", "400") if refusals else ("500",):
                server.reply = echo_key(key, status)
                codes.append((f"{who} {status} echo", run_evaluate(data_path, root / f"{who}-{status}",
                                                                   judge_server.base_url)))
            server.reply = answer_or_judge
    return codes


# A model or a judge that refuses every request stops the run (its reason quoted, the key
# redacted from it), it does not write or score placeholders.
EXPECTED = [("success", 0), ("model 401", 2), ("judge 401", 2), ("model 500 echo", 2), ("model 400 echo", 2),
            ("judge 500 echo", 2), ("judge 400 echo", 2)]


def test_keys_from_the_environment_never_reach_any_output(data_path, tmp_path, env, capsys, caplog):
    env.setenv("MODEL_PARSER_API", JUDGE_ENV)
    env.setenv("k_oai", MODEL_ENV)
    root = tmp_path / "runs"
    codes = scenarios(data_path, root, env, JUDGE_ENV, MODEL_ENV)
    assert codes == EXPECTED
    printed = capsys.readouterr()
    assert "MODEL_PARSER_API" in printed.err and "k_oai" in printed.err  # the errors name the setting
    searched = assert_no_key_anywhere(root, printed.out, printed.err, caplog.text)
    assert searched >= 40


def test_keys_from_dotenv_never_reach_any_output(data_path, tmp_path, env, capsys, caplog):
    (tmp_path / ".env").write_text(f"MODEL_PARSER_API={JUDGE_DOTENV}\nk_oai={MODEL_DOTENV}\n")
    root = tmp_path / "runs"
    codes = scenarios(data_path, root, env, JUDGE_DOTENV, MODEL_DOTENV, refusals=False)  # proves .env was read
    assert codes == [c for c in EXPECTED if "400" not in c[0]]
    printed = capsys.readouterr()
    assert_no_key_anywhere(root, printed.out, printed.err, caplog.text)


def test_compute_metrics_keeps_the_dotenv_judge_key_out_of_everything(tmp_path, env, capsys, caplog):
    (tmp_path / ".env").write_text(f"MODEL_PARSER_API={JUDGE_DOTENV}\n")
    root = tmp_path / "responses"
    make_responses(root, "my_model", "mixeval_hard", 6)
    args = ["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
            "--api_parallel_num", "4"]
    with FakeOpenAIServer(reply=answer_or_judge) as server:
        assert compute_main([*args, "--api_base_url", server.base_url]) == 0
        server.api_key = "sk-the-right-one"
        (root / "my_model" / "mixeval_hard" / VERSION / "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl").unlink()
        for journal in (root / "my_model" / "mixeval_hard" / VERSION).glob(".journal_*"):
            journal.unlink()
        assert compute_main([*args, "--api_base_url", server.base_url]) == 2
        server.api_key = None
        server.reply = echo_key(JUDGE_DOTENV, "500")
        assert compute_main([*args, "--api_base_url", server.base_url]) == 2
    printed = capsys.readouterr()
    assert_no_key_anywhere(root, printed.out, printed.err, caplog.text)


def test_verbose_subprocess_run_prints_no_key(data_path, tmp_path):
    """A whole command in its own process, --verbose (debug logs of the HTTP stack
    included), with the model key refused and echoed by the server."""
    with FakeOpenAIServer(reply=answer_or_judge, api_key="sk-the-right-one") as server:
        refused = subprocess.run(
            [sys.executable, "-m", "mix_eval.evaluate", "--model_name", "gpt_4o", "--benchmark", "mixeval_hard",
             "--version", VERSION, "--batch_size", "2", "--data_path", str(data_path), "--output_dir",
             str(tmp_path / "out2"), "--limit", "2", "--api_base_url", server.base_url, "--verbose"],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env=subprocess_env(MODEL_PARSER_API=JUDGE_ENV, k_oai=MODEL_ENV, OPENAI_BASE_URL=server.base_url))
    assert refused.returncode == 2 and "DEBUG" in refused.stderr and "HTTP 401" in refused.stderr
    assert_no_key_anywhere(tmp_path, refused.stdout, refused.stderr)


def test_a_key_given_as_the_variable_name_is_not_written_or_printed(data_path, tmp_path, env, capsys, caplog):
    """--model_api_key_env wants a variable's name; a key given there (sk-..., not a name)
    is refused by the parser without being repeated or written anywhere."""
    root = tmp_path / "out"
    with FakeOpenAIServer(reply=answer_or_judge) as server, pytest.raises(SystemExit) as exit_info:
        evaluate_main(["--model_name", "openai_compatible", "--model_base_url", server.base_url,
                       "--model_id", "org/m", "--model_api_key_env", JUDGE_ENV, "--benchmark", "mixeval_hard",
                       "--version", VERSION, "--batch_size", "2", "--data_path", str(data_path),
                       "--output_dir", str(root), "--limit", "2", "--inference_only"])
    assert exit_info.value.code == 2
    printed = capsys.readouterr()
    assert "--model_api_key_env" in printed.err and "NAME of an environment variable" in printed.err
    assert_no_key_anywhere(tmp_path, printed.out, printed.err, caplog.text)
