"""python -m mix_eval.bundle: one archive of a judged run, and its verification by rescoring."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import JUDGE_KEY, LETTERS, REPO, gold_letter, judge_reply, judged_score, make_responses, run_module
from fake_openai_server import FakeOpenAIServer

from mix_eval.compute_metrics import main as compute_main
from mix_eval.folders import status_path
from mix_eval.responses import COMPLETE, write_status

VERSION = "2024-06-01"
MODEL = "my_model"
FOLDER = f"{MODEL}/mixeval_hard/{VERSION}"
JUDGED = {"ff": "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl",
          "mp": "judge_results_mp_model_judge_gpt-3.5-turbo-0125.jsonl"}
URL_SECRET = "sk-planted-in-a-status-file"
THIS_CHECKOUT = {"PYTHONPATH": str(REPO)}  # run outside the repository, this checkout's code runs


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory) -> Path:
    """The reference's gemma MixEval-Hard responses (all 1000), judged by the loopback judge,
    with complete status files, and the litter a run leaves: journals, a lock, error logs."""
    root = tmp_path_factory.mktemp("bundle") / "gemma_run"
    vdir = make_responses(root, MODEL)
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer(reply=judge_reply) as server:
        mp.setenv("MODEL_PARSER_API", JUDGE_KEY)
        mp.delenv("OPENAI_API_TYPE", raising=False)
        mp.delenv("OPENAI_BASE_URL", raising=False)
        mp.chdir(root.parent)
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                             "--api_base_url", server.base_url, "--api_parallel_num", "16"]) == 0
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        write_status(status_path(vdir, split), {"model_name": MODEL, "split": split,
                                                "api_base_url": f"http://me:{URL_SECRET}@127.0.0.1:1/v1"},
                     batch_id=0, time_elapsed=1.0, state=COMPLETE)
    (root / "error.log").write_text("an old error\n")
    (vdir / "error.log").write_text("an old error\n")
    (vdir / "notes.txt").write_text("not part of a run\n")
    (root / "samples.html").write_text("<!doctype html><title>answers</title>\n")
    assert {".mix_eval.lock", f".journal_{Path(JUDGED['ff']).stem}.jsonl"} <= {p.name for p in vdir.iterdir()}
    return root


def bundle(root: Path, out: Path, *extra: str):
    return run_module("mix_eval.bundle", "--model_response_dir", str(root), "--out", str(out), *extra,
                      cwd=out.parent, env=THIS_CHECKOUT)


def verify(archive: Path):
    return run_module("mix_eval.bundle", "--verify", str(archive), cwd=archive.parent, env=THIS_CHECKOUT)


def files_under(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


@pytest.mark.slow
def test_bundle_holds_what_a_reader_needs_and_verifies(judged_run, tmp_path):
    out = tmp_path / "run.tar.gz"
    proc = bundle(judged_run, out)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        statuses = [tar.extractfile(f"gemma_run/{FOLDER}/status_{s}.json").read().decode()
                    for s in ("close_freeform_hard", "close_multichoice_hard")]
        assert {(m.mtime, m.uid, m.mode) for m in tar.getmembers()} == {(946684800, 0, 0o644)}
    assert names == sorted(names)
    assert set(names) == {f"gemma_run/{name}" for name in (
        "score.json", "report.html", "report.md", "samples.html",
        *(f"{FOLDER}/{name}" for name in (
            f"{MODEL}_close_freeform_hard.jsonl", f"{MODEL}_close_multichoice_hard.jsonl",
            "status_close_freeform_hard.json", "status_close_multichoice_hard.json", JUDGED["ff"], JUDGED["mp"],
            "score.json", "score_intervals.json", "judge_report.json", "run_manifest.json")))}
    for status in statuses:  # the endpoint is cut to its host: no credential leaves in a bundle
        assert URL_SECRET not in status and json.loads(status)["args"]["api_base_url"] == "http://127.0.0.1:1"

    again = tmp_path / "again.tar.gz"
    assert bundle(judged_run, again).returncode == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic

    before = files_under(tmp_path), files_under(judged_run)
    proc = verify(out)
    assert proc.returncode == 0, proc.stderr
    assert f"{FOLDER}/score.json: reproduced from {JUDGED['ff']} and {JUDGED['mp']}" in proc.stdout
    assert "score.json (the run's): reproduced (mixeval_hard 2024-06-01, 1 model(s))" in proc.stdout
    assert "check_eval_complete: 1 folder(s) complete" in proc.stdout
    assert (files_under(tmp_path), files_under(judged_run)) == before  # verifying wrote nothing here


def repack(archive: Path, out: Path, edit) -> Path:
    """``archive`` with ``edit(name, bytes) -> bytes`` applied to each member."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = edit(member.name, src.extractfile(member).read())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


def edit_line(data: bytes, pick, change) -> bytes:
    """The judged file with the first line ``pick`` accepts changed by ``change``."""
    lines = data.decode().splitlines()
    n = next(i for i, text in enumerate(lines) if pick(json.loads(text)))
    line = json.loads(lines[n])
    change(line)
    lines[n] = json.dumps(line)
    return ("\n".join(lines) + "\n").encode()


def make_wrong_option(line) -> None:
    line["judge_option"] = next(x for x in LETTERS[:len(line["options"])] if x != gold_letter(line))


def make_wrong_score(line) -> None:
    line["judge_score"] = 0.0


@pytest.mark.slow
@pytest.mark.parametrize("tag, pick, change", [
    ("mp", lambda line: judged_score(line) == 1.0, make_wrong_option),
    ("ff", lambda line: line["judge_score"] == 1.0, make_wrong_score),
])
def test_an_edited_judged_line_fails_naming_the_file_and_score(judged_run, tmp_path, tag, pick, change):
    good = tmp_path / "run.tar.gz"
    assert bundle(judged_run, good).returncode == 0
    bad = repack(good, tmp_path / "edited.tar.gz",
                 lambda name, data: edit_line(data, pick, change) if name.endswith(JUDGED[tag]) else data)
    proc = verify(bad)
    assert proc.returncode == 2
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in proc.stderr
    bundled = json.loads((judged_run / MODEL / "mixeval_hard" / VERSION / "score.json").read_text())
    assert f"{bad}: {FOLDER}/score.json: overall is {bundled['overall']!r} in the bundle, but its judged files" \
        in message
    assert JUDGED[tag] in message


