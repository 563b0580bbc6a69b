"""End-to-end generation with real tiny checkpoints, through the public entry points."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REF_RESPONSES, read_jsonl, run_module

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


def snapshot(folder: Path) -> dict[str, bytes]:
    """The response and status files of a folder, byte for byte."""
    return {f.name: f.read_bytes() for f in sorted(folder.glob("*.json*"))}


@pytest.mark.parametrize("flag", ["--dtype", "--model_name", "--model_path"])
def test_a_rerun_with_another_model_path_model_name_or_dtype_is_refused(
        flag, tiny_chat, tiny_base, data_path, tmp_path, capsys):
    """README "Resuming": --model_path, --model_name and --dtype change the answers, so a
    rerun into the same folder with another value is refused, naming the argument and both
    values, and leaves the files as they were. (--model_name names the folder unless
    --output_name does: here --output_name is kept fixed so that both runs share it.)"""
    first = {"--model_name": "local_chat", "--model_path": str(tiny_chat), "--dtype": "float32"}
    other = {"--model_name": "local_base", "--model_path": str(tiny_base), "--dtype": "bfloat16"}
    second = {**first, flag: other[flag]}

    def argv(values: dict[str, str], limit: str) -> list[str]:
        return common(Path(values["--model_path"]), data_path, tmp_path / "out", "--dtype", values["--dtype"],
                      "--output_name", "same_folder", "--limit", limit, "--max_new_tokens", "1",
                      model=values["--model_name"])

    vdir = version_dir(tmp_path / "out", "same_folder")
    assert evaluate(*argv(first, "3")) == 0
    before = snapshot(vdir)
    assert len(before) == 5  # two response files, two status files, run_manifest.json
    capsys.readouterr()

    assert evaluate(*argv(second, "3")) == 2
    err = capsys.readouterr().err
    assert f"was written with {flag} {first[flag]}, but this run has {flag} {second[flag]}" in err
    assert snapshot(vdir) == before
    logged = (tmp_path / "out" / "error.log").read_text().splitlines()
    assert len(logged) == 1 and flag in logged[0]
    # a larger --limit, refused too: nothing is generated under the other value
    assert evaluate(*argv(second, "4")) == 2
    assert snapshot(vdir) == before
    # the original arguments still resume
    assert evaluate(*argv(first, "4")) == 0
    lines = read_jsonl(vdir / "same_folder_close_multichoice_hard.jsonl")
    assert sorted(int(d["id"]) for d in lines) == list(range(4))


def test_the_same_checkpoint_by_another_path_resumes(tiny_chat, data_path, tmp_path):
    """--model_path is compared as the folder it names: a symlink to the same checkpoint resumes."""
    link = tmp_path / "link-to-checkpoint"
    link.symlink_to(tiny_chat, target_is_directory=True)
    out = tmp_path / "out"
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "2", "--max_new_tokens", "1")) == 0
    assert evaluate(*common(link, data_path, out, "--limit", "3", "--max_new_tokens", "1")) == 0
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        lines = read_jsonl(version_dir(out) / f"local_chat_{split}.jsonl")
        assert sorted(int(d["id"]) for d in lines) == [0, 1, 2]


def test_another_version_or_model_name_writes_its_own_folder(tiny_chat, data_path, tmp_path):
    """--version names the output folder, and so does --model_name without --output_name: a
    rerun that changes either starts its own folder (it can never meet the first run's files,
    so it is not refused) and leaves the first run's files alone."""
    out = tmp_path / "out"
    first = common(tiny_chat, data_path, out, "--limit", "2", "--max_new_tokens", "1")
    assert evaluate(*first) == 0
    before = snapshot(version_dir(out))
    other_version = [("2024-08-11" if a == VERSION else a) for a in first]
    assert evaluate(*other_version) == 0
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", "2", "--max_new_tokens", "1",
                            model="local_base")) == 0
    assert snapshot(version_dir(out)) == before
    for folder, name in ((out / "local_chat" / "mixeval_hard" / "2024-08-11", "local_chat"),
                         (version_dir(out, "local_base"), "local_base")):
        for split in ("close_freeform_hard", "close_multichoice_hard"):
            assert len(read_jsonl(folder / f"{name}_{split}.jsonl")) == 2
    assert not (out / "error.log").exists()


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


