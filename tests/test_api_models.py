"""API models under evaluation, against a loopback OpenAI-compatible server."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import JUDGE_KEY, answer_or_judge, fake_server, model_answer, quick_client, read_jsonl

from mix_eval.evaluate import main as evaluate_main

VERSION = "2024-06-01"
MODEL_KEY = "sk-model-key-789"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")

server = fake_server(reply=answer_or_judge)


def run(data_path: Path, out: Path, *extra: str) -> int:
    return evaluate_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--batch_size", "4",
                          "--data_path", str(data_path), "--output_dir", str(out), "--limit", "5", *extra])


def assert_requests_and_answers(server, out: Path, model: str, model_id: str, max_tokens_field: str = "max_tokens"):
    """Ten requests (5 items of each split), each a single user turn for ``model_id`` with
    the key and 1536 new tokens; each split's file holds 5 lines, each line the answer the
    server gave to the request that asked its input."""
    requests = server.chat_requests()
    assert len(requests) == 10
    for r in requests:
        assert r.body["model"] == model_id and r.body[max_tokens_field] == 1536
        assert [m["role"] for m in r.body["messages"]] == ["user"]
    answered = {r.body["messages"][-1]["content"]: model_answer(r.body) for r in requests}
    for split in SPLITS:
        lines = read_jsonl(out / model / "mixeval_hard" / VERSION / f"{model}_{split}.jsonl")
        assert len(lines) == 5 and [x["response"] for x in lines] == [answered[x["formated_input"]] for x in lines]
    return requests


@pytest.mark.slow
def test_gpt_4o_through_openai_base_url(server, clean_env, data_path, tmp_path):
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    clean_env.setenv("k_oai", MODEL_KEY)
    out = tmp_path / "out"
    assert run(data_path, out, "--model_name", "gpt_4o", "--inference_only") == 0
    for r in assert_requests_and_answers(server, out, "gpt_4o", "gpt-4o-2024-05-13"):
        assert r.body["response_format"] == {"type": "text"} and r.authorization == f"Bearer {MODEL_KEY}"
    vdir = out / "gpt_4o" / "mixeval_hard" / VERSION
    for split in SPLITS:
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete"
        assert MODEL_KEY not in json.dumps(status)


@pytest.mark.slow
def test_o1_sends_max_completion_tokens(server, clean_env, data_path, tmp_path):
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    clean_env.setenv("k_oai", MODEL_KEY)
    out = tmp_path / "out"
    assert run(data_path, out, "--model_name", "openai_o1_mini", "--inference_only") == 0
    for r in assert_requests_and_answers(server, out, "openai_o1_mini", "o1-mini-2024-09-12", "max_completion_tokens"):
        assert "max_tokens" not in r.body


def test_missing_model_key_names_the_variable(clean_env, data_path, tmp_path, capsys):
    assert run(data_path, tmp_path / "out", "--model_name", "gpt_4o", "--inference_only") == 2
    err = capsys.readouterr().err
    assert "k_oai" in err and ".env" in err and "Traceback" not in err


@pytest.mark.slow
def test_openai_compatible_generates_judges_and_scores_in_its_own_folder(server, clean_env, data_path, tmp_path):
    clean_env.setenv("MODEL_PARSER_API", JUDGE_KEY)
    clean_env.setenv("MY_SERVER_KEY", MODEL_KEY)
    out = tmp_path / "out"
    for name in ("served_a", "served_b"):
        code = run(data_path, out, "--model_name", "openai_compatible", "--model_base_url", server.base_url,
                   "--model_id", f"org/{name}", "--model_api_key_env", "MY_SERVER_KEY", "--output_name", name,
                   "--model_gen_kwargs", '{"temperature": 0, "seed": 7}', "--api_base_url", server.base_url)
        assert code == 0
        vdir = out / name / "mixeval_hard" / VERSION
        assert (vdir / f"{name}_close_freeform_hard.jsonl").exists()
        judged = read_jsonl(vdir / "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl")
        assert len(judged) == 5 and all(x["judge_response"].startswith("The answer is judged.") for x in judged)
        assert 0 <= json.loads((vdir / "score.json").read_text())["overall"] <= 1
    model_requests = [r for r in server.chat_requests() if r.body["model"].startswith("org/")]
    judge_requests = [r for r in server.chat_requests() if r.body["model"] == "gpt-3.5-turbo-0125"]
    assert len(model_requests) == 20 and len(judge_requests) == 20
    assert all(r.body["temperature"] == 0 and r.body["seed"] == 7 for r in model_requests)
    assert all(r.authorization == f"Bearer {MODEL_KEY}" for r in model_requests)
    assert all(r.authorization == f"Bearer {JUDGE_KEY}" for r in judge_requests)
    assert json.loads((out / "score.json").read_text()).keys() == {"served_b"}


@pytest.mark.slow
def test_api_failures_leave_items_for_the_next_run(server, clean_env, data_path, tmp_path, capsys):
    """A server that keeps failing for some requests: those items stay missing, the run
    says how to retry them, and the rerun completes just them."""
    clean_env.setenv("OPENAI_BASE_URL", server.base_url)
    clean_env.setenv("k_oai", MODEL_KEY)
    from fake_openai_server import Fault

    broken_prompt = {"text": None}

    def flaky(body):
        user = body["messages"][-1]["content"]
        if broken_prompt["text"] is None:
            broken_prompt["text"] = user
        if user == broken_prompt["text"]:
            return Fault("500")
        return answer_or_judge(body)

    server.reply = flaky
    out = tmp_path / "out"
    quick_client(clean_env, max_retries=1)
    assert run(data_path, out, "--model_name", "gpt_4o", "--inference_only") == 2
    assert "Rerun the same command" in capsys.readouterr().err
    vdir = out / "gpt_4o" / "mixeval_hard" / VERSION
    ff = vdir / "gpt_4o_close_freeform_hard.jsonl"
    assert len(ff.read_text().splitlines()) == 4
    server.reply = answer_or_judge
    assert run(data_path, out, "--model_name", "gpt_4o", "--inference_only") == 0
    ids = [json.loads(x)["id"] for x in ff.read_text().splitlines()]
    assert sorted(ids, key=int) == ["0", "1", "2", "3", "4"]


def test_model_module_registers_a_users_model(clean_env, data_path, tmp_path, tiny_chat):
    module = tmp_path / "my_models.py"
    module.write_text(
        "from mix_eval.api.registry import register_model\n"
        "from mix_eval.models.base import ChatModel\n\n"
        "@register_model('my_tiny')\n"
        "class MyTiny(ChatModel):\n"
        "    def __init__(self, args):\n"
        "        super().__init__(args)\n"
        f"        self.model_name = {str(tiny_chat)!r}\n"
        "        self.SYSTEM_MESSAGE = None\n"
        "        self.closeended_max_new_tokens = 2\n"
        "        self.model = self.build_model()\n"
        "        self.model_max_len = self.model.config.max_position_embeddings\n"
        "        self.tokenizer = self.build_tokenizer()\n"
        "        self.max_input_length_closeend = 1000\n"
    )
    out = tmp_path / "out"
    assert run(data_path, out, "--model_name", "my_tiny", "--model_module", str(module), "--inference_only") == 0
    assert len((out / "my_tiny" / "mixeval_hard" / VERSION / "my_tiny_close_freeform_hard.jsonl")
               .read_text().splitlines()) == 5


# Every kind of name check_safe_name refuses (it becomes one path component, never a
# path): parent references, absolute paths, separators of any system, drive letters,
# NUL, hidden names, the current folder, empty. "ABS" stands for an absolute path inside
# the test's own folder, so a write there would be seen.
UNSAFE_NAMES = ["../escape", "../../x", "a/../../escape", "..", ".", "", ".hidden", "a/b", "ABS",
                "a\\b", "..\\escape", "c:d", "C:\\escape", "a\0b"]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("value", UNSAFE_NAMES)
def test_check_safe_name_refuses_every_unsafe_name(value, tmp_path):
    from mix_eval.errors import MixEvalError
    from mix_eval.responses import check_safe_name

    value = str(tmp_path / "escape-abs") if value == "ABS" else value
    with pytest.raises(MixEvalError, match="--output_name"):
        check_safe_name("--output_name", value)


@pytest.mark.parametrize("value", ["gpt_4o", "my-model.v2", "2024-06-01", "Meta-Llama-3-8B-Instruct", "a..b"])
def test_check_safe_name_accepts_plain_names(value):
    from mix_eval.responses import check_safe_name

    assert check_safe_name("--output_name", value) == value


# (An empty --output_name means none given: the folder is then named after --model_name.)
@pytest.mark.parametrize("flag, value", [(flag, value) for flag in ("--output_name", "--version")
                                         for value in UNSAFE_NAMES if (flag, value) != ("--output_name", "")])
def test_names_cannot_write_outside_the_output_dir(clean_env, data_path, tmp_path, capsys, flag, value):
    value = str(tmp_path / "escape-abs") if value == "ABS" else value
    before = files_under(tmp_path)
    out = tmp_path / "out"
    if flag == "--version":
        code = evaluate_main(["--benchmark", "mixeval_hard", "--batch_size", "1", "--data_path", str(data_path),
                              "--output_dir", str(out), "--model_name", "gpt_4o", "--inference_only",
                              "--version", value])
    else:
        code = run(data_path, out, "--model_name", "gpt_4o", "--inference_only", flag, value)
    assert code == 2
    assert flag in capsys.readouterr().err
    # refused before anything was written: the only new file is the error log
    assert files_under(tmp_path) - before <= {"out", "out/error.log"}, files_under(tmp_path) - before
    assert not (tmp_path / "escape-abs").exists()


@pytest.mark.slow
def test_claude_through_the_anthropic_sdk(server, clean_env, data_path, tmp_path):
    pytest.importorskip("anthropic", reason="the anthropic SDK is an optional extra")
    clean_env.setenv("ANTHROPIC_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    clean_env.setenv("k_ant", MODEL_KEY)
    out = tmp_path / "out"
    assert run(data_path, out, "--model_name", "claude_3_haiku", "--inference_only") == 0
    for r in assert_requests_and_answers(server, out, "claude_3_haiku", "claude-3-haiku-20240307"):
        assert r.path.endswith("/v1/messages")
        assert MODEL_KEY in (r.headers.get("x-api-key"), (r.authorization or "")[len("Bearer "):])


@pytest.mark.slow
def test_claude_wrong_key_stops_at_once(server, clean_env, data_path, tmp_path, capsys):
    pytest.importorskip("anthropic", reason="the anthropic SDK is an optional extra")
    server.api_key = "sk-the-right-one"
    clean_env.setenv("ANTHROPIC_BASE_URL", server.base_url.rsplit("/v1", 1)[0])
    clean_env.setenv("k_ant", MODEL_KEY)
    assert run(data_path, tmp_path / "out", "--model_name", "claude_3_haiku", "--inference_only") == 2
    err = capsys.readouterr().err
    assert "k_ant" in err and MODEL_KEY not in err and "Traceback" not in err
    assert len(server.chat_requests()) <= 2