@pytest.mark.slow
def test_an_edit_that_keeps_the_scores_is_caught_by_the_judge_reply(judged_run, tmp_path):
    good = tmp_path / "run.tar.gz"
    assert bundle(judged_run, good).returncode == 0

    def wrong_to_other_wrong(line) -> None:  # still wrong: no score moves
        gold = gold_letter(line)
        line["judge_option"] = next(x for x in LETTERS[:len(line["options"])] if x not in (gold, line["judge_option"]))

    bad = repack(good, tmp_path / "edited.tar.gz", lambda name, data: edit_line(
        data, lambda line: judged_score(line) == 0.0 and len(line["options"]) > 2, wrong_to_other_wrong)
        if name.endswith(JUDGED["mp"]) else data)
    proc = verify(bad)
    assert proc.returncode == 2
    assert f"{FOLDER}/{JUDGED['mp']}, line " in proc.stderr and "judge_option is" in proc.stderr
    assert "but its judge_response says" in proc.stderr


@pytest.mark.slow
def test_an_edited_run_score_fails(judged_run, tmp_path):
    good = tmp_path / "run.tar.gz"
    assert bundle(judged_run, good).returncode == 0

    def edit(name: str, data: bytes) -> bytes:
        if name != "gemma_run/score.json":
            return data
        run = json.loads(data)
        run[MODEL]["overall"] += 0.01
        return json.dumps(run).encode()

    proc = verify(repack(good, tmp_path / "edited.tar.gz", edit))
    assert proc.returncode == 2
    assert f"score.json (the run's): {MODEL}'s overall is" in proc.stderr


@pytest.mark.slow
def test_an_incomplete_run_fails_check_eval_complete(tmp_path, clean_env):
    root = tmp_path / "partial"
    make_responses(root, MODEL, "mixeval_hard", 30)  # responses made elsewhere: no status file, 30 of 500
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    out = tmp_path / "partial.tar.gz"
    assert bundle(root, out, "--benchmark", "mixeval_hard").returncode == 0
    proc = verify(out)
    assert proc.returncode == 2
    assert f"Directory {FOLDER} has issues" in proc.stderr and "[Status complete: False]" in proc.stderr


@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/absolute.txt", "link"])
def test_unsafe_members_are_refused(tmp_path, member):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    (tmp_path / "inside").mkdir()
    moved = shutil.move(str(archive), tmp_path / "inside" / "evil.tar.gz")
    proc = verify(Path(moved))
    assert proc.returncode == 2 and "refused" in proc.stderr
    assert not (tmp_path / "escaped.txt").exists()


def test_bundle_of_nothing_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = bundle(tmp_path / "empty", tmp_path / "x.tar.gz")
    assert proc.returncode == 2 and "no model folder" in proc.stderr and not (tmp_path / "x.tar.gz").exists()


# ---------------------------------------------------------------- the verification's rules, one by one (in-process)

import logging  # noqa: E402
import os  # noqa: E402

from conftest import make_responses as _make_responses  # noqa: E402

from mix_eval.errors import MixEvalError  # noqa: E402
from mix_eval.run_bundle import (  # noqa: E402
    BundleMismatch,
    Verification,
    _bundle_root,
    _check_complete,
    _check_folder,
    _check_run_scores,
    _check_verdicts,
    _differences,
    _judge_settings,
    _judged_choices,
    _rescore,
    _safe_child_dirs,
    _scores,
    _shown,
    check,
    model_folders,
    public_status,
    verify_bundle,
    write_bundle,
)
from mix_eval.settings import JudgeSettings, ReportSettings  # noqa: E402
from mix_eval.splits import SplitKind  # noqa: E402

FF_KIND, MP_KIND = SplitKind.FREE_FORM, SplitKind.MULTIPLE_CHOICE
SMALL = "m"  # the small run's model
SMALL_DIR = f"{SMALL}/mixeval_hard/{VERSION}"


def judge_by_hand(vdir: Path, model: str, judge: str = "gpt-3.5-turbo-0125") -> dict[str, Path]:
    """Model-judged files written beside the response files, with no judge: every even line right,
    every odd line wrong, each verdict as its reply says it."""
    made = {}
    for tag, split in (("ff", "close_freeform_hard"), ("mp", "close_multichoice_hard")):
        lines = [json.loads(text) for text in (vdir / f"{model}_{split}.jsonl").read_text().splitlines()]
        out = []
        for i, line in enumerate(lines):
            if tag == "mp":
                right = line["target"][0]
                letter = LETTERS[right if i % 2 == 0 else (right + 1) % len(line["options"])]
                out.append({**line, "judge_response": f"The option chosen by the model: [[{letter}]]",
                            "judge_option": letter})
            else:
                score = 1.0 if i % 2 == 0 else 0.0
                out.append({**line, "judge_response": f"The correctness score: [[{score}]]", "judge_score": score})
        made[tag] = vdir / f"judge_results_{tag}_model_judge_{judge}.jsonl"
        made[tag].write_text("".join(json.dumps(x) + "\n" for x in out))
    return made


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """Six items of each split, judged by hand and scored from the judged files (no server, no status)."""
    root = tmp_path_factory.mktemp("small") / "run"
    vdir = _make_responses(root, SMALL, "mixeval_hard", 6)
    judge_by_hand(vdir, SMALL)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root.parent)
        assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                             "--compute_score_from_judged_file"]) == 0
    return root