def test_batched_answers_equal_one_by_one_answers(tiny_chat, data_path, tmp_path):
    """Left padding in a batch must not change greedy answers, nor pair them with other items."""
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert evaluate(*common(tiny_chat, data_path, out_a, "--limit", "10", "--max_new_tokens", "5",
                            batch_size="4")) == 0
    assert evaluate(*common(tiny_chat, data_path, out_b, "--limit", "10", "--max_new_tokens", "5",
                            batch_size="1")) == 0
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        a = {d["id"]: d["response"] for d in read_jsonl(version_dir(out_a) / f"local_chat_{split}.jsonl")}
        b = {d["id"]: d["response"] for d in read_jsonl(version_dir(out_b) / f"local_chat_{split}.jsonl")}
        assert a == b


# A model module (--model_module) registering local_chat unchanged, except that the real
# model's `generate` logs every batch it receives: each row's unpadded token count, its
# text and the answer generated for it.
RECORDING_MODULE = """
import json

from mix_eval.api.registry import get_model, register_model

LOG = {log!r}


@register_model({name!r})
class RecordingLocalChat(get_model("local_chat")):
    def load(self, **kwargs):
        super().load(**kwargs)
        generate, tok = self.model.generate, self.tokenizer

        def recording_generate(input_ids=None, attention_mask=None, **kw):
            out = generate(input_ids=input_ids, attention_mask=attention_mask, **kw)
            rows = []
            for r in range(input_ids.shape[0]):
                ids = input_ids[r][attention_mask[r].bool()].tolist()
                rows.append({{
                    "length": len(ids),
                    "text": tok.decode(ids, clean_up_tokenization_spaces=False),
                    "answer": tok.decode(out[r, input_ids.shape[1]:], skip_special_tokens=True),
                }})
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(rows) + "\\n")
            return out

        self.model.generate = recording_generate
"""


def contiguous_in_sorted_order(batches: list[list[int]]) -> bool:
    """Every length of a batch is >= every length of each later batch (longest first)."""
    return all(min(a) >= max(b) for i, a in enumerate(batches) for b in batches[i + 1:])


def test_items_reach_the_model_in_length_sorted_batches(tiny_chat, data_path, tmp_path):
    """README "Speed": items are sorted by token length before batching (longest first, so an
    out-of-memory batch fails at once). Checked on the batches the real model receives;
    each response must still be the answer generated for its own item."""
    n, batch_size = 12, 4
    log = tmp_path / "batches.jsonl"
    module = tmp_path / "recording_models.py"
    module.write_text(RECORDING_MODULE.format(log=str(log), name="recording_local_chat"), encoding="utf-8")
    out = tmp_path / "out"
    assert evaluate(*common(tiny_chat, data_path, out, "--limit", str(n), "--max_new_tokens", "3",
                            "--model_module", str(module), model="recording_local_chat",
                            batch_size=str(batch_size))) == 0
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    per_split = -(-n // batch_size)
    assert len(calls) == 2 * per_split  # free-form first, then multiple-choice
    vdir = version_dir(out, "recording_local_chat")
    for k, split in enumerate(("close_freeform_hard", "close_multichoice_hard")):
        batches = calls[k * per_split:(k + 1) * per_split]
        lines = read_jsonl(vdir / f"recording_local_chat_{split}.jsonl")
        by_id = {d["id"]: d for d in lines}
        assert len(lines) == len(by_id) == n and sorted(by_id, key=int) == [str(i) for i in range(n)]
        # appended in batch order, the finished file is put back in the data's order (the
        # reference's: scoring's random fallbacks are drawn in file order)
        assert [d["id"] for d in lines] == [str(i) for i in range(n)]
        # which item each row is: the one whose formatted input the rendered text holds
        length_of, batch_ids = {}, []
        for batch in batches:
            ids = []
            for row in batch:
                owners = [i for i, d in by_id.items() if d["formated_input"] in row["text"]]
                assert len(owners) == 1, row["text"][:200]
                (item_id,) = owners
                length_of[item_id] = row["length"]
                assert by_id[item_id]["response"] == row["answer"]  # paired with its own item
                ids.append(item_id)
            batch_ids.append(ids)
        assert sorted(i for ids in batch_ids for i in ids) == sorted(by_id)  # each item once
        assert [len(ids) for ids in batch_ids] == [batch_size] * (n // batch_size)
        assert [i for ids in batch_ids for i in ids] != [str(i) for i in range(n)]  # the batches were not in data order
        lengths = [[length_of[i] for i in ids] for ids in batch_ids]
        assert contiguous_in_sorted_order(lengths), lengths
        # the data order would not have been: the check above can tell sorted from unsorted
        data_order = [length_of[str(i)] for i in range(n)]
        assert not contiguous_in_sorted_order(
            [data_order[i:i + batch_size] for i in range(0, n, batch_size)]), data_order


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
