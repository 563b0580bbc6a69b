"""Formatted inputs must equal the reference suite's byte for byte."""
from __future__ import annotations

import json

import pytest
from conftest import REF_RESPONSES, REFERENCE

from mix_eval.data import load_split, splits_for
from mix_eval.prompts import (
    construct_prompt_freeform,
    construct_prompt_multichoice,
    five_shot_input,
    has_context,
)
from mix_eval.prompts import (
    evaluation_prompts as ep,
)

REF_FILES = {
    "close_freeform": "mixeval/2024-06-01/gemma_11_7b_instruct_close_freeform.jsonl",
    "close_multichoice": "mixeval/2024-06-01/gemma_11_7b_instruct_close_multichoice.jsonl",
    "close_freeform_hard": "mixeval_hard/2024-06-01/gemma_11_7b_instruct_close_freeform_hard.jsonl",
    "close_multichoice_hard": "mixeval_hard/2024-06-01/gemma_11_7b_instruct_close_multichoice_hard.jsonl",
}


def test_all_5000_formatted_inputs_equal_the_reference(data_path):
    compared = 0
    for benchmark in ("mixeval", "mixeval_hard"):
        for split in splits_for(benchmark):
            ours = {i["id"]: i for i in load_split(data_path, "2024-06-01", split)}
            with open(REF_RESPONSES / REF_FILES[split.name], encoding="utf-8") as f:
                for line in f:
                    ref = json.loads(line)
                    mine = ours[ref["id"]]
                    assert mine["formated_input"] == ref["formated_input"], (split.name, ref["id"])
                    # same fields, same order, as the reference's response lines
                    assert list(mine) + ["response"] == list(ref), (split.name, ref["id"])
                    compared += 1
    assert compared == 5000


def test_protocol_constants_equal_protocol_json():
    path = REFERENCE / "protocol.json"
    protocol = json.loads(path.read_text(encoding="utf-8"))
    ins = protocol["instructions"]
    assert ep.MULTI_CHOICE_INSTRUCTION == ins["multiple_choice"]
    assert ep.FREE_FORM_DEFAULT_INSTRUCTION == ins["free_form_default"]
    assert ep.FREE_FORM_INSTRUCTION_BY_BENCHMARK == ins["free_form_by_benchmark"]
    assert ep.FIVE_SHOT_PREFIX_FREEFORM == protocol["five_shot_prefix"]["free_form"]
    assert ep.FIVE_SHOT_PREFIX_MULTIPLECHOICE == protocol["five_shot_prefix"]["multiple_choice"]
    assert list(ep.JUDGE_MESSAGES_FREEFORM) == protocol["judge_messages"]["free_form"]
    assert list(ep.JUDGE_MESSAGES_MULTICHOICE) == protocol["judge_messages"]["multiple_choice"]


@pytest.mark.parametrize("context, present", [
    (None, False), ("None", False), ("NULL", False), ("   ", False), ("", False),
    ("null pointer", True), ("Some passage", True),
])
def test_context_presence(context, present):
    assert has_context(context) is present


def test_multichoice_layout():
    item = {"context": "Ctx", "prompt": "Q?", "options": ["x", "y", "z"]}
    assert construct_prompt_multichoice(item) == (
        "Ctx\nQ?\nA. x\nB. y\nC. z\nAnswer with the option letter from the given choices directly."
    )
    item["context"] = "none"
    assert construct_prompt_multichoice(item).startswith("Q?\nA. x")


def test_freeform_layout_and_benchmark_instructions():
    item = {"context": None, "prompt": "2+2?", "benchmark_name": "GSM8k"}
    assert construct_prompt_freeform(item) == "Question: 2+2?\nAnswer the question. \nLet's think step by step."
    item = {"context": "Passage.", "prompt": "Who?", "benchmark_name": "TriviaQA"}
    assert construct_prompt_freeform(item) == "Question: Passage.\nWho?\nAnswer the question shortly."


def test_quac_is_refused():
    with pytest.raises(ValueError, match="QuAc"):
        construct_prompt_freeform({"context": None, "prompt": "p", "benchmark_name": "QuAc"})


def test_five_shot_input_for_base_models():
    assert five_shot_input("Q", "free-form") == ep.FIVE_SHOT_PREFIX_FREEFORM + "Q\n"
    assert five_shot_input("Q", "multiple-choice") == ep.FIVE_SHOT_PREFIX_MULTIPLECHOICE + "Q\n"