def copy_run(small_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the small run to edit, and its model folder."""
    root = tmp_path / "run"
    shutil.copytree(small_run, root)
    return root, root / SMALL_DIR


def small_scores(small_run: Path) -> dict:
    return json.loads((small_run / SMALL_DIR / "score.json").read_text())


def test_public_status_cuts_each_endpoint_to_its_host_and_keeps_what_needs_no_cut(tmp_path):
    """A status file's endpoints lose user, key, path and query; a file with nothing to cut keeps its bytes."""
    path = tmp_path / "status_close_freeform.json"
    status = {"args": {"model_name": "m", "api_base_url": "http://me:sk-1@127.0.0.1:8000/v1?key=2",
                       "model_base_url": "me:sk-3@example.org:99/v1", "split": "close_freeform"},
              "status": {"batch_id": 0, "time_elapsed": 1.0, "status": "complete"}}
    path.write_text(json.dumps(status))
    cut = {**status, "args": {**status["args"], "api_base_url": "http://127.0.0.1:8000",
                              "model_base_url": "example.org:99"}}
    assert public_status(path) == json.dumps(cut, indent=4).encode("utf-8")
    unchanged = [
        '{"args": {"api_base_url": "https://example.org", "model_base_url": "example.org:99"}, "status": {}}',
        '{"args": {"api_base_url": "", "model_base_url": null}, "status": {}}',
        '{"args": {"api_base_url": 5}, "status": {}}',
        '{"args": ["http://me:sk-1@h/v1"], "status": {}}',
        '{"status": {}, "api_base_url": "http://me:sk-1@h/v1"}',
        '[1, 2]',
        'not json at all',
    ]
    for text in unchanged:
        path.write_text(text)
        assert public_status(path) == text.encode(), text
    path.write_text('{"args": {"api_base_url": "http://me:sk-1@/v1"}}')  # no host to keep: nothing is kept
    assert public_status(path) == json.dumps({"args": {"api_base_url": None}}, indent=4).encode()


def test_written_members_are_plain_files_of_no_owner_at_a_fixed_time(small_run, tmp_path):
    """Every member: mode 644, uid and gid 0, no owner names, mtime 2000-01-01, the size of its data."""
    bundle_made = write_bundle(ReportSettings(model_response_dir=str(small_run)), tmp_path / "b.tar.gz")
    with tarfile.open(bundle_made.path) as tar:
        members = tar.getmembers()
        assert {(m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime, m.type) for m in members} == {
            (0o644, 0, 0, "", "", 946684800, tarfile.REGTYPE)}
        for m in members:
            assert m.size == len(tar.extractfile(m).read())
    assert bundle_made.folders == [SMALL_DIR] and bundle_made.files == len(members)


def test_model_folders_and_child_folders_skip_files_and_dot_folders(tmp_path):
    """Only folders not starting with a dot are model folders; a missing folder has none."""
    root = tmp_path / "run"
    for d in ("b/mixeval/v1", "a/mixeval_hard/v2", ".hidden/mixeval/v1", "a/mixeval_hard/.old"):
        (root / d).mkdir(parents=True)
    (root / "notes").write_text("a file, not a model")
    (root / "a" / "mixeval_hard" / "v3").write_text("a file, not a version")
    assert _safe_child_dirs(root) == [root / "a", root / "b"]
    assert _safe_child_dirs(tmp_path / "absent") == []
    assert model_folders(ReportSettings(model_response_dir=str(root))) == [
        ("a", "mixeval_hard", "v2", root / "a" / "mixeval_hard" / "v2"),
        ("b", "mixeval", "v1", root / "b" / "mixeval" / "v1")]


def test_the_runs_folder_is_the_one_top_folder_unless_the_top_holds_model_folders(tmp_path):
    """``run/m/mixeval/...`` is read from ``run``; a repack from inside (``m/mixeval/...``) from the top."""
    packed = tmp_path / "packed"
    (packed / "run" / "m" / "mixeval_hard" / "v").mkdir(parents=True)
    assert _bundle_root(packed) == packed / "run"
    repacked = tmp_path / "repacked"
    (repacked / "m" / "mixeval_hard" / "v").mkdir(parents=True)
    assert _bundle_root(repacked) == repacked
    two = tmp_path / "two"
    (two / "run" / "m" / "mixeval" / "v").mkdir(parents=True)
    (two / "score.json").write_text("{}")
    assert _bundle_root(two) == two


def test_scores_must_be_a_json_object(tmp_path):
    """score.json that is not JSON, or not an object, is named with what is wrong."""
    path = tmp_path / "score.json"
    path.write_text('{"overall": 0.5}')
    assert _scores(path) == {"overall": 0.5}
    path.write_text("[0.5]")
    with pytest.raises(MixEvalError) as excinfo:
        _scores(path)
    assert str(excinfo.value) == "score.json is not a JSON object"
    path.write_text("{0.5")
    with pytest.raises(MixEvalError) as excinfo:
        _scores(path)
    assert str(excinfo.value).startswith("score.json is not JSON: ")


def test_differences_hold_a_tolerance_of_1e_9_and_name_keys_on_either_side():
    """Numbers within 1e-9 (absolute, whatever their size) agree; a bool, text or a missing side never does;
    the bundled file's keys come first, then those only rescoring found."""
    bundled = {"a": 0.5, "b": 0.5, "c": 1000.0, "d": 2, "e": True, "f": "0.5", "g": 0.25, "h": 0.5}
    found = {"z": 0.1, "a": 0.5 + 0.9e-9, "b": 0.5 + 2e-9, "c": 1000.0 + 5e-7, "d": 2.0, "e": 1, "f": 0.5,
             "h": 0.9}
    assert _differences(bundled, found) == [
        ("b", 0.5, 0.5 + 2e-9), ("c", 1000.0, 1000.0 + 5e-7), ("e", True, 1), ("f", "0.5", 0.5), ("g", 0.25, None),
        ("h", 0.5, 0.9), ("z", None, 0.1)]
    assert _differences({"a": 0.5}, {"a": 0.5}) == []


def test_a_score_is_shown_without_float_noise():
    """Floats to 10 significant digits, anything else as Python writes it, a missing one as absent."""
    assert [_shown(v) for v in (None, 0.42000000000000004, 1 / 3, 1, "x", True)] == [
        "absent", "0.42", "0.3333333333", "1", "'x'", "True"]


def test_judged_choices_pair_every_judged_file_those_the_manifest_names_first(tmp_path):
    """Every ff file with every mp file; the manifest's own first, the others in name order."""
    names = {"ff": ["judge_results_ff_model_judge_a.jsonl", "judge_results_ff_model_judge_b.jsonl",
                    "judge_results_ff_rule.jsonl"],
             "mp": ["judge_results_mp_model_judge_a.jsonl", "judge_results_mp_rule.jsonl"]}
    for name in names["ff"] + names["mp"]:
        (tmp_path / name).write_text("")
    ff, mp = names["ff"], names["mp"]
    in_name_order = [{FF_KIND: f, MP_KIND: p} for f in ff for p in mp]
    assert _judged_choices(tmp_path) == in_name_order
    manifest = tmp_path / "run_manifest.json"
    manifest.write_text(json.dumps({"judges": {"free_form": {"judged_file": ff[2]},
                                               "multiple_choice": {"judged_file": mp[1]}}}))
    assert _judged_choices(tmp_path) == [{FF_KIND: f, MP_KIND: p}
                                         for f in (ff[2], ff[0], ff[1]) for p in (mp[1], mp[0])]
    manifest.write_text(json.dumps({"judges": {"free_form": {"judged_file": ff[1]},
                                               "multiple_choice": {"judged_file": "judge_results_mp_gone.jsonl"}}}))
    assert _judged_choices(tmp_path) == [{FF_KIND: f, MP_KIND: p} for f in (ff[1], ff[0], ff[2]) for p in mp]
    for odd in ({"judges": ["free_form"]}, {"judges": {"free_form": ff[2]}}, {"judges": None}):
        manifest.write_text(json.dumps(odd))
        assert _judged_choices(tmp_path) == in_name_order
    for name in mp:
        (tmp_path / name).unlink()
    assert _judged_choices(tmp_path) == []


def test_judge_settings_follow_the_judged_files_names():
    """The parser and judge each judged file's name says, scored from the judged files."""
    assert _judge_settings({FF_KIND: "judge_results_ff_model_judge_gpt-4.jsonl",
                            MP_KIND: "judge_results_mp_rule.jsonl"}) == JudgeSettings(
        compute_score_from_judged_file=True, free_form_parser="model", freeform_judge="gpt-4",
        multi_choice_parser="rule")
    assert _judge_settings({FF_KIND: "judge_results_ff_rule.jsonl",
                            MP_KIND: "judge_results_mp_model_judge_j2.jsonl"}) == JudgeSettings(
        compute_score_from_judged_file=True, free_form_parser="rule", multi_choice_parser="model",
        multichoice_judge="j2")


def test_rescoring_a_copy_gives_the_folders_scores_quietly(small_run, tmp_path, capsys, caplog):
    """The folder's score.json numbers, from a copy under the work folder (its model only), with nothing
    printed or logged."""
    capsys.readouterr()
    caplog.set_level(logging.INFO, logger="mix_eval")
    vdir = small_run / SMALL_DIR
    files = {FF_KIND: "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl",
             MP_KIND: "judge_results_mp_model_judge_gpt-3.5-turbo-0125.jsonl"}
    other = tmp_path / "work" / "other" / "mixeval_hard" / VERSION  # another model's folder: left alone
    shutil.copytree(vdir, other)
    (other / "score.json").unlink()
    found = _rescore(vdir, SMALL, "mixeval_hard", VERSION, files, tmp_path / "work")
    assert found == small_scores(small_run)
    assert not (other / "score.json").exists()
    assert (tmp_path / "work" / SMALL_DIR / "score.json").is_file()
    assert capsys.readouterr() == ("", "")
    assert [r for r in caplog.records if r.levelno < logging.WARNING] == []


def test_check_folder_reproduces_or_names_the_first_score_that_differs(small_run, tmp_path):
    """Reproduced: one line naming both judged files, and the rescored numbers kept; else one problem naming
    the first differing score, both values and how many more differ."""
    root, vdir = copy_run(small_run, tmp_path)
    scores = small_scores(small_run)
    names = f"{JUDGED['ff']} and {JUDGED['mp']}"
    where = f"{SMALL_DIR}/score.json"

    result, rescored = Verification(tmp_path / "a.tar.gz"), {}
    _check_folder(result, root, tmp_path / "w1", SMALL, "mixeval_hard", VERSION, rescored)
    assert (result.lines, result.problems) == ([f"{where}: reproduced from {names}"], [])
    assert rescored == {(SMALL, "mixeval_hard", VERSION): scores}

    keys = list(scores)
    for n, (changed, more) in enumerate((
            ({keys[1]: 0.125}, ""), ({keys[0]: 0.25, keys[2]: "x"}, " (and 1 other score(s) differ)"),
            ({keys[0]: 0.25, keys[1]: 0.125, keys[2]: None}, " (and 2 other score(s) differ)"))):
        (vdir / "score.json").write_text(json.dumps({**scores, **changed}))
        result, rescored = Verification(tmp_path / "a.tar.gz"), {}
        _check_folder(result, root, tmp_path / f"x{n}", SMALL, "mixeval_hard", VERSION, rescored)
        first = next(iter(changed))
        assert (result.lines, result.problems, rescored) == ([], [
            f"{where}: {first} is {_shown(changed[first])} in the bundle, but its judged files ({names}) give "
            f"{_shown(scores[first])}{more}"], {})


def test_check_folder_tries_each_pairing_and_reports_the_first_failure(small_run, tmp_path):
    """A judged file that cannot be scored, or scores otherwise, does not hide a later pairing that
    reproduces the scores; when none does, the first pairing's problem is the one told, without the work
    folder in its paths."""
    root, vdir = copy_run(small_run, tmp_path)
    where = f"{SMALL_DIR}/score.json"
    broken = vdir / "judge_results_ff_model_judge_a-broken.jsonl"
    broken.write_text('{"id": "1"}\nnot json\n')
    manifest = json.loads((vdir / "run_manifest.json").read_text())
    manifest["judges"]["free_form"]["judged_file"] = broken.name
    (vdir / "run_manifest.json").write_text(json.dumps(manifest))
    result, rescored = Verification(tmp_path / "a.tar.gz"), {}
    _check_folder(result, root, tmp_path / "w1", SMALL, "mixeval_hard", VERSION, rescored)
    assert (result.lines, result.problems) == ([f"{where}: reproduced from {JUDGED['ff']} and {JUDGED['mp']}"], [])

    judge_by_hand(vdir, SMALL, judge="z-other")  # scores as the others do, but its numbers are changed below
    (vdir / JUDGED["ff"]).unlink()
    (vdir / "score.json").write_text(json.dumps({**small_scores(small_run), "overall": 0.75}))
    result = Verification(tmp_path / "a.tar.gz")
    _check_folder(result, root, tmp_path / "w2", SMALL, "mixeval_hard", VERSION, {})
    assert result.lines == [] and len(result.problems) == 1
    problem = result.problems[0]
    assert problem.startswith(f"{where}: its judged files cannot be scored: {SMALL_DIR}/{broken.name}, line 1")
    assert str(tmp_path) not in problem

    broken.unlink()  # no failure to score: the first pairing's difference is told
    result = Verification(tmp_path / "a.tar.gz")
    _check_folder(result, root, tmp_path / "w3", SMALL, "mixeval_hard", VERSION, {})
    assert result.problems == [
        f"{where}: overall is 0.75 in the bundle, but its judged files (judge_results_ff_model_judge_z-other.jsonl "
        f"and {JUDGED['mp']}) give 0.5"]


def test_check_folder_names_a_bad_score_file_or_missing_judged_files(small_run, tmp_path):
    """score.json that cannot be read, or a folder without a judged file of each split, is one problem."""
    root, vdir = copy_run(small_run, tmp_path)
    where = f"{SMALL_DIR}/score.json"
    (vdir / "score.json").write_text("[]")
    result = Verification(tmp_path / "a.tar.gz")
    _check_folder(result, root, tmp_path / "w", SMALL, "mixeval_hard", VERSION, {})
    assert (result.lines, result.problems) == ([], [f"{where}: score.json is not a JSON object"])
    shutil.copy(small_run / SMALL_DIR / "score.json", vdir / "score.json")
    (vdir / JUDGED["mp"]).unlink()
    result = Verification(tmp_path / "a.tar.gz")
    _check_folder(result, root, tmp_path / "w", SMALL, "mixeval_hard", VERSION, {})
    assert (result.lines, result.problems) == ([], [
        f"{where}: the folder lacks a judged file of each split, so its scores cannot be checked"])


def _edit_judged(path: Path, edits: dict) -> list[dict]:
    """The judged file with line n (from 1) replaced by ``edits[n](line)`` (a dict, or text as it is)."""
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    out = [edits[n](line) if n in edits else line for n, line in enumerate(lines, 1)]
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in out))
    return lines


