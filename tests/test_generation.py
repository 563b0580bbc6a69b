"""End-to-end generation with real tiny checkpoints, through the public entry points."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REF_RESPONSES, run_module

from mix_eval.evaluate import main as evaluate_main
from mix_eval.prompts import evaluation_prompts as ep

VERSION = "2024-06-01"


def evaluate(*args: str) -> int:
    return evaluate_main(list(args))


def common(model_path: Path, data_path: Path, out: Path, *extra: str, model="local_chat",
           benchmark="mixeval_hard", batch_size="8") -> list[str]:
    return [
        "--model_name", model, "--model_path", str(model_path), "--benchmark", benchmark,
        "--version", VERSION, "--batch_size", batch_size, "--data_path", str(data_path),
        "--output_dir", str(out), "--inference_only", *extra,
    ]


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def version_dir(out: Path, model="local_chat", benchmark="mixeval_hard") -> Path:
    return out / model / benchmark / VERSION


def test_local_chat_end_to_end(tiny_chat, data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "12", "--max_new_tokens", "4")) == 0
    vdir = version_dir(out)
    for split, n_options in (("close_freeform_hard", False), ("close_multichoice_hard", True)):
        lines = read_jsonl(vdir / f"local_chat_{split}.jsonl")
        assert len(lines) == 12
        assert sorted(int(d["id"]) for d in lines) == list(range(12))  # first 12, each once
        for d in lines:
            assert isinstance(d["response"], str)
            assert ("options" in d) is n_options
            assert list(d)[-3:] == ["formated_input", "id", "response"]
            assert not d["formated_input"].startswith(ep.FIVE_SHOT_PREFIX_FREEFORM[:40])
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete"
        assert status["status"]["time_elapsed"] > 0
        assert status["status"]["batch_id"] == 1  # two batches of 8 and 4, ids 0 and 1
        assert status["args"]["split"] == split
        assert status["args"]["limit"] == 12
        assert status["args"]["max_new_tokens"] == 4
        assert status["args"]["model_path"] == str(tiny_chat)


def test_local_base_uses_five_shot_prefix(tiny_base, data_path, tmp_path):
    out = tmp_path / "out"
    assert evaluate(*common(tiny_base, data_path, out, "--limit", "3", "--max_new_tokens", "2",
                            model="local_base", benchmark="mixeval")) == 0
    vdir = version_dir(out, "local_base", "mixeval")
    ff = read_jsonl(vdir / "local_base_close_freeform.jsonl")
    mc = read_jsonl(vdir / "local_base_close_multichoice.jsonl")
    assert len(ff) == len(mc) == 3
    for d in ff:
        assert d["formated_input"].startswith(ep.FIVE_SHOT_PREFIX_FREEFORM)
        assert d["formated_input"].endswith("\n")
    for d in mc:
        assert d["formated_input"].startswith(ep.FIVE_SHOT_PREFIX_MULTIPLECHOICE)


def test_chat_model_without_chat_template_is_a_clear_error(tiny_base, data_path, tmp_path, capsys):
    code = evaluate(*common(tiny_base, data_path, tmp_path / "o", "--limit", "2", "--max_new_tokens", "1"))
    assert code == 2
    err = capsys.readouterr().err
    assert "no chat template" in err and "local_base" in err


def test_rerun_of_complete_run_loads_no_model(tiny_chat, data_path, tmp_path):
    out = tmp_path / "out"
    args = common(tiny_chat, data_path, out, "--limit", "5", "--max_new_tokens", "1")
    assert evaluate(*args) == 0
    before = {p.name: p.read_bytes() for p in version_dir(out).glob("*.jsonl")}
    # a missing checkpoint proves no model is loaded on a complete rerun
    moved = tiny_chat.parent / "moved-away"
    tiny_chat.rename(moved)
    try:
        assert evaluate(*[a if a != str(tiny_chat) else str(tiny_chat) for a in args]) == 0
    finally:
        moved.rename(tiny_chat)
    after = {p.name: p.read_bytes() for p in version_dir(out).glob("*.jsonl")}
    assert before == after


def test_changed_result_argument_is_refused_and_batch_size_resumes(tiny_chat, data_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "4", "--max_new_tokens", "1")) == 0
    capsys.readouterr()
    # generation settings differ: refused, naming the argument and how to start afresh
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "4", "--max_new_tokens", "2")) == 2
    err = capsys.readouterr().err
    assert "--max_new_tokens" in err and "afresh" in err
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "4", "--max_new_tokens", "1",
                            "--model_systemprompt", "Be brief.")) == 2
    assert "--model_systemprompt" in capsys.readouterr().err
    # batch size, judge settings and a larger --limit resume
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "6", "--max_new_tokens", "1",
                            batch_size="3", ) + ["--freeform_judge", "other-judge"]) == 0
    lines = read_jsonl(version_dir(out) / "local_chat_close_freeform_hard.jsonl")
    assert sorted(int(d["id"]) for d in lines) == list(range(6))
    logged = (tmp_path / "out" / "error.log").read_text().splitlines()
    assert len(logged) == 2 and "--max_new_tokens" in logged[0] and "--model_systemprompt" in logged[1]


def test_system_prompt_reaches_the_chat_template(tiny_chat, data_path, tmp_path):
    from types import SimpleNamespace

    from mix_eval.api.registry import get_model

    args = SimpleNamespace(model_path=str(tiny_chat), model_systemprompt="Be brief.", max_new_tokens=1,
                           dtype=None, max_gpu_memory=None, batch_size=1)
    model = get_model("local_chat")(args)
    rendered = model.render("What is 2+2?")
    assert rendered.startswith("<s><|system|>\nBe brief.</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n")
    assert model.tokenizer.padding_side == "left"
    assert model.tokenizer.pad_token == model.tokenizer.eos_token  # the checkpoint has none
    assert model.max_input_length_closeend == 4096 - 1


def test_length_sorted_batches_are_the_same_responses_as_one_by_one(tiny_chat, data_path, tmp_path):
    """Batching with left padding must not change greedy answers."""
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert evaluate(*common(tiny_chat, data_path, out_a, "--limit", "10", "--max_new_tokens", "5",
                            batch_size="10")) == 0
    assert evaluate(*common(tiny_chat, data_path, out_b, "--limit", "10", "--max_new_tokens", "5",
                            batch_size="1")) == 0
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        a = {d["id"]: d["response"] for d in read_jsonl(version_dir(out_a) / f"local_chat_{split}.jsonl")}
        b = {d["id"]: d["response"] for d in read_jsonl(version_dir(out_b) / f"local_chat_{split}.jsonl")}
        assert a == b


@pytest.mark.slow
def test_full_mixeval_hard_inputs_equal_reference(tiny_chat, data_path, tmp_path):
    """The issue's acceptance run: 1000 lines whose inputs equal the reference's."""
    out = tmp_path / "out"
    proc = run_module("mix_eval.evaluate", *common(tiny_chat, data_path, out, "--max_new_tokens", "1",
                                                   batch_size="50"))
    assert proc.returncode == 0, proc.stderr
    vdir = version_dir(out)
    total = 0
    for split, ref_name in (("close_freeform_hard", "gemma_11_7b_instruct_close_freeform_hard"),
                            ("close_multichoice_hard", "gemma_11_7b_instruct_close_multichoice_hard")):
        ours = {d["id"]: d for d in read_jsonl(vdir / f"local_chat_{split}.jsonl")}
        ref = {d["id"]: d for d in read_jsonl(REF_RESPONSES / "mixeval_hard" / VERSION / f"{ref_name}.jsonl")}
        assert len(ours) == len(ref) == 500
        assert all(ours[i]["formated_input"] == ref[i]["formated_input"] for i in ref)
        total += len(ours)
        assert json.loads((vdir / f"status_{split}.json").read_text())["status"]["status"] == "complete"
    assert total == 1000
    check = run_module("mix_eval.utils.check_eval_complete", "--benchmark", "mixeval_hard", "--version", VERSION,
                       "--chat_models_to_check", "local_chat", "--base_models_to_check", "none",
                       "--model_response_dir", str(out), "--out_path", str(tmp_path / "checks.log"),
                       "--data_path", str(data_path))
    assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "checks.log").read_text().splitlines() == [
        "Above lines are problematic directories. No lines above means all entries are valid. "
    ]
