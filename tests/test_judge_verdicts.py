"""The verdict rule of the judge protocol: the first ``[[x]]``, else the first ``[x]``.

The reference (MixEval's ``get_score_from_judge`` / ``get_option_from_judge``) searches
the whole reply for a double-bracket verdict first and falls back to single brackets
only when there is none; a free-form score outside [0, 1] is no verdict (the item is
asked again), and any one capital letter is a multiple-choice verdict. The fake judges
of the other tests always answer ``[[...]]``, so these rules are pinned here: by hand-
written replies, and by a scoring run whose judge answers only in single brackets.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import between, judged_answer, make_responses, read_jsonl
from fake_openai_server import FakeOpenAIServer

from mix_eval.compute_metrics import main as compute_main
from mix_eval.judges.protocol import (
    gold_answers_text, judge_messages, judged_response, messages_digest, option_from_reply, option_letters,
    score_from_reply, verdict,
)
from mix_eval.prompts.evaluation_prompts import JUDGE_MESSAGES_FREEFORM, JUDGE_MESSAGES_MULTICHOICE
from mix_eval.splits import SplitKind

# ---------------------------------------------------------------- free-form scores


@pytest.mark.parametrize("reply, expected", [
    # only [[x]]
    ("The correctness score: [[0.7]]", 0.7),
    ("[[1]]", 1.0),
    ("[[0]]", 0.0),
    ("The correctness score: [[0.50]].", 0.5),
    # only [x]: the fallback
    ("The correctness score: [0.7]", 0.7),
    ("The correctness score: [1.]", 1.0),
    ("[0]", 0.0),
    # both: a double bracket wins even when a single one comes first
    ("At first sight [0.2], but after checking the units: [[0.9]]", 0.9),
    ("[[0.4]] (not [0.6])", 0.4),
    # several doubles (or several singles): the first wins
    ("[[0.3]] ... on second thought [[0.8]]", 0.3),
    ("[0.3] ... on second thought [0.8]", 0.3),
    # out of range: the first verdict found is checked, no later one is looked for
    ("The correctness score: [[1.5]]", None),
    ("[[1.5]] sorry, I meant [[0.5]]", None),
    ("[[2]] and [0.5]", None),  # a double was found, so singles are not consulted
    ("[10]", None),
    # malformed: no verdict, or only a fallback one
    ("[[-0.5]] and [0.3]", 0.3),  # a sign is not part of the number pattern
    ("[[0.5]", 0.5),  # unbalanced: "[0.5]" inside is a single-bracket verdict
    ("[[ 0.5 ]]", None),
    ("[[.5]]", None),
    ("[[1.0.0]]", None),
    ("[[high]]", None),
    ("[[A]]", None),
    ("The answer is right.", None),
    ("", None),
    (None, None),
])
def test_score_from_reply(reply: str | None, expected: float | None):
    """Free-form replies: first [[x]], else first [x], kept only when 0 <= x <= 1."""
    got = score_from_reply(reply)
    assert got == expected and type(got) is type(expected), (reply, got)


# ---------------------------------------------------------------- multiple-choice letters


@pytest.mark.parametrize("reply, expected", [
    # only [[L]]
    ("The option chosen by the model: [[C]]", "C"),
    # only [L]: the fallback
    ("The option chosen by the model: [C]", "C"),
    # both: a double bracket wins even when a single one comes first
    ("[A] looks tempting, but the model chose [[D]].", "D"),
    # several doubles: the first wins
    ("[[B]] ... or rather [[A]]", "B"),
    ("[B] ... or rather [A]", "B"),
    # any one capital letter, even past the item's options (scored as wrong), as in the reference
    ("[[Z]]", "Z"),
    # malformed: no verdict, or only a fallback one
    ("[[b]]", None),
    ("[[AB]]", None),
    ("[[AB]] or [C]", "C"),
    ("[[B]", "B"),
    ("[[ B ]]", None),
    ("[[1.0]]", None),
    ("The model chose B.", None),
    ("", None),
    (None, None),
])
def test_option_from_reply(reply: str | None, expected: str | None):
    """Multiple-choice replies: first [[L]], else first [L], one capital letter."""
    assert option_from_reply(reply) == expected, reply


def test_each_split_reads_its_own_kind_of_verdict():
    """A reply holding both kinds: the free-form rule skips letters, the multiple-choice
    rule skips numbers, each then taking the first of its own kind."""
    reply = "[[B]] is chosen; the correctness score: [0.4]"
    assert verdict(SplitKind.FREE_FORM, reply) == 0.4
    assert verdict(SplitKind.MULTIPLE_CHOICE, reply) == "B"


# ---------------------------------------------------------------- a judge that uses single brackets


VERSION = "2024-06-01"
N = 6  # items per split

# The first six free-form items of the reference's mixeval responses, by their gold
# answers as the judge request shows them, and the replies of the judge to each ask.
# The item with gold 47 first gets a score on a 0-10 scale (no verdict: asked again).
FF_REPLIES = {
    "<answer 1> 47; <answer 2> 47": ["27 points, not 47. The correctness score: [10]",
                                     "27 points, not 47. The correctness score: [0.0]"],
    "<answer 1> 3; <answer 2> 3": ["The model says 32 [entities], the gold 3. The correctness score: [0.1]"],
    "<answer 1> 28; <answer 2> 28": ["28 years, as the gold answer. The correctness score: [1]"],
    "<answer 1> 2; <answer 2> 2": ["Two models [Pennington, Bradley]. The correctness score: [0.9]"],
    "<answer 1> Yes": ["Both caused it, which implies yes. The correctness score: [0.8]"],
    "<answer 1> 16": ["6 days, not 16. The correctness score: [0.0]"],
}


class SingleBracketJudge:
    """Answers like a judge that ignores the [[...]] format: free-form replies from
    FF_REPLIES (the n-th ask of an item gets its n-th reply, then the last), multiple-
    choice replies name the letter the model's answer starts with, in single brackets."""

    def __init__(self) -> None:
        self.asked: Counter = Counter()

    def __call__(self, body: dict) -> str:
        user = body["messages"][-1]["content"]
        answer = judged_answer(body)
        if "Options: \n" in user:
            return f"Reading the answer [as given], the option chosen by the model: [{answer.strip()[0]}]"
        golds = between(user, "Golden Answer(s): ", "\nModel's Answer:")
        self.asked[golds] += 1
        replies = FF_REPLIES[golds]
        return replies[min(self.asked[golds], len(replies)) - 1]