def test_check_verdicts_names_the_first_line_whose_verdict_is_not_its_judges_reply(small_run, tmp_path):
    """Per model-judged file, the first line whose judge_option or judge_score is not what its reply says;
    lines that are not judged lines, or whose reply holds no verdict, are passed over; rule-parsed files too."""
    root, vdir = copy_run(small_run, tmp_path)
    result = Verification(tmp_path / "a.tar.gz")
    _check_verdicts(result, root, SMALL, "mixeval_hard", VERSION)
    assert (result.lines, result.problems) == ([], [])

    def other_letter(line):
        return {**line, "judge_option": "A" if line["judge_option"] != "A" else "B"}

    mp = _edit_judged(vdir / JUDGED["mp"], {
        1: lambda line: "not json", 2: lambda line: "[1, 2]",
        3: lambda line: {**other_letter(line), "judge_response": "no verdict here"},
        4: other_letter, 6: other_letter})
    ff = _edit_judged(vdir / JUDGED["ff"], {2: lambda line: {**line, "judge_score": 1.0}})
    (vdir / "judge_results_ff_rule.jsonl").write_text(json.dumps({**ff[0], "judge_score": 0.5}) + "\n")
    result = Verification(tmp_path / "a.tar.gz")
    _check_verdicts(result, root, SMALL, "mixeval_hard", VERSION)
    said = mp[3]["judge_option"]
    assert result.problems == [
        f"{SMALL_DIR}/{JUDGED['ff']}, line 2 (id {ff[1]['id']!r}): judge_score is 1.0, but its judge_response says "
        "0.0",
        f"{SMALL_DIR}/{JUDGED['mp']}, line 4 (id {mp[3]['id']!r}): judge_option is "
        f"{other_letter(mp[3])['judge_option']!r}, but its judge_response says {said!r}"]
    assert result.lines == []


