"""Properties over wide input spaces (hypothesis): what must hold for any input, not just
the examples the other tests pick.

- a judge's reply, whatever its text: the free-form verdict is None or a score in
  [0, 1], the multiple-choice verdict None or one capital letter; ``[[x]]`` wins over
  ``[x]``, the first of each wins; nothing raises.
- a response file, whatever its lines (valid, torn, wrong types, huge, not UTF-8):
  the scoring reader returns lines or raises `MixEvalError` naming the file, the
  resume scan returns or raises `ResumeError` naming it; nothing else escapes. The same
  for a status file, whatever its bytes.
- intervals and agreement: every bootstrap interval holds its score.json value; a
  paired interval of a judge with itself is (0, 0); kappa is 1 for identical verdicts
  and within [-1, 1]; tau-b is symmetric, 1 against itself, within [-1, 1].
- a bundle, whatever its members (``./``, ``..``, absolute, links, duplicates) and
  bytes (not gzip, truncated): `unpack` writes only plain files inside its folder, or
  raises `MixEvalError` naming the archive.

Examples are derandomized (the same on every run, so CI is stable) and few enough for
the suite's time.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import string
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mix_eval.errors import MixEvalError, ResumeError
from mix_eval.judges.protocol import option_from_reply, score_from_reply, verdict
from mix_eval.responses import read_status, scan_response_file
from mix_eval.run_bundle import unpack
from mix_eval.scoring.agreement import cohen_kappa, kendall_tau_b
from mix_eval.scoring.inputs import read_response_file
from mix_eval.scoring.intervals import bootstrap_intervals, paired_delta_intervals
from mix_eval.scoring.scores import score_json
from mix_eval.splits import SplitKind

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ---------------------------------------------------------------- verdicts of judge replies

scores_text = st.one_of(st.integers(0, 1).map(str), st.decimals(0, 1, places=3).map(lambda d: f"{d:f}"))
noise = st.text(alphabet=st.characters(blacklist_characters="[]"), max_size=40)


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.text(alphabet="[]0123456789.ABCDEFGHabc -\n", max_size=60)))
@example("[[1.5]]")
@example("[[0.7]] [[A]] [[]] [[-0.1]] [[1e5]]")
@example("[" * 5000 + "0.5" + "]" * 5000)
def test_any_reply_gives_a_verdict_in_range_or_none(reply):
    score = score_from_reply(reply)
    assert score is None or (isinstance(score, float) and 0 <= score <= 1)
    option = option_from_reply(reply)
    assert option is None or (len(option) == 1 and option in string.ascii_uppercase)
    assert verdict(SplitKind.FREE_FORM, reply) == score and verdict(SplitKind.MULTIPLE_CHOICE, reply) == option


@SETTINGS
@given(noise, scores_text, noise, scores_text, noise)
def test_a_double_bracketed_score_wins_over_a_single_one(before, single, middle, double, after):
    reply = f"{before}[{single}]{middle}[[{double}]]{after}"
    assert score_from_reply(reply) == float(double)
    assert score_from_reply(f"{before}[{single}]{after}") == float(single)  # the fallback


@SETTINGS
@given(noise, st.sampled_from(string.ascii_uppercase), noise, st.sampled_from(string.ascii_uppercase), noise)
def test_the_first_double_bracketed_letter_wins(before, first, middle, second, after):
    assert option_from_reply(f"{before}[[{first}]]{middle}[[{second}]]{after}") == first
    assert option_from_reply(f"{before}[{first}]{after}") == first  # the fallback


@SETTINGS
@given(st.one_of(st.decimals(1, 10**6, places=3).filter(lambda d: d > 1).map(lambda d: f"{d:f}"),
                 st.sampled_from(["-0.5", "1e-3", "nan", "inf", ".5", "0x1"])))
def test_a_score_out_of_range_or_not_a_decimal_is_no_verdict(text):
    assert score_from_reply(f"The answer: [[{text}]]") is None


def test_no_reply_is_no_verdict():
    assert score_from_reply(None) is None and option_from_reply(None) is None


# ---------------------------------------------------------------- the response-file reader

FF_RECORD = {"problem_type": "free-form", "context": None, "prompt": "What is 2 + 2?", "target": ["4"],
             "benchmark_name": "GSM8k", "formated_input": "What is 2 + 2?", "id": "1", "response": "4"}
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


def valid_line(rid: int) -> bytes:
    return json.dumps({**FF_RECORD, "id": str(rid)}).encode()


@st.composite
def response_lines(draw) -> bytes:
    kind = draw(st.sampled_from(["valid", "torn", "wrong-field", "any-json", "bytes", "huge", "nested"]))
    rid = draw(st.integers(0, 50))
    if kind == "valid":
        return valid_line(rid)
    if kind == "torn":
        line = valid_line(rid)
        return line[: draw(st.integers(1, len(line) - 1))]
    if kind == "wrong-field":
        key = draw(st.sampled_from(sorted(FF_RECORD)))
        return json.dumps({**FF_RECORD, "id": str(rid), key: draw(json_values)}).encode()
    if kind == "any-json":
        return json.dumps(draw(json_values)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=60)).replace(b"\n", b" ")
    if kind == "huge":
        return json.dumps({**FF_RECORD, "id": str(rid), "response": "x" * 2_000_000}).encode()
    depth = draw(st.integers(10, 50_000))
    return b"[" * depth + b"]" * depth


@pytest.fixture(scope="module")
def response_folder():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(response_lines(), min_size=0, max_size=6), st.booleans())
def test_any_response_file_is_read_or_refused_naming_the_file(response_folder, lines, newline_at_end):
    path = response_folder / "m_close_freeform_hard.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end and lines else b""))
    try:
        records = read_response_file(path, SplitKind.FREE_FORM, warnings=[])
    except MixEvalError as e:
        assert str(path) in str(e) and "\n" not in str(e).strip()
    else:
        assert records and all(isinstance(r, dict) and isinstance(r["response"], str) for r in records)
    try:
        scan = scan_response_file(path)
    except ResumeError as e:
        assert str(path) in str(e)
    else:
        assert len(set(scan.ids)) == len(scan.ids)


@SETTINGS
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=80),
                 st.fixed_dictionaries({"args": json_values, "status": json_values}).map(lambda v: json.dumps(v).encode()),
                 st.fixed_dictionaries({"args": st.dictionaries(st.sampled_from(["model_name", "split", "backend"]),
                                                                json_values), "status": st.just({})}
                                       ).map(lambda v: json.dumps(v).encode())))
def test_any_status_file_is_read_or_refused_naming_the_file(response_folder, data):
    path = response_folder / "status_close_freeform_hard.json"
    path.write_bytes(data)
    try:
        status = read_status(path)
    except ResumeError as e:
        assert str(path) in str(e)
    else:
        assert isinstance(status["status"], dict) and isinstance(status.get("args", {}), dict)
        assert all(isinstance(v, (str, type(None))) for k, v in status.get("args", {}).items()
                   if k in ("model_name", "split", "backend"))


# ---------------------------------------------------------------- intervals and agreement

BENCHMARKS = ["GSM8k", "MATH", "BBH", "ARC", "TriviaQA"]
split_items = st.lists(st.tuples(st.sampled_from(BENCHMARKS), st.sampled_from([0.0, 0.5, 1.0, 0.25, 0.8])),
                       min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(split_items, split_items)
def test_every_interval_holds_its_score(ff, mp):
    items = {SplitKind.FREE_FORM: ff, SplitKind.MULTIPLE_CHOICE: mp}
    scores = score_json(items)
    intervals = bootstrap_intervals([ff, mp], resamples=200)
    assert set(intervals) == set(scores)
    for key, (low, high) in intervals.items():
        assert low - 1e-9 <= scores[key] <= high + 1e-9, (key, low, scores[key], high)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(split_items, split_items)
def test_a_judge_against_itself_moves_nothing(ff, mp):
    same = [[(name, value, value) for name, value in split] for split in (ff, mp)]
    assert all(interval == (0.0, 0.0) for interval in paired_delta_intervals(same, resamples=100).values())


labels = st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=60)


@SETTINGS
@given(labels)
def test_kappa_is_one_for_identical_verdicts(verdicts):
    assert cohen_kappa([(v, v) for v in verdicts]) == 1.0


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), min_size=1, max_size=60))
def test_kappa_is_symmetric_and_at_most_one(pairs):
    kappa = cohen_kappa(pairs)
    assert -1 - 1e-12 <= kappa <= 1 + 1e-12
    assert kappa == pytest.approx(cohen_kappa([(b, a) for a, b in pairs]))


orderings = st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False)),
                     min_size=2, max_size=12)


@SETTINGS
@given(orderings)
def test_tau_b_is_symmetric_and_in_range(pairs):
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    tau = kendall_tau_b(xs, ys)
    assert tau == kendall_tau_b(ys, xs)
    assert tau is None or -1 - 1e-12 <= tau <= 1 + 1e-12
    if len(set(xs)) > 1:
        assert kendall_tau_b(xs, xs) == pytest.approx(1.0)
        assert kendall_tau_b(xs, [-x for x in xs]) == pytest.approx(-1.0)
    else:
        assert kendall_tau_b(xs, xs) is None


# ---------------------------------------------------------------- the bundle reader

segments = st.sampled_from(["run", "m", "mixeval_hard", "2024-06-01", "score.json", ".", "..", "", "a:b", "x\\y"])


@st.composite
def member_names(draw) -> str:
    prefix = draw(st.sampled_from(["", "./", "/", "../", "run/"]))
    return prefix + "/".join(draw(st.lists(segments, min_size=0, max_size=4)))


@st.composite
def archives(draw) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in draw(st.lists(member_names(), min_size=0, max_size=6)):
            info = tarfile.TarInfo(name)
            kind = draw(st.sampled_from(["file", "file", "dir", "symlink", "hardlink"]))
            if kind == "file":
                data = draw(st.binary(max_size=16))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = draw(st.sampled_from(["", "/etc/passwd", "../x", "run/score.json"]))
            tar.addfile(info)
    data = buffer.getvalue()
    cut = draw(st.sampled_from(["whole", "whole", "truncated", "ungzipped", "garbage"]))
    if cut == "truncated":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if cut == "ungzipped":
        return gzip.decompress(data)
    if cut == "garbage":
        return draw(st.binary(max_size=200))
    return data


def tar_gz(*members: tuple[str, str]) -> bytes:
    """An archive of ``(name, kind)`` members: "file", "dir" or "symlink" (to /etc/passwd)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 2
                tar.addfile(info, io.BytesIO(b"{}"))
            else:
                info.type, info.linkname = (tarfile.DIRTYPE, "") if kind == "dir" else (tarfile.SYMTYPE, "/etc/passwd")
                tar.addfile(info)
    return buffer.getvalue()


@settings(max_examples=120, deadline=None, derandomize=True)
@given(archives())
@example(tar_gz((".", "dir"), ("./run", "dir"), ("./run/score.json", "file")))  # tar -czf run.tar.gz .
@example(tar_gz(("run/score.json", "file"), ("./run/score.json", "file")))
@example(tar_gz(("run/../../x", "file")))
@example(tar_gz(("run/link", "symlink")))
@example(tar_gz(("./", "file")))
def test_unpack_writes_only_plain_files_inside_or_refuses_naming_the_archive(data):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        archive, into = base / "bundle.tar.gz", base / "a" / "into"
        into.mkdir(parents=True)
        archive.write_bytes(data)
        try:
            unpack(archive, into)
        except MixEvalError as e:
            assert str(archive) in str(e)
        written = [Path(root) / name for root, dirs, files in os.walk(base) for name in files + dirs]
        outside = [p for p in written if p != archive and not p.is_relative_to(into) and p != into.parent]
        assert not outside, outside
        assert not any(p.is_symlink() for p in written)