@pytest.mark.slow
def test_single_bracket_judge_end_to_end(tmp_path: Path, monkeypatch):
    """compute_metrics with a judge that only answers [x]: every verdict is taken from the
    fallback, the out-of-range one is asked again, and score.json has the hand-computed
    figures (no item falls back to a random verdict)."""
    monkeypatch.setenv("MODEL_PARSER_API", "sk-test-single-bracket")
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval", n=N)
    judge = "gpt-3.5-turbo-0125"
    with FakeOpenAIServer(reply=SingleBracketJudge()) as server:
        assert compute_main(["--benchmark", "mixeval", "--version", VERSION, "--model_response_dir", str(root),
                             "--api_base_url", server.base_url, "--api_parallel_num", "4"]) == 0
        judge_requests = server.count()
    ff = read_jsonl(vdir / f"judge_results_ff_model_judge_{judge}.jsonl")
    mp = read_jsonl(vdir / f"judge_results_mp_model_judge_{judge}.jsonl")
    # free-form: judged in round 1, then item 1471 (its first reply had no valid verdict) in round 2
    assert [(x["id"], x["judge_score"]) for x in ff] == [
        ("240", 0.1), ("565", 1.0), ("785", 0.9), ("647", 0.8), ("380", 0.0), ("1471", 0.0)]
    assert ff[-1]["judge_response"] == "27 points, not 47. The correctness score: [0.0]"
    # multiple-choice: answers "A.", "C", "B. ...", "A", "A", "C"; targets A, A, B, B, A, C
    assert [(x["id"], x["judge_option"]) for x in mp] == [
        ("1755", "A"), ("422", "C"), ("801", "B"), ("1248", "A"), ("128", "A"), ("1700", "C")]
    assert mp[1]["judge_response"] == "Reading the answer [as given], the option chosen by the model: [C]"
    report = json.loads((vdir / "judge_report.json").read_text())
    assert report["free_form"]["rounds"] == 2 and report["free_form"]["invalid_replies"] == 1
    assert report["multiple_choice"]["rounds"] == 1
    assert report["free_form"]["random_fallback"] == report["multiple_choice"]["random_fallback"] == 0
    assert judge_requests == 2 * N + 1  # one item asked twice
    # By hand. Free-form: DROP (0.0 + 0.1 + 1.0 + 0.9) / 4 = 0.5, BBH 0.8, MATH 0.0,
    # overall 2.8 / 6 = 0.467. Multiple-choice (all AGIEval): 4 of 6 right = 0.667.
    # score.json weighs the splits by their counts (6 and 6): overall (0.467 + 0.667) / 2.
    expected = {"overall": 0.567, "DROP": 0.5, "BBH": 0.8, "MATH": 0.0, "AGIEval": 0.667}
    scores = json.loads((vdir / "score.json").read_text())
    assert list(scores) == list(expected)
    assert scores == pytest.approx(expected, abs=1e-9)
    assert json.loads((root / "score.json").read_text()) == {"my_model": scores}