def _run_scores(root: Path, run: object, rescored: dict) -> Verification:
    (root / "score.json").write_text(run if isinstance(run, str) else json.dumps(run))
    result = Verification(root / "a.tar.gz")
    _check_run_scores(result, root, rescored)
    return result


def test_check_run_scores_finds_the_benchmark_and_version_the_run_scored(tmp_path):
    """The run's score.json is checked against each rescored benchmark and version in turn: the first that
    reproduces it is told; else the one with fewest wrong models, the first of a tie, its first wrong model."""
    result = Verification(tmp_path / "a.tar.gz")
    _check_run_scores(result, tmp_path, {("m", "mixeval", "v"): {"overall": 0.5}})
    assert (result.lines, result.problems) == ([], [])  # no run's score.json: nothing to check

    rescored = {("m", "mixeval", "v1"): {"overall": 0.1}, ("m", "mixeval_hard", "v2"): {"overall": 0.5, "A": 1.0},
                ("n", "mixeval_hard", "v2"): {"overall": 0.25}, ("x", "mixeval", "v0"): {"overall": 0.3}}
    result = _run_scores(tmp_path, {"m": {"overall": 0.5, "A": 1.0}, "n": {"overall": 0.25}}, rescored)
    assert (result.lines, result.problems) == (
        ["score.json (the run's): reproduced (mixeval_hard v2, 2 model(s))"], [])
    result = _run_scores(tmp_path, {"m": {"overall": 0.5, "A": 1.0}, "gone": {"overall": 0.2}, "y": {}}, rescored)
    assert (result.lines, result.problems) == (
        ["score.json (the run's): reproduced (mixeval_hard v2, 1 model(s); 2 model(s) it names are not in the "
         "bundle)"], [])

    # mixeval v1: m wrong (1 of 1); mixeval_hard v2: m and n wrong (2 of 2): the fewest wrong is told
    result = _run_scores(tmp_path, {"m": {"overall": 0.75, "A": 1.0}, "n": 0.25}, rescored)
    assert (result.lines, result.problems) == ([], [
        "score.json (the run's): m's overall is 0.75, but the judged files of m/mixeval/v1 give 0.1"])
    # a tie (one wrong model in each): the first benchmark and version's
    result = _run_scores(tmp_path, {"m": {"overall": 0.1, "A": 0.5}, "n": {"overall": 0.25}}, rescored)
    assert result.problems == [
        "score.json (the run's): m's A is 0.5, but the judged files of m/mixeval/v1 give absent"]
    tie = {("m", "mixeval", "v1"): {"overall": 0.1}, ("m", "mixeval_hard", "v2"): {"overall": 0.2}}
    result = _run_scores(tmp_path, {"m": {"overall": 0.3}}, tie)
    assert result.problems == ["score.json (the run's): m's overall is 0.3, but the judged files of m/mixeval/v1 "
                               "give 0.1"]
    result = _run_scores(tmp_path, {"m": 0.3}, {("m", "mixeval", "v1"): {"overall": 0.1}})
    assert result.problems == ["score.json (the run's): m's overall is absent, but the judged files of "
                               "m/mixeval/v1 give 0.1"]

    result = _run_scores(tmp_path, {"other": {"overall": 0.5}}, rescored)
    assert (result.lines, result.problems) == (
        ["score.json (the run's): names no model folder of the bundle; not checked"], [])
    result = _run_scores(tmp_path, "{not json", rescored)
    assert result.lines == [] and len(result.problems) == 1
    assert result.problems[0].startswith("score.json (the run's): score.json is not JSON: ")


