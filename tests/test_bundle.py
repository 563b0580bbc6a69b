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