# ---------------------------------------------------------------- the judge's messages


def template_head(template, placeholder: str) -> str:
    """A template's user message up to its case (the instructions and worked examples)."""
    content = template[-1]["content"]
    assert content.count(placeholder) == 1
    return content[:content.index(placeholder)]


def test_free_form_judge_messages_fill_the_reference_template():
    """The system message as it is; the user message asks about the item's prompt, its gold
    answers as `<answer 1> a; <answer 2> b`, and the response given (not the line's own)."""
    record = {"prompt": "How many points?", "target": ["47", "forty-seven"], "response": "not this one"}
    messages = judge_messages(record, SplitKind.FREE_FORM, "It is 47.")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0] == dict(JUDGE_MESSAGES_FREEFORM[0])
    assert messages[1]["content"] == template_head(JUDGE_MESSAGES_FREEFORM, "Question: {{PROMPT}}") + (
        "Question: How many points?\nGolden Answer(s): <answer 1> 47; <answer 2> forty-seven\n"
        "Model's Answer: It is 47.\nYour Judgment: \n")
    assert gold_answers_text(["only"]) == "<answer 1> only"
    assert gold_answers_text([]) == ""


def test_multiple_choice_judge_messages_letter_the_options():
    """Options one a line as `A. x`; the prompt and the response given."""
    record = {"prompt": "Trees are?", "options": ["tall", "green", "old"], "target": [1], "response": "no"}
    messages = judge_messages(record, SplitKind.MULTIPLE_CHOICE, "B. green")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0] == dict(JUDGE_MESSAGES_MULTICHOICE[0])
    assert messages[1]["content"] == template_head(JUDGE_MESSAGES_MULTICHOICE, "Question: {{PROMPT}}") + (
        "Question: Trees are?\nOptions: \nA. tall\nB. green\nC. old\nModel's Answer: B. green\nYour Judgment: \n")
    assert option_letters(record) == ["A", "B", "C"]


def test_judged_response_cuts_base_model_run_on_only_when_asked():
    """Kept whole without --extract_base_model_response; else cut at the next few-shot
    question (free-form) or at the first blank line (multiple-choice)."""
    ff = {"response": "42\n\n\nQuestion: next\n\nmore"}
    mc = {"response": "A. yes\n\nQuestion: more"}
    assert judged_response(ff, SplitKind.FREE_FORM, False) == ff["response"]
    assert judged_response(mc, SplitKind.MULTIPLE_CHOICE, False) == mc["response"]
    assert judged_response(ff, SplitKind.FREE_FORM, True) == "42"
    assert judged_response(mc, SplitKind.MULTIPLE_CHOICE, True) == "A. yes"
    assert judged_response(ff, SplitKind.MULTIPLE_CHOICE, True) == "42"  # the multiple-choice cut: a blank line
    assert judged_response({"response": "A\n\nB\n\n\nQuestion"}, SplitKind.FREE_FORM, True) == "A\n\nB"


def test_messages_digest_is_stable_across_versions():
    """The digest keys saved judge replies (a rerun reuses a reply only for the same
    request): the first 24 hex digits of the SHA-256 of [judge, messages] as sorted,
    non-ASCII-kept JSON. Pinned, so a saved reply stays found after an upgrade."""
    messages = [{"role": "user", "content": "Qué? [[0.5]]"}]
    assert messages_digest(messages, "gpt-4.1-mini") == "64c38756a22e908a463ada8e"
    assert messages_digest([{"content": "x", "role": "system"}], "j") == "4c420cdfc3a4b7dd2e98754f"
    assert messages_digest(messages, "gpt-4.1") != messages_digest(messages, "gpt-4.1-mini")