def test_check_complete_tells_each_folder_once_without_the_unpacked_path(tmp_path):
    """check_eval_complete's problems, the same words of a folder's two splits told once, with paths relative
    to the run; a complete run is one line counting its folders."""
    root = tmp_path / "run"
    for model in ("a", "b"):
        vdir = _make_responses(root, model)
        for split in ("close_freeform_hard", "close_multichoice_hard"):
            write_status(status_path(vdir, split), {"model_name": model, "split": split}, batch_id=0,
                         time_elapsed=1.0, state=COMPLETE)
    folders = [("a", "mixeval_hard", VERSION), ("b", "mixeval_hard", VERSION)]
    result = Verification(tmp_path / "x.tar.gz")
    _check_complete(result, root, folders)
    assert (result.lines, result.problems) == (["check_eval_complete: 2 folder(s) complete"], [])
    _make_responses(root, "b", n=30)  # b's both splits cut to 30 lines
    result = Verification(tmp_path / "x.tar.gz")
    _check_complete(result, root, folders)
    assert (result.lines, result.problems) == ([], [
        f"Directory b/mixeval_hard/{VERSION} has issues. Please check the log file inside. The check result: "
        "[Status complete: True], [Responses file complete: False], [No error in log file: True]. (30 responses, "
        "500 expected)"])
    # the sizes are the version's own: MixEval 2024-08-11 has 1995 multiple-choice items, not the default 2000
    vdir = root / "c" / "mixeval" / "2024-08-11"
    vdir.mkdir(parents=True)
    for split, size in (("close_freeform", 2000), ("close_multichoice", 1995)):
        (vdir / f"c_{split}.jsonl").write_text("".join(f'{{"id": "{i}", "response": "x"}}\n' for i in range(size)))
        write_status(status_path(vdir, split), {"model_name": "c", "split": split}, batch_id=0, time_elapsed=1.0,
                     state=COMPLETE)
    result = Verification(tmp_path / "x.tar.gz")
    _check_complete(result, root, [("c", "mixeval", "2024-08-11")])
    assert (result.lines, result.problems) == (["check_eval_complete: 1 folder(s) complete"], [])
    result = Verification(tmp_path / "x.tar.gz", problems=["an earlier problem"])
    _check_complete(result, root, folders[:1])
    assert (result.lines, result.problems) == ([], ["an earlier problem"])
    result = Verification(tmp_path / "x.tar.gz")
    _check_complete(result, root, [])
    assert (result.lines, result.problems) == ([], [])


def test_check_raises_on_the_first_problem_counting_the_others(tmp_path):
    """No problem: the verification itself; else BundleMismatch with the archive, the first problem and the
    count of the rest."""
    archive = tmp_path / "run.tar.gz"
    fine = Verification(archive, lines=["ok"])
    assert check(fine) is fine
    with pytest.raises(BundleMismatch) as excinfo:
        check(Verification(archive, problems=["first"]))
    assert str(excinfo.value) == f"{archive}: first"
    with pytest.raises(BundleMismatch) as excinfo:
        check(Verification(archive, problems=["first", "second", "third"]))
    assert str(excinfo.value) == f"{archive}: first (and 2 more problem(s))"


def test_a_small_bundle_verifies_in_process(small_run, tmp_path):
    """A bundle of the small run: its folder and the run's score.json reproduced, and only the completeness
    check (six items, no status file) fails."""
    out = write_bundle(ReportSettings(model_response_dir=str(small_run)), tmp_path / "b.tar.gz").path
    result = verify_bundle(out)
    assert result.archive == out
    assert result.lines == [f"{SMALL_DIR}/score.json: reproduced from {JUDGED['ff']} and {JUDGED['mp']}",
                            f"score.json (the run's): reproduced (mixeval_hard {VERSION}, 1 model(s))"]
    assert result.problems == [
        f"Directory {SMALL_DIR} has issues. Please check the log file inside. The check result: "
        "[Status complete: False], [Responses file complete: False], [No error in log file: True]. (6 responses, "
        "500 expected)"]


def test_check_verdicts_reads_judged_files_as_utf8_whatever_the_locale(small_run, tmp_path):
    """A judge's reply in any language is read as UTF-8 (as mix_eval writes it), not in the locale's encoding."""
    import io as io_module

    root, vdir = copy_run(small_run, tmp_path)
    mp = _edit_judged(vdir / JUDGED["mp"], {1: lambda line: {
        **line, "judge_option": "A" if line["judge_option"] != "A" else "B",
        "judge_response": line["judge_response"].replace("The option chosen", "L'option choisie (é)")}})
    path = vdir / JUDGED["mp"]
    path.write_bytes(path.read_bytes().replace(b"\\u00e9", "é".encode("utf-8")))  # as a judge may write it
    result = Verification(tmp_path / "a.tar.gz")
    with pytest.MonkeyPatch.context() as patch:  # an ASCII locale
        patch.setattr(io_module, "text_encoding", lambda encoding, stacklevel=2: encoding or "ascii")
        _check_verdicts(result, root, SMALL, "mixeval_hard", VERSION)
    wrong = "A" if mp[0]["judge_option"] != "A" else "B"
    assert result.problems == [f"{SMALL_DIR}/{JUDGED['mp']}, line 1 (id {mp[0]['id']!r}): judge_option is "
                               f"{wrong!r}, but its judge_response says {mp[0]['judge_option']!r}"]


def _archive(path: Path, *members: tuple[str, str]) -> Path:
    """A .tar.gz of ``(name, kind)`` members: "file", "dir", "symlink" or "fifo"."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 2
                tar.addfile(info, io.BytesIO(b"{}"))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            info.linkname = "/etc/passwd" if kind == "symlink" else ""
            tar.addfile(info)
    return path


def test_unpack_refuses_each_unsafe_member_with_its_own_words(tmp_path):
    """Each refusal names the archive, the member and why, before anything is written."""
    from mix_eval.run_bundle import unpack

    cases = [
        ((("../x", "file"),), "member '../x' points outside the archive's folder; refused"),
        ((("/abs", "file"),), "member '/abs' points outside the archive's folder; refused"),
        ((("\\\\server\\x", "file"),), "member '\\\\\\\\server\\\\x' points outside the archive's folder; refused"),
        ((("run\\x", "file"),), "member 'run\\\\x' points outside the archive's folder; refused"),
        ((("c:/x", "file"),), "member 'c:/x' points outside the archive's folder; refused"),
        ((("run/a:b", "file"), ("run/l", "symlink")),
         "member 'run/l' is not a plain file or folder (a link or a device); refused"),
        ((("run/p", "fifo"),), "member 'run/p' is not a plain file or folder (a link or a device); refused"),
        ((("./", "file"),), "member './' is a file named as the archive's folder; refused"),
        ((("run/a", "file"), ("./run/a", "file")), "member './run/a' appears twice; refused"),
        ((("run/a", "file"), ("run/a/b", "file")), "member 'run/a' is a file and a folder; refused"),
        ((("run/a", "dir"), ("run/a", "file")), "member 'run/a' is a file and a folder; refused"),
    ]
    for n, (members, says) in enumerate(cases):
        archive = _archive(tmp_path / f"{n}.tar.gz", *members)
        into = tmp_path / f"into{n}"
        into.mkdir()
        with pytest.raises(MixEvalError) as excinfo:
            unpack(archive, into)
        assert str(excinfo.value) == f"{archive}: {says}"
        assert list(into.iterdir()) == []
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(MixEvalError) as excinfo:
        unpack(garbage, tmp_path)
    assert str(excinfo.value) == f"{garbage}: not a bundle: it cannot be read as a .tar.gz archive (ReadError)"
    fine = _archive(tmp_path / "fine.tar.gz", (".", "dir"), ("./run", "dir"), ("./run/m/score.json", "file"),
                    ("run2/a:b", "file"), ("run3/x/y", "dir"))
    unpack(fine, tmp_path / "out")
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == [
        "run", "run/m", "run/m/score.json", "run2", "run2/a:b", "run3", "run3/x", "run3/x/y"]
    assert (tmp_path / "out" / "run" / "m" / "score.json").read_bytes() == b"{}"


def test_verify_refuses_a_missing_archive_and_one_without_model_folders(tmp_path):
    """No such file, or an archive with no <model>/<benchmark>/<version>/ folder: one message naming it."""
    with pytest.raises(MixEvalError) as excinfo:
        verify_bundle(tmp_path / "absent.tar.gz")
    assert str(excinfo.value) == f"{tmp_path / 'absent.tar.gz'}: no such file"
    empty = _archive(tmp_path / "empty.tar.gz", ("run/score.json", "file"), ("run/m/other/v/x", "file"))
    with pytest.raises(MixEvalError) as excinfo:
        verify_bundle(empty)
    assert str(excinfo.value) == f"{empty}: holds no model folder (<model>/<benchmark>/<version>/)"


def test_a_repacked_bundle_verifies_like_the_original(small_run, tmp_path):
    """A bundle unpacked and packed again from inside (members named ./...) gives the same verdict."""
    out = write_bundle(ReportSettings(model_response_dir=str(small_run)), tmp_path / "b.tar.gz").path
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    repacked = tmp_path / "repacked.tar.gz"
    with tarfile.open(repacked, "w:gz") as tar:
        tar.add(tmp_path / "x" / "run", arcname=".")
    first, again = verify_bundle(out), verify_bundle(repacked)
    assert (again.lines, again.problems) == (first.lines, first.problems) and first.lines


def test_write_bundle_packs_only_the_runs_files_and_refuses_a_bad_out(small_run, tmp_path):
    """The run's files and each folder's, under the run's folder name, sorted; --out a folder, or with a
    file where its folder should be, is refused in words; nothing matching is refused."""
    root, vdir = copy_run(small_run, tmp_path)
    root = root.rename(tmp_path / "my_run")  # the archive's top folder is named as the run's
    vdir = root / SMALL_DIR
    (vdir / "notes.txt").write_text("not part of a run")
    (root / "error.log").write_text("an old error")
    write_status(status_path(vdir, "close_freeform_hard"), {"model_name": SMALL, "api_base_url": "http://u:k@h:1/v"},
                 batch_id=0, time_elapsed=1.0, state=COMPLETE)
    other_json = json.dumps({"args": {"api_base_url": "http://u:k@h:1/v"}}).encode()  # not a status file: kept
    (vdir / "derived_from.json").write_bytes(other_json)
    made = write_bundle(ReportSettings(model_response_dir=str(root)), tmp_path / "out" / "deep" / "b.tar.gz")
    with tarfile.open(made.path) as tar:
        names = tar.getnames()
        status = json.loads(tar.extractfile(f"my_run/{SMALL_DIR}/status_close_freeform_hard.json").read())
        assert tar.extractfile(f"my_run/{SMALL_DIR}/derived_from.json").read() == other_json
    assert status["args"] == {"model_name": SMALL, "api_base_url": "http://h:1"}
    assert names == sorted(names) == [f"my_run/{name}" for name in sorted([
        "report.html", "report.md", "samples.html", "score.json",
        f"{SMALL_DIR}/{JUDGED['ff']}", f"{SMALL_DIR}/{JUDGED['mp']}",
        f"{SMALL_DIR}/m_close_freeform_hard.jsonl", f"{SMALL_DIR}/m_close_multichoice_hard.jsonl",
        f"{SMALL_DIR}/run_manifest.json", f"{SMALL_DIR}/score.json", f"{SMALL_DIR}/score_intervals.json",
        f"{SMALL_DIR}/status_close_freeform_hard.json", f"{SMALL_DIR}/derived_from.json"])]
    assert (made.folders, made.files, made.size) == ([SMALL_DIR], 13, made.path.stat().st_size)
    assert [p.name for p in made.path.parent.iterdir()] == ["b.tar.gz"]  # no temporary file left
    head = made.path.read_bytes()[:10]  # gzip: no file name and a zero time in its header, the same bytes each time
    assert (head[:3], head[3], head[4:8]) == (b"\x1f\x8b\x08", 0, b"\0\0\0\0")
    stale = tmp_path / "out" / f".c.tar.gz.tmp-{os.getpid()}"
    stale.mkdir()  # the temporary file cannot be opened: the error itself comes out, nothing is left
    with pytest.raises(IsADirectoryError):
        write_bundle(ReportSettings(model_response_dir=str(root)), tmp_path / "out" / "c.tar.gz")
    assert not (tmp_path / "out" / "c.tar.gz").exists()
    stale.rmdir()
    with pytest.raises(MixEvalError) as excinfo:
        write_bundle(ReportSettings(model_response_dir=str(root)), tmp_path)
    assert str(excinfo.value) == (f"--out {tmp_path} is a folder; give the archive's file name, like "
                                  f"{tmp_path / 'run.tar.gz'}")
    with pytest.raises(MixEvalError) as excinfo:
        write_bundle(ReportSettings(model_response_dir=str(root)), made.path / "c.tar.gz")
    assert str(excinfo.value) == f"--out {made.path / 'c.tar.gz'}: its folder cannot be made (File exists: {made.path})"
    with pytest.raises(MixEvalError) as excinfo:
        write_bundle(ReportSettings(model_response_dir=str(root), benchmark="mixeval"), tmp_path / "c.tar.gz")
    assert str(excinfo.value) == (f"no model folder under {root} matches (see --models_to_eval, --benchmark and "
                                  "--version)")
    with pytest.raises(MixEvalError) as excinfo:
        model_folders(ReportSettings(model_response_dir=str(tmp_path / "absent")))
    assert str(excinfo.value) == f"--model_response_dir {tmp_path / 'absent'} does not exist"
    (root / "z" / "mixeval_hard" / VERSION).mkdir(parents=True)  # neither named by the selection
    (root / SMALL / "mixeval_hard" / "2024-08-11").mkdir()
    assert model_folders(ReportSettings(model_response_dir=str(root), models_to_eval=("m", "gone"),
                                        benchmark="mixeval_hard", version=VERSION)) == [
        (SMALL, "mixeval_hard", VERSION, vdir)]


def test_member_names_that_are_empty_or_hold_a_nul_point_outside():
    """An empty member name, or one holding a NUL (which a filesystem would cut), is refused as pointing outside."""
    from mix_eval.run_bundle import _member_path

    for name in ("", "run/a\0b", "\0"):
        with pytest.raises(MixEvalError) as excinfo:
            _member_path(tarfile.TarInfo(name))
        assert str(excinfo.value) == f"member {name!r} points outside the archive's folder; refused"
    assert _member_path(tarfile.TarInfo("./run/a")).parts == ("run", "a")
    folder = tarfile.TarInfo(".")
    folder.type = tarfile.DIRTYPE
    assert _member_path(folder).parts == ()


def test_a_folder_of_response_files_only_is_bundled(tmp_path):
    """A model folder holding only its response files still goes in (its responses are a run's record)."""
    vdir = _make_responses(tmp_path / "solo", "r", n=2)
    (vdir / "r_close_multichoice_hard.jsonl").unlink()
    made = write_bundle(ReportSettings(model_response_dir=str(tmp_path / "solo")), tmp_path / "s.tar.gz")
    with tarfile.open(made.path) as tar:
        assert tar.getnames() == [f"solo/r/mixeval_hard/{VERSION}/r_close_freeform_hard.jsonl"]
    assert (made.folders, made.files) == ([f"r/mixeval_hard/{VERSION}"], 1)


def test_a_bundle_whose_reply_disagrees_with_its_verdict_fails_verification(small_run, tmp_path):
    """An edit of a judge's reply that leaves the scores as they were is found by verify_bundle."""
    root, vdir = copy_run(small_run, tmp_path)

    def other_reply(line):
        return {**line, "judge_response": "The option chosen by the model: "
                f"[[{'A' if line['judge_option'] != 'A' else 'B'}]]"}

    mp = _edit_judged(vdir / JUDGED["mp"], {2: other_reply})
    out = write_bundle(ReportSettings(model_response_dir=str(root)), tmp_path / "b.tar.gz").path
    said = "A" if mp[1]["judge_option"] != "A" else "B"
    assert verify_bundle(out).problems[0] == (
        f"{SMALL_DIR}/{JUDGED['mp']}, line 2 (id {mp[1]['id']!r}): judge_option is {mp[1]['judge_option']!r}, but "
        f"its judge_response says {said!r}")
